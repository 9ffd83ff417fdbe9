"""The Python API of tracking: :class:`Tracker`, the one way the stages are wired.

``hrtrack track`` (one source or a corpus, its ``--workers`` and Ray tasks), ``hrtrack demo`` and
``hrtrack bench synth``/``track`` all build a :class:`Tracker` and call it::

    from tracker import Tracker

    t = Tracker(weights="demo_synth_w16", detector="rtmdet_nano_person")  # zoo names, files or objects
    for r in t.track("video.mp4"):                  # a stream of tracker.pipeline.FrameResult
        r.index, r.poses.boxes, r.poses.keypoints, r.poses.track_ids
    summary = t.track("video.mp4", out="out", render="out/video.mp4")   # files, as hrtrack track

The stages may be objects: a detector with ``detect(frame) -> Poses``, a pose stage ``(image,
boxes: Poses) -> Poses`` (e.g. :class:`pose.PoseEstimator` of a network file), a flow with
``compute(prev, next) -> (H,W,2)``. The models load once, on first use, and serve every later call.
"""

from __future__ import annotations

import copy
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from flow import make_flow
from flow.base import FlowMethod
from pose import zoo
from pose.checkpoint import load_checkpoint
from pose.errors import HrtrackError
from pose.estimator import PoseEstimator
from pose.external import is_network_file
from pose.files import OutputPlan
from pose.hrnet import build_model
from tracker.config import TrackConfig
from tracker.detectors import make_detector
from tracker.detectors.base import Detector
from tracker.flowtrack import FlowTrackConfig, FlowTracker
from tracker.pipeline import FrameResult, PipelineConfig, StageTimer, track
from tracker.sinks import AnnotatedVideoSink, OutputFilter, ResultSink, track_sinks
from tracker.video import ArraySource, ImageListSource, VideoSource, open_source

#: What :meth:`Tracker.track` reads: a video file, a frame folder or a PoseTrack annotation (a path),
#: an opened source, or any iterable of ``(H,W,3)`` uint8 BGR images.
Source = str | os.PathLike[str] | VideoSource | ImageListSource | ArraySource | Iterable[np.ndarray]


#: Frames smaller than this (pixels, either side) are refused before any model loads.
MIN_SIDE = 16


@dataclass
class TrackSummary:
    """What a tracked source gave: frames, detected boxes, tracked poses (drawn and exported),
    distinct track ids, undecodable frames, frames a video's container counts but its file does
    not hold (cut short); the files written and the per-stage timer."""

    frames: int = 0
    detections: int = 0
    poses: int = 0
    tracks: set[int] = field(default_factory=set)
    failed: int = 0
    missing: int = 0
    files: list[Path] = field(default_factory=list)
    timer: StageTimer = field(default_factory=StageTimer)


