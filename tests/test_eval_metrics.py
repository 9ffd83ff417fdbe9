"""Hand-computed checks of the PoseTrack metrics and equality with motmetrics' accumulator."""

from __future__ import annotations

import numpy as np
import pytest

from eval.metrics import (
    FrameData,
    MotCounter,
    assign_frame,
    average_precision,
    compute_metrics,
    points_in_polygon,
    prepare_frames,
)
from eval.posetrack import NUM_JOINTS, Frame, Person, PoseTrackError, Sequence

HEAD = np.array([0.0, 0.0, 30.0, 40.0])  # diagonal 50 -> head size 30, PCKh radius 15 px


def person(tid: int, dx: float = 0.0, joints: list[int] | None = None, score: float | None = 1.0) -> Person:
    """A person whose joint j sits at (100 * tid + dx, 10 * j); optionally only some joints."""
    p = Person.empty(tid)
    js = range(NUM_JOINTS) if joints is None else joints
    for j in js:
        p.joints[j] = (100.0 * tid + dx, 10.0 * j)
        p.present[j] = True
        if score is not None:
            p.scores[j] = score
    p.head_box = HEAD.copy()
    return p


def seq(frames: list[list[Person]], name: str = "s") -> Sequence:
    return Sequence(name=name, frames=[Frame(image=f"{name}/{i}.jpg", people=ps) for i, ps in enumerate(frames)])


def score(gt: list[list[Person]], pr: list[list[Person]]) -> dict:
    return compute_metrics(prepare_frames([seq(gt)], [seq(pr)]))


def test_average_precision_hand_computed():
    # ranked labels 1, 0, 1 with 4 GT: AP = 0.25 * 1 + 0.25 * 2/3 = 0.41667
    assert average_precision(np.array([0.9, 0.8, 0.7]), np.array([1, 0, 1]), 4) == pytest.approx(41.6667, abs=1e-3)
    assert average_precision(np.array([0.2, 0.9]), np.array([1, 1]), 2) == pytest.approx(100.0)
    assert average_precision(np.empty(0), np.empty(0), 3) == 0.0  # no detections -> 0 (poseval)
    assert np.isnan(average_precision(np.array([0.5]), np.array([0]), 0))  # detections without GT


def test_ap_false_positive_ranked_first():
    gt = [[person(0), person(1)]]
    far = person(5)  # matches nobody, higher score
    far.scores[:] = 0.9
    near = person(0, dx=3, score=0.5)
    r = score(gt, [[near, far]])
    # per joint: ranked FP then TP over 2 GT -> recall 0.5 at precision 0.5 -> AP 25
    assert r["per_joint"]["ap"] == pytest.approx([25.0] * NUM_JOINTS)
    assert r["ap"]["total"] == pytest.approx(25.0)


def test_assignment_is_by_pckh_not_score():
    gt = Frame("a", people=[person(0), person(1)])
    # prediction 0 (low score) lies on GT 0; prediction 1 (high score) is halfway and matches nothing well
    p0 = person(0, dx=1, score=0.1)
    p1 = person(0, dx=14, joints=[0, 1, 2], score=0.9)  # within PCKh of GT 0 on 3 joints only
    p1.track_id = 2
    frames = prepare_frames([Sequence("s", [gt])], [Sequence("s", [Frame("a", people=[p0, p1])])])
    a = assign_frame(frames[0])
    assert a.pred_to_gt.tolist() == [0, -1]
    assert a.labels[0].all() and not a.labels[1].any()


def _three_frames(pr_frames):
    gt = [[person(0), person(1)] for _ in range(3)]
    return score(gt, pr_frames)


def test_mota_perfect_and_last_frame_skipped():
    r = _three_frames([[person(0), person(1)], [person(0), person(1)], []])  # frame 2 (last) is not scored
    assert r["mota"]["total"] == pytest.approx(100.0)
    assert r["counts"]["objects"] == [4] * NUM_JOINTS


def test_mota_miss():
    r = _three_frames([[person(0)], [person(0)], [person(0)]])
    assert r["counts"]["misses"] == [2] * NUM_JOINTS
    assert r["mota"]["total"] == pytest.approx(50.0)
    assert r["recall"]["total"] == pytest.approx(50.0)
    assert r["precision"]["total"] == pytest.approx(100.0)


def test_mota_false_positive():
    r = _three_frames([[person(0), person(1), person(7, 0)] for _ in range(3)])
    assert r["counts"]["false_positives"] == [2] * NUM_JOINTS
    assert r["mota"]["total"] == pytest.approx(50.0)
    assert r["precision"]["total"] == pytest.approx(100 * 4 / 6)


def test_mota_id_switch():
    a, b = person(0), person(1)
    a2, b2 = person(0), person(1)
    a2.track_id, b2.track_id = 1, 0  # identities swapped in frame 1
    r = _three_frames([[a, b], [a2, b2], [a2, b2]])
    assert r["counts"]["switches"] == [2] * NUM_JOINTS
    assert r["mota"]["total"] == pytest.approx(50.0)


