"""`hrtrack track` end to end: frame folders, videos, PoseTrack image lists, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from synthetic import Walker, render

from eval.posetrack import read_sequence
from pose import build_model, save_state_dict
from tracker.cli import main


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small HRNet with random weights: the pipeline runs, poses are meaningless."""
    import torch

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("w") / "hrnet_w8.pth"
    save_state_dict(build_model("hrnet_w8"), path)
    return path


FAST = [
    "--arch",
    "hrnet_w8",
    "--input-size",
    "128x96",
    "--no-flip",
    "--quiet",
    "--min-box-score",
    "0",
    "--track-score",
    "0",
]


def _synthetic_folder(tmp_path: Path, n: int = 6, corrupt: int | None = None) -> tuple[Path, Path, list[Walker]]:
    walkers = [Walker((30, 40), (6, 1), seed=1), Walker((260, 60), (-5, 0), seed=2)]
    folder = tmp_path / "frames"
    folder.mkdir()
    dets = []
    for t, img in enumerate(render(walkers, n, (240, 400))):
        name = f"frame_{t + 1}.jpg"  # natural order: frame_10 after frame_9
        cv2.imwrite(str(folder / name), img)
        for w in walkers:
            x1, y1, x2, y2 = w.box(t).tolist()
            dets.append({"image_id": name, "category_id": 1, "bbox": [x1, y1, x2 - x1, y2 - y1], "score": 0.9})
    if corrupt is not None:
        (folder / f"frame_{corrupt + 1}.jpg").write_bytes(b"not a jpeg")
    det_file = tmp_path / "dets.json"
    det_file.write_text(json.dumps(dets))
    return folder, det_file, walkers


def test_track_frame_folder_with_json_detections(tmp_path: Path, weights: Path, capsys) -> None:
    folder, dets, _ = _synthetic_folder(tmp_path, n=11)
    out = tmp_path / "out"
    argv = ["track", str(folder), "--weights", str(weights), "--detector", f"json:{dets}", "--out", str(out), *FAST]
    assert main(argv) == 0
    printed = capsys.readouterr()
    assert "11 frames" in printed.out
    for fmt in ("posetrack17", "posetrack18"):
        seq = read_sequence(out / fmt / "frames.json")
        assert [f.image for f in seq.frames] == [f"frame_{i}.jpg" for i in range(1, 12)]
    tracks = json.loads((out / "tracks" / "frames.json").read_text())
    assert tracks["num_frames"] == 11
    for entries in tracks["tracks"].values():
        frames = [e["frame"] for e in entries]
        assert frames == sorted(set(frames))  # an id appears at most once per frame
        assert all(len(e["keypoints"]) == 17 and len(e["box"]) == 4 for e in entries)
    per_frame = [sum(1 for v in tracks["tracks"].values() for e in v if e["frame"] == t) for t in range(11)]
    assert per_frame == [2] * 11


@pytest.mark.parametrize("kind", ["folder", "video"])
def test_track_start_and_frames(tmp_path: Path, weights: Path, capsys, kind: str) -> None:
    """``--start 3 --frames 4``: frames 3-6 only, with their own indices and names."""
    folder, dets, _ = _synthetic_folder(tmp_path, n=11)
    source = folder
    if kind == "video":
        source = tmp_path / "clip.mp4"
        writer = cv2.VideoWriter(str(source), cv2.VideoWriter_fourcc(*"mp4v"), 10, (400, 240))
        for i in range(1, 12):
            writer.write(cv2.imread(str(folder / f"frame_{i}.jpg")))
        writer.release()
    out = tmp_path / "out"
    argv = ["track", str(source), "--weights", str(weights), "--out", str(out), "--start", "3", "--frames", "4"]
    argv += ["--detector", f"json:{dets}" if kind == "folder" else "hog", *FAST]
    assert main(argv) == 0
    assert "4 frames" in capsys.readouterr().out
    name = source.stem
    seq = read_sequence(out / "posetrack18" / f"{name}.json")
    expected = [f"frame_{i}.jpg" for i in range(4, 8)] if kind == "folder" else [f"frame_{i:06d}" for i in range(3, 7)]
    assert [Path(f.image).name for f in seq.frames] == expected
    tracks = json.loads((out / "tracks" / f"{name}.json").read_text())
    assert tracks["num_frames"] == 4
    assert {e["frame"] for v in tracks["tracks"].values() for e in v} <= {3, 4, 5, 6}
    assert main([*argv[: -len(FAST)], *FAST, "--start", "11", "--overwrite"]) == 2  # past the end


def test_track_with_render_writes_video_with_all_frames(tmp_path: Path, weights: Path) -> None:
    import cv2 as cv

    folder, dets, _ = _synthetic_folder(tmp_path, n=5)
    video = tmp_path / "annotated.mp4"
    argv = ["track", str(folder), "--weights", str(weights), "--detector", f"json:{dets}", "--out", str(tmp_path / "o")]
    assert main([*argv, *FAST, "--render", str(video)]) == 0
    cap = cv.VideoCapture(str(video))
    count = 0
    while cap.read()[0]:
        count += 1
    assert count == 5


