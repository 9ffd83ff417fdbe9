"""External heatmap networks (``--weights FILE.onnx|.xml``, ``PoseEstimator(file or callable)``),
on small networks generated here: each file is exported from a torch module, so the torch module
is the reference for what the runtimes must give; and the one-line errors of files that do not fit."""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from torch import nn

from pose.errors import HrtrackError
from pose.estimator import PoseEstimator
from pose.external import ExternalNetwork, describe_network
from pose.specs import backend_installed

SIZE = (64, 48)  # network input (height, width)


class TinyHeatmapNet(nn.Module):
    """A heatmap network in miniature: 1/4 resolution, ``joints`` channels, optional extra outputs."""

    def __init__(self, joints: int = 17, stride: int = 4, extra: bool = False, flat: bool = False) -> None:
        super().__init__()
        with torch.random.fork_rng():  # seeded here, the global generator left as it was (other tests use it)
            torch.manual_seed(0)
            self.body = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.AvgPool2d(stride))
            self.head = nn.Conv2d(8, joints, 3, padding=1)
        self.extra, self.flat = extra, flat

    def forward(self, x: torch.Tensor):
        y = self.head(self.body(x))
        if self.flat:
            return y.flatten(1)
        if self.extra:  # like PP-TinyPose: an argmax output beside the heatmaps
            return y.flatten(2).argmax(2), y
        return y


def export(net: nn.Module, path: Path, size=SIZE, dynamic_batch: bool = True, dynamic_hw: bool = False) -> Path:
    axes = {}
    if dynamic_batch or dynamic_hw:
        dims = ({0: "batch"} if dynamic_batch else {}) | ({2: "h", 3: "w"} if dynamic_hw else {})
        axes = {"input": dims}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            net.eval(),
            (torch.zeros(1, 3, *size),),
            str(path),
            input_names=["input"],
            dynamic_axes=axes or None,
            opset_version=17,
            dynamo=False,
        )
    return path


def image() -> np.ndarray:
    rng = np.random.default_rng(0)
    img = cv2.GaussianBlur(rng.integers(0, 255, (240, 320, 3), dtype=np.uint8), (7, 7), 2)
    return img


BOXES = np.array([[20, 30, 120, 200], [150, 40, 260, 230], [200, 100, 330, 250]], np.float32)


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch):
    monkeypatch.setenv("HRTRACK_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HRTRACK_OFFLINE", "1")


def reference(net: nn.Module, flip: bool = True):
    """The estimator with the torch module as a callable: what a file of that module must give."""
    net = net.eval()
    return PoseEstimator(lambda x: net(x) if not net.extra else net(x)[1], SIZE, flip_test=flip)(image(), BOXES)


@pytest.mark.parametrize("runtime", ["onnxruntime", "openvino"])
@pytest.mark.parametrize("dynamic_batch", [True, False])
def test_network_file_matches_its_torch_module(tmp_path, runtime, dynamic_batch):
    if not backend_installed(runtime):
        pytest.skip(f"{runtime} not installed")
    net = TinyHeatmapNet(extra=True)
    path = export(net, tmp_path / "net.onnx", dynamic_batch=dynamic_batch)
    with torch.inference_mode():
        ref = reference(net)
    est = PoseEstimator(path, backend=runtime, batch_size=4)  # batches of 2 crops + 2 mirrors
    assert (est.input_h, est.input_w) == SIZE and est.num_joints == 17 and est.precision == "f32"
    got = est(image(), BOXES)
    assert np.abs(got.keypoints - ref.keypoints).max() < 1e-3
    assert np.abs(got.scores - ref.scores).max() < 1e-5
    assert np.ptp(got.keypoints[..., 2]) > 0.01  # the crops really went through the network


def test_auto_calibrates_the_runtimes_of_a_network_file(tmp_path, capsys):
    net = TinyHeatmapNet()
    path = export(net, tmp_path / "net.onnx")
    est = PoseEstimator(path, backend="auto")
    expected = {"onnxruntime"} | ({"openvino"} if backend_installed("openvino") else set())
    assert est.choice.name in expected
    if len(expected) > 1:
        assert set(est.choice.timings) == expected and not est.choice.cached
        again = PoseEstimator(path, backend="auto")  # the cached calibration
        assert again.choice.cached and again.choice.name == est.choice.name


