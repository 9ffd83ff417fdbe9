"""FlowTrack on generated sequences with known motion.

Walkers are textured boxes moving at constant velocity over a textured background (see
tests/synthetic.py). Optical flow is real (OpenCV DIS/Farneback) except in the crossing test,
which isolates association: there the exact flow of the rendering is used, because DIS smears
the motion of a person hidden behind another (a limit of the flow, not of FlowTrack).
"""

from __future__ import annotations

import numpy as np
import pytest
from synthetic import KnownFlow, OracleEstimator, ScriptedDetector, Walker, frames_of, render, visible_joints

from flow import make_flow
from pose.poses import PROPAGATED, Poses
from tracker.flowtrack import FlowTrackConfig, FlowTracker, greedy_match, keypoint_boxes
from tracker.pipeline import PipelineConfig, StageTimer, track

SHAPE = (240, 400)


@pytest.mark.parametrize("spec", ["dis", "dis:fast", "farneback"])
def test_flow_propagation_moves_box_with_content(spec: str) -> None:
    walker = Walker((60, 50), (12, 5), size=(60, 120), seed=1)
    imgs = render([walker], 2, SHAPE)
    flow = make_flow(spec).compute(imgs[0], imgs[1])
    tracker = FlowTracker()
    joints = visible_joints([walker], 0)[0]
    tracker.update(Poses(walker.box(0)[None], [0.9], joints[None]))
    tracker.advance(flow)
    boxes = tracker.propagate()
    assert boxes.source.tolist() == [PROPAGATED] and boxes.source_track.tolist() == [0]
    expected, _ = keypoint_boxes(walker.joints(1)[None], 0.5, 0.15)
    assert len(boxes) == 1
    # within a few pixels (joints near the walker's edge sit on a motion boundary)
    np.testing.assert_allclose(boxes.boxes[0], expected[0], atol=4)
    from pose.poses import box_iou

    assert box_iou(boxes.boxes, expected)[0, 0] > 0.93
    still, _ = keypoint_boxes(walker.joints(0)[None], 0.5, 0.15)
    assert box_iou(still, expected)[0, 0] < 0.85  # the unmoved box would not do
    # 15 % larger than the moved joints' extent, centred on them
    moved_w = boxes.boxes[0, 2] - boxes.boxes[0, 0]
    span = walker.joints(1)[:, 0].max() - walker.joints(1)[:, 0].min()
    assert moved_w == pytest.approx(span * 1.15, rel=0.05)


def _propagated(kp: np.ndarray, score: float, flow: np.ndarray | None) -> int:
    tracker = FlowTracker()
    tracker.update(Poses(np.array([[0, 0, 50, 100]]), [score], kp))
    tracker.advance(flow)
    return len(tracker.propagate())


def test_no_box_is_propagated_without_flow_or_from_weak_poses() -> None:
    kp = visible_joints([Walker((10, 10), (0, 0))], 0)[0][None]
    flow = np.zeros((*SHAPE, 2), np.float32)
    assert _propagated(kp, 0.9, flow) == 1
    assert _propagated(kp, 0.9, None) == 0
    assert _propagated(kp, 0.1, flow) == 0  # below propagate_min_score
    weak = kp.copy()
    weak[0, 2:, 2] = 0.0  # only two confident joints
    assert _propagated(weak, 0.9, flow) == 0


def _run(walkers, n, misses=frozenset(), propagate=True, assoc="flow-oks", queue=5, flow="dis", buffer=3.0):
    imgs = render(walkers, n, SHAPE)
    est = OracleEstimator(walkers)
    timer = StageTimer()
    results = [
        result
        for _, result in track(
            frames_of(imgs, est),
            ScriptedDetector(walkers, set(misses)),
            est,
            make_flow(flow),
            FlowTracker(FlowTrackConfig(assoc=assoc, queue_length=queue, track_buffer=buffer)),
            PipelineConfig(propagate=propagate),
            timer,
        )
    ]
    return results, timer


def _ids_by_walker(results, walkers) -> list[list[int | None]]:
    """Per frame, the id given to each walker (None if it has no pose)."""
    out = []
    for t, r in enumerate(results):
        row = []
        for w in walkers:
            gt = w.joints(t)[:, :2]
            d = [np.abs(k[:, :2] - gt).max() if k[:, 2].max() > 0 else np.inf for k in r.keypoints]
            row.append(int(r.track_ids[int(np.argmin(d))]) if d and min(d) < 1e-3 else None)
        out.append(row)
    return out


