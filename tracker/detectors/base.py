"""The detector contract: one frame in, person boxes and scores out.

A detector is any object with ``detect(frame) -> Detections``. ``Frame`` carries the image and
what precomputed detectors need to find their entries (the frame index, the image file name and
the dataset image id).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np


@dataclass
class Frame:
    """One video frame.

    image: ``(H,W,3)`` uint8 BGR, or None for a frame that failed to decode (it is written as a
    frame without people). index: 0-based position in the video. name: image file name
    (relative to the dataset root for annotation lists, else a synthetic ``frame_000123``).
    image_id: dataset image id when known (PoseTrack/COCO), else None.
    """

    image: np.ndarray | None
    index: int
    name: str = ""
    image_id: int | None = None


@dataclass
class Detections:
    """Person boxes ``(N,4)`` float32 xyxy in image pixels with scores ``(N,)`` float32."""

    boxes: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.float32))
    scores: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))

    def __post_init__(self) -> None:
        self.boxes = np.asarray(self.boxes, np.float32).reshape(-1, 4)
        self.scores = np.asarray(self.scores, np.float32).reshape(-1)
        if len(self.boxes) != len(self.scores):
            raise ValueError(f"{len(self.boxes)} boxes but {len(self.scores)} scores")

    def __len__(self) -> int:
        return len(self.scores)

    def select(self, index: np.ndarray) -> Detections:
        return Detections(self.boxes[index], self.scores[index])


class Detector(Protocol):
    """Anything that finds people in a frame."""

    def detect(self, frame: Frame) -> Detections: ...


def box_nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Indices kept by greedy box NMS, highest score first.

    A box is dropped when its IoU with an already kept, higher-scored box exceeds the threshold.
    """
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    order = np.argsort(-np.asarray(scores, np.float64), kind="stable")
    iou = box_iou(boxes, boxes)
    suppressed = np.zeros(len(boxes), bool)
    keep = []
    for i in order:
        if not suppressed[i]:
            keep.append(i)
            suppressed |= iou[i] > iou_threshold
    return np.asarray(keep, np.int64)


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU between boxes ``(N,4)`` and ``(M,4)`` xyxy -> ``(N,M)``."""
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(rb - lt, 0, None).prod(-1)
    area_a = np.clip(a[:, 2:] - a[:, :2], 0, None).prod(-1)
    area_b = np.clip(b[:, 2:] - b[:, :2], 0, None).prod(-1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def clip_boxes(boxes: np.ndarray, width: int, height: int) -> np.ndarray:
    """Boxes clipped to the image ``[0, width] x [0, height]``."""
    out = np.asarray(boxes, np.float32).copy().reshape(-1, 4)
    out[:, [0, 2]] = out[:, [0, 2]].clip(0, width)
    out[:, [1, 3]] = out[:, [1, 3]].clip(0, height)
    return out