class Tracker:
    """Multi-person pose tracking: detect, propagate by flow, estimate poses, associate (FlowTrack).

    ``weights``: a zoo pose model name, an HRNet checkpoint or a network file (.onnx, OpenVINO .xml),
    or a pose stage object ``(image, boxes: Poses) -> Poses``. ``detector``: a spec (see
    :class:`TrackConfig`) or an object with ``detect(frame) -> Poses``. ``flow``: a spec or an object
    with ``compute(prev, next)``. ``config`` and ``options``: every other choice
    (:class:`TrackConfig`'s fields, checked with the command line's one-line errors).
    """

    def __init__(
        self,
        weights: str | os.PathLike[str] | Callable[..., Any] | None = None,
        detector: str | Detector | None = None,
        flow: str | FlowMethod | None = None,
        *,
        config: TrackConfig | None = None,
        **options: Any,
    ) -> None:
        stages = {"weights": weights, "detector": detector, "flow": flow}
        specs = {k: os.fspath(v) for k, v in stages.items() if isinstance(v, (str, os.PathLike))}
        config = config or TrackConfig()
        self.config = config.replace(**specs, **options) if specs or options else config
        objects = {k: v for k, v in stages.items() if v is not None and k not in specs}
        if "weights" in objects and not callable(objects["weights"]):
            raise HrtrackError(f"weights: a name, a file or a pose stage (image, boxes) -> Poses, got {weights!r}")
        if "detector" in objects and not callable(getattr(detector, "detect", None)):
            raise HrtrackError(f"detector: a spec or an object with detect(frame) -> Poses, got {detector!r}")
        if "flow" in objects and not callable(getattr(flow, "compute", None)):
            raise HrtrackError(f"flow: a spec or an object with compute(prev, next), got {flow!r}")
        self.device = resolve_device(self.config.device)
        self._estimator = objects.get("weights")
        self._detector = objects.get("detector")
        self._flow = objects.get("flow")
        self._flow_ready = "flow" in objects
        self._made_detector: tuple[str, Detector] | None = None  # the last spec's detector
        self.pose: zoo.PoseChoice | None = None
        self.timer = StageTimer()  # of the last run

    # ------------------------------------------------------------------------- the models

    @property
    def estimator(self) -> Callable[..., Any]:
        """The pose stage (loaded, and a zoo model fetched, on first use)."""
        return self.load(flow=False)._estimator

    @property
    def flow(self) -> FlowMethod | None:
        """The flow stage (None: ``flow="none"``), made on first use."""
        if not self._flow_ready:
            self._flow = make_flow(self.config.flow, self.config.flow_max_side, self.device)
            self._flow_ready = True
        return self._flow

    def load(self, progress: bool = True, flow: bool = True) -> Tracker:
        """Load the pose network (fetching a zoo model, with a download bar unless ``progress`` is
        False) and the flow now, else the first :meth:`track` does."""
        if flow:  # first: a flow that cannot be made fails before the network's exports are cached
            _ = self.flow
        if self._estimator is None:
            self.pose, self._estimator = self._load_estimator(progress)
        return self

    def describe(self, detector: str | Detector | None = None) -> str:
        """One line: pose model, detector, flow, device, runtime and precision."""
        detector = detector or self._detector or self.config.detector
        det = detector if isinstance(detector, str) else type(detector).__name__
        est = self.estimator
        if self.pose is not None:
            p = self.pose
            pose = f"{p.label} ({p.arch} {p.input_size[0]}x{p.input_size[1]}, {p.layout} layout)"
        else:
            pose = type(est).__name__
        runtime = f", {est.choice.describe()}, {est.precision}" if isinstance(est, PoseEstimator) else ""
        return f"hrtrack: pose {pose}, detector {det}, flow {self.config.flow}, device {self.device}{runtime}"

    def _load_estimator(self, progress: bool) -> tuple[zoo.PoseChoice, PoseEstimator]:
        c = self.config
        if c.weights and is_network_file(c.weights):
            return self._network_estimator()
        pose = zoo.resolve_pose(c.weights, self.device, c.arch, c.input_size, c.keypoint_layout, progress)
        estimator = load_estimator(
            pose.path,
            pose.arch,
            pose.input_size,
            pose.layout,
            device=self.device,
            flip_test=c.flip_test,
            batch_size=c.batch_size,
            compile=c.compile,
            precision=c.precision,
            backend=c.backend,
        )
        return pose, estimator

    def _network_estimator(self) -> tuple[zoo.PoseChoice, PoseEstimator]:
        """The estimator of an external network file (.onnx, OpenVINO .xml), on the CPU."""
        c = self.config
        path = Path(str(c.weights))
        if c.arch is not None:
            raise HrtrackError(f"--arch {c.arch}: {path.name} is a network file, not HRNet weights; leave --arch out")
        if c.compile:
            raise HrtrackError(f"--compile: {path.name} runs on onnxruntime or OpenVINO, not torch")
        if self.device != "cpu" and c.device != "auto":
            raise HrtrackError(f"--device {c.device}: network files run on the CPU (onnxruntime, OpenVINO)")
        estimator = PoseEstimator(
            path,
            c.input_size,
            flip_test=c.flip_test,
            batch_size=c.batch_size,
            precision=c.precision,
            layout=c.keypoint_layout or "coco",
            backend=c.backend,
        )
        size = (estimator.input_h, estimator.input_w)
        return zoo.PoseChoice(path, "network", size, estimator.layout.name, str(path)), estimator

    # ------------------------------------------------------------------------- tracking

    def track(
        self,
        source: Source,
        out: str | os.PathLike[str] | None = None,
        render: str | os.PathLike[str] | None = None,
        *,
        name: str | None = None,
        detector: str | Detector | None = None,
        progress: bool = False,
        on_frame: Callable[[], None] | None = None,
    ) -> Iterator[FrameResult] | TrackSummary:
        """Track ``source``.

        Without ``out`` and ``render``: an iterator of :class:`~tracker.pipeline.FrameResult`, one per
        frame, in order, as they are made (nothing is kept). With ``out``: the PoseTrack files and the
        per-track export of ``hrtrack track`` (``out/<format>/<name>.json``, ``out/tracks/<name>.json``);
        with ``render``: the annotated H.264 video; all committed together at the end, or none; returns
        a :class:`TrackSummary`. ``name``: of the output files (default: the source's file name).
        ``detector``: this source's detector (e.g. ``gt:ANNOTATION``) instead of the tracker's.
        ``progress``: a frame bar (and the download bar of a zoo model fetched on first use).
        ``on_frame``: called after every frame. One run at a time per tracker: its models and
        its timer serve one source after another."""
        if out is None and render is None:
            frames = self._open(source)
            name = name or _name_of(source)
            det = self._make_detector(detector, source, name, frames)
            self.load(progress)
            return self._results(frames, det, progress, name, on_frame)
        return self._write(source, out, render, name, detector, progress, on_frame)

    def _results(
        self,
        frames: VideoSource | ImageListSource | ArraySource,
        detector: Detector,
        progress: bool,
        name: str,
        on_frame: Callable[[], None] | None,
    ) -> Iterator[FrameResult]:
        self.timer = timer = StageTimer()
        flow = self.flow
        tracker, pipeline = self._new_tracker(frames.fps), self._pipeline(flow)
        stream = track(frames, detector, self.estimator, flow, tracker, pipeline, timer)
        bar = tqdm(total=len(frames) or None, unit="frame", disable=not progress, desc=name, dynamic_ncols=True)
        try:
            for _, result in stream:
                bar.update(1)
                if on_frame is not None:
                    on_frame()
                yield result
        finally:
            bar.close()
            stream.close()  # stops the threads ahead at once, also when the caller stops early

    def _write(
        self,
        source: Source,
        out: str | os.PathLike[str] | None,
        render: str | os.PathLike[str] | None,
        name: str | None,
        detector: str | Detector | None,
        progress: bool,
        on_frame: Callable[[], None] | None,
    ) -> TrackSummary:
        c = self.config
        is_path = isinstance(source, (str, os.PathLike))
        name = name or _name_of(source)
        spec = detector or self._detector or c.detector
        if isinstance(spec, str):
            spec = source_detector(spec, source, name)
        det_file = spec.partition(":")[2] if isinstance(spec, str) else ""
        with OutputPlan(inputs=[source if is_path else None, c.weights, det_file or None]) as plan:
            for path, option in output_paths(out, name, c.formats, render):
                plan.add(path, option, suffixes=(".mp4",) if option == "--render" else ())
            frames = self._open(source)
            det = self._make_detector(spec, source, name, frames)
            loading = self._estimator is None
            self.load(progress)
            if progress and loading:  # the models this tracker loaded itself
                print(self.describe(spec), file=sys.stderr)
            size = (frames.width, frames.height, frames.fps)
            filt = OutputFilter(c.min_box_score, c.min_joint_score)
            if out is not None:
                sinks = track_sinks(Path(out), name, list(c.formats), filt, render, size, plan)
            else:
                sinks = [AnnotatedVideoSink(Path(render), *size, plan=plan)]
            summary = self._run(frames, det, sinks, progress, name, on_frame)
        return summary

    def _run(
        self,
        frames: VideoSource | ImageListSource | ArraySource,
        detector: Detector,
        sinks: list[ResultSink],
        progress: bool,
        name: str,
        on_frame: Callable[[], None] | None,
    ) -> TrackSummary:
        """Every frame's result to every sink as it comes (the video drawn from the frame in hand, so
        the source is decoded once); at the end every sink is closed (its files appear by rename); on
        any error or interruption every sink is aborted and leaves nothing."""
        summary = TrackSummary()
        timer = self.timer = summary.timer
        flow = self.flow
        tracker, pipeline = self._new_tracker(frames.fps), self._pipeline(flow)
        bar = tqdm(total=len(frames) or None, unit="frame", disable=not progress, desc=name, dynamic_ncols=True)
        start = time.perf_counter()
        writing: ResultSink | None = None  # the sink being written (a write error names its output)
        try:
            for frame, result in track(frames, detector, self.estimator, flow, tracker, pipeline, timer):
                t = time.perf_counter()
                for writing in sinks:
                    writing.write(frame, result)
                writing = None
                timer.add("write", t)
                summary.frames += 1
                summary.detections += result.num_detections
                summary.poses += len(result.track_ids)
                summary.tracks.update(int(i) for i in result.track_ids)
                bar.update(1)
                if on_frame is not None:
                    on_frame()
                elapsed = time.perf_counter() - start
                bar.set_postfix(people=len(result.track_ids), fps=f"{summary.frames / elapsed:.1f}")
            bar.close()
            t = time.perf_counter()
            for writing in sinks:
                summary.files.extend(writing.close())
            writing = None
            timer.add("write", t)
            timer.wall += time.perf_counter() - t  # the files appear after the pipeline's own wall clock
        except BaseException as exc:
            bar.close()
            for sink in sinks:
                sink.abort()
            if isinstance(exc, OSError) and not exc.filename and writing is not None:  # e.g. a full disk
                exc.filename = str(writing.target)  # the output the failing sink writes
            raise
        summary.failed = getattr(frames, "failed", 0)
        summary.missing = getattr(frames, "missing", 0)
        return summary

    def _open(self, source: Source) -> VideoSource | ImageListSource | ArraySource:
        c = self.config
        if isinstance(source, (str, os.PathLike)):
            frames = open_source(source, c.images_root)
        elif isinstance(source, (VideoSource, ImageListSource, ArraySource)):
            frames = copy.copy(source)  # a window is this run's: the caller's source stays whole
        elif isinstance(source, np.ndarray) and source.ndim != 4:
            raise HrtrackError(f"source: an array of shape {source.shape}; give a list of (H,W,3) images")
        else:
            frames = ArraySource(source)
        if min(frames.width, frames.height) < MIN_SIDE:  # before any model loads (the flow needs 12)
            what = source if isinstance(source, (str, os.PathLike)) else "source"
            raise HrtrackError(
                f"{what}: its frames are {frames.width}x{frames.height} pixels, too small to track "
                f"(at least {MIN_SIDE} a side)"
            )
        if c.start or c.frames:
            frames = frames.window(c.start, c.frames)
        return frames

    def _make_detector(
        self,
        detector: str | Detector | None,
        source: Source,
        name: str,
        frames: VideoSource | ImageListSource | ArraySource,
    ) -> Detector:
        """The detector of this source: an object as it is; a spec made (``gt`` and ``json:DIR``
        resolved for this source, see :func:`source_detector`), a model-backed one kept for the
        next source with the same spec."""
        detector = detector or self._detector or self.config.detector
        if not isinstance(detector, str):
            return detector
        spec = source_detector(detector, source, name)  # (the same spec again when already resolved)
        kind = spec.partition(":")[0]
        if kind in ("gt", "json"):  # a data file, read anew
            made = make_detector(spec, self.config.det_threshold, self.config.det_size)
            if kind == "gt":  # another sequence's boxes: refused before any model loads
                _check_gt_boxes(made, frames)
            else:
                _check_detections(made, frames)
            return made
        if self._made_detector is None or self._made_detector[0] != spec:
            self._made_detector = (spec, make_detector(spec, self.config.det_threshold, self.config.det_size))
        return self._made_detector[1]

    def _new_tracker(self, fps: float) -> FlowTracker:
        """A fresh association memory (one per source; ``fps`` turns the track buffer into frames)."""
        c = self.config
        return FlowTracker(
            FlowTrackConfig(
                assoc=c.assoc,
                queue_length=c.queue,
                track_buffer=c.track_buffer,
                fps=fps,
                two_stage=c.two_stage,
                merge_propagated=c.merge,
                new_track_score=c.track_score,
            )
        )

    def _pipeline(self, flow: FlowMethod | None) -> PipelineConfig:
        c = self.config
        return PipelineConfig(
            box_nms=c.box_nms, propagate=c.propagate and flow is not None, pose_nms=c.pose_nms, ahead=c.ahead
        )


