"""IDF1 beside poseval's MOTA: :class:`eval.metrics.IdentityCounter` against py-motmetrics' ID measures,
the result keys of :func:`eval.evaluate` and the identity table of ``hrtrack eval``."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from test_eval_api import BONN, _iou_distance, _person, _write

from eval import evaluate, read_sequence, write_sequence
from eval.api import IDENTITY_TITLE, format_identity_table
from eval.metrics import IdentityCounter, assign_frame, mot_inputs, prepare_frames
from eval.posetrack import NUM_JOINTS, Frame, Person, Sequence
from tracker.cli import main

ID_KEYS = ("idtp", "idfp", "idfn")

# ----------------------------------------------------------------------------- the counter


def test_counter_small_case():
    """Two objects, two hypotheses; hypothesis 20 follows object 1 for 3 frames, then object 2 once."""
    c = IdentityCounter()
    nan = np.nan
    c.update([1, 2], [20], [[0.1], [nan]])
    c.update([1, 2], [20], [[0.1], [nan]])
    c.update([1, 2], [20, 21], [[0.2, nan], [nan, 0.3]])
    c.update([2], [20], [[0.1]])
    c.update([], [21], np.empty((0, 1)))
    # best mapping 1 <-> 20 (3 frames), 2 <-> 21 (1 frame)
    assert (c.idtp, c.idfp, c.idfn) == (4, 6 - 4, 7 - 4)
    assert c.idf1 == pytest.approx(2 * 4 / (7 + 6))
    c.update_frame(1, 1, [])  # poseval's dummy frame: one id on each side, never paired
    assert (c.idtp, c.idfp, c.idfn) == (4, 3, 4) and c.frames == 6
    assert math.isnan(IdentityCounter().idf1)


def test_counter_prefers_the_larger_total_over_a_greedy_pick():
    c = IdentityCounter()
    for o, h, n in ((1, 10, 5), (1, 11, 4), (2, 10, 4)):
        for _ in range(n):
            c.update([o], [h], [[0.0]])
    assert c.idtp == 8  # 1 <-> 11 and 2 <-> 10, not the largest pair 1 <-> 10 alone


def test_mot15_oracle(shared_data):
    """Per sequence, the counts equal motmetrics' own; both sequences together give IDF1 0.624."""
    mm = pytest.importorskip("motmetrics")
    root = shared_data / "mot15" / "train"
    totals = np.zeros(3)
    for name in ("TUD-Campus", "TUD-Stadtmitte"):
        gt = np.loadtxt(root / name / "gt" / "gt.txt", delimiter=",", ndmin=2)
        hyp = np.loadtxt(root / "results" / f"{name}.txt", delimiter=",", ndmin=2)
        counter, acc = IdentityCounter(), mm.MOTAccumulator(auto_id=True)
        for frame in np.union1d(gt[:, 0], hyp[:, 0]):
            g, h = gt[gt[:, 0] == frame], hyp[hyp[:, 0] == frame]
            d = _iou_distance(g[:, 2:6], h[:, 2:6])
            counter.update(g[:, 1].astype(int), h[:, 1].astype(int), d)
            acc.update(g[:, 1].astype(int), h[:, 1].astype(int), d)
        got = mm.metrics.create().compute(acc, metrics=[*ID_KEYS, "idf1"], return_dataframe=False)
        mine = (counter.idtp, counter.idfp, counter.idfn)
        assert mine == tuple(int(got[k]) for k in ID_KEYS), name
        assert counter.idf1 == pytest.approx(got["idf1"], abs=1e-12)
        totals += mine
    idtp, idfp, idfn = totals
    assert 2 * idtp / (2 * idtp + idfp + idfn) == pytest.approx(0.624, abs=5e-4)


# ----------------------------------------------------------------------------- evaluate


