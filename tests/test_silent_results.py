"""No silent wrong results: every input is checked against what it claims to be.

Two kinds of outcome, each asserted as a user sees it:

* an error: exit 2, one stderr line ``hrtrack: error: ...`` naming the file or option at fault,
  and the folder exactly as it was (names, sizes, times);
* a warning: exit 0, one warning line saying what and how much, and outputs that are true
  (e.g. a video cut short is tracked up to its last real frame, with that count).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from test_bad_inputs import assert_clean_error as _error

from tracker.cli import main

W8 = ["--weights", "w8.pth", "--arch", "hrnet_w8", "--backend", "torch"]  # torch: no export cached beside w8.pth
NAME = "000001_synth"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from pose.checkpoint import save_state_dict
    from pose.hrnet import build_model
    from tracker.synth import SynthConfig, generate
    from tracker.video import VideoSink

    root = tmp_path_factory.mktemp("silent")
    generate(SynthConfig(sequences=1, frames=8, width=160, height=96, people=2, seed=5), root / "s")
    generate(SynthConfig(sequences=2, frames=5, width=160, height=96, people=2, seed=6), root / "two")
    save_state_dict(build_model("hrnet_w8"), root / "w8.pth")
    shutil.copy(root / "s" / "videos" / f"{NAME}.mp4", root / "video.mp4")
    shutil.copy(root / "s" / "videos" / f"{NAME}.mp4", root / "-v.mp4")
    # a frame folder whose second frame is twice the size of the first
    (root / "mixed").mkdir()
    cv2.imwrite(str(root / "mixed" / "a.jpg"), np.full((180, 320, 3), 90, np.uint8))
    cv2.imwrite(str(root / "mixed" / "b.jpg"), np.full((360, 640, 3), 90, np.uint8))
    # frames too small for the flow
    (root / "tiny").mkdir()
    for k in range(3):
        cv2.imwrite(str(root / "tiny" / f"{k}.png"), np.full((10, 12, 3), 40 * k, np.uint8))
    # a 24-frame video cut to half its bytes
    rng = np.random.default_rng(0)
    with VideoSink(root / "full.mp4", 160, 96, 25.0) as sink:
        for _ in range(24):
            sink.write(rng.integers(0, 255, (96, 160, 3), dtype=np.uint8))
    data = (root / "full.mp4").read_bytes()
    (root / "cut.mp4").write_bytes(data[: len(data) // 2])
    # an MJPEG video whose 11th frame is damaged inside a good file
    writer = cv2.VideoWriter(str(root / "damaged.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 25, (160, 96))
    for i in range(20):
        writer.write(np.full((96, 160, 3), 10 * i, np.uint8))
    writer.release()
    data = bytearray((root / "damaged.avi").read_bytes())
    starts = [i for i in range(len(data) - 1) if data[i] == 0xFF and data[i + 1] == 0xD8]
    data[starts[10] : starts[10] + 200] = bytes(200)
    (root / "damaged.avi").write_bytes(bytes(data))
    boxes = [{"image_id": f"frame_{i:06d}", "bbox": [40, 10, 60, 80], "score": 0.9} for i in range(24)]
    (root / "cut_dets.json").write_text(json.dumps(boxes))
    # ground truth that labels no frame
    gt = json.loads((root / "s" / "posetrack18" / f"{NAME}.json").read_text())
    for image in gt["images"]:
        image["is_labeled"] = False
    (root / "unlabelled").mkdir()
    (root / "unlabelled" / f"{NAME}.json").write_text(json.dumps(gt))
    # detections with a negative and a NaN box size
    dets = json.loads((root / "s" / "detections" / f"{NAME}.json").read_text())
    dets[3]["bbox"][2] = -4.0
    (root / "dets_negative.json").write_text(json.dumps(dets))
    dets[3]["bbox"][2] = float("nan")
    (root / "dets_nan.json").write_text(json.dumps(dets, allow_nan=True))
    shutil.copytree(root / "s" / "posetrack18", root / "pred_copy")
    (root / "renamed").mkdir()
    for k, image in enumerate(sorted((root / "s" / "images" / NAME).glob("*.jpg"))):
        shutil.copy(image, root / "renamed" / f"shot_{k:03d}.jpg")
    (root / "tracks_renamed.json").write_text(json.dumps({"num_frames": 8, "keypoint_layout": "coco", "tracks": {}}))
    (root / "latin1.yaml").write_bytes("epochs: 1\n# caf\xe9\n".encode("latin-1"))
    (root / "zoo_broken.json").write_text('[{"name": ')
    (root / "afile").write_text("a file where a folder is expected\n")
    home = root / "home" / "models"
    home.mkdir(parents=True)
    (home / "rtmdet_nano_person.onnx").write_bytes(b"not the zoo's detector")
    return root


EVAL_OVER_GT = ["track", "s/posetrack18", "--images-root", "s", "--detector", "gt"]
ERRORS = [
    (
        "out-over-eval-gt",
        [*EVAL_OVER_GT, *W8, "--out", "s", "--format", "posetrack17", "--eval", "s/posetrack17"],
        "s/posetrack17",
    ),
    ("folder-of-mixed-sizes", ["track", "mixed", *W8, "--detector", "hog", "--out", "o", "--quiet"], "b.jpg"),
    ("frames-too-small", ["track", "tiny", *W8, "--detector", "hog", "--out", "o"], "too small"),
    ("queue-0", ["track", "video.mp4", *W8, "--queue", "0"], "--queue"),
    ("dash-file", ["track", "-v.mp4", *W8, "--detector", "hog"], "-v.mp4"),
    (
        "detections-negative-size",
        ["track", f"s/posetrack18/{NAME}.json", "--images-root", "s", *W8, "--detector", "json:dets_negative.json"],
        "dets_negative.json: entry 3",
    ),
    (
        "detections-nan-size",
        ["track", f"s/posetrack18/{NAME}.json", "--images-root", "s", *W8, "--detector", "json:dets_nan.json"],
        "dets_nan.json: entry 3",
    ),
    (
        "gt-boxes-of-another-sequence",
        ["track", "video.mp4", *W8, "--detector", f"gt:two/posetrack18/{NAME}.json", "--out", "o"],
        f"two/posetrack18/{NAME}.json",
    ),
    ("eval-gt-without-labels", ["eval", "--gt", "unlabelled", "--pred", "s/posetrack18"], f"{NAME}.json"),
    ("eval-one-file-for-a-folder", ["eval", "--gt", "two/posetrack18", "--pred", "video.mp4"], "video.mp4"),
    ("eval-gt-is-the-predictions", ["eval", "--gt", "s/posetrack18", "--pred", "./s/posetrack18"], "s/posetrack18"),
    (
        "render-gt-of-another-video",
        ["render", "video.mp4", f"s/posetrack18/{NAME}.json", "-o", "r.mp4", "--gt", f"two/posetrack18/{NAME}.json"],
        f"two/posetrack18/{NAME}.json",
    ),
    (
        "render-predictions-of-other-images",
        ["render", "renamed", f"s/posetrack18/{NAME}.json", "-o", "r.mp4"],
        f"s/posetrack18/{NAME}.json",
    ),
    (
        "render-sheet-into-its-frames",
        ["render", "renamed", "tracks_renamed.json", "-o", "r.mp4", "--contact-sheet", "renamed/sheet.png"],
        "renamed/sheet.png",
    ),
    ("synth-over-another-set", ["synth", "--out", "two", "--sequences", "1", "--frames", "2"], "--out two"),
    ("train-config-not-utf8", ["train", "latin1.yaml"], "latin1.yaml"),
]


@pytest.mark.parametrize(("argv", "names"), [pytest.param(a, n, id=i) for i, a, n in ERRORS])
def test_a_lie_is_an_error(world: Path, argv: list[str], names: str, monkeypatch, capfd) -> None:
    monkeypatch.chdir(world)
    _error(world, argv, names, capfd)


def test_eval_gt_is_never_overwritten_and_unlabelled_gt_is_not_gt(world: Path, monkeypatch, capfd) -> None:
    """The GT that --eval reads is refused as an output folder before anything is written (the
    files are unchanged), so no run can score its own predictions as AP 100."""
    monkeypatch.chdir(world)
    gt = (world / "s" / "posetrack17" / f"{NAME}.json").read_bytes()
    line = _error(world, ERRORS[0][1], "s/posetrack17", capfd)
    assert "input folder" in line
    assert (world / "s" / "posetrack17" / f"{NAME}.json").read_bytes() == gt


def test_a_wrong_file_in_the_model_cache_is_never_used(world: Path, monkeypatch, capfd) -> None:
    """A file under a zoo file name that is not the file its hash says: track refuses it, models
    list says so, an offline models fetch keeps it (and says why), nothing is deleted."""
    monkeypatch.chdir(world)
    monkeypatch.setenv("HRTRACK_HOME", str(world / "home"))
    cached = "home/models/rtmdet_nano_person.onnx"
    line = _error(world, ["track", "video.mp4", *W8, "--detector", "rtmdet_nano_person"], cached, capfd)
    assert "sha256" in line and "models fetch rtmdet_nano_person" in line
    line = _error(world, ["models", "fetch", "rtmdet_nano_person"], cached, capfd)
    assert "HRTRACK_OFFLINE" in line
    _error(world, ["models", "path", "rtmdet_nano_person"], cached, capfd)
    assert main(["models"]) == 0
    row = next(r for r in capfd.readouterr().out.splitlines() if r.startswith("rtmdet_nano_person"))
    assert "HASH MISMATCH" in row


def test_models_fetch_replaces_a_mismatch_with_a_good_download(world: Path, tmp_path: Path, monkeypatch, capfd):
    from mirror import Mirror

    home = tmp_path / "home"
    (home / "models").mkdir(parents=True)
    shutil.copy(world / "home" / "models" / "rtmdet_nano_person.onnx", home / "models")
    zoo = tmp_path / "zoo.json"
    good = b"the real detector"
    import hashlib

    entry = {"name": "rtmdet_nano_person", "kind": "detector", "url": "http://example.invalid/x.onnx"}
    entry |= {"sha256": hashlib.sha256(good).hexdigest(), "file": "rtmdet_nano_person.onnx"}
    zoo.write_text(json.dumps([entry]))
    server = Mirror()
    try:
        server.files["rtmdet_nano_person.onnx"] = good
        monkeypatch.setenv("HRTRACK_MIRROR", server.url)
        monkeypatch.setenv("HRTRACK_HOME", str(home))
        monkeypatch.setenv("HRTRACK_ZOO", str(zoo))
        monkeypatch.delenv("HRTRACK_OFFLINE", raising=False)
        assert main(["models", "fetch", "rtmdet_nano_person"]) == 0
    finally:
        server.close()
    err = capfd.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("hrtrack: warning: ") and "sha256" in err[0] and "replaced" in err[0]
    assert (home / "models" / "rtmdet_nano_person.onnx").read_bytes() == good


def test_hrtrack_home_that_is_a_file_is_named(world: Path, monkeypatch, capfd) -> None:
    monkeypatch.chdir(world)
    monkeypatch.setenv("HRTRACK_HOME", str(world / "afile"))
    line = _error(world, ["track", "video.mp4", *W8, "--detector", "hog", "--backend", "auto"], "HRTRACK_HOME", capfd)
    assert "is a file" in line and "afile/models" not in line
    line = _error(world, ["models", "fetch", "rtmdet_nano_person"], "HRTRACK_HOME", capfd)
    assert "afile/models" not in line


def test_a_broken_zoo_file_is_named_not_the_option(world: Path, monkeypatch, capfd) -> None:
    monkeypatch.chdir(world)
    monkeypatch.setenv("HRTRACK_ZOO", str(world / "zoo_broken.json"))
    line = _error(world, ["track", "video.mp4", "--weights", "nosuch"], "zoo_broken.json (HRTRACK_ZOO)", capfd)
    assert "--weights" not in line


def test_a_full_disk_names_the_file(world: Path, tmp_path: Path, monkeypatch, capfd) -> None:
    """Writes that fail without a file name (ENOSPC) name the output the user asked for, and a
    checkpoint torch cannot finish is one line with exit 2, not torch's internal message."""
    import errno

    import torch

    import eval.posetrack
    import pose.files

    monkeypatch.chdir(world)

    def full(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    def torch_full(*args: object, **kwargs: object) -> None:
        raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 1536 vs 1430")

    with monkeypatch.context() as m:
        m.setattr(torch, "save", torch_full)
        line = _error(
            world, ["weights", "w8.pth", "--arch", "hrnet_w8", "--export-fp16", "half.pth"], "half.pth", capfd
        )
        assert "disk full" in line
    with monkeypatch.context() as m:
        m.setattr(pose.files.Path, "write_bytes", full)
        gt, pred = f"s/posetrack18/{NAME}.json", f"pred_copy/{NAME}.json"
        line = _error(world, ["eval", "--gt", gt, "--pred", pred, "--json", "r.json"], "r.json: No space left", capfd)
    with monkeypatch.context() as m:
        m.setattr(eval.posetrack, "stream_sequence", full)
        m.setattr("tracker.sinks.stream_sequence", full)
        argv = ["track", "video.mp4", *W8, "--detector", "hog", "--out", "full_out", "--quiet"]
        line = _error(world, argv, "full_out/posetrack", capfd)
        assert "No space left" in line
    del line


def test_a_video_cut_short_is_tracked_to_its_last_real_frame(world: Path, tmp_path: Path) -> None:
    """24 frames announced, fewer in the file: the real frames are tracked once each, in order
    (no frame repeated after the cut), the outputs say so, and one warning gives the count."""
    out = tmp_path / "out"
    argv = ["track", "cut.mp4", *W8, "--detector", "json:cut_dets.json", "--track-score", "0", "--quiet"]
    err = _run([*argv, "--out", str(out), "--render", str(out / "v.mp4")], world)
    seq = json.loads((out / "posetrack18" / "cut.json").read_text())
    real = len(seq["images"])
    assert 3 <= real < 24
    assert len(err) == 1 and err[0].startswith("hrtrack: warning: ") and f"after {real} of the 24 frames" in err[0]
    assert json.loads((out / "tracks" / "cut.json").read_text())["num_frames"] == real
    rendered = _frames(out / "v.mp4")
    assert len(rendered) == real
    # each written frame is the original video's frame of that number: none repeated, none shifted
    truth = _frames(world / "full.mp4")
    for k, image in enumerate(rendered):
        diffs = [float(np.abs(image.astype(int) - t.astype(int)).mean()) for t in truth]
        assert int(np.argmin(diffs)) == k, (k, diffs)


def test_a_damaged_frame_inside_a_video_ends_nothing(world: Path, tmp_path: Path) -> None:
    """A frame that cannot be read in the middle of a good file is written without people, and
    the frames after it keep their numbers (one warning with the count)."""
    out = tmp_path / "out"
    argv = ["track", "damaged.avi", *W8, "--detector", "json:cut_dets.json", "--track-score", "0", "--quiet"]
    err = _run([*argv, "--out", str(out)], world)
    assert len(err) == 1 and "1 frame(s) could not be decoded" in err[0], err
    export = json.loads((out / "tracks" / "damaged.json").read_text())
    assert export["num_frames"] == 20
    frames = {e["frame"] for entries in export["tracks"].values() for e in entries}
    assert frames == set(range(20)) - {10}


def _run(argv: list[str], cwd: Path) -> list[str]:
    """``hrtrack ARGV`` in a process of its own (FFmpeg's log level is set once per process, before
    its first use: a test process has used it already); its stderr lines, after an exit 0."""
    run = subprocess.run([sys.executable, "-m", "tracker.cli", *argv], cwd=cwd, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    return [line for line in run.stderr.splitlines() if line.strip()]


def _frames(path: Path) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, image = cap.read()
        if not ok:
            return frames
        frames.append(image)


def test_render_warns_when_the_predictions_describe_fewer_frames(world: Path, tmp_path: Path, monkeypatch, capfd):
    monkeypatch.chdir(world)
    tracks = {"num_frames": 4, "keypoint_layout": "coco", "tracks": {}}
    (tmp_path / "four.json").write_text(json.dumps(tracks))
    assert main(["render", "video.mp4", str(tmp_path / "four.json"), "-o", str(tmp_path / "r.mp4"), "--quiet"]) == 0
    err = [line for line in capfd.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and "describe 4 of the source's 8 frames" in err[0], err


def test_eval_warns_of_predictions_without_ground_truth(world: Path, tmp_path: Path, monkeypatch, capfd) -> None:
    monkeypatch.chdir(world)
    pred = tmp_path / "pred"
    shutil.copytree(world / "s" / "posetrack18", pred)
    shutil.copy(pred / f"{NAME}.json", pred / "other_sequence.json")
    assert main(["eval", "--gt", "s/posetrack18", "--pred", str(pred)]) == 0
    err = [line for line in capfd.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and "1 prediction file(s) have no ground truth" in err[0] and "other_sequence" in err[0]


def test_a_killed_writers_temp_is_swept_by_the_next_run(world: Path, tmp_path: Path, monkeypatch) -> None:
    """After a ``kill -9`` during ``track --render``, the hidden temp of the video is removed by the
    next successful run of the command; the temp of a writer that still runs is left alone."""
    from pose.files import temp_name

    monkeypatch.chdir(world)
    out = tmp_path / "o"
    video = out / "v.mp4"
    out.mkdir()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(dead.stdout)
    stale = Path(str(temp_name(video, ".mp4")).replace(f"-{os.getpid()}-", f"-{pid}-"))
    stale.write_bytes(b"half a video")
    live = temp_name(video, ".mp4")
    live.write_bytes(b"a video being written")
    assert main(["track", "video.mp4", *W8, "--detector", "hog", "--out", str(out), "--render", str(video)]) == 0
    assert video.is_file() and not stale.exists() and live.exists()


def test_the_last_message_has_a_line_of_its_own(monkeypatch, capfd) -> None:
    """A bar still open when a run is interrupted (or fails) ends first: the message is never
    glued to it, and the bar is not redrawn after it."""
    from tqdm import tqdm

    from tracker.commands import models

    def interrupted(args: object) -> int:
        bar = tqdm(total=10, desc="synth")
        bar.update(3)
        raise KeyboardInterrupt

    monkeypatch.setattr(models, "cmd_models", interrupted)
    assert main(["models"]) == 130
    err = capfd.readouterr().err
    assert err.endswith("\nhrtrack: interrupted (SIGINT); the outputs in progress were removed\n"), repr(err[-200:])
    assert not list(tqdm._instances)


def test_an_interrupted_worker_run_warns_of_no_leaked_semaphores() -> None:
    """The resource tracker (a process of its own) gets the -W option that keeps its
    leaked-semaphore warning off the terminal."""
    from pose.options import quiet_third_party

    quiet_third_party()
    assert "ignore::UserWarning:multiprocessing.resource_tracker" in sys.warnoptions
    from multiprocessing import util

    assert "-Wignore::UserWarning:multiprocessing.resource_tracker" in util._args_from_interpreter_flags()
