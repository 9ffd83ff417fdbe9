"""``hrtrack bench corpus``: a corpus of synthetic sequences tracked serially (one torch thread,
and all), with ``--workers 2`` and with ``--ray``, in one run (wall time, ratio to serial, outputs
compared with the one-thread serial run: equal thread counts give identical bytes); and the peak
memory of one sequence against one ten times longer (flat memory in video length).

Every run is a fresh ``hrtrack track`` process, so that start-up (torch import, model loading,
Ray's start) counts as a user sees it; peak RSS is the process's own (``os.wait4``).
"""

from __future__ import annotations

import argparse
import contextlib
import filecmp
import importlib.util
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

from tracker.synth import SynthConfig, generate


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return f"{line.split(':', 1)[1].strip()}, {os.cpu_count()} cores"
    except OSError:
        pass
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"


def _run(argv: list[str]) -> tuple[float, float]:
    """Run ``hrtrack argv`` as a process: (wall seconds, peak RSS in MB)."""
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "tracker.cli", *argv], stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"hrtrack bench corpus: {' '.join(argv[:3])}... exited with {proc.returncode}")
    return time.perf_counter() - start, usage.ru_maxrss / 1024


def _same(a: Path, b: Path) -> bool:
    files = sorted(p.relative_to(a) for p in a.rglob("*.json"))
    return files == sorted(p.relative_to(b) for p in b.rglob("*.json")) and all(
        filecmp.cmp(a / f, b / f, shallow=False) for f in files
    )


def run_bench_corpus(args: argparse.Namespace) -> int:
    """Print the corpus table and the memory table."""
    work = Path(args.data) if args.data else Path(tempfile.mkdtemp(prefix="hrtrack-bench-corpus-"))
    size = (320, 180)
    print(f"hrtrack bench corpus on {_cpu()}")
    data = work / "corpus"
    _set(
        SynthConfig(sequences=args.sequences, frames=args.frames, width=size[0], height=size[1], write_video=False),
        data,
    )
    base = ["track", str(data / "posetrack18"), "--images-root", str(data), "--detector", "gt"]
    base += ["--weights", "demo_synth_w16", "--quiet", "--overwrite"]
    modes = [("serial, --threads 1", ["--threads", "1"]), ("serial (all threads)", [])]
    modes.append(("--workers 2 (1 thread each)", ["--workers", "2"]))
    if importlib.util.find_spec("ray") is not None:
        modes.append(("--ray (local instance)", ["--ray"]))
    else:
        print("(ray is not installed: pip install 'hrtrack[ray]' for its row)")
    rows, outs = [], []
    for label, extra in modes:
        out = work / f"out-{len(outs)}"
        seconds, _ = _run([*base, "--out", str(out), *extra])
        outs.append(out)
        rows.append((label, seconds))
    serial = rows[1][1]
    frames = args.sequences * args.frames
    print(f"\n{args.sequences} sequences x {args.frames} frames ({size[0]}x{size[1]}), demo W16 model, GT boxes")
    print("| run | wall s | frames/s | vs serial (all threads) | outputs vs serial --threads 1 |")
    print("|---|---|---|---|---|")
    for (label, seconds), out in zip(rows, outs, strict=True):
        same = "identical" if _same(outs[0], out) else "differ (other thread count)"
        print(f"| {label} | {seconds:.1f} | {frames / seconds:.1f} | {serial / seconds:.2f}x | {same} |")
    if args.memory_frames:
        short, long = args.memory_frames, args.memory_frames * 10
        print(f"\npeak RSS of one sequence, {short} against {long} frames ({size[0]}x{size[1]} video):")
        print("| frames | wall s | peak RSS MB |")
        print("|---|---|---|")
        results = []
        for n in (short, long):
            folder = work / f"memory-{n}"
            _set(SynthConfig(sequences=1, frames=n, width=size[0], height=size[1], write_frames=False, seed=77), folder)
            ann = folder / "posetrack18" / "000001_synth.json"
            video = folder / "videos" / "000001_synth.mp4"
            argv = ["track", str(video), "--detector", f"gt:{ann}", "--weights", "demo_synth_w16", "--quiet"]
            seconds, rss = _run([*argv, "--out", str(folder / "out"), "--render", str(folder / "out" / "video.mp4")])
            results.append(rss)
            print(f"| {n} | {seconds:.1f} | {rss:.0f} |")
        print(f"ratio {long} / {short} frames: {results[1] / results[0]:.3f}")
    print(f"\n(set and results in {work})")
    return 0


def _set(cfg: SynthConfig, folder: Path) -> None:
    """The synthetic set of ``cfg`` in ``folder``: the one kept from an earlier run when it was made
    with the same config (``--data``), else generated (never a set of other sizes, timed as this one)."""
    made = folder / "synth.json"
    if made.is_file():
        with contextlib.suppress(OSError, ValueError, KeyError):
            if json.loads(made.read_text())["config"] == json.loads(json.dumps(asdict(cfg.resolved()))):
                return
    generate(cfg, folder, option="--data")
