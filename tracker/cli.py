"""The ``hrtrack`` command line: one parser, one subcommand per task, one error boundary.

Every option is declared here, once per command, with the groups that several commands share
(:func:`_device`, :func:`_network`, :func:`_synth_set`); the work itself lives in the modules,
imported only when their command runs (``func`` is a ``"module:function"`` string), so that
``hrtrack eval --help`` or ``hrtrack models`` never load torch.

:func:`main` is the one entry point (also of ``python -m pose.train.cli`` under torchrun). A
problem with the user's input, :class:`pose.errors.HrtrackError` or an OS error, ends as a
single line on stderr, ``hrtrack: error: ...``, with exit status 2; anything else is a bug and
keeps its traceback.
"""

from __future__ import annotations

import argparse
import importlib
import math
import os
import re
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

from pose.errors import HrtrackError

# bench pose modes (tracker.bench.network.MODES; here so that parsing imports no torch)
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
DIFFICULTIES = ("easy", "medium", "hard")
ASSOCIATIONS = ("flow-oks", "oks", "iou")
LAYOUTS = ("coco", "posetrack18")


# ----------------------------------------------------------------------------- option types
# Every option's type and range is declared once, here: argparse calls these while it reads the
# command line, so nothing runs on a bad value, and the message names the option as typed.


