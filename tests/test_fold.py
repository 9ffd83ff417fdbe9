"""prepare_for_inference: BN folded, channels_last, same heatmaps as the plain model."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from pose import build_model, prepare_for_inference


def _realistic(model: nn.Module) -> nn.Module:
    """Give the network non-trivial weights and BN statistics so outputs are O(1)."""
    torch.manual_seed(0)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                m.weight.mul_(0.5)
                if m.bias is not None:
                    m.bias.uniform_(-0.1, 0.1)
            elif isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.3, 0.8)
                m.bias.uniform_(-0.1, 0.1)
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 2.0)
    return model.eval()


@pytest.mark.parametrize("arch", ["hrnet_w32", "hrnet_w8"])
def test_folded_model_gives_same_heatmaps(arch: str) -> None:
    model = _realistic(build_model(arch))
    fast = prepare_for_inference(model)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in fast.modules())
    assert any(isinstance(m, nn.BatchNorm2d) for m in model.modules())  # original untouched
    assert fast.conv1.weight.is_contiguous(memory_format=torch.channels_last)
    x = torch.randn(2, 3, 256, 192)
    with torch.inference_mode():
        ref = model(x)
        out = fast(x.contiguous(memory_format=torch.channels_last))
        out_plain_layout = fast(x)
    assert ref.abs().max() > 0.1  # the comparison is not between tiny numbers
    torch.testing.assert_close(out, ref, atol=1e-4, rtol=0)
    torch.testing.assert_close(out_plain_layout, ref, atol=1e-4, rtol=0)


def test_compiled_model_gives_same_heatmaps() -> None:
    model = _realistic(build_model("hrnet_w8"))
    fast = prepare_for_inference(model, compile=True)
    x = torch.randn(2, 3, 64, 64).contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        torch.testing.assert_close(fast(x), model(x), atol=1e-4, rtol=0)


def test_bfloat16_model_is_close_to_float32() -> None:
    model = _realistic(build_model("hrnet_w8"))
    fast = prepare_for_inference(model, dtype=torch.bfloat16)
    assert fast.conv1.weight.dtype == torch.bfloat16
    x = torch.randn(2, 3, 128, 96)
    with torch.inference_mode():
        ref = model(x)
        out = fast(x.to(torch.bfloat16).contiguous(memory_format=torch.channels_last)).float()
    err = (out - ref).abs().max() / ref.abs().max()
    assert err < 0.05, float(err)
