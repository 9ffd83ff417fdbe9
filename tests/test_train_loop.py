"""The training loop on a tiny HRNet-W8 (64x64 inputs, CPU), resume, and COCO AP validation."""

from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from pose.checkpoint import load_checkpoint
from pose.hrnet import build_model
from pose.train.augment import AugmentConfig
from pose.train.data import KeypointDataset, PersonRecord
from pose.train.loop import TrainConfig, lr_at, read_log, train
from pose.train.validate import coco_keypoint_ap, coco_validator, evaluate_coco


def _records(tmp_path: Path, n: int = 4) -> list[PersonRecord]:
    """Synthetic people: bright dots at the joints on a dark background."""
    rng = np.random.default_rng(0)
    records = []
    for i in range(n):
        joints = np.ones((17, 3))
        joints[:, 0] = rng.uniform(30, 90, 17)
        joints[:, 1] = rng.uniform(20, 100, 17)
        image = np.full((120, 120, 3), 20, np.uint8)
        for j, (x, y, _) in enumerate(joints):
            cv2.circle(image, (round(x), round(y)), 3, (255, 15 * j, 255 - 15 * j), -1)
        path = tmp_path / f"p{i}.png"
        cv2.imwrite(str(path), image)
        box = np.array([joints[:, 0].min(), joints[:, 1].min(), joints[:, 0].max(), joints[:, 1].max()])
        records.append(PersonRecord(str(path), box, joints, image_id=i, ann_id=i))
    return records


def _config(tmp_path: Path, **kw: object) -> TrainConfig:
    base: dict[str, object] = {
        "arch": "hrnet_w8",
        "input_size": (64, 64),
        "epochs": 6,
        "lr": 1e-3,
        "lr_steps": (4,),
        "batch_size": 4,
        "workers": 0,
        "out_dir": str(tmp_path / "run"),
        "progress": False,
    }
    base.update(kw)
    return TrainConfig(**base)  # type: ignore[arg-type]


def test_a_few_steps_lower_the_loss(tmp_path: Path) -> None:
    torch.manual_seed(0)
    ds = KeypointDataset(_records(tmp_path), (64, 64), seed=0)  # no augmentation: learnable quickly
    cfg = _config(tmp_path, epochs=10, lr_steps=(9,))
    result = train(cfg, ds)
    losses = [row["loss"] for row in result.history]
    assert len(losses) == 10 and all(math.isfinite(v) for v in losses)
    # The first epoch's loss is about that of an all-zero prediction (HRNet starts near 0).
    assert losses[-1] < 0.75 * losses[0]
    assert losses[-1] < losses[-2] < losses[-3]
    out = Path(cfg.out_dir)
    for name in ("last.pth", "best.pth", "state.pth", "log.csv"):
        assert (out / name).is_file()
    assert not list(out.glob("*.tmp"))
    rows = read_log(out / "log.csv")
    assert [r["epoch"] for r in rows] == list(range(1, 11))
    assert [r["lr"] for r in rows] == pytest.approx([1e-3] * 9 + [1e-4])
    assert [lr_at(cfg, e) for e in range(10)] == pytest.approx([r["lr"] for r in rows])
    # best.pth (lowest loss without validation) and last.pth are plain official-layout state_dicts.
    model = build_model("hrnet_w8")
    load_checkpoint(model, out / "last.pth")
    assert result.best_epoch == int(np.argmin(losses)) + 1


def test_bf16_autocast_and_memory_layouts_train(tmp_path: Path) -> None:
    """channels_last (default), NCHW and amp (bfloat16 autocast) all learn; the two float32
    layouts compute the same first-epoch loss (they differ only by float rounding, which a few
    Adam steps on four samples then amplify); saved weights are float32, contiguous, loadable."""
    ds = KeypointDataset(_records(tmp_path), (64, 64), seed=0)
    runs = {}
    for name, kw in {"cl": {}, "nchw": {"channels_last": False}, "amp": {"amp": True}}.items():
        cfg = _config(tmp_path, epochs=8, lr_steps=(7,), out_dir=str(tmp_path / name), **kw)
        runs[name] = train(cfg, ds)
    losses = {name: [row["loss"] for row in run.history] for name, run in runs.items()}
    for name, values in losses.items():
        assert all(math.isfinite(v) for v in values) and values[-1] < 0.75 * values[0], (name, values)
    assert losses["cl"][0] == pytest.approx(losses["nchw"][0], rel=1e-5)
    assert losses["amp"][0] == pytest.approx(losses["cl"][0], rel=2e-2)  # bfloat16 forward
    for name in runs:
        saved = torch.load(tmp_path / name / "last.pth", weights_only=True)
        assert all(v.dtype != torch.bfloat16 and v.is_contiguous() for v in saved.values())
        load_checkpoint(build_model("hrnet_w8"), tmp_path / name / "last.pth")


