"""The network's state_dict must be the official PoseHighResolutionNet layout, key for key."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from pose import build_model
from pose.hrnet import parse_arch

FIXTURES = Path(__file__).parent / "fixtures"


def _key_lines(model: torch.nn.Module) -> list[str]:
    return [f"{k}\t" + ",".join(str(s) for s in v.shape) for k, v in model.state_dict().items()]


@pytest.mark.parametrize(("arch", "params"), [("hrnet_w32", 28_536_113), ("hrnet_w48", 63_595_745)])
def test_state_dict_matches_official_layout(arch: str, params: int) -> None:
    model = build_model(arch)
    # The fixture is written by scripts/make_hrnet_keylist.py, an independent derivation from
    # the published architecture description that does not import this model.
    expected = (FIXTURES / f"{arch}_keys.txt").read_text().splitlines()
    assert _key_lines(model) == expected
    sd = model.state_dict()
    assert len(sd) == 1754
    assert sum(k.endswith("num_batches_tracked") for k in sd) == 292
    assert sum(p.numel() for p in model.parameters()) == params


def test_named_examples_from_reference() -> None:
    sd = build_model("hrnet_w32").state_dict()
    c = 32
    assert sd["layer1.0.conv3.weight"].shape == (256, 64, 1, 1)
    assert sd["stage2.0.fuse_layers.0.1.0.weight"].shape == (c, 2 * c, 1, 1)
    assert sd["stage2.0.fuse_layers.1.0.0.0.weight"].shape == (2 * c, c, 3, 3)
    assert sd["transition3.3.0.0.weight"].shape == (8 * c, 4 * c, 3, 3)
    assert sd["final_layer.weight"].shape == (17, c, 1, 1)
    assert "stage4.2.fuse_layers.1.0.0.0.weight" not in sd  # last module: one output only


def test_heatmap_shape_any_width_and_joint_count() -> None:
    model = build_model("hrnet_w8", num_joints=15).eval()
    with torch.inference_mode():
        out = model(torch.randn(2, 3, 256, 192))
    assert out.shape == (2, 15, 64, 48)


def test_official_initialisation() -> None:
    model = build_model("hrnet_w8")
    w = model.stage3[0].branches[0][0].conv1.weight
    assert abs(float(w.detach().std()) - 0.001) < 0.0002
    assert float(model.bn1.weight.detach().min()) == 1.0 and float(model.bn1.bias.detach().abs().max()) == 0.0
    assert model.bn1.momentum == 0.1


@pytest.mark.parametrize("name", ["resnet50", "hrnet_w", "hrnet_w0", "hrnet_wx"])
def test_unknown_arch_is_a_clear_error(name: str) -> None:
    with pytest.raises(ValueError, match="unknown architecture"):
        parse_arch(name)