class UsageError(HrtrackError):
    """A bad command line (argparse's complaint, as one line)."""


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors: ``--box-nms: must be ...``, raised, not printed with usage."""

    def error(self, message: str) -> NoReturn:
        match = re.match(r"argument ([^:]+): (.*)", message, re.S)
        if match:
            names = match.group(1).split("/")
            option, what = next((n for n in names if n.startswith("--")), names[0]), match.group(2)
            if what.startswith(_PATH):  # a file problem: "--gt FILE: ..." (positional: "FILE: ...")
                message = f"{option} {what[1:]}" if option.startswith("-") else what[1:]
            else:
                message = f"{option}: {what}"
        raise UsageError(message)


_PATH = "\0"  # marks a message about a path, which names the path itself


def _fail(text: str, what: str) -> NoReturn:
    raise argparse.ArgumentTypeError(f"{what}, got {text!r}")


def _fail_path(text: str, what: str) -> NoReturn:
    raise argparse.ArgumentTypeError(f"{_PATH}{text}: {what}")


def number(kind: type = float, lo: float | None = None, hi: float | None = None, above: bool = False) -> Callable:
    """An argparse type: an int or a finite float in ``[lo, hi]`` (``above``: strictly above ``lo``)."""
    noun = "an integer" if kind is int else "a number"

    def parse(text: str) -> int | float:
        try:
            value = kind(text)
        except ValueError:
            _fail(text, f"expected {noun}")
        if kind is float and not math.isfinite(value):
            _fail(text, "expected a finite number")
        if lo is not None and hi is not None and not above and not lo <= value <= hi:
            _fail(text, f"must be between {lo:g} and {hi:g}")
        if lo is not None and (value <= lo if above else value < lo):
            _fail(text, f"must be {'above' if above else 'at least'} {lo:g}")
        if hi is not None and value > hi:
            _fail(text, f"must be at most {hi:g}")
        return value

    parse.__name__ = kind.__name__
    return parse


PROBABILITY = number(float, 0.0, 1.0)
POSITIVE = number(int, 1)
COUNT = number(int, 0)


def _checked(convert: Callable[[str], object]) -> Callable[[str], object]:
    """An argparse type from a converter raising HrtrackError (its message becomes the option's)."""

    def parse(text: str) -> object:
        try:
            return convert(text)
        except HrtrackError as e:
            raise argparse.ArgumentTypeError(str(e)) from None

    parse.__name__ = getattr(convert, "__name__", "value")
    return parse


def _device_spec(text: str, auto: bool = True) -> str:
    """``auto`` (if allowed), ``cpu``, ``cuda`` or ``cuda:N``; CUDA only when this machine has it."""
    match = re.fullmatch(r"cuda(?::(\d+))?", text)
    if text == "cpu" or (auto and text == "auto"):
        return text
    if not match:
        _fail(text, "use " + ("auto, " if auto else "") + "cpu or cuda[:N]")
    import torch

    if not torch.cuda.is_available():
        _fail(text, "no CUDA device is available on this machine (use cpu)")
    if match.group(1) is not None and int(match.group(1)) >= torch.cuda.device_count():
        _fail(text, f"this machine has {torch.cuda.device_count()} CUDA device(s)")
    return text


def _name(text: str) -> str:
    """A sequence name for output files: no folder separators, not empty, not . or .."""
    if not text or text in (".", "..") or any(c in text for c in "/\\\0") or len(text) > 200:
        _fail(text, "a name must be a plain file name (no / or \\, not . or .., at most 200 characters)")
    return text


def _existing(kind: str = "any") -> Callable[[str], str]:
    """An argparse type: a path that exists (``file``, ``folder`` or ``any``)."""

    def parse(text: str) -> str:
        path = Path(text)
        if kind == "file" and not path.is_file():
            _fail_path(text, "is a folder, not a file" if path.is_dir() else "no such file")
        if kind == "folder" and not path.is_dir():
            _fail_path(text, "is not a folder" if path.exists() else "no such folder")
        if not path.exists():
            _fail_path(text, "no such file or folder")
        return text

    parse.__name__ = kind
    return parse


def _suffix(*suffixes: str) -> Callable[[str], str]:
    """An argparse type: an output path ending in one of ``suffixes`` (written as that format)."""

    def parse(text: str) -> str:
        if Path(text).suffix.lower() not in suffixes:
            _fail_path(text, f"must end in {' or '.join(suffixes)} (the format written)")
        return text

    return parse


def _device_type(text: str) -> str:
    return _device_spec(text, auto=True)


def _device_type_no_auto(text: str) -> str:
    return _device_spec(text, auto=False)


def _input_size(text: str) -> tuple[int, int]:
    from pose.specs import parse_input_size

    return _checked(parse_input_size)(text)  # type: ignore[return-value]


def _arch(text: str) -> str:
    from pose.specs import parse_arch

    _checked(parse_arch)(text)
    return text


def _flow_spec(text: str) -> str:
    """``dis[:PRESET]``, ``farneback``, ``ptlflow:MODEL[:CHECKPOINT[:iters=N]]`` or ``none``."""
    kind, _, rest = text.partition(":")
    presets = ("ultrafast", "fast", "medium")
    if kind == "dis" and rest in ("", *presets):
        return text
    if kind in ("farneback", "none") and not rest:
        return text
    if kind == "ptlflow" and rest.partition(":")[0]:
        from flow import parse_ptlflow_spec  # the form only: ptlflow is imported when the run starts

        try:
            parse_ptlflow_spec(rest)
        except HrtrackError as e:
            _fail(text, str(e))
        return text
    if kind == "dis":
        _fail(text, f"unknown DIS preset; use dis, dis:{', dis:'.join(presets)}")
    _fail(text, "use dis[:PRESET], farneback, ptlflow:MODEL:CHECKPOINT or none")


def _backend_name(text: str) -> str:
    """``auto``, ``torch``, ``onnxruntime`` or ``openvino`` (whose package must be installed)."""
    from pose.specs import check_backend

    try:
        check_backend(text)
    except HrtrackError as e:  # "--backend NAME: what" -> what (argparse names the option)
        raise argparse.ArgumentTypeError(str(e).split(": ", 1)[1]) from None
    return text


def _detector_spec(text: str) -> str:
    """A zoo detector, ``onnx:PATH``, ``json:PATH`` or ``json:DIR``, ``gt:ANNOTATION`` or ``gt`` (each
    annotation source's own boxes), or ``hog``."""
    from pose import zoo

    if zoo.lookup(text, "detector") is not None or text in ("hog", "gt"):
        return text
    kind, _, arg = text.partition(":")
    if kind == "json" and arg and Path(arg).is_dir():
        return text  # json:DIR: DIR/<sequence name>.json per sequence
    if kind in ("onnx", "json", "gt") and arg:
        if not Path(arg).is_file():
            _fail_path(arg, "no such file")
        return text
    names = ", ".join(n for n, e in zoo.zoo().items() if e.kind == "detector")
    _fail(text, f"use a zoo detector ({names}), onnx:PATH, json:PATH, gt:ANNOTATION or hog")


def _source_spec(text: str) -> str:
    """An existing file or folder, or a glob pattern that matches something."""
    import glob

    if not Path(text).exists():
        if glob.has_magic(text):
            if not glob.glob(text):
                _fail_path(text, "no file matches this pattern")
        else:
            _fail_path(text, "no such file or folder")
    return text


def _ray_address(text: str) -> str:
    """``auto``, ``ray://HOST:PORT`` or ``HOST:PORT`` of a running Ray cluster."""
    if text in ("local", "auto") or re.fullmatch(r"(ray://)?[\w.-]+:\d+", text):
        return text
    _fail(
        text,
        "use auto, ray://HOST:PORT or HOST:PORT, or no value for a local Ray instance (put --ray after the sources)",
    )


def _pose_weights(text: str) -> str:
    """A zoo pose model name or an existing checkpoint file."""
    from pose import zoo

    if zoo.lookup(text, "pose") is not None or Path(text).is_file():
        return text
    if Path(text).is_dir():
        _fail_path(text, "is a folder, not a checkpoint file")
    names = ", ".join(n for n, e in zoo.zoo().items() if e.kind == "pose")
    _fail(text, f"neither a file (checkpoint, .onnx, OpenVINO .xml) nor a zoo pose model ({names})")


def _det_size(text: str) -> int:
    """``--det-size``: 64 to 2048 pixels, a multiple of 32."""
    value = number(int, 64, 2048)(text)
    if value % 32:
        _fail(text, "must be a multiple of 32 (the detector's stride)")
    return value


def _frame_size(text: str) -> tuple[int, int]:
    """``WIDTHxHEIGHT`` for ``synth --size``: 32 to 4096 pixels a side."""
    parts = text.lower().split("x")
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        _fail(text, "expected WIDTHxHEIGHT, e.g. 640x360")
    w, h = int(parts[0]), int(parts[1])
    if not (32 <= w <= 4096 and 32 <= h <= 4096):
        _fail(text, "width and height must be 32 to 4096 pixels")
    return w, h


def _int_list(text: str) -> tuple[int, ...]:
    """Comma-separated positive integers (``bench pose --batch 1,8``)."""
    try:
        values = tuple(int(v) for v in text.split(","))
    except ValueError:
        _fail(text, "expected comma-separated integers, e.g. 1,8")
    if not values or min(values) < 1 or max(values) > 1024:
        _fail(text, "batch sizes must be 1 to 1024")
    return values


def _choice_list(choices: Sequence[str]) -> Callable[[str], tuple[str, ...]]:
    def parse(text: str) -> tuple[str, ...]:
        values = tuple(text.split(","))
        bad = [v for v in values if v not in choices]
        if bad:
            _fail(text, f"unknown {bad[0]!r}; use a comma-separated list of " + ", ".join(choices))
        return values

    return parse


# ----------------------------------------------------------------------------- shared option groups


def _device(p: argparse.ArgumentParser, default: str | None = "cpu", what: str = "") -> None:
    if default == "auto":
        text = "auto (CUDA when available, default), cpu or cuda[:N]"
    else:
        text = "cpu or cuda" + (f" (default: {default})" if default else "")
    p.add_argument(
        "--device", default=default, type=_device_type if default == "auto" else _device_type_no_auto, help=text + what
    )


def _backend(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--backend",
        default="auto",
        type=_backend_name,
        help="pose-network runtime: auto (the fastest here, timed once per model and cached in $HRTRACK_HOME; "
        "default), torch, onnxruntime or openvino",
    )


def _network(p: argparse.ArgumentParser, arch: str | None = "hrnet_w32", size: str | None = "256x192") -> None:
    """``--arch`` and ``--input-size`` (None defaults: implied by a zoo model)."""
    p.add_argument(
        "--arch",
        default=arch,
        type=_arch,
        help="hrnet_w32, hrnet_w48 or hrnet_wC"
        + (f" (default {arch})" if arch else " (implied by a zoo model; else hrnet_w32)"),
    )
    p.add_argument(
        "--input-size",
        default=size,
        type=_input_size,
        help="network input HxW" + (f" (default {size})" if size else " (implied by a zoo model; else 256x192)"),
    )


def _synth_set(p: argparse.ArgumentParser, sequences: int | None, frames: int, seed: int) -> None:
    """Which synthetic set: ``--sequences``, ``--frames``, ``--seed``, ``--difficulty``."""
    if sequences is not None:
        p.add_argument(
            "--sequences", type=number(int, 1, 10000), default=sequences, help=f"sequences (default {sequences})"
        )
    p.add_argument(
        "--frames", type=number(int, 2, 100000), default=frames, help=f"frames per sequence (default {frames})"
    )
    p.add_argument("--seed", type=number(int, 0, 2**63 - 1), default=seed, help=f"seed of the set (default {seed})")
    p.add_argument("--difficulty", default="medium", choices=DIFFICULTIES, help="default medium")


# ----------------------------------------------------------------------------- commands


def _add_track(sub: argparse._SubParsersAction) -> None:
    from pose import zoo

    p = sub.add_parser(
        "track",
        help="track people's poses in a video, frame folder or PoseTrack image list",
        description="Detect, propagate by optical flow, estimate poses with HRNet and link them by "
        "flow-based OKS (FlowTrack). Writes PoseTrack json and a per-track export.",
    )
    p.add_argument(
        "source",
        nargs="+",
        type=_source_spec,
        help="video file, folder of frames, PoseTrack annotation json, a folder of annotation files "
        "(e.g. annotations/val/) or a glob pattern; several: a corpus run (resumable, --workers, --ray)",
    )
    p.add_argument(
        "--images-root", type=_existing("folder"), help="folder the annotation's image names are relative to"
    )
    p.add_argument(
        "--weights",
        type=_pose_weights,
        help="pose model: a zoo name (hrtrack models; fetched on first use), an HRNet checkpoint file "
        "(official, training or mmpose format) or a heatmap network file (.onnx, OpenVINO .xml); "
        f"default {zoo.DEFAULT_POSE_CPU} on the CPU, "
        f"{zoo.DEFAULT_POSE_GPU} on a GPU",
    )
    _network(p, None, None)
    p.add_argument(
        "--keypoint-layout",
        choices=LAYOUTS,
        help="joint slots of the model: COCO or PoseTrack 2018 (head_bottom/head_top); implied by a zoo model, "
        "else coco",
    )
    p.add_argument(
        "--detector",
        default=zoo.DEFAULT_DETECTOR,
        type=_detector_spec,
        help=f"a zoo detector name (default {zoo.DEFAULT_DETECTOR}, fetched on first use), onnx:PATH, json:PATH "
        "(json:DIR: DIR/<sequence>.json), gt:ANNOTATION (gt: each annotation source's own boxes) or hog (weak)",
    )
    p.add_argument("--det-threshold", type=PROBABILITY, help="detector score threshold (detector default if unset)")
    p.add_argument(
        "--det-size",
        type=_det_size,
        metavar="PIXELS",
        help="longer side of an ONNX detector's input, a multiple of 32 (default: the frame's, 320 to 640); "
        "larger finds smaller people, slower",
    )
    p.add_argument(
        "--flow",
        default="dis",
        type=_flow_spec,
        help="dis[:PRESET], farneback, ptlflow:MODEL:CKPT[:iters=N] or none (default dis)",
    )
    p.add_argument(
        "--flow-max-side",
        type=number(int, 16, 8192),
        default=512,
        help="flow working resolution, longer side (512)",
    )
    p.add_argument("--start", type=number(int, 0, 10**9), default=0, help="first frame to track (0-based; default 0)")
    p.add_argument(
        "--frames", type=number(int, 1, 10**9), help="track only this many frames from --start (default: all)"
    )
    p.add_argument("--assoc", default="flow-oks", choices=ASSOCIATIONS, help="association (default flow-oks)")
    p.add_argument("--no-propagate", action="store_true", help="do not add flow-propagated boxes")
    p.add_argument("--box-nms", type=PROBABILITY, default=0.5, help="IoU of the box NMS unifying boxes (0.5)")
    p.add_argument(
        "--pose-nms", type=PROBABILITY, default=0.9, help="OKS of the pose NMS after estimation (0.9; 0: off)"
    )
    p.add_argument(
        "--queue", type=number(int, 0, 10000), default=5, help="frames a lost track is remembered (L_Q, default 5)"
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
        type=PROBABILITY,
        default=0.45,
        help="person score that starts a track (0.45); every tracked pose is drawn and exported to tracks/",
    )
    p.add_argument(
        "--min-box-score",
        type=PROBABILITY,
        default=0.4,
        help="person score to write a pose to the PoseTrack files (0.4)",
    )
    p.add_argument("--min-joint-score", type=PROBABILITY, default=0.4, help="score to write a joint (0.4)")
    p.add_argument("--format", default="both", choices=["posetrack17", "posetrack18", "both"])
    p.add_argument("--out", default="out/track", help="output folder (default out/track)")
    p.add_argument("--name", type=_name, help="sequence name for the output files (default: the source's name)")
    p.add_argument(
        "--render", type=_suffix(".mp4"), metavar="OUT.mp4", help="also write an annotated H.264 video of the results"
    )
    _device(p, "auto")
    p.add_argument("--batch-size", type=number(int, 1, 4096), default=32, help="crops per network batch (default 32)")
    p.add_argument("--no-flip", action="store_true", help="skip the flip test (2x faster, less accurate)")
    p.add_argument("--bf16", action="store_true", help="run the network in bfloat16 (fast on AMX CPUs/GPUs)")
    p.add_argument("--compile", action="store_true", help="torch.compile the network (first batches slow)")
    _backend(p)
    p.add_argument(
        "--ahead",
        type=number(int, 0, 64),
        default=4,
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
        type=_ray_address,
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
        "--eval", type=_existing(), metavar="GT_DIR", help="score the results against this ground truth at the end"
    )
    p.set_defaults(func="tracker.app:run_track")


def _add_demo(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo",
        help="track a held-out synthetic clip with the bundled model; video, PoseTrack json, mAP/MOTA",
        description="Generate a held-out synthetic clip, track it with the bundled HRNet-W16 demo model "
        "(simulated detections, DIS flow, FlowTrack), render the annotated video and score it against "
        "the clip's ground truth.",
    )
    p.add_argument("--out", default="out/demo", help="output folder (default out/demo)")
    _synth_set(p, None, frames=100, seed=7)
    p.add_argument(
        "--weights",
        type=_existing("file"),
        help="HRNet-W16 128x96 PoseTrack-layout weights (default: the bundled model)",
    )
    _device(p)
    _backend(p)
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func="tracker.demo:run_demo")


