"""Pose-network backends: equal heatmaps on every runtime, the ONNX export cache, ``auto``'s calibration."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from pose import backends, precision
from pose.checkpoint import save_state_dict
from pose.errors import HrtrackError
from pose.estimator import PoseEstimator
from pose.hrnet import build_model
from pose.precision import native_bf16
from tracker.bench.network import lively_weights
from tracker.cli import main

SIZE = (128, 96)


@pytest.fixture(scope="module")
def model() -> torch.nn.Module:
    return lively_weights(build_model("hrnet_w16"), SIZE, seed=3)


@pytest.fixture(scope="module")
def weights(model: torch.nn.Module, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("weights") / "lively_w16.pth"
    save_state_dict(model, path)
    return path


@pytest.fixture(scope="module")
def crops() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (5, *SIZE, 3), dtype=np.uint8)


@pytest.fixture(scope="module")
def reference(model: torch.nn.Module, crops: np.ndarray) -> torch.Tensor:
    """The plain model's heatmaps (no BN folding, no channels_last), flip test included."""
    return PoseEstimator(model, SIZE, prepare=False).heatmaps(crops)


def test_lively_weights_give_heatmaps_far_from_zero(reference: torch.Tensor) -> None:
    """Freshly initialised HRNet outputs ~1e-16, which would hide any difference between runtimes."""
    assert 0.3 < float(reference.abs().max()) <= 2.0
    assert float(reference.std()) > 0.02


@pytest.mark.parametrize("name", backends.BACKENDS)
def test_every_backend_gives_the_plain_models_heatmaps(
    name: str, model: torch.nn.Module, weights: Path, crops: np.ndarray, reference: torch.Tensor
) -> None:
    """Float32 heatmaps within 1e-4 of the plain torch model, at any batch size (dynamic batch)."""
    if not backends.available(name):
        pytest.skip(f"{name} is not installed")
    for batch_size in (32, 3):  # 3: batches of 1 crop + its mirror image, and a last odd one
        estimator = PoseEstimator(model, SIZE, backend=name, weights=weights, batch_size=batch_size)
        assert estimator.backend.name == name and estimator.backend.precision == "f32"
        assert float((estimator.heatmaps(crops) - reference).abs().max()) < 1e-4


@pytest.mark.parametrize("name", ["torch", "openvino"])
def test_bf16_backends_deviate_boundedly(
    name: str, model: torch.nn.Module, weights: Path, crops: np.ndarray, reference: torch.Tensor
) -> None:
    if not backends.available(name):
        pytest.skip(f"{name} is not installed")
    if name == "openvino" and not native_bf16("cpu"):
        pytest.skip("OpenVINO runs bfloat16 only on CPUs that have it (AVX512-BF16, AMX)")
    estimator = PoseEstimator(model, SIZE, backend=name, weights=weights, dtype=torch.bfloat16)
    assert estimator.backend.precision == "bf16"
    heatmaps = estimator.heatmaps(crops)
    deviation = (heatmaps - reference).abs()
    # bf16 differs, and not by much (hrtrack bench synth --bf16 gives its effect on mAP)
    assert 0 < float(deviation.mean()) < 0.05 and float(deviation.max()) < 0.5


def test_openvino_asked_for_bf16_without_it_says_it_runs_float32(
    model: torch.nn.Module, weights: Path, crops: np.ndarray, reference: torch.Tensor, capsys
) -> None:
    """OpenVINO takes the bf16 hint on any CPU and quietly runs float32 where bf16 is not native:
    the estimator reports what really runs, and warns."""
    if not backends.available("openvino") or native_bf16("cpu"):
        pytest.skip("needs OpenVINO on a CPU without native bfloat16")
    estimator = PoseEstimator(model, SIZE, backend="openvino", weights=weights, precision="bf16")
    assert estimator.precision == "f32" and estimator.dtype == torch.float32
    assert "--precision bf16: no native bfloat16 on cpu (openvino runs float32)" in capsys.readouterr().err
    assert float((estimator.heatmaps(crops) - reference).abs().max()) < 1e-4


