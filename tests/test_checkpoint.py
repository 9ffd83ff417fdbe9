"""Checkpoint loading: every accepted format round-trips; incompatible ones fail in one line."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from pose import CheckpointError, build_model, load_checkpoint, load_pretrained_backbone, save_state_dict
from tracker.cli import main


@pytest.fixture(scope="module")
def source() -> torch.nn.Module:
    torch.manual_seed(1)
    model = build_model("hrnet_w8")
    with torch.no_grad():  # distinct values everywhere, BN statistics included
        for v in model.state_dict().values():
            if v.is_floating_point():
                v.copy_(torch.randn_like(v))
    return model


def _same(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def _formats(sd: dict[str, torch.Tensor]) -> dict[str, object]:
    backbone = {f"backbone.{k}": v for k, v in sd.items() if not k.startswith("final_layer.")}
    head = {k.replace("final_layer.", ""): v for k, v in sd.items() if k.startswith("final_layer.")}
    return {
        "plain": dict(sd),
        "module_prefix": {f"module.{k}": v for k, v in sd.items()},
        "training_dict": {"epoch": 3, "state_dict": dict(sd), "perf": 0.7, "optimizer": {"state": {}}},
        "training_dict_module": {"state_dict": {f"module.{k}": v for k, v in sd.items()}},
        "mmpose_1x": {
            "meta": {"epoch": 210},
            "state_dict": {**backbone, **{f"head.final_layer.{k}": v for k, v in head.items()}},
        },
        "mmpose_0x": {"state_dict": {**backbone, **{f"keypoint_head.final_layer.{k}": v for k, v in head.items()}}},
    }


@pytest.mark.parametrize(
    "fmt", ["plain", "module_prefix", "training_dict", "training_dict_module", "mmpose_1x", "mmpose_0x"]
)
def test_round_trip_through_file(fmt: str, source: torch.nn.Module, tmp_path: Path) -> None:
    path = tmp_path / f"{fmt}.pth"
    torch.save(_formats(source.state_dict())[fmt], path)
    target = build_model("hrnet_w8")
    assert not _same(source, target)
    load_checkpoint(target, path)
    assert _same(source, target)


def test_save_state_dict_is_plain_official_layout(source: torch.nn.Module, tmp_path: Path) -> None:
    path = tmp_path / "w.pth"
    save_state_dict(source, path)
    raw = torch.load(path, weights_only=True)
    assert list(raw) == list(source.state_dict())
    target = load_checkpoint(build_model("hrnet_w8"), path)
    assert _same(source, target)
    assert not list(tmp_path.glob("*.tmp"))


def test_half_precision_weights_load(source: torch.nn.Module, tmp_path: Path) -> None:
    path = tmp_path / "half.pth"
    save_state_dict(source, path, half=True)
    target = load_checkpoint(build_model("hrnet_w8"), path)
    assert target.conv1.weight.dtype == torch.float32
    torch.testing.assert_close(target.conv1.weight, source.conv1.weight, rtol=1e-3, atol=1e-3)


def test_wrong_joint_count_names_key_and_shapes(source: torch.nn.Module) -> None:
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(build_model("hrnet_w8", num_joints=15), source.state_dict())
    msg = str(err.value)
    assert "'final_layer.weight'" in msg and "(17,8,1,1)" in msg and "(15,8,1,1)" in msg
    assert "\n" not in msg


def test_wrong_width_names_first_mismatching_key(source: torch.nn.Module, tmp_path: Path) -> None:
    path = tmp_path / "w8.pth"
    torch.save(source.state_dict(), path)
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(build_model("hrnet_w16"), path)
    msg = str(err.value)
    # conv1 .. layer1 do not depend on the width: transition1.0.0 is the first that does.
    assert str(path) in msg and "'transition1.0.0.weight'" in msg
    assert "(8,256,3,3)" in msg and "(16,256,3,3)" in msg and "\n" not in msg


def test_missing_and_unexpected_keys(source: torch.nn.Module) -> None:
    sd = dict(source.state_dict())
    del sd["stage3.1.branches.2.3.bn2.running_var"]
    with pytest.raises(CheckpointError, match="stage3.1.branches.2.3.bn2.running_var.*missing"):
        load_checkpoint(build_model("hrnet_w8"), sd)
    sd = {**source.state_dict(), "extra.weight": torch.zeros(1)}
    with pytest.raises(CheckpointError, match="unexpected key 'extra.weight'"):
        load_checkpoint(build_model("hrnet_w8"), sd)


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(build_model("hrnet_w8"), tmp_path / "nope.pth")
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"this is not a checkpoint")
    with pytest.raises(CheckpointError, match="not a readable PyTorch checkpoint") as err:
        load_checkpoint(build_model("hrnet_w8"), bad)
    assert "\n" not in str(err.value)
    lst = tmp_path / "list.pth"
    torch.save([1, 2], lst)
    with pytest.raises(CheckpointError, match="expected a state_dict"):
        load_checkpoint(build_model("hrnet_w8"), lst)


def _classification_checkpoint(pose_sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """An ImageNet HRNet-C style checkpoint: the pose backbone plus classification-only parts."""
    sd = {k: v.clone() for k, v in pose_sd.items() if not k.startswith("final_layer.")}
    # The classification net fuses all four outputs in its last module and has its own head.
    sd["stage4.2.fuse_layers.1.0.0.0.weight"] = torch.randn(16, 8, 3, 3)
    sd["incre_modules.0.0.conv1.weight"] = torch.randn(32, 8, 1, 1)
    sd["downsamp_modules.0.0.weight"] = torch.randn(256, 128, 3, 3)
    sd["final_layer.0.weight"] = torch.randn(2048, 1024, 1, 1)
    sd["classifier.weight"] = torch.randn(1000, 2048)
    sd["classifier.bias"] = torch.randn(1000)
    return sd


def test_imagenet_backbone_loads_backbone_only(source: torch.nn.Module, tmp_path: Path) -> None:
    path = tmp_path / "hrnet_w8_imagenet.pth"
    torch.save(_classification_checkpoint(source.state_dict()), path)
    target = build_model("hrnet_w8")
    head_before = target.final_layer.weight.clone()
    skipped = load_pretrained_backbone(target, path)
    assert {"classifier.weight", "classifier.bias", "final_layer.0.weight"} <= set(skipped)
    assert any(k.startswith("incre_modules.") for k in skipped)
    assert any(k.startswith("downsamp_modules.") for k in skipped)
    ts, ss = target.state_dict(), source.state_dict()
    assert all(torch.equal(ts[k], ss[k]) for k in ts if not k.startswith("final_layer."))
    assert torch.equal(target.final_layer.weight, head_before)  # head keeps its own init


def test_imagenet_backbone_of_wrong_width_fails(source: torch.nn.Module) -> None:
    with pytest.raises(CheckpointError, match="'transition1.0.0.weight' has shape"):
        load_pretrained_backbone(build_model("hrnet_w16"), _classification_checkpoint(source.state_dict()))


def test_cli_weights(source: torch.nn.Module, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "w.pth"
    torch.save({"state_dict": source.state_dict()}, path)
    assert main(["weights", str(path), "--arch", "hrnet_w8"]) == 0
    assert "loads into hrnet_w8 with 17 joints (1754 keys" in capsys.readouterr().out
    assert main(["weights", str(path), "--arch", "hrnet_w8", "--joints", "15"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("hrtrack: error: ") and err.count("\n") == 1 and "final_layer.weight" in err