def _add_eval(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "eval",
        help="PoseTrack mAP and MOTA (official poseval semantics)",
        description="Score PoseTrack predictions against ground truth: per-sequence json files matched "
        "by name (2017 annolist or 2018 COCO-like, in any combination).",
    )
    p.add_argument(
        "--gt", required=True, type=_existing(), help="folder (or one file) of ground-truth sequence json files"
    )
    p.add_argument(
        "--pred", required=True, type=_existing(), help="folder (or one file) of prediction json files, same names"
    )
    p.add_argument(
        "--json",
        type=_suffix(".json"),
        metavar="OUT.json",
        help="also write the results as json (percent, NaN as null)",
    )
    p.add_argument("--per-sequence", action="store_true", help="also report every sequence")
    p.add_argument("--allow-missing", action="store_true", help="score a missing prediction file as empty")
    p.set_defaults(func=_cmd_eval)


def _add_render(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "render",
        help="draw tracked poses on the video (H.264 mp4)",
        description="Draw tracked poses (per-track export or PoseTrack json) on the source frames, with "
        "stable per-track colours and ids, optionally with the ground truth, and encode an H.264 mp4 at "
        "the source's frame rate and size (odd sizes padded to even).",
    )
    p.add_argument(
        "video", type=_existing(), metavar="VIDEO", help="video file, folder of frames, or PoseTrack annotation json"
    )
    p.add_argument(
        "predictions",
        type=_existing("file"),
        metavar="PREDICTIONS",
        help="per-track export json or PoseTrack 2017/2018 json",
    )
    p.add_argument(
        "-o", "--out", required=True, type=_suffix(".mp4"), metavar="OUT.mp4", help="annotated video to write"
    )
    p.add_argument(
        "--gt", type=_existing("file"), metavar="ANNOTATION", help="also draw this PoseTrack ground truth (thin, white)"
    )
    p.add_argument(
        "--images-root",
        type=_existing("folder"),
        metavar="DIR",
        help="folder the annotation's image names are relative to",
    )
    p.add_argument("--boxes", action="store_true", help="outline the person boxes")
    p.add_argument(
        "--trail", type=number(int, 0, 10000), default=0, metavar="N", help="draw each track's last N centres (0: off)"
    )
    p.add_argument(
        "--joint-threshold", type=PROBABILITY, default=0.3, metavar="T", help="draw joints scoring at least T (0.3)"
    )
    p.add_argument(
        "--contact-sheet",
        type=_suffix(".png", ".jpg"),
        metavar="OUT.png",
        help="also a PNG grid of evenly spaced annotated frames",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func="tracker.render:run_render")


