"""Result sinks: where tracked frames go. Each takes ``write(frame, result)`` once per frame, in
order, then ``close()`` (its files are complete) or ``abort()`` (nothing of it is left). With an
:class:`pose.files.OutputPlan` a sink writes to the plan's temp files and the plan commits every
output of the run together; without one, each file appears by its own atomic rename.

* :class:`PoseTrackSink`: PoseTrack 2017 and/or 2018 json (17 slots -> poseval's 15 joints in
  :mod:`eval.posetrack`), filtered as the paper does before writing: poses with a person score
  below ``min_box_score`` and joints below ``min_joint_score`` are left out (PoseTrack MOTA
  counts every submitted joint). The tracker's ids are unbounded; PoseTrack's must be below
  10000, so they are mapped here (:func:`compact_ids`);
* :class:`TracksSink`: the per-track export ``{"num_frames", "keypoint_layout", "tracks": {id:
  [{frame, image, box, score, keypoints}, ...]}}`` (boxes xyxy, keypoints K x [x, y, score] in the
  layout's slots, image pixels);
* :class:`AnnotatedVideoSink`: the frames with the tracked poses drawn, as H.264
  (:class:`tracker.video.VideoSink`).

Each keeps only the compact per-frame records it writes, never the frames.
"""

from __future__ import annotations

import heapq
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from eval.posetrack import MAX_TRACK_ID, Sequence, people_from_keypoints, write_sequence
from eval.posetrack import Frame as PtFrame
from pose.errors import HrtrackError
from pose.files import OutputPlan, atomic_write_json
from tracker.annotate import annotate
from tracker.pipeline import FrameResult
from tracker.video import Frame, VideoSink

FORMATS = {"posetrack17": "2017", "posetrack18": "2018"}


class ResultSink(Protocol):
    def write(self, frame: Frame, result: FrameResult) -> None: ...

    def close(self) -> list[Path]: ...

    def abort(self) -> None: ...


@dataclass
class OutputFilter:
    """Poses with a person score below ``min_box_score`` and joints below ``min_joint_score``
    are left out of the PoseTrack files (paper: 0.5 and 0.4, tuned on PoseTrack val)."""

    min_box_score: float = 0.5
    min_joint_score: float = 0.4


class PoseTrackSink:
    """``out_dir/<format>/<name>.json`` for each format (one PoseTrack frame per result)."""

    def __init__(
        self,
        out_dir: Path,
        name: str,
        formats: list[str],
        filt: OutputFilter | None = None,
        plan: OutputPlan | None = None,
    ) -> None:
        self.paths = [Path(out_dir) / fmt / f"{name}.json" for fmt in formats]
        self.plan = plan
        for path in self.paths if plan is not None else []:
            plan.add(path, "--out")
        self.formats = list(formats)
        self.name = name
        self.filt = filt or OutputFilter()
        self.frames: list[PtFrame] = []

    def write(self, frame: Frame, result: FrameResult) -> None:
        keep = result.scores >= self.filt.min_box_score
        layout = result.poses.layout or "coco"
        people = people_from_keypoints(
            result.keypoints[keep],
            result.track_ids[keep],
            result.boxes[keep],
            result.scores[keep],
            layout,
            self.filt.min_joint_score,
        )
        self.frames.append(PtFrame(image=result.name, is_labeled=True, people=people))

    def close(self) -> list[Path]:
        spans: dict[int, tuple[int, int]] = {}
        for k, frame in enumerate(self.frames):
            for person in frame.people:
                first = spans.get(person.track_id, (k, k))[0]
                spans[person.track_id] = (first, k)
        mapping = compact_ids(spans)
        for frame in self.frames:
            for person in frame.people:
                person.track_id = mapping[person.track_id]
        seq = Sequence(name=self.name, frames=self.frames)
        for fmt, path in zip(self.formats, self.paths, strict=True):
            write_sequence(seq, self.plan.temp(path) if self.plan is not None else path, FORMATS[fmt])
        return list(self.paths)

    def abort(self) -> None:
        self.frames = []


