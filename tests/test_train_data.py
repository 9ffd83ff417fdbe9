"""Person records from COCO / PoseTrack 2018 files and the training dataset, bad data included."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from pose.decode import POSETRACK18_FLIP_PAIRS
from pose.train.augment import AugmentConfig
from pose.train.data import (
    KeypointDataset,
    PersonRecord,
    coco_records,
    keypoint_box,
    posetrack18_records,
)


def _joints(x0: float, y0: float, visible: int = 17) -> list[float]:
    out: list[float] = []
    for j in range(17):
        v = 2 if j < visible else 0
        out += [x0 + 3 * (j % 4), y0 + 4 * j, v] if v else [0, 0, 0]
    return out


def _write_coco(tmp_path: Path) -> tuple[Path, Path]:
    """A small COCO file with one good image, a missing and a corrupt image, and bad annotations."""
    image_dir = tmp_path / "images"
    image_dir.mkdir()
    rng = np.random.default_rng(0)
    cv2.imwrite(str(image_dir / "good.jpg"), rng.integers(0, 255, (120, 160, 3), dtype=np.uint8))
    (image_dir / "corrupt.jpg").write_bytes(b"this is not a jpeg")
    images = [
        {"id": 1, "file_name": "good.jpg", "width": 160, "height": 120},
        {"id": 2, "file_name": "missing.jpg", "width": 160, "height": 120},
        {"id": 3, "file_name": "corrupt.jpg", "width": 160, "height": 120},
    ]

    def ann(aid: int, image_id: int, **kw: object) -> dict[str, object]:
        base = {
            "id": aid,
            "image_id": image_id,
            "category_id": 1,
            "iscrowd": 0,
            "area": 2000.0,
            "bbox": [40.0, 20.0, 40.0, 80.0],
            "keypoints": _joints(50, 25),
            "num_keypoints": 17,
        }
        base.update(kw)
        return base

    anns = [
        ann(10, 1),
        ann(11, 1, bbox=[-10.0, 100.0, 200.0, 50.0]),  # clipped to the image
        ann(12, 1, keypoints=[0] * 51, num_keypoints=0),  # no visible joints
        ann(13, 1, category_id=2),  # unknown category
        ann(14, 1, area=0.0),  # invalid box
        ann(15, 2),  # missing image
        ann(16, 3),  # corrupt image: found only when decoded
    ]
    categories = [{"id": 1, "name": "person"}, {"id": 2, "name": "dog"}]
    path = tmp_path / "ann.json"
    path.write_text(json.dumps({"images": images, "annotations": anns, "categories": categories}))
    return path, image_dir


def test_coco_bad_data_is_skipped_and_counted(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    ann, image_dir = _write_coco(tmp_path)
    with caplog.at_level(logging.WARNING, logger="pose.train.data"):
        records = coco_records(ann, image_dir)
    assert [r.ann_id for r in records] == [10, 11, 16]
    assert dict(records.skipped) == {
        "no visible joints": 1,
        "unknown category": 1,
        "invalid box": 1,
        "missing image": 1,
    }
    assert "skipped 4" in caplog.text
    np.testing.assert_allclose(records[0].box, [40, 20, 79, 99])  # x2 = x1 + w - 1
    np.testing.assert_allclose(records[1].box, [0, 100, 159, 119])  # clipped to the image


def test_corrupt_image_is_replaced_deterministically(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    ann, image_dir = _write_coco(tmp_path)
    records = coco_records(ann, image_dir)
    ds = KeypointDataset(records, (64, 64), AugmentConfig(), seed=3)
    with caplog.at_level(logging.WARNING, logger="pose.train.data"):
        x, _, _, meta = ds[2]  # the corrupt one: replaced by record 0 (cyclic next)
    assert meta["index"] == 0
    assert ds.load_failures == {str(image_dir / "corrupt.jpg"): 1}
    assert "cannot read image" in caplog.text
    x2, *_ = ds[2]
    torch.testing.assert_close(x, x2)
    assert ds.load_failures[str(image_dir / "corrupt.jpg")] == 1  # remembered, not retried
    batch = next(iter(DataLoader(ds, batch_size=3)))  # a whole epoch's batch never crashes
    assert batch[0].shape == (3, 3, 64, 64) and batch[1].shape == (3, 17, 16, 16)


def test_all_images_unreadable_raises(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"")
    rec = PersonRecord(str(bad), np.array([0, 0, 10, 20.0]), np.ones((17, 3)))
    with pytest.raises(RuntimeError, match="none of the 1 images"):
        KeypointDataset([rec], (64, 64))[0]


def test_missing_files_are_one_line_value_errors(tmp_path: Path) -> None:
    ann, image_dir = _write_coco(tmp_path)
    with pytest.raises(ValueError, match="annotation file"):
        coco_records(tmp_path / "nope.json", image_dir)
    with pytest.raises(ValueError, match="image directory"):
        coco_records(ann, tmp_path / "no_dir")
    with pytest.raises(ValueError, match="annotation file"):
        posetrack18_records(tmp_path / "nope.json", image_dir)
    with pytest.raises(ValueError, match="no .json"):
        posetrack18_records(image_dir, image_dir)
    with pytest.raises(ValueError, match="image root"):
        posetrack18_records(ann, tmp_path / "no_dir")
    with pytest.raises(ValueError, match="at least one"):
        KeypointDataset([], (64, 64))


def test_posetrack_bad_data_is_skipped(tmp_path: Path) -> None:
    (tmp_path / "images").mkdir()
    cv2.imwrite(str(tmp_path / "images" / "a.jpg"), np.zeros((50, 60, 3), np.uint8))
    images = [
        {"id": 1, "file_name": "images/a.jpg", "is_labeled": True},
        {"id": 2, "file_name": "images/a.jpg", "is_labeled": False},
        {"id": 3, "file_name": "images/missing.jpg", "is_labeled": True},
    ]
    anns = [
        {"id": 1, "image_id": 1, "category_id": 1, "keypoints": _joints(10, 1, visible=5)},
        {"id": 2, "image_id": 2, "category_id": 1, "keypoints": _joints(10, 1)},
        {"id": 3, "image_id": 3, "category_id": 1, "keypoints": _joints(10, 1)},
        {"id": 4, "image_id": 1, "category_id": 1, "keypoints": [0] * 51},
        {"id": 5, "image_id": 1, "category_id": 7, "keypoints": _joints(10, 1)},
        {"id": 6, "image_id": 9, "category_id": 1, "keypoints": _joints(10, 1)},
    ]
    (tmp_path / "seq.json").write_text(json.dumps({"images": images, "annotations": anns}))
    records = posetrack18_records(tmp_path / "seq.json", tmp_path)
    assert [r.ann_id for r in records] == [1]
    assert dict(records.skipped) == {
        "unlabelled frame": 1,
        "missing image": 1,
        "no visible joints": 1,
        "unknown category": 1,
        "unknown image": 1,
    }


def test_keypoint_box_enlarged_15_percent() -> None:
    joints = np.zeros((17, 3))
    joints[0] = [10, 20, 1]
    joints[5] = [110, 220, 1]
    joints[6] = [500, 500, 0]  # unlabelled: ignored
    np.testing.assert_allclose(keypoint_box(joints), [2.5, 5, 117.5, 235])
    assert keypoint_box(np.zeros((17, 3))) is None


def test_coco_fixture(shared_data: Path) -> None:
    coco = shared_data / "coco"
    records = coco_records(coco / "test_coco.json", coco)
    data = json.loads((coco / "test_coco.json").read_text())
    usable = [a for a in data["annotations"] if a["num_keypoints"] > 0 and not a["iscrowd"]]
    assert len(records) == len(usable) == 12
    assert records.skipped == {"no visible joints": 2}
    first = next(a for a in usable if a["id"] == records[0].ann_id)
    x, y, w, h = first["bbox"]
    np.testing.assert_allclose(records[0].box, [x, y, x + w - 1, y + h - 1])
    np.testing.assert_array_equal(records[0].joints.ravel(), first["keypoints"])
    ds = KeypointDataset(records, (256, 192), AugmentConfig(), seed=0)
    x0, target, weight, _ = ds[0]
    assert x0.shape == (3, 256, 192) and x0.dtype == torch.float32
    assert target.shape == (17, 64, 48) and weight.shape == (17, 1)
    assert target.max() == 1
    # The weights mark exactly the joints whose heatmap is non-empty.
    np.testing.assert_array_equal(weight[:, 0].numpy() > 0, target.flatten(1).amax(1).numpy() > 0)
    # The normalisation is ImageNet's (a crop of a real image has roughly zero mean).
    assert -1.5 < float(x0.mean()) < 1.5
    ds.set_epoch(1)
    x1, *_ = ds[0]
    assert not torch.equal(x0, x1)  # a new epoch draws new augmentation
    ds.set_epoch(0)
    torch.testing.assert_close(ds[0][0], x0)  # and the same epoch repeats exactly


def test_validation_crop_matches_the_estimator(shared_data: Path) -> None:
    """Without augmentation, the dataset's crop is the estimator's crop (same geometry, RGB)."""
    from pose.estimator import IMAGENET_MEAN, IMAGENET_STD
    from pose.transforms import box_to_center_scale, crop

    coco = shared_data / "coco"
    records = coco_records(coco / "test_coco.json", coco)
    ds = KeypointDataset(records, (256, 192))
    x, _, _, meta = ds[1]
    rec = records[1]
    rgb = cv2.cvtColor(cv2.imread(rec.image), cv2.COLOR_BGR2RGB)
    c, s = box_to_center_scale(rec.box[None], 192 / 256)
    expected = crop(rgb, c[0], s[0], (192, 256)).astype(np.float32)
    expected = (expected - np.array(IMAGENET_MEAN) * 255) / (np.array(IMAGENET_STD) * 255)
    np.testing.assert_allclose(x.numpy().transpose(1, 2, 0), expected, atol=1e-4)
    assert meta["rotation"] == 0 and not meta["flipped"]


def test_posetrack18_fixture(shared_data: Path) -> None:
    root = shared_data / "posetrack18"
    records = posetrack18_records(root / "annotations" / "val", root)
    files = sorted((root / "annotations" / "val").glob("*.json"))
    total = 0
    for f in files:
        data = json.loads(f.read_text())
        labelled = {i["id"] for i in data["images"] if i["is_labeled"]}
        total += sum(
            1 for a in data["annotations"] if a["image_id"] in labelled and any(v > 0 for v in a["keypoints"][2::3])
        )
    assert len(records) == total == 14
    assert not records.skipped
    for rec in records:
        assert Path(rec.image).is_file() and "images/val/" in rec.image
        np.testing.assert_allclose(rec.box, keypoint_box(rec.joints))
    single = posetrack18_records(files[0], root)
    assert len(single) == 1
    ds = KeypointDataset(records, (64, 64), AugmentConfig(flip_pairs=POSETRACK18_FLIP_PAIRS), seed=0)
    loader = DataLoader(ds, batch_size=7, num_workers=0)
    for x, target, weight, _ in loader:
        assert x.shape[1:] == (3, 64, 64) and target.shape[1:] == (17, 16, 16)
        assert (weight[:, 3:5] == 0).all()  # PoseTrack has no ears


def _pt17_point(jid: int, x: float, y: float, visible: int | None = 1) -> dict[str, list[float]]:
    point: dict[str, list[float]] = {"id": [jid], "x": [x], "y": [y]}
    if visible is not None:
        point["is_visible"] = [visible]
    return point


def test_posetrack17_joint_ids_map_to_posetrack18_slots(tmp_path: Path) -> None:
    from pose.train.data import POSETRACK17_TO_SLOT, posetrack17_records

    (tmp_path / "v").mkdir()
    cv2.imwrite(str(tmp_path / "v" / "1.jpg"), np.zeros((300, 300, 3), np.uint8))
    points = [_pt17_point(j, 10 + 10 * j, 20 + 5 * j, visible=0 if j == 4 else 1) for j in range(15)]
    rect = {"track_id": [7], "x1": [0], "y1": [0], "x2": [9], "y2": [9], "annopoints": [{"point": points}]}
    frames = [
        {"image": [{"name": "v/1.jpg"}], "imgnum": [1], "is_labeled": [1], "annorect": [rect]},
        {"image": [{"name": "v/1.jpg"}], "imgnum": [2], "is_labeled": [0], "annorect": [rect]},
        {"image": [{"name": "v/2.jpg"}], "imgnum": [3], "is_labeled": [1], "annorect": [rect]},
        {"image": [{"name": "v/1.jpg"}], "imgnum": [4], "is_labeled": [1], "annorect": [{"track_id": [1]}]},
    ]
    (tmp_path / "seq.json").write_text(json.dumps({"annolist": frames}))
    records = posetrack17_records(tmp_path / "seq.json", tmp_path)
    assert len(records) == 1
    assert dict(records.skipped) == {"unlabelled frame": 1, "missing image": 1, "no visible joints": 1}
    rec = records[0]
    assert (rec.image_id, rec.ann_id) == (1, 7)
    named = {"r_ankle": 16, "r_knee": 14, "r_hip": 12, "l_hip": 11, "l_knee": 13, "l_ankle": 15, "r_wrist": 10}
    named |= {"r_elbow": 8, "r_shoulder": 6, "l_shoulder": 5, "l_elbow": 7, "l_wrist": 9}
    named |= {"head_bottom": 1, "nose": 0, "head_top": 2}
    assert tuple(named.values()) == POSETRACK17_TO_SLOT
    for jid, slot in enumerate(POSETRACK17_TO_SLOT):
        np.testing.assert_allclose(rec.joints[slot, :2], [10 + 10 * jid, 20 + 5 * jid])
    assert rec.joints[13, 2] == 1 and rec.joints[0, 2] == 2  # occluded (id 4 = l_knee) still labelled
    assert (rec.joints[3:5] == 0).all()  # ears are not in PoseTrack
    np.testing.assert_allclose(rec.box, keypoint_box(rec.joints))  # keypoint box +15 %, not the head box
    with pytest.raises(ValueError, match="cannot read PoseTrack 2017"):
        (tmp_path / "bad.json").write_text("{}")
        posetrack17_records(tmp_path / "bad.json", tmp_path)


def test_posetrack17_bonn_fixture(shared_data: Path) -> None:
    from pose.train.data import posetrack17_records

    bonn = shared_data / "bonn_posetrack"
    ann = bonn / "060470979_posetrack2017.json"
    records = posetrack17_records(ann, bonn)
    frames = json.loads(ann.read_text())["annolist"]
    labelled = [f for f in frames if f["is_labeled"][0]]
    assert len(records) == sum(len(f["annorect"]) for f in labelled) == 164
    assert not records.skipped
    rec = records[0]
    assert rec.image.endswith("videos/060470979/00001.jpg") and Path(rec.image).is_file()
    first = frames[0]["annorect"][0]
    points = {p["id"][0]: (p["x"][0], p["y"][0]) for p in first["annopoints"][0]["point"]}
    np.testing.assert_allclose(rec.joints[2, :2], points[14])  # head_top -> slot 2
    np.testing.assert_allclose(rec.joints[1, :2], points[12])  # head_bottom -> slot 1
    np.testing.assert_allclose(rec.joints[16, :2], points[0])  # r_ankle -> slot 16
    assert rec.joints[0, 2] == 0  # this conversion has no nose
    ds = KeypointDataset(records, (64, 64), AugmentConfig(flip_pairs=POSETRACK18_FLIP_PAIRS), seed=0)
    x, target, weight, _ = ds[5]
    assert x.shape == (3, 64, 64) and target.shape == (17, 16, 16) and (weight[3:5] == 0).all()
