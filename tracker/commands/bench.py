"""``hrtrack bench WHAT``: the options of every benchmark; each runs in its :mod:`tracker.bench` module."""

from __future__ import annotations

import argparse

from pose.options import (
    COUNT,
    POSITIVE,
    UsageError,
    add_backend,
    add_device,
    add_network,
    add_precision,
    choice_list,
    existing,
    int_list,
    number,
    suffix,
)
from tracker.options import (
    add_synth_set,
    detector_spec,
    flow_spec,
)

POSE_BENCH_MODES = (
    "official",
    "plain",
    "optimized",
    "compiled",
    "onnxruntime",
    "openvino",
    "auto",
    "bf16",
    "bf16-compiled",
    "openvino-bf16",
)


def cmd_bench_pose(args: argparse.Namespace) -> int:
    from tracker.bench.network import DEFAULT_CASES, PAPER_GMACS, run_pose_bench

    cases = DEFAULT_CASES
    if args.arch or args.input_size:
        arch = args.arch or "hrnet_w32"
        h, w = args.input_size or (256, 192)
        if (arch, h, w) not in PAPER_GMACS:
            known = ", ".join(f"{a} {hh}x{ww}" for a, hh, ww in PAPER_GMACS)
            raise UsageError(f"--arch/--input-size: no published GMACs for {arch} {h}x{w}; known: {known}")
        cases = ((arch, h, w),)
    modes, batches = args.modes, args.batch
    if args.quick:
        cases, modes = cases[:1], tuple(m for m in modes if not m.endswith("compiled")) or ("optimized",)
    run_pose_bench(cases, batches, modes, args.device, min_time=0.5 if args.quick else 2.0, official=args.official)
    return 0


def cmd_bench_track(args: argparse.Namespace) -> int:
    from tracker.bench.tracking import run_track_bench

    run_track_bench(
        args.video,
        args.arch,
        args.input_size,
        args.detector,
        args.flow,
        args.weights,
        args.frames,
        args.device,
        args.precision,
        args.backend,
        args.ahead,
    )
    return 0


