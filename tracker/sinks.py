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

None keeps a frame or its results: the json sinks spool compact records to an anonymous file in
the output's folder and write the final files from it at the end, so memory stays flat in the
video's length.
"""

from __future__ import annotations

import contextlib
import heapq
import json
import tempfile
from array import array
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Protocol

import numpy as np

from eval.posetrack import MAX_TRACK_ID, Person, people_from_keypoints, stream_sequence
from eval.posetrack import Frame as PtFrame
from pose.errors import HrtrackError
from pose.files import OutputPlan, atomic_path
from tracker.annotate import annotate
from tracker.pipeline import FrameResult
from tracker.video import Frame, VideoSink

FORMATS = {"posetrack17": "2017", "posetrack18": "2018"}


class ResultSink(Protocol):
    target: Path  # the output an error of this sink names

    def write(self, frame: Frame, result: FrameResult) -> None: ...

    def close(self) -> list[Path]: ...

    def abort(self) -> None: ...


@dataclass
class OutputFilter:
    """Poses with a person score below ``min_box_score`` and joints below ``min_joint_score``
    are left out of the PoseTrack files (the paper's 0.5 and 0.4 were tuned for HRNet on PoseTrack
    val; 0.4 was chosen on real footage and the synthetic sets together: 0.5 cost 4-8 mAP and 3-7
    MOTA points everywhere, lower cuts raised MOTA on real footage and lowered it on the synthetic
    sets; README, "Real footage"). The per-track export and the annotated video have every tracked
    pose."""

    min_box_score: float = 0.4
    min_joint_score: float = 0.4


class PoseTrackSink:
    """``out_dir/<format>/<name>.json`` for each format (one PoseTrack frame per result).

    Streamed: each frame's people go to an anonymous spool file as they come (one json line), so
    memory does not grow with the video; :meth:`close` reads the spool once for the tracks' spans
    (:func:`compact_ids`) and once per format while it writes the files frame by frame
    (:func:`eval.posetrack.stream_sequence`: the same bytes as writing the whole sequence)."""

    def __init__(
        self,
        out_dir: Path,
        name: str,
        formats: list[str],
        filt: OutputFilter | None = None,
        plan: OutputPlan | None = None,
    ) -> None:
        self.paths = [Path(out_dir) / fmt / f"{name}.json" for fmt in formats]
        self.target = self.paths[0]  # the file an error names
        self.plan = plan
        for path in self.paths if plan is not None else []:
            plan.add(path, "--out")
        self.formats = list(formats)
        self.name = name
        self.filt = filt or OutputFilter()
        self.count = 0
        self.spans: dict[int, tuple[int, int]] = {}
        self._spool: IO[str] | None = None

    def _target(self, path: Path) -> Path:
        if self.plan is not None:
            return self.plan.temp(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def write(self, frame: Frame, result: FrameResult) -> None:
        if self._spool is None:
            spool_dir = self._target(self.paths[0]).parent
            self._spool = tempfile.TemporaryFile("w+", encoding="utf-8", dir=spool_dir)  # noqa: SIM115 - until close()
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
        for p in people:
            first = self.spans.get(p.track_id, (self.count, self.count))[0]
            self.spans[p.track_id] = (first, self.count)
        record = [result.name, [_person_record(p) for p in people]]
        self._spool.write(json.dumps(record, allow_nan=False) + "\n")
        self.count += 1

    def _frames(self, mapping: dict[int, int]) -> Iterator[PtFrame]:
        assert self._spool is not None
        self._spool.seek(0)
        for line in self._spool:
            image, people = json.loads(line)
            yield PtFrame(image=image, is_labeled=True, people=[_person_from_record(r, mapping) for r in people])

    def close(self) -> list[Path]:
        mapping = compact_ids(self.spans)
        if self._spool is None:  # no frame at all
            self._spool = tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115 - closed below
        try:
            for fmt, path in zip(self.formats, self.paths, strict=True):
                with _writing(path, self.plan) as tmp:
                    stream_sequence(lambda: self._frames(mapping), self.count, self.name, tmp, FORMATS[fmt])
        finally:
            self.abort()
        return list(self.paths)

    def abort(self) -> None:
        if self._spool is not None:
            self._spool.close()
            self._spool = None


@contextlib.contextmanager
def _writing(path: Path, plan: OutputPlan | None) -> Iterator[Path]:
    """Where to write ``path``: the plan's temp (the plan commits it), else an atomic temp of its own."""
    if plan is not None:
        yield plan.temp(path)
    else:
        with atomic_path(path) as tmp:
            yield tmp