def test_resume_continues_exactly(tmp_path: Path) -> None:
    records = _records(tmp_path, n=6)
    aug = AugmentConfig()

    def run(out: str, epochs: int, resume: bool = False) -> tuple[torch.nn.Module, list[dict[str, float]]]:
        torch.manual_seed(0)
        ds = KeypointDataset(records, (64, 64), aug, seed=1)
        cfg = _config(tmp_path, epochs=epochs, out_dir=str(tmp_path / out), resume=resume, lr_steps=(1,))
        return train(cfg, ds).model, read_log(Path(cfg.out_dir) / "log.csv")

    full, full_log = run("full", 3)
    run("split", 2)
    resumed, split_log = run("split", 3, resume=True)
    assert [r["epoch"] for r in split_log] == [1, 2, 3]
    assert [r["loss"] for r in split_log] == pytest.approx([r["loss"] for r in full_log], rel=1e-4)
    for (name, a), b in zip(full.state_dict().items(), resumed.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6, msg=name)


def test_validate_callback_picks_best(tmp_path: Path) -> None:
    ds = KeypointDataset(_records(tmp_path, n=4), (64, 64))
    scores = iter([0.1, 0.5, 0.3])
    cfg = _config(tmp_path, epochs=3, max_steps_per_epoch=1)
    result = train(cfg, ds, validate=lambda model: next(scores))
    assert result.best_metric == 0.5 and result.best_epoch == 2
    assert [r["metric"] for r in read_log(Path(cfg.out_dir) / "log.csv")] == pytest.approx([0.1, 0.5, 0.3])


def test_config_rejects_bad_input_size() -> None:
    with pytest.raises(ValueError, match="multiples of 32"):
        TrainConfig(input_size=(64, 48))


def test_coco_ap_of_ground_truth_is_one(shared_data: Path) -> None:
    ann = shared_data / "coco" / "test_coco.json"
    data = json.loads(ann.read_text())
    results = [
        {"image_id": a["image_id"], "category_id": 1, "keypoints": a["keypoints"], "score": 1.0}
        for a in data["annotations"]
        if a["num_keypoints"] > 0
    ]
    stats = coco_keypoint_ap(ann, results)
    assert stats["AP"] == pytest.approx(1.0)
    assert coco_keypoint_ap(ann, [])["AP"] == 0.0


def test_evaluate_coco_runs_the_estimator(shared_data: Path) -> None:
    coco = shared_data / "coco"
    model = build_model("hrnet_w8")
    stats = evaluate_coco(model, coco / "test_coco.json", coco, input_size=(64, 64))
    assert set(stats) >= {"AP", "AP50", "AR"}
    assert all(0.0 <= v <= 1.0 or v == -1.0 for v in stats.values())
    assert stats["AP"] < 0.05  # random weights place no joint near a person's (GT scores 1.0 above)
    assert model.training  # the model itself is left as it was


def test_train_with_coco_validation(shared_data: Path, tmp_path: Path) -> None:
    """One short epoch on the COCO fixture, validated by COCO AP through the estimator."""
    from pose.train.data import coco_records

    coco = shared_data / "coco"
    ds = KeypointDataset(coco_records(coco / "test_coco.json", coco), (64, 64), AugmentConfig())
    validate = coco_validator(coco / "test_coco.json", coco, input_size=(64, 64))
    cfg = _config(tmp_path, epochs=1, max_steps_per_epoch=1)
    result = train(cfg, ds, validate=validate)
    assert 0.0 <= result.best_metric <= 1.0 and result.best_epoch == 1
    best = load_checkpoint(build_model("hrnet_w8"), Path(cfg.out_dir) / "best.pth")
    assert validate(best) == pytest.approx(result.best_metric)  # the metric is the saved model's
    with pytest.raises(ValueError, match="annotation file"):
        coco_validator(tmp_path / "missing.json", coco)