def _add_synth(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "synth",
        help="generate synthetic annotated videos (PoseTrack/COCO ground truth, simulated detections)",
        description="Render sequences of articulated people walking, running, turning and waving over a "
        "panning textured background, with PoseTrack 2017/2018 and COCO ground truth and simulated "
        "detections, so the whole pipeline can be run and scored without real data or a detector.",
    )
    p.add_argument("--out", default="out/synth", help="output folder (default out/synth)")
    _synth_set(p, sequences=3, frames=100, seed=0)
    p.add_argument("--people", type=number(int, 1, 100), help="people per video (default by difficulty: 3/5/8)")
    p.add_argument("--size", type=_frame_size, default=(640, 360), help="frame WIDTHxHEIGHT (default 640x360)")
    p.add_argument("--fps", type=number(float, 0.0, 1000.0, above=True), default=25.0, help="frame rate (default 25)")
    p.add_argument(
        "--label-every",
        type=number(int, 1, 10000),
        default=1,
        help="label every k-th frame (PoseTrack val: 4; default 1)",
    )
    p.add_argument("--no-video", action="store_true", help="do not write videos/NAME.mp4")
    p.add_argument("--no-frames", action="store_true", help="do not write images/NAME/*.jpg")
    p.add_argument("--ignore-regions", type=PROBABILITY, help="probability of a crowd ignore region per video")
    p.add_argument("--det-jitter", type=number(float, 0.0, 1.0), help="detection box jitter (fraction of box size)")
    p.add_argument("--det-miss", type=PROBABILITY, help="share of detectable people missed")
    p.add_argument("--det-fp", type=number(float, 0.0, 100.0), help="false-positive detections per frame")
    p.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    p.set_defaults(func="tracker.synth.generate:run_synth")