def test_dummy_ids_for_frames_without_predictions():
    # frame 1 has no predictions: one dummy miss + one dummy FP per joint (poseval)
    r = _three_frames([[person(0), person(1)], [], []])
    assert r["counts"]["misses"] == [1] * NUM_JOINTS
    assert r["counts"]["false_positives"] == [1] * NUM_JOINTS
    assert r["counts"]["objects"] == [3] * NUM_JOINTS


def test_motp_of_offsets():
    r = _three_frames([[person(0, dx=3), person(1, dx=3)] for _ in range(3)])
    # distance 3/30 = 0.1 for every pair; poseval's sum of D counts the RAW rows too -> 2 x 0.1 per match
    assert r["per_joint"]["motp"] == pytest.approx([80.0] * NUM_JOINTS)


def test_ignore_regions_remove_gt_and_predicted_points():
    square = np.array([[-50.0, -5.0], [50.0, -5.0], [50.0, 55.0], [-50.0, 55.0]])  # joints 0..5 of person 0
    gt = Frame("a", ignore_regions=[square], people=[person(0), person(1)])
    pr = Frame("a", people=[person(0), person(1)])
    f = prepare_frames([Sequence("s", [gt])], [Sequence("s", [pr])])[0]
    assert f.gt_present[0, :6].sum() == 0 and f.gt_present[0, 6:].all()
    assert f.pr_present[0, :6].sum() == 0 and f.gt_present[1].all()


def test_points_in_polygon_boundary_excluded():
    sq = np.array([[0.0, 0.0], [10.0, 0.0], [10.0, 10.0], [0.0, 10.0]])
    pts = np.array([[5, 5], [0, 5], [10, 10], [11, 5], [5, -1], [9.99, 0.01]])
    assert points_in_polygon(pts, sq).tolist() == [True, False, False, False, False, True]
    assert not points_in_polygon(pts, sq[:2]).any()


def test_duplicate_track_ids_in_frame():
    with pytest.raises(PoseTrackError, match=r"frame 1 .*duplicate predicted track ids \[3\]"):
        prepare_frames([seq([[person(0)], [person(0)]])], [seq([[person(3)], [person(3), person(3, dx=50)]])])


def test_joint_absent_from_whole_sequence():
    gt = [[person(0, joints=list(range(13)))] for _ in range(3)]  # no nose, no head top
    r = score(gt, gt)
    assert r["per_joint"]["ap"][13] == 0.0 and np.isnan(r["per_joint"]["mota"][13])
    assert r["ap"]["total"] == pytest.approx(100 * 13 / 15)
    assert r["mota"]["total"] == pytest.approx(100.0)


def test_predictions_without_scores_use_min_score():
    gt = [[person(0), person(1)]]
    r = score(gt, [[person(0, score=None), person(1, score=None)]])
    assert r["ap"]["total"] == pytest.approx(100.0)
    f = prepare_frames([seq(gt)], [seq([[person(0, score=None)]])])[0]
    assert (f.pr_scores == -9999).all()


# ----------------------------------------------------------------------------- motmetrics equality


def _random_frames(rng: np.random.Generator, n_frames: int) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    out = []
    for _ in range(n_frames):
        no, nh = rng.integers(0, 6), rng.integers(0, 6)
        oids = rng.choice(8, size=no, replace=False)
        hids = rng.choice(8, size=nh, replace=False) + 100
        d = rng.random((no, nh)).round(3)
        d[rng.random((no, nh)) < 0.5] = np.nan
        out.append((oids, hids, d))
    return out


@pytest.mark.parametrize("seed", range(6))
def test_mot_counter_equals_motmetrics(seed):
    mm = pytest.importorskip("motmetrics")
    frames = _random_frames(np.random.default_rng(seed), 60)
    acc = mm.MOTAccumulator(auto_id=True)
    mine = MotCounter()
    for oids, hids, d in frames:
        acc.update(oids, hids, d)
        mine.update(oids, hids, d)
    ev = acc.mot_events
    got = mm.metrics.create().compute(
        acc,
        metrics=["num_misses", "num_switches", "num_false_positives", "num_objects", "num_detections"],
        return_dataframe=False,
    )
    assert mine.misses == got["num_misses"]
    assert mine.switches == got["num_switches"]
    assert mine.false_positives == got["num_false_positives"]
    assert mine.objects == got["num_objects"]
    assert mine.detections == got["num_detections"]
    assert mine.sum_d_events == pytest.approx(acc.events["D"].sum())
    assert mine.sum_d_matched == pytest.approx(ev[ev.Type.isin(["MATCH", "SWITCH"])]["D"].sum())


def test_frame_data_shapes_for_empty_frames():
    f = prepare_frames([seq([[person(0)]])], [seq([[]])])[0]
    assert isinstance(f, FrameData) and f.pr_xy.shape == (0, NUM_JOINTS, 2)
    a = assign_frame(f)
    assert a.pred_to_gt.shape == (0,)