def test_bonn_gt_against_itself_has_idf1_100(shared_data, tmp_path):
    r = evaluate(shared_data / BONN, shared_data / BONN)
    assert r["idf1"]["total"] == pytest.approx(100.0)
    assert r["idp"]["total"] == pytest.approx(100.0) and r["idr"]["total"] == pytest.approx(100.0)
    assert r["id_switches"]["total"] == 0
    assert r["counts"]["idfp"] == [0] * NUM_JOINTS and r["counts"]["idfn"] == [0] * NUM_JOINTS
    assert r["counts"]["idtp"] == r["counts"]["objects"]


def _people_case() -> tuple[Sequence, Sequence]:
    """Three people over 12 frames (the last labelled one is not scored); the predictions swap the
    ids of people 0 and 1 from frame 6 on, lose a few joints, and frame 4 has no predictions at all
    (a poseval dummy frame, whose dummy ids coincide with the real ids 0 of this first sequence)."""
    gt_frames, pr_frames = [], []
    for f in range(12):
        gt_frames.append([_person(k, dx=3.0 * f) for k in range(3)])
        if f == 4:
            pr_frames.append([])
            continue
        swap = {0: 1, 1: 0} if f >= 6 else {}
        people = []
        for k in range(3):
            joints = [j for j in range(NUM_JOINTS) if (j + f + k) % 7]  # every 7th joint missing
            p = _person(k, dx=3.0 * f + 1.0, joints=joints)
            p.track_id = swap.get(k, k)
            people.append(p)
        pr_frames.append(people)
    return _frames_seq("a", gt_frames), _frames_seq("a", pr_frames)


def _frames_seq(name: str, frames: list[list[Person]]) -> Sequence:
    return Sequence(name, [Frame(f"{name}/{i:03d}.jpg", True, [], ps) for i, ps in enumerate(frames)])


def _bonn_case(shared_data: Path) -> tuple[Sequence, Sequence]:
    gt = read_sequence(shared_data / BONN)
    pr = read_sequence(shared_data / BONN)
    for f in pr.frames[20:]:
        for p in f.people:
            p.track_id = {0: 1, 1: 0}.get(p.track_id, p.track_id)
    return gt, pr


@pytest.mark.parametrize("case", ["people", "bonn"])
def test_swapped_ids_match_motmetrics_per_joint(case, request, tmp_path):
    """Swapped identities lower IDF1; the numbers equal motmetrics' IDF1 over poseval's per-joint
    accumulator inputs (every frame but the last labelled one of the sequence), averaged over joints."""
    mm = pytest.importorskip("motmetrics")
    gt, pr = _people_case() if case == "people" else _bonn_case(request.getfixturevalue("shared_data"))
    (tmp_path / "gt").mkdir()
    (tmp_path / "pr").mkdir()
    write_sequence(gt, tmp_path / "gt" / f"{gt.name}.json")
    write_sequence(pr, tmp_path / "pr" / f"{gt.name}.json")
    r = evaluate(tmp_path / "gt", tmp_path / "pr")

    gt_file, pr_file = tmp_path / "gt" / f"{gt.name}.json", tmp_path / "pr" / f"{gt.name}.json"
    frames = prepare_frames([read_sequence(gt_file)], [read_sequence(pr_file, prediction=True)])
    accs = [mm.MOTAccumulator(auto_id=True) for _ in range(NUM_JOINTS)]
    for f in frames[:-1]:  # one sequence: its last labelled frame is not scored
        a = assign_frame(f)
        for j in range(NUM_JOINTS):
            accs[j].update(*mot_inputs(f, a, j))
    metrics = mm.metrics.create()
    ref = [metrics.compute(acc, metrics=[*ID_KEYS, "idf1", "idp", "idr"], return_dataframe=False) for acc in accs]
    for k in ID_KEYS:
        assert r["counts"][k] == [int(x[k]) for x in ref], k
    np.testing.assert_allclose(r["per_joint"]["idf1"], [100 * x["idf1"] for x in ref], rtol=0, atol=1e-9)
    # the mean over the joints that have objects (a joint never labelled is NaN there too, as for MOTA)
    for key in ("idf1", "idp", "idr"):
        assert r[key]["total"] == pytest.approx(100 * np.nanmean([x[key] for x in ref]), abs=1e-9), key
    assert r["idf1"]["total"] < 90
    assert r["id_switches"]["total"] == sum(r["counts"]["switches"]) > 0
    assert set(r["idf1"]) == set(r["mota"])