def _add_train(sub: argparse._SubParsersAction) -> None:
    shipped = sorted(p.stem for p in (Path(__file__).resolve().parents[1] / "pose" / "configs").glob("*.yaml"))
    p = sub.add_parser(
        "train",
        help="train HRNet from a YAML config (COCO / PoseTrack; torchrun for several GPUs)",
        description=f"Train HRNet from a YAML config. Shipped configs: {', '.join(shipped)}.",
    )
    p.add_argument("config", help="YAML config file, or the name of a shipped config")
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config value, e.g. lr=1e-4, data.val_boxes=dets.json (repeatable)",
    )
    p.add_argument("--resume", action="store_true", help="continue from OUT/state.pth when it exists")
    p.add_argument("--out", help="run folder (default: the config's out_dir)")
    p.add_argument("--device", type=_device_type_no_auto, help="training device, cpu or cuda (default: the config's)")
    p.set_defaults(func="pose.train.cli:run_train")


def _add_bench(sub: argparse._SubParsersAction) -> None:
    bench = sub.add_parser(
        "bench", help="benchmarks: pose network, tracking, evaluation, training speed; synthetic accuracy"
    )
    kinds = bench.add_subparsers(dest="what", required=True, metavar="WHAT")

    pose = kinds.add_parser("pose", help="pose network on every backend vs. the machine's matmul peak")
    _network(pose, None, None)
    pose.add_argument("--batch", type=_int_list, default=(1, 8), help="comma-separated batch sizes (default 1,8)")
    pose.add_argument(
        "--modes",
        type=_choice_list(POSE_BENCH_MODES),
        default=tuple(m for m in POSE_BENCH_MODES if not m.endswith("compiled")),
        help="comma-separated: official (--official's model code), plain (as built), optimized (BN folded, "
        "channels_last), compiled (+ torch.compile), onnxruntime, openvino, auto (--backend auto's choice), "
        "bf16, bf16-compiled, openvino-bf16; default: all but the compiled ones (those not installed are skipped)",
    )
    pose.add_argument(
        "--official",
        type=_existing("folder"),
        metavar="PATH",
        help="checkout of leoxiaobin/deep-high-resolution-net.pytorch: also time its lib/models/pose_hrnet.py",
    )
    _device(pose)
    pose.add_argument("--quick", action="store_true", help="first case only, no compile, short timing")
    pose.set_defaults(func=_cmd_bench_pose)

    track = kinds.add_parser("track", help="per-stage time of the tracking pipeline on a video")
    track.add_argument(
        "--video",
        required=True,
        type=_existing("file"),
        help="video to track (e.g. ../shared/data/videos/pets2009_campus_480x360_795f.avi)",
    )
    _network(track)
    track.add_argument(
        "--detector",
        default="rtmdet_nano_person",
        type=_detector_spec,
        help="detector spec (default rtmdet_nano_person)",
    )
    track.add_argument("--flow", default="dis", type=_flow_spec, help="flow spec (default dis)")
    track.add_argument("--weights", type=_existing("file"), help="HRNet checkpoint (default: random weights of --arch)")
    track.add_argument("--frames", type=POSITIVE, help="only the first N frames")
    track.add_argument("--bf16", action="store_true", help="network in bfloat16")
    _backend(track)
    track.add_argument(
        "--ahead", type=number(int, 1, 64), default=4, help="frames run ahead in the overlapped run (default 4)"
    )
    _device(track)
    track.set_defaults(func=_cmd_bench_track)

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
    _network(train)
    train.add_argument("--batch", type=number(int, 1, 1024), default=8, help="batch size (default 8)")
    train.add_argument("--steps", type=number(int, 1, 10000), default=3, help="timed steps (default 3)")
    _device(train, what="; cpu also times CUDA when present")
    train.set_defaults(func=_cmd_bench_train)

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
    _synth_set(synth, sequences=4, frames=60, seed=3000)
    synth.add_argument(
        "--weights",
        type=_existing("file"),
        help="HRNet-W16 128x96 PoseTrack-layout weights (default: the bundled model)",
    )
    synth.add_argument("--data", help="keep the generated set and the results in this folder (default: temporary)")
    synth.add_argument("--json", type=_suffix(".json"), metavar="OUT.json", help="also write the table as json")
    synth.add_argument(
        "--quick", action="store_true", help="only the rows with and without propagation (and the paper's variant)"
    )
    synth.add_argument("--bf16", action="store_true", help="network in bfloat16 (its mAP against float32's)")
    _backend(synth)
    _device(synth)
    synth.set_defaults(func="tracker.bench.synthetic:run_bench_synth")


