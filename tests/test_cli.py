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


def test_weights_export_fp16(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    import torch

    from pose.checkpoint import load_checkpoint, save_state_dict
    from pose.hrnet import build_model

    torch.manual_seed(0)
    model = build_model("hrnet_w8").eval()
    save_state_dict(model, tmp_path / "w.pth")
    assert (
        main(["weights", str(tmp_path / "w.pth"), "--arch", "hrnet_w8", "--export-fp16", str(tmp_path / "h.pth")]) == 0
    )
    assert "float16" in capsys.readouterr().out
    half = torch.load(tmp_path / "h.pth", weights_only=True)
    assert all(v.dtype == torch.float16 for v in half.values() if v.is_floating_point())
    assert (tmp_path / "h.pth").stat().st_size < 0.6 * (tmp_path / "w.pth").stat().st_size
    back = load_checkpoint(build_model("hrnet_w8"), tmp_path / "h.pth").eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(back(x), model(x), atol=2e-2)