def cmd_bench_train(args: argparse.Namespace) -> int:
    from tracker.bench.training import run_train_bench

    run_train_bench(args.device, args.batch, args.steps, args.arch, args.input_size)
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    bench = sub.add_parser(
        "bench", help="benchmarks: pose network, tracking, evaluation, training speed; synthetic accuracy"
    )
    kinds = bench.add_subparsers(dest="what", required=True, metavar="WHAT")

    pose = kinds.add_parser("pose", help="pose network on every backend vs. the machine's matmul peak")
    add_network(pose, None, None)
    pose.add_argument("--batch", type=int_list, default=(1, 8), help="comma-separated batch sizes (default 1,8)")
    pose.add_argument(
        "--modes",
        type=choice_list(POSE_BENCH_MODES),
        default=tuple(m for m in POSE_BENCH_MODES if not m.endswith("compiled")),
        help="comma-separated: official (--official's model code), plain (as built), optimized (BN folded, "
        "channels_last), compiled (+ torch.compile), onnxruntime, openvino, auto (--backend auto's choice), "
        "bf16, bf16-compiled, openvino-bf16; default: all but the compiled ones (those not installed are skipped)",
    )
    pose.add_argument(
        "--official",
        type=existing("folder"),
        metavar="PATH",
        help="checkout of leoxiaobin/deep-high-resolution-net.pytorch: also time its lib/models/pose_hrnet.py",
    )
    add_device(pose)
    pose.add_argument("--quick", action="store_true", help="first case only, no compile, short timing")
    pose.set_defaults(func=cmd_bench_pose)

    track = kinds.add_parser("track", help="per-stage time of the tracking pipeline on a video")
    track.add_argument(
        "--video",
        required=True,
        type=existing("file"),
        help="video to track (e.g. ../shared/data/videos/pets2009_campus_480x360_795f.avi)",
    )
    add_network(track)
    track.add_argument(
        "--detector",
        default="rtmdet_nano_person",
        type=detector_spec,
        help="detector spec (default rtmdet_nano_person)",
    )
    track.add_argument("--flow", default="dis", type=flow_spec, help="flow spec (default dis)")
    track.add_argument(
        "--weights",
        type=existing("file"),
        help="HRNet checkpoint, or a network file (.onnx, OpenVINO .xml) (default: random weights of --arch)",
    )
    track.add_argument("--frames", type=POSITIVE, help="only the first N frames")
    add_precision(track)
    add_backend(track)
    track.add_argument(
        "--ahead", type=number(int, 1, 64), default=4, help="frames run ahead in the overlapped run (default 4)"
    )
    add_device(track)
    track.set_defaults(func=cmd_bench_track)

    ev = kinds.add_parser("eval", help="our PoseTrack evaluator on a large synthetic set (vs. poseval)")
    ev.add_argument("--sequences", type=number(int, 1, 100000), default=50, help="synthetic sequences (default 50)")
    ev.add_argument("--frames", type=number(int, 2, 100000), default=100, help="frames per sequence (default 100)")
    ev.add_argument(
        "--people", type=number(int, 1, 1000), default=10, help="at most this many people per sequence (default 10)"
    )
    ev.add_argument("--seed", type=COUNT, default=0, help="random seed of the synthetic set")
    ev.add_argument("--format", dest="fmt", choices=("2017", "2018"), default="2017", help="file format")
    ev.add_argument(
        "--repeat", type=number(int, 1, 100), default=1, help="time our evaluator this many times, keep the best"
    )
    ev.add_argument("--poseval", metavar="PATH", default=None, help="checkout of the official poseval to compare")
    ev.add_argument(
        "--poseval-python",
        metavar="PY",
        default=None,
        help="python that runs poseval (default $HRTRACK_POSEVAL_PYTHON, else this interpreter)",
    )
    ev.add_argument("--workdir", metavar="DIR", default=None, help="write (and keep) the set here")
    ev.add_argument("--json", dest="json_out", metavar="FILE", default=None, help="write the report as json")
    ev.add_argument(
        "--check", action="store_true", help="exit with 1 when poseval is given and the targets are not met"
    )
    ev.set_defaults(func="tracker.bench.evaluator:run_bench_eval_cli")

    train = kinds.add_parser("train", help="images/s of one training step (CPU, and CUDA when present)")
    add_network(train)
    train.add_argument("--batch", type=number(int, 1, 1024), default=8, help="batch size (default 8)")
    train.add_argument("--steps", type=number(int, 1, 10000), default=3, help="timed steps (default 3)")
    add_device(train, what="; cpu also times CUDA when present")
    train.set_defaults(func=cmd_bench_train)

    corpus = kinds.add_parser(
        "corpus", help="a synthetic corpus tracked serially, with --workers 2 and --ray; peak memory vs video length"
    )
    corpus.add_argument("--sequences", type=number(int, 1, 1000), default=8, help="sequences (default 8)")
    corpus.add_argument("--frames", type=number(int, 2, 100000), default=40, help="frames each (default 40)")
    corpus.add_argument(
        "--memory-frames",
        type=COUNT,
        default=300,
        metavar="N",
        help="peak RSS of one N-frame sequence against 10 N (default 300; 0: skip)",
    )
    corpus.add_argument("--data", help="keep the generated sets and the outputs in this folder (default: temporary)")
    corpus.set_defaults(func="tracker.bench.corpus:run_bench_corpus")

    synth = kinds.add_parser(
        "synth", help="mAP/MOTA of the demo model on held-out synthetic sequences: GT boxes vs detections, flow"
    )
    add_synth_set(synth, sequences=4, frames=60, seed=3000, occlusion=True)
    synth.add_argument(
        "--weights",
        type=existing("file"),
        help="HRNet-W16 128x96 PoseTrack-layout weights (default: the bundled model)",
    )
    synth.add_argument("--data", help="keep the generated set and the results in this folder (default: temporary)")
    synth.add_argument("--json", type=suffix(".json"), metavar="OUT.json", help="also write the table as json")
    synth.add_argument(
        "--quick", action="store_true", help="only the rows with and without propagation (and the paper's variant)"
    )
    add_precision(synth)
    add_backend(synth)
    add_device(synth)
    synth.set_defaults(func="tracker.bench.synthetic:run_bench_synth")
