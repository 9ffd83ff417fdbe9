"""Local flow checkpoints for ``--flow ptlflow:MODEL:FILE[:iters=N]``: the official RAFT-small weights
(a ``module.``-prefixed plain state_dict) on real frames, ptlflow's own checkpoint form, the
``iters`` option, and a one-line error for each way a file can be wrong."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from flow import make_flow
from flow.ptlflow_flow import import_ptlflow, set_iters
from pose.errors import HrtrackError

try:  # not pytest.importorskip("ptlflow"): on CPU torch, ptlflow imports only after import_ptlflow's fix-up
    import_ptlflow()
except HrtrackError:
    pytest.skip("the optional ptlflow extra is not installed", allow_module_level=True)

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
OFFICIAL = SHARED / "models" / "raft_small_official.pth"
FRAMES = SHARED / "bonn_posetrack" / "videos" / "060470979"
SIDE = 256  # working resolution of the real-frame tests: small, to keep them fast


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HRTRACK_OFFLINE", "1")  # nothing here may reach the network


@pytest.fixture(scope="module", autouse=True)
def _one_thread() -> Iterator[None]:
    """One torch thread: on a busy machine two threads of RAFT can be many times slower than one."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def official() -> Path:
    if not OFFICIAL.is_file():
        pytest.skip(f"{OFFICIAL} is not present")
    return OFFICIAL


@pytest.fixture(scope="module")
def frames() -> tuple[np.ndarray, np.ndarray]:
    paths = [FRAMES / "00001.jpg", FRAMES / "00002.jpg"]
    if not all(p.is_file() for p in paths):
        pytest.skip(f"the Bonn frames under {FRAMES} are not present")
    first, second = (cv2.imread(str(p)) for p in paths)
    assert first is not None and second is not None
    return first, second


