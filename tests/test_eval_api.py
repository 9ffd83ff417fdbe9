"""End-to-end evaluator checks: real-data oracles, robustness cases, CLI helper, speed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from eval import EvalError, PoseTrackError, evaluate, format_tables, run_eval_cli
from eval.metrics import MotCounter, assign_frame, compute_metrics, mot_inputs, prepare_frames
from eval.posetrack import NUM_JOINTS, Frame, Person, Sequence, write_sequence

BONN = "bonn_posetrack/060470979_posetrack2017.json"


def _person(tid: int, dx: float = 0.0, score: float | None = 0.9, joints=range(NUM_JOINTS)) -> Person:
    p = Person.empty(tid)
    for j in joints:
        p.joints[j] = (100.0 * tid + dx, 10.0 * j)
        p.present[j] = True
        if score is not None:
            p.scores[j] = score
    p.head_box = np.array([0.0, 0.0, 30.0, 40.0])
    return p


def _write(folder: Path, name: str, frames: list[list[Person]], fmt: str = "2017") -> None:
    seq = Sequence(name, [Frame(f"{name}/{i:03d}.jpg", True, [], ps) for i, ps in enumerate(frames)])
    write_sequence(seq, folder / f"{name}.json", fmt)


@pytest.fixture
def dirs(tmp_path):
    gt, pr = tmp_path / "gt", tmp_path / "pr"
    gt.mkdir()
    pr.mkdir()
    return gt, pr


# ----------------------------------------------------------------------------- real data oracles


def test_bonn_gt_against_itself(shared_data, dirs):
    gt, pr = dirs
    shutil.copy(shared_data / BONN, gt)
    shutil.copy(shared_data / BONN, pr)
    r = evaluate(gt, pr)
    assert r["mota"]["total"] == pytest.approx(100.0)
    assert r["ap"]["total"] == pytest.approx(93.3, abs=0.05)
    expected = {"head": 66.67, "shoulder": 100, "elbow": 100, "wrist": 100, "hip": 100, "knee": 100, "ankle": 100}
    for k, v in expected.items():
        assert r["ap"][k] == pytest.approx(v, abs=0.01)
    assert r["counts"]["switches"] == [0] * NUM_JOINTS
    assert r["counts"]["objects"][0] == 40 * 4  # 41 frames, the last one skipped


def test_bonn_2018_copy_scores_the_same(shared_data, dirs):
    from eval.posetrack import read_sequence

    gt, pr = dirs
    shutil.copy(shared_data / BONN, gt)
    write_sequence(read_sequence(shared_data / BONN), pr / Path(BONN).name, "2018")
    r = evaluate(gt, pr)
    assert r["mota"]["total"] == pytest.approx(100.0) and r["ap"]["total"] == pytest.approx(93.33, abs=0.01)


def test_bonn_perturbed_tracks(shared_data, dirs):
    """Swapping two identities halfway produces switches; shifting joints lowers AP and MOTP."""
    from eval.posetrack import read_sequence

    gt, pr = dirs
    shutil.copy(shared_data / BONN, gt)
    seq = read_sequence(shared_data / BONN)
    for f in seq.frames[20:]:
        for p in f.people:
            p.track_id = {0: 1, 1: 0}.get(p.track_id, p.track_id)
    write_sequence(seq, pr / Path(BONN).name)
    r = evaluate(gt, pr)
    assert r["counts"]["switches"][0] == 2
    assert r["ap"]["total"] == pytest.approx(93.33, abs=0.01)
    assert r["mota"]["total"] < 100


def _iou_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """1 - IoU of x, y, w, h boxes; NaN where IoU < 0.5."""
    lo = np.maximum(a[:, None, :2], b[None, :, :2])
    hi = np.minimum(a[:, None, :2] + a[:, None, 2:], b[None, :, :2] + b[None, :, 2:])
    inter = np.clip(hi - lo, 0, None).prod(axis=2)
    union = a[:, 2:].prod(axis=1)[:, None] + b[:, 2:].prod(axis=1)[None, :] - inter
    d = 1 - inter / union
    d[d > 0.5] = np.nan
    return d


def test_mot15_oracle(shared_data):
    mm = pytest.importorskip("motmetrics")
    root = shared_data / "mot15" / "train"
    mine = [0, 0, 0, 0]  # misses, switches, false positives, objects
    ref = [0, 0, 0, 0]
    for name in ("TUD-Campus", "TUD-Stadtmitte"):
        gt = np.loadtxt(root / name / "gt" / "gt.txt", delimiter=",", ndmin=2)
        hyp = np.loadtxt(root / "results" / f"{name}.txt", delimiter=",", ndmin=2)
        counter, acc = MotCounter(), mm.MOTAccumulator(auto_id=True)
        for frame in np.union1d(gt[:, 0], hyp[:, 0]):
            g, h = gt[gt[:, 0] == frame], hyp[hyp[:, 0] == frame]
            d = _iou_distance(g[:, 2:6], h[:, 2:6])
            counter.update(g[:, 1].astype(int), h[:, 1].astype(int), d)
            acc.update(g[:, 1].astype(int), h[:, 1].astype(int), d)
        got = mm.metrics.create().compute(
            acc, metrics=["num_misses", "num_switches", "num_false_positives", "num_objects"], return_dataframe=False
        )
        for k, v in enumerate((counter.misses, counter.switches, counter.false_positives, counter.objects)):
            mine[k] += v
        for k, key in enumerate(("num_misses", "num_switches", "num_false_positives", "num_objects")):
            ref[k] += int(got[key])
    assert mine == ref
    assert mine[1] == 14
    assert 1 - (mine[0] + mine[1] + mine[2]) / mine[3] == pytest.approx(0.555, abs=5e-4)


def test_posetrack18_folder_against_itself(shared_data):
    folder = shared_data / "posetrack18" / "annotations" / "val"
    r = evaluate(folder, folder, per_sequence=True)
    assert r["num_sequences"] == 3 and r["num_frames"] == 3
    assert set(r["sequences"]) == {"003418_mpii_test", "009473_mpii_test", "012834_mpii_test"}
    # one labelled frame per sequence: nothing left for MOTA (poseval skips the last frame)
    assert np.isnan(r["mota"]["total"])
    assert all(v in (0.0, 100.0) for v in r["per_joint"]["ap"])


# ----------------------------------------------------------------------------- robustness


def test_missing_prediction_file(dirs):
    gt, pr = dirs
    _write(gt, "a", [[_person(0)], [_person(0)]])
    _write(gt, "b", [[_person(0)], [_person(0)]])
    _write(pr, "a", [[_person(0)], [_person(0)]])
    with pytest.raises(EvalError, match=r"prediction file .*b\.json missing for ground-truth sequence b\.json"):
        evaluate(gt, pr)
    r = evaluate(gt, pr, allow_missing=True)
    assert r["missing_predictions"] == ["b.json"]
    assert r["ap"]["total"] == pytest.approx(50.0)  # half of the GT joints found, all correct
    assert r["counts"]["misses"] == [1] * NUM_JOINTS  # one dummy miss for b's first frame


def test_frame_count_mismatch(dirs):
    gt, pr = dirs
    _write(gt, "a", [[_person(0)]] * 3)
    _write(pr, "a", [[_person(0)]] * 2)
    with pytest.raises(EvalError, match=r"a\.json: 2 prediction frames but 3 ground-truth frames"):
        evaluate(gt, pr)


def test_duplicate_track_ids(dirs):
    gt, pr = dirs
    _write(gt, "a", [[_person(0), _person(1)]] * 2)
    _write(pr, "a", [[_person(0), _person(1)], [_person(1), _person(1, dx=100)]])
    with pytest.raises(PoseTrackError, match=r"pr/a\.json: frame 1: track_id 1 is given to two people of this frame"):
        evaluate(gt, pr)


def test_single_labelled_frame_and_unlabelled_frames(dirs):
    gt, pr = dirs
    _write(gt, "a", [[], [_person(0)], []])  # only frame 1 is labelled
    _write(pr, "a", [[_person(0)], [_person(0)], [_person(3)]])
    r = evaluate(gt, pr, per_sequence=True)
    assert r["num_frames"] == 1
    assert r["ap"]["total"] == pytest.approx(100.0)  # predictions on unlabelled frames are ignored
    assert np.isnan(r["mota"]["total"]) and r["counts"]["objects"] == [0] * NUM_JOINTS


def test_empty_prediction_file(dirs):
    gt, pr = dirs
    _write(gt, "a", [[_person(0)], [_person(0)], [_person(0)]])
    _write(pr, "a", [[], [], []])
    r = evaluate(gt, pr)
    assert r["ap"]["total"] == 0.0
    # 2 scored frames, each one dummy object missed plus one dummy false positive: 1 - 4 / 2
    assert r["mota"]["total"] == pytest.approx(-100.0)
    (pr / "a.json").write_text("")
    with pytest.raises(PoseTrackError, match=r"a\.json: malformed JSON at line 1 column 1"):
        evaluate(gt, pr)


def test_predictions_without_scores_and_2018_input(dirs):
    gt, pr = dirs
    _write(gt, "a", [[_person(0), _person(1)]] * 3, fmt="2018")
    _write(pr, "a", [[_person(0, score=None), _person(1, dx=20, score=None)]] * 3)
    r = evaluate(gt, pr)
    # all scores tie at -9999: ranked like poseval (argsort reversed -> FP, TP, FP, TP, ...)
    assert r["ap"]["total"] == pytest.approx(25.0)
    assert r["counts"]["misses"] == [2] * NUM_JOINTS and r["counts"]["false_positives"] == [2] * NUM_JOINTS


def test_joint_missing_in_whole_sequence(dirs):
    gt, pr = dirs
    no_head = list(range(12))
    _write(gt, "a", [[_person(0, joints=no_head)]] * 3)
    _write(pr, "a", [[_person(0)]] * 3)  # predicts head joints that have no GT
    r = evaluate(gt, pr)
    assert np.isnan(r["per_joint"]["ap"][14]) and np.isnan(r["ap"]["head"])
    assert r["ap"]["total"] == pytest.approx(100.0)
    assert r["per_joint"]["mota"][14] is not None and np.isnan(r["per_joint"]["mota"][14])


def test_cli_helper_prints_tables_and_writes_json(dirs, capsys, tmp_path):
    gt, pr = dirs
    _write(gt, "a", [[_person(0), _person(1)]] * 3)
    _write(pr, "a", [[_person(0), _person(1)]] * 3)
    out = tmp_path / "res" / "metrics.json"
    assert run_eval_cli(gt, pr, json_out=out, per_sequence=True) == 0
    text = capsys.readouterr().out
    assert "& Head & Shou & Elb  & Wri  & Hip  & Knee & Ankl & Total\\\\" in text
    assert "& MOTA & MOTA & MOTA & MOTA & MOTA & MOTA & MOTA & MOTA & MOTP & Prec & Rec  \\\\" in text
    assert "&100.0 &100.0 &100.0 &100.0 &100.0 &100.0 &100.0 &100.0 \\\\" in text
    data = json.loads(out.read_text())
    assert data["ap"]["total"] == 100.0 and data["sequences"]["a"]["mota"]["total"] == 100.0
    assert len(data["per_joint"]["ap"]) == 15 and len(data["per_joint"]["mota"]) == 15
    with pytest.raises(ValueError, match="does not exist"):
        run_eval_cli(gt / "nope", pr)


def test_format_tables_nan():
    nan = float("nan")
    groups = dict.fromkeys(["head", "shoulder", "elbow", "wrist", "hip", "knee", "ankle", "total"], nan)
    r = {"ap": groups, "mota": groups, "motp": {"total": 0.0}, "precision": {"total": nan}, "recall": {"total": nan}}
    assert "&  nan &  nan" in format_tables(r)


# ----------------------------------------------------------------------------- speed


def _synthetic(n_seq: int, n_frames: int, n_people: int) -> tuple[list[Sequence], list[Sequence]]:
    rng = np.random.default_rng(1)
    gts, prs = [], []
    for s in range(n_seq):
        base = rng.random((n_people, NUM_JOINTS, 2)) * 1000
        gf, pf = [], []
        for f in range(n_frames):
            gp, pp = [], []
            for k in range(n_people):
                p = Person.empty(k)
                p.joints[:] = base[k] + f
                p.present[:] = rng.random(NUM_JOINTS) > 0.1
                p.head_box = np.array([0, 0, 30, 40.0])
                q = Person.empty((k + f // 10) % n_people)  # identities rotate every 10 frames
                q.joints[:] = p.joints + rng.normal(0, 8, (NUM_JOINTS, 2))
                q.present[:] = rng.random(NUM_JOINTS) > 0.05
                q.scores[:] = rng.random(NUM_JOINTS)
                gp.append(p)
                pp.append(q)
            gf.append(Frame(f"{f}.jpg", people=gp))
            pf.append(Frame(f"{f}.jpg", people=pp))
        gts.append(Sequence(f"s{s}", gf))
        prs.append(Sequence(f"s{s}", pf))
    return gts, prs


def test_fast_counts_equal_motmetrics():
    """The whole metric pass vs. feeding the same inputs to motmetrics accumulators (poseval's way).
    The speed of the two is measured by ``hrtrack bench eval``, not asserted here."""
    mm = pytest.importorskip("motmetrics")
    frames = prepare_frames(*_synthetic(6, 25, 6))
    fast = compute_metrics(frames)

    names = ["num_misses", "num_switches", "num_false_positives", "num_objects", "num_detections"]
    totals = np.zeros((len(names), NUM_JOINTS))
    sum_d = np.zeros(NUM_JOINTS)
    assignments = [assign_frame(f) for f in frames]
    metrics = mm.metrics.create()
    for s in sorted({f.seq for f in frames}):
        ks = [k for k, f in enumerate(frames) if f.seq == s][:-1]
        accs = [mm.MOTAccumulator(auto_id=True) for _ in range(NUM_JOINTS)]
        for k in ks:
            for j in range(NUM_JOINTS):
                accs[j].update(*mot_inputs(frames[k], assignments[k], j))
        for j in range(NUM_JOINTS):
            got = metrics.compute(accs[j], metrics=names, return_dataframe=False, name="acc")
            totals[:, j] += [got[n] for n in names]
            sum_d[j] += accs[j].events["D"].sum()

    c = fast["counts"]
    for row, key in zip(totals, ("misses", "switches", "false_positives", "objects", "detections"), strict=True):
        assert row.tolist() == c[key]
    assert sum(c["switches"]) > 0
    motp = np.where(totals[4] == 0, 0.0, 100 * (1 - sum_d / np.maximum(totals[4], 1)))
    np.testing.assert_allclose(fast["per_joint"]["motp"], motp)