def test_gt_against_itself_has_idf1_100(tmp_path):
    gt, _ = _people_case()
    path = tmp_path / "a.json"
    write_sequence(gt, path)
    r = evaluate(path, path)
    assert r["idf1"]["total"] == pytest.approx(100.0) and r["id_switches"]["total"] == 0


def test_no_scored_frame_gives_nan(tmp_path):
    _write(tmp_path, "a", [[_person(0)]])  # one labelled frame: nothing left for MOTA or IDF1
    r = evaluate(tmp_path / "a.json", tmp_path / "a.json")
    assert math.isnan(r["idf1"]["total"]) and math.isnan(r["mota"]["total"])
    assert math.isnan(r["idp"]["total"]) and math.isnan(r["idr"]["total"])
    assert "&  nan &" in format_identity_table(r)


# ----------------------------------------------------------------------------- hrtrack eval


def test_eval_cli_prints_identity_table_and_json(tmp_path, capsys):
    gt, pr = _people_case()
    for folder, seq in (("gt", gt), ("pr", pr)):
        (tmp_path / folder).mkdir()
        write_sequence(seq, tmp_path / folder / "a.json")
    out = tmp_path / "m.json"
    argv = ["eval", "--gt", str(tmp_path / "gt"), "--pred", str(tmp_path / "pr"), "--json", str(out)]
    assert main([*argv, "--per-sequence"]) == 0
    text = capsys.readouterr().out
    data = json.loads(out.read_text())
    mot, title = text.index("Multiple Object Tracking (MOT) metrics:"), text.index(IDENTITY_TITLE)
    assert mot < title
    lines = text[title:].splitlines()
    assert lines[1] == "& IDF1 & IDF1 & IDF1 & IDF1 & IDF1 & IDF1 & IDF1 & IDF1 & IDP  & IDR  & IDsw \\\\"
    assert lines[2] == "& Head & Shou & Elb  & Wri  & Hip  & Knee & Ankl & Total& Total& Total& Total\\\\"
    assert lines[3].endswith(f"&{data['id_switches']['total']:>5} \\\\")
    assert f"&{data['idf1']['total']:5.1f} &" in lines[3]
    assert f"IDF1 {data['idf1']['total']:.1f}" in text  # the per-sequence line
    assert set(data["idf1"]) == set(data["mota"])
    assert set(data["idp"]) == set(data["idr"]) == set(data["id_switches"]) == {"total"}
    assert len(data["per_joint"]["idf1"]) == NUM_JOINTS and all(len(data["counts"][k]) == NUM_JOINTS for k in ID_KEYS)
    assert data["sequences"]["a"]["idf1"]["total"] == pytest.approx(data["idf1"]["total"])


def test_bonn_copy_through_the_cli(shared_data, tmp_path, capsys):
    """A copy of the GT under another name is allowed on the command line: IDF1 100 (the head group
    is NaN, as its MOTA: one head joint is never labelled in this sequence)."""
    shutil.copy(shared_data / BONN, tmp_path / "pred.json")
    assert main(["eval", "--gt", str(shared_data / BONN), "--pred", str(tmp_path / "pred.json")]) == 0
    text = capsys.readouterr().out
    row = text.split(IDENTITY_TITLE)[1].splitlines()[3]
    assert row == "&  nan " + "&100.0 " * 9 + "&    0 \\\\"
