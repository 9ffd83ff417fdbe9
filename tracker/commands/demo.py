"""``hrtrack demo``: its options; the run is :func:`tracker.demo.run_demo`."""

from __future__ import annotations

import argparse

from pose.options import (
    add_backend,
    add_device,
    existing,
)
from tracker.options import (
    add_synth_set,
)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo",
        help="track a held-out synthetic clip with the bundled model; video, PoseTrack json, mAP/MOTA",
        description="Generate a held-out synthetic clip, track it with the bundled HRNet-W16 demo model "
        "(simulated detections, DIS flow, FlowTrack), render the annotated video and score it against "
        "the clip's ground truth.",
    )
    p.add_argument("--out", default="out/demo", help="output folder (default out/demo)")
    add_synth_set(p, None, frames=100, seed=7)
    p.add_argument(
        "--weights",
        type=existing("file"),
        help="HRNet-W16 128x96 PoseTrack-layout weights (default: the bundled model)",
    )
    add_device(p)
    add_backend(p)
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func="tracker.demo:run_demo")