def test_onnx_export_is_cached_beside_the_weights_and_follows_their_content(
    model: torch.nn.Module, tmp_path: Path
) -> None:
    path = tmp_path / "model.pth"
    save_state_dict(model, path)
    PoseEstimator(model, SIZE, backend="onnxruntime", weights=path)
    (export,) = tmp_path.glob("model.*.onnx")
    assert f".{SIZE[0]}x{SIZE[1]}." in export.name
    stamp = export.stat().st_mtime_ns
    PoseEstimator(model, SIZE, backend="onnxruntime", weights=path)
    assert export.stat().st_mtime_ns == stamp  # reused, not exported again

    other = lively_weights(build_model("hrnet_w16"), SIZE, seed=4)
    save_state_dict(other, path)  # new weights in the same file: a new export, the old one removed
    estimator = PoseEstimator(other, SIZE, backend="onnxruntime", weights=path)
    (new,) = tmp_path.glob("model.*.onnx")
    assert new != export
    crops = np.full((1, *SIZE, 3), 128, np.uint8)
    expected = PoseEstimator(other, SIZE, prepare=False).heatmaps(crops)
    assert float((estimator.heatmaps(crops) - expected).abs().max()) < 1e-4


def test_bundled_weights_export_to_the_cache_not_the_package(weights: Path) -> None:
    package = Path(backends.__file__).resolve().parents[1] / "pose" / "assets"
    bundled = next(package.glob("*.pth"))
    assert backends.onnx_cache_path(bundled, SIZE).parent == backends.hrtrack_home() / "onnx"
    assert backends.onnx_cache_path(weights, SIZE).parent == weights.resolve().parent


