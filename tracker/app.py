"""``hrtrack track``: build the stages from command-line options, run the pipeline, write outputs."""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import torch
from tqdm import tqdm

from flow import make_flow
from flow.base import FlowMethod
from pose.checkpoint import load_checkpoint
from pose.decode import COCO_FLIP_PAIRS, POSETRACK18_FLIP_PAIRS
from pose.estimator import PoseEstimator, parse_input_size
from pose.hrnet import build_model
from tracker import zoo
from tracker.detectors import make_detector
from tracker.detectors.base import Detector, Frame
from tracker.flowtrack import ASSOC_MODES, FlowTrackConfig, FlowTracker
from tracker.pipeline import FrameResult, PipelineConfig, StageTimer, track
from tracker.render import VideoWriter, draw_poses
from tracker.video import ImageListSource, VideoSource, open_source
from tracker.writers import FORMATS, OutputFilter, write_posetrack, write_tracks


def add_track_parser(sub: argparse._SubParsersAction) -> None:
    """The ``track`` subcommand and its options."""
    p = sub.add_parser(
        "track",
        help="track people's poses in a video, frame folder or PoseTrack image list",
        description="Detect, propagate by optical flow, estimate poses with HRNet and link them by "
        "flow-based OKS (FlowTrack). Writes PoseTrack json and a per-track export.",
    )
    p.add_argument("source", help="video file, folder of frames, or PoseTrack annotation json")
    p.add_argument("--images-root", help="folder the annotation's image names are relative to")
    p.add_argument(
        "--weights",
        help="pose model: a zoo name (hrtrack models; fetched on first use) or an HRNet checkpoint file "
        f"(official, training or mmpose format); default {zoo.DEFAULT_POSE_CPU} on the CPU, "
        f"{zoo.DEFAULT_POSE_GPU} on a GPU",
    )
    p.add_argument("--arch", help="hrnet_w32, hrnet_w48 or hrnet_wC (implied by a zoo model; else hrnet_w32)")
    p.add_argument("--input-size", help="network input HxW (implied by a zoo model; else 256x192)")
    p.add_argument(
        "--keypoint-layout",
        choices=["coco", "posetrack18"],
        help="joint slots of the model: COCO or PoseTrack 2018 (head_bottom/head_top); implied by a zoo model, "
        "else coco",
    )
    p.add_argument(
        "--detector",
        default=zoo.DEFAULT_DETECTOR,
        help=f"a zoo detector name (default {zoo.DEFAULT_DETECTOR}, fetched on first use), onnx:PATH, json:PATH, "
        "gt:ANNOTATION or hog (weak)",
    )
    p.add_argument("--det-threshold", type=float, help="detector score threshold (detector default if unset)")
    p.add_argument("--flow", default="dis", help="dis[:PRESET], farneback, ptlflow:MODEL:CKPT or none (default dis)")
    p.add_argument("--flow-max-side", type=int, default=512, help="flow working resolution, longer side (512)")
    p.add_argument("--assoc", default="flow-oks", choices=ASSOC_MODES, help="association (default flow-oks)")
    p.add_argument("--no-propagate", action="store_true", help="do not add flow-propagated boxes")
    p.add_argument("--box-nms", type=float, default=0.5, help="IoU of the box NMS unifying boxes (0.5)")
    p.add_argument("--pose-nms", type=float, default=0.9, help="OKS of the pose NMS after estimation (0.9; 0: off)")
    p.add_argument("--queue", type=int, default=5, help="frames of memory for flow-OKS (L_Q, default 5)")
    p.add_argument("--min-box-score", type=float, default=0.5, help="person score to write a pose (0.5)")
    p.add_argument("--min-joint-score", type=float, default=0.4, help="score to write a joint (0.4)")
    p.add_argument("--format", default="both", choices=["posetrack17", "posetrack18", "both"])
    p.add_argument("--out", default="out/track", help="output folder (default out/track)")
    p.add_argument("--name", help="sequence name for the output files (default: the source's name)")
    p.add_argument("--render", metavar="OUT.mp4", help="also write an annotated H.264 video of the results")
    p.add_argument("--device", default="auto", help="auto (CUDA when available, default), cpu or cuda[:N]")
    p.add_argument("--batch-size", type=int, default=32, help="crops per network batch (default 32)")
    p.add_argument("--no-flip", action="store_true", help="skip the flip test (2x faster, less accurate)")
    p.add_argument("--bf16", action="store_true", help="run the network in bfloat16 (fast on AMX CPUs/GPUs)")
    p.add_argument("--compile", action="store_true", help="torch.compile the network (first batches slow)")
    p.add_argument("--quiet", action="store_true", help="no progress bar or timing table")
    p.set_defaults(func=run_track)