def test_undecodable_frame_is_skipped_with_a_warning(tmp_path: Path, weights: Path, capsys) -> None:
    folder, dets, _ = _synthetic_folder(tmp_path, n=6, corrupt=3)
    out = tmp_path / "out"
    argv = ["track", str(folder), "--weights", str(weights), "--detector", f"json:{dets}", "--out", str(out), *FAST]
    assert main(argv) == 0
    assert "1 frame(s) could not be decoded" in capsys.readouterr().err
    seq = read_sequence(out / "posetrack18" / "frames.json")
    assert len(seq.frames) == 6 and seq.frames[3].people == []
    assert all(len(f.people) == 2 for i, f in enumerate(seq.frames) if i != 3)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--detector", "yolo"], "--detector: use a zoo detector"),
        (["--detector", "onnx:/nonexistent.onnx"], "--detector /nonexistent.onnx: no such file"),
        (["--flow", "raft"], "--flow: use dis[:PRESET]"),
        (["--input-size", "250x190"], "input size"),
    ],
)
def test_bad_options_are_one_line_errors(tmp_path: Path, weights: Path, capsys, extra, message) -> None:
    folder, _, _ = _synthetic_folder(tmp_path, n=2)
    assert main(["track", str(folder), "--weights", str(weights), *FAST, *extra]) == 2
    err = capsys.readouterr().err
    assert err.startswith("hrtrack: error:") and message in err and err.count("\n") == 1


@pytest.mark.parametrize("make", ["missing", "empty_dir", "not_video", "bad_json"])
def test_unreadable_sources(tmp_path: Path, weights: Path, capsys, make: str) -> None:
    target = {
        "missing": tmp_path / "nope.mp4",
        "empty_dir": tmp_path / "empty",
        "not_video": tmp_path / "video.mp4",
        "bad_json": tmp_path / "seq.json",
    }[make]
    if make == "empty_dir":
        target.mkdir()
    elif make == "not_video":
        target.write_bytes(b"\x00" * 100)
    elif make == "bad_json":
        target.write_text('{"annolist": [')
    assert main(["track", str(target), "--weights", str(weights), *FAST, "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("hrtrack: error:") and err.count("\n") == 1 and str(target.name) in err
    assert not (tmp_path / "o").exists()  # no partial output


def test_track_bonn_posetrack_sequence_with_rtmdet(shared_data: Path, tmp_path: Path, weights: Path) -> None:
    gt = shared_data / "bonn_posetrack" / "060470979_posetrack2017.json"
    out = tmp_path / "out"
    detector = f"onnx:{shared_data / 'models' / 'rtmdet_nano_person.onnx'}"
    argv = ["track", str(gt), "--images-root", str(shared_data / "bonn_posetrack"), "--weights", str(weights)]
    assert main([*argv, "--detector", detector, "--out", str(out), "--format", "posetrack17", *FAST]) == 0
    pred = read_sequence(out / "posetrack17" / gt.name)
    truth = read_sequence(gt)
    assert [f.image for f in pred.frames] == [f.image for f in truth.frames] and len(pred.frames) == 41
    for frame in pred.frames:
        assert frame.people, frame.image  # the four paddle-boarders are found in every frame
        ids = [p.track_id for p in frame.people]
        assert len(ids) == len(set(ids)) and max(ids) < 10000


def test_track_pets2009_video_with_rtmdet(shared_data: Path, tmp_path: Path, weights: Path) -> None:
    video = shared_data / "videos" / "pets2009_campus_480x360_795f.avi"
    out = tmp_path / "out"
    detector = f"onnx:{shared_data / 'models' / 'rtmdet_nano_person.onnx'}"
    assert main(["track", str(video), "--weights", str(weights), "--detector", detector, "--out", str(out), *FAST]) == 0
    tracks = json.loads((out / "tracks" / f"{video.stem}.json").read_text())
    assert tracks["num_frames"] == 795
    seen = np.zeros(795, int)
    for entries in tracks["tracks"].values():
        frames = [e["frame"] for e in entries]
        assert len(frames) == len(set(frames))
        seen[frames] += 1
    assert (seen > 0).all()  # every frame has tracked people
    seq = read_sequence(out / "posetrack18" / f"{video.stem}.json")
    assert len(seq.frames) == 795


def test_unwritable_output_folder_is_a_one_line_error(tmp_path: Path, weights: Path, capsys) -> None:
    folder, dets, _ = _synthetic_folder(tmp_path, n=2)
    blocker = tmp_path / "out"
    blocker.write_text("a file where the output folder should be")
    argv = ["track", str(folder), "--weights", str(weights), "--detector", f"json:{dets}", "--out", str(blocker)]
    assert main([*argv, *FAST]) == 2
    err = capsys.readouterr().err
    assert err.startswith("hrtrack: error:") and err.count("\n") == 1 and "out" in err