def test_callable_network_needs_no_module():
    net = TinyHeatmapNet().eval()
    calls = []

    def run(x: torch.Tensor) -> np.ndarray:  # e.g. another runtime's session: arrays out
        calls.append(x.shape)
        with torch.inference_mode():
            return net(x).numpy()

    est = PoseEstimator(run, SIZE, flip_test=False)
    poses = est(image(), BOXES)
    assert poses.keypoints.shape == (3, 17, 3) and calls[-1][1:] == (3, *SIZE)
    with torch.inference_mode():
        ref = PoseEstimator(lambda x: net(x), SIZE, flip_test=False)(image(), BOXES)
    np.testing.assert_allclose(poses.keypoints, ref.keypoints, atol=1e-5)


def test_dynamic_input_size(tmp_path):
    path = export(TinyHeatmapNet(), tmp_path / "dyn.onnx", dynamic_hw=True)
    with pytest.raises(HrtrackError, match="dynamic; give --input-size"):
        PoseEstimator(path, backend="onnxruntime")
    est = PoseEstimator(path, (96, 64), backend="onnxruntime")
    assert (est.input_h, est.input_w) == (96, 64)
    assert np.ptp(est(image(), BOXES).keypoints[..., 2]) > 0.01  # heatmaps came out of the network


@pytest.mark.parametrize(
    ("net", "size", "joints", "message"),
    [
        (TinyHeatmapNet(flat=True), None, 17, "no 4-D heatmap output"),
        (TinyHeatmapNet(stride=2), None, 17, "not 1/4 of the input 64x48"),
        (TinyHeatmapNet(joints=16), None, 17, "has 16 joints, the keypoint layout has 17"),
        (TinyHeatmapNet(), (128, 96), 17, "fixed at 64x48; --input-size 128x96 does not fit"),
    ],
)
def test_networks_that_do_not_fit(tmp_path, net, size, joints, message):
    path = export(net, tmp_path / "bad.onnx")
    with pytest.raises(HrtrackError, match=message) as err:
        ExternalNetwork(path, "onnxruntime", input_size=size, joints=joints)
    assert "\n" not in str(err.value) and str(path) in str(err.value)


def test_files_that_are_not_networks(tmp_path):
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not a model")
    with pytest.raises(HrtrackError, match="onnxruntime cannot load"):
        ExternalNetwork(junk, "onnxruntime")
    xml = tmp_path / "model.xml"
    xml.write_text("<net/>")
    with pytest.raises(HrtrackError, match=r"needs its weights model\.bin beside it"):
        ExternalNetwork(xml, "openvino")
    with pytest.raises(HrtrackError, match="--backend onnxruntime: cannot run model.xml"):
        (tmp_path / "model.bin").write_bytes(b"")
        ExternalNetwork(xml, "onnxruntime")
    with pytest.raises(HrtrackError, match="--backend torch"):
        PoseEstimator(export(TinyHeatmapNet(), tmp_path / "ok.onnx"), backend="torch")


def test_describe_network(tmp_path):
    info = describe_network(export(TinyHeatmapNet(extra=True), tmp_path / "two.onnx"))
    assert info.num_joints == 17 and info.input_size == SIZE
    assert info.heatmap_output == info.outputs[1][0]  # the 4-D one, not the argmax
    assert "(heatmaps)" in info.describe()


def run_cli(*argv: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tracker.cli", *argv], capture_output=True, text=True, cwd=cwd)


def test_cli_weights_describes_a_network_file_and_track_refuses_misfits(tmp_path):
    root = Path(__file__).resolve().parents[1]
    good = export(TinyHeatmapNet(extra=True), tmp_path / "good.onnx")
    r = run_cli("weights", str(good), cwd=root)
    assert r.returncode == 0, r.stderr
    assert "17 joints, input 64x48, heatmaps 16x12" in r.stdout and "(heatmaps)" in r.stdout
    bad = export(TinyHeatmapNet(joints=16), tmp_path / "bad.onnx")
    frames = tmp_path / "frames"
    frames.mkdir()
    for i in range(2):
        cv2.imwrite(str(frames / f"{i}.png"), image())
    out = tmp_path / "out"
    r = run_cli("track", str(frames), "--weights", str(bad), "--detector", "hog", "--out", str(out), cwd=root)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("hrtrack: error:") and "16 joints" in lines[0]
    assert not out.exists()
