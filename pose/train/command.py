"""``hrtrack train``: its options (torch-free); the run is :func:`pose.train.cli.run_train`."""

from __future__ import annotations

import argparse
from pathlib import Path

from pose.options import device_type_no_auto


def add_parser(sub: argparse._SubParsersAction) -> None:
    shipped = sorted(p.stem for p in (Path(__file__).resolve().parents[1] / "configs").glob("*.yaml"))
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
    p.add_argument("--device", type=device_type_no_auto, help="training device, cpu or cuda (default: the config's)")
    p.set_defaults(func="pose.train.cli:run_train")
