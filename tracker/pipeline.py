"""The tracking pipeline in one screen: frames -> detect -> flow -> propagate + NMS -> pose -> track.

Each stage is a small object with one method; one container, :class:`~pose.poses.Poses`, flows
through them:

* source: iterable of :class:`~tracker.video.Frame` (BGR image or None if undecodable);
* detector: ``detect(frame) -> Poses`` (boxes ``(N,4)`` xyxy, scores ``(N,)``);
* flow: ``compute(prev, nxt) -> (H,W,2)`` float32, or None for no flow;
* tracker: :class:`~tracker.flowtrack.FlowTracker`: ``advance(flow)``, ``propagate() -> Poses``
  (boxes marked as propagated from a track), ``update(poses) -> Poses`` (with track ids);
* estimator: ``(image, boxes: Poses) -> Poses`` (keypoints ``(N,K,3)`` in its layout).

:func:`track` yields one :class:`FrameResult` per input frame, in order, and times every stage.
It holds the last ``tracker.relabel_frames`` (3) results back: a track that young can still turn
out to be a lost one, and its frames then leave with the older id.
Decode, detect and flow depend only on the frames: with ``PipelineConfig.ahead`` they run in
threads for the next frames while the pose network works (:mod:`tracker.ahead`).
"""

from __future__ import annotations

import time
from collections import defaultdict, deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np

from flow.base import FlowMethod
from pose.estimator import PoseEstimator
from pose.keypoints import KeypointLayout
from pose.poses import Poses
from tracker.ahead import prepare
from tracker.detectors.base import Detector
from tracker.flowtrack import FlowTracker
from tracker.video import Frame

STAGES = ("decode", "detect", "flow", "propagate+nms", "pose", "associate", "write")


@dataclass
class FrameResult:
    """The tracked people of one frame: the frame's index, name and dataset image id, and its
    :class:`~pose.poses.Poses` (with track ids). ``decoded`` is False for a frame that could not
    be read (it has no people). The array properties are the poses' fields."""

    index: int
    name: str
    image_id: int | None
    poses: Poses
    decoded: bool = True
    num_detections: int = 0
    num_propagated: int = 0

    @classmethod
    def empty(cls, frame: Frame, layout: KeypointLayout | None = None, decoded: bool = True) -> FrameResult:
        return cls(frame.index, frame.name, frame.image_id, Poses.empty(layout), decoded)

    @property
    def track_ids(self) -> np.ndarray:
        return self.poses.track_ids if self.poses.track_ids is not None else np.zeros(0, np.int64)

    @property
    def keypoints(self) -> np.ndarray:
        return self.poses.keypoints if self.poses.keypoints is not None else np.zeros((0, 17, 3), np.float32)

    @property
    def boxes(self) -> np.ndarray:
        return self.poses.boxes

    @property
    def scores(self) -> np.ndarray:
        return self.poses.scores


@dataclass
class StageTimer:
    """Seconds of work per stage, the number of frames seen, and the wall-clock seconds of the run.

    When stages overlap (decode, detect and flow in threads) their seconds add up to more than
    the wall clock; each stage is written by one thread only."""

    seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    frames: int = 0
    wall: float = 0.0

    def add(self, stage: str, start: float) -> float:
        now = time.perf_counter()
        self.seconds[stage] += now - start
        return now

    def merge(self, other: StageTimer) -> None:
        """Add ``other``'s seconds, frames and wall clock (the timer of several sources)."""
        for stage, seconds in other.seconds.items():
            self.seconds[stage] += seconds
        self.frames += other.frames
        self.wall += other.wall

    def summary(self) -> str:
        """A table: per stage total seconds and milliseconds per frame."""
        n = max(self.frames, 1)
        work = sum(self.seconds.values())
        total = self.wall or work
        lines = [f"{'stage':<14} {'total s':>9} {'ms/frame':>9} {'share':>6}"]
        for stage in STAGES:
            s = self.seconds.get(stage, 0.0)
            lines.append(f"{stage:<14} {s:>9.2f} {s / n * 1e3:>9.1f} {s / total if total else 0:>6.1%}")
        fps = n / total if total else 0.0
        lines.append(f"{'all (wall)':<14} {total:>9.2f} {total / n * 1e3:>9.1f} ({self.frames} frames, {fps:.2f} fps)")
        if work > total * 1.02:
            lines.append(f"(stages overlapped: {work:.2f} s of work in {total:.2f} s; shares are of the wall clock)")
        return "\n".join(lines)


