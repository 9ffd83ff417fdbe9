"""FlowTrack (Xiao et al. 2018, used by HRNet §4.3): flow box propagation and flow-OKS association.

The tracker remembers the tracked poses of the last ``queue_length`` frames (each a
:class:`~pose.poses.Poses` with track ids). Per frame k, with the optical flow F(k-1 -> k):

1. :meth:`FlowTracker.advance` moves every remembered pose into frame k by the flow (joint by
   joint), so older poses stay comparable with new ones;
2. :meth:`FlowTracker.propagate` gives, for each pose of frame k-1, the box around its moved joints
   (joints scored above ``joint_threshold``) enlarged by 15 %: a candidate person box that survives
   a detector miss (unified with the detections by box NMS in the pipeline). Each candidate row is
   marked :data:`~pose.poses.PROPAGATED` with the id of the track it came from;
3. :meth:`FlowTracker.update` scores each new pose against every remembered track with the
   association's similarity function (flow-OKS: OKS with the track's moved poses, the best over the
   queue), then matches greedily, highest similarity first, one to one, above ``min_similarity``;
   unmatched poses start new tracks. It returns the poses with their track ids.

The association is a similarity function ``(poses, memory) -> (N, M)`` (:data:`ASSOCIATIONS`):
``flow-oks`` (FlowTrack), and the baselines ``oks`` (OKS with the previous frame's poses, not
moved) and ``iou`` (box IoU with the previous frame), with the same greedy matching.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from eval.posetrack import MAX_TRACK_ID  # PoseTrack requires ids below 10000
from flow.base import move_points
from pose.errors import HrtrackError
from pose.oks import oks_matrix
from pose.poses import PROPAGATED, Poses, box_areas, box_iou

#: ``similarity(new, remembered, config) -> (N, M)``: how well each new pose continues each remembered one.
Similarity = Callable[[Poses, Poses, "FlowTrackConfig"], np.ndarray]


def oks_similarity(new: Poses, remembered: Poses, config: FlowTrackConfig) -> np.ndarray:
    """OKS between the new and the remembered poses, joints above ``joint_threshold`` in both; the
    box areas (each side at least 1 pixel) are the OKS scales."""
    sigmas = {} if new.layout is None else {"sigmas": new.layout.sigmas}
    return oks_matrix(
        new.keypoints,
        remembered.keypoints,
        box_areas(new.boxes, 1.0),
        box_areas(remembered.boxes, 1.0),
        min_score=config.joint_threshold,
        **sigmas,
    )


def iou_similarity(new: Poses, remembered: Poses, config: FlowTrackConfig) -> np.ndarray:
    """Box IoU (the baseline that ignores the poses)."""
    return box_iou(new.boxes, remembered.boxes)


@dataclass(frozen=True)
class Association:
    """A similarity, whether the memory moves with the flow, and how many frames it remembers."""

    similarity: Similarity
    moves_with_flow: bool
    uses_queue: bool


ASSOCIATIONS = {
    "flow-oks": Association(oks_similarity, moves_with_flow=True, uses_queue=True),
    "oks": Association(oks_similarity, moves_with_flow=False, uses_queue=False),
    "iou": Association(iou_similarity, moves_with_flow=False, uses_queue=False),
}
ASSOC_MODES = tuple(ASSOCIATIONS)


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
        if self.assoc not in ASSOCIATIONS:
            raise HrtrackError(f"unknown association {self.assoc!r}: use " + ", ".join(ASSOCIATIONS))
        if self.queue_length < 1:
            raise HrtrackError(f"queue_length must be >= 1, got {self.queue_length}")


def keypoint_boxes(keypoints: np.ndarray, threshold: float, enlarge: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Boxes ``(M,4)`` around the joints scored above ``threshold``, enlarged; and joint counts.

    Poses with no such joint get a zero box and count 0.
    """
    kp = np.asarray(keypoints, np.float32)
    kp = kp.reshape(0, 17, 3) if kp.size == 0 else kp
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


def _moved(poses: Poses, flow: np.ndarray) -> Poses:
    """The poses with their joints moved by ``flow`` (boxes unchanged)."""
    kp = poses.keypoints.copy()
    kp[..., :2] = move_points(flow, kp[..., :2])
    return poses.with_(keypoints=kp)


