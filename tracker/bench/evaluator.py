"""``hrtrack bench eval``: time our evaluator on a large synthetic set, optionally against the official poseval.

:func:`run_eval_bench` writes a synthetic PoseTrack set (:mod:`tracker.synth.crosscheck`, default 50 sequences x
100 frames x up to 10 people) into a folder, times :func:`eval.evaluate` on it and, given a poseval
checkout, runs the official tool as a subprocess on the same files, reads its results and reports
the time ratio and the largest absolute difference per joint group.

poseval is run as ``<python> -m poseval.evaluate --groundTruth=GT/ --predictions=PRED/
--evalPoseTracking --evalPoseEstimation --outputDir=OUT`` from the checkout (the packaged layout of
leonid-pishchulin/poseval); the original layout (``py/evaluate.py`` with ``py-motmetrics`` next to
it) is run as a script. Its full-precision results are read from the ``total_AP_metrics.json`` /
``total_MOT_metrics.json`` files it writes; if those are missing, from its printed tables (one
decimal). ``<python>`` is ``--poseval-python``, else ``$HRTRACK_POSEVAL_PYTHON``, else the running
interpreter; poseval needs numpy, pandas, scipy, shapely, click, tqdm and motmetrics there.

Tied joint scores: poseval ranks detections with ``np.argsort`` over all frames in the order in
which ``glob`` lists the files (file-system order) and numpy's sort breaks ties by an
implementation detail that differs between numpy versions. We read the files sorted by name. So
with tied scores (e.g. predictions without scores, all -9999) the AP of the two tools can differ
by a fraction of a point although every count agrees; the synthetic set has continuous scores and
no ties.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from eval.api import GROUP_ORDER, EvalError, evaluate, to_jsonable
from eval.metrics import GROUPS
from eval.posetrack import NUM_JOINTS, json_decoder
from tracker.synth.crosscheck import CrossCheckConfig, write_synthetic

#: Speed and agreement targets of the issue: >= 20x faster, differences <= 0.01.
TARGET_RATIO = 20.0
TARGET_DIFF = 0.01
POSEVAL_PYTHON_ENV = "HRTRACK_POSEVAL_PYTHON"
_TOTALS = ("motp", "precision", "recall")


def _groups(per_joint: list[float]) -> dict[str, float]:
    """Group means of 15 per-joint values like poseval's table (a NaN joint makes its group NaN)."""
    v = np.asarray(per_joint[:NUM_JOINTS], dtype=float)
    return {name: float(v[list(idx)].mean()) for name, idx in GROUPS.items()}


