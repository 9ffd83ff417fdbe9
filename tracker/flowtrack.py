"""FlowTrack (Xiao et al. 2018, used by HRNet §4.3) with score-aware association.

A *track* is a person's identity: an id (a counter that only grows, never reused), the poses
it had in the last frames it was seen in (at most ``queue_length`` of them, each moved by the
flow into the current frame) and the frame it was last seen in. Per frame k, with the optical
flow F(k-1 -> k):

1. :meth:`FlowTracker.advance` moves every remembered pose of every live track into frame k by
   the flow, joint by joint (a track that is not matched keeps moving with the flow);
2. :meth:`FlowTracker.propagate` gives, for each track seen in frame k-1 with a person score of at
   least ``propagate_min_score`` (0.3) and 3 joints above ``joint_threshold`` (0.2), the box around
   its moved joints enlarged by 15 %: a candidate box that survives a detector miss. Each row is
   marked :data:`~pose.poses.PROPAGATED` with the id of its track. The pipeline unifies these boxes
   with the detections by box NMS (IoU 0.5) and estimates a pose in each;
3. :meth:`FlowTracker.update` then, with ``merge_propagated``: a pose estimated in a propagated
   box of track T and a pose estimated in a detection of the same person (OKS >= ``merge_oks``,
   0.5, the usual "same person" criterion, between the two poses of this frame) are one person:
   the higher-scored of the two is kept, and it carries T as its source track. (Without this the
   propagated copy, built from T's own moved pose, wins T's id and the detection's pose starts a
   new track, so ids switch back and forth.)
4. association, score-aware in two stages as in ByteTrack (``two_stage``): the similarity of a
   pose and a track is the OKS of the pose with each of the track's moved poses, the best over
   them (the multi-frame flow similarity), counting joints above ``joint_threshold``.

   a. confident poses (person score >= ``high_score``, 0.5) are matched to the live tracks
      greedily, highest similarity first, one to one, at least ``min_similarity`` (0.2);
   b. the other poses are matched the same way to the tracks left over;
   c. **re-identification** (with a track buffer, ``track_buffer`` seconds > 0): each detected
      pose still unmatched with a person score of at least ``new_track_score`` (0.45: a pose
      strong enough to start a track) may take the id of
      a *lost* track: one not matched in this frame and not seen for at most the buffer. A pair
      must pass three gates: the colour embedding (:mod:`tracker.appearance`) similarity is at
      least ``reid_similarity`` (0.6); the pose is within (0.5 + 1.0 x seconds lost, at most 3)
      track heights of where the track's own motion predicts it (its last position moved with
      the camera, the median flow, plus its smoothed velocity times the frames lost, held inside
      the image; the velocity is smoothed and at most 2.5 heights per second); its box height is
      within a factor 1.5 of the track's (of its unoccluded boxes). Pairs are matched
      greedily by similarity (discounted by distance), one to one. Someone coming out from behind
      something may not pass the colour gate at once (their pixels still partly the occluder's)
      and start a new track: a track at most 3 frames old (``RELABEL_FRAMES``) whose pose of
      this frame passes the gates of a track that was already lost when it started is folded
      into that track: it takes the old id, and :meth:`FlowTracker.relabels` tells the
      pipeline, which holds its output back 3 frames, to relabel its earlier frames;
   d. each detected pose left unmatched with a person score of at least ``new_track_score``
      (0.45) starts a new track; a propagated pose never does (it is a copy of
      a track's person, and that track has its own match or none); any other pose left
      unmatched is dropped from the frame;
   e. a track's remembered poses older than ``queue_length`` (5) frames are forgotten (flow-OKS
      compares with the rest); a track with none left is lost, and ends once it has not been
      seen for the buffer (without one: at once). Frames count as they pass: frames without
      people, and frames that could not be decoded, age the tracks too. A track's colour
      embedding averages its confident poses (person score >= 0.5) whose box overlaps no other
      pose's of the frame (IoU <= 0.2), so an occluder's colours do not leak into it: the mean of
      the first ten, then an exponential average at rate 0.1.

   Without ``two_stage`` every pose is matched in one greedy pass and every unmatched pose starts
   a track (the paper's FlowTrack).

The baselines ``assoc="oks"`` (OKS with the previous frame's poses, not moved) and ``assoc="iou"``
(box IoU with the previous frame) use the same matching with a memory of one frame. The
similarity is a function ``(poses, remembered, config) -> (N, M)`` (:data:`ASSOCIATIONS`), so
another one can be injected.

Track ids here are unbounded; the PoseTrack writers map them to ids below 10000
(:func:`tracker.sinks.compact_ids`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from flow.base import move_points
from pose.errors import HrtrackError
from pose.oks import oks_matrix
from pose.poses import DETECTED, PROPAGATED, Poses, box_areas, box_iou
from tracker.appearance import L_HIP, L_SHOULDER, R_HIP, R_SHOULDER, appearance_similarity, embed

#: ``similarity(new, remembered, config) -> (N, M)``: how well each new pose continues each remembered one.
Similarity = Callable[[Poses, Poses, "FlowTrackConfig"], np.ndarray]


def oks_similarity(new: Poses, remembered: Poses, config: FlowTrackConfig) -> np.ndarray:
    """OKS between the new and the remembered poses, joints above ``joint_threshold`` in both. The
    OKS scale of each pose is the area of the box it was estimated in (each side at least 1 pixel;
    a remembered box moves with its joints), the same measure on both sides."""
    return oks_matrix(
        new.keypoints,
        remembered.keypoints,
        box_areas(new.boxes, 1.0),
        box_areas(remembered.boxes, 1.0),
        new.sigmas,
        min_score=config.joint_threshold,
    )


def iou_similarity(new: Poses, remembered: Poses, config: FlowTrackConfig) -> np.ndarray:
    """Box IoU (the baseline that ignores the poses)."""
    return box_iou(new.boxes, remembered.boxes)


@dataclass(frozen=True)
class Association:
    """A similarity, whether the memory moves with the flow, and whether it spans several frames."""

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
    """FlowTrack parameters (see the module docstring for where each one acts).

    assoc: ``flow-oks`` (FlowTrack), ``oks`` (no flow, previous frame) or ``iou`` (boxes).
    queue_length: L_Q, frames of a track's past poses that flow-OKS compares with (flow-oks; 1 otherwise).
    min_similarity: pairs below it are never matched.
    joint_threshold: joints scored above it are moved for box propagation and count in OKS.
    enlarge: propagated boxes are the moved joints' box enlarged by this fraction (15 %).
    propagate_min_score: only poses with a person score at least this are propagated.
    two_stage: score-aware association (confident poses first; weak ones only continue tracks).
    high_score: the person score that makes a pose confident (matched first).
    merge_propagated: fold a propagated pose and a detected pose of the same person into one.
    merge_oks: the OKS between two poses of one frame above which they are the same person.
    track_buffer: seconds a lost track waits for re-identification (0: none, a track ends when its
        last remembered pose is older than ``queue_length`` frames); ``fps`` turns it into frames.
    reid_similarity: the colour similarity (:func:`tracker.appearance.appearance_similarity`) a
        lost track and a pose need to be re-identified.
    new_track_score: the person score an unmatched detected pose needs to start a track
        (two-stage only; ``hrtrack track --track-score``). 0.45 was chosen on real footage and the
        synthetic sets together (README, "Real footage"): 0.5 left walkers of a surveillance clip
        untracked with a smaller pose network; 0.4 and below added identity switches and cost
        MOTA on the synthetic sets.
    """

    assoc: str = "flow-oks"
    queue_length: int = 5
    min_similarity: float = 0.2
    joint_threshold: float = 0.2
    enlarge: float = 0.15
    propagate_min_score: float = 0.3
    two_stage: bool = True
    high_score: float = 0.5
    merge_propagated: bool = True
    merge_oks: float = 0.5
    new_track_score: float = 0.45
    track_buffer: float = 3.0
    fps: float = 25.0
    reid_similarity: float = 0.6

    def __post_init__(self) -> None:
        if self.assoc not in ASSOCIATIONS:
            raise HrtrackError(f"unknown association {self.assoc!r}: use " + ", ".join(ASSOCIATIONS))
        if self.queue_length < 1:
            raise HrtrackError(f"queue_length must be >= 1, got {self.queue_length}")
        if not (self.track_buffer >= 0 and self.fps > 0):
            raise HrtrackError(f"track_buffer must be >= 0 and fps > 0, got {self.track_buffer} and {self.fps}")

    @property
    def buffer_frames(self) -> int:
        """``track_buffer`` seconds in frames (0: no lost tracks, no re-identification)."""
        return round(self.track_buffer * self.fps)


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


@dataclass
class Track:
    """One identity: its id and its remembered poses, one row per frame it was seen in (``frames``,
    newest last, at most ``queue_length``), moved by the flow into the current frame.

    For re-identification while it is lost: ``last_seen`` (frame), ``anchor`` (the image position
    where it was last seen, moved with the camera since), ``velocity`` (its own motion in pixels per
    frame, camera motion removed), ``height`` (of its unoccluded boxes, smoothed) and ``looks`` / ``looks_valid``
    (its running colour embedding, :mod:`tracker.appearance`; ``looks_seen`` observations)."""

    track_id: int
    memory: Poses
    frames: list[int] = field(default_factory=list)
    last_seen: int = -1
    anchor: np.ndarray = field(default_factory=lambda: np.zeros(2))
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(2))
    height: float = 0.0
    looks: np.ndarray | None = None
    looks_valid: np.ndarray | None = None
    looks_seen: int = 0
    born: int = -1


def _moved(poses: Poses, flow: np.ndarray) -> Poses:
    """The poses with their joints moved by ``flow`` (boxes unchanged)."""
    kp = poses.keypoints.copy()
    kp[..., :2] = move_points(flow, kp[..., :2])
    return poses.with_(keypoints=kp)


def merge_propagated(poses: Poses, threshold: float, min_score: float) -> Poses:
    """Fold each propagated pose and the detected poses of the same person (OKS >= ``threshold``)
    into one: the highest-scored of the group, which carries the propagated row's source track.
    Rows keep their order otherwise."""
    prop = np.flatnonzero(poses.source == PROPAGATED)
    det = np.flatnonzero(poses.source == DETECTED)
    if not len(prop) or not len(det):
        return poses
    areas = box_areas(poses.boxes, 1.0)
    sim = oks_matrix(poses.keypoints[prop], poses.keypoints[det], areas[prop], areas[det], poses.sigmas, min_score)
    drop = np.zeros(len(poses), bool)
    source_track = poses.source_track.copy()
    for i, j in greedy_match(sim, threshold):  # each detection folds into at most one propagated copy
        p, d = prop[i], det[j]
        keep, gone = (p, d) if poses.scores[p] > poses.scores[d] else (d, p)
        drop[gone] = True
        source_track[keep] = poses.source_track[p]
    return poses.with_(source_track=source_track)[~drop]


def camera_motion(flow: np.ndarray | None) -> np.ndarray:
    """The camera's motion between two frames: the median flow over a grid every 8 pixels (the
    background dominates most frames); zero without a flow."""
    if flow is None:
        return np.zeros(2)
    return np.median(flow[::8, ::8].reshape(-1, 2), axis=0).astype(np.float64)


def pose_centres(poses: Poses, threshold: float) -> np.ndarray:
    """``(N, 2)`` where each pose is: the mean of its confident shoulders and hips when it has two
    of them (steadier than a detector's box), else of its confident joints, else its box centre."""
    centres = (poses.boxes[:, :2] + poses.boxes[:, 2:]) / 2
    if poses.keypoints is None or not len(poses):
        return centres.astype(np.float64)
    kp = poses.keypoints
    ok = kp[..., 2] > threshold
    torso = np.zeros(kp.shape[1], bool)
    torso[[L_SHOULDER, R_SHOULDER, L_HIP, R_HIP]] = True
    use = np.where((ok & torso).sum(1, keepdims=True) >= 2, ok & torso, ok)
    count = use.sum(1)
    mean = (kp[..., :2] * use[..., None]).sum(1) / np.maximum(count, 1)[:, None]
    return np.where(count[:, None] > 0, mean, centres).astype(np.float64)


class FlowTracker:
    """Track identities of pose estimates across frames (see the module docstring)."""

    def __init__(self, config: FlowTrackConfig | None = None, similarity: Similarity | None = None) -> None:
        self.config = config or FlowTrackConfig()
        self.association = ASSOCIATIONS[self.config.assoc]
        self.similarity_fn = similarity or self.association.similarity
        self.max_age = self.config.queue_length if self.association.uses_queue else 1
        self.buffer = self.config.buffer_frames  # frames a lost track waits for re-identification
        #: frames a new track may still be folded into a lost one (the output must lag this much)
        self.relabel_frames = RELABEL_FRAMES if self.buffer else 0
        self._relabels: dict[int, int] = {}  # provisional id -> the lost track's id, not yet taken
        self.tracks: list[Track] = []
        self.frame = -1  # index of the current frame (advanced by update and skip)
        self._last_update = -1  # the last frame that had poses to associate
        self._next_id = 0
        self._flow: np.ndarray | None = None  # the flow of the last advance (into the current frame)

    def reset(self) -> None:
        """Forget all tracks (e.g. at a scene cut); ids keep counting up."""
        self.tracks = []

    def advance(self, flow: np.ndarray | None) -> None:
        """Move the remembered poses by the flow from the previous frame to the current one.

        ``flow`` None (no previous frame) leaves them where they were. The ``oks`` and ``iou``
        baselines compare with unmoved poses, so they are not moved. Each track's anchor (where it
        was last seen) moves with the camera, the median flow (:func:`camera_motion`).
        """
        self._flow = flow
        cam = camera_motion(flow)
        for track in self.tracks:
            track.anchor = track.anchor + cam
        if flow is None or not self.association.moves_with_flow:
            return
        for track in self.tracks:
            old = track.memory
            if not len(old):
                continue
            moved = _moved(old, flow)
            # the estimation box moves by the mean motion of the pose's confident joints
            used = old.keypoints[..., 2] > self.config.joint_threshold
            shift = np.where(used[..., None], moved.keypoints[..., :2] - old.keypoints[..., :2], 0.0).sum(1)
            shift /= np.maximum(used.sum(1), 1)[:, None]
            track.memory = moved.with_(boxes=old.boxes + np.tile(shift, 2))

    def propagate(self) -> Poses:
        """Candidate boxes in the current frame from the poses of the tracks seen in the previous
        frame, moved by the flow of the last :meth:`advance` (rows marked propagated, with their
        source track). Poses below ``propagate_min_score`` or with fewer than 3 confident joints
        give no box; the candidate's score is the pose's person score."""
        cfg = self.config
        flow = self._flow
        recent = [t for t in self.tracks if t.last_seen == self._last_update and len(t.memory)]
        if flow is None or not recent:
            return Poses()
        last = Poses.merge([t.memory[[len(t.memory) - 1]] for t in recent])
        moved = last if self.association.moves_with_flow else _moved(last, flow)  # moved in advance
        boxes, count = keypoint_boxes(moved.keypoints, cfg.joint_threshold, cfg.enlarge)
        keep = (count >= 3) & (last.scores >= cfg.propagate_min_score)
        h, w = flow.shape[:2]
        keep &= (boxes[:, 2] > 0) & (boxes[:, 3] > 0) & (boxes[:, 0] < w) & (boxes[:, 1] < h)
        n = int(keep.sum())
        ids = np.array([t.track_id for t in recent], np.int64)
        return Poses(boxes[keep], last.scores[keep], source=np.full(n, PROPAGATED), source_track=ids[keep])

    def similarity(self, poses: Poses, tracks: list[Track]) -> np.ndarray:
        """Similarity ``(N, T)`` of the new poses with ``tracks``: the best over each track's memory."""
        sim = np.zeros((len(poses), len(tracks)))
        if not len(poses) or not tracks:
            return sim
        memory = Poses.merge([t.memory for t in tracks])
        column = np.concatenate([np.full(len(t.memory), j) for j, t in enumerate(tracks)])
        s = self.similarity_fn(poses, memory, self.config)
        for j in range(len(tracks)):
            sim[:, j] = s[:, column == j].max(1)
        return sim

    def relabels(self) -> dict[int, int]:
        """The tracks of at most ``relabel_frames`` frames that the last :meth:`update` folded into
        an older track (their id -> that track's id): frames held back with such an id are to be
        written with the older one."""
        return dict(self._relabels)

    def skip(self) -> None:
        """A frame without poses to associate (it could not be decoded): the tracks age by one frame."""
        self.frame += 1
        self._relabels = {}
        self._expire()

    def update(self, poses: Poses, image: np.ndarray | None = None) -> Poses:
        """The poses of the current frame with their track ids (steps 3 and 4 of the module
        docstring); remembers them. Weak poses left unmatched are dropped (two-stage only).
        ``image`` (the frame, BGR) gives the poses' appearance for re-identification."""
        cfg = self.config
        self.frame += 1
        self._last_update = self.frame
        self._relabels = {}
        if cfg.merge_propagated and poses.keypoints is not None:
            poses = merge_propagated(poses, cfg.merge_oks, cfg.joint_threshold)
        ids = np.full(len(poses), -1, np.int64)
        live = [t for t in self.tracks if len(t.memory)]
        sim = self.similarity(poses, live)
        confident = poses.scores >= cfg.high_score if cfg.two_stage else np.ones(len(poses), bool)
        taken: set[int] = set()
        for rows in (np.flatnonzero(confident), np.flatnonzero(~confident)):  # stages a and b
            cols = [j for j in range(len(live)) if j not in taken]
            for r, c in greedy_match(sim[np.ix_(rows, cols)], cfg.min_similarity):
                ids[rows[r]] = live[cols[c]].track_id
                taken.add(cols[c])
        looks = None
        if self.buffer and image is not None and poses.keypoints is not None:
            looks = embed(image, poses.keypoints, LOOKS_JOINT_SCORE)
            self._reidentify(poses, ids, looks, image.shape[:2])
            clear = _unoverlapped(poses.boxes)  # over all poses: a weak one in front covers too
        if cfg.two_stage:  # a propagated pose is a copy of a track's person: it never starts another
            starts = (poses.scores >= cfg.new_track_score) & (poses.source != PROPAGATED)
        else:
            starts = np.ones(len(poses), bool)
        for r in np.flatnonzero((ids < 0) & starts):  # stage d
            ids[r] = self._next_id
            self._next_id += 1
        kept = ids >= 0
        tracked = poses.with_(track_ids=ids)[kept]
        if looks is not None:
            looks = (looks[0][kept], looks[1][kept], clear[kept])
        self._remember(tracked, looks)
        return tracked

    def _reidentify(
        self, poses: Poses, ids: np.ndarray, looks: tuple[np.ndarray, np.ndarray], image_size: tuple[int, int]
    ) -> None:
        """Stage c: confident detected poses left unmatched, and the poses of tracks at most
        ``relabel_frames`` old, take the id of a lost track (one not matched in this frame, unseen
        for at most the buffer, and for a young track's pose: lost before that track started) that
        looks like them, where that track's own motion predicts it and at its size. Fills ``ids``
        in place; a young track re-identified is folded into the lost one (:meth:`relabels`)."""
        cfg = self.config
        used = set(ids[ids >= 0].tolist())
        lost = [
            t
            for t in self.tracks
            if t.track_id not in used and t.looks is not None and 0 < self.frame - t.last_seen <= self.buffer
        ]
        born = {t.track_id: t.born for t in self.tracks if self.frame - t.born <= self.relabel_frames}
        started = np.array([born.get(i, self.frame) for i in ids.tolist()], np.int64)  # new poses: this frame
        young = (ids >= 0) & (started < self.frame)
        fresh = (ids < 0) & (poses.scores >= cfg.new_track_score) & (poses.source == DETECTED)
        rows = np.flatnonzero(young | fresh)
        if not lost or not len(rows):
            return
        app = appearance_similarity(
            looks[0][rows],
            looks[1][rows],
            np.stack([t.looks for t in lost]),
            np.stack([t.looks_valid for t in lost]),
        )
        gap = np.array([self.frame - t.last_seen for t in lost], np.float64)
        predicted = np.stack([t.anchor + t.velocity * g for t, g in zip(lost, gap, strict=True)])
        predicted = predicted.clip(0, (image_size[1], image_size[0]))  # one who walked out waits at the edge
        heights = np.array([max(t.height, 1.0) for t in lost])
        centres = pose_centres(poses[rows], cfg.joint_threshold)
        dist = np.linalg.norm(centres[:, None] - predicted[None], axis=-1)
        gate = heights * np.minimum(REID_GATE[0] + REID_GATE[1] * gap / cfg.fps, REID_GATE[2])
        box_h = np.maximum(poses.boxes[rows, 3] - poses.boxes[rows, 1], 1.0)
        scale = box_h[:, None] / heights[None]
        ok = (app >= cfg.reid_similarity) & (dist <= gate) & (scale >= 1 / REID_SCALE) & (scale <= REID_SCALE)
        ok &= np.array([t.last_seen for t in lost])[None] < started[rows, None]  # lost before a young track began
        score = np.where(ok, app * (1 - 0.5 * dist / gate), 0.0)
        for r, c in greedy_match(score, 1e-6):
            row, old = rows[r], lost[c]
            if ids[row] >= 0:  # a young track was this lost one: the old track goes on from its poses
                track = next(t for t in self.tracks if t.track_id == ids[row])
                old.memory, old.frames = track.memory, track.frames
                self.tracks.remove(track)
                self._relabels[int(ids[row])] = old.track_id
            ids[row] = old.track_id

    def _remember(self, tracked: Poses, looks: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None) -> None:
        """Fold the tracked poses into their tracks. ``looks``: their colour embeddings, parts seen
        and whether each overlaps no other pose of the frame."""
        by_id = {t.track_id: t for t in self.tracks}
        centres = pose_centres(tracked, self.config.joint_threshold)
        heights = tracked.boxes[:, 3] - tracked.boxes[:, 1]
        alone = looks[2] if looks is not None else _unoverlapped(tracked.boxes)
        clear = alone & (tracked.scores >= self.config.high_score)
        for i, tid in enumerate(tracked.track_ids.tolist()):
            row = tracked[[i]]  # a copy: the caller may change the returned arrays
            track = by_id.get(tid)
            if track is None:
                track = Track(tid, row, [self.frame], anchor=centres[i], born=self.frame)
                self.tracks.append(track)
            else:
                track.memory = Poses.merge([track.memory, row])
                track.frames.append(self.frame)
                gap = self.frame - track.last_seen
                seen = (centres[i] - track.anchor) / gap  # its own motion since (the anchor moved with the camera)
                top = MAX_SPEED * max(track.height, 1.0) / self.config.fps  # no one moves faster
                seen *= min(1.0, top / max(float(np.linalg.norm(seen)), 1e-9))
                track.velocity = track.velocity + VELOCITY_SMOOTHING * (seen - track.velocity)
                track.anchor = centres[i]
            track.last_seen = self.frame
            if clear[i] or not track.height:  # a box cut by an occluder is not the person's size
                track.height += (float(heights[i]) - track.height) * (HEIGHT_SMOOTHING if track.height else 1.0)
            if looks is not None and (clear[i] or track.looks is None):
                _update_looks(track, looks[0][i], looks[1][i])
        self._expire()

    def _expire(self) -> None:
        """Drop remembered poses older than ``max_age`` frames; a track ends when it has none left
        and has not been seen for more than the buffer."""
        for track in self.tracks:
            keep = np.array([self.frame - f < self.max_age for f in track.frames], bool)
            if not keep.all():
                track.memory = track.memory[keep]
                track.frames = [f for f, k in zip(track.frames, keep, strict=True) if k]
        self.tracks = [t for t in self.tracks if t.frames or self.frame - t.last_seen <= self.buffer]


#: Re-identification gates: the predicted position must be within (a + b * seconds lost, at most c)
#: track heights; the box height within a factor of REID_SCALE of the track's.
REID_GATE = (0.5, 1.0, 3.0)
REID_SCALE = 1.5
#: How fast a track's velocity follows what is seen (exponential smoothing per observation), and
#: the fastest a person moves (track heights per second: a sprint).
VELOCITY_SMOOTHING = 0.3
MAX_SPEED = 2.5
#: How fast a track's height follows its unoccluded boxes.
HEIGHT_SMOOTHING = 0.3
#: A track's colour embedding averages its first observations, then follows new ones at this rate.
LOOKS_RATE = 0.1
#: A track at most this many frames old may still turn out to be a lost track's person (coming out
#: from behind something, its colours at first mixed with the occluder's): it is then folded into
#: the lost track, and its earlier frames are relabelled (the pipeline holds its output back this
#: many frames, so that no frame leaves with the provisional id).
RELABEL_FRAMES = 3
#: The joint score above which a body part's pixels are sampled for the colour embedding.
LOOKS_JOINT_SCORE = 0.2


def _unoverlapped(boxes: np.ndarray, max_iou: float = 0.2) -> np.ndarray:
    """Which boxes overlap no other box by more than ``max_iou`` (their pixels are their own)."""
    if len(boxes) < 2:
        return np.ones(len(boxes), bool)
    iou = box_iou(boxes, boxes)
    np.fill_diagonal(iou, 0.0)
    return iou.max(1) <= max_iou


def _update_looks(track: Track, looks: np.ndarray, valid: np.ndarray) -> None:
    """Fold one observation into the track's colour embedding (per part, where it was seen)."""
    if track.looks is None:
        track.looks, track.looks_valid, track.looks_seen = looks.copy(), valid.copy(), 1
        return
    track.looks_seen += 1
    rate = max(1.0 / track.looks_seen, LOOKS_RATE)
    fresh = valid & ~track.looks_valid
    both = valid & track.looks_valid
    track.looks[fresh] = looks[fresh]
    track.looks[both] += rate * (looks[both] - track.looks[both])
    track.looks_valid = track.looks_valid | valid
