"""Synthetic sets, the bench helpers and regression values computed with the official poseval."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from eval import evaluate, read_sequence
from eval.posetrack import NUM_JOINTS, Frame, Person, Sequence, write_sequence
from tracker.bench.evaluator import (
    compare_tables,
    parse_poseval_tables,
    poseval_command,
    read_poseval_json,
    run_eval_bench,
)
from tracker.cli import main
from tracker.synth.crosscheck import CrossCheckConfig, make_synthetic, write_synthetic


def _files(folder: Path) -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted(folder.glob("*.json"))}


# ----------------------------------------------------------------------------- generator


def test_synth_is_deterministic_and_loads(tmp_path):
    cfg = CrossCheckConfig(sequences=3, frames=12, people=4, seed=5, edge_cases=True)
    gt1, pr1 = write_synthetic(tmp_path / "a", cfg)
    gt2, pr2 = write_synthetic(tmp_path / "b", cfg)
    assert _files(gt1) == _files(gt2) and _files(pr1) == _files(pr2)
    assert len(_files(gt1)) == 3
    gt3, _ = write_synthetic(tmp_path / "c", cfg, seed=6)
    assert _files(gt3) != _files(gt1)
    for f in gt1.glob("*.json"):
        seq = read_sequence(f)
        assert len(seq.frames) == 12
        assert seq.name.endswith("_mpii_test") and seq.frames[3].image.endswith(f"{seq.name}/000003.jpg")
        ids = [p.track_id for fr in seq.frames for p in fr.people]
        assert all(0 <= i < 10000 for i in ids)
        assert all(p.head_box is not None for fr in seq.frames for p in fr.people)


def test_synth_content_is_varied():
    gts, prs = make_synthetic(sequences=6, frames=40, people=6, seed=1)
    gt_people = [p for s in gts for f in s.frames for p in f.people]
    pr_people = [p for s in prs for f in s.frames for p in f.people]
    assert len(pr_people) > len(gt_people) > 100
    present = np.array([p.present for p in gt_people])
    assert 0.8 < present.mean() < 0.97  # some absent joints
    assert any(f.ignore_regions for s in gts for f in s.frames)
    assert any(not f.is_labeled for s in gts for f in s.frames)  # some sequences labelled every 4th frame
    scores = np.concatenate([p.scores[p.present] for p in pr_people])
    assert np.isfinite(scores).all() and scores.min() >= 0 and scores.max() <= 1
    with pytest.raises(TypeError, match="unknown CrossCheckConfig fields"):
        make_synthetic(bogus=1)


def test_synth_2018_scores_like_2017(tmp_path):
    cfg = CrossCheckConfig(sequences=3, frames=16, people=4, seed=2)
    r17 = evaluate(*write_synthetic(tmp_path / "a", cfg))
    r18 = evaluate(*write_synthetic(tmp_path / "b", cfg, fmt="2018"))
    for key in ("ap", "mota"):
        for g, v in r17[key].items():
            assert r18[key][g] == pytest.approx(v, abs=1e-9)


def test_evaluate_on_synth_is_plausible(tmp_path):
    gt, pr = write_synthetic(tmp_path, sequences=4, frames=24, people=5, seed=3, edge_cases=True)
    r = evaluate(gt, pr, per_sequence=True)
    assert r["num_sequences"] == 4 and len(r["sequences"]) == 4
    for key in ("ap", "mota"):
        assert all(math.isfinite(v) for v in r[key].values())
    assert 30 < r["ap"]["total"] < 95
    assert -50 < r["mota"]["total"] < 90
    assert 0 < r["precision"]["total"] < 100 and 0 < r["recall"]["total"] < 100
    assert sum(r["counts"]["switches"]) > 0 and sum(r["counts"]["false_positives"]) > 0
    # perfect predictions: the GT against itself (without the edge cases' dummy frames)
    gt, _ = write_synthetic(tmp_path / "plain", sequences=3, frames=12, people=4, seed=3)
    r = evaluate(gt, gt)
    assert r["mota"]["total"] == pytest.approx(100.0) and r["ap"]["total"] == pytest.approx(100.0)


# ----------------------------------------------------------------------------- regression against poseval

# Small hand-made cases; EXPECTED holds the per-joint numbers that the official poseval
# (leonid-pishchulin/poseval 4258a15, motmetrics 1.4.0, numpy 1.26) printed into its
# total_AP_metrics.json / total_MOT_metrics.json for exactly these files (rounded to 4 decimals).


# joints of a standing person in units of its height (poseval order), fixed here so that the
# expected values do not depend on the generator's template
SKELETON = np.array(
    [[-0.10, 0.50], [-0.10, 0.25], [-0.09, 0.00], [0.09, 0.00], [0.10, 0.25], [0.10, 0.50], [-0.25, 0.05],
     [-0.22, -0.12], [-0.15, -0.28], [0.15, -0.28], [0.22, -0.12], [0.25, 0.05], [0.00, -0.32], [0.00, -0.40],
     [0.00, -0.50]]
)  # fmt: skip


def _pose(cx: float, cy: float, h: float, k: int, f: int, absent: tuple[int, ...] = ()) -> Person:
    """A GT person: a fixed 15-joint skeleton of height ``h`` at (cx, cy) with a head box."""
    p = Person.empty(k)
    p.joints[:] = np.round(np.array([cx, cy]) + SKELETON * h, 2)
    p.present[:] = True
    p.present[list(absent)] = False
    p.head_box = np.round(np.array([cx - 0.07 * h, cy - 0.5 * h, cx + 0.07 * h, cy - 0.32 * h]), 2)
    return p


def _guess(gt: Person, tid: int, k: int, f: int, spread: float = 1.0, drop: tuple[int, ...] = ()) -> Person:
    """A prediction near ``gt``: deterministic offsets (sines) of about ``spread`` x 10 px, distinct scores."""
    q = Person.empty(tid)
    j = np.arange(NUM_JOINTS)
    off = np.stack([np.sin(1.7 * j + 3.1 * k + 0.9 * f), np.cos(2.3 * j + 1.3 * k + 0.7 * f)], axis=1)
    q.joints[:] = np.round(gt.joints + 10 * spread * off, 2)
    q.present[:] = True
    q.present[list(drop)] = False
    q.scores[:] = 0.5 + 0.45 * np.sin(0.37 * j + 1.9 * k + 1.1 * f + 0.2 * tid)
    q.scores[~q.present] = np.nan
    return q


def _case_tracking() -> tuple[list[Sequence], list[Sequence]]:
    """Two people over 6 frames: an id swap, a miss, a false positive, a duplicate, dropped joints."""
    gf, pf = [], []
    for f in range(6):
        a = _pose(300 + 5 * f, 400, 300, 0, f, absent=(13,) if f == 2 else ())
        b = _pose(700 - 4 * f, 420, 260, 1, f, absent=(0, 5) if f >= 3 else ())
        ids = (7, 8) if f < 3 else (8, 7)  # identities swapped from frame 3
        preds = [_guess(a, ids[0], 0, f, spread=0.8)]
        if f != 4:
            preds.append(_guess(b, ids[1], 1, f, spread=1.6, drop=(6, 11) if f == 1 else ()))
        if f == 2:
            preds.append(_guess(a, 20, 2, f, spread=2.5))  # duplicate detection
        if f in (1, 5):
            preds.append(_guess(_pose(1000, 300, 200, 9, f), 30 + f, 3, f))  # false positive
        gf.append(Frame(f"images/val/000010_mpii_test/{f:06d}.jpg", True, [], [a, b]))
        pf.append(Frame(gf[-1].image, True, [], preds))
    return [Sequence("000010_mpii_test", gf)], [Sequence("000010_mpii_test", pf)]


def _case_cleaning() -> tuple[list[Sequence], list[Sequence]]:
    """Two sequences: unlabelled frames, an ignore region, an empty point list, a frame without
    predictions, a person without annopoints, predictions without scores in one person."""
    gts, prs = [], []
    for s in range(2):
        name = f"0000{2 + s}0_mpii_test"
        gf, pf = [], []
        for f in range(8):
            labelled = s == 0 or f % 2 == 0
            a = _pose(400 + 3 * f, 380, 280, 3, f)
            b = _pose(800, 400 + 2 * f, 240, 4, f, absent=(12, 13, 14) if s == 1 else ())
            image = f"images/val/{name}/{f:06d}.jpg"
            polys = []
            if labelled and f == 4:  # the lower body of person a is ignored
                polys = [np.array([[300.0, 380.0], [520.0, 380.0], [520.0, 560.0], [300.0, 560.0]])]
            gpeople = [a, b] if labelled else []
            if labelled and s == 0 and f == 2:
                e = Person.empty(5)
                e.head_box = np.array([10.0, 10.0, 40.0, 50.0])
                gpeople.append(e)  # an empty point list: kept, no joints
            if labelled and s == 1 and f == 6:
                n = _pose(100, 300, 200, 6, f)
                n.has_points = False  # no annopoints: dropped
                gpeople.append(n)
            preds = [] if (s == 1 and f == 3) else [_guess(a, 1 + 10 * s, 0, f, 1.0), _guess(b, 2 + 10 * s, 1, f, 1.3)]
            if preds and s == 0 and f == 5:
                preds[1].scores[:] = np.nan  # no scores: -9999
            gf.append(Frame(image, labelled, polys, gpeople))
            pf.append(Frame(image, True, [], preds))
        gts.append(Sequence(name, gf))
        prs.append(Sequence(name, pf))
    return gts, prs


CASES = {"tracking": _case_tracking, "cleaning": _case_cleaning}

# fmt: off
EXPECTED: dict[str, dict[str, list[float]]] = {
    "cleaning": {
        "ap": [
            88.1688, 71.5437, 82.3413, 84.6106, 100.0, 87.2176, 89.3939, 70.8333,
            88.848, 100.0, 93.0556, 86.6391, 69.5946, 84.7654, 76.5265, 84.9026,
        ],
        "mota": [
            77.7778, 55.5556, 70.0, 90.0, 100.0, 77.7778, 77.7778, 70.0,
            80.0, 100.0, 90.0, 77.7778, 47.0588, 70.5882, 70.5882, 76.9935,
        ],
        "motp": [
            44.5782, 44.8618, 40.849, 39.0143, 36.8132, 35.2346, 40.1983, 47.9078,
            40.6757, 38.1649, 36.6426, 46.5532, 47.7838, 44.5785, 40.764, 41.6413,
        ],
        "pre": [
            88.8889, 77.7778, 88.8889, 95.0, 100.0, 88.8889, 88.8889, 85.0,
            90.0, 100.0, 95.0, 88.8889, 70.0, 80.0, 80.0, 87.8148,
        ],
        "rec": [
            88.8889, 77.7778, 80.0, 95.0, 100.0, 88.8889, 88.8889, 85.0,
            90.0, 100.0, 95.0, 88.8889, 82.3529, 94.1176, 94.1176, 89.9281,
        ],
    },
    "tracking": {
        "ap": [
            68.254, 57.7381, 59.7329, 48.2143, 75.974, 65.7602, 56.6783, 51.1905,
            66.3095, 66.526, 48.2143, 58.6733, 56.25, 46.3203, 83.3995, 60.6157,
        ],
        "mota": [
            25.0, 20.0, 30.0, 20.0, 50.0, 25.0, 40.0, 20.0,
            40.0, 50.0, 10.0, 20.0, 20.0, 11.1111, 50.0, 28.7407,
        ],
        "motp": [
            56.9237, 54.4224, 49.4561, 39.9994, 36.2473, 53.6865, 39.9095, 51.8411,
            43.4188, 37.2493, 38.8976, 47.115, 53.4281, 47.3902, 25.0714, 45.0038,
        ],
        "pre": [
            63.6364, 63.6364, 72.7273, 63.6364, 81.8182, 63.6364, 80.0, 63.6364,
            72.7273, 81.8182, 63.6364, 70.0, 63.6364, 63.6364, 81.8182, 70.0,
        ],
        "rec": [
            87.5, 70.0, 80.0, 70.0, 90.0, 87.5, 80.0, 70.0,
            80.0, 90.0, 70.0, 70.0, 70.0, 77.7778, 90.0, 78.8519,
        ],
    },
}
# fmt: on


def write_case(name: str, root: Path, fmt: str = "2017") -> tuple[Path, Path]:
    """Write case ``name`` as ``root/gt`` and ``root/pred`` (also used to produce EXPECTED)."""
    gts, prs = CASES[name]()
    for g, p in zip(gts, prs, strict=True):
        write_sequence(g, root / "gt" / f"{g.name}.json", fmt)
        write_sequence(p, root / "pred" / f"{p.name}.json", fmt)
    return root / "gt", root / "pred"


# poseval printed the same numbers for the 2018 files of the tracking case (the cleaning case
# has a person without annopoints, which the 2018 format cannot express)
@pytest.mark.parametrize(("name", "fmt"), [("tracking", "2017"), ("tracking", "2018"), ("cleaning", "2017")])
def test_matches_poseval_numbers(name, fmt, tmp_path):
    r = evaluate(*write_case(name, tmp_path, fmt))
    exp = EXPECTED[name]
    got = {
        "ap": r["per_joint"]["ap"] + [r["ap"]["total"]],
        "mota": r["per_joint"]["mota"] + [r["mota"]["total"]],
        "motp": r["per_joint"]["motp"] + [r["motp"]["total"]],
        "pre": r["per_joint"]["precision"] + [r["precision"]["total"]],
        "rec": r["per_joint"]["recall"] + [r["recall"]["total"]],
    }
    for key, values in exp.items():
        np.testing.assert_allclose(got[key], values, atol=6e-5, err_msg=key)


# ----------------------------------------------------------------------------- bench helpers

POSEVAL_STDOUT = """Average Precision (AP) metric:
& Head & Shou & Elb  & Wri  & Hip  & Knee & Ankl & Total\\\\
& 48.7 & 51.5 & 52.8 & 54.5 & 54.8 & 57.0 & 57.2 & 53.5 \\\\
Evaluation of video-based  multi-person pose tracking
seqidx: 1/1
Multiple Object Tracking (MOT) metrics:
& MOTA & MOTA & MOTA & MOTA & MOTA & MOTA & MOTA & MOTA & MOTP & Prec & Rec  \\\\
& Head & Shou & Elb  & Wri  & Hip  & Knee & Ankl & Total& Total& Total& Total\\\\
&  nan & 26.5 & 28.6 & 30.6 & 30.8 & 32.7 & 33.3 & 28.9 & 53.7 & 65.3 & 70.0 \\\\
"""


def test_parse_poseval_tables():
    t = parse_poseval_tables(POSEVAL_STDOUT)
    assert t["ap"]["head"] == 48.7 and t["ap"]["total"] == 53.5
    assert math.isnan(t["mota"]["head"]) and t["mota"]["total"] == 28.9
    assert t["totals"] == {"motp": 53.7, "precision": 65.3, "recall": 70.0}
    d = compare_tables(t, t)
    assert max(d.values()) == 0.0


def test_read_poseval_json(tmp_path):
    ap = [50.0] * 15 + [50.0]
    ap[14] = float("nan")
    (tmp_path / "total_AP_metrics.json").write_text(json.dumps({"ap": ap}))
    mot = {"mota": [10.0] * 16, "motp": [80.0] * 16, "pre": [70.0] * 16, "rec": [60.0] * 16}
    (tmp_path / "total_MOT_metrics.json").write_text(json.dumps(mot))
    t = read_poseval_json(tmp_path)
    assert math.isnan(t["ap"]["head"]) and t["ap"]["shoulder"] == 50.0 and t["mota"]["total"] == 10.0
    assert t["totals"] == {"motp": 80.0, "precision": 70.0, "recall": 60.0}
    assert read_poseval_json(tmp_path / "nope") is None


def test_bench_without_poseval(tmp_path, capsys):
    r = run_eval_bench(sequences=2, frames=10, people=3, workdir=tmp_path / "w", seed=1)
    assert r["num_frames"] > 0 and r["ours_s"] > 0 and "poseval_s" not in r
    assert (tmp_path / "w" / "gt").is_dir()
    assert "hrtrack eval:" in capsys.readouterr().out
    argv = ["--sequences", "2", "--frames", "8", "--people", "2", "--json", str(tmp_path / "r.json")]
    assert main(["bench", "eval", *argv]) == 0
    assert json.loads((tmp_path / "r.json").read_text())["config"]["sequences"] == 2


# A stand-in for a poseval checkout (written here, not poseval's code): it prints fixed tables.
FAKE_EVALUATE = f"""
import sys
assert any(a.startswith("--groundTruth=") and a.endswith("/") for a in sys.argv)
print({POSEVAL_STDOUT!r})
"""


def test_poseval_command_layouts(tmp_path):
    gt, pred, out = tmp_path / "gt", tmp_path / "pred", tmp_path / "out"
    pkg = tmp_path / "packaged"
    (pkg / "poseval").mkdir(parents=True)
    (pkg / "poseval" / "evaluate.py").write_text("")
    (pkg / "poseval" / "__init__.py").write_text("")
    for given in (pkg, pkg / "poseval"):
        cmd, cwd, _ = poseval_command(given, "py", gt, pred, out)
        assert cmd[:3] == ["py", "-m", "poseval.evaluate"] and cwd == pkg.resolve()
        assert f"--groundTruth={gt}/" in cmd and f"--outputDir={out}" in cmd
    old = tmp_path / "old"
    (old / "py").mkdir(parents=True)
    (old / "py" / "evaluate.py").write_text("")
    cmd, cwd, env = poseval_command(old, "py", gt, pred, out)
    assert cmd[:2] == ["py", "evaluate.py"] and cwd == (old / "py").resolve()
    assert str(old.resolve() / "py-motmetrics") in env["PYTHONPATH"]
    with pytest.raises(ValueError, match="not a poseval checkout"):
        poseval_command(tmp_path, "py", gt, pred, out)


def test_bench_with_stand_in_poseval(tmp_path, capsys):
    fake = tmp_path / "fake"
    (fake / "poseval").mkdir(parents=True)
    (fake / "poseval" / "__init__.py").write_text("")
    (fake / "poseval" / "evaluate.py").write_text(FAKE_EVALUATE)
    r = run_eval_bench(sequences=2, frames=8, people=2, poseval=fake, seed=4)
    assert r["poseval_source"] == "printed tables"
    assert r["poseval"]["ap"]["total"] == 53.5 and r["ratio"] > 0
    assert set(r["diff"]) == {
        "head",
        "shoulder",
        "elbow",
        "wrist",
        "hip",
        "knee",
        "ankle",
        "total",
        "motp",
        "precision",
        "recall",
    }
    assert r["diff"]["head"] == math.inf  # our head MOTA is a number, the stand-in's is nan
    assert not r["meets_target"]
    text = capsys.readouterr().out
    assert "ratio" in text and "MISSES the target" in text
    argv = ["--sequences", "2", "--frames", "8", "--people", "2", "--poseval", str(fake), "--check"]
    assert main(["bench", "eval", *argv]) == 1


# ----------------------------------------------------------------------------- MOT short path


@pytest.mark.parametrize("seed", range(4))
def test_mot_counter_sparse_frames_equal_motmetrics(seed):
    """Sparse candidate pairs (mostly disjoint, the short path) with identities that swap and return."""
    mm = pytest.importorskip("motmetrics")
    from eval.metrics import MotCounter

    rng = np.random.default_rng(100 + seed)
    acc, mine = mm.MOTAccumulator(auto_id=True), MotCounter()
    for _ in range(120):
        no, nh = int(rng.integers(0, 7)), int(rng.integers(0, 7))
        oids = rng.choice(6, size=no, replace=False)
        hids = rng.choice(9, size=nh, replace=False) + 50
        d = rng.random((no, nh))
        d[rng.random((no, nh)) < 0.8] = np.nan
        acc.update(oids, hids, d)
        mine.update(oids, hids, d)
    names = ["num_misses", "num_switches", "num_false_positives", "num_objects", "num_detections"]
    got = mm.metrics.create().compute(acc, metrics=names, return_dataframe=False)
    mine_counts = [mine.misses, mine.switches, mine.false_positives, mine.objects, mine.detections]
    assert mine_counts == [got[n] for n in names]
    assert got["num_switches"] > 0
    assert mine.sum_d_events == pytest.approx(acc.events["D"].sum())


# ----------------------------------------------------------------------------- fast 2017 reader


def test_fast_reader_equals_general_reader(tmp_path, monkeypatch):
    """The vectorised 2017 reader and the general one give the same people, also for odd values."""
    import eval.posetrack as pt

    gt, pr = write_synthetic(tmp_path, sequences=2, frames=10, people=4, seed=9, edge_cases=True)
    odd = {
        "annolist": [
            {
                "image": [{"name": "a/0.jpg"}],
                "annorect": [
                    {
                        "track_id": [3],
                        "x1": [0],
                        "y1": [0],
                        "x2": [10],
                        "y2": [10],
                        "annopoints": [
                            {
                                "point": [
                                    {"id": [2.0], "x": [1], "y": [2.5], "score": [1]},
                                    {"id": [2], "x": [9], "y": [9]},  # repeated id: the first counts
                                    {"id": [40], "x": [9], "y": [9]},  # unknown id: ignored
                                    {"id": [5], "x": [3], "y": [4], "is_visible": [0]},
                                ]
                            }
                        ],
                    },
                    {"track_id": [4], "annopoints": [{"point": []}]},
                    {"track_id": [5]},
                ],
            },
            {
                "image": [{"name": "a/1.jpg"}],
                "annorect": [{"track_id": 6, "annopoints": [{"point": [{"id": 1, "x": 5, "y": 6}]}]}],
            },
        ]
    }
    (tmp_path / "odd1.json").write_text(json.dumps({"annolist": odd["annolist"][:1]}))  # usual layout
    (tmp_path / "odd2.json").write_text(json.dumps({"annolist": odd["annolist"][1:]}))  # unwrapped values
    rects = [odd["annolist"][0]["annorect"]]
    assert pt._people_2017_fast(rects) is not None
    assert pt._people_2017_fast([odd["annolist"][1]["annorect"]]) is None
    files = [*gt.glob("*.json"), *pr.glob("*.json"), tmp_path / "odd1.json", tmp_path / "odd2.json"]
    fast = [read_sequence(f) for f in files]
    monkeypatch.setattr(pt, "_people_2017_fast", lambda *a: None)
    slow = [read_sequence(f) for f in files]
    for a, b in zip(fast, slow, strict=True):
        for fa, fb in zip(a.frames, b.frames, strict=True):
            assert len(fa.people) == len(fb.people)
            for p, q in zip(fa.people, fb.people, strict=True):
                assert (p.track_id, p.score, p.has_points) == (q.track_id, q.score, q.has_points)
                for k in ("joints", "present", "scores", "visible", "head_box", "box"):
                    x, y = getattr(p, k), getattr(q, k)
                    assert (x is None and y is None) or np.array_equal(x, y, equal_nan=True), k
    p0 = fast[-2].frames[0].people[0]
    assert p0.present.sum() == 2 and tuple(p0.joints[2]) == (1.0, 2.5) and p0.visible[5] == 0
    assert p0.scores[2] == 1.0 and np.isnan(p0.scores[5])
    assert [p.has_points for p in fast[-2].frames[0].people] == [True, True, False]
    assert fast[-1].frames[0].people[0].track_id == 6 and fast[-1].frames[0].people[0].present[1]
