"""hrtrack synth: the synthetic PoseTrack world (kinematics, visibility, files, determinism)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from eval.api import evaluate
from eval.posetrack import HEAD_BOTTOM, HEAD_TOP, read_sequence
from pose.options import UsageError
from tracker.cli import build_parser, main
from tracker.detectors.precomputed import JsonDetections
from tracker.synth import (
    SynthConfig,
    articulate,
    gait_posture,
    generate,
    make_scene,
    render_frame,
)
from tracker.synth.body import HEAD_TOP as P_HEAD_TOP
from tracker.video import Frame as DetFrame

SMALL = {"width": 192, "height": 108, "write_video": False}


@pytest.fixture(scope="module")
def synth_set(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SynthConfig]:
    """A small set: 2 sequences x 16 frames, every 2nd frame labelled, with crowd ignore regions."""
    cfg = SynthConfig(sequences=2, frames=16, people=4, seed=7, label_every=2, ignore_regions=1.0, **SMALL)
    out = tmp_path_factory.mktemp("synth")
    generate(cfg, out)
    return out, cfg


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_deterministic_by_seed(tmp_path: Path) -> None:
    cfg = SynthConfig(sequences=1, frames=6, people=3, seed=3, **SMALL)
    generate(cfg, tmp_path / "a")
    generate(cfg, tmp_path / "b")
    generate(SynthConfig(sequences=1, frames=6, people=3, seed=4, **SMALL), tmp_path / "c")
    a, b, c = _files(tmp_path / "a"), _files(tmp_path / "b"), _files(tmp_path / "c")
    assert a == b
    assert len([k for k in a if k.endswith(".jpg")]) == 6
    assert a["posetrack18/000001_synth.json"] != c["posetrack18/000001_synth.json"]
    assert a["images/000001_synth/000000.jpg"] != c["images/000001_synth/000000.jpg"]


def test_posetrack_ground_truth(synth_set: tuple[Path, SynthConfig]) -> None:
    out, cfg = synth_set
    for fmt in ("posetrack17", "posetrack18"):
        files = sorted((out / fmt).glob("*.json"))
        assert [f.stem for f in files] == ["000001_synth", "000002_synth"]
        for f in files:
            seq = read_sequence(f)
            assert len(seq.frames) == cfg.frames
            assert [fr.is_labeled for fr in seq.frames] == [t % 2 == 0 for t in range(cfg.frames)]
            assert all((out / fr.image).is_file() for fr in seq.frames)
            labelled_people = 0
            for fr in seq.frames:
                if not fr.is_labeled:
                    assert not fr.people
                    continue
                assert fr.ignore_regions  # ignore_regions=1.0: every labelled frame has the crowd polygon
                ids = [p.track_id for p in fr.people]
                assert len(ids) == len(set(ids)), "track ids unique per frame"
                labelled_people += len(fr.people)
                for p in fr.people:
                    assert p.present.any(), "people without visible joints are omitted"
                    xy = p.joints[p.present]
                    assert (xy >= 0).all() and (xy[:, 0] < cfg.width).all() and (xy[:, 1] < cfg.height).all()
                    assert (p.visible[p.present] == 1).all()
                    x1, y1, x2, y2 = p.head_box
                    for j in (HEAD_TOP, HEAD_BOTTOM):
                        if p.present[j]:
                            assert x1 <= p.joints[j, 0] <= x2 and y1 <= p.joints[j, 1] <= y2
            assert labelled_people > 0


def test_track_ids_stable_across_formats(synth_set: tuple[Path, SynthConfig]) -> None:
    out, _ = synth_set
    s17 = read_sequence(out / "posetrack17" / "000001_synth.json")
    s18 = read_sequence(out / "posetrack18" / "000001_synth.json")
    for f17, f18 in zip(s17.frames, s18.frames, strict=True):
        assert f17.image == f18.image
        assert [p.track_id for p in f17.people] == [p.track_id for p in f18.people]
        for a, b in zip(f17.people, f18.people, strict=True):
            np.testing.assert_array_equal(a.present, b.present)
            np.testing.assert_allclose(a.joints[a.present], b.joints[b.present])


def test_self_evaluation_is_perfect(synth_set: tuple[Path, SynthConfig]) -> None:
    out, _ = synth_set
    for fmt in ("posetrack17", "posetrack18"):
        result = evaluate(out / fmt, out / fmt)
        assert result["ap"]["total"] == pytest.approx(100.0)
        assert result["mota"]["total"] == pytest.approx(100.0)


def test_coco_keypoints_load_with_pycocotools(synth_set: tuple[Path, SynthConfig]) -> None:
    from pycocotools.coco import COCO

    out, cfg = synth_set
    coco = COCO(str(out / "coco" / "000001_synth.json"))
    assert len(coco.getImgIds()) == cfg.frames
    anns = coco.loadAnns(coco.getAnnIds(iscrowd=False))
    assert anns and len(coco.getAnnIds(iscrowd=True)) == cfg.frames  # one crowd region per frame
    vis = np.concatenate([np.array(a["keypoints"]).reshape(17, 3)[:, 2] for a in anns])
    assert set(np.unique(vis)) <= {0, 1, 2} and (vis == 2).any()
    for a in anns:
        kp = np.array(a["keypoints"]).reshape(17, 3)
        assert a["num_keypoints"] == int((kp[:, 2] > 0).sum())
        assert (kp[kp[:, 2] == 0, :2] == 0).all()
        x, y, w, h = a["bbox"]
        assert w > 0 and h > 0 and x >= 0 and x + w <= cfg.width + 1e-6 and y + h <= cfg.height + 1e-6
        img = coco.loadImgs(a["image_id"])[0]
        assert (out / img["file_name"]).is_file()


def test_occluded_joints_are_invisible() -> None:
    """A small far person right behind a big near one: only its head and shoulders show."""
    scene = make_scene(SynthConfig(people=2, frames=1, seed=0, **SMALL), 0)
    scene.tracks[0].z[0], scene.tracks[1].z[0] = 0.9, 0.1
    far = articulate(gait_posture("walk", 0.0, 0.0, 0.0), (96, 80), 60)
    near = articulate(gait_posture("walk", 0.0, 0.0, 0.0), (96, 125), 100)
    _, truth = render_frame(scene, 0, poses=[far, near])
    people = {p.track_id: p for p in truth.people}
    assert not people[0].visible[7:17].any()  # arms, hips, legs behind the near person
    assert people[0].in_image[7:17].all()
    assert people[0].visible[[0, 5, 6, P_HEAD_TOP]].all()  # head and shoulders stick out above
    assert people[0].visible_fraction < 0.5
    assert people[1].visible[people[1].in_image].all() and people[1].visible_fraction == 1.0
    # swap the depth order: now the small person is in front and fully visible
    scene.tracks[0].z[0], scene.tracks[1].z[0] = 0.1, 0.9
    _, truth = render_frame(scene, 0, poses=[far, near])
    assert {p.track_id: p for p in truth.people}[0].visible[5:17].all()


def test_kinematics_turning_and_proportions() -> None:
    stand = gait_posture("walk", 0.0, 0.0, 0.0)
    front = articulate(stand, (100.0, 300.0), 200.0)
    assert front.points[P_HEAD_TOP, 1] == pytest.approx(100.0)  # head top one height above the ground
    assert front.points[15, 1] == pytest.approx(300.0 - 0.039 * 200.0)  # ankles at ankle height
    assert front.points[5, 0] > front.points[6, 0]  # facing the camera: left shoulder on the image's right
    back = articulate(gait_posture("walk", 0.0, 0.0, math.pi), (100.0, 300.0), 200.0)
    assert back.points[5, 0] < back.points[6, 0]  # back view: the order swaps
    assert back.face_hidden()[[0, 1, 2]].all() and not front.face_hidden().any()
    side = articulate(gait_posture("walk", 0.0, 0.0, math.pi / 2), (100.0, 300.0), 200.0)
    assert abs(side.points[5, 0] - side.points[6, 0]) < 1e-6 < abs(front.points[5, 0] - front.points[6, 0])
    stride = articulate(gait_posture("run", math.pi / 2, 1.0, math.pi / 2), (100.0, 300.0), 200.0)
    assert stride.points[15, 0] - stride.points[16, 0] > 40  # legs apart in profile, left leg forward
    hb = front.head_box()
    assert (hb[2] - hb[0]) == pytest.approx(1.1 * 0.15 * 200.0)


def test_camera_pan_moves_the_background() -> None:
    scene = make_scene(SynthConfig(people=3, frames=30, seed=2, width=320, height=180, write_video=False), 0)
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    moved = [t for t in range(29) if abs(scene.camera[t + 1, 0] - scene.camera[t, 0]) >= 1][:3]
    assert moved, "the camera pans"
    for t in moved:
        img0, truth0 = render_frame(scene, t)
        img1, truth1 = render_frame(scene, t + 1)
        flow = dis.calc(cv2.cvtColor(img0, cv2.COLOR_BGR2GRAY), cv2.cvtColor(img1, cv2.COLOR_BGR2GRAY), None)
        mask = np.ones(img0.shape[:2], dtype=bool)
        for p in truth0.people + truth1.people:
            x1, y1, x2, y2 = p.box.astype(int)
            mask[max(0, y1 - 5) : y2 + 5, max(0, x1 - 5) : x2 + 5] = False
        dx, dy = np.median(flow[mask], axis=0)
        expected = -(scene.camera[t + 1] - scene.camera[t])
        assert abs(dx) >= 1.0
        assert dx == pytest.approx(expected[0], abs=0.75) and dy == pytest.approx(expected[1], abs=0.75)


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    lo, hi = np.maximum(a[:2], b[:2]), np.minimum(a[2:], b[2:])
    inter = float(np.prod(np.clip(hi - lo, 0, None)))
    return inter / (np.prod(a[2:] - a[:2]) + np.prod(b[2:] - b[:2]) - inter)


def test_detections_have_the_configured_errors(tmp_path: Path) -> None:
    cfg = SynthConfig(
        sequences=1,
        frames=120,
        people=4,
        seed=11,
        det_miss=0.3,
        det_fp=1.0,
        write_frames=False,
        ignore_regions=0.0,
        width=160,
        height=90,
        write_video=False,
    )
    generate(cfg, tmp_path)
    det_file = tmp_path / "detections" / "000001_synth.json"
    dets = json.loads(det_file.read_text())
    coco = json.loads((tmp_path / "coco" / "000001_synth.json").read_text())
    names = {img["id"]: img["file_name"] for img in coco["images"]}
    gt: dict[str, list[np.ndarray]] = {}
    detectable = 0
    for a in coco["annotations"]:
        x, y, w, h = a["bbox"]
        gt.setdefault(names[a["image_id"]], []).append(np.array([x, y, x + w, y + h]))
        detectable += a["visible_fraction"] >= cfg.det_min_visible and min(w, h) >= 4
    hits = fps = 0
    for d in dets:
        assert d["category_id"] == 1 and d["image_id"] == d["file_name"] and 0 < d["score"] <= 1
        x, y, w, h = d["bbox"]
        box = np.array([x, y, x + w, y + h])
        if any(_iou(box, g) > 0.5 for g in gt.get(d["file_name"], [])):
            hits += 1
        else:
            fps += 1
    assert 0.15 < 1 - hits / detectable < 0.45  # det_miss 0.3
    assert 0.7 < fps / cfg.frames < 1.3  # det_fp 1 per frame
    stats = json.loads((tmp_path / "synth.json").read_text())["sequences"][0]["detections"]
    assert stats["hits"] + stats["false_positives"] == len(dets) and stats["detectable"] == detectable
    # the tracker's precomputed-detections reader finds them by the PoseTrack image name
    reader = JsonDetections(det_file)
    name = names[coco["images"][5]["id"]]
    found = reader.detect(DetFrame(None, 5, name))
    assert len(found) == sum(d["file_name"] == name for d in dets)


def test_video_and_cli(tmp_path: Path) -> None:
    argv = [
        "synth",
        "--out",
        str(tmp_path),
        "--sequences",
        "1",
        "--frames",
        "5",
        "--size",
        "96x64",
        "--quiet",
        "--difficulty",
        "easy",
        "--no-frames",
    ]
    assert main(argv) == 0
    cap = cv2.VideoCapture(str(tmp_path / "videos" / "000001_synth.mp4"))
    frames = 0
    while cap.read()[0]:
        frames += 1
    cap.release()
    assert frames == 5
    assert not (tmp_path / "images").exists()
    assert len(read_sequence(tmp_path / "posetrack17" / "000001_synth.json").frames) == 5
    with pytest.raises(UsageError, match="--size: expected WIDTHxHEIGHT"):
        build_parser().parse_args(["synth", "--size", "640"])
    with pytest.raises(ValueError, match="difficulty"):
        SynthConfig(difficulty="extreme").resolved()
