"""YAML configs: the shipped official recipes, inheritance, overrides and their errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from pose.decode import POSETRACK18_FLIP_PAIRS
from pose.train.config import (
    AugmentSection,
    available_configs,
    config_dir,
    dump_config,
    load_config,
    parse_overrides,
)


def test_shipped_configs_are_package_data() -> None:
    names = available_configs()
    assert {"coco_w32_256x192", "coco_w48_384x288", "posetrack_w48_384x288"} <= set(names)
    assert any(n.startswith("tiny_") for n in names)
    assert config_dir() == Path(__file__).resolve().parents[1] / "pose" / "configs"
    for name in names:
        load_config(name)  # every shipped file is valid


def test_official_values() -> None:
    w32 = load_config("coco_w32_256x192")
    t = w32.train
    assert (t.arch, t.input_size, t.epochs, t.lr, t.lr_steps, t.lr_factor, t.batch_size) == (
        "hrnet_w32",
        (256, 192),
        210,
        1e-3,
        (170, 200),
        0.1,
        32,
    )
    assert w32.data.dataset == "coco" and w32.data.sigma == 2.0 and w32.data.val_boxes == "gt"
    assert w32.train.pretrained == "hrnet_w32_imagenet"  # a zoo backbone, as the official recipe starts
    assert w32.augment == AugmentSection()  # the official augmentation values are the defaults
    w48 = load_config("coco_w48_384x288.yaml")
    assert (w48.train.arch, w48.train.input_size, w48.data.sigma, w48.train.epochs) == (
        "hrnet_w48",
        (384, 288),
        3.0,
        210,
    )
    pt = load_config("posetrack_w48_384x288")
    assert (pt.train.lr, pt.train.lr_steps, pt.train.epochs) == (1e-4, (10, 15), 20)
    assert pt.train.init_weights and pt.data.dataset == "posetrack18" and pt.train.input_size == (384, 288)
    aug = pt.augment.to_augment_config(POSETRACK18_FLIP_PAIRS)
    assert aug.flip_pairs == POSETRACK18_FLIP_PAIRS and aug.half_body_prob == 0.3


def test_overrides_of_every_kind(tmp_path: Path) -> None:
    exp = load_config(
        "coco_w32_256x192",
        [
            "lr=1e-4",  # YAML 1.1 reads this as a string: converted to float
            "lr_steps=[3, 5]",
            "input_size=128x96",
            "epochs=7",
            "pretrained=null",
            "train.batch_size=2",
            "sync_bn=true",
            "data.dataset=posetrack17",
            "data.val_ann=",
            "data.sigma=2.5",
            "augment.enabled=false",
            "augment.flip_prob=0",
            f"out_dir={tmp_path}",
        ],
    )
    t = exp.train
    assert (t.lr, t.lr_steps, t.input_size, t.epochs, t.pretrained, t.batch_size, t.sync_bn) == (
        1e-4,
        (3, 5),
        (128, 96),
        7,
        None,
        2,
        True,
    )
    assert (exp.data.dataset, exp.data.val_ann, exp.data.sigma) == ("posetrack17", "", 2.5)
    assert not exp.augment.enabled and exp.augment.flip_prob == 0.0
    assert isinstance(exp.augment.flip_prob, float) and isinstance(t.epochs, int)
    # The written config loads back to the same values.
    dump_config(exp, tmp_path / "config.yaml")
    again = load_config(tmp_path / "config.yaml")
    assert again.train == exp.train and again.data == exp.data and again.augment == exp.augment


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("learning_rate=1", "unknown config key 'learning_rate'"),
        ("data.train_json=x", "unknown config key 'data.train_json'"),
        ("augment.mixup=0.5", "unknown config key 'augment.mixup'"),
        ("model.width=32", "unknown config key 'model.width'"),
        ("lr", "must look like key=value"),
        ("epochs=ten", "'epochs'"),
        ("input_size=[256]", "'input_size'"),
        ("data.dataset=mpii", "data.dataset must be one of"),
        ("input_size=[250,190]", "multiples of 32"),
        ("progress=maybe", "'progress'"),
    ],
)
def test_bad_overrides_are_one_line_errors(override: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("[", r"\[")) as info:
        load_config("tiny_coco", [override])
    assert "\n" not in str(info.value)


def test_bad_files(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="neither a file nor a shipped config"):
        load_config("no_such_config")
    bad = tmp_path / "bad.yaml"
    bad.write_text("arch: hrnet_w8\nwidth: 3\n")
    with pytest.raises(ValueError, match="unknown config key 'width'"):
        load_config(bad)
    bad.write_text("data: [1, 2]\n")
    with pytest.raises(ValueError, match="section 'data'"):
        load_config(bad)
    bad.write_text("arch: [unclosed\n")
    with pytest.raises(ValueError, match="cannot read config"):
        load_config(bad)
    loop = tmp_path / "loop.yaml"
    loop.write_text("base: loop.yaml\n")
    with pytest.raises(ValueError, match="too deep"):
        load_config(loop)


def test_user_file_inherits_a_shipped_config(tmp_path: Path) -> None:
    mine = tmp_path / "mine.yaml"
    mine.write_text("base: coco_w48_384x288\nepochs: 3\ndata:\n  train_ann: a.json\n")
    exp = load_config(mine)
    assert exp.train.arch == "hrnet_w48" and exp.train.epochs == 3
    assert exp.data.train_ann == "a.json" and exp.data.sigma == 3.0  # sections merge key by key


def test_parse_overrides_nests_sections() -> None:
    assert parse_overrides(["a=1", "data.b=x", "augment.c=[1, 2]"]) == {
        "a": 1,
        "data": {"b": "x"},
        "augment": {"c": [1, 2]},
    }