def annotate(image: np.ndarray | None, result: FrameResult, width: int, height: int) -> np.ndarray:
    """The frame with its tracked poses drawn (a black frame when it could not be decoded)."""
    canvas = np.zeros((height, width, 3), np.uint8) if image is None else image.copy()
    if canvas.shape[:2] != (height, width):
        canvas = cv2.resize(canvas, (width, height))
    if len(result.track_ids):
        draw_poses(canvas, result.keypoints, result.track_ids, result.boxes)
    return canvas


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
        flip_pairs=POSETRACK18_FLIP_PAIRS if layout == "posetrack18" else COCO_FLIP_PAIRS,
    )


def track_source(
    source: VideoSource | ImageListSource,
    detector: Detector,
    estimator: PoseEstimator,
    flow: FlowMethod | None,
    tracker: FlowTracker,
    config: PipelineConfig,
    timer: StageTimer,
    render: str | Path | None = None,
    progress: bool = True,
    name: str = "",
) -> list[FrameResult]:
    """Track every frame of ``source``; with ``render`` also write the annotated H.264 video.

    Each frame is drawn as soon as it is tracked, so the source is decoded only once. Shows a
    progress bar (people, fps) unless ``progress`` is False.
    """
    current: list[Frame] = []

    def frames() -> Iterator[Frame]:
        for frame in source:
            current[:] = [frame]
            yield frame

    results: list[FrameResult] = []
    bar = tqdm(total=len(source), unit="frame", disable=not progress, desc=name, dynamic_ncols=True)
    start = time.perf_counter()
    video = VideoWriter(render, source.width, source.height, source.fps) if render else None
    with video or contextlib.nullcontext():
        for result in track(frames(), detector, estimator, flow, tracker, config, timer):
            results.append(result)
            if video is not None:
                t = time.perf_counter()
                video.write(annotate(current[0].image, result, source.width, source.height))
                timer.add("write", t)
            bar.update(1)
            bar.set_postfix(people=len(result.track_ids), fps=f"{len(results) / (time.perf_counter() - start):.1f}")
    bar.close()
    return results


def resolve_device(spec: str) -> str:
    """``auto`` -> ``cuda`` when a CUDA device is available, else ``cpu``; checks ``cuda``."""
    if spec == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if spec.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"--device {spec}: no CUDA device is available")
    if spec != "cpu" and not spec.startswith("cuda"):
        raise ValueError(f"--device {spec}: use auto, cpu or cuda[:N]")
    return spec


def run_track(args: argparse.Namespace) -> int:
    """Run the pipeline for the parsed ``track`` options; returns the exit status."""
    device = resolve_device(args.device)
    size = parse_input_size(args.input_size) if args.input_size else None
    source = open_source(args.source, args.images_root)
    progress = not args.quiet
    flow = make_flow(args.flow, args.flow_max_side, device)
    detector = make_detector(args.detector, args.det_threshold)
    pose = zoo.resolve_pose(args.weights, device, args.arch, size, args.keypoint_layout, progress)
    if progress:
        print(
            f"hrtrack: pose {pose.label} ({pose.arch} {pose.input_size[0]}x{pose.input_size[1]}, {pose.layout} "
            f"layout), detector {args.detector}, flow {args.flow}, device {device}",
            file=sys.stderr,
        )
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
    tracker = FlowTracker(FlowTrackConfig(assoc=args.assoc, queue_length=args.queue))
    config = PipelineConfig(
        box_nms=args.box_nms, propagate=not args.no_propagate and flow is not None, pose_nms=args.pose_nms or None
    )
    timer = StageTimer()
    name = args.name or Path(args.source).stem
    results = track_source(
        source,
        detector,
        estimator,
        flow,
        tracker,
        config,
        timer,
        render=args.render,
        progress=not args.quiet,
        name=name,
    )

    t = time.perf_counter()
    out = Path(args.out)
    formats = list(FORMATS) if args.format == "both" else [args.format]
    filt = OutputFilter(args.min_box_score, args.min_joint_score)
    written = write_posetrack(out, name, results, formats, filt, pose.layout)
    written.append(write_tracks(out / "tracks" / f"{name}.json", results, args.min_box_score))
    if args.render:
        written.append(Path(args.render))
    timer.add("write", t)

    failed = getattr(source, "failed", 0)
    if failed:
        print(
            f"hrtrack: warning: {failed} frame(s) could not be decoded and were written without people", file=sys.stderr
        )
    if not args.quiet:
        print(timer.summary(), file=sys.stderr)
    ids = {int(i) for r in results for i in r.track_ids}
    print(f"{len(results)} frames, {len(ids)} tracks -> " + ", ".join(str(p) for p in written))
    return 0