def _add_weights(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "weights",
        help="check that a checkpoint loads (strictly) into a model, or describe a network file",
        description="An HRNet checkpoint: check that it loads strictly into --arch. A network file (.onnx or "
        "OpenVINO .xml): its input, outputs, joints and the keypoint layout it runs with.",
    )
    p.add_argument(
        "checkpoint",
        type=_existing("file"),
        help="official HRNet .pth, training checkpoint or mmpose file; or a .onnx/.xml heatmap network",
    )
    p.add_argument("--input-size", type=_input_size, help="a network file's input HxW, where its own is dynamic")
    p.add_argument("--arch", default="hrnet_w32", type=_arch, help="hrnet_w32, hrnet_w48 or hrnet_wC")
    p.add_argument("--joints", type=number(int, 1, 1000), default=17, help="number of joints (default 17)")
    p.add_argument(
        "--export-fp16",
        type=_suffix(".pth", ".pt"),
        metavar="OUT.pth",
        help="also write the weights as a float16 state_dict",
    )
    p.set_defaults(func=_cmd_weights)


def _add_models(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "models",
        help="the model zoo: list the named models, fetch them, print a cached path",
        description="Named pose models, person detectors and backbones, fetched on first use into "
        "$HRTRACK_HOME/models (default ~/.cache/hrtrack) and checked by sha256. HRTRACK_MIRROR=URL fetches "
        "URL/<file> instead; HRTRACK_OFFLINE=1 never downloads.",
    )
    p.add_argument("action", nargs="?", default="list", choices=["list", "fetch", "path"], help="default list")
    p.add_argument("names", nargs="*", metavar="NAME", help="zoo model names")
    p.set_defaults(func=_cmd_models)


