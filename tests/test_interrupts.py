"""SIGTERM and SIGINT in the middle of a run leave nothing behind: ``track --render`` and ``synth``.

Each test starts ``hrtrack`` as a process, waits until it has written something (a temp file under
the output folder), sends the signal, and checks that the folder it ran in is exactly as before.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_bad_inputs import _snapshot

from tracker.synth import SynthConfig, generate

SEQ = "s/posetrack18/000001_synth.json"


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with one synthetic sequence long enough to be interrupted while it is tracked."""
    root = tmp_path_factory.mktemp("interrupts")
    generate(SynthConfig(sequences=1, frames=150, width=320, height=180, seed=11, write_video=False), root / "s")
    return root


def _interrupt(cwd: Path, argv: list[str], out: Path, sig: signal.Signals) -> int:
    """Run ``hrtrack argv`` in ``cwd``; once a file exists under ``out``, send ``sig``; the exit status."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tracker.cli", *argv],
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
    )
    deadline = time.monotonic() + 120
    try:
        while not (out.exists() and any(p.is_file() for p in out.rglob("*"))):
            if proc.poll() is not None:
                pytest.fail(f"hrtrack ended before it was interrupted: {proc.stderr.read().decode()[-2000:]}")
            if time.monotonic() > deadline:
                pytest.fail("hrtrack wrote nothing within 120 s")
            time.sleep(0.05)
        time.sleep(0.3)  # well inside the run: frames encoded, json records kept
        proc.send_signal(sig)
        status = proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    err = proc.stderr.read().decode()
    assert "Traceback" not in err, err
    assert "interrupted" in err, err
    return status


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_track_render_interrupted_leaves_nothing(clip: Path, sig: signal.Signals) -> None:
    before = _snapshot(clip)
    argv = ["track", SEQ, "--images-root", "s", "--detector", f"gt:{SEQ}", "--weights", "demo_synth_w16"]
    status = _interrupt(clip, [*argv, "--out", "o", "--render", "o/video.mp4"], clip / "o", sig)
    assert status == (143 if sig == signal.SIGTERM else 130)
    assert _snapshot(clip) == before


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_synth_interrupted_leaves_nothing(clip: Path, sig: signal.Signals) -> None:
    before = _snapshot(clip)
    argv = ["synth", "--out", "new", "--sequences", "2", "--frames", "300", "--size", "320x180"]
    status = _interrupt(clip, argv, clip / "new", sig)
    assert status == (143 if sig == signal.SIGTERM else 130)
    assert _snapshot(clip) == before


def test_synth_interrupted_keeps_an_earlier_set(clip: Path) -> None:
    """A second synth into the same folder, interrupted: the first set is still there, whole."""
    before = _snapshot(clip)
    argv = ["synth", "--out", "s", "--frames", "300", "--size", "320x180"]
    status = _interrupt(clip, argv, clip / "s" / "videos", signal.SIGTERM)
    assert status == 143
    assert _snapshot(clip) == before
