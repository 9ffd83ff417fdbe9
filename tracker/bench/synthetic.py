"""``hrtrack bench synth``: mAP and MOTA of the demo model on held-out synthetic sequences.

A fixed held-out set of the synthetic world (seed 3000 by default, never used for the bundled
model's training data) is tracked once per setting (boxes: ground truth, simulated detections
with flow propagation, simulated detections alone; association: flow-OKS or OKS without flow)
with :func:`tracker.demo.track_synth`, and the table of mAP, MOTA, IDF1 (not poseval's, see
:func:`eval.api.format_identity_table`), ID switches and the MOTA's precision and recall is printed
(and written as json with ``--json``).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from eval.api import to_jsonable
from pose.files import atomic_write_json
from tracker.demo import BENCH_SEED, DEMO_ARCH, DEMO_INPUT_SIZE, Setting, demo_estimator, track_synth
from tracker.synth import SynthConfig, generate

__all__ = ["BENCH_SEED", "BENCH_SETTINGS", "format_bench_table", "run_bench_synth"]

#: The rows of ``hrtrack bench synth``: boxes x association, and the association's variants
#: (``no re-id``: no track buffer, a track ends after --queue frames unseen, the association before
#: re-identification; ``paper``: one greedy stage, propagated duplicates kept, no re-identification,
#: as FlowTrack describes it).
BENCH_SETTINGS = (
    Setting("gt", False, "flow-oks"),
    Setting("gt", False, "flow-oks", track_buffer=0.0),
    Setting("gt", False, "oks"),
    Setting("detections", True, "flow-oks"),
    Setting("detections", True, "flow-oks", track_buffer=0.0),
    Setting("detections", True, "flow-oks", two_stage=False, merge=False, track_buffer=0.0),
    Setting("detections", True, "flow-oks", two_stage=False),
    Setting("detections", True, "flow-oks", merge=False),
    Setting("detections", True, "oks"),
    Setting("detections", False, "flow-oks"),
    Setting("detections", False, "flow-oks", two_stage=False, merge=False, track_buffer=0.0),
    Setting("detections", False, "oks"),
)
#: ``--quick``: the rows the propagation and re-identification targets compare (with and without
#: each, and the paper's).
QUICK_SETTINGS = tuple(BENCH_SETTINGS[k] for k in (3, 4, 5, 9, 10))


def run_bench_synth(args: argparse.Namespace) -> int:
    """Run ``hrtrack bench synth``: one row per :data:`BENCH_SETTINGS`; returns the exit status."""
    estimator = demo_estimator(args.weights, args.device, backend=args.backend, precision=args.precision)
    with tempfile.TemporaryDirectory(prefix="hrtrack-bench-synth-") as tmp:
        root = Path(args.data) if args.data else Path(tmp)
        data = root / "synth"
        synth = SynthConfig(
            sequences=args.sequences,
            frames=args.frames,
            seed=args.seed,
            difficulty=args.difficulty,
            write_video=False,
            occlusion=getattr(args, "occlusion", "normal"),
        )
        generate(synth, data, option="--data")
        rows = []
        for setting in QUICK_SETTINGS if getattr(args, "quick", False) else BENCH_SETTINGS:
            t0 = time.perf_counter()
            result, _ = track_synth(data, root / setting.slug, estimator, setting)
            rows.append(
                {
                    "boxes": setting.label,
                    "association": setting.association,
                    "mAP": result["ap"]["total"],
                    "MOTA": result["mota"]["total"],
                    "IDF1": result["idf1"]["total"],
                    "switches": int(sum(result["counts"]["switches"])),
                    "precision": result["precision"]["total"],
                    "recall": result["recall"]["total"],
                    "seconds": time.perf_counter() - t0,
                }
            )
            r = rows[-1]
            print(
                f"  {r['boxes']}, {r['association']}: mAP {r['mAP']:.1f} MOTA {r['MOTA']:.1f} IDF1 {r['IDF1']:.1f} "
                f"switches {r['switches']}",
                file=sys.stderr,
            )
    print(
        f"hrtrack bench synth: {args.sequences} held-out sequences x {args.frames} frames ({args.difficulty}, "
        f"{synth.occlusion} occlusion, seed {args.seed}), "
        f"demo model {DEMO_ARCH} {DEMO_INPUT_SIZE[0]}x{DEMO_INPUT_SIZE[1]}, DIS flow, "
        f"{estimator.choice.describe()}, {estimator.precision}"
    )
    print(format_bench_table(rows))
    if args.json:
        atomic_write_json(to_jsonable({"config": vars(args) | {"func": None}, "rows": rows}), args.json)
    return 0


def format_bench_table(rows: list[dict[str, Any]]) -> str:
    """The benchmark rows as a markdown table."""
    lines = [
        "| boxes | association | mAP | MOTA | IDF1 | ID switches | precision | recall | seconds |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        mota = f"{r['mAP']:.1f} | {r['MOTA']:.1f} | {r['IDF1']:.1f} | {r['switches']}"
        rest = " | ".join(f"{r[k]:.1f}" for k in ("precision", "recall"))
        lines.append(f"| {r['boxes']} | {r['association']} | {mota} | {rest} | {r['seconds']:.0f} |")
    return "\n".join(lines)
