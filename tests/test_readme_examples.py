"""README's "Tracking from Python" examples, run as they are written, on the real Bonn clip.

Each example is the ```python block after a ``<!-- example: NAME -->`` line. It runs in a folder
holding the files it names: ``video.mp4`` (the 41 Bonn frames as an H.264 video), ``frames/`` (the
Bonn frames), ``model.xml`` (PP-TinyPose 256x192, OpenVINO IR), ``detector.onnx`` (RTMDet-nano) and
``best.pth`` (the bundled demo model); zoo names are fetched through a loopback mirror.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from mirror import Mirror

README = Path(__file__).resolve().parents[1] / "README.md"
BONN_FRAMES = 41


def examples() -> dict[str, str]:
    text = README.read_text()
    found = dict(re.findall(r"<!-- example: (\w+) -->\n```python\n(.*?)```", text, re.S))
    assert set(found) == {"zoo", "files", "network", "numpy"}, sorted(found)
    return found


@pytest.fixture
def folder(shared_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working folder with the files the examples name."""
    import cv2

    from pose import zoo
    from tracker.video import VideoSink

    work = tmp_path / "work"
    work.mkdir()
    bonn = shared_data / "bonn_posetrack" / "videos" / "060470979"
    (work / "frames").symlink_to(bonn)
    tinypose = shared_data / "models" / "pp_tinypose_256x192"
    for suffix in (".xml", ".bin"):
        (work / f"model{suffix}").symlink_to(tinypose / f"model{suffix}")
    (work / "detector.onnx").symlink_to(shared_data / "models" / "rtmdet_nano_person.onnx")
    (work / "best.pth").symlink_to(zoo.cached_path(zoo.ZOO["demo_synth_w16"]))
    images = [cv2.imread(str(p)) for p in sorted(bonn.glob("*.jpg"))]
    h, w = images[0].shape[:2]
    with VideoSink(work / "video.mp4", w, h, 25.0) as sink:
        for image in images:
            sink.write(image)
    monkeypatch.chdir(work)
    return work


def run(name: str) -> dict:
    namespace: dict = {"__name__": "readme_example"}
    exec(compile(examples()[name], f"README.md example {name}", "exec"), namespace)
    return namespace


def test_the_examples_are_in_the_readme() -> None:
    for name, code in examples().items():
        compile(code, name, "exec")  # every block is valid Python


def test_zoo_names_through_the_mirror(folder: Path, shared_data: Path, monkeypatch, capsys) -> None:
    server = Mirror()
    try:
        server.files["rtmdet_nano_person.onnx"] = (shared_data / "models" / "rtmdet_nano_person.onnx").read_bytes()
        monkeypatch.setenv("HRTRACK_MIRROR", server.url)
        monkeypatch.setenv("HRTRACK_HOME", str(folder.parent / "home"))
        monkeypatch.delenv("HRTRACK_OFFLINE", raising=False)
        ns = run("zoo")
    finally:
        server.close()
    assert server.requests["rtmdet_nano_person.onnx"] == 1  # fetched once, then from the cache
    summary = ns["summary"]
    assert summary.frames == BONN_FRAMES and summary.detections >= 3 * BONN_FRAMES
    out = folder / "out"
    names = {Path(p).as_posix() for p in summary.files}  # as given: relative to the working folder
    assert names == {
        "out/posetrack17/video.json",
        "out/posetrack18/video.json",
        "out/tracks/video.json",
        "out/video.mp4",
    }
    assert all((out / n).is_file() for n in ("posetrack17/video.json", "tracks/video.json", "video.mp4"))
    assert capsys.readouterr().out.startswith(f"{BONN_FRAMES} ")


def test_files_and_a_frame_folder(folder: Path) -> None:
    import json

    ns = run("files")
    summary = ns["summary"]
    assert (
        summary.frames == BONN_FRAMES and summary.detections >= 3 * BONN_FRAMES and summary.tracks
    )  # (a synthetic model)
    export = json.loads((folder / "out_files" / "tracks" / "clip.json").read_text())
    assert export["num_frames"] == BONN_FRAMES and export["keypoint_layout"] == "posetrack18"
    assert ns["tracker"].pose.arch == "hrnet_w16"


def test_an_injected_external_network(folder: Path) -> None:
    """PP-TinyPose on the four Bonn walkers: a handful of ids, the main ones kept the whole clip."""
    ns = run("network")
    tracks = ns["tracks"]
    lengths = sorted((len(v) for v in tracks.values()), reverse=True)
    assert 3 <= len(tracks) <= 8, lengths
    assert lengths[0] >= BONN_FRAMES - 3 and lengths[2] >= 30, lengths
    first = tracks[max(tracks, key=lambda k: len(tracks[k]))][0]
    assert first.shape == (17, 3) and float(first[:, 2].mean()) > 0.5  # a real network: confident joints


def test_a_list_of_numpy_frames_and_a_custom_detector(folder: Path) -> None:
    ns = run("numpy")
    results = ns["results"]
    assert [r.index for r in results] == list(range(BONN_FRAMES))
    assert [r.name for r in results][:2] == ["frame_000000", "frame_000001"]
    tall = [r.poses.boxes[:, 3] - r.poses.boxes[:, 1] for r in results]
    assert sum(len(t) for t in tall) >= 2 * BONN_FRAMES
    assert all(r.poses.keypoints.shape[1:] == (17, 3) for r in results)
    assert all(np.all(t > 50) for t in tall)  # tall people only (flow-propagated boxes are keypoint boxes)
    assert len({int(i) for r in results for i in r.poses.track_ids}) >= 2


def test_a_stream_of_mixed_sizes_is_refused_at_the_odd_frame(folder: Path) -> None:
    """The numpy path never resizes: a frame of another size is a one-line error naming it."""
    from pose.errors import HrtrackError
    from tracker import Tracker

    frames = [np.zeros((64, 96, 3), np.uint8)] * 3 + [np.zeros((32, 48, 3), np.uint8)]
    tracker = Tracker(weights="best.pth", arch="hrnet_w16", input_size=(128, 96), detector="hog", flow="none")
    with pytest.raises(HrtrackError, match=r"frame 3 is 48x32, the first frame 96x64"):
        list(tracker.track(frames))
