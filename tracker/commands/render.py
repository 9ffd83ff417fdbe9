"""``hrtrack render``: its options; the run is :func:`tracker.render.run_render`."""

from __future__ import annotations

import argparse

from pose.options import (
    PROBABILITY,
    existing,
    number,
    suffix,
)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "render",
        help="draw tracked poses on the video (H.264 mp4)",
        description="Draw tracked poses (per-track export or PoseTrack json) on the source frames, with "
        "stable per-track colours and ids, optionally with the ground truth, and encode an H.264 mp4 at "
        "the source's frame rate and size (odd sizes padded to even).",
    )
    p.add_argument(
        "video", type=existing(), metavar="VIDEO", help="video file, folder of frames, or PoseTrack annotation json"
    )
    p.add_argument(
        "predictions",
        type=existing("file"),
        metavar="PREDICTIONS",
        help="per-track export json or PoseTrack 2017/2018 json",
    )
    p.add_argument(
        "-o", "--out", required=True, type=suffix(".mp4"), metavar="OUT.mp4", help="annotated video to write"
    )
    p.add_argument(
        "--gt", type=existing("file"), metavar="ANNOTATION", help="also draw this PoseTrack ground truth (thin, white)"
    )
    p.add_argument(
        "--images-root",
        type=existing("folder"),
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
        type=suffix(".png", ".jpg"),
        metavar="OUT.png",
        help="also a PNG grid of evenly spaced annotated frames",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func="tracker.render:run_render")
