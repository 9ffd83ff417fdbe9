"""The optical-flow contract and the helpers every flow method shares.

A flow method is any object with ``compute(prev, nxt) -> flow``: two ``(H,W,3)`` uint8 BGR frames
in, a ``(H,W,2)`` float32 displacement field out, where ``flow[y, x] = (dx, dy)`` moves the pixel
``(x, y)`` of ``prev`` to ``(x + dx, y + dy)`` in ``nxt``.

:class:`ScaledFlow` runs any method at a working resolution (the longer side at most ``max_side``)
and rescales the field to the frame size, so flow costs the same on 480p and 4K video.
"""

from __future__ import annotations

from typing import Protocol

import cv2
import numpy as np

from pose.errors import HrtrackError


class FlowMethod(Protocol):
    """Dense optical flow between two frames of the same size."""

    def compute(self, prev: np.ndarray, nxt: np.ndarray) -> np.ndarray: ...


class ScaledFlow:
    """Compute flow with ``method`` at a reduced resolution and rescale it to full size."""

    def __init__(self, method: FlowMethod, max_side: int | None = 512) -> None:
        self.method = method
        self.max_side = max_side

    def compute(self, prev: np.ndarray, nxt: np.ndarray) -> np.ndarray:
        if prev.shape != nxt.shape:
            raise HrtrackError(f"frames differ in size: {prev.shape} vs {nxt.shape}")
        h, w = prev.shape[:2]
        factor = 1.0 if not self.max_side else min(1.0, self.max_side / max(h, w))
        if factor >= 1.0:
            return self.method.compute(prev, nxt).astype(np.float32, copy=False)
        size = (max(8, round(w * factor)), max(8, round(h * factor)))
        small = self.method.compute(
            cv2.resize(prev, size, interpolation=cv2.INTER_AREA), cv2.resize(nxt, size, interpolation=cv2.INTER_AREA)
        )
        flow = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
        flow[..., 0] *= w / size[0]
        flow[..., 1] *= h / size[1]
        return flow.astype(np.float32, copy=False)


def sample_flow(flow: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Bilinear flow ``(P,2)`` at sub-pixel ``points`` ``(P,2)`` (x, y), clamped to the image."""
    pts = np.asarray(points, np.float32).reshape(-1, 2)
    if len(pts) == 0:
        return np.zeros((0, 2), np.float32)
    h, w = flow.shape[:2]
    x = np.clip(pts[:, 0], 0, w - 1)
    y = np.clip(pts[:, 1], 0, h - 1)
    x0 = np.floor(x).astype(np.int64)
    y0 = np.floor(y).astype(np.int64)
    x1 = np.minimum(x0 + 1, w - 1)
    y1 = np.minimum(y0 + 1, h - 1)
    fx = (x - x0)[:, None]
    fy = (y - y0)[:, None]
    top = flow[y0, x0] * (1 - fx) + flow[y0, x1] * fx
    bottom = flow[y1, x0] * (1 - fx) + flow[y1, x1] * fx
    return (top * (1 - fy) + bottom * fy).astype(np.float32)


def move_points(flow: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Points ``(...,2)`` moved by the flow at their positions."""
    pts = np.asarray(points, np.float32)
    return (pts.reshape(-1, 2) + sample_flow(flow, pts.reshape(-1, 2))).reshape(pts.shape)
