"""The ``hrtrack`` command line: one command, one subcommand per task.

Every user error (bad file, bad option value, incompatible checkpoint) ends as a single line on
stderr, ``hrtrack: error: ...``, with exit status 2; no traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from pose.bench import DEFAULT_CASES, MODE_DTYPES, PAPER_GMACS


class UserError(Exception):
    """A problem with the user's input; reported as one line without a traceback."""


def _cmd_bench_pose(args: argparse.Namespace) -> int:
    from pose.bench import run_pose_bench
    from pose.estimator import parse_input_size
    from pose.hrnet import parse_arch

    cases = DEFAULT_CASES
    if args.arch or args.input_size:
        arch = args.arch or "hrnet_w32"
        parse_arch(arch)
        h, w = parse_input_size(args.input_size or "256x192")
        if (arch, h, w) not in PAPER_GMACS:
            known = ", ".join(f"{a} {hh}x{ww}" for a, hh, ww in PAPER_GMACS)
            raise UserError(f"no published GMACs for {arch} {h}x{w}; known: {known}")
        cases = ((arch, h, w),)
    modes = tuple(args.modes.split(","))
    for mode in modes:
        if mode not in MODE_DTYPES:
            raise UserError(f"unknown mode {mode!r}: use " + ", ".join(MODE_DTYPES))
    batches = tuple(int(b) for b in args.batch.split(","))
    if args.quick:
        cases, modes = cases[:1], tuple(m for m in modes if not m.endswith("compiled")) or ("optimized",)
    run_pose_bench(cases, batches, modes, args.device, min_time=0.5 if args.quick else 2.0)
    return 0


def _cmd_bench_track(args: argparse.Namespace) -> int:
    from tracker.bench import run_track_bench

    run_track_bench(
        args.video,
        args.arch,
        args.input_size,
        args.detector,
        args.flow,
        args.weights,
        args.frames,
        args.device,
        args.bf16,
    )
    return 0


def _cmd_bench_train(args: argparse.Namespace) -> int:
    from pose.estimator import parse_input_size
    from pose.train.bench import run_train_bench

    run_train_bench(args.device, args.batch, args.steps, args.arch, parse_input_size(args.input_size))
    return 0


def _cmd_weights(args: argparse.Namespace) -> int:
    from pose.checkpoint import load_checkpoint
    from pose.hrnet import build_model

    model = build_model(args.arch, args.joints)
    load_checkpoint(model, args.checkpoint)
    params = sum(p.numel() for p in model.parameters())
    print(
        f"{args.checkpoint}: loads into {args.arch} with {args.joints} joints "
        f"({len(model.state_dict())} keys, {params:,} parameters)"
    )
    if args.export_fp16:
        from pose.checkpoint import save_state_dict

        save_state_dict(model, args.export_fp16, half=True)
        size = Path(args.export_fp16).stat().st_size
        print(f"wrote {args.export_fp16}: plain float16 state_dict, {size / 1e6:.1f} MB")
    return 0


def _cmd_models(args: argparse.Namespace) -> int:
    from tracker import zoo

    if args.action == "path":
        entry = zoo.get(args.names[0]) if len(args.names) == 1 else None
        if entry is None:
            raise UserError("models path takes one model name")
        if not zoo.is_cached(entry):
            raise UserError(f"{entry.name}: not in the cache ({zoo.cached_path(entry)}); run hrtrack models fetch")
        print(zoo.cached_path(entry))
        return 0
    if args.action == "fetch":
        if not args.names:
            raise UserError("models fetch takes one or more model names")
        entries = [zoo.get(n) for n in args.names]  # every name checked before any download
        for entry in entries:
            if zoo.is_cached(entry) and entry.url is not None and not zoo.verify_cached(entry):
                zoo.cached_path(entry).unlink()  # a cached file that no longer matches its hash: fetch again
                if entry.archive:
                    (zoo.home() / "models" / entry.archive).unlink(missing_ok=True)
            print(f"{entry.name}: {zoo.fetch(entry)}")
        return 0
    if args.names:
        raise UserError(f"unknown models action {args.names[0]!r}: use list, fetch NAME... or path NAME")
    print(zoo.describe())
    print(f"cache: {zoo.home() / 'models'}")
    return 0


def _cmd_eval(args: argparse.Namespace) -> int:
    from eval.api import run_eval_cli

    return run_eval_cli(args.gt, args.pred, args.json, args.per_sequence, args.allow_missing)


