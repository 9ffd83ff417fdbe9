"""PoseTrack 2017 / 2018 reading, writing and the 17 <-> 15 joint conversion."""

from __future__ import annotations

import json

import numpy as np
import pytest

from eval.posetrack import (
    HEAD_BOTTOM,
    HEAD_TOP,
    NOSE,
    Frame,
    Person,
    PoseTrackError,
    Sequence,
    coco17_to_posetrack15,
    people_from_keypoints,
    posetrack15_to_slots17,
    read_sequence,
    write_sequence,
)


def _same_people(a: list[Person], b: list[Person]) -> None:
    assert len(a) == len(b)
    for p, q in zip(a, b, strict=True):
        assert p.track_id == q.track_id
        assert (p.present == q.present).all()
        np.testing.assert_allclose(p.joints[p.present], q.joints[q.present])
        np.testing.assert_allclose(p.scores[p.present], q.scores[q.present], equal_nan=True)
        if p.head_box is not None:
            np.testing.assert_allclose(p.head_box, q.head_box)


def _same_sequence(a: Sequence, b: Sequence) -> None:
    assert len(a.frames) == len(b.frames)
    for fa, fb in zip(a.frames, b.frames, strict=True):
        assert fa.image == fb.image and fa.is_labeled == fb.is_labeled
        assert len(fa.ignore_regions) == len(fb.ignore_regions)
        for ra, rb in zip(fa.ignore_regions, fb.ignore_regions, strict=True):
            np.testing.assert_allclose(ra, rb)
        _same_people(fa.people, fb.people)


def _sample_sequence() -> Sequence:
    kp = np.random.default_rng(0).random((2, 17, 3)) * [640, 480, 1]
    people = people_from_keypoints(kp, [3, 7], boxes=np.array([[1, 2, 300, 400], [5, 6, 50, 60.0]]))
    for p in people:
        p.head_box = np.array([10.0, 20.0, 40.5, 70.25])
    poly = np.array([[0, 0], [10, 0], [10, 10.5]])
    return Sequence(
        name="000001_test",
        frames=[Frame("images/a/0.jpg", True, [poly], people), Frame("images/a/1.jpg", False, [], [])],
    )


@pytest.mark.parametrize("first", ["2017", "2018"])
def test_round_trip_between_formats(tmp_path, first):
    seq = _sample_sequence()
    second = "2018" if first == "2017" else "2017"
    write_sequence(seq, tmp_path / "a.json", first)
    s1 = read_sequence(tmp_path / "a.json")
    write_sequence(s1, tmp_path / "b.json", second)
    s2 = read_sequence(tmp_path / "b.json")
    _same_sequence(seq, s1)
    _same_sequence(seq, s2)
    assert [p.name for p in tmp_path.iterdir()] == [p.name for p in tmp_path.iterdir() if p.suffix == ".json"]


def test_bonn_2017_to_2018_and_back(shared_data, tmp_path):
    gt = read_sequence(shared_data / "bonn_posetrack" / "060470979_posetrack2017.json")
    assert len(gt.frames) == 41 and all(len(f.people) == 4 for f in gt.frames)
    assert not any(p.present[NOSE] for f in gt.frames for p in f.people)
    write_sequence(gt, tmp_path / "x.json", "2018")
    back = read_sequence(tmp_path / "x.json")
    _same_sequence(gt, back)
    write_sequence(back, tmp_path / "y.json", "2017")
    _same_sequence(gt, read_sequence(tmp_path / "y.json"))