def _name_of(source: Source) -> str:
    """A source's name for its output files: its file or folder name without the suffix."""
    if isinstance(source, (str, os.PathLike)):
        return Path(source).stem
    return Path(getattr(source, "path", None) or getattr(source, "label", None) or "frames").stem or "frames"


def source_detector(spec: str, source: Source, name: str) -> str:
    """A detector spec for one source: ``gt`` is the annotation source's own boxes
    (``gt:SOURCE``), ``json:DIR`` is ``DIR/<name>.json``; any other spec as it is."""
    kind, _, arg = spec.partition(":")
    if spec == "gt":
        if not isinstance(source, (str, os.PathLike)) or Path(source).suffix.lower() != ".json":
            where = source if isinstance(source, (str, os.PathLike)) else "this source"
            raise HrtrackError(f"--detector gt: {where} is not an annotation file (gt:ANNOTATION names one)")
        return f"gt:{source}"
    if kind == "json" and Path(arg).is_dir():
        return f"json:{Path(arg) / (name + '.json')}"
    return spec


def output_paths(
    out: str | os.PathLike[str] | None, name: str, formats: Iterable[str], render: str | os.PathLike[str] | None
) -> list[tuple[Path, str]]:
    """The files a tracked source writes, with the option that names them."""
    paths = [] if out is None else [(Path(out) / fmt / f"{name}.json", "--out") for fmt in formats]
    if out is not None:
        paths.append((Path(out) / "tracks" / f"{name}.json", "--out"))
    if render:
        paths.append((Path(render), "--render"))
    return paths


