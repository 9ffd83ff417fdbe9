"""FlowTrack (Xiao et al. 2018, used by HRNet §4.3): flow box propagation and flow-OKS association.

Per frame k, with the optical flow F(k-1 -> k):

1. :meth:`FlowTracker.advance` moves every pose remembered from the last ``queue_length`` frames
   into frame k by the flow (joint by joint), so older poses stay comparable with new ones;
2. :meth:`FlowTracker.propagated_boxes` gives, for each pose of frame k-1, the box around its
   moved joints (joints scored above ``joint_threshold``) enlarged by 15 %: a candidate person box
   that survives a detector miss (unified with the detections by box NMS in the pipeline);
3. :meth:`FlowTracker.assign` scores each new pose against every remembered track by OKS with the
   track's moved poses (the best over the queue: the multi-frame flow similarity), then matches
   greedily, highest similarity first, one to one, above ``min_similarity``; unmatched poses start
   new tracks.

The baselines ``assoc="oks"`` (OKS with the previous frame's poses, not moved) and ``assoc="iou"``
(box IoU with the previous frame) use the same greedy matching.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from flow.base import move_points
from pose.oks import oks_matrix
from tracker.detectors.base import Detections, box_iou

MAX_TRACK_ID = 10000  # PoseTrack requires ids below 10000
ASSOC_MODES = ("flow-oks", "oks", "iou")


@dataclass
class FlowTrackConfig:
    """FlowTrack parameters (defaults follow the paper where it gives them).

    assoc: ``flow-oks`` (FlowTrack), ``oks`` (no flow, previous frame) or ``iou`` (boxes).
    queue_length: L_Q, how many past frames a new pose is compared with (flow-oks only).
    min_similarity: pairs below it are never matched.
    joint_threshold: joints scored above it are moved for box propagation and count in OKS.
    enlarge: propagated boxes are the moved joints' box enlarged by this fraction (15 %).
    propagate_min_score: only poses with a person score at least this are propagated.
    """

    assoc: str = "flow-oks"
    queue_length: int = 5
    min_similarity: float = 0.2
    joint_threshold: float = 0.2
    enlarge: float = 0.15
    propagate_min_score: float = 0.3

    def __post_init__(self) -> None:
        if self.assoc not in ASSOC_MODES:
            raise ValueError(f"unknown association {self.assoc!r}: use " + ", ".join(ASSOC_MODES))
        if self.queue_length < 1:
            raise ValueError(f"queue_length must be >= 1, got {self.queue_length}")


@dataclass
class _Memory:
    """The tracked poses of one past frame, kept moved into the current frame's coordinates."""

    ids: np.ndarray  # (M,) int
    keypoints: np.ndarray  # (M,K,3) float32
    boxes: np.ndarray  # (M,4) float32
    scores: np.ndarray  # (M,) float32


