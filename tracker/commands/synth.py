"""``hrtrack synth``: its options; the run is :func:`tracker.synth.generate.run_synth`."""

from __future__ import annotations

import argparse

from pose.options import (
    PROBABILITY,
    frame_size,
    number,
)
from tracker.options import (
    add_synth_set,
)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "synth",
        help="generate synthetic annotated videos (PoseTrack/COCO ground truth, simulated detections)",
        description="Render sequences of articulated people walking, running, turning and waving over a "
        "panning textured background, with PoseTrack 2017/2018 and COCO ground truth and simulated "
        "detections, so the whole pipeline can be run and scored without real data or a detector.",
    )
    p.add_argument("--out", default="out/synth", help="output folder (default out/synth)")
    add_synth_set(p, sequences=3, frames=100, seed=0, occlusion=True)
    p.add_argument("--people", type=number(int, 1, 100), help="people per video (default by difficulty: 3/5/8)")
    p.add_argument("--size", type=frame_size, default=(640, 360), help="frame WIDTHxHEIGHT (default 640x360)")
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
