"""``hrtrack track``: its options. The run is :func:`tracker.app.run_track` (one source) or
:mod:`tracker.corpus` (many), both through :class:`tracker.Tracker`.
"""

from __future__ import annotations

import argparse

from pose.options import (
    add_backend,
    add_device,
    add_network,
    add_precision,
    existing,
    file_name,
    number,
    suffix,
)
from pose.zoo import DEFAULT_POSE_CPU, DEFAULT_POSE_GPU
from tracker.config import CHECKS, FORMATS, TrackConfig
from tracker.options import (
    ASSOCIATIONS,
    LAYOUTS,
    ray_address,
    source_spec,
)

#: The defaults and the option types of the tracking options: those of :class:`TrackConfig` (its
#: class attributes are the fields' defaults; no config is built, nor checked, when this is imported).
D = TrackConfig
T = {name: parse for name, (_, parse) in CHECKS.items()}


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "track",
        help="track people's poses in a video, frame folder or PoseTrack image list",
        description="Detect, propagate by optical flow, estimate poses with HRNet and link them by "
        "flow-based OKS (FlowTrack). Writes PoseTrack json and a per-track export.",
    )
    p.add_argument(
        "source",
        nargs="+",
        type=source_spec,
        help="video file, folder of frames, PoseTrack annotation json, a folder of annotation files "
        "(e.g. annotations/val/) or a glob pattern; several: a corpus run (resumable, --workers, --ray)",
    )
    p.add_argument("--images-root", type=existing("folder"), help="folder the annotation's image names are relative to")
    p.add_argument(
        "--weights",
        type=T["weights"],
        help="pose model: a zoo name (hrtrack models; fetched on first use), an HRNet checkpoint file "
        "(official, training or mmpose format) or a heatmap network file (.onnx, OpenVINO .xml); "
        f"default {DEFAULT_POSE_CPU} on the CPU, "
        f"{DEFAULT_POSE_GPU} on a GPU",
    )
    add_network(p, None, None)
    p.add_argument(
        "--keypoint-layout",
        choices=LAYOUTS,
        help="joint slots of the model: COCO or PoseTrack 2018 (head_bottom/head_top); implied by a zoo model, "
        "else coco",
    )
    p.add_argument(
        "--detector",
        default=D.detector,
        type=T["detector"],
        help=f"a zoo detector name (default {D.detector}, fetched on first use), onnx:PATH, json:PATH "
        "(json:DIR: DIR/<sequence>.json), gt:ANNOTATION (gt: each annotation source's own boxes) or hog (weak)",
    )
    p.add_argument(
        "--det-threshold", type=T["det_threshold"], help="detector score threshold (detector default if unset)"
    )
    p.add_argument(
        "--det-size",
        type=T["det_size"],
        metavar="PIXELS",
        help="longer side of an ONNX detector's input, a multiple of 32 (default: the frame's, 320 to 640); "
        "larger finds smaller people, slower",
    )
    p.add_argument(
        "--flow",
        default=D.flow,
        type=T["flow"],
        help="dis[:PRESET], farneback, ptlflow:MODEL:CKPT[:iters=N] or none (default dis)",
    )
    p.add_argument(
        "--flow-max-side",
        type=T["flow_max_side"],
        default=D.flow_max_side,
        help="flow working resolution, longer side (512)",
    )
    p.add_argument("--start", type=T["start"], default=D.start, help="first frame to track (0-based; default 0)")
    p.add_argument("--frames", type=T["frames"], help="track only this many frames from --start (default: all)")
    p.add_argument("--assoc", default=D.assoc, choices=ASSOCIATIONS, help="association (default flow-oks)")
    p.add_argument("--no-propagate", action="store_true", help="do not add flow-propagated boxes")
    p.add_argument("--box-nms", type=T["box_nms"], default=D.box_nms, help="IoU of the box NMS unifying boxes (0.5)")
    p.add_argument(
        "--pose-nms", type=T["pose_nms"], default=D.pose_nms, help="OKS of the pose NMS after estimation (0.9; 0: off)"
    )
    p.add_argument(
        "--queue",
        type=T["queue"],
        default=D.queue,
        help="frames of a track's past poses that flow-OKS compares with (L_Q, default 5)",
    )
    p.add_argument(
        "--track-buffer",
        type=T["track_buffer"],
        default=D.track_buffer,
        metavar="SECONDS",
        help=f"seconds a lost track waits to be re-identified by its looks and motion (default {D.track_buffer:g}; "
        "0: a track ends after --queue frames unseen)",
    )
    p.add_argument(
        "--single-stage",
        action="store_true",
        help="match every pose in one greedy pass, any pose may start a track (the paper's FlowTrack; "
        "default: confident poses first, weak ones only continue tracks)",
    )
    p.add_argument(
        "--no-merge",
        action="store_true",
        help="keep a propagated pose and a detection of the same person apart (default: folded into one)",
    )
    p.add_argument(
        "--track-score",
        type=T["track_score"],
        default=D.track_score,
        help="person score that starts a track (0.45); every tracked pose is drawn and exported to tracks/",
    )
    p.add_argument(
        "--min-box-score",
        type=T["min_box_score"],
        default=D.min_box_score,
        help="person score to write a pose to the PoseTrack files (0.4)",
    )
    p.add_argument(
        "--min-joint-score", type=T["min_joint_score"], default=D.min_joint_score, help="score to write a joint (0.4)"
    )
    p.add_argument("--format", default="both", choices=["posetrack17", "posetrack18", "both"])
    p.add_argument("--out", default="out/track", help="output folder (default out/track)")
    p.add_argument("--name", type=file_name, help="sequence name for the output files (default: the source's name)")
    p.add_argument(
        "--render", type=suffix(".mp4"), metavar="OUT.mp4", help="also write an annotated H.264 video of the results"
    )
    add_device(p, "auto")
    p.add_argument(
        "--batch-size", type=T["batch_size"], default=D.batch_size, help="crops per network batch (default 32)"
    )
    p.add_argument("--no-flip", action="store_true", help="skip the flip test (2x faster, less accurate)")
    add_precision(p)
    p.add_argument("--compile", action="store_true", help="torch.compile the network (first batches slow)")
    add_backend(p)
    p.add_argument(
        "--ahead",
        type=T["ahead"],
        default=D.ahead,
        help="frames decoded, detected and flowed in threads ahead of the pose network (default 4; 0: in turn)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar or timing table")
    corpus = p.add_argument_group("many sources (a corpus run)")
    corpus.add_argument(
        "--overwrite", action="store_true", help="track again sequences whose outputs are complete (default: skip)"
    )
    corpus.add_argument(
        "--workers", type=number(int, 1, 256), default=1, help="local processes, torch threads split (default 1)"
    )
    corpus.add_argument(
        "--ray",
        nargs="?",
        const="local",
        metavar="ADDRESS",
        type=ray_address,
        help="each sequence a Ray task: a local Ray instance, or auto / ray://HOST:PORT (extra [ray]); "
        "after the sources, or --ray=ADDRESS",
    )
    corpus.add_argument(
        "--threads",
        type=number(int, 1, 1024),
        help="torch threads per sequence (default: all cores, split between --workers; 1 per Ray task); "
        "runs with equal --threads give byte-identical outputs",
    )
    corpus.add_argument(
        "--gpus-per-task", type=number(float, 0.0, 64.0), default=0.0, help="GPUs per Ray task (fractions allowed)"
    )
    corpus.add_argument(
        "--eval", type=existing(), metavar="GT_DIR", help="score the results against this ground truth at the end"
    )
    p.set_defaults(func="tracker.app:run_track")


