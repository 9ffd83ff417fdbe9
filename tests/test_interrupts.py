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
from collections.abc import Callable
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


def _interrupt(
    cwd: Path,
    argv: list[str],
    ready: Callable[[], bool],
    sig: signal.Signals,
    env: dict[str, str] | None = None,
    settle: float = 0.3,
) -> int:
    """Run ``hrtrack argv`` in ``cwd``; once ``ready()`` (and ``settle`` seconds more: well inside
    the run), send ``sig``; the exit status."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tracker.cli", *argv],
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1]), **(env or {})},
    )
    deadline = time.monotonic() + 120
    try:
        while not ready():
            if proc.poll() is not None:
                pytest.fail(f"hrtrack ended before it was interrupted: {proc.stderr.read().decode()[-2000:]}")
            if time.monotonic() > deadline:
                pytest.fail("hrtrack was not ready within 120 s")
            time.sleep(0.05)
        time.sleep(settle)
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


def _wrote_under(out: Path) -> Callable[[], bool]:
    return lambda: out.exists() and any(p.is_file() for p in out.rglob("*"))


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_track_render_interrupted_leaves_nothing(clip: Path, sig: signal.Signals) -> None:
    before = _snapshot(clip)
    argv = ["track", SEQ, "--images-root", "s", "--detector", f"gt:{SEQ}", "--weights", "demo_synth_w16"]
    status = _interrupt(clip, [*argv, "--out", "o", "--render", "o/video.mp4"], _wrote_under(clip / "o"), sig)
    assert status == (143 if sig == signal.SIGTERM else 130)
    assert _snapshot(clip) == before


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_synth_interrupted_leaves_nothing(clip: Path, sig: signal.Signals) -> None:
    before = _snapshot(clip)
    argv = ["synth", "--out", "new", "--sequences", "2", "--frames", "300", "--size", "320x180"]
    status = _interrupt(clip, argv, _wrote_under(clip / "new"), sig)
    assert status == (143 if sig == signal.SIGTERM else 130)
    assert _snapshot(clip) == before


def test_synth_interrupted_keeps_an_earlier_set(clip: Path) -> None:
    """A second synth into the same folder, interrupted: the first set is still there, whole."""
    before = _snapshot(clip)
    argv = ["synth", "--out", "s", "--frames", "300", "--size", "320x180"]
    status = _interrupt(clip, argv, _wrote_under(clip / "s" / "videos"), signal.SIGTERM)
    assert status == 143
    assert _snapshot(clip) == before


def _processes_with(marker: str) -> list[int]:
    """The processes whose environment holds ``marker`` (the run and the workers it spawned)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker.encode() in (entry / "environ").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_workers_run_interrupted_stops_every_worker(clip: Path, tmp_path: Path, sig: signal.Signals) -> None:
    """A ``--workers 2`` corpus run interrupted mid-way: the run ends, its workers end with it,
    and no temp file is left (sequences finished before the signal stay, by design)."""
    import uuid

    data = tmp_path / "data"
    generate(SynthConfig(sequences=3, frames=150, width=320, height=180, seed=12, write_video=False), data)
    marker = f"HRTRACK_TEST_MARK={uuid.uuid4().hex}"
    key, value = marker.split("=")
    argv = ["track", str(data / "posetrack18"), "--images-root", str(data), "--detector", "gt"]
    argv += ["--weights", "demo_synth_w16", "--workers", "2", "--out", str(tmp_path / "out"), "--quiet"]
    # ready: the run, the manager and at least one worker; then 5 s of tracking
    ready = lambda: len(_processes_with(marker)) >= 3  # noqa: E731
    status = _interrupt(tmp_path, argv, ready, sig, env={key: value}, settle=5)
    assert status == (143 if sig == signal.SIGTERM else 130)
    deadline = time.monotonic() + 15
    while _processes_with(marker) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _processes_with(marker) == [], "workers outlived the interrupted run"
    assert not [p for p in (tmp_path / "out").rglob(".*")]


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run a check as another user")
def test_a_shared_folder_is_writable_for_a_user_who_does_not_own_it() -> None:
    """Like /tmp: world-writable, owned by someone else. Planning an output there must not fail
    (restoring the folder's times is only allowed to its owner, and is skipped then)."""
    import shutil
    import tempfile

    top = Path(tempfile.mkdtemp(dir="/tmp"))  # pytest's own folders are private to root
    top.chmod(0o755)
    shared = top / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    from pose.files import OutputPlan

    pid = os.fork()
    if pid == 0:  # the child: another user, the check, its verdict as the exit status
        try:
            os.setgid(65534)
            os.setuid(65534)
            OutputPlan().add(shared / "run" / "x.json", "--out")
            os._exit(0)
        except BaseException:
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    shutil.rmtree(top)
    assert os.waitstatus_to_exitcode(status) == 0
