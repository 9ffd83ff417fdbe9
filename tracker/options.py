"""Option types and groups of the tracking commands (zoo names, detector, flow and source specs, a
synthetic set); the general ones are in :mod:`pose.options`. Torch-free, like every option type.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from pose.errors import HrtrackError
from pose.options import (
    fail,
    fail_path,
    number,
    setting_error,
)

DIFFICULTIES = ("easy", "medium", "hard")

OCCLUSIONS = ("normal", "long")  # tracker.synth.config.OCCLUSIONS (not imported: options stay light)

ASSOCIATIONS = ("flow-oks", "oks", "iou")

LAYOUTS = ("coco", "posetrack18")


def flow_spec(text: str) -> str:
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
            fail(text, str(e))
        return text
    if kind == "dis":
        fail(text, f"unknown DIS preset; use dis, dis:{', dis:'.join(presets)}")
    fail(text, "use dis[:PRESET], farneback, ptlflow:MODEL:CHECKPOINT or none")


def _lookup(name: str, kind: str) -> object:
    """The zoo entry ``name`` of ``kind``; a broken ``HRTRACK_ZOO`` is its own error, not the option's."""
    from pose import zoo

    try:
        return zoo.lookup(name, kind)
    except HrtrackError as e:
        setting_error(str(e))


def detector_spec(text: str) -> str:
    """A zoo detector, ``onnx:PATH``, ``json:PATH`` or ``json:DIR``, ``gt:ANNOTATION`` or ``gt`` (each
    annotation source's own boxes), or ``hog``."""
    if _lookup(text, "detector") is not None or text in ("hog", "gt"):
        return text
    kind, _, arg = text.partition(":")
    if kind == "json" and arg and Path(arg).is_dir():
        return text  # json:DIR: DIR/<sequence name>.json per sequence
    if kind in ("onnx", "json", "gt") and arg:
        if not Path(arg).is_file():
            fail_path(arg, "no such file")
        return text
    from pose import zoo

    names = ", ".join(n for n, e in zoo.zoo().items() if e.kind == "detector")
    fail(text, f"use a zoo detector ({names}), onnx:PATH, json:PATH, gt:ANNOTATION or hog")


def source_spec(text: str) -> str:
    """An existing file or folder, or a glob pattern that matches something."""
    import glob

    if not Path(text).exists():
        if glob.has_magic(text):
            if not glob.glob(text):
                fail_path(text, "no file matches this pattern")
        else:
            fail_path(text, "no such file or folder")
    return text


def ray_address(text: str) -> str:
    """``auto``, ``ray://HOST:PORT`` or ``HOST:PORT`` of a running Ray cluster."""
    if text in ("local", "auto") or re.fullmatch(r"(ray://)?[\w.-]+:\d+", text):
        return text
    fail(
        text,
        "use auto, ray://HOST:PORT or HOST:PORT, or no value for a local Ray instance (put --ray after the sources)",
    )


def pose_weights(text: str) -> str:
    """A zoo pose model name or an existing checkpoint file."""
    if _lookup(text, "pose") is not None or Path(text).is_file():
        return text
    if Path(text).is_dir():
        fail_path(text, "is a folder, not a checkpoint file")
    from pose import zoo

    names = ", ".join(n for n, e in zoo.zoo().items() if e.kind == "pose")
    fail(text, f"neither a file (checkpoint, .onnx, OpenVINO .xml) nor a zoo pose model ({names})")


def det_size(text: str) -> int:
    """``--det-size``: 64 to 2048 pixels, a multiple of 32."""
    value = number(int, 64, 2048)(text)
    if value % 32:
        fail(text, "must be a multiple of 32 (the detector's stride)")
    return value


def add_synth_set(
    p: argparse.ArgumentParser, sequences: int | None, frames: int, seed: int, occlusion: bool = False
) -> None:
    """Which synthetic set: ``--sequences``, ``--frames``, ``--seed``, ``--difficulty`` and, with
    ``occlusion``, ``--occlusion``."""
    if sequences is not None:
        p.add_argument(
            "--sequences", type=number(int, 1, 10000), default=sequences, help=f"sequences (default {sequences})"
        )
    p.add_argument(
        "--frames", type=number(int, 2, 100000), default=frames, help=f"frames per sequence (default {frames})"
    )
    p.add_argument("--seed", type=number(int, 0, 2**63 - 1), default=seed, help=f"seed of the set (default {seed})")
    p.add_argument("--difficulty", default="medium", choices=DIFFICULTIES, help="default medium")
    if occlusion:
        p.add_argument(
            "--occlusion",
            default="normal",
            choices=OCCLUSIONS,
            help="long: 1-3 pillars, advertising columns or vans per video, and people scripted to vanish behind "
            "them or out of the frame for 0.5-3 s and come back with the same track id, or to pass behind each "
            "other, to measure how identities survive occlusions (default normal)",
        )
