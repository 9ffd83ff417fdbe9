"""The hrtrack command line: bench output and one-line errors."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tracker.cli import main


def test_bench_pose_rows_follow_from_the_measured_time() -> None:
    """Each row's figures derive from its own measured time (one short W32 run); the printed line is the row."""
    from tracker.bench.network import run_pose_bench

    printed: list[str] = []
    rows = run_pose_bench((("hrnet_w32", 256, 192),), (1,), ("optimized",), min_time=0.01, echo=printed.append)
    assert len(rows) == 1
    row = rows[0]
    assert (row.arch, row.input_size, row.batch, row.mode) == ("hrnet_w32", "256x192", 1, "optimized")
    assert row.ms_per_crop > 0 and row.crops_per_s == pytest.approx(1000 / row.ms_per_crop, rel=1e-9)
    assert row.gflops == pytest.approx(2 * 7.1 * row.crops_per_s, rel=1e-9)  # the paper's 7.1 GMACs
    line = next(text for text in printed if text.startswith("hrnet_w32"))
    assert line.split()[4:6] == [f"{row.ms_per_crop:.1f}", f"{row.crops_per_s:.2f}"]


def test_eval_help_does_not_import_torch(tmp_path) -> None:
    """The one CLI imports a command's modules only when it runs: ``hrtrack eval`` stays light."""
    code = (
        "import sys; from tracker.cli import build_parser; "
        f"build_parser().parse_args(['eval', '--gt', {str(tmp_path)!r}, '--pred', {str(tmp_path)!r}]); "
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_a_bug_is_one_line_with_exit_1_and_its_traceback_with_debug(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Only user errors exit 2; a bug (here a ValueError that is not an HrtrackError) says so in one
    line with exit status 1, and ``--debug`` (or HRTRACK_DEBUG=1) shows its traceback."""
    import tracker.cli as cli
    from tracker.commands import models

    def broken(args: object) -> int:
        raise ValueError("an internal bug")

    monkeypatch.setattr(models, "cmd_models", broken)
    assert cli.main(["models"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "internal error (ValueError: an internal bug)" in err and "--debug" in err
    with pytest.raises(ValueError, match="internal bug"):
        cli.main(["models", "--debug"])
    monkeypatch.setenv("HRTRACK_DEBUG", "1")
    with pytest.raises(ValueError, match="internal bug"):
        cli.main(["models"])


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["bench", "pose", "--arch", "hrnet_w32", "--input-size", "320x256"], "no published GMACs"),
        (["bench", "pose", "--modes", "fast"], "--modes: unknown 'fast'"),
        (["weights", "/nonexistent/w.pth"], "/nonexistent/w.pth: no such file"),
        (["weights", __file__, "--arch", "resnet"], "unknown architecture"),
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
