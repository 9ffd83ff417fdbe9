"""tracker.Tracker and TrackConfig: the one path from Python and from the command line.

* a config value is checked like the option: the same one line as ``hrtrack track`` gives;
* the stream of a Tracker is what ``hrtrack track`` writes for the same options;
* numpy frames, stage objects, bad stage objects; nothing is written without ``out``/``render``.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from synthetic import Walker, render

from pose import build_model, save_state_dict
from pose.errors import HrtrackError
from pose.options import UsageError
from pose.poses import Poses
from tracker import TrackConfig, Tracker
from tracker.cli import main


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """A small HRNet with random weights, a folder of 8 frames with two walkers, their boxes."""
    import torch

    tmp = tmp_path_factory.mktemp("api")
    with torch.random.fork_rng():
        torch.manual_seed(0)
        weights = tmp / "hrnet_w8.pth"
        save_state_dict(build_model("hrnet_w8"), weights)
    walkers = [Walker((30, 40), (6, 1), seed=1), Walker((260, 60), (-5, 0), seed=2)]
    folder = tmp / "frames"
    folder.mkdir()
    dets = []
    for t, img in enumerate(render(walkers, 8, (240, 400))):
        name = f"frame_{t:02d}.jpg"
        cv2.imwrite(str(folder / name), img)
        for i, w in enumerate(walkers):
            x1, y1, x2, y2 = w.box(t).tolist()
            score = 0.9 - 0.3 * i
            dets.append({"image_id": name, "category_id": 1, "bbox": [x1, y1, x2 - x1, y2 - y1], "score": score})
    det_file = tmp / "dets.json"
    det_file.write_text(json.dumps(dets))
    return weights, folder, det_file


OPTIONS = {"arch": "hrnet_w8", "input_size": (128, 96), "flip_test": False, "track_score": 0.0}
ARGV = ["--arch", "hrnet_w8", "--input-size", "128x96", "--no-flip", "--track-score", "0", "--quiet"]


@pytest.mark.parametrize(
    ("field", "value", "option", "text"),
    [
        ("box_nms", 2, "--box-nms", "2"),
        ("queue", 2.5, "--queue", "2.5"),
        ("track_buffer", -1, "--track-buffer", "-1"),
        ("det_size", 100, "--det-size", "100"),
        ("flow", "dis:slow", "--flow", "dis:slow"),
        ("detector", "nobody", "--detector", "nobody"),
        ("weights", "no_such_model", "--weights", "no_such_model"),
        ("track_score", -0.5, "--track-score", "-0.5"),
        ("ahead", 65, "--ahead", "65"),
        ("device", "tpu", "--device", "tpu"),
        ("detector", "onnx:missing.onnx", "--detector", "onnx:missing.onnx"),
        ("assoc", "hungarian", "--assoc", "hungarian"),
        ("keypoint_layout", "mpii", "--keypoint-layout", "mpii"),
        ("precision", "fp16", "--precision", "fp16"),
        ("images_root", "/no/such/folder", "--images-root", "/no/such/folder"),
    ],
)
def test_a_config_value_is_refused_with_the_options_one_line(
    scene, field: str, value: object, option: str, text: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _, folder, _ = scene
    with pytest.raises(UsageError) as caught:
        TrackConfig(**{field: value})
    assert main(["track", str(folder), option, text]) == 2
    err = capsys.readouterr().err
    assert err == f"hrtrack: error: {caught.value}\n"
    assert str(caught.value).startswith(option)


def test_unknown_options_and_bad_stages_are_one_line_errors() -> None:
    with pytest.raises(UsageError, match="^boxnms: not a tracking option"):
        Tracker(boxnms=0.5)
    with pytest.raises(HrtrackError, match="^detector: a spec or an object with detect"):
        Tracker(detector=42)
    with pytest.raises(HrtrackError, match="^flow: a spec or an object with compute"):
        Tracker(flow=object())
    with pytest.raises(HrtrackError, match="^weights: a name, a file or a pose stage"):
        Tracker(weights=3.5)
    with pytest.raises(UsageError, match="^--input-size: expected"):
        TrackConfig(input_size=(256,))


def test_the_stream_is_what_hrtrack_track_writes(scene, tmp_path: Path) -> None:
    """One path: the per-track export of ``hrtrack track`` and the Tracker's stream, for the same
    options, hold the same people with the same ids (and the stream writes nothing)."""
    weights, folder, det_file = scene
    out = tmp_path / "cli"
    argv = ["track", str(folder), "--weights", str(weights), "--detector", f"json:{det_file}", "--out", str(out)]
    assert main([*argv, *ARGV, "--start", "2", "--frames", "5"]) == 0
    export = json.loads((out / "tracks" / "frames.json").read_text())
    by_frame: dict[int, dict[int, list]] = {}
    for tid, entries in export["tracks"].items():
        for e in entries:
            by_frame.setdefault(e["frame"], {})[int(tid)] = e["box"]
    before = set(tmp_path.rglob("*"))
    tracker = Tracker(weights, f"json:{det_file}", start=2, frames=5, **OPTIONS)
    results = list(tracker.track(folder))
    assert set(tmp_path.rglob("*")) == before  # a stream writes nothing
    assert [r.index for r in results] == [2, 3, 4, 5, 6]
    assert [r.name for r in results] == [f"frame_{i:02d}.jpg" for i in range(2, 7)]
    for r in results:
        ids = [int(i) for i in r.poses.track_ids]
        assert sorted(ids) == sorted(by_frame.get(r.index, {}))
        for tid, box in zip(ids, r.poses.boxes, strict=True):
            np.testing.assert_allclose(box, by_frame[r.index][tid], atol=0.01)
    assert sum(len(r.poses) for r in results) >= 8  # the two walkers, tracked
    assert tracker.timer.frames == 5


def test_numpy_frames_and_stage_objects(scene, tmp_path: Path) -> None:
    """Images from memory with a detector object and a flow object: the objects are called once
    per frame (flow once per pair), the results are indexed from 0 and the files are written."""
    weights, folder, _ = scene
    images = [cv2.imread(str(p)) for p in sorted(folder.glob("*.jpg"))]
    calls = {"detect": 0, "flow": 0}

    class TwoBoxes:
        def detect(self, frame) -> Poses:
            calls["detect"] += 1
            assert frame.image.shape == (240, 400, 3)
            return Poses(boxes=np.array([[20, 30, 80, 200], [240, 50, 300, 220]], np.float32), scores=[0.9, 0.8])

    class StillFlow:
        def compute(self, prev: np.ndarray, nxt: np.ndarray) -> np.ndarray:
            calls["flow"] += 1
            return np.zeros((*prev.shape[:2], 2), np.float32)

    tracker = Tracker(weights, TwoBoxes(), StillFlow(), **OPTIONS)
    summary = tracker.track(iter(images), out=tmp_path / "out", render=tmp_path / "v.mp4", name="memory")
    assert calls == {"detect": 8, "flow": 7}
    assert summary.frames == 8 and summary.detections == 16 and len(summary.tracks) >= 2
    assert (tmp_path / "out" / "posetrack18" / "memory.json").is_file() and (tmp_path / "v.mp4").is_file()
    cap = cv2.VideoCapture(str(tmp_path / "v.mp4"))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 8
    assert "hrnet_w8" in tracker.describe()


def test_a_bad_frame_in_a_stream_names_it(scene) -> None:
    frames = [np.zeros((64, 96, 3), np.uint8), np.zeros((64, 96), np.uint8)]
    tracker = Tracker(scene[0], detector="hog", flow="none", **OPTIONS)
    with pytest.raises(HrtrackError, match=r"frame 1: expected an \(H,W,3\) uint8 BGR image, got uint8 \(64, 96\)"):
        list(tracker.track(frames))


def test_config_values_are_converted_and_completed() -> None:
    """What the option types make of a value is stored (a string number becomes a number), 0 turns
    the pose NMS off as on the command line, a format given twice is written once, and a value
    that an option always has cannot be None."""
    c = TrackConfig(det_threshold="0.3", start="2", input_size=[256, 192], pose_nms=0, formats=["posetrack18"] * 2)
    assert (c.det_threshold, c.start, c.input_size, c.pose_nms, c.formats) == (
        0.3,
        2,
        (256, 192),
        None,
        ("posetrack18",),
    )
    for field in ("device", "detector", "box_nms", "batch_size", "flow"):
        with pytest.raises(UsageError, match="a value is needed, got None"):
            TrackConfig(**{field: None})
    with pytest.raises(UsageError, match="^--input-size: .*multiples of 32"):
        TrackConfig(input_size=(100, 75))
    with pytest.raises(UsageError, match="^--images-root /no/such: no such folder"):
        TrackConfig(images_root="/no/such")


def test_per_source_detectors_and_a_reused_source(tmp_path: Path) -> None:
    """``gt`` is each annotation's own boxes and ``json:DIR`` each source's file, as on the command
    line; a source object tracked twice with a window is not changed by it."""
    from tracker.synth import SynthConfig, generate
    from tracker.video import annotation_source

    data = tmp_path / "synth"
    generate(SynthConfig(sequences=1, frames=6, width=192, height=128, people=2, seed=4, write_video=False), data)
    annotation = next((data / "posetrack18").glob("*.json"))
    fast = {"weights": "demo_synth_w16", "flip_test": False, "flow": "none", "device": "cpu", "images_root": data}
    gt = [len(r.poses) for r in Tracker(detector="gt", **fast).track(annotation)]
    assert len(gt) == 6 and sum(gt) >= 6
    dets = [len(r.poses) for r in Tracker(detector=f"json:{data / 'detections'}", **fast).track(annotation)]
    assert len(dets) == 6 and sum(dets) >= 6
    with pytest.raises(HrtrackError, match="--detector gt: this source is not an annotation file"):
        Tracker(detector="gt", **fast).track([np.zeros((32, 32, 3), np.uint8)])
    source = annotation_source(annotation, data)
    tracker = Tracker(detector="gt:" + str(annotation), start=2, frames=3, **fast)
    for _ in range(2):
        assert [r.index for r in tracker.track(source)] == [2, 3, 4]
    assert len(source) == 6 and source.start == 0


def test_a_stream_with_a_bar_and_a_callback_stops_cleanly(scene, capsys: pytest.CaptureFixture[str]) -> None:
    """``progress`` and ``on_frame`` work for a stream too; a caller that stops early stops it."""
    weights, folder, det_file = scene
    seen = []
    tracker = Tracker(weights, f"json:{det_file}", **OPTIONS)
    stream = tracker.track(folder, progress=True, on_frame=lambda: seen.append(1))
    first = next(stream)
    stream.close()
    assert first.index == 0 and len(seen) == 1
    assert "frames" in capsys.readouterr().err  # the bar, named after the folder
    assert len(list(tracker.track(folder))) == 8  # the tracker goes on with the next source
