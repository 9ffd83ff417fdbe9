"""The model zoo: hash-checked fetches through a loopback mirror, the cache, offline mode, the CLI,
and ``hrtrack track VIDEO`` with no other flag. Nothing is downloaded from outside."""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from mirror import Mirror

from pose import build_model, zoo
from tracker.cli import main

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def mirror(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A loopback mirror, an empty ``HRTRACK_HOME`` and online mode."""
    server = Mirror()
    monkeypatch.setenv("HRTRACK_MIRROR", server.url)
    monkeypatch.setenv("HRTRACK_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("HRTRACK_OFFLINE", raising=False)
    monkeypatch.delenv("HRTRACK_ZOO", raising=False)
    yield server
    server.close()


def _add_entries(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *entries: dict) -> Path:
    path = tmp_path / "zoo.json"
    path.write_text(json.dumps(list(entries)))
    monkeypatch.setenv("HRTRACK_ZOO", str(path))
    return path


def _blob(n: int = 300_000, seed: int = 0) -> bytes:
    return np.random.default_rng(seed).integers(0, 256, n, dtype=np.uint8).tobytes()


def _entry(name: str, data: bytes, **extra: object) -> dict:
    return {
        "name": name,
        "kind": "detector",
        "url": f"https://upstream.invalid/{name}.onnx",
        "file": f"{name}.onnx",
        "sha256": hashlib.sha256(data).hexdigest(),
        **extra,
    }


def _cache_files(tmp_path: Path) -> list[str]:
    folder = tmp_path / "home" / "models"
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def test_fetch_verifies_and_a_second_use_makes_no_request(tmp_path: Path, mirror: Mirror, monkeypatch) -> None:
    data = _blob()
    mirror.files["blob.onnx"] = data
    _add_entries(tmp_path, monkeypatch, _entry("blob", data, size=len(data)))
    path = zoo.fetch("blob", progress=False)
    assert path == tmp_path / "home" / "models" / "blob.onnx" and path.read_bytes() == data
    assert mirror.requests["blob.onnx"] == 1
    assert zoo.fetch("blob", progress=False) == path and mirror.requests["blob.onnx"] == 1
    assert _cache_files(tmp_path) == ["blob.onnx"]


def test_a_prefix_hash_is_checked_too(tmp_path: Path, mirror: Mirror, monkeypatch) -> None:
    data = _blob(seed=1)
    mirror.files["pre.onnx"] = mirror.files["bad.onnx"] = data
    good = _entry("pre", data)
    good["sha256"] = good["sha256"][:8]
    bad = {**good, "name": "bad", "file": "bad.onnx", "sha256": "0" * 8 if good["sha256"] != "0" * 8 else "1" * 8}
    _add_entries(tmp_path, monkeypatch, good, bad)
    assert zoo.fetch("pre", progress=False).read_bytes() == data
    with pytest.raises(zoo.ZooError, match="sha256 mismatch"):
        zoo.fetch("bad", progress=False)


@pytest.mark.parametrize(("fault", "reason"), [("corrupt", "sha256 mismatch"), ("drop", "bytes"), (None, "HTTP 404")])
def test_failed_fetches_give_one_line_and_leave_nothing(
    tmp_path: Path, mirror: Mirror, monkeypatch, capsys, fault: str | None, reason: str
) -> None:
    data = _blob(seed=2)
    if fault is not None:  # None: the mirror does not have the file
        mirror.files["bad.onnx"] = data
        mirror.faults["bad.onnx"] = fault
    _add_entries(tmp_path, monkeypatch, _entry("bad", data))
    assert main(["models", "fetch", "bad"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("hrtrack: error: cannot fetch bad from " + mirror.url + "/bad.onnx")
    assert reason in err
    assert f"place it at {tmp_path / 'home' / 'models' / 'bad.onnx'}" in err
    assert _cache_files(tmp_path) == []


def test_offline_with_an_empty_cache_names_the_path(tmp_path: Path, mirror: Mirror, monkeypatch, capsys) -> None:
    monkeypatch.setenv("HRTRACK_OFFLINE", "1")
    assert main(["models", "fetch", "rtmdet_nano_person"]) == 2
    err = capsys.readouterr().err.strip()
    assert "HRTRACK_OFFLINE" in err and str(tmp_path / "home" / "models" / "rtmdet_nano_person.onnx") in err
    assert mirror.requests == {} and _cache_files(tmp_path) == []


def test_zip_entries_are_extracted(tmp_path: Path, mirror: Mirror, monkeypatch) -> None:
    model = _blob(seed=3)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("sdk/deploy.json", "{}")
        z.writestr("sdk/end2end.onnx", model)
    archive = buf.getvalue()
    mirror.files["sdk.zip"] = archive
    entry = {
        **_entry("zipped", archive),
        "archive": "sdk.zip",
        "archive_member": "end2end.onnx",
        "file": "zipped.onnx",
    }
    _add_entries(tmp_path, monkeypatch, entry)
    assert zoo.fetch("zipped", progress=False).read_bytes() == model
    assert _cache_files(tmp_path) == ["sdk.zip", "zipped.onnx"]


def test_two_processes_fetching_at_once_end_with_one_good_file(tmp_path: Path, mirror: Mirror, monkeypatch) -> None:
    data = _blob(2_000_000, seed=4)
    mirror.files["race.onnx"] = data
    mirror.faults["race.onnx"] = "together"  # both downloads are in flight at the same time
    _add_entries(tmp_path, monkeypatch, _entry("race", data))
    cmd = [sys.executable, "-m", "tracker.cli", "models", "fetch", "race"]
    procs = [subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err.decode()
    assert mirror.requests["race.onnx"] == 2
    assert _cache_files(tmp_path) == ["race.onnx"]
    assert (tmp_path / "home" / "models" / "race.onnx").read_bytes() == data


def test_models_lists_every_entry_and_path_needs_a_cached_file(tmp_path: Path, mirror: Mirror, capsys) -> None:
    assert main(["models"]) == 0
    listing = capsys.readouterr().out
    for name in zoo.ZOO:
        assert name in listing
    assert "prefix only" in listing and "bundled" in listing
    assert main(["models", "path", "demo_synth_w16"]) == 0
    assert capsys.readouterr().out.strip() == str(zoo.DEMO_FILE)
    assert main(["models", "path", "hrnet_w32_coco_256x192"]) == 2
    assert "not in the cache" in capsys.readouterr().err
    assert main(["models", "fetch", "no_such_model"]) == 2
    assert "no_such_model: not a model" in capsys.readouterr().err


def test_a_zoo_name_implies_arch_size_and_layout(tmp_path: Path, mirror: Mirror, monkeypatch) -> None:
    choice = zoo.resolve_pose("demo_synth_w16")
    assert (choice.arch, choice.input_size, choice.layout) == ("hrnet_w16", (128, 96), "posetrack18")
    with pytest.raises(zoo.ZooError, match="--arch hrnet_w48: the zoo model demo_synth_w16 is hrnet_w16"):
        zoo.resolve_pose("demo_synth_w16", arch="hrnet_w48")
    with pytest.raises(zoo.ZooError, match="neither a file nor a pose model"):
        zoo.resolve_pose("hrnet_w32_coco")
    plain = tmp_path / "mine.pth"
    plain.write_bytes(b"x")
    choice = zoo.resolve_pose(str(plain))
    assert (choice.arch, choice.input_size, choice.layout) == ("hrnet_w32", (256, 192), "coco")


def test_real_rtmdet_entry_through_the_mirror(shared_data: Path, mirror: Mirror) -> None:
    """The zoo's real entry: the upstream file (served locally) matches its full sha256 and finds people."""
    from tracker.detectors import make_detector
    from tracker.detectors.base import Frame

    mirror.files["rtmdet_nano_person.onnx"] = (shared_data / "models" / "rtmdet_nano_person.onnx").read_bytes()
    entry = zoo.get("rtmdet_nano_person")
    assert entry.full_hash and entry.size == 4_012_393
    detector = make_detector("rtmdet_nano_person")
    assert mirror.requests["rtmdet_nano_person.onnx"] == 1
    coco = json.loads((shared_data / "coco" / "test_coco.json").read_text())
    found = 0
    for image in coco["images"]:
        frame = cv2.imread(str(shared_data / "coco" / image["file_name"]))
        dets = detector.detect(Frame(frame, 0))
        gt = [a["bbox"] for a in coco["annotations"] if a["image_id"] == image["id"] and a["num_keypoints"] > 5]
        for x, y, w, h in gt:  # each clearly visible person is covered by a detection
            iou = _best_iou(dets.boxes, np.array([x, y, x + w, y + h], np.float32))
            found += iou > 0.5
    assert found >= 8


def _best_iou(boxes: np.ndarray, box: np.ndarray) -> float:
    if not len(boxes):
        return 0.0
    tl = np.maximum(boxes[:, :2], box[:2])
    br = np.minimum(boxes[:, 2:], box[2:])
    inter = np.prod(np.clip(br - tl, 0, None), 1)
    area = lambda b: (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])  # noqa: E731
    return float((inter / (area(boxes) + area(box) - inter)).max())


