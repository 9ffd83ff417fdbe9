"""``hrtrack demo`` and ``hrtrack bench synth``: the whole pipeline on synthetic sequences.

Both generate held-out sequences of the synthetic world (:mod:`tracker.synth`; seeds never used
for the bundled model's training data), track them with the bundled demo model (HRNet-W16
128x96, trained on synthetic data in the PoseTrack 2018 17-slot layout, see
``scripts/train_demo_model.sh``), simulated detections and DIS flow, and score the result
against the sequences' ground truth with :func:`eval.evaluate`.

``hrtrack demo [--out DIR]`` writes, under DIR (default ``out/demo``):

* ``synth/``: the generated clip (frames, mp4, PoseTrack GT, simulated detections);
* ``annotated.mp4``: the tracked poses drawn on the clip (H.264);
* ``posetrack17/NAME.json``, ``posetrack18/NAME.json``, ``tracks/NAME.json``: the results;
* ``metrics.json``: the evaluation, with the schema of ``hrtrack eval --json``.

``hrtrack bench synth`` runs a fixed held-out set once per setting (boxes: ground truth,
simulated detections with flow propagation, simulated detections alone; association: flow-OKS
or OKS without flow) and prints mAP, MOTA and the MOTA's precision and recall per setting as
one table.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eval.api import evaluate, format_tables, to_jsonable
from eval.files import atomic_write_json
from flow import make_flow
from pose.estimator import PoseEstimator
from tracker.app import load_estimator, track_source
from tracker.detectors import make_detector
from tracker.flowtrack import FlowTrackConfig, FlowTracker
from tracker.pipeline import PipelineConfig, StageTimer
from tracker.synth import SynthConfig, generate
from tracker.video import annotation_source
from tracker.writers import FORMATS, OutputFilter, write_posetrack, write_tracks

#: The bundled model: weights (float16 state_dict), architecture, input size and joint layout.
DEMO_WEIGHTS = Path(__file__).resolve().parent / "assets" / "demo_hrnet_w16_128x96_synth.pth"
DEMO_ARCH = "hrnet_w16"
DEMO_INPUT_SIZE = (128, 96)
DEMO_LAYOUT = "posetrack18"

#: Seeds of the held-out synthetic data. The demo model was trained on seed 1000 and validated
#: on seed 2000 (scripts/train_demo_model.sh); the demo and the benchmark use other seeds.
DEMO_SEED = 7
BENCH_SEED = 3000


def demo_estimator(
    weights: str | Path | None = None, device: str = "cpu", bf16: bool = False, flip_test: bool = True
) -> PoseEstimator:
    """The pose estimator of the bundled demo model (or of ``weights`` with the same architecture)."""
    path = Path(weights) if weights else DEMO_WEIGHTS
    if not path.is_file():
        raise ValueError(f"{path}: demo model weights not found (reinstall hrtrack or give --weights)")
    return load_estimator(path, DEMO_ARCH, DEMO_INPUT_SIZE, DEMO_LAYOUT, device, flip_test, bf16=bf16)


@dataclass(frozen=True)
class Setting:
    """How a synthetic set is tracked: which boxes, with or without flow propagation, which association."""

    boxes: str = "detections"  # "gt" (ground-truth boxes) or "detections" (the simulated detector)
    propagate: bool = True
    assoc: str = "flow-oks"

    @property
    def label(self) -> str:
        if self.boxes == "gt":
            return "GT boxes"
        return "sim. detections + propagation" if self.propagate else "sim. detections, no propagation"


def track_synth(
    data: Path,
    out: Path,
    estimator: PoseEstimator,
    setting: Setting = Setting(),
    flow_spec: str = "dis",
    render: Path | None = None,
    progress: bool = False,
) -> tuple[dict[str, Any], StageTimer]:
    """Track every sequence of the synthetic set ``data`` and evaluate against its GT.

    Results go to ``out/posetrack17|18/NAME.json`` and ``out/tracks/NAME.json``; ``render``
    (single-sequence sets) also writes the annotated video. Returns the result of
    :func:`eval.evaluate` and the per-stage timer.
    """
    gt_dir = data / "posetrack18"
    names = sorted(p.stem for p in gt_dir.glob("*.json"))
    if not names:
        raise ValueError(f"{gt_dir}: no synthetic sequences found")
    timer = StageTimer()
    needs_flow = setting.assoc == "flow-oks" or (setting.propagate and setting.boxes != "gt")
    flow = make_flow(flow_spec) if needs_flow else None
    config = PipelineConfig(propagate=setting.propagate and setting.boxes != "gt" and flow is not None)
    for name in names:
        gt_file = gt_dir / f"{name}.json"
        source = annotation_source(gt_file, data)
        spec = f"gt:{gt_file}" if setting.boxes == "gt" else f"json:{data / 'detections' / (name + '.json')}"
        tracker = FlowTracker(FlowTrackConfig(assoc=setting.assoc))  # a fresh memory per sequence
        results = track_source(
            source, make_detector(spec), estimator, flow, tracker, config, timer, render, progress, name
        )
        write_posetrack(out, name, results, list(FORMATS), OutputFilter(), DEMO_LAYOUT)
        write_tracks(out / "tracks" / f"{name}.json", results, OutputFilter().min_box_score)
    return evaluate(gt_dir, out / "posetrack18"), timer


# ----------------------------------------------------------------------------- hrtrack demo


def add_demo_parser(sub: argparse._SubParsersAction) -> None:
    """The ``demo`` subcommand."""
    p = sub.add_parser(
        "demo",
        help="track a held-out synthetic clip with the bundled model; video, PoseTrack json, mAP/MOTA",
        description="Generate a held-out synthetic clip, track it with the bundled HRNet-W16 demo model "
        "(simulated detections, DIS flow, FlowTrack), render the annotated video and score it against "
        "the clip's ground truth.",
    )
    p.add_argument("--out", default="out/demo", help="output folder (default out/demo)")
    p.add_argument("--frames", type=int, default=100, help="frames of the clip (default 100)")
    p.add_argument("--seed", type=int, default=DEMO_SEED, help=f"seed of the clip (default {DEMO_SEED})")
    p.add_argument("--difficulty", default="medium", choices=["easy", "medium", "hard"], help="default medium")
    p.add_argument("--weights", help="HRNet-W16 128x96 PoseTrack-layout weights (default: the bundled model)")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=run_demo)


def run_demo(args: argparse.Namespace) -> int:
    """Run ``hrtrack demo``; returns the exit status."""
    if args.frames < 2:
        raise ValueError("--frames must be at least 2")
    if args.seed in (1000, 2000):
        print(f"hrtrack demo: warning: seed {args.seed} is one the demo model was trained or validated on")
    out = Path(args.out)
    estimator = demo_estimator(args.weights, args.device)
    t0 = time.perf_counter()
    data = out / "synth"
    synth = SynthConfig(sequences=1, frames=args.frames, seed=args.seed, difficulty=args.difficulty)
    generate(synth, data, progress=not args.quiet)
    result, timer = track_synth(data, out, estimator, render=out / "annotated.mp4", progress=not args.quiet)
    atomic_write_json(to_jsonable(result), out / "metrics.json")
    seconds = time.perf_counter() - t0
    if not args.quiet:
        print(timer.summary(), file=sys.stderr)
    print(format_tables(result))
    print(
        f"demo: {args.frames} frames ({args.difficulty}, seed {args.seed}) in {seconds:.0f} s: "
        f"mAP {result['ap']['total']:.1f}, MOTA {result['mota']['total']:.1f}"
    )
    print(f"video {out / 'annotated.mp4'}, results {out / 'posetrack18'}, metrics {out / 'metrics.json'}")
    return 0


# ----------------------------------------------------------------------------- hrtrack bench synth

#: The rows of ``hrtrack bench synth``.
BENCH_SETTINGS = (
    Setting("gt", False, "flow-oks"),
    Setting("gt", False, "oks"),
    Setting("detections", True, "flow-oks"),
    Setting("detections", True, "oks"),
    Setting("detections", False, "flow-oks"),
    Setting("detections", False, "oks"),
)


def add_bench_synth_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--sequences", type=int, default=4, help="held-out sequences (default 4)")
    p.add_argument("--frames", type=int, default=60, help="frames per sequence (default 60)")
    p.add_argument("--seed", type=int, default=BENCH_SEED, help=f"seed of the set (default {BENCH_SEED})")
    p.add_argument("--difficulty", default="medium", choices=["easy", "medium", "hard"], help="default medium")
    p.add_argument("--weights", help="HRNet-W16 128x96 PoseTrack-layout weights (default: the bundled model)")
    p.add_argument("--data", help="keep the generated set and the results in this folder (default: temporary)")
    p.add_argument("--json", metavar="OUT.json", help="also write the table as json")
    p.add_argument("--device", default="cpu", help="cpu or cuda")


def run_bench_synth(args: argparse.Namespace) -> int:
    """Run ``hrtrack bench synth``: one row per :data:`BENCH_SETTINGS`; returns the exit status."""
    estimator = demo_estimator(args.weights, args.device)
    with tempfile.TemporaryDirectory(prefix="hrtrack-bench-synth-") as tmp:
        root = Path(args.data) if args.data else Path(tmp)
        data = root / "synth"
        synth = SynthConfig(
            sequences=args.sequences, frames=args.frames, seed=args.seed, difficulty=args.difficulty, write_video=False
        )
        generate(synth, data)
        rows = []
        for setting in BENCH_SETTINGS:
            t0 = time.perf_counter()
            run = root / f"{setting.boxes}-{'prop' if setting.propagate else 'noprop'}-{setting.assoc}"
            result, _ = track_synth(data, run, estimator, setting)
            rows.append(
                {
                    "boxes": setting.label,
                    "association": setting.assoc,
                    "mAP": result["ap"]["total"],
                    "MOTA": result["mota"]["total"],
                    "precision": result["precision"]["total"],
                    "recall": result["recall"]["total"],
                    "seconds": time.perf_counter() - t0,
                }
            )
            r = rows[-1]
            print(f"  {r['boxes']}, {r['association']}: mAP {r['mAP']:.1f} MOTA {r['MOTA']:.1f}", file=sys.stderr)
    print(
        f"hrtrack bench synth: {args.sequences} held-out sequences x {args.frames} frames ({args.difficulty}, "
        f"seed {args.seed}), demo model {DEMO_ARCH} {DEMO_INPUT_SIZE[0]}x{DEMO_INPUT_SIZE[1]}, DIS flow"
    )
    print(format_bench_table(rows))
    if args.json:
        atomic_write_json(to_jsonable({"config": vars(args) | {"func": None}, "rows": rows}), args.json)
    return 0


def format_bench_table(rows: list[dict[str, Any]]) -> str:
    """The benchmark rows as a markdown table."""
    lines = [
        "| boxes | association | mAP | MOTA | precision | recall | seconds |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        values = " | ".join(f"{r[k]:.1f}" for k in ("mAP", "MOTA", "precision", "recall"))
        lines.append(f"| {r['boxes']} | {r['association']} | {values} | {r['seconds']:.0f} |")
    return "\n".join(lines)
