"""A real pose network on real footage, through the command line with its defaults (no threshold
flags): PP-TinyPose (OpenVINO IR, ../shared/data/models) behind hrtrack's own crop, flip test and
decoding. Skips without ../shared or without OpenVINO."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from pose.specs import backend_installed
from tracker.cli import main

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(not backend_installed("openvino"), reason="OpenVINO (extra [openvino]) not installed")


def tinypose(data: Path, size: str = "256x192") -> Path:
    path = data / "models" / f"pp_tinypose_{size}" / "model.xml"
    if not path.is_file():
        pytest.skip(f"{path} is not present")
    return path


def evaluate(gt: Path, pred: Path) -> dict:
    from eval.api import evaluate as score

    with contextlib.redirect_stdout(io.StringIO()):
        return score(gt, pred)


def track_bonn(data: Path, out: Path, detector: str, *extra: str) -> dict:
    gt = data / "bonn_posetrack" / "060470979_posetrack2017.json"
    argv = ["track", str(gt), "--images-root", str(data / "bonn_posetrack"), "--weights", str(tinypose(data))]
    argv += ["--detector", detector, "--format", "posetrack17", "--out", str(out), "--quiet", *extra]
    assert main(argv) == 0
    return evaluate(gt, out / "posetrack17" / gt.name)


def test_bonn_with_a_real_detector(shared_data: Path, tmp_path: Path) -> None:
    """Bonn 060470979 (41 frames, 4 paddle-boarders) with RTMDet-nano and DIS, defaults: every
    person tracked under one id (poseval's total mAP/MOTA; 82.3/81.8 before the score cuts were
    separated)."""
    result = track_bonn(shared_data, tmp_path / "det", f"onnx:{shared_data / 'models' / 'rtmdet_nano_person.onnx'}")
    assert result["ap"]["total"] >= 90.0
    assert result["mota"]["total"] >= 88.0
    assert sum(result["counts"]["switches"]) <= 2
    tracks = json.loads((tmp_path / "det" / "tracks" / "060470979_posetrack2017.json").read_text())
    assert len(tracks["tracks"]) == 4  # four people, four ids
    assert all(len(entries) >= 38 for entries in tracks["tracks"].values())  # each in nearly every frame


def test_bonn_with_gt_boxes(shared_data: Path, tmp_path: Path) -> None:
    gt = shared_data / "bonn_posetrack" / "060470979_posetrack2017.json"
    result = track_bonn(shared_data, tmp_path / "gt", f"gt:{gt}")
    assert result["ap"]["total"] >= 94.0
    assert result["mota"]["total"] >= 92.0


def evidence():
    """scripts/precision_evidence.py as a module (its COCO fixture AP and its bfloat16 emulation)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("evidence", ROOT / "scripts" / "precision_evidence.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_coco_fixture_ap_with_gt_boxes(shared_data: Path) -> None:
    """The 14 COCO fixture people in their GT boxes: COCO keypoint AP of PoseEstimator on the file."""
    from pose.estimator import PoseEstimator

    est = PoseEstimator(tinypose(shared_data), backend="openvino")
    assert (est.input_h, est.input_w, est.num_joints, est.precision) == (256, 192, 17, "f32")
    assert evidence().coco_fixture_ap(est, shared_data / "coco") >= 80.0


def test_pets_walkers_are_tracked_drawn_and_exported(shared_data: Path, tmp_path: Path, capsys) -> None:
    """PETS 2009, first 150 frames (walkers about 48 px tall, 3 to 7 in view): the people the
    detector finds are in the per-track export (0.21 per frame before the score cuts were separated)."""
    video = shared_data / "videos" / "pets2009_campus_480x360_795f.avi"
    out = tmp_path / "pets"
    argv = ["track", str(video), "--frames", "150", "--weights", str(tinypose(shared_data)), "--out", str(out)]
    argv += ["--detector", f"onnx:{shared_data / 'models' / 'rtmdet_nano_person.onnx'}", "--quiet"]
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert "150 frames" in captured.out
    assert "warning" not in captured.err  # not far fewer people tracked than detected
    tracks = json.loads((out / "tracks" / "pets2009_campus_480x360_795f.json").read_text())
    assert tracks["num_frames"] == 150
    entries = [e for t in tracks["tracks"].values() for e in t]
    assert len(entries) / 150 >= 4.0
    assert {e["frame"] for e in entries} == set(range(150))  # --frames: the first 150, indices kept
    assert len(tracks["tracks"]) <= 20  # ids: 3 to 7 walkers in view, some entering


def test_few_people_tracked_is_a_warning(shared_data: Path, tmp_path: Path, capsys) -> None:
    """A start score that leaves most detected people untracked says so, in one line with the figures."""
    video = shared_data / "videos" / "pets2009_campus_480x360_795f.avi"
    argv = ["track", str(video), "--frames", "20", "--weights", str(tinypose(shared_data, "128x96"))]
    argv += ["--detector", f"onnx:{shared_data / 'models' / 'rtmdet_nano_person.onnx'}", "--quiet"]
    argv += ["--out", str(tmp_path / "o"), "--track-score", "0.95"]
    assert main(argv) == 0
    warnings = [line for line in capsys.readouterr().err.splitlines() if "warning" in line]
    assert len(warnings) == 1
    assert "the detector found" in warnings[0] and "per frame" in warnings[0] and "--track-score (0.95)" in warnings[0]


def test_bf16_heatmaps_of_the_real_network_stay_near_float32(shared_data: Path, monkeypatch) -> None:
    """PP-TinyPose on the COCO fixture's people: bfloat16 (native where the CPU has it, else as
    scripts/precision_evidence.py emulates it) differs from float32, and only a little."""
    from pose import backends
    from pose.estimator import PoseEstimator
    from pose.precision import native_bf16

    if not native_bf16("cpu"):
        monkeypatch.setattr(backends, "ov_compile", evidence().emulating_compile(backends.ov_compile))
    f32 = PoseEstimator(tinypose(shared_data), backend="openvino", precision="f32")
    bf16 = PoseEstimator(tinypose(shared_data), backend="openvino", precision="bf16")
    coco = json.loads((shared_data / "coco" / "test_coco.json").read_text())
    crops = []
    for image in coco["images"]:
        boxes = [a["bbox"] for a in coco["annotations"] if a["image_id"] == image["id"] and a["num_keypoints"]]
        boxes = np.array([[x, y, x + w, y + h] for x, y, w, h in boxes], np.float32)
        crops.append(f32.crops(cv2.imread(str(shared_data / "coco" / image["file_name"])), boxes)[0])
    crops = np.concatenate(crops)
    reference = f32.heatmaps(crops)
    deviation = (bf16.heatmaps(crops) - reference).abs()
    peak = float(reference.abs().max())
    assert 0 < float(deviation.mean()) < 0.01 * peak
    assert float(deviation.max()) < 0.15 * peak