@dataclass
class PipelineConfig:
    """box_nms: IoU threshold unifying detected and flow-propagated boxes (FlowTrack step 3).
    propagate: add flow-propagated boxes (disable for the no-propagation baseline).
    pose_nms: OKS threshold of the official test recipe's pose NMS after estimation (None: off).
        A propagated box and a detection of the same person can overlap too little for the box
        NMS (a keypoint box is shaped unlike a detector's box) and yield the same pose twice.
    ahead: frames decoded, detected and flowed in threads ahead of the pose network (0: all
        stages in turn, in the caller's thread). The results are the same.
    """

    box_nms: float = 0.5
    propagate: bool = True
    pose_nms: float | None = 0.9
    ahead: int = 4


def unify_boxes(detections: Poses, propagated: Poses, iou_threshold: float) -> tuple[Poses, int]:
    """Detected and propagated boxes merged by box NMS; also the number of propagated kept."""
    merged = Poses.merge([detections, propagated])
    keep = merged.box_nms(iou_threshold)
    return merged[keep], int((keep >= len(detections)).sum())


def relabel(results: list[FrameResult], relabels: dict[int, int]) -> None:
    """Give the poses of ``results`` whose track id is a key of ``relabels`` its value instead
    (tracks found to be an older one, :meth:`~tracker.flowtrack.FlowTracker.relabels`)."""
    if not relabels:
        return
    for result in results:
        ids = result.poses.track_ids
        if ids is not None and np.isin(ids, list(relabels)).any():
            result.poses = result.poses.with_(track_ids=np.array([relabels.get(i, i) for i in ids.tolist()], np.int64))


def track(
    frames: Iterable[Frame],
    detector: Detector,
    estimator: PoseEstimator,
    flow: FlowMethod | None,
    tracker: FlowTracker | None = None,
    config: PipelineConfig | None = None,
    timer: StageTimer | None = None,
) -> Iterator[tuple[Frame, FrameResult]]:
    """Track people through ``frames``; yields each frame with its result, in order.

    Decoding, detection and flow run ahead in threads when ``config.ahead`` > 0
    (:mod:`tracker.ahead`); the results are the same either way."""
    tracker = tracker or FlowTracker()
    config = config or PipelineConfig()
    timer = timer or StageTimer()
    layout = getattr(estimator, "layout", None)
    start = time.perf_counter()
    prepared = prepare(frames, detector, flow, timer, config.ahead)
    held: deque[tuple[Frame, FrameResult]] = deque()  # the last frames, whose ids may still change
    try:
        for frame, dets, field_ in prepared:
            t = time.perf_counter()
            timer.frames += 1
            if dets is None:  # undecodable: no people, the tracks age
                tracker.skip()
                result = FrameResult.empty(frame, layout, decoded=False)
            else:
                tracker.advance(field_)
                propagated = tracker.propagate() if config.propagate else Poses()
                boxes, n_prop = unify_boxes(dets, propagated, config.box_nms)
                t = timer.add("propagate+nms", t)

                poses = estimator(frame.image, boxes)
                if config.pose_nms is not None:
                    poses = poses.nms(config.pose_nms)
                t = timer.add("pose", t)

                tracked = tracker.update(poses, frame.image)
                result = FrameResult(frame.index, frame.name, frame.image_id, tracked, True, len(dets), n_prop)
                timer.add("associate", t)
            held.append((frame, result))
            relabel([r for _, r in held], tracker.relabels())
            while len(held) > tracker.relabel_frames:
                yield held.popleft()
        while held:
            yield held.popleft()
    except Exception:  # what was tracked before the failure comes out first, then the error
        while held:
            yield held.popleft()
        raise
    finally:
        prepared.close()  # stops the threads at once when anything here fails
        timer.wall += time.perf_counter() - start