def _person_record(p: Person) -> list:
    """A predicted person as plain json values (NaN scores as null): exact floats, one line."""
    return [
        int(p.track_id),
        None if p.box is None else [float(v) for v in p.box],
        None if p.score is None else float(p.score),
        [int(j) for j in np.flatnonzero(p.present)],
        [[float(x), float(y)] for x, y in p.joints[p.present]],
        [float(v) for v in p.scores[p.present]],
    ]


def _person_from_record(record: list, mapping: dict[int, int]) -> Person:
    tid, box, score, joints, xy, scores = record
    person = Person.empty(mapping[tid])
    if joints:
        person.present[joints] = True
        person.joints[joints] = xy
        person.scores[joints] = scores
        person.visible[joints] = 1
    person.box = None if box is None else np.asarray(box, dtype=float)
    person.score = score
    return person


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
    """The per-track export (see the module docstring) at ``path``: every tracked pose.

    Streamed: each entry goes to an anonymous spool file as it comes, and only its offset is kept
    (by track); :meth:`close` writes the file track by track from the spool (the bytes of
    ``json.dumps`` of the whole object)."""

    def __init__(self, path: Path, plan: OutputPlan | None = None) -> None:
        self.path = self.target = Path(path)
        self.plan = plan
        if plan is not None:
            plan.add(self.path, "--out")
        self.offsets: dict[int, array] = {}
        self.num_frames = 0
        self.layout = "coco"
        self._spool: IO[bytes] | None = None

    def _target(self) -> Path:
        if self.plan is not None:
            return self.plan.temp(self.path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        return self.path

    def write(self, frame: Frame, result: FrameResult) -> None:
        if self._spool is None:
            self._spool = tempfile.TemporaryFile("w+b", dir=self._target().parent)  # noqa: SIM115 - until close()
        self.num_frames += 1
        if result.poses.layout is not None:
            self.layout = result.poses.layout.name
        for i in range(len(result.scores)):
            entry = {
                "frame": result.index,
                "image": result.name,
                "box": [round(float(v), 2) for v in result.boxes[i]],
                "score": round(float(result.scores[i]), 4),
                "keypoints": [
                    [round(float(x), 2), round(float(y), 2), round(float(s), 4)] for x, y, s in result.keypoints[i]
                ],
            }
            self.offsets.setdefault(int(result.track_ids[i]), array("q")).append(self._spool.tell())
            self._spool.write(json.dumps(entry, allow_nan=False).encode("utf-8") + b"\n")

    def close(self) -> list[Path]:
        head = json.dumps({"num_frames": self.num_frames, "keypoint_layout": self.layout, "tracks": {}})
        try:
            with _writing(self.path, self.plan) as tmp, open(tmp, "w", encoding="utf-8") as f:
                f.write(head[:-2])  # up to "tracks": {
                for k, tid in enumerate(sorted(self.offsets)):
                    f.write((", " if k else "") + json.dumps(str(tid)) + ": [")
                    for m, offset in enumerate(self.offsets[tid]):
                        assert self._spool is not None
                        self._spool.seek(offset)
                        f.write((", " if m else "") + self._spool.readline().decode("utf-8").rstrip("\n"))
                    f.write("]")
                f.write("}}")
        finally:
            self.abort()
        return [self.path]

    def abort(self) -> None:
        self.offsets = {}
        if self._spool is not None:
            self._spool.close()
            self._spool = None


class AnnotatedVideoSink:
    """The tracked poses drawn on each frame, encoded as H.264 at ``path`` (streamed)."""

    def __init__(self, path: Path, width: int, height: int, fps: float, plan: OutputPlan | None = None) -> None:
        if plan is not None:
            plan.add(path, "--render", suffixes=(".mp4",))
        self.target = Path(path)
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
    (poses below ``filt.min_box_score`` left out of the PoseTrack files; every tracked pose is in the
    per-track export) and, with ``render``, the annotated video
    of ``size_fps`` (width, height, frame rate)."""
    sinks: list[ResultSink] = [
        PoseTrackSink(out_dir, name, formats, filt, plan),
        TracksSink(track_export_path(out_dir, name), plan),
    ]
    if render is not None:
        sinks.append(AnnotatedVideoSink(Path(render), *size_fps, plan=plan))
    return sinks


def track_export_path(out_dir: Path, name: str) -> Path:
    return Path(out_dir) / "tracks" / f"{name}.json"