@pytest.fixture(scope="module")
def default_flow(official: Path, frames: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    flow = make_flow(f"ptlflow:raft_small:{official}", max_side=SIDE)
    assert flow.method.model.iters == 32  # ptlflow's default, untouched without the option
    return flow.compute(*frames)


@pytest.fixture(scope="module")
def random_state() -> dict[str, torch.Tensor]:
    """ptlflow's raft_small with random weights, as a state_dict."""
    return import_ptlflow().get_model("raft_small").state_dict()


def _grey(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY).astype(np.float32)


def photometric_error(first: np.ndarray, second: np.ndarray, flow: np.ndarray) -> float:
    """Mean absolute grey-level difference between ``first`` and ``second`` warped back by ``flow``."""
    h, w = flow.shape[:2]
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    back = cv2.remap(_grey(second), xs + flow[..., 0], ys + flow[..., 1], cv2.INTER_LINEAR, None, cv2.BORDER_REPLICATE)
    return float(np.abs(_grey(first) - back).mean())


def _load_error(spec: str) -> str:
    with pytest.raises(HrtrackError) as err:
        make_flow(spec, max_side=SIDE)
    message = str(err.value)
    assert "\n" not in message and message
    return message


def test_official_raft_small_warps_real_frames_better_than_zero_flow(
    frames: tuple[np.ndarray, np.ndarray], default_flow: np.ndarray
) -> None:
    first, second = frames
    assert default_flow.shape == (*first.shape[:2], 2) and default_flow.dtype == np.float32
    assert np.isfinite(default_flow).all()
    zero = photometric_error(first, second, np.zeros_like(default_flow))
    warped = photometric_error(first, second, default_flow)
    assert warped < 0.9 * zero, (warped, zero)


def test_iters_option_sets_the_model_and_changes_the_flow(
    official: Path, frames: tuple[np.ndarray, np.ndarray], default_flow: np.ndarray
) -> None:
    flow = make_flow(f"ptlflow:raft_small:{official}:iters=2", max_side=SIDE)
    model = flow.method.model
    assert model.iters == 2 and model.hparams["iters"] == 2
    fewer = flow.compute(*frames)
    assert np.isfinite(fewer).all()
    assert np.abs(fewer - default_flow).mean() > 1e-3


def test_prefixed_and_lightning_state_dicts_load(tmp_path: Path, random_state: dict[str, torch.Tensor]) -> None:
    key = "fnet.conv1.weight"
    prefixed = {f"module.{k}": v for k, v in random_state.items()}
    torch.save(prefixed, tmp_path / "dp.pth")
    loaded = make_flow(f"ptlflow:raft_small:{tmp_path / 'dp.pth'}").method.model.state_dict()
    assert torch.equal(loaded[key], random_state[key])

    ckpt = {"state_dict": random_state, "hyper_parameters": {"train_size": [368, 496]}, "epoch": 3}
    torch.save(ckpt, tmp_path / "lightning.ckpt")
    model = make_flow(f"ptlflow:raft_small:{tmp_path / 'lightning.ckpt'}:iters=5").method.model
    assert torch.equal(model.state_dict()[key], random_state[key])
    assert list(model.train_size) == [368, 496] and model.iters == 5

    plain = tmp_path / "plain.pt"
    torch.save(random_state, plain)
    assert torch.equal(make_flow(f"ptlflow:raft_small:{plain}").method.model.state_dict()[key], random_state[key])


def test_a_file_that_does_not_fit_is_a_one_line_error(tmp_path: Path, random_state: dict[str, torch.Tensor]) -> None:
    missing = dict(random_state)
    del missing["update_block.gru.convz.bias"]
    torch.save(missing, tmp_path / "missing.pth")
    message = _load_error(f"ptlflow:raft_small:{tmp_path / 'missing.pth'}")
    assert "missing.pth" in message and "missing 1 of the model's" in message
    assert "update_block.gru.convz.bias" in message

    shaped = dict(random_state)
    shaped["cnet.conv2.weight"] = torch.zeros(3, 3)
    torch.save({"state_dict": shaped}, tmp_path / "shape.ckpt")
    message = _load_error(f"ptlflow:raft_small:{tmp_path / 'shape.ckpt'}")
    assert "shape.ckpt" in message and "'cnet.conv2.weight'" in message and "(3, 3)" in message

    torch.save(random_state, tmp_path / "small.pth")  # raft_small's weights given to raft
    message = _load_error(f"ptlflow:raft:{tmp_path / 'small.pth'}")
    assert "small.pth" in message and "ptlflow:raft" in message and "another model" in message
    assert "missing" in message and "keys the model does not have" in message


def test_a_file_that_is_not_a_state_dict_is_a_one_line_error(tmp_path: Path) -> None:
    text = tmp_path / "notes.pth"
    text.write_text("these are not weights\n")
    assert "notes.pth: not a readable PyTorch checkpoint" in _load_error(f"ptlflow:raft_small:{text}")

    empty = tmp_path / "empty.ckpt"
    empty.write_bytes(b"")
    assert "empty.ckpt: not a readable PyTorch checkpoint" in _load_error(f"ptlflow:raft_small:{empty}")

    torch.save([torch.zeros(2)], tmp_path / "list.pth")
    message = _load_error(f"ptlflow:raft_small:{tmp_path / 'list.pth'}")
    assert "list.pth: expected a state_dict" in message and "got list" in message

    torch.save({"model": {"a": torch.zeros(1)}, "optimizer": {}}, tmp_path / "nested.pth")
    message = _load_error(f"ptlflow:raft_small:{tmp_path / 'nested.pth'}")
    assert "nested.pth: not a state_dict" in message and "'model'" in message


def test_a_pickle_with_code_is_refused(tmp_path: Path, random_state: dict[str, torch.Tensor]) -> None:
    """A checkpoint that pickles objects beyond tensors (e.g. an argparse Namespace) would run code
    when loaded: it is refused in one line, as for HRNet checkpoints (pose.checkpoint)."""
    path = tmp_path / "with_args.ckpt"
    torch.save({"state_dict": random_state, "args": argparse.Namespace(iters=12)}, path)
    message = _load_error(f"ptlflow:raft_small:{path}")
    assert "with_args.ckpt: not a readable PyTorch checkpoint" in message


def test_bad_options_are_one_line_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    for spec, words in [
        ("ptlflow:raft_small:none:iters=x", "iters must be an integer from 1 to 100"),
        ("ptlflow:raft_small:none:iters=0", "iters must be an integer from 1 to 100"),
        ("ptlflow:raft_small:none:iters=101", "iters must be an integer from 1 to 100"),
        ("ptlflow:raft_small:none:iters=4:iters=5", "given twice"),
        ("ptlflow:raft_small:none:steps=4", "unknown ptlflow option 'steps=4'"),
        ("ptlflow:raft_small:none:iters", "unknown ptlflow option 'iters'"),
        ("ptlflow:raft_small:iters=12", "the checkpoint comes before the options"),
        ("ptlflow:fastflownet:none:iters=3", "ptlflow:fastflownet has no refinement iterations"),
    ]:
        assert words in _load_error(spec), spec
    with pytest.raises(HrtrackError, match="has no refinement iterations"):
        set_iters(torch.nn.Linear(1, 1), 3, "ptlflow:linear")


def test_the_cli_checks_the_options_when_it_parses() -> None:
    from tracker.options import flow_spec as _flow_spec

    assert _flow_spec("ptlflow:raft_small:some/file.pth:iters=12") == "ptlflow:raft_small:some/file.pth:iters=12"
    assert _flow_spec("ptlflow:raft_small:things") == "ptlflow:raft_small:things"
    for bad, words in [("ptlflow:raft_small:f.pth:iters=x", "from 1 to 100"), ("ptlflow:raft:f:k=1", "'k=1'")]:
        with pytest.raises(argparse.ArgumentTypeError, match=words) as err:
            _flow_spec(bad)
        assert "\n" not in str(err.value)
