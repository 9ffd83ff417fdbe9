"""The one container for the people of one frame, threaded through every stage.

A detector returns :class:`Poses` with boxes and scores only; the estimator fills in the
keypoints (and the layout); the tracker adds track ids; the writers and the renderer read it.
Each row also records where its box came from (:data:`DETECTED` or :data:`PROPAGATED` by flow
from a track, with that track's id), which the association needs to fold a propagated copy and a
detection of the same person into one pose.

Shapes and dtypes (N people, K joint slots):

* ``boxes`` ``(N,4)`` float32 xyxy in image pixels; ``scores`` ``(N,)`` float32;
* ``keypoints`` ``(N,K,3)`` float32 x, y in image pixels and the joint score, or None (boxes only);
* ``track_ids`` ``(N,)`` int64, or None before association;
* ``source`` ``(N,)`` int8, ``source_track`` ``(N,)`` int64 (-1: not propagated);
* ``layout``: the :class:`~pose.keypoints.KeypointLayout` of the K slots (None without keypoints).

Also here: the box geometry every stage shares (IoU, greedy NMS, areas, clipping).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from pose.errors import HrtrackError
from pose.keypoints import COCO_SIGMAS, KeypointLayout

DETECTED, PROPAGATED = 0, 1


@dataclass
class Poses:
    """People of one frame (see the module docstring for the fields)."""

    boxes: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.float32))
    scores: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    keypoints: np.ndarray | None = None
    track_ids: np.ndarray | None = None
    source: np.ndarray | None = None
    source_track: np.ndarray | None = None
    layout: KeypointLayout | None = None

    def __post_init__(self) -> None:
        self.boxes = np.asarray(self.boxes, np.float32).reshape(-1, 4)
        self.scores = np.asarray(self.scores, np.float32).reshape(-1)
        n = len(self.boxes)
        if len(self.scores) != n:
            raise HrtrackError(f"{n} boxes but {len(self.scores)} scores")
        if self.keypoints is not None:
            k = self.layout.num_joints if self.layout is not None else 17
            kp = np.asarray(self.keypoints, np.float32)
            self.keypoints = kp.reshape(0, k, 3) if kp.size == 0 else kp
            if len(self.keypoints) != n:
                raise HrtrackError(f"{n} boxes but {len(self.keypoints)} poses")
        if self.track_ids is not None:
            self.track_ids = np.asarray(self.track_ids, np.int64).reshape(-1)
        self.source = np.zeros(n, np.int8) if self.source is None else np.asarray(self.source, np.int8).reshape(-1)
        self.source_track = (
            np.full(n, -1, np.int64) if self.source_track is None else np.asarray(self.source_track, np.int64)
        )

    def __len__(self) -> int:
        return len(self.scores)

    def __getitem__(self, index: np.ndarray | slice | Sequence[int]) -> Poses:
        """The rows at ``index`` (an index array, a boolean mask or a slice)."""
        if not isinstance(index, slice):
            index = np.asarray(index)
            if index.dtype != bool:
                index = index.astype(np.int64).reshape(-1)
        return Poses(
            self.boxes[index],
            self.scores[index],
            None if self.keypoints is None else self.keypoints[index],
            None if self.track_ids is None else self.track_ids[index],
            self.source[index],
            self.source_track[index],
            self.layout,
        )

    def with_(self, **changes: object) -> Poses:
        """A copy with some fields replaced (e.g. ``track_ids``)."""
        return replace(self, **changes)

    @classmethod
    def empty(cls, layout: KeypointLayout | None = None) -> Poses:
        """No people; with a layout, an empty ``(0,K,3)`` keypoint array and track ids."""
        if layout is None:
            return cls()
        return cls(keypoints=np.zeros((0, layout.num_joints, 3), np.float32), track_ids=np.zeros(0), layout=layout)

    @staticmethod
    def merge(parts: Sequence[Poses]) -> Poses:
        """The rows of ``parts`` one after the other (fields missing in any part are dropped)."""
        parts = list(parts)
        if not parts:
            return Poses()

        def cat(name: str) -> np.ndarray | None:
            values = [getattr(p, name) for p in parts]
            return None if any(v is None for v in values) else np.concatenate(values)

        layouts = {p.layout for p in parts if p.keypoints is not None}
        return Poses(
            np.concatenate([p.boxes for p in parts]),
            np.concatenate([p.scores for p in parts]),
            cat("keypoints"),
            cat("track_ids"),
            cat("source"),
            cat("source_track"),
            layouts.pop() if len(layouts) == 1 else parts[0].layout,
        )

    def box_nms(self, iou_threshold: float) -> np.ndarray:
        """Indices kept by greedy box NMS (see :func:`box_nms`)."""
        return box_nms(self.boxes, self.scores, iou_threshold)

    def nms(self, threshold: float = 0.9) -> Poses:
        """The poses left after OKS-NMS: a pose whose OKS with a higher-scored one exceeds ``threshold`` goes."""
        from pose.oks import oks_nms

        if self.keypoints is None:
            raise HrtrackError("OKS-NMS needs keypoints")
        keep = oks_nms(self.keypoints, self.scores, box_areas(self.boxes), threshold, self.sigmas)
        return self[keep]

    @property
    def sigmas(self) -> np.ndarray:
        """The OKS sigmas of the keypoint slots (COCO's when there is no layout)."""
        return self.layout.sigmas if self.layout is not None else COCO_SIGMAS


def box_areas(boxes: np.ndarray, min_side: float = 0.0) -> np.ndarray:
    """Areas of xyxy boxes ``(N,4)`` -> ``(N,)`` float64, each side taken as at least ``min_side``
    (0 for NMS; the association uses 1 pixel so that a degenerate box never divides by zero)."""
    b = np.asarray(boxes, np.float64).reshape(-1, 4)
    return np.clip(b[:, 2] - b[:, 0], min_side, None) * np.clip(b[:, 3] - b[:, 1], min_side, None)


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU between boxes ``(N,4)`` and ``(M,4)`` xyxy -> ``(N,M)`` float64 (0 where the union is empty)."""
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(rb - lt, 0, None).prod(-1)
    union = box_areas(a)[:, None] + box_areas(b)[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


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


def clip_boxes(boxes: np.ndarray, width: int, height: int) -> np.ndarray:
    """Boxes clipped to the image ``[0, width] x [0, height]``."""
    out = np.asarray(boxes, np.float32).copy().reshape(-1, 4)
    out[:, [0, 2]] = out[:, [0, 2]].clip(0, width)
    out[:, [1, 3]] = out[:, [1, 3]].clip(0, height)
    return out
