"""``hrtrack track``: build the stages from command-line options, run the pipeline, write outputs."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

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
from tracker.detectors import make_detector
from tracker.detectors.base import Detector
from tracker.flowtrack import FlowTrackConfig, FlowTracker
from tracker.pipeline import PipelineConfig, StageTimer, track
from tracker.sinks import FORMATS, OutputFilter, ResultSink, track_sinks
from tracker.video import ImageListSource, VideoSource, open_source


def load_estimator(
    weights: str | Path | None,
    arch: str,
    input_size: tuple[int, int],
    layout: str = "coco",
    device: str = "cpu",
    flip_test: bool = True,
    batch_size: int = 32,
    compile: bool = False,
    bf16: bool = False,
    backend: str = "torch",
) -> PoseEstimator:
    """The pose estimator of a checkpoint (strict load; ``weights=None``: random weights, for
    benchmarks). ``layout`` is the model's joint slots: ``coco`` or ``posetrack18`` (whose
    head_bottom/head_top slots are not swapped by the flip test). ``backend``: see
    :mod:`pose.backends` (``auto`` is the fastest here, calibrated once and cached)."""
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
        dtype=torch.bfloat16 if bf16 else torch.float32,
        layout=layout,
        backend=backend,
        weights=weights,
    )


@dataclass
class TrackSummary:
    """What a tracked source gave: frames, detected boxes, tracked poses (drawn and exported),
    distinct track ids, undecodable frames."""

    frames: int = 0
    detections: int = 0
    poses: int = 0
    tracks: set[int] = field(default_factory=set)
    failed: int = 0


def track_source(
    source: VideoSource | ImageListSource,
    detector: Detector,
    estimator: PoseEstimator,
    flow: FlowMethod | None,
    tracker: FlowTracker,
    config: PipelineConfig,
    timer: StageTimer,
    sinks: list[ResultSink],
    progress: bool = True,
    name: str = "",
    on_frame: Callable[[], None] | None = None,
) -> tuple[TrackSummary, list[Path]]:
    """Track every frame of ``source`` into ``sinks``; returns the summary and the written files.

    1. each (frame, result) of :func:`tracker.pipeline.track` goes to every sink as it comes (the
       annotated video is drawn from the frame in hand, so the source is decoded once);
    2. at the end every sink is closed (its files appear by rename); on any error, or an
       interruption, every sink is aborted and leaves nothing.

    Shows a progress bar (people, fps) unless ``progress`` is False; ``on_frame`` is called after
    every frame (a corpus run's one bar over all sequences).
    """
    summary = TrackSummary()
    bar = tqdm(total=len(source), unit="frame", disable=not progress, desc=name, dynamic_ncols=True)
    start = time.perf_counter()
    try:
        for frame, result in track(source, detector, estimator, flow, tracker, config, timer):
            t = time.perf_counter()
            for sink in sinks:
                sink.write(frame, result)
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
        written = [path for sink in sinks for path in sink.close()]
        timer.add("write", t)
        timer.wall += time.perf_counter() - t  # the files appear after the pipeline's own wall clock
    except BaseException:
        bar.close()
        for sink in sinks:
            sink.abort()
        raise
    summary.failed = getattr(source, "failed", 0)
    return summary, written


def resolve_device(spec: str) -> str:
    """``auto`` -> ``cuda`` when a CUDA device is available, else ``cpu``; checks ``cuda``."""
    if spec == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if spec.startswith("cuda") and not torch.cuda.is_available():
        raise HrtrackError(f"--device {spec}: no CUDA device is available")
    if spec != "cpu" and not spec.startswith("cuda"):
        raise HrtrackError(f"--device {spec}: use auto, cpu or cuda[:N]")
    return spec


@dataclass(frozen=True)
class Job:
    """One sequence of a ``track`` run: where its frames come from, its name (of its output files)
    and its detector spec (``json:DIR`` and a bare ``gt`` resolved per sequence)."""

    source: str
    name: str
    detector: str


def job_outputs(job: Job, args: argparse.Namespace) -> list[tuple[Path, str]]:
    """The files a job writes, with the option that names them."""
    out = Path(args.out)
    formats = list(FORMATS) if args.format == "both" else [args.format]
    paths = [(out / fmt / f"{job.name}.json", "--out") for fmt in formats]
    paths.append((out / "tracks" / f"{job.name}.json", "--out"))
    if args.render:
        paths.append((Path(args.render), "--render"))
    return paths


class Models:
    """The pose network and the flow of a process, loaded once and shared by its sequences."""

    def __init__(self, args: argparse.Namespace, device: str, flow: bool = True) -> None:
        self.device = device
        self.flow_spec = args.flow
        self.flow = make_flow(args.flow, args.flow_max_side, device) if flow else None
        progress = not args.quiet
        if args.weights and is_network_file(args.weights):
            self.pose, self.estimator = _network_estimator(args, device)
            return
        self.pose = zoo.resolve_pose(args.weights, device, args.arch, args.input_size, args.keypoint_layout, progress)
        self.estimator = load_estimator(
            self.pose.path,
            self.pose.arch,
            self.pose.input_size,
            self.pose.layout,
            device=device,
            flip_test=not args.no_flip,
            batch_size=args.batch_size,
            compile=args.compile,
            bf16=args.bf16,
            backend=args.backend,
        )

    def describe(self, detector: str) -> str:
        p = self.pose
        return (
            f"hrtrack: pose {p.label} ({p.arch} {p.input_size[0]}x{p.input_size[1]}, {p.layout} layout), "
            f"detector {detector}, flow {self.flow_spec}, device {self.device}, "
            f"{self.estimator.choice.describe()}, {self.estimator.precision}"
        )


def _network_estimator(args: argparse.Namespace, device: str) -> tuple[zoo.PoseChoice, PoseEstimator]:
    """The estimator of an external network file (``--weights FILE.onnx|.xml``), on the CPU."""
    path = Path(args.weights)
    if args.arch is not None:
        raise HrtrackError(f"--arch {args.arch}: {path.name} is a network file, not HRNet weights; leave --arch out")
    if args.compile:
        raise HrtrackError(f"--compile: {path.name} runs on onnxruntime or OpenVINO, not torch")
    if device != "cpu" and args.device != "auto":
        raise HrtrackError(f"--device {args.device}: network files run on the CPU (onnxruntime, OpenVINO)")
    estimator = PoseEstimator(
        path,
        args.input_size,
        flip_test=not args.no_flip,
        batch_size=args.batch_size,
        dtype=torch.bfloat16 if args.bf16 else torch.float32,
        layout=args.keypoint_layout or "coco",
        backend=args.backend,
    )
    size = (estimator.input_h, estimator.input_w)
    return zoo.PoseChoice(path, "network", size, estimator.layout.name, str(path)), estimator


def resolve_backend(args: argparse.Namespace, threads: int) -> None:
    """``--backend auto`` settled once, in this process, for runs in other processes (``--workers``,
    Ray): every sequence then runs on the same backend with ``threads`` threads, and the outputs
    are those of a serial run with the same ``--threads``."""
    if args.backend != "auto":
        return
    saved = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        models = Models(args, resolve_device(args.device), flow=False)
    finally:
        torch.set_num_threads(saved)
    args.backend = models.estimator.choice.name
    if not args.quiet:
        print(f"hrtrack: {models.estimator.choice.describe()} for {threads} thread(s) per sequence", file=sys.stderr)


def track_job(
    job: Job,
    args: argparse.Namespace,
    models: Models | None = None,
    progress: bool = True,
    on_frame: Callable[[], None] | None = None,
) -> tuple[TrackSummary, list[Path], StageTimer]:
    """Track one sequence into its planned outputs (all committed together at the end, or none).

    ``models``: the process's network and flow (loaded here when None, after the outputs and the
    source are checked, so that a bad input fails before any model is loaded)."""
    device = resolve_device(args.device)
    inputs = [job.source, args.weights, job.detector.partition(":")[2] or None]
    with OutputPlan(inputs=inputs) as plan:
        for path, option in job_outputs(job, args):
            plan.add(path, option, suffixes=(".mp4",) if option == "--render" else ())
        source = open_source(job.source, args.images_root)
        if args.start or args.frames:
            source = source.window(args.start, args.frames)
        detector = make_detector(job.detector, args.det_threshold, args.det_size)
        if models is None:
            models = Models(args, device)
            if progress:
                print(models.describe(job.detector), file=sys.stderr)
        warn_unmatched_detections(detector, source)
        tracker = FlowTracker(
            FlowTrackConfig(
                assoc=args.assoc,
                queue_length=args.queue,
                two_stage=not args.single_stage,
                merge_propagated=not args.no_merge,
                new_track_score=args.track_score,
            )
        )
        flow = models.flow
        config = PipelineConfig(
            box_nms=args.box_nms,
            propagate=not args.no_propagate and flow is not None,
            pose_nms=args.pose_nms or None,
            ahead=args.ahead,
        )
        timer = StageTimer()
        formats = list(FORMATS) if args.format == "both" else [args.format]
        filt = OutputFilter(args.min_box_score, args.min_joint_score)
        out = Path(args.out)
        sinks = track_sinks(out, job.name, formats, filt, args.render, (source.width, source.height, source.fps), plan)
        summary, written = track_source(
            source, detector, models.estimator, flow, tracker, config, timer, sinks, progress, job.name, on_frame
        )
    return summary, written, timer


def run_track(args: argparse.Namespace) -> int:
    """Run the pipeline for the parsed ``track`` options; returns the exit status.

    One source: tracked here, its outputs planned (checked, nothing created) before any input is
    read, written under temp names and committed together at the end, or not at all
    (:class:`pose.files.OutputPlan`). Several sources (or ``--workers``/``--ray``): a corpus run
    (:mod:`tracker.corpus`), resumable, one sequence failing alone."""
    threads = torch.get_num_threads()
    try:
        return _run_track(args)
    finally:
        torch.set_num_threads(threads)  # --threads is this run's (the Python API may go on)


def _run_track(args: argparse.Namespace) -> int:
    from tracker.corpus import plan_jobs, run_corpus

    jobs = plan_jobs(args)
    if len(jobs) > 1 or args.workers > 1 or args.ray is not None:
        return run_corpus(jobs, args)
    if args.threads:
        torch.set_num_threads(args.threads)
    summary, written, timer = track_job(jobs[0], args, progress=not args.quiet)
    report_summary(summary, jobs[0].detector, track_score=args.track_score)
    if not args.quiet:
        print(timer.summary(), file=sys.stderr)
    print(
        f"{summary.frames} frames, {summary.detections} detections, {len(summary.tracks)} tracks -> "
        + ", ".join(str(p) for p in written)
    )
    if args.eval:
        from tracker.corpus import evaluate_results

        evaluate_results(args)
    return 0


#: A run that tracks fewer poses than this share of the detections (of at least
#: FEW_MIN_DETECTIONS) says so: the detector saw people that are neither drawn nor exported.
FEW_RATIO = 0.5
FEW_MIN_DETECTIONS = 10


def report_summary(summary: TrackSummary, detector: str, name: str = "", track_score: float = 0.5) -> None:
    """The warnings of a tracked sequence: undecodable frames, nobody detected, far fewer people
    tracked than detected."""
    where = f"{name}: " if name else ""
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


def warn_unmatched_detections(detector: Detector, source: VideoSource | ImageListSource) -> None:
    """Warn at once when precomputed detections are keyed by names none of the source's frames has."""
    from tracker.detectors.precomputed import JsonDetections

    if not isinstance(detector, JsonDetections) or not detector.by_key:
        return
    if isinstance(source, ImageListSource):
        keys = set(source.names) | {Path(n).name for n in source.names} | {i for i in source.image_ids if i is not None}
    else:
        keys = {f"frame_{i:06d}" for i in range(len(source))}
    if not keys & set(detector.by_key):
        example = next(iter(detector.by_key))
        print(
            f"hrtrack: warning: {detector.path}: none of its image keys match this source's frames "
            f"(e.g. {example!r} vs. {next(iter(sorted(map(str, keys))), '')!r}): no detections will be used",
            file=sys.stderr,
        )