class FlowTracker:
    """Track identities of pose estimates across frames (see the module docstring)."""

    def __init__(self, config: FlowTrackConfig | None = None, similarity: Similarity | None = None) -> None:
        self.config = config or FlowTrackConfig()
        self.association = ASSOCIATIONS[self.config.assoc]
        self.similarity_fn = similarity or self.association.similarity
        self.queue: deque[Poses] = deque(maxlen=self.config.queue_length if self.association.uses_queue else 1)
        self._next_id = 0
        self._flow: np.ndarray | None = None  # the flow of the last advance (into the current frame)

    def reset(self) -> None:
        """Forget all tracks (e.g. at a scene cut); ids keep counting up."""
        self.queue.clear()

    def advance(self, flow: np.ndarray | None) -> None:
        """Move the remembered poses by the flow from the previous frame to the current one.

        ``flow`` None (no previous frame, or it failed to decode) leaves them where they were.
        The ``oks`` and ``iou`` baselines compare with unmoved poses, so they are not moved.
        """
        self._flow = flow
        if flow is None or not self.association.moves_with_flow:
            return
        for k, mem in enumerate(self.queue):
            if len(mem):
                moved = _moved(mem, flow)
                boxes, count = keypoint_boxes(moved.keypoints, self.config.joint_threshold)
                self.queue[k] = moved.with_(boxes=np.where(count[:, None] > 0, boxes, mem.boxes))

    def propagate(self) -> Poses:
        """Candidate boxes in the current frame from the previous frame's poses moved by the flow
        of the last :meth:`advance` (rows marked propagated, with their source track).

        Poses below ``propagate_min_score`` or with fewer than 3 confident joints give no box.
        The candidate's score is the pose's person score.
        """
        cfg = self.config
        flow = self._flow
        if flow is None or not self.queue or not len(self.queue[-1]):
            return Poses()
        last = self.queue[-1]
        moved = last if self.association.moves_with_flow else _moved(last, flow)  # the queue moved in advance
        boxes, count = keypoint_boxes(moved.keypoints, cfg.joint_threshold, cfg.enlarge)
        keep = (count >= 3) & (last.scores >= cfg.propagate_min_score)
        h, w = flow.shape[:2]
        keep &= (boxes[:, 2] > 0) & (boxes[:, 3] > 0) & (boxes[:, 0] < w) & (boxes[:, 1] < h)
        n = int(keep.sum())
        return Poses(boxes[keep], last.scores[keep], source=np.full(n, PROPAGATED), source_track=last.track_ids[keep])

    def similarity(self, poses: Poses) -> tuple[np.ndarray, np.ndarray]:
        """Similarity ``(N,T)`` of the new poses with each remembered track id ``(T,)``: the best
        over the queue (the multi-frame similarity)."""
        track_ids = np.unique(np.concatenate([m.track_ids for m in self.queue])) if self.queue else np.zeros(0, int)
        sim = np.zeros((len(poses), len(track_ids)))
        if len(poses) == 0 or len(track_ids) == 0:
            return sim, track_ids
        column = {int(t): j for j, t in enumerate(track_ids)}
        for mem in self.queue:
            if not len(mem):
                continue
            s = self.similarity_fn(poses, mem, self.config)
            cols = [column[int(t)] for t in mem.track_ids]
            sim[:, cols] = np.maximum(sim[:, cols], s)
        return sim, track_ids

    def update(self, poses: Poses) -> Poses:
        """The poses of the current frame with their track ids; remembers them."""
        sim, track_ids = self.similarity(poses)
        ids = np.full(len(poses), -1, np.int64)
        for r, c in greedy_match(sim, self.config.min_similarity):
            ids[r] = track_ids[c]
        for r in np.flatnonzero(ids < 0):
            ids[r] = self._new_id(ids)
        tracked = poses.with_(track_ids=ids)
        self.queue.append(tracked[np.arange(len(tracked))])  # a copy: the caller may change its arrays
        return tracked

    def _new_id(self, taken_now: np.ndarray) -> int:
        """The next unused id below 10000 (wrapping around, skipping ids still remembered)."""
        busy = {int(i) for m in self.queue for i in m.track_ids} | {int(i) for i in taken_now if i >= 0}
        for _ in range(MAX_TRACK_ID):
            candidate = self._next_id % MAX_TRACK_ID
            self._next_id += 1
            if candidate not in busy:
                return candidate
        raise RuntimeError("more than 10000 simultaneous tracks")