def load_estimator(
    weights: str | Path | None,
    arch: str,
    input_size: tuple[int, int],
    layout: str = "coco",
    device: str = "cpu",
    flip_test: bool = True,
    batch_size: int = 32,
    compile: bool = False,
    precision: str = "f32",
    backend: str = "torch",
) -> PoseEstimator:
    """The pose estimator of an HRNet checkpoint (strict load; ``weights=None``: random weights, for
    benchmarks). ``layout`` is the model's joint slots: ``coco`` or ``posetrack18`` (whose
    head_bottom/head_top slots are not swapped by the flip test). ``backend``: see
    :mod:`pose.backends` (``auto`` is the fastest here, calibrated once and cached); ``precision``:
    ``f32``, ``bf16`` or ``auto`` (:mod:`pose.precision`)."""
    model = build_model(arch)
    if weights:
        load_checkpoint(model, weights)
    return PoseEstimator(
        model,
        input_size,
        device=device,
        flip_test=flip_test,
        batch_size=batch_size,
        compile=compile,
        precision=precision,
        layout=layout,
        backend=backend,
        weights=weights,
    )


def resolve_device(spec: str) -> str:
    """``auto`` -> ``cuda`` when a CUDA device is available, else ``cpu``; checks ``cuda``."""
    if spec == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if spec.startswith("cuda") and not torch.cuda.is_available():
        raise HrtrackError(f"--device {spec}: no CUDA device is available")
    if spec != "cpu" and not spec.startswith("cuda"):
        raise HrtrackError(f"--device {spec}: use auto, cpu or cuda[:N]")
    return spec