def test_missed_detection_keeps_id_through_propagation() -> None:
    walkers = [Walker((30, 40), (8, 2), seed=1), Walker((300, 60), (-6, 1), seed=2)]
    results, timer = _run(walkers, 8, misses={(3, 0), (4, 0)})
    ids = _ids_by_walker(results, walkers)
    assert results[3].num_detections == 1 and results[3].num_propagated == 1
    assert all(row == ids[0] for row in ids), ids  # walker 0 present with the same id throughout
    assert timer.frames == 8 and timer.seconds["pose"] > 0
    assert "propagate+nms" in timer.summary()

    # Without propagation (and with a one-frame memory, no track buffer) the missed walker vanishes
    # and returns as new; with the buffer it is re-identified by its looks and motion.
    results, _ = _run(walkers, 8, misses={(3, 0), (4, 0)}, propagate=False, queue=1, buffer=0.0)
    ids = _ids_by_walker(results, walkers)
    assert ids[3][0] is None and ids[4][0] is None
    assert ids[5][0] not in (ids[2][0], None)
    results, _ = _run(walkers, 8, misses={(3, 0), (4, 0)}, propagate=False, queue=1)
    ids = _ids_by_walker(results, walkers)
    assert ids[3][0] is None and ids[4][0] is None
    assert ids[5][0] == ids[2][0] is not None


class _TwoBoxesPerPerson(ScriptedDetector):
    """Each walker detected twice: its box and a wider box (IoU 0.4 < box NMS 0.5) around it."""

    def detect(self, frame):  # type: ignore[no-untyped-def]
        dets = super().detect(frame)
        wide = dets.boxes.copy()
        half = (wide[:, 2] - wide[:, 0]) * 0.75
        wide[:, 0] -= half
        wide[:, 2] += half
        return type(dets)(np.concatenate([dets.boxes, wide]), np.concatenate([dets.scores, dets.scores * 0.9]))


@pytest.mark.parametrize("pose_nms", [0.9, None])
def test_pose_nms_removes_the_second_pose_of_a_person(pose_nms: float | None) -> None:
    walkers = [Walker((40, 60), (5, 0), seed=3)]
    images = render(walkers, 3, SHAPE)
    oracle = OracleEstimator(walkers)  # both boxes of the walker give its (identical) pose
    config = PipelineConfig(propagate=False, pose_nms=pose_nms)
    detector = _TwoBoxesPerPerson(walkers)
    results = [r for _, r in track(frames_of(images, oracle), detector, oracle, None, FlowTracker(), config)]
    assert all(r.num_detections == 2 for r in results)
    people = [len(r.track_ids) for r in results]
    assert people == ([1, 1, 1] if pose_nms else [2, 2, 2])


def test_multi_frame_memory_relinks_after_a_short_gap() -> None:
    walkers = [Walker((30, 40), (4, 1), seed=1)]
    results, _ = _run(walkers, 7, misses={(3, 0)}, propagate=False, queue=3)
    ids = _ids_by_walker(results, walkers)
    assert ids[3][0] is None
    assert ids[4][0] == ids[2][0] == ids[0][0]  # re-linked by the pose kept from frame 2


def _crossing_ids(assoc: str) -> list[list[int]]:
    """Two walkers crossing (the one drawn second passes in front); ids per walker per frame."""
    v, dy = 14, 8
    walkers = [Walker((20, 60), (v, 0), seed=1), Walker((20 + v * 9, 60 + dy), (-v, 0), seed=2)]
    shape = (300, 800)
    imgs = render(walkers, 10, shape)
    flow = KnownFlow(walkers, shape)
    tracker = FlowTracker(FlowTrackConfig(assoc=assoc))
    out = []
    for t in range(10):
        if t:
            tracker.advance(flow.compute(imgs[t - 1], imgs[t]))
        kp = np.stack(visible_joints(walkers, t))
        boxes = np.stack([w.box(t) for w in walkers])
        out.append(tracker.update(Poses(boxes, np.full(2, 0.9), kp)).track_ids.tolist())
    return out


def test_crossing_people_keep_ids_with_flow_oks_where_baselines_swap() -> None:
    flow_ids = _crossing_ids("flow-oks")
    assert all(row == [0, 1] for row in flow_ids), flow_ids
    assert _crossing_ids("oks")[-1] == [1, 0]  # no flow: the previous frame's poses are swapped
    assert _crossing_ids("iou")[-1] == [1, 0]


def test_greedy_match_takes_highest_first() -> None:
    sim = np.array([[0.9, 0.8], [0.85, 0.1]])
    assert greedy_match(sim, 0.2) == [(0, 0)]  # (1,1) is below 0.2, and row 1's 0.85 lost column 0 to 0.9
    assert greedy_match(np.array([[0.3, 0.5], [0.6, 0.4]]), 0.2) == [(1, 0), (0, 1)]
    assert greedy_match(np.zeros((0, 3)), 0.2) == []


def test_unknown_association_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown association"):
        FlowTrackConfig(assoc="hungarian")
