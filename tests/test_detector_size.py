"""``--det-size``: a dynamic ONNX detector's input follows the frame (longer side 320-640, aspect kept)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pose.errors import HrtrackError
from tracker.detectors import make_detector
from tracker.detectors.onnx import OnnxDetector, auto_size
from tracker.video import Frame, VideoSource


def test_auto_size_follows_the_frame() -> None:
    assert auto_size(360, 480) == (384, 480)  # PETS: its own resolution
    assert auto_size(540, 960) == (384, 640)  # larger frames: at most 640, aspect kept
    assert auto_size(1080, 1920) == (384, 640)
    assert auto_size(80, 100) == (256, 320)  # small frames: at least 320
    assert auto_size(1000, 1002, 416) == (416, 416)
    assert all(v % 32 == 0 for v in auto_size(333, 517))


def test_det_size_on_real_walkers(shared_data: Path) -> None:
    """PETS walkers are about 48 px tall: at the frame's own size RTMDet-nano finds more of them
    than at the old fixed 320 (README: 6.8 against 5.6 boxes per frame over 150 frames)."""
    model = shared_data / "models" / "rtmdet_nano_person.onnx"
    frames = []
    for frame in VideoSource(shared_data / "videos" / "pets2009_campus_480x360_795f.avi"):
        frames.append(frame)
        if len(frames) == 20:
            break
    counts = {}
    for size in (320, None):
        det = OnnxDetector(model, det_size=size)
        counts[size] = sum(len(det.detect(Frame(f.image, f.index))) for f in frames)
        assert (det.input_h, det.input_w) == ((256, 320) if size else (384, 480))
    assert counts[None] > counts[320]


def test_det_size_needs_an_onnx_detector() -> None:
    with pytest.raises(HrtrackError, match="--det-size"):
        make_detector("hog", det_size=320)