#: A run that tracks fewer poses than this share of the detections (of at least
#: FEW_MIN_DETECTIONS) says so: the detector saw people that are neither drawn nor exported.
FEW_RATIO = 0.5
FEW_MIN_DETECTIONS = 10


def report_summary(summary: TrackSummary, detector: str, name: str = "", track_score: float = 0.5) -> None:
    """The warnings of a tracked sequence: undecodable frames, nobody detected, far fewer people
    tracked than detected."""
    where = f"{name}: " if name else ""
    if summary.missing:
        print(
            f"hrtrack: warning: {where}the video ends after {summary.frames} of the {summary.frames + summary.missing} "
            f"frames its container counts (cut short?): the {summary.frames} real frames were tracked and written",
            file=sys.stderr,
        )
    if summary.failed:
        print(
            f"hrtrack: warning: {where}{summary.failed} frame(s) could not be decoded and were written without people",
            file=sys.stderr,
        )
    if summary.detections == 0:
        print(
            f"hrtrack: warning: {where}--detector {detector}: no person detected in any of the {summary.frames} frames",
            file=sys.stderr,
        )
    elif summary.detections >= FEW_MIN_DETECTIONS and summary.poses < FEW_RATIO * summary.detections:
        n = max(summary.frames, 1)
        print(
            f"hrtrack: warning: {where}the detector found {summary.detections} people in {summary.frames} frames "
            f"({summary.detections / n:.1f} per frame) but only {summary.poses} poses were tracked "
            f"({summary.poses / n:.1f} per frame): lower --track-score ({track_score:g}), or check the pose network",
            file=sys.stderr,
        )


