"""Training-step benchmark: runs and reports a positive images/s figure."""

from __future__ import annotations

import pytest

from tracker.bench.training import bench_train_step, run_train_bench


def test_train_bench_small_network(capsys: pytest.CaptureFixture[str]) -> None:
    rows = run_train_bench("cpu", batch=2, steps=1, arch="hrnet_w8", input_size=(64, 64), warmup=0)
    assert [(r.device, r.amp) for r in rows[:2]] == [("cpu", False), ("cpu", True)]
    for r in rows:  # the reported rate is the measured step time's, for the batch trained
        assert r.step_seconds > 0 and r.images_per_s == pytest.approx(r.batch / r.step_seconds)
        assert (r.batch, r.arch, r.input_size) == (2, "hrnet_w8", (64, 64))
    out = capsys.readouterr().out
    assert "train step hrnet_w8 64x64 batch 2 on cpu, float32" in out and "images/s" in out
    assert "train step hrnet_w8 64x64 batch 2 on cpu, bf16 autocast" in out


def test_train_bench_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="steps and batch"):
        bench_train_step(steps=0)