def config_from_args(args: argparse.Namespace) -> TrackConfig:
    """The :class:`TrackConfig` of parsed ``track`` options (every run of ``hrtrack track`` goes
    through it: one sequence, a corpus, its workers and Ray tasks)."""
    return TrackConfig(
        weights=args.weights,
        arch=args.arch,
        input_size=args.input_size,
        keypoint_layout=args.keypoint_layout,
        detector=args.detector,
        det_threshold=args.det_threshold,
        det_size=args.det_size,
        flow=args.flow,
        flow_max_side=args.flow_max_side,
        device=args.device,
        backend=args.backend,
        batch_size=args.batch_size,
        flip_test=not args.no_flip,
        precision=args.precision,
        compile=args.compile,
        images_root=args.images_root,
        start=args.start,
        frames=args.frames,
        propagate=not args.no_propagate,
        box_nms=args.box_nms,
        pose_nms=args.pose_nms or None,
        ahead=args.ahead,
        assoc=args.assoc,
        queue=args.queue,
        track_buffer=args.track_buffer,
        two_stage=not args.single_stage,
        merge=not args.no_merge,
        track_score=args.track_score,
        min_box_score=args.min_box_score,
        min_joint_score=args.min_joint_score,
        formats=formats_of(args.format),
    )


def formats_of(option: str) -> tuple[str, ...]:
    """The PoseTrack formats ``--format`` names (``both``: 2017 and 2018)."""
    return tuple(FORMATS) if option == "both" else (option,)