# ----------------------------------------------------------------------------- small command bodies


def _cmd_bench_pose(args: argparse.Namespace) -> int:
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


def _cmd_bench_track(args: argparse.Namespace) -> int:
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
        args.bf16,
        args.backend,
        args.ahead,
    )
    return 0


def _cmd_bench_train(args: argparse.Namespace) -> int:
    from tracker.bench.training import run_train_bench

    run_train_bench(args.device, args.batch, args.steps, args.arch, args.input_size)
    return 0


def _cmd_weights(args: argparse.Namespace) -> int:
    from pose.checkpoint import load_checkpoint, save_state_dict
    from pose.external import describe_network, is_network_file
    from pose.files import OutputPlan
    from pose.hrnet import build_model

    if is_network_file(args.checkpoint):
        if args.export_fp16:
            raise UsageError(f"--export-fp16: {Path(args.checkpoint).name} is a network file, not a checkpoint")
        info = describe_network(args.checkpoint, args.input_size)
        layout = "coco (17 joints)" if info.num_joints == 17 else f"none fits {info.num_joints} joints"
        print(f"{info.describe()}; keypoint layout {layout}")
        return 0
    with OutputPlan(inputs=[args.checkpoint]) as plan:
        if args.export_fp16:
            plan.add(args.export_fp16, "--export-fp16", suffixes=(".pth", ".pt"))
        model = build_model(args.arch, args.joints)
        load_checkpoint(model, args.checkpoint)
        params = sum(p.numel() for p in model.parameters())
        print(
            f"{args.checkpoint}: loads into {args.arch} with {args.joints} joints "
            f"({len(model.state_dict())} keys, {params:,} parameters)"
        )
        if args.export_fp16:
            save_state_dict(model, plan.temp(args.export_fp16), half=True)
    if args.export_fp16:
        size = Path(args.export_fp16).stat().st_size
        print(f"wrote {args.export_fp16}: plain float16 state_dict, {size / 1e6:.1f} MB")
    return 0


def _cmd_eval(args: argparse.Namespace) -> int:
    from eval.api import run_eval_cli
    from pose.files import OutputPlan

    with OutputPlan(inputs=[args.gt, args.pred], sealed=[args.gt, args.pred]) as plan:
        if args.json:
            plan.add(args.json, "--json", suffixes=(".json",))
        return run_eval_cli(
            args.gt, args.pred, plan.temp(args.json) if args.json else None, args.per_sequence, args.allow_missing
        )


def _cmd_models(args: argparse.Namespace) -> int:
    from pose import zoo

    if args.action == "path":
        entry = zoo.get(args.names[0]) if len(args.names) == 1 else None
        if entry is None:
            raise HrtrackError("models path takes one model name")
        if not zoo.is_cached(entry):
            raise HrtrackError(f"{entry.name}: not in the cache ({zoo.cached_path(entry)}); run hrtrack models fetch")
        print(zoo.cached_path(entry))
        return 0
    if args.action == "fetch":
        if not args.names:
            raise HrtrackError("models fetch takes one or more model names")
        entries = [zoo.get(n) for n in args.names]  # every name checked before any download
        for entry in entries:
            if zoo.is_cached(entry) and entry.url is not None and not zoo.verify_cached(entry):
                zoo.cached_path(entry).unlink()  # a cached file that no longer matches its hash: fetch again
                if entry.archive:
                    (zoo.home() / "models" / entry.archive).unlink(missing_ok=True)
            print(f"{entry.name}: {zoo.fetch(entry)}")
        return 0
    if args.names:
        raise HrtrackError(f"unknown models action {args.names[0]!r}: use list, fetch NAME... or path NAME")
    print(zoo.describe())
    print(f"cache: {zoo.home() / 'models'}")
    return 0


