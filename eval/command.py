"""``hrtrack eval``: its options and run (:func:`eval.api.run_eval_cli`). Torch-free."""

from __future__ import annotations

import argparse

from pose.options import (
    existing,
    suffix,
)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "eval",
        help="PoseTrack mAP and MOTA (official poseval semantics), plus IDF1",
        description="Score PoseTrack predictions against ground truth: per-sequence json files matched "
        "by name (2017 annolist or 2018 COCO-like, in any combination). Prints poseval's AP and MOT tables, "
        "then an identity table that is not poseval's (IDF1 / IDP / IDR of py-motmetrics over poseval's "
        "per-joint matching, ID switches).",
    )
    p.add_argument(
        "--gt", required=True, type=existing(), help="folder (or one file) of ground-truth sequence json files"
    )
    p.add_argument(
        "--pred", required=True, type=existing(), help="folder (or one file) of prediction json files, same names"
    )
    p.add_argument(
        "--json",
        type=suffix(".json"),
        metavar="OUT.json",
        help="also write the results as json (percent, NaN as null)",
    )
    p.add_argument("--per-sequence", action="store_true", help="also report every sequence")
    p.add_argument("--allow-missing", action="store_true", help="score a missing prediction file as empty")
    p.set_defaults(func=cmd_eval)


def cmd_eval(args: argparse.Namespace) -> int:
    from eval.api import run_eval_cli
    from pose.files import OutputPlan

    with OutputPlan(inputs=[args.gt, args.pred], sealed=[args.gt, args.pred]) as plan:
        if args.json:
            plan.add(args.json, "--json", suffixes=(".json",))
        return run_eval_cli(
            args.gt, args.pred, plan.temp(args.json) if args.json else None, args.per_sequence, args.allow_missing
        )
