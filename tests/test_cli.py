"""The hrtrack command line: bench output and one-line errors."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tracker.cli import main


def test_bench_pose_prints_a_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "pose", "--quick", "--batch", "1", "--modes", "optimized"]) == 0
    lines = capsys.readouterr().out.splitlines()
    row = [line for line in lines if line.startswith("hrnet_w32")]
    assert len(row) == 1
    fields = row[0].split()
    assert fields[:4] == ["hrnet_w32", "256x192", "1", "optimized"]
    ms, crops, gflops, roof = map(float, fields[4:8])
    assert ms > 0 and crops > 0 and gflops > 0 and roof > 0
    assert crops == pytest.approx(1000 / ms, rel=0.01)
    assert gflops == pytest.approx(2 * 7.1 * crops, rel=0.01)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["bench", "pose", "--arch", "hrnet_w32", "--input-size", "320x256"], "no published GMACs"),
        (["bench", "pose", "--modes", "fast"], "unknown mode"),
        (["weights", "/nonexistent/w.pth"], "checkpoint file not found"),
        (["weights", "x.pth", "--arch", "resnet"], "unknown architecture"),
    ],
)
def test_errors_are_one_line(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("hrtrack: error: ") and message in err and err.count("\n") == 1


def test_console_script_entry_point() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "tracker.cli", "--help"], capture_output=True, text=True, check=True
    ).stdout
    assert "bench" in out and "weights" in out
