"""``train`` sub-command: parser, config + overrides, outputs, validation, TensorBoard, errors."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pytest
import yaml
from test_train_overfit import make_stick_figures

from pose.options import UsageError
from pose.train.loop import read_log
from tracker.cli import build_parser, main


def _parser() -> argparse.ArgumentParser:
    return build_parser()


def _run(argv: list[str]) -> int:
    assert _parser().parse_args(argv).func == "pose.train.cli:run_train"
    return main(argv)


@pytest.fixture
def figures(tmp_path: Path) -> tuple[Path, Path]:
    ann = make_stick_figures(tmp_path / "figs", images=2, per_image=2)
    return ann, tmp_path / "figs"


def test_parser_options() -> None:
    args = _parser().parse_args(["train", "tiny_coco", "--set", "lr=1", "--set", "epochs=2", "--resume"])
    assert (args.config, args.overrides, args.resume, args.out, args.device) == (
        "tiny_coco",
        ["lr=1", "epochs=2"],
        True,
        None,
        None,
    )
    with pytest.raises(UsageError, match="--device: use cpu or cuda"):
        _parser().parse_args(["train", "tiny_coco", "--device", "tpu"])


def test_train_with_coco_validation_and_resume(figures: tuple[Path, Path], tmp_path: Path) -> None:
    ann, images = figures
    out = tmp_path / "run"
    data = [f"data.train_ann={ann}", f"data.train_images={images}", f"data.val_ann={ann}", f"data.val_images={images}"]
    common = ["train", "tiny_coco", "--out", str(out), "--device", "cpu"]
    sets = [x for d in [*data, "max_steps_per_epoch=1"] for x in ("--set", d)]
    assert _run([*common, *sets]) == 0
    for name in ("last.pth", "best.pth", "state.pth", "log.csv", "config.yaml"):
        assert (out / name).is_file(), name
    rows = read_log(out / "log.csv")
    assert [r["epoch"] for r in rows] == [1, 2]
    assert all(0.0 <= r["metric"] <= 1.0 for r in rows)  # COCO AP on every epoch (val_every 1)
    saved = yaml.safe_load((out / "config.yaml").read_text())
    assert saved["out_dir"] == str(out) and saved["data"]["train_ann"] == str(ann)
    # --resume continues to the new epoch count without redoing the first two epochs.
    assert _run([*common, *sets, "--set", "epochs=3", "--resume"]) == 0
    assert [r["epoch"] for r in read_log(out / "log.csv")] == [1, 2, 3]


def test_tensorboard_scalars_when_available(figures: tuple[Path, Path], tmp_path: Path) -> None:
    pytest.importorskip("torch.utils.tensorboard")
    ann, images = figures
    out = tmp_path / "run"
    argv = ["train", "tiny_coco", "--out", str(out), "--set", "epochs=1", "--set", "tensorboard=true"]
    argv += ["--set", f"data.train_ann={ann}", "--set", f"data.train_images={images}"]
    assert _run(argv) == 0
    assert list((out / "tb").glob("events.out.tfevents.*"))


def test_no_tensorboard_package_is_skipped_silently(
    figures: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # import fails
    ann, images = figures
    out = tmp_path / "run"
    argv = ["train", "tiny_coco", "--out", str(out), "--set", "epochs=1", "--set", "tensorboard=true"]
    argv += ["--set", f"data.train_ann={ann}", "--set", f"data.train_images={images}"]
    assert _run(argv) == 0
    assert (out / "log.csv").is_file() and not (out / "tb").exists()


def test_config_and_data_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(["train", "tiny_coco", "--set", "batchsize=3"]) == 2
    err = capsys.readouterr().err
    assert "unknown config key 'batchsize'" in err and err.count("\n") == 1
    assert _run(["train", "tiny_coco", "--out", str(tmp_path / "x")]) == 2
    assert "data.train_ann" in capsys.readouterr().err
    missing = ["--set", f"data.train_ann={tmp_path / 'no.json'}", "--set", f"data.train_images={tmp_path}"]
    assert _run(["train", "tiny_coco", *missing]) == 2
    assert "no.json: no such file" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_posetrack17_training_with_posetrack_map(shared_data: Path, tmp_path: Path) -> None:
    """PoseTrack 2017 annolist data, validated by PoseTrack mAP through the eval package."""
    bonn = shared_data / "bonn_posetrack"
    ann = bonn / "060470979_posetrack2017.json"
    out = tmp_path / "run"
    sets = [
        f"data.train_ann={ann}",
        f"data.train_images={bonn}",
        f"data.val_ann={ann}",
        f"data.val_images={bonn}",
        "epochs=1",
        "max_steps_per_epoch=2",
        "data.flip_test=false",
    ]
    assert _run(["train", "tiny_posetrack", "--out", str(out), *[x for s in sets for x in ("--set", s)]]) == 0
    (row,) = read_log(out / "log.csv")
    assert 0.0 <= row["metric"] <= 1.0  # total mAP / 100


def test_coco_validation_on_detection_boxes(shared_data: Path) -> None:
    from pose.hrnet import build_model
    from pose.train.validate import evaluate_coco, load_detections, predict_coco

    coco = shared_data / "coco"
    det = coco / "test_coco_det_AP_H_56.json"
    all_dets = load_detections(det)
    kept = load_detections(det, score_threshold=0.5)
    assert sum(len(b) for b, _ in all_dets.values()) == 118
    assert 0 < sum(len(b) for b, _ in kept.values()) < 118
    model = build_model("hrnet_w8")
    results = predict_coco(
        model,
        coco / "test_coco.json",
        coco,
        (64, 64),
        flip_test=False,
        det_json=det,
        det_score_threshold=0.5,
        nms_threshold=None,
    )
    assert len(results) == sum(len(b) for b, _ in kept.values())
    stats = evaluate_coco(model, coco / "test_coco.json", coco, (64, 64), "cpu", False, det, 0.5)
    assert 0.0 <= stats["AP"] <= 1.0


def test_posetrack18_validation(shared_data: Path, tmp_path: Path) -> None:
    from eval.posetrack import read_sequence
    from pose.hrnet import build_model
    from pose.train.validate import evaluate_posetrack, predict_posetrack

    root = shared_data / "posetrack18"
    gt = root / "annotations" / "val"
    model = build_model("hrnet_w8")
    files = predict_posetrack(model, gt, root, tmp_path / "pred", (64, 64), flip_test=True)
    assert sorted(f.name for f in files) == sorted(f.name for f in gt.glob("*.json"))
    for f in files:
        pred, truth = read_sequence(f), read_sequence(gt / f.name)
        assert len(pred.frames) == len(truth.frames)
        assert [len(p.people) for p in pred.frames] == [len(t.people) if t.is_labeled else 0 for t in truth.frames]
    result = evaluate_posetrack(model, gt, root, (64, 64), flip_test=False)
    assert set(result["ap"]) >= {"head", "total"}  # type: ignore[arg-type]


def test_missing_initial_weights_exit_2(
    figures: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ann, images = figures
    argv = ["train", "tiny_coco", "--out", str(tmp_path / "run"), "--set", f"init_weights={tmp_path / 'no.pth'}"]
    argv += ["--set", f"data.train_ann={ann}", "--set", f"data.train_images={images}"]
    assert _run(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("hrtrack: error:") and err.count("\n") == 1
