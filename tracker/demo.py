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

``hrtrack bench synth`` (:mod:`tracker.bench.synthetic`) runs a fixed held-out set through
:func:`track_synth` once per setting.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eval.api import evaluate, format_identity_table, format_tables, to_jsonable
from pose import zoo
from pose.errors import HrtrackError
from pose.estimator import PoseEstimator
from pose.files import OutputPlan, atomic_write_json
from tracker.api import Tracker, load_estimator
from tracker.config import TrackConfig
from tracker.pipeline import StageTimer
from tracker.synth import SynthConfig, generate
from tracker.video import annotation_source

#: The bundled model (the zoo's ``demo_synth_w16``): weights (float16 state_dict), architecture,
#: input size and joint layout.
DEMO_MODEL = zoo.ZOO["demo_synth_w16"]
DEMO_WEIGHTS = Path(DEMO_MODEL.file)
DEMO_ARCH = str(DEMO_MODEL.arch)
DEMO_INPUT_SIZE = tuple(DEMO_MODEL.input_size or ())
DEMO_LAYOUT = str(DEMO_MODEL.layout)

#: Seeds of the held-out synthetic data. The demo model was trained on seed 1000 and validated
#: on seed 2000 (scripts/train_demo_model.sh); the demo and the benchmark use other seeds.
DEMO_SEED = 7
BENCH_SEED = 3000


def demo_estimator(
    weights: str | Path | None = None,
    device: str = "cpu",
    flip_test: bool = True,
    backend: str = "torch",
    precision: str = "f32",
) -> PoseEstimator:
    """The pose estimator of the bundled demo model (or of ``weights`` with the same architecture)."""
    path = Path(weights) if weights else DEMO_WEIGHTS
    if not path.is_file():
        raise HrtrackError(f"{path}: demo model weights not found (reinstall hrtrack or give --weights)")
    return load_estimator(
        path, DEMO_ARCH, DEMO_INPUT_SIZE, DEMO_LAYOUT, device, flip_test, backend=backend, precision=precision
    )


@dataclass(frozen=True)
class Setting:
    """How a synthetic set is tracked: which boxes, with or without flow propagation, which association."""

    boxes: str = "detections"  # "gt" (ground-truth boxes) or "detections" (the simulated detector)
    propagate: bool = True
    assoc: str = "flow-oks"
    two_stage: bool = True  # score-aware association (FlowTrackConfig.two_stage)
    merge: bool = True  # propagated and detected poses of one person folded (FlowTrackConfig.merge_propagated)
    track_buffer: float = TrackConfig.track_buffer  # seconds a lost track waits for re-identification (0: none)

    @property
    def label(self) -> str:
        if self.boxes == "gt":
            return "GT boxes"
        return "sim. detections + propagation" if self.propagate else "sim. detections, no propagation"

    @property
    def association(self) -> str:
        """The association column: the similarity, and the variant when it is not the default."""
        reid = (
            ""
            if self.track_buffer == TrackConfig.track_buffer
            else (", no re-id" if self.track_buffer == 0 else f", buffer {self.track_buffer:g} s")
        )
        if self.assoc != "flow-oks" or (self.two_stage and self.merge):
            return self.assoc + reid
        if not self.two_stage and not self.merge:
            paper = self.track_buffer == 0  # the paper's FlowTrack has no re-identification
            return "flow-oks, paper (1 stage, no merge" + (", no re-id)" if paper else ")" + reid)
        return ("flow-oks, 1 stage" if not self.two_stage else "flow-oks, no merge") + reid

    @property
    def slug(self) -> str:
        variant = ("" if self.two_stage else "-1stage") + ("" if self.merge else "-nomerge")
        variant += "" if self.track_buffer == TrackConfig.track_buffer else f"-buffer{self.track_buffer:g}"
        return f"{self.boxes}-{'prop' if self.propagate else 'noprop'}-{self.assoc}{variant}"


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
        raise HrtrackError(f"{gt_dir}: no synthetic sequences found")
    needs_flow = setting.assoc == "flow-oks" or (setting.propagate and setting.boxes != "gt")
    tracker = Tracker(
        estimator,
        flow=flow_spec if needs_flow else "none",
        device="cpu",
        propagate=setting.propagate and setting.boxes != "gt",
        assoc=setting.assoc,
        two_stage=setting.two_stage,
        merge=setting.merge,
        track_buffer=setting.track_buffer,
    )
    timer = StageTimer()
    for name in names:
        gt_file = gt_dir / f"{name}.json"
        source = annotation_source(gt_file, data)
        spec = f"gt:{gt_file}" if setting.boxes == "gt" else f"json:{data / 'detections' / (name + '.json')}"
        summary = tracker.track(source, out, render, name=name, detector=spec, progress=progress)
        timer.merge(summary.timer)
    return evaluate(gt_dir, out / "posetrack18"), timer


# ----------------------------------------------------------------------------- hrtrack demo


def run_demo(args: argparse.Namespace) -> int:
    """Run ``hrtrack demo``; returns the exit status."""
    if args.frames < 2:
        raise HrtrackError("--frames must be at least 2")
    if args.seed in (1000, 2000):
        print(
            f"hrtrack: warning: --seed {args.seed} is one the demo model was trained or validated on",
            file=sys.stderr,
        )
    out = Path(args.out)
    with OutputPlan() as plan:  # everything is made in a scratch folder, then moved into --out together
        items = {"synth": True, "posetrack17": True, "posetrack18": True, "tracks": True}
        items |= {"annotated.mp4": False, "metrics.json": False}
        for item, folder in items.items():
            plan.add(out / item, "--out", folder=folder)
        estimator = demo_estimator(args.weights, args.device, backend=args.backend)
        if not args.quiet:
            print(f"hrtrack: demo model {DEMO_ARCH}, {estimator.choice.describe()}", file=sys.stderr)
        t0 = time.perf_counter()
        work = plan.workdir(out)
        for item, folder in items.items():
            plan.add(out / item, "--out", folder=folder, temp=work / item)
        synth = SynthConfig(sequences=1, frames=args.frames, seed=args.seed, difficulty=args.difficulty)
        generate(synth, work / "synth", progress=not args.quiet)
        result, timer = track_synth(
            work / "synth", work, estimator, render=work / "annotated.mp4", progress=not args.quiet
        )
        atomic_write_json(to_jsonable(result), work / "metrics.json")
    seconds = time.perf_counter() - t0
    if not args.quiet:
        print(timer.summary(), file=sys.stderr)
    print(format_tables(result))
    print()
    print(format_identity_table(result))
    print(
        f"demo: {args.frames} frames ({args.difficulty}, seed {args.seed}) in {seconds:.0f} s: "
        f"mAP {result['ap']['total']:.1f}, MOTA {result['mota']['total']:.1f}, IDF1 {result['idf1']['total']:.1f}"
    )
    print(f"video {out / 'annotated.mp4'}, results {out / 'posetrack18'}, metrics {out / 'metrics.json'}")
    return 0