def keypoint_boxes(keypoints: np.ndarray, threshold: float, enlarge: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Boxes ``(M,4)`` around the joints scored above ``threshold``, enlarged; and joint counts.

    Poses with no such joint get a zero box and count 0.
    """
    kp = _as_poses(keypoints)
    used = kp[..., 2] > threshold
    count = used.sum(1)
    with np.errstate(invalid="ignore"):  # poses without a joint: inf - inf, zeroed below
        x1 = np.where(used, kp[..., 0], np.inf).min(1)
        x2 = np.where(used, kp[..., 0], -np.inf).max(1)
        y1 = np.where(used, kp[..., 1], np.inf).min(1)
        y2 = np.where(used, kp[..., 1], -np.inf).max(1)
        cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
        w, h = (x2 - x1) * (1 + enlarge), (y2 - y1) * (1 + enlarge)
        boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], 1).astype(np.float32)
    boxes[count == 0] = 0
    return boxes, count


def greedy_match(similarity: np.ndarray, min_similarity: float) -> list[tuple[int, int]]:
    """One-to-one pairs (row, col), highest similarity first, each at least ``min_similarity``."""
    if similarity.size == 0:
        return []
    rows, cols = np.nonzero(similarity >= min_similarity)
    order = np.argsort(-similarity[rows, cols], kind="stable")
    used_r, used_c, pairs = set(), set(), []
    for i in order:
        r, c = int(rows[i]), int(cols[i])
        if r not in used_r and c not in used_c:
            used_r.add(r)
            used_c.add(c)
            pairs.append((r, c))
    return pairs


class FlowTracker:
    """Track identities of pose estimates across frames (see the module docstring)."""

    def __init__(self, config: FlowTrackConfig | None = None) -> None:
        self.config = config or FlowTrackConfig()
        self.queue: deque[_Memory] = deque(maxlen=self.config.queue_length if self.config.assoc == "flow-oks" else 1)
        self._next_id = 0

    def reset(self) -> None:
        """Forget all tracks (e.g. at a scene cut); ids keep counting up."""
        self.queue.clear()

    def advance(self, flow: np.ndarray | None) -> None:
        """Move the remembered poses by the flow from the previous frame to the current one.

        ``flow`` None (no previous frame, or it failed to decode) leaves them where they were.
        The ``oks`` and ``iou`` baselines compare with unmoved poses, so they are not moved.
        """
        if flow is None or self.config.assoc != "flow-oks":
            return
        for mem in self.queue:
            if len(mem.ids):
                mem.keypoints = mem.keypoints.copy()
                mem.keypoints[..., :2] = move_points(flow, mem.keypoints[..., :2])
                moved, count = keypoint_boxes(mem.keypoints, self.config.joint_threshold)
                mem.boxes = np.where(count[:, None] > 0, moved, mem.boxes)

    def propagated_boxes(
        self, flow: np.ndarray | None, prev_keypoints: np.ndarray, prev_scores: np.ndarray
    ) -> Detections:
        """Candidate boxes in the current frame from the previous frame's poses moved by ``flow``.

        Poses below ``propagate_min_score`` or with fewer than 3 confident joints give no box.
        The candidate's score is the pose's person score.
        """
        cfg = self.config
        if flow is None or len(prev_keypoints) == 0:
            return Detections()
        kp = np.asarray(prev_keypoints, np.float32).copy()
        kp[..., :2] = move_points(flow, kp[..., :2])
        boxes, count = keypoint_boxes(kp, cfg.joint_threshold, cfg.enlarge)
        keep = (count >= 3) & (np.asarray(prev_scores) >= cfg.propagate_min_score)
        h, w = flow.shape[:2]
        keep &= (boxes[:, 2] > 0) & (boxes[:, 3] > 0) & (boxes[:, 0] < w) & (boxes[:, 1] < h)
        return Detections(boxes[keep], np.asarray(prev_scores, np.float32)[keep])

    def similarity(self, keypoints: np.ndarray, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Similarity ``(N,T)`` of the new poses with each remembered track id ``(T,)``."""
        track_ids = np.unique(np.concatenate([m.ids for m in self.queue])) if self.queue else np.zeros(0, int)
        sim = np.zeros((len(keypoints), len(track_ids)))
        if len(keypoints) == 0 or len(track_ids) == 0:
            return sim, track_ids
        column = {int(t): j for j, t in enumerate(track_ids)}
        areas = _areas(boxes)
        for mem in self.queue:  # the best over the queue (multi-frame similarity)
            if not len(mem.ids):
                continue
            if self.config.assoc == "iou":
                s = box_iou(boxes, mem.boxes)
            else:
                s = oks_matrix(
                    keypoints, mem.keypoints, areas, _areas(mem.boxes), min_score=self.config.joint_threshold
                )
            cols = [column[int(t)] for t in mem.ids]
            sim[:, cols] = np.maximum(sim[:, cols], s)
        return sim, track_ids

    def assign(self, keypoints: np.ndarray, boxes: np.ndarray, scores: np.ndarray) -> np.ndarray:
        """Track ids ``(N,)`` for the new poses of the current frame; remembers them."""
        keypoints = _as_poses(keypoints)
        sim, track_ids = self.similarity(keypoints, boxes)
        ids = np.full(len(keypoints), -1, np.int64)
        for r, c in greedy_match(sim, self.config.min_similarity):
            ids[r] = track_ids[c]
        for r in np.flatnonzero(ids < 0):
            ids[r] = self._new_id(ids)
        self.queue.append(_Memory(ids, keypoints.copy(), np.asarray(boxes, np.float32).copy(), np.asarray(scores)))
        return ids

    def _new_id(self, taken_now: np.ndarray) -> int:
        """The next unused id below 10000 (wrapping around, skipping ids still remembered)."""
        busy = {int(i) for m in self.queue for i in m.ids} | {int(i) for i in taken_now if i >= 0}
        for _ in range(MAX_TRACK_ID):
            candidate = self._next_id % MAX_TRACK_ID
            self._next_id += 1
            if candidate not in busy:
                return candidate
        raise RuntimeError("more than 10000 simultaneous tracks")


def _as_poses(keypoints: np.ndarray) -> np.ndarray:
    """``(N,K,3)`` float32, also for an empty list."""
    kp = np.asarray(keypoints, np.float32)
    return kp.reshape(0, 17, 3) if kp.size == 0 else kp


def _areas(boxes: np.ndarray) -> np.ndarray:
    b = np.asarray(boxes, np.float64).reshape(-1, 4)
    return np.clip(b[:, 2] - b[:, 0], 1.0, None) * np.clip(b[:, 3] - b[:, 1], 1.0, None)