def _tables_of(result: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Our result as {"ap": {group: v}, "mota": {group: v}, "totals": {motp, precision, recall}}."""
    return {
        "ap": {k: float(result["ap"][k]) for k in GROUP_ORDER},
        "mota": {k: float(result["mota"][k]) for k in GROUP_ORDER},
        "totals": {k: float(result[k]["total"]) for k in _TOTALS},
    }


def parse_poseval_tables(text: str) -> dict[str, dict[str, float]]:
    """The AP and MOT tables that poseval prints (values with one decimal)."""

    def row_after(title: str) -> list[float]:
        lines = text.splitlines()
        for k, line in enumerate(lines):
            if line.strip().startswith(title):
                for row in lines[k + 1 :]:
                    cells = [c.strip() for c in row.strip().rstrip("\\").strip("&").split("&")]
                    if cells and re.fullmatch(r"-?(\d+(\.\d*)?|nan|inf)", cells[0]):
                        return [float(c) for c in cells]
        raise EvalError(f"poseval output has no '{title}' table")

    ap = row_after("Average Precision (AP) metric:")
    mot = row_after("Multiple Object Tracking (MOT) metrics:")
    if len(ap) != 8 or len(mot) != 11:
        raise EvalError(f"unexpected poseval table sizes {len(ap)} and {len(mot)}")
    return {
        "ap": dict(zip(GROUP_ORDER, ap, strict=True)),
        "mota": dict(zip(GROUP_ORDER, mot[:8], strict=True)),
        "totals": dict(zip(_TOTALS, mot[8:], strict=True)),
    }


def read_poseval_json(out_dir: str | os.PathLike) -> dict[str, dict[str, float]] | None:
    """poseval's full-precision results from the ``total_*_metrics.json`` files of its output folder."""
    out_dir = Path(out_dir)
    ap_file, mot_file = out_dir / "total_AP_metrics.json", out_dir / "total_MOT_metrics.json"
    if not (ap_file.is_file() and mot_file.is_file()):
        return None
    ap = json.loads(ap_file.read_text())["ap"]
    mot = json.loads(mot_file.read_text())
    return {
        "ap": {**_groups(ap), "total": float(ap[NUM_JOINTS])},
        "mota": {**_groups(mot["mota"]), "total": float(mot["mota"][NUM_JOINTS])},
        "totals": {
            "motp": float(mot["motp"][NUM_JOINTS]),
            "precision": float(mot["pre"][NUM_JOINTS]),
            "recall": float(mot["rec"][NUM_JOINTS]),
        },
    }


def poseval_command(
    checkout: str | os.PathLike, python: str, gt: Path, pred: Path, out: Path
) -> tuple[list[str], Path, dict]:
    """Command line, working folder and environment that run the official tool of ``checkout``."""
    checkout = Path(checkout).expanduser().resolve()
    flags = [
        f"--groundTruth={gt}{os.sep}",  # poseval joins the folder and the file name by string concatenation
        f"--predictions={pred}{os.sep}",
        "--evalPoseTracking",
        "--evalPoseEstimation",
        f"--outputDir={out}",
    ]
    env = dict(os.environ)
    if (checkout / "evaluate.py").is_file() and (checkout / "__init__.py").is_file():
        checkout = checkout.parent  # the package folder inside the checkout was given
    if (checkout / "poseval" / "evaluate.py").is_file():
        return [python, "-m", "poseval.evaluate", *flags], checkout, env
    if (checkout / "py" / "evaluate.py").is_file():
        extra = str(checkout / "py-motmetrics")
        env["PYTHONPATH"] = extra + os.pathsep + env.get("PYTHONPATH", "") if env.get("PYTHONPATH") else extra
        return [python, "evaluate.py", *flags], checkout / "py", env
    if (checkout / "evaluate.py").is_file():
        return [python, "evaluate.py", *flags], checkout, env
    raise EvalError(f"{checkout} is not a poseval checkout (no poseval/evaluate.py or py/evaluate.py)")


def run_poseval(
    checkout: str | os.PathLike, gt: Path, pred: Path, out: Path, python: str | None = None
) -> tuple[dict[str, dict[str, float]], float, str]:
    """Run the official tool; returns its results, its wall time in seconds and the results' source."""
    python = python or os.environ.get(POSEVAL_PYTHON_ENV) or sys.executable
    cmd, cwd, env = poseval_command(checkout, python, gt, pred, out)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        last = (proc.stderr.strip() or proc.stdout.strip() or "no output").splitlines()[-1]
        raise EvalError(f"poseval failed (exit {proc.returncode}): {last}")
    tables = read_poseval_json(out)
    if tables is not None:
        return tables, seconds, "json"
    return parse_poseval_tables(proc.stdout), seconds, "printed tables"


def _diff(a: float, b: float) -> float:
    """|a - b|, 0 when both are NaN, inf when only one is."""
    if math.isnan(a) and math.isnan(b):
        return 0.0
    if math.isnan(a) or math.isnan(b):
        return math.inf
    return abs(a - b)


def compare_tables(ours: dict, theirs: dict) -> dict[str, float]:
    """Largest |difference| per group over AP and MOTA, plus the MOTP / precision / recall totals."""
    out = {
        g: max(_diff(ours["ap"][g], theirs["ap"][g]), _diff(ours["mota"][g], theirs["mota"][g])) for g in GROUP_ORDER
    }
    for k in _TOTALS:
        out[k] = _diff(ours["totals"][k], theirs["totals"][k])
    return out


def run_eval_bench(
    sequences: int = 50,
    frames: int = 100,
    people: int = 10,
    poseval: str | os.PathLike | None = None,
    workdir: str | os.PathLike | None = None,
    seed: int = 0,
    poseval_python: str | None = None,
    fmt: str = "2017",
    repeat: int = 1,
    verbose: bool = True,
) -> dict[str, Any]:
    """Generate a synthetic set, time :func:`eval.evaluate` (best of ``repeat``) and, with a poseval
    checkout, the official tool on the same files. Prints a report when ``verbose``.

    Returns ``{"config", "num_frames", "generate_s", "ours_s", "ours": tables}`` plus, with
    ``poseval``, ``"poseval_s", "ratio", "poseval": tables, "poseval_source", "diff": {group: max
    |difference|}, "max_diff", "meets_target"``. Tables are ``{"ap": {group: %}, "mota": {group: %},
    "totals": {"motp", "precision", "recall"}}``. Files go to ``workdir`` (kept) or a temporary folder."""
    cfg = CrossCheckConfig(sequences=sequences, frames=frames, people=people, seed=seed)
    with tempfile.TemporaryDirectory(prefix="hrtrack_bench_eval_") as tmp:
        root = Path(workdir) if workdir is not None else Path(tmp)
        t0 = time.perf_counter()
        gt, pred = write_synthetic(root, cfg, fmt=fmt)
        for folder in (gt, pred):
            if len(list(folder.glob("*.json"))) != sequences:
                raise EvalError(f"{folder} holds other .json files than the synthetic set; use an empty workdir")
        report: dict[str, Any] = {
            "config": {**cfg.__dict__, "format": fmt},
            "json_decoder": json_decoder(),
            "folder": str(root) if workdir is not None else None,
            "generate_s": time.perf_counter() - t0,
        }
        times = []
        for _ in range(max(1, repeat)):
            t0 = time.perf_counter()
            result = evaluate(gt, pred)
            times.append(time.perf_counter() - t0)
        report.update(num_frames=result["num_frames"], ours_s=min(times), ours=_tables_of(result))
        if poseval is not None:
            out = root / "poseval_out"
            tables, seconds, source = run_poseval(poseval, gt, pred, out, poseval_python)
            diff = compare_tables(report["ours"], tables)
            report.update(
                poseval_s=seconds,
                ratio=seconds / report["ours_s"],
                poseval=tables,
                poseval_source=source,
                diff=diff,
                max_diff=max(diff.values()),
            )
            report["meets_target"] = bool(report["ratio"] >= TARGET_RATIO and report["max_diff"] <= TARGET_DIFF)
    if verbose:
        print(format_bench(report))
    return report


def format_bench(report: dict[str, Any]) -> str:
    """Human-readable summary of :func:`run_eval_bench`'s result."""
    c = report["config"]
    lines = [
        f"synthetic set: {c['sequences']} sequences x {c['frames']} frames x up to {c['people']} people "
        f"(seed {c['seed']}, {c['format']} format), {report['num_frames']} scored frames, "
        f"generated in {report['generate_s']:.1f} s",
        f"hrtrack eval: {report['ours_s']:.2f} s   AP {report['ours']['ap']['total']:.2f}   "
        f"MOTA {report['ours']['mota']['total']:.2f}   (json decoder: {report['json_decoder']})",
    ]
    if "poseval_s" in report:
        lines.append(
            f"poseval:      {report['poseval_s']:.2f} s   ratio {report['ratio']:.1f}x (target >= {TARGET_RATIO:g}x)"
        )
        lines.append(f"{'group':<10} {'AP ours':>9} {'poseval':>9} {'MOTA ours':>10} {'poseval':>9} {'max|diff|':>10}")
        o, p, d = report["ours"], report["poseval"], report["diff"]
        for g in GROUP_ORDER:
            lines.append(
                f"{g:<10} {o['ap'][g]:9.3f} {p['ap'][g]:9.3f} {o['mota'][g]:10.3f} {p['mota'][g]:9.3f} {d[g]:10.2e}"
            )
        for k in _TOTALS:
            lines.append(f"{k:<10} {o['totals'][k]:9.3f} {p['totals'][k]:9.3f} {'':>10} {'':>9} {d[k]:10.2e}")
        verdict = "meets" if report["meets_target"] else "MISSES"
        lines.append(
            f"largest difference {report['max_diff']:.2e} (target <= {TARGET_DIFF:g}, poseval values from "
            f"{report['poseval_source']}); {verdict} the target"
        )
    return "\n".join(lines)


def run_bench_eval_cli(args: argparse.Namespace) -> int:
    """Run ``hrtrack bench eval`` with parsed ``args`` (see :func:`add_bench_eval_args`); returns the exit code."""
    report = run_eval_bench(
        sequences=args.sequences,
        frames=args.frames,
        people=args.people,
        poseval=args.poseval,
        workdir=args.workdir,
        seed=args.seed,
        poseval_python=args.poseval_python,
        fmt=args.fmt,
        repeat=args.repeat,
    )
    if args.json_out:
        from pose.files import atomic_write_json

        atomic_write_json(to_jsonable(report), args.json_out)
    if args.check and "meets_target" in report and not report["meets_target"]:
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m tracker.bench.evaluator``: ``hrtrack bench eval`` with the same options."""
    from tracker.cli import main as hrtrack_main

    return hrtrack_main(["bench", "eval", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