# ----------------------------------------------------------------------------- entry point


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="hrtrack",
        description="Multi-person 2D pose tracking in video with HRNet and FlowTrack.",
        epilog="--debug (anywhere on the line) or HRTRACK_DEBUG=1: show third-party messages and tracebacks.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in (_add_demo, _add_track, _add_eval, _add_render, _add_synth, _add_train, _add_bench, _add_weights):
        add(sub)
    _add_models(sub)
    return parser


def _resolve(func: object) -> object:
    """A command function, imported from its ``"module:function"`` name on first use."""
    if isinstance(func, str):
        module, _, name = func.partition(":")
        return getattr(importlib.import_module(module), name)
    return func


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so that every cleanup handler runs."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise Terminated()


def _quiet_third_party() -> None:
    """Keep libraries' own chatter off the terminal (``--debug`` shows it): OpenCV's and FFmpeg's
    log lines, onnxruntime's warnings, Python warnings."""
    import logging
    import warnings

    os.environ.setdefault("OPENCV_LOG_LEVEL", "OFF")
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET
    os.environ.setdefault("ORT_LOGGING_LEVEL", "3")
    warnings.filterwarnings("ignore")
    for name in ("ptlflow", "lightning", "pytorch_lightning", "onnxruntime", "ray", "urllib3"):
        logging.getLogger(name).setLevel(logging.ERROR)


def _message(exc: BaseException) -> str:
    """The first line of an error's message."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def debug_requested(argv: Sequence[str]) -> bool:
    """``--debug`` anywhere on the command line, or ``HRTRACK_DEBUG`` set to anything but 0."""
    from pose.errors import debugging

    return "--debug" in argv or debugging()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``hrtrack`` console script: the one error boundary.

    A problem with the user's input (a bad option, file or model; an unwritable output; too little
    memory) ends as one line ``hrtrack: error: <option or file>: <what>`` on stderr with exit status 2,
    and no output of the run is left behind; SIGINT and SIGTERM clean up the same way (exit 130 and
    143). Anything else is a bug: one line with exit status 1, the traceback with ``--debug`` or
    ``HRTRACK_DEBUG=1``.
    """
    from pose.files import abort_active_plans

    argv = list(sys.argv[1:] if argv is None else argv)
    debug = debug_requested(argv)
    argv = [a for a in argv if a != "--debug"]
    debug_env = os.environ.get("HRTRACK_DEBUG")
    if debug:
        os.environ["HRTRACK_DEBUG"] = "1"  # for the libraries' quiet blocks (pose.errors.debugging)
    else:
        _quiet_third_party()
    previous = previous_int = None
    if threading_main():
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
        previous_int = signal.getsignal(signal.SIGINT)
    try:
        args = build_parser().parse_args(argv)
        return int(_resolve(args.func)(args))
    except HrtrackError as exc:
        _report(_message(exc))
        return 2
    except OSError as exc:  # unwritable output folder, disk full, ...: name the file, no traceback
        where = f"{exc.filename}: " if exc.filename else ""
        _report(f"{where}{exc.strerror or _message(exc)}")
        return 2
    except MemoryError:
        _report("out of memory (use smaller inputs, --batch-size or --flow-max-side)")
        return 2
    except KeyboardInterrupt as exc:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the clean-up short
        abort_active_plans()
        name = "SIGTERM" if isinstance(exc, Terminated) else "SIGINT"
        print(f"hrtrack: interrupted ({name}); the outputs in progress were removed", file=sys.stderr)
        return 143 if isinstance(exc, Terminated) else 130
    except Exception as exc:
        if debug:
            raise
        _report(f"internal error ({type(exc).__name__}: {_message(exc)}); rerun with --debug for the traceback")
        return 1
    finally:
        abort_active_plans()
        if debug_env is None:
            os.environ.pop("HRTRACK_DEBUG", None)
        else:
            os.environ["HRTRACK_DEBUG"] = debug_env
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
            signal.signal(signal.SIGINT, previous_int)


def threading_main() -> bool:
    """Signal handlers can only be set from the main thread."""
    import threading

    return threading.current_thread() is threading.main_thread()


def _report(text: str) -> None:
    sys.stdout.flush()
    print(f"hrtrack: error: {text}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