def _add_bench_parsers(sub: argparse._SubParsersAction) -> None:
    bench = sub.add_parser(
        "bench", help="benchmarks: pose network, tracking, evaluation, training speed; synthetic accuracy"
    )
    kinds = bench.add_subparsers(dest="what", required=True, metavar="WHAT")

    pose = kinds.add_parser("pose", help="pose network throughput vs. a single-convolution roofline")
    pose.add_argument("--arch", help="only this architecture (default: w32 256x192 and w48 384x288)")
    pose.add_argument("--input-size", help="HxW input for --arch, e.g. 256x192")
    pose.add_argument("--batch", default="1,8", help="comma-separated batch sizes (default 1,8)")
    pose.add_argument(
        "--modes",
        default=",".join(MODE_DTYPES),
        help="comma-separated: plain (as built), optimized (BN folded, channels_last), "
        "compiled (+ torch.compile), bf16 and bf16-compiled (the same in bfloat16); default: all",
    )
    pose.add_argument("--device", default="cpu", help="cpu or cuda")
    pose.add_argument("--quick", action="store_true", help="first case only, no compile, short timing")
    pose.set_defaults(func=_cmd_bench_pose)

    from tracker.bench import add_bench_track_args

    track = kinds.add_parser("track", help="per-stage time of the tracking pipeline on a video")
    track.add_argument("--arch", default="hrnet_w32", help="architecture (default hrnet_w32)")
    track.add_argument("--input-size", default="256x192", help="network input HxW (default 256x192)")
    track.add_argument("--device", default="cpu", help="cpu or cuda")
    add_bench_track_args(track)
    track.set_defaults(func=_cmd_bench_track)

    from eval.bench import add_bench_eval_args, run_bench_eval_cli

    ev = kinds.add_parser("eval", help="our PoseTrack evaluator on a large synthetic set (vs. poseval)")
    add_bench_eval_args(ev)
    ev.set_defaults(func=run_bench_eval_cli)

    train = kinds.add_parser("train", help="images/s of one training step (CPU, and CUDA when present)")
    train.add_argument("--arch", default="hrnet_w32", help="architecture (default hrnet_w32)")
    train.add_argument("--input-size", default="256x192", help="network input HxW (default 256x192)")
    train.add_argument("--batch", type=int, default=8, help="batch size (default 8)")
    train.add_argument("--steps", type=int, default=3, help="timed steps (default 3)")
    train.add_argument("--device", default="cpu", help="cpu (also CUDA when present) or cuda")
    train.set_defaults(func=_cmd_bench_train)

    from tracker.demo import add_bench_synth_args, run_bench_synth

    synth = kinds.add_parser(
        "synth", help="mAP/MOTA of the demo model on held-out synthetic sequences: GT boxes vs detections, flow"
    )
    add_bench_synth_args(synth)
    synth.set_defaults(func=run_bench_synth)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hrtrack",
        description="Multi-person 2D pose tracking in video with HRNet and FlowTrack.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    from pose.train.cli import add_train_parser
    from tracker.app import add_track_parser
    from tracker.demo import add_demo_parser
    from tracker.render import add_render_parser
    from tracker.synth import add_synth_parser

    add_demo_parser(sub)
    add_track_parser(sub)

    ev = sub.add_parser(
        "eval",
        help="PoseTrack mAP and MOTA (official poseval semantics)",
        description="Score PoseTrack predictions against ground truth: per-sequence json files matched "
        "by name (2017 annolist or 2018 COCO-like, in any combination).",
    )
    ev.add_argument("--gt", required=True, help="folder (or one file) of ground-truth sequence json files")
    ev.add_argument("--pred", required=True, help="folder (or one file) of prediction json files, same names")
    ev.add_argument("--json", metavar="OUT.json", help="also write the results as json (percent, NaN as null)")
    ev.add_argument("--per-sequence", action="store_true", help="also report every sequence")
    ev.add_argument("--allow-missing", action="store_true", help="score a missing prediction file as empty")
    ev.set_defaults(func=_cmd_eval)

    add_render_parser(sub)
    add_synth_parser(sub)
    add_train_parser(sub)
    _add_bench_parsers(sub)

    models = sub.add_parser(
        "models",
        help="the model zoo: list the named models, fetch them, print a cached path",
        description="Named pose models, person detectors and backbones, fetched on first use into "
        "$HRTRACK_HOME/models (default ~/.cache/hrtrack) and checked by sha256. HRTRACK_MIRROR=URL fetches "
        "URL/<file> instead; HRTRACK_OFFLINE=1 never downloads.",
    )
    models.add_argument("action", nargs="?", default="list", choices=["list", "fetch", "path"], help="default list")
    models.add_argument("names", nargs="*", metavar="NAME", help="zoo model names")
    models.set_defaults(func=_cmd_models)

    weights = sub.add_parser("weights", help="check that a checkpoint loads (strictly) into a model")
    weights.add_argument("checkpoint", help="official HRNet .pth, training checkpoint or mmpose file")
    weights.add_argument("--arch", default="hrnet_w32", help="hrnet_w32, hrnet_w48 or hrnet_wC")
    weights.add_argument("--joints", type=int, default=17, help="number of joints (default 17)")
    weights.add_argument("--export-fp16", metavar="OUT.pth", help="also write the weights as a float16 state_dict")
    weights.set_defaults(func=_cmd_weights)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``hrtrack`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except (UserError, ValueError) as exc:
        print(f"hrtrack: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # unwritable output folder, disk full, ...: name the file, no traceback
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"hrtrack: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("hrtrack: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