def _check_detections(detector: Detector, source: VideoSource | ImageListSource | ArraySource) -> None:
    """Precomputed detections (``json:``) must be this source's: a file none of whose entries names
    one of its frames is another sequence's (an error, before any model loads)."""
    from tracker.detectors.precomputed import JsonDetections

    if not isinstance(detector, JsonDetections) or not detector.by_key or not len(source):
        return  # (a stream of unknown length: its frame names are not known ahead)
    if isinstance(source, ImageListSource):
        keys = set(source.names) | {Path(n).name for n in source.names} | {i for i in source.image_ids if i is not None}
    else:
        keys = {f"frame_{i:06d}" for i in range(getattr(source, "count", 0) or len(source))}
    if not keys & set(detector.by_key):
        example = next(iter(detector.by_key))
        raise HrtrackError(
            f"--detector json:{detector.path}: none of its entries names a frame of this source "
            f"(e.g. {example!r} vs. {next(iter(sorted(map(str, keys))), '')!r}): the detections of another sequence?"
        )


def _check_gt_boxes(gt: Detector, source: VideoSource | ImageListSource | ArraySource) -> None:
    """Ground-truth boxes (``gt:``) must be this source's: an image list shares image names with
    them; a video (matched by position) has their frame count."""
    if isinstance(source, ImageListSource):
        names = set(source.names) | {Path(n).name for n in source.names}
        total = len(source) + source.start  # (a window keeps the annotation's frame numbers)
        if not names & set(gt.by_name) and total != len(gt.by_index):  # equal counts: matched by position
            example = next(iter(gt.by_name), "")
            raise HrtrackError(
                f"--detector gt:{gt.path}: none of its frames is an image of this source "
                f"(e.g. {example!r} vs. {source.names[0]!r}): the annotation of another sequence?"
            )
        return
    if not getattr(source, "counted", True):
        return  # the container does not know its frame count
    count = getattr(source, "count", None) or len(source)
    if count and abs(count - len(gt.by_index)) > 1:  # (some containers' counts are off by one)
        raise HrtrackError(
            f"--detector gt:{gt.path}: it has {len(gt.by_index)} frames but the source {count}: boxes are "
            "matched by position, so the annotation must be this source's"
        )