def test_posetrack18_files_read(shared_data, tmp_path):
    folder = shared_data / "posetrack18" / "annotations" / "val"
    seq = read_sequence(folder / "012834_mpii_test.json")
    assert len(seq.frames) == 1 and len(seq.frames[0].people) == 11
    seq = read_sequence(folder / "003418_mpii_test.json")
    p = seq.frames[0].people[0]
    raw = json.loads((folder / "003418_mpii_test.json").read_text())["annotations"][0]
    kp = np.array(raw["keypoints"], dtype=float).reshape(17, 3)
    np.testing.assert_allclose(p.joints[HEAD_BOTTOM], kp[1, :2])  # slot 1 = head_bottom
    np.testing.assert_allclose(p.joints[NOSE], kp[0, :2])
    assert p.present.sum() == int(((kp != 0).any(axis=1)).sum())
    np.testing.assert_allclose(p.head_box, [346, 337, 346 + 296, 337 + 237])
    assert len(seq.frames[0].ignore_regions) > 0
    write_sequence(seq, tmp_path / "z.json", "2017")
    _same_sequence(seq, read_sequence(tmp_path / "z.json"))


def test_coco_to_posetrack_conversion():
    kp = np.zeros((1, 17, 3))
    kp[0, :, 2] = 0.9
    kp[0, 0] = (50, 20, 0.8)  # nose
    kp[0, 1] = (45, 15, 0.7)  # left eye
    kp[0, 2] = (55, 15, 0.6)  # right eye
    kp[0, 5] = (30, 60, 0.9)  # left shoulder
    kp[0, 6] = (70, 60, 0.5)  # right shoulder
    kp[0, 16] = (60, 200, 0.4)  # right ankle
    joints, scores = coco17_to_posetrack15(kp)
    np.testing.assert_allclose(joints[0, HEAD_BOTTOM], (50, 60))
    np.testing.assert_allclose(joints[0, HEAD_TOP], (50, 15 + 0.5 * (15 - 60)))
    np.testing.assert_allclose(joints[0, NOSE], (50, 20))
    np.testing.assert_allclose(joints[0, 0], (60, 200))  # right ankle -> id 0
    np.testing.assert_allclose(joints[0, 9], (30, 60))  # left shoulder -> id 9
    assert scores[0, HEAD_BOTTOM] == 0.5 and scores[0, HEAD_TOP] == 0.5
    j18, _ = coco17_to_posetrack15(kp, layout="posetrack18")
    np.testing.assert_allclose(j18[0, HEAD_BOTTOM], (45, 15))
    np.testing.assert_allclose(j18[0, HEAD_TOP], (55, 15))
    slots = posetrack15_to_slots17(j18[0], np.ones(15, bool), np.full(15, 0.5))
    np.testing.assert_allclose(slots[[0, 1, 2, 16], :2], kp[0, [0, 1, 2, 16], :2])
    assert (slots[3:5] == 0).all()  # ears are not part of PoseTrack


def test_min_joint_score_drops_joints():
    kp = np.ones((1, 17, 3))
    kp[0, 9, 2] = 0.1
    (p,) = people_from_keypoints(kp, [1], min_joint_score=0.4)
    assert not p.present[11] and p.present.sum() == 14


def test_malformed_json_names_file_and_position(tmp_path):
    bad = tmp_path / "seq.json"
    bad.write_text('{"annolist": [\n  {"image": ]\n}')
    with pytest.raises(PoseTrackError) as e:
        read_sequence(bad)
    msg = str(e.value)
    assert "seq.json" in msg and "line 2 column" in msg and "\n" not in msg
    empty = tmp_path / "empty.json"
    empty.write_text("")
    with pytest.raises(PoseTrackError, match=r"empty\.json: malformed JSON at line 1 column 1"):
        read_sequence(empty)
    wrong = tmp_path / "wrong.json"
    wrong.write_text('{"foo": 1}')
    with pytest.raises(PoseTrackError, match="neither PoseTrack 2017 nor 2018"):
        read_sequence(wrong)


def test_write_is_atomic_and_keeps_old_file_on_failure(tmp_path):
    target = tmp_path / "out.json"
    target.write_text("old")
    seq = _sample_sequence()
    seq.frames[0].people[0].joints[0, 0] = np.nan  # json cannot hold NaN -> write fails
    with pytest.raises(ValueError):
        write_sequence(seq, target, "2017")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]
