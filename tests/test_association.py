"""FlowTrack association: propagated duplicates, score-aware stages, track ages and ids.

These use :class:`synthetic.MisalignedOracle`, whose poses err and lose score as their box
leaves the person, so that a propagated copy and a detection of one person give two different
poses, as in the real pipeline (the plain oracle gives both the same pose at a fixed score).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from synthetic import KnownFlow, MisalignedOracle, ScriptedDetector, Walker, frames_of, render

from eval.posetrack import read_sequence
from pose.keypoints import COCO
from pose.poses import DETECTED, PROPAGATED, Poses
from tracker.flowtrack import FlowTrackConfig, FlowTracker, merge_propagated
from tracker.pipeline import FrameResult, track
from tracker.sinks import PoseTrackSink, TracksSink, compact_ids
from tracker.video import Frame

SHAPE = (240, 400)


class _OffsetDetector(ScriptedDetector):
    """The walker's box from frame 2 on is 40 px wider and 14 px off to the right: it still covers
    the person (IoU 0.6) but overlaps the propagated box too little (IoU 0.43) for the box NMS."""

    def detect(self, frame: Frame) -> Poses:
        dets = super().detect(frame)
        if frame.index >= 2:
            boxes = dets.boxes.copy()
            boxes[:, 0] += 14 - 20
            boxes[:, 2] += 14 + 20
            dets = Poses(boxes, dets.scores)
        return dets


def _run_offset(**config: object) -> list[FrameResult]:
    walker = Walker((40, 60), (6, 0), seed=3)
    images = render([walker], 5, SHAPE)
    oracle = MisalignedOracle([walker])
    tracker = FlowTracker(FlowTrackConfig(**config))
    stream = track(frames_of(images, oracle), _OffsetDetector([walker]), oracle, KnownFlow([walker], SHAPE), tracker)
    return [result for _, result in stream]


def test_a_propagated_copy_and_a_detection_of_one_person_give_one_pose_with_the_old_id() -> None:
    merged = _run_offset(two_stage=False)
    assert [len(r.track_ids) for r in merged] == [1] * 5
    assert {int(r.track_ids[0]) for r in merged} == {0}
    assert any(r.num_propagated for r in merged[2:])  # the propagated box was there, and was folded in

    unmerged = _run_offset(two_stage=False, merge_propagated=False)  # the mechanism of the duplicates
    assert max(len(r.track_ids) for r in unmerged[2:]) == 2  # OKS < 0.9: the pose NMS keeps both
    assert len({int(i) for r in unmerged for i in r.track_ids}) > 1  # and one of them takes a new id


def test_merge_keeps_the_better_pose_and_the_source_track() -> None:
    kp = np.zeros((3, 17, 3), np.float32)
    kp[:, :, :2] = np.random.default_rng(0).uniform(100, 200, (17, 2))
    kp[:, :, 2] = 0.9
    kp[1, :, :2] += 2.0  # the detection of the same person, a little off
    kp[2, :, :2] += 80.0  # another person
    boxes = [[90, 90, 210, 210], [92, 92, 212, 212], [170, 170, 290, 290]]
    poses = Poses(boxes, [0.6, 0.8, 0.7], kp, source=[PROPAGATED, DETECTED, DETECTED], source_track=[7, -1, -1])
    poses.layout = COCO
    out = merge_propagated(poses, 0.5, 0.2)
    assert out.scores.tolist() == pytest.approx([0.8, 0.7])  # the detection's better pose stays
    assert out.source_track.tolist() == [7, -1]  # and it continues track 7


def _pose(x: float, score: float) -> Poses:
    kp = np.zeros((1, 17, 3), np.float32)
    kp[0, :, 0] = x + np.linspace(0, 40, 17)
    kp[0, :, 1] = 50 + np.linspace(0, 100, 17)
    kp[0, :, 2] = 0.9
    return Poses([[x, 50, x + 40, 150]], [score], kp, layout=COCO)


def test_a_low_score_pose_never_starts_a_track_but_continues_one() -> None:
    tracker = FlowTracker()
    assert len(tracker.update(_pose(100, 0.3))) == 0 and tracker.tracks == []  # dropped, no track
    first = tracker.update(_pose(100, 0.9)).track_ids.tolist()
    weak = tracker.update(_pose(102, 0.3)).track_ids.tolist()  # stage b: it continues the track
    assert first == weak == [0]
    both = tracker.update(Poses.merge([_pose(104, 0.9), _pose(300, 0.3)]))
    assert both.track_ids.tolist() == [0]  # the weak pose far away neither matches nor starts one

    single = FlowTracker(FlowTrackConfig(two_stage=False))
    assert single.update(_pose(100, 0.3)).track_ids.tolist() == [0]  # the paper's one stage: it does


@pytest.mark.parametrize(("gap", "same"), [(2, True), (3, False)])
def test_tracks_age_by_frames_elapsed(gap: int, same: bool) -> None:
    """Queue of 3 frames: a person missing for 2 frames is relinked, for 3 frames is new. Frames
    without people and undecodable frames (skip) both count."""
    tracker = FlowTracker(FlowTrackConfig(queue_length=3))
    first = int(tracker.update(_pose(100, 0.9)).track_ids[0])
    for k in range(gap):
        tracker.update(Poses.empty(COCO)) if k % 2 == 0 else tracker.skip()
    again = int(tracker.update(_pose(100, 0.9)).track_ids[0])
    assert (again == first) is same


def test_track_ids_are_unbounded_and_never_reused() -> None:
    tracker = FlowTracker(FlowTrackConfig(queue_length=1))
    seen: set[int] = set()
    rng = np.random.default_rng(0)
    for _ in range(3):
        n = 4000
        kp = np.concatenate([rng.uniform(0, 3e5, (n, 1, 2)) + np.zeros((n, 17, 2)), np.full((n, 17, 1), 0.9)], 2)
        boxes = np.concatenate([kp[:, 0, :2] - 10, kp[:, 0, :2] + 10], 1)
        ids = tracker.update(Poses(boxes, np.full(n, 0.9), kp, layout=COCO)).track_ids.tolist()
        tracker.update(Poses.empty(COCO))  # the tracks end
        assert not seen & set(ids) and len(set(ids)) == n
        seen |= set(ids)
    assert max(seen) == 11999


def test_compact_ids_reuse_only_ended_tracks() -> None:
    spans = {100: (0, 5), 200: (1, 2), 300: (3, 9), 400: (6, 7), 500: (8, 9)}
    assert compact_ids(spans) == {100: 0, 200: 1, 300: 2, 400: 3, 500: 4}
    small = compact_ids(spans, limit=3)
    assert small[100] == 0 and small[200] == 1 and small[300] == 2
    assert small[400] == 1  # 200 ended at frame 2, 100 at 5: 200's id has been free the longest
    assert small[500] == 0  # at frame 8: 100's id (free since 5) before 400's (free since 7)
    for a, (fa, la) in spans.items():  # never two people alive at once under one id
        for b, (fb, lb) in spans.items():
            if a < b and small[a] == small[b]:
                assert la < fb or lb < fa
    with pytest.raises(ValueError, match="at the same time"):
        compact_ids({1: (0, 1), 2: (0, 1), 3: (1, 2)}, limit=2)


def test_more_than_10000_tracks_stay_distinct(tmp_path: Path) -> None:
    """The per-track export keeps the tracker's ids; the PoseTrack file maps them below 10000."""
    n = 10_050
    sink = TracksSink(tmp_path / "tracks.json")
    pt = PoseTrackSink(tmp_path, "long", ["posetrack18"])
    kp = np.zeros((1, 17, 3), np.float32)
    kp[0, :, :2], kp[0, :, 2] = (20, 30), 0.9
    for i in range(n):  # one new person per frame, each seen in two frames
        ids = [i, i - 1] if i else [i]
        poses = Poses(np.tile([[10, 20, 30, 40]], (len(ids), 1)), [0.9] * len(ids), np.repeat(kp, len(ids), 0), ids)
        poses.layout = COCO
        result = FrameResult(i, f"{i:06d}.jpg", None, poses)
        sink.write(Frame(None, i), result)
        pt.write(Frame(None, i), result)
    sink.close()
    pt.close()
    tracks = json.loads((tmp_path / "tracks.json").read_text())["tracks"]
    assert len(tracks) == n and all(len(v) == 2 for k, v in tracks.items() if int(k) < n - 1)
    seq = read_sequence(tmp_path / "posetrack18" / "long.json")
    written = [[p.track_id for p in f.people] for f in seq.frames]
    assert all(0 <= t < 10_000 for ids in written for t in ids)
    assert all(len(set(ids)) == len(ids) for ids in written)  # no two people of a frame share an id
    for k in range(1, n):  # each person keeps one id over its two frames
        assert written[k][1] == written[k - 1][0]


def test_pipeline_drops_weak_unmatched_poses_and_keeps_ids_through_misses() -> None:
    walkers = [Walker((30, 40), (6, 1), seed=1), Walker((260, 60), (-5, 0), seed=2)]
    images = render(walkers, 8, SHAPE)
    oracle = MisalignedOracle(walkers)
    misses = {(3, 0), (4, 0), (5, 1)}
    stream = track(
        frames_of(images, oracle), ScriptedDetector(walkers, misses), oracle, KnownFlow(walkers, SHAPE), FlowTracker()
    )
    results = [r for _, r in stream]
    ids = [sorted(int(i) for i in r.track_ids) for r in results]
    assert all(row == [0, 1] for row in ids), ids  # propagation bridged every miss, no new id
    assert all(len(r.track_ids) == len(set(r.track_ids.tolist())) for r in results)
