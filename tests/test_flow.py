"""Optical flow methods and the flow helpers."""

from __future__ import annotations

import importlib.util

import cv2
import numpy as np
import pytest
from synthetic import texture

from flow import make_flow, move_points, sample_flow
from flow.base import ScaledFlow


def _shifted_pair(dx: float, dy: float, shape=(240, 320)) -> tuple[np.ndarray, np.ndarray]:
    img = texture(np.random.default_rng(0), *shape)
    m = np.float32([[1, 0, dx], [0, 1, dy]])
    return img, cv2.warpAffine(img, m, (shape[1], shape[0]), borderMode=cv2.BORDER_REFLECT)


@pytest.mark.parametrize("spec", ["dis", "dis:ultrafast", "dis:fast", "farneback"])
@pytest.mark.parametrize("max_side", [None, 160])
def test_opencv_flow_recovers_a_known_shift(spec: str, max_side: int | None) -> None:
    prev, nxt = _shifted_pair(7.0, -4.0)
    flow = make_flow(spec, max_side).compute(prev, nxt)
    assert flow.shape == (240, 320, 2) and flow.dtype == np.float32
    inner = flow[40:-40, 40:-40].reshape(-1, 2)
    np.testing.assert_allclose(np.median(inner, 0), [7.0, -4.0], atol=0.35)


def test_sample_flow_is_bilinear_and_clamped() -> None:
    ys, xs = np.mgrid[0:5, 0:6].astype(np.float32)
    flow = np.stack([xs * 2, ys * 3], -1)  # linear field: bilinear sampling is exact
    pts = np.array([[1.5, 2.25], [0, 0], [10, -3]], np.float32)
    np.testing.assert_allclose(sample_flow(flow, pts), [[3.0, 6.75], [0, 0], [10, 0]])
    np.testing.assert_allclose(move_points(flow, pts[:1]), [[4.5, 9.0]])
    assert sample_flow(flow, np.zeros((0, 2))).shape == (0, 2)


def test_scaled_flow_rescales_vectors() -> None:
    class Constant:
        def compute(self, prev: np.ndarray, nxt: np.ndarray) -> np.ndarray:
            h, w = prev.shape[:2]
            return np.full((h, w, 2), (1.0, 2.0), np.float32)  # one working-resolution pixel

    flow = ScaledFlow(Constant(), max_side=100).compute(
        np.zeros((200, 400, 3), np.uint8), np.zeros((200, 400, 3), np.uint8)
    )
    assert flow.shape == (200, 400, 2)
    np.testing.assert_allclose(flow[0, 0], [4.0, 8.0])  # x 400/100, y 200/50


def test_flow_spec_errors() -> None:
    assert make_flow("none") is None
    for bad, message in [
        ("raft", "unknown flow"),
        ("dis:slowest", "unknown DIS preset"),
        ("ptlflow:", "ptlflow:MODEL"),
    ]:
        with pytest.raises(ValueError, match=message):
            make_flow(bad)
    with pytest.raises(ValueError, match="differ in size"):
        make_flow("dis").compute(np.zeros((10, 10, 3), np.uint8), np.zeros((12, 10, 3), np.uint8))


def test_missing_ptlflow_is_a_one_line_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name == "ptlflow" or name.startswith("ptlflow."):
            raise ImportError("No module named 'ptlflow'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(ValueError, match=r"pip install 'hrtrack\[ptlflow\]'") as err:
        make_flow("ptlflow:raft_small:none")
    assert "\n" not in str(err.value)


@pytest.mark.skipif(importlib.util.find_spec("ptlflow") is None, reason="ptlflow extra not installed")
def test_ptlflow_small_model_with_random_weights() -> None:
    prev, nxt = _shifted_pair(3.0, 1.0, (96, 128))
    flow = make_flow("ptlflow:rapidflow:none").compute(prev, nxt)
    assert flow.shape == (96, 128, 2) and flow.dtype == np.float32 and np.isfinite(flow).all()
    with pytest.raises(ValueError, match="needs a checkpoint"):
        make_flow("ptlflow:raft_small")
    with pytest.raises(ValueError, match="checkpoint file not found"):
        make_flow("ptlflow:raft_small:/nonexistent/raft.ckpt")
    with pytest.raises(ValueError, match="not in the cache|named checkpoints"):
        make_flow("ptlflow:raft_small:no_such_name")
