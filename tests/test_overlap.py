"""Stage overlap: decode, detect and flow run ahead in threads with the sequential run's results."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest
from synthetic import OracleEstimator, ScriptedDetector, Walker, frames_of, render

from flow import make_flow
from pose.estimator import PoseEstimator
from pose.hrnet import build_model
from tracker.bench.network import lively_weights
from tracker.flowtrack import FlowTrackConfig, FlowTracker
from tracker.pipeline import PipelineConfig, StageTimer, track
from tracker.video import Frame

SHAPE = (240, 320)
WALKERS = [Walker((30, 40), (8, 2), seed=1), Walker((220, 60), (-6, 1), seed=2)]


def _frames(images: list[np.ndarray], oracle: OracleEstimator | None = None, broken: int | None = None):
    for frame in frames_of(images, oracle):
        yield Frame(None, frame.index, frame.name) if frame.index == broken else frame


def _results(frames, detector, estimator, flow, ahead: int) -> list[tuple]:
    out = []
    timer = StageTimer()
    tracker = FlowTracker(FlowTrackConfig(two_stage=False))  # every pose starts or continues a track
    for _, r in track(frames, detector, estimator, flow, tracker, PipelineConfig(ahead=ahead), timer):
        out.append((r.index, r.decoded, r.boxes, r.scores, r.keypoints, r.track_ids, r.num_propagated))
    assert timer.frames == len(out) and timer.wall > 0
    return out


def _assert_identical(a: list[tuple], b: list[tuple]) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        for u, v in zip(x, y, strict=True):
            assert np.array_equal(u, v), (x[0], u, v)


def _no_stage_threads() -> bool:
    names = [t.name for t in threading.enumerate()]
    return not any(n.startswith("hrtrack-") for n in names)


def test_overlapped_run_equals_the_sequential_run_with_an_oracle() -> None:
    """Propagation, merging and ids (oracle poses, DIS flow, a missed detection, an undecodable frame)."""
    images = render(WALKERS, 12, SHAPE)
    runs = []
    for ahead in (0, 1, 4):
        oracle = OracleEstimator(WALKERS)
        detector = ScriptedDetector(WALKERS, {(5, 0), (6, 1)})
        runs.append(_results(_frames(images, oracle, broken=8), detector, oracle, make_flow("dis"), ahead))
    assert sum(r[6] for r in runs[0]) > 0  # flow-propagated boxes were used
    assert not runs[0][8][1]  # the undecodable frame
    _assert_identical(runs[0], runs[1])
    _assert_identical(runs[0], runs[2])
    assert _no_stage_threads()


def test_overlapped_run_equals_the_sequential_run_with_a_network() -> None:
    """A real HRNet (random BN statistics, heatmaps far from zero) in torch: bit-identical poses."""
    model = lively_weights(build_model("hrnet_w8"), (128, 96), seed=5)
    estimator = PoseEstimator(model, (128, 96), flip_test=True)
    images = render(WALKERS, 8, SHAPE)
    seq, ahead = (
        _results(_frames(images), ScriptedDetector(WALKERS), estimator, make_flow("dis"), depth) for depth in (0, 4)
    )
    assert any(len(r[4]) and r[4][:, :, 2].max() > 0 for r in seq)
    _assert_identical(seq, ahead)


def test_real_video_with_rtmdet_gives_identical_results(shared_data: Path) -> None:
    from tracker.detectors.onnx import OnnxDetector
    from tracker.video import open_source

    model = lively_weights(build_model("hrnet_w8"), (128, 96), seed=6)
    estimator = PoseEstimator(model, (128, 96), flip_test=False)
    video = shared_data / "videos" / "pets2009_campus_480x360_795f.avi"
    runs = []
    for depth in (0, 3):
        frames = (f for f in open_source(video) if f.index < 20)
        detector = OnnxDetector(shared_data / "models" / "rtmdet_nano_person.onnx")
        runs.append(_results(frames, detector, estimator, make_flow("dis"), depth))
    assert sum(len(r[2]) for r in runs[0]) > 20
    _assert_identical(*runs)


class _FailingDetector(ScriptedDetector):
    def detect(self, frame: Frame):  # type: ignore[no-untyped-def]
        if frame.index == 3:
            raise RuntimeError("detector broke at frame 3")
        return super().detect(frame)


def test_a_stage_error_is_raised_at_its_frame_and_the_threads_stop() -> None:
    images = render(WALKERS, 10, SHAPE)
    oracle = OracleEstimator(WALKERS)
    seen = []
    with pytest.raises(RuntimeError, match="frame 3"):
        stream = track(
            frames_of(images, oracle),
            _FailingDetector(WALKERS),
            oracle,
            make_flow("dis"),
            None,
            PipelineConfig(ahead=4),
        )
        for _, result in stream:
            seen.append(result.index)
    assert seen == [0, 1, 2]
    assert _no_stage_threads()


class _FailingOracle(OracleEstimator):
    def __call__(self, image, boxes, scores=None):  # type: ignore[no-untyped-def]
        self.clock(image)
        if self.t == 2:
            raise RuntimeError("estimator broke at frame 2")
        return super().__call__(image, boxes, scores)


def test_an_error_in_the_pose_stage_stops_the_threads() -> None:
    images = render(WALKERS, 30, SHAPE)
    oracle = _FailingOracle(WALKERS)
    stream = track(frames_of(images, oracle), ScriptedDetector(WALKERS), oracle, make_flow("dis"))
    with pytest.raises(RuntimeError, match="frame 2"):
        for _ in stream:
            pass
    assert _no_stage_threads()


def test_reading_ahead_is_bounded_and_stops_when_the_consumer_does() -> None:
    """With ``ahead`` N at most about N frames are decoded beyond the one in hand and the frames
    the pipeline holds back for relabelling (flat memory); closing the stream (an error
    downstream, Ctrl-C) stops the threads."""
    hold = FlowTracker().relabel_frames
    images = render(WALKERS, 40, SHAPE)
    pulled = []

    def source():
        for frame in frames_of(images):
            pulled.append(frame.index)
            yield frame

    oracle = OracleEstimator(WALKERS)
    stream = track(source(), ScriptedDetector(WALKERS), oracle, make_flow("dis"), None, PipelineConfig(ahead=2))
    for _, result in stream:
        time.sleep(0.2)  # a slow consumer: the decoder waits on the full queue
        assert len(pulled) <= result.index + 1 + hold + 2 + 2, (result.index, len(pulled))
        if result.index == 4:
            break
    stream.close()
    assert _no_stage_threads() and len(pulled) < 12 + hold
