"""``hrtrack track``: build the stages from command-line options, run the pipeline, write outputs."""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from tqdm import tqdm

from flow import make_flow
from flow.base import FlowMethod
from pose.checkpoint import load_checkpoint
from pose.errors import HrtrackError
from pose.estimator import PoseEstimator
from pose.files import OutputPlan
from pose.hrnet import build_model
from tracker import zoo
from tracker.detectors import make_detector
from tracker.detectors.base import Detector
from tracker.flowtrack import FlowTrackConfig, FlowTracker
from tracker.pipeline import PipelineConfig, StageTimer, track
from tracker.sinks import FORMATS, OutputFilter, ResultSink, plan_track_outputs, track_sinks
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
) -> PoseEstimator:
    """The pose estimator of a checkpoint (strict load; ``weights=None``: random weights, for
    benchmarks). ``layout`` is the model's joint slots: ``coco`` or ``posetrack18`` (whose
    head_bottom/head_top slots are not swapped by the flip test)."""
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
    )


@dataclass
class TrackSummary:
    """What a tracked source gave: frames, detected boxes, distinct track ids, undecodable frames."""

    frames: int = 0
    detections: int = 0
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
) -> tuple[TrackSummary, list[Path]]:
    """Track every frame of ``source`` into ``sinks``; returns the summary and the written files.

    1. each (frame, result) of :func:`tracker.pipeline.track` goes to every sink as it comes (the
       annotated video is drawn from the frame in hand, so the source is decoded once);
    2. at the end every sink is closed (its files appear by rename); on any error, or an
       interruption, every sink is aborted and leaves nothing.

    Shows a progress bar (people, fps) unless ``progress`` is False.
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
            summary.tracks.update(int(i) for i in result.track_ids)
            bar.update(1)
            elapsed = time.perf_counter() - start
            bar.set_postfix(people=len(result.track_ids), fps=f"{summary.frames / elapsed:.1f}")
        bar.close()
        t = time.perf_counter()
        written = [path for sink in sinks for path in sink.close()]
        timer.add("write", t)
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


def run_track(args: argparse.Namespace) -> int:
    """Run the pipeline for the parsed ``track`` options; returns the exit status.

    The outputs are planned (checked, nothing created) before any input is read; they are written
    under temp names and appear together at the end, or not at all (:class:`pose.files.OutputPlan`)."""
    device = resolve_device(args.device)
    name = args.name or Path(args.source).stem
    out = Path(args.out)
    formats = list(FORMATS) if args.format == "both" else [args.format]
    detector_file = args.detector.partition(":")[2] if args.detector.partition(":")[0] in ("json", "gt") else None
    with OutputPlan(inputs=[args.source, args.weights, detector_file]) as plan:
        plan_track_outputs(plan, out, name, formats, args.render)
        source = open_source(args.source, args.images_root)
        progress = not args.quiet
        flow = make_flow(args.flow, args.flow_max_side, device)
        detector = make_detector(args.detector, args.det_threshold)
        pose = zoo.resolve_pose(args.weights, device, args.arch, args.input_size, args.keypoint_layout, progress)
        estimator = load_estimator(
            pose.path,
            pose.arch,
            pose.input_size,
            pose.layout,
            device=device,
            flip_test=not args.no_flip,
            batch_size=args.batch_size,
            compile=args.compile,
            bf16=args.bf16,
        )
        warn_unmatched_detections(detector, source)
        if progress:
            print(
                f"hrtrack: pose {pose.label} ({pose.arch} {pose.input_size[0]}x{pose.input_size[1]}, {pose.layout} "
                f"layout), detector {args.detector}, flow {args.flow}, device {device}",
                file=sys.stderr,
            )
        tracker = FlowTracker(
            FlowTrackConfig(
                assoc=args.assoc,
                queue_length=args.queue,
                two_stage=not args.single_stage,
                merge_propagated=not args.no_merge,
                high_score=args.min_box_score,
            )
        )
        config = PipelineConfig(
            box_nms=args.box_nms, propagate=not args.no_propagate and flow is not None, pose_nms=args.pose_nms or None
        )
        timer = StageTimer()
        filt = OutputFilter(args.min_box_score, args.min_joint_score)
        sinks = track_sinks(out, name, formats, filt, args.render, (source.width, source.height, source.fps), plan)
        summary, written = track_source(
            source, detector, estimator, flow, tracker, config, timer, sinks, progress=progress, name=name
        )
    if summary.failed:
        print(
            f"hrtrack: warning: {summary.failed} frame(s) could not be decoded and were written without people",
            file=sys.stderr,
        )
    if summary.detections == 0:
        print(
            f"hrtrack: warning: --detector {args.detector}: no person detected in any of the {summary.frames} frames",
            file=sys.stderr,
        )
    if progress:
        print(timer.summary(), file=sys.stderr)
    print(
        f"{summary.frames} frames, {summary.detections} detections, {len(summary.tracks)} tracks -> "
        + ", ".join(str(p) for p in written)
    )
    return 0


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