@pytest.fixture(scope="module")
def mmpose_w32(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A PoseTrack18-layout HRNet-W32 checkpoint in mmpose 0.x's format (random weights, float16
    to keep it small, with numpy values in its metadata as real mmpose files have)."""
    torch.manual_seed(0)
    sd = build_model("hrnet_w32").state_dict()
    weights = {
        ("keypoint_head." + k if k.startswith("final_layer.") else "backbone." + k): v.half() for k, v in sd.items()
    }
    buf = io.BytesIO()
    torch.save({"state_dict": weights, "meta": {"epoch": 20, "best_score": np.float64(0.834)}}, buf)
    return buf.getvalue()


def _short_video(shared_data: Path, path: Path, frames: int = 3) -> Path:
    cap = cv2.VideoCapture(str(shared_data / "videos" / "pets2009_campus_480x360_795f.avi"))
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, (480, 360))
    for _ in range(frames):
        ok, image = cap.read()
        assert ok
        writer.write(image)
    writer.release()
    return path


def test_track_a_video_with_no_other_flag(
    tmp_path: Path, shared_data: Path, mirror: Mirror, mmpose_w32: bytes, monkeypatch, capsys
) -> None:
    """``hrtrack track VIDEO``: the default detector and pose model are fetched through the mirror,
    verified and used; then offline with an empty cache the same command is one line, exit 2."""
    mirror.files["rtmdet_nano_person.onnx"] = (shared_data / "models" / "rtmdet_nano_person.onnx").read_bytes()
    mirror.files["generated_w32_posetrack18.pth"] = mmpose_w32
    test_entry = {
        "name": zoo.DEFAULT_POSE_CPU,  # the CPU default, replaced by the generated checkpoint
        "kind": "pose",
        "url": "https://upstream.invalid/generated_w32_posetrack18.pth",
        "file": "generated_w32_posetrack18.pth",
        "sha256": hashlib.sha256(mmpose_w32).hexdigest(),
        "arch": "hrnet_w32",
        "input_size": [256, 192],
        "layout": "posetrack18",
    }
    _add_entries(tmp_path, monkeypatch, test_entry)
    video = _short_video(shared_data, tmp_path / "pets.mp4")
    monkeypatch.chdir(tmp_path)
    assert main(["track", str(video), "--render", "out.mp4", "--device", "cpu"]) == 0
    captured = capsys.readouterr()
    assert f"pose {zoo.DEFAULT_POSE_CPU} (hrnet_w32 256x192, posetrack18 layout), detector rtmdet_nano_person" in (
        captured.err
    )
    found = re.search(r"3 frames, (\d+) detections, \d+ tracks", captured.out)
    assert found and int(found.group(1)) >= 3  # the fetched detector found the walkers (random pose weights
    # give weak poses, which start no track)
    for out in ("out/track/posetrack17/pets.json", "out/track/posetrack18/pets.json", "out/track/tracks/pets.json"):
        assert (tmp_path / out).is_file()
    assert (tmp_path / "out.mp4").stat().st_size > 0
    assert mirror.requests == {"rtmdet_nano_person.onnx": 1, "generated_w32_posetrack18.pth": 1}
    # the downloads, and the pose network's ONNX export for --backend auto, beside its weights
    sha = hashlib.sha256(mmpose_w32).hexdigest()[:12]
    export = f"generated_w32_posetrack18.{sha}.256x192.v1.onnx"
    assert _cache_files(tmp_path) == [export, "generated_w32_posetrack18.pth", "rtmdet_nano_person.onnx"]

    # the downloaded file given as a path: its zoo file name implies the architecture, size and layout
    placed = tmp_path / "generated_w32_posetrack18.pth"
    placed.write_bytes(mmpose_w32)
    choice = zoo.resolve_pose(str(placed))
    assert (choice.arch, choice.input_size, choice.layout) == ("hrnet_w32", (256, 192), "posetrack18")

    monkeypatch.setenv("HRTRACK_HOME", str(tmp_path / "empty"))
    monkeypatch.setenv("HRTRACK_OFFLINE", "1")
    before = sorted(os.listdir(tmp_path))
    assert main(["track", str(video), "--out", "out2"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("hrtrack: error: ") and "HRTRACK_OFFLINE" in err
    assert sorted(os.listdir(tmp_path)) == before


def test_training_takes_a_zoo_backbone_by_name(tmp_path: Path, mirror: Mirror, monkeypatch) -> None:
    """``pretrained: NAME`` in a training config fetches the zoo backbone and loads it."""
    from pose.train.loop import TrainConfig, build_training_model

    torch.manual_seed(1)
    source = build_model("hrnet_w8")
    backbone = {k: v for k, v in source.state_dict().items() if not k.startswith("final_layer.")}
    backbone["classifier.weight"] = torch.zeros(10, 4)  # an ImageNet head, skipped
    buf = io.BytesIO()
    torch.save(backbone, buf)
    mirror.files["w8_imagenet.pth"] = buf.getvalue()
    entry = {
        "name": "hrnet_w8_imagenet",
        "kind": "backbone",
        "url": "https://upstream.invalid/w8_imagenet.pth",
        "file": "w8_imagenet.pth",
        "sha256": hashlib.sha256(buf.getvalue()).hexdigest()[:8],
    }
    _add_entries(tmp_path, monkeypatch, entry)
    model = build_training_model(TrainConfig(arch="hrnet_w8", pretrained="hrnet_w8_imagenet"))
    assert torch.equal(
        model.state_dict()["stage2.0.fuse_layers.0.1.0.weight"], backbone["stage2.0.fuse_layers.0.1.0.weight"]
    )
    assert mirror.requests["w8_imagenet.pth"] == 1