def test_auto_times_every_candidate_once_and_then_reads_the_cache(
    model: torch.nn.Module, weights: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HRTRACK_HOME", str(tmp_path))
    first = PoseEstimator(model, SIZE, backend="auto", weights=weights)
    names = backends.candidates(torch.device("cpu"), ["f32"], compiled=False)
    assert not first.choice.cached and set(first.choice.timings) == set(names)
    assert first.backend.name == min(first.choice.timings, key=first.choice.timings.__getitem__)
    assert "calibrated now" in first.choice.describe()
    table = json.loads((tmp_path / "calibration.json").read_text())
    (key,) = table
    assert "hrnet_w16 128x96 f32" in key and f"{torch.get_num_threads()} threads" in key

    second = PoseEstimator(model, SIZE, backend="auto", weights=weights)
    assert second.choice.cached and second.backend.name == first.backend.name

    table[key]["choice"] = "onnxruntime"  # the cached choice is the one used
    (tmp_path / "calibration.json").write_text(json.dumps(table))
    assert PoseEstimator(model, SIZE, backend="auto", weights=weights).backend.name == "onnxruntime"

    (tmp_path / "calibration.json").write_text("{not json")  # a damaged cache: calibrated again
    again = PoseEstimator(model, SIZE, backend="auto", weights=weights)
    assert not again.choice.cached and json.loads((tmp_path / "calibration.json").read_text())


def test_auto_does_without_a_backend_that_fails_on_this_model(
    model: torch.nn.Module, weights: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setenv("HRTRACK_HOME", str(tmp_path))

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("exporter cannot handle this graph\nmore detail")

    fresh = tmp_path / "fresh.pth"  # no export of it exists yet
    save_state_dict(model, fresh)
    monkeypatch.setattr(backends, "export_onnx", broken)
    estimator = PoseEstimator(model, SIZE, backend="auto", weights=fresh)
    assert estimator.backend.name == "torch"
    err = capsys.readouterr().err
    assert "--backend auto: onnxruntime does not run this model (exporter cannot handle this graph)" in err
    with pytest.raises(RuntimeError, match="exporter"):  # asked for by name: the error is the user's to see
        PoseEstimator(model, SIZE, backend="onnxruntime", weights=fresh)


def test_auto_with_bf16_never_picks_onnxruntime(model: torch.nn.Module, weights: Path) -> None:
    names = backends.candidates(torch.device("cpu"), ["bf16"], compiled=False)
    assert "onnxruntime bf16" not in names and "torch bf16" in names
    assert backends.candidates(torch.device("cpu"), ["f32"], compiled=True) == ["torch"]
    assert backends.candidates(torch.device("cuda"), ["f32", "bf16"], compiled=False) == ["torch", "torch bf16"]
    assert backends.candidates(torch.device("cpu"), ["f32", "bf16"], False, "onnxruntime") == ["onnxruntime"]


def test_auto_bf16_leaves_out_openvino_where_it_would_run_float32(monkeypatch: pytest.MonkeyPatch) -> None:
    """Asked for bf16 on a CPU without it, OpenVINO would run float32 (and win the timing)."""
    if not backends.available("openvino"):
        pytest.skip("openvino is not installed")
    fake_cpu(monkeypatch)
    assert backends.candidates(torch.device("cpu"), ["bf16"], compiled=False) == ["torch bf16"]
    assert backends.candidates(torch.device("cpu"), ["bf16"], False, "openvino") == ["openvino bf16"]  # by name
    fake_cpu(monkeypatch, "amx_bf16")
    assert backends.candidates(torch.device("cpu"), ["bf16"], compiled=False) == ["torch bf16", "openvino bf16"]


def fake_cpu(monkeypatch: pytest.MonkeyPatch, *flags: str) -> None:
    """Make the CPU's flags ``flags`` (and no CUDA) for :mod:`pose.precision`."""
    monkeypatch.setattr(precision, "cpu_flags", lambda: frozenset({"avx2", "fma", *flags}))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


@pytest.mark.parametrize(
    ("flags", "allowed", "expected"),
    [
        ((), True, ["f32"]),
        (("avx512f",), True, ["f32"]),  # AVX-512 without its BF16 extension
        (("avx512f", "avx512_bf16"), True, ["f32", "bf16"]),
        (("amx_tile", "amx_bf16"), True, ["f32", "bf16"]),
        (("avx512f", "avx512_bf16"), False, ["f32"]),  # native, but the evidence said no
    ],
)
def test_auto_precision_includes_bf16_only_where_native_and_allowed(
    flags: tuple[str, ...], allowed: bool, expected: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_cpu(monkeypatch, *flags)
    monkeypatch.setattr(precision, "BF16_IN_AUTO", allowed)
    assert precision.precisions("auto", "cpu") == expected
    assert precision.precisions("auto", "cuda") == ["f32"]  # no CUDA here
    assert precision.precisions("f32", "cpu") == ["f32"] and precision.precisions("bf16", "cpu") == ["bf16"]


def test_auto_never_times_bf16_without_native_support(
    model: torch.nn.Module, weights: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HRTRACK_HOME", str(tmp_path))
    fake_cpu(monkeypatch, "avx512f")
    est = PoseEstimator(model, SIZE, backend="auto", precision="auto", weights=weights)
    assert est.precision == "f32" and not any("bf16" in name for name in est.choice.timings)
    fake_cpu(monkeypatch, "avx512f", "avx512_bf16")  # as if native and allowed: bf16 is timed, in its own calibration
    monkeypatch.setattr(precision, "BF16_IN_AUTO", True)
    est = PoseEstimator(model, SIZE, backend="torch", precision="auto", weights=weights)
    assert set(est.choice.timings) == {"torch", "torch bf16"}
    assert est.precision == ("bf16" if est.choice.name == "torch bf16" else "f32")
    assert len(json.loads((tmp_path / "calibration.json").read_text())) == 2


def test_precision_f32_gives_the_plain_models_heatmaps(
    model: torch.nn.Module, weights: Path, crops: np.ndarray, reference: torch.Tensor, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_cpu(monkeypatch, "amx_bf16")  # even where bf16 is native
    est = PoseEstimator(model, SIZE, backend="torch", precision="f32", weights=weights)
    assert est.precision == "f32" and est.choice.name == "torch"
    assert float((est.heatmaps(crops) - reference).abs().max()) < 1e-4


@pytest.mark.parametrize(
    ("name", "device", "bf16", "compiled", "message"),
    [
        ("onnxruntime", "cpu", True, False, "no bfloat16"),
        ("onnxruntime", "cuda", False, False, "CPU only"),
        ("openvino", "cpu", False, True, "--compile is torch's"),
        ("tpu", "cpu", False, False, "unknown"),
    ],
)
def test_impossible_backend_choices_are_errors(
    name: str, device: str, bf16: bool, compiled: bool, message: str
) -> None:
    with pytest.raises(HrtrackError, match=message):
        backends.check_backend(name, torch.device(device), bf16, compiled)


def test_the_command_lines_names_match_the_implementations() -> None:
    """The CLI lists bench modes without importing torch; they must be the benchmark's own."""
    from tracker.bench import network
    from tracker.commands import bench as cli

    assert set(cli.POSE_BENCH_MODES) == set(network.MODES)
    assert set(network.DEFAULT_MODES) == {m for m in cli.POSE_BENCH_MODES if not m.endswith("compiled")}


def test_backend_option_is_checked_when_parsed(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch) -> None:
    video = tmp_path / "v.mp4"
    video.write_bytes(b"")
    assert main(["track", str(video), "--backend", "tpu"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--backend" in err and "auto, torch, onnxruntime, openvino" in err
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda n, *a: None if n == "openvino" else real(n, *a))
    assert main(["track", str(video), "--backend", "openvino"]) == 2
    assert "hrtrack[openvino]" in capsys.readouterr().err