def compact_ids(spans: dict[int, tuple[int, int]], limit: int = MAX_TRACK_ID) -> dict[int, int]:
    """PoseTrack ids (below ``limit``) for tracks given as ``{track id: (first frame, last frame)}``.

    In order of first appearance (then of track id), each track takes the smallest id not used
    yet; only past ``limit`` tracks is an id reused, the one whose track ended longest ago, and only
    once that track has ended, so two people alive at the same time never share an id. Deterministic.
    """
    mapping: dict[int, int] = {}
    fresh = 0
    ended: list[tuple[int, int]] = []  # (last frame, compact id) of the tracks seen so far, a heap
    free: deque[int] = deque()  # ids whose tracks ended before the current frame, oldest end first
    for tid, (first, last) in sorted(spans.items(), key=lambda item: (item[1][0], item[0])):
        while ended and ended[0][0] < first:
            free.append(heapq.heappop(ended)[1])
        if fresh < limit:
            mapping[tid], fresh = fresh, fresh + 1
        elif free:
            mapping[tid] = free.popleft()
        else:
            raise HrtrackError(f"more than {limit} people at the same time: PoseTrack ids must be below {limit}")
        heapq.heappush(ended, (last, mapping[tid]))
    return mapping


class TracksSink:
    """The per-track export (see the module docstring) at ``path``; poses below ``min_box_score`` left out."""

    def __init__(self, path: Path, min_box_score: float = 0.0, plan: OutputPlan | None = None) -> None:
        self.path = Path(path)
        self.plan = plan
        if plan is not None:
            plan.add(self.path, "--out")
        self.min_box_score = min_box_score
        self.tracks: dict[int, list[dict]] = {}
        self.num_frames = 0
        self.layout = "coco"

    def write(self, frame: Frame, result: FrameResult) -> None:
        self.num_frames += 1
        if result.poses.layout is not None:
            self.layout = result.poses.layout.name
        for i in np.flatnonzero(result.scores >= self.min_box_score):
            self.tracks.setdefault(int(result.track_ids[i]), []).append(
                {
                    "frame": result.index,
                    "image": result.name,
                    "box": [round(float(v), 2) for v in result.boxes[i]],
                    "score": round(float(result.scores[i]), 4),
                    "keypoints": [
                        [round(float(x), 2), round(float(y), 2), round(float(s), 4)] for x, y, s in result.keypoints[i]
                    ],
                }
            )

    def close(self) -> list[Path]:
        obj = {
            "num_frames": self.num_frames,
            "keypoint_layout": self.layout,
            "tracks": {str(k): v for k, v in sorted(self.tracks.items())},
        }
        atomic_write_json(obj, self.plan.temp(self.path) if self.plan is not None else self.path)
        return [self.path]

    def abort(self) -> None:
        self.tracks = {}


class AnnotatedVideoSink:
    """The tracked poses drawn on each frame, encoded as H.264 at ``path`` (streamed)."""

    def __init__(self, path: Path, width: int, height: int, fps: float, plan: OutputPlan | None = None) -> None:
        if plan is not None:
            plan.add(path, "--render", suffixes=(".mp4",))
        self.video = VideoSink(path, width, height, fps, temp=plan.temp(path) if plan is not None else None)
        self.video.open()

    def write(self, frame: Frame, result: FrameResult) -> None:
        self.video.write(annotate(frame.image, result.poses, self.video.width, self.video.height))

    def close(self) -> list[Path]:
        return [self.video.close()]

    def abort(self) -> None:
        self.video.abort()


def track_sinks(
    out_dir: Path,
    name: str,
    formats: list[str],
    filt: OutputFilter,
    render: Path | None = None,
    size_fps: tuple[int, int, float] = (0, 0, 0.0),
    plan: OutputPlan | None = None,
) -> list[ResultSink]:
    """The outputs of one tracked source: ``out_dir/<format>/<name>.json``, ``out_dir/tracks/<name>.json``
    (poses below ``filt.min_box_score`` left out of both) and, with ``render``, the annotated video
    of ``size_fps`` (width, height, frame rate)."""
    sinks: list[ResultSink] = [
        PoseTrackSink(out_dir, name, formats, filt, plan),
        TracksSink(track_export_path(out_dir, name), filt.min_box_score, plan),
    ]
    if render is not None:
        sinks.append(AnnotatedVideoSink(Path(render), *size_fps, plan=plan))
    return sinks


def track_export_path(out_dir: Path, name: str) -> Path:
    return Path(out_dir) / "tracks" / f"{name}.json"


def plan_track_outputs(
    plan: OutputPlan, out_dir: Path, name: str, formats: list[str], render: Path | None = None
) -> list[Path]:
    """Plan (check, create nothing) the files :func:`track_sinks` will write; the same paths and options."""
    paths = [plan.add(Path(out_dir) / fmt / f"{name}.json", "--out") for fmt in formats]
    paths.append(plan.add(track_export_path(out_dir, name), "--out"))
    if render is not None:
        paths.append(plan.add(render, "--render", suffixes=(".mp4",)))
    return paths
