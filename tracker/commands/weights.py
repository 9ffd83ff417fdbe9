"""``hrtrack weights``: check that a checkpoint loads, describe a network file, export float16."""

from __future__ import annotations

import argparse
from pathlib import Path

from pose.options import (
    UsageError,
    arch_spec,
    existing,
    number,
    size_spec,
    suffix,
)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "weights",
        help="check that a checkpoint loads (strictly) into a model, or describe a network file",
        description="An HRNet checkpoint: check that it loads strictly into --arch. A network file (.onnx or "
        "OpenVINO .xml): its input, outputs, joints and the keypoint layout it runs with.",
    )
    p.add_argument(
        "checkpoint",
        type=existing("file"),
        help="official HRNet .pth, training checkpoint or mmpose file; or a .onnx/.xml heatmap network",
    )
    p.add_argument("--input-size", type=size_spec, help="a network file's input HxW, where its own is dynamic")
    p.add_argument("--arch", default="hrnet_w32", type=arch_spec, help="hrnet_w32, hrnet_w48 or hrnet_wC")
    p.add_argument("--joints", type=number(int, 1, 1000), default=17, help="number of joints (default 17)")
    p.add_argument(
        "--export-fp16",
        type=suffix(".pth", ".pt"),
        metavar="OUT.pth",
        help="also write the weights as a float16 state_dict",
    )
    p.set_defaults(func=cmd_weights)


def cmd_weights(args: argparse.Namespace) -> int:
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
