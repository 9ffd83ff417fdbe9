"""Every run ends clean: a table of bad inputs across the commands.

Each case runs ``hrtrack`` in this process (so that it takes milliseconds, not a torch import per
case) inside a folder of tiny inputs, and asserts what the issue promises: exit status 2, exactly
one stderr line ``hrtrack: error: ...`` naming the offending option or file, nothing on stderr
from third parties, and the folder exactly as it was (no output, no temp file, no new folder).
Every case fails before any model runs.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from tracker.cli import main

# ----------------------------------------------------------------------------- the inputs


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Tiny inputs: a synthetic sequence (frames, video, GT, detections, COCO), checkpoints good and
    bad, predictions good and bad, a training state that is cut short, odd files."""
    from pose.checkpoint import save_state_dict
    from pose.hrnet import build_model
    from tracker.synth import SynthConfig, generate

    root = tmp_path_factory.mktemp("bad_inputs")
    generate(SynthConfig(sequences=1, frames=6, width=160, height=96, people=2, seed=5), root / "s")
    name = "000001_synth"
    shutil.copy(root / "s" / "videos" / f"{name}.mp4", root / "video.mp4")
    shutil.copy(root / "s" / "posetrack18" / f"{name}.json", root / "gt.json")
    (root / "gt").mkdir()
    shutil.copy(root / "s" / "posetrack18" / f"{name}.json", root / "gt" / "seq.json")
    (root / "gt2").mkdir()
    shutil.copy(root / "s" / "posetrack18" / f"{name}.json", root / "gt2" / f"{name}.json")
    shutil.copy(root / "s" / "detections" / f"{name}.json", root / "dets.json")
    save_state_dict(build_model("hrnet_w8"), root / "w8.pth")
    data = (root / "w8.pth").read_bytes()
    (root / "cut.pth").write_bytes(data[: len(data) // 3])
    (root / "text.pth").write_text("not a checkpoint\n")
    (root / "text.onnx").write_text("not an onnx model\n")
    (root / "text.mp4").write_text("not a video\n")
    (root / "broken.json").write_text('{"annolist": [')
    (root / "list.json").write_text("[1, 2, 3]")
    (root / "empty.json").write_text("")
    (root / "empty").mkdir()
    (root / "afile").write_text("a file where a folder is expected\n")
    (root / "o_tracks" / "tracks").parent.mkdir()
    (root / "o_tracks" / "tracks").write_text("a file named like the tracks folder\n")
    (root / "taken.mp4").mkdir()
    (root / "outdir").mkdir()
    (root / "outdir" / "old.txt").write_text("an earlier result that must survive\n")
    (root / "run").mkdir()
    (root / "run" / "state.pth").write_bytes(data[: len(data) // 2])
    tracks = {"num_frames": 1, "tracks": {"1": [{"frame": 0, "box": [0, 0, 1, 1], "keypoints": [[0, 0, 1]] * 17}]}}
    (root / "tracks.json").write_text(json.dumps(tracks))
    _write_predictions(root / "pred", root / "gt" / "seq.json")
    return root


def _write_predictions(folder: Path, gt_file: Path) -> None:
    """``folder/<case>/seq.json``: the GT as a prediction (scores added), then one defect each."""
    good = json.loads(gt_file.read_text())
    for ann in good["annotations"]:
        ann["scores"] = [0.9] * 17
        ann["score"] = 0.9

    def case(name: str, edit) -> None:
        doc = json.loads(json.dumps(good))
        edit(doc)
        (folder / name).mkdir(parents=True)
        (folder / name / "seq.json").write_text(json.dumps(doc, allow_nan=True))

    first = lambda d: d["annotations"][0]  # noqa: E731
    case("good", lambda d: None)
    case("nan_xy", lambda d: first(d)["keypoints"].__setitem__(0, float("nan")))
    case("inf_xy", lambda d: first(d)["keypoints"].__setitem__(1, float("inf")))
    case("null_kp", lambda d: first(d).__setitem__("keypoints", None))
    case("str_kp", lambda d: first(d).__setitem__("keypoints", "1 2 3"))
    case("str_xy", lambda d: first(d)["keypoints"].__setitem__(0, "12.5"))
    case("str_tid", lambda d: first(d).__setitem__("track_id", "1"))
    case("float_tid", lambda d: [a.__setitem__("track_id", 1.5) for a in d["annotations"] if a["track_id"] == 1])
    case("big_tid", lambda d: first(d).__setitem__("track_id", 10000))
    case("neg_tid", lambda d: first(d).__setitem__("track_id", -1))
    case("no_tid", lambda d: first(d).pop("track_id"))
    case("dup_tid", lambda d: _duplicate_track_id(d))
    case("unknown_image", lambda d: first(d).__setitem__("image_id", 123456789))
    case("renamed", lambda d: [im.__setitem__("file_name", f"other/{k}.jpg") for k, im in enumerate(d["images"])])
    case("short_scores", lambda d: first(d).__setitem__("scores", [0.9] * 5))
    case("str_score", lambda d: first(d)["scores"].__setitem__(0, "high"))
    case("nan_score", lambda d: first(d)["scores"].__setitem__(0, float("nan")))
    case("kp50", lambda d: first(d)["keypoints"].pop())
    case("fewer_frames", lambda d: d["images"].pop())
    case("no_images", lambda d: d.pop("images"))
    case("list_image_id", lambda d: d["images"][0].__setitem__("id", [1]))
    case("huge_tid", lambda d: first(d).__setitem__("track_id", 10**400))
    case("dict_categories", lambda d: d.__setitem__("categories", {"a": 1}))
    (folder / "not_json").mkdir()
    (folder / "not_json" / "seq.json").write_text("this is not json")


def _duplicate_track_id(doc: dict) -> None:
    by_image: dict[int, list[dict]] = {}
    for ann in doc["annotations"]:
        by_image.setdefault(ann["image_id"], []).append(ann)
    pair = next(anns for anns in by_image.values() if len(anns) >= 2)
    pair[1]["track_id"] = pair[0]["track_id"]


# ----------------------------------------------------------------------------- the table

SEQ = "s/posetrack18/000001_synth.json"
TRACK = [
    "track",
    SEQ,
    "--images-root",
    "s",
    "--weights",
    "w8.pth",
    "--arch",
    "hrnet_w8",
    "--detector",
    "json:dets.json",
]
VIDEO = ["track", "video.mp4", "--weights", "w8.pth", "--arch", "hrnet_w8", "--detector", "hog"]
RENDER = ["render", "video.mp4", "tracks.json"]
TRAIN = ["train", "tiny_overfit", "--set", "data.train_ann=s/coco/000001_synth.json", "--set", "data.train_images=s"]
EVAL = ["eval", "--gt", "gt"]

#: (id, argv, what the one line must name)
CASES: list[tuple[str, list[str], str]] = [
    # track: values
    ("track-missing-source", ["track", "missing.mp4"], "missing.mp4"),
    ("track-no-source", ["track"], "source"),
    ("track-box-nms-negative", [*TRACK, "--box-nms", "-1"], "--box-nms"),
    ("track-min-joint-score-2", [*TRACK, "--min-joint-score", "2"], "--min-joint-score"),
    ("track-flow-max-side-0", [*TRACK, "--flow-max-side", "0"], "--flow-max-side"),
    ("track-pose-nms-5", [*TRACK, "--pose-nms", "5"], "--pose-nms"),
    ("track-min-box-score-nan", [*TRACK, "--min-box-score", "nan"], "--min-box-score"),
    ("track-track-score-2", [*TRACK, "--track-score", "2"], "--track-score"),
    ("track-det-size-not-32", [*TRACK, "--det-size", "100"], "--det-size"),
    ("track-det-size-huge", [*TRACK, "--det-size", "4096"], "--det-size"),
    ("track-det-size-json-detector", [*TRACK, "--det-size", "320", "--detector", "json:dets.json"], "--det-size"),
    ("track-start-past-end", [*TRACK, "--start", "100"], "--start"),
    ("track-start-negative", [*TRACK, "--start", "-1"], "--start"),
    ("track-frames-0", [*TRACK, "--frames", "0"], "--frames"),
    ("track-weights-onnx-not-onnx", [*TRACK[:4], "--weights", "text.onnx", *TRACK[8:]], "text.onnx"),
    ("track-weights-onnx-with-arch", [*TRACK, "--weights", "text.onnx", "--arch", "hrnet_w32"], "--arch"),
    ("weights-onnx-not-onnx", ["weights", "text.onnx"], "text.onnx"),
    ("track-det-threshold-negative", [*TRACK, "--det-threshold", "-3"], "--det-threshold"),
    ("track-queue-negative", [*TRACK, "--queue", "-1"], "--queue"),
    ("track-buffer-negative", [*TRACK, "--track-buffer", "-0.5"], "--track-buffer"),
    ("track-buffer-text", [*TRACK, "--track-buffer", "long"], "--track-buffer"),
    ("track-batch-size-0", [*TRACK, "--batch-size", "0"], "--batch-size"),
    ("track-batch-size-text", [*TRACK, "--batch-size", "many"], "--batch-size"),
    ("track-device-tpu", [*TRACK, "--device", "tpu"], "--device"),
    ("track-device-cuda", [*TRACK, "--device", "cuda"], "--device"),
    ("track-arch-resnet", [*TRACK, "--arch", "resnet"], "--arch"),
    ("track-input-size-odd", [*TRACK, "--input-size", "250x190"], "--input-size"),
    ("track-input-size-text", [*TRACK, "--input-size", "big"], "--input-size"),
    ("track-flow-preset", [*TRACK, "--flow", "dis:slow"], "--flow"),
    ("track-flow-unknown", [*TRACK, "--flow", "magic"], "--flow"),
    ("track-assoc-unknown", [*TRACK, "--assoc", "hungarian"], "--assoc"),
    ("track-format-unknown", [*TRACK, "--format", "posetrack19"], "--format"),
    ("track-layout-unknown", [*TRACK, "--keypoint-layout", "mpii"], "--keypoint-layout"),
    ("track-unknown-option", [*TRACK, "--fast"], "--fast"),
    ("track-backend-unknown", [*TRACK, "--backend", "tpu"], "--backend"),
    ("track-backend-onnxruntime-bf16", [*TRACK, "--backend", "onnxruntime", "--bf16"], "--backend onnxruntime"),
    ("track-precision-onnxruntime-bf16", [*TRACK, "--backend", "onnxruntime", "--precision", "bf16"], "--backend"),
    ("track-precision-unknown", [*TRACK, "--precision", "fp16"], "--precision"),
    ("bench-synth-precision-unknown", ["bench", "synth", "--precision", "half"], "--precision"),
    ("track-backend-onnxruntime-compile", [*TRACK, "--backend", "onnxruntime", "--compile"], "--compile"),
    ("track-ahead-negative", [*TRACK, "--ahead", "-1"], "--ahead"),
    # track: names and output paths
    ("track-name-escape", [*TRACK, "--name", "../../escape"], "--name"),
    ("track-name-empty", [*TRACK, "--name", ""], "--name"),
    ("track-name-dotdot", [*TRACK, "--name", ".."], "--name"),
    ("track-render-avi", [*TRACK, "--render", "r.avi"], "r.avi"),
    ("track-render-is-a-folder", [*TRACK, "--render", "taken.mp4"], "taken.mp4"),
    ("track-render-under-a-file", [*TRACK, "--render", "afile/v.mp4"], "afile"),
    ("track-render-is-the-source", [*VIDEO, "--render", "video.mp4"], "video.mp4"),
    ("track-out-proc", [*TRACK, "--out", "/proc/hrtrack/x"], "/proc/hrtrack/x"),
    ("track-out-is-a-file", [*TRACK, "--out", "afile"], "afile"),
    ("track-out-tracks-is-a-file", [*TRACK, "--out", "o_tracks"], "o_tracks/tracks"),
    # track: inputs
    ("track-images-root-missing", ["track", SEQ, "--images-root", "nowhere"], "nowhere"),
    ("track-images-not-there", [*TRACK[:2], *TRACK[4:]], "000000.jpg"),
    ("track-folder-without-images", [*VIDEO[:1], "empty", *VIDEO[2:]], "empty"),
    ("track-source-not-a-video", [*VIDEO[:1], "text.mp4", *VIDEO[2:]], "text.mp4"),
    ("track-source-broken-annotation", [*VIDEO[:1], "broken.json", *VIDEO[2:]], "broken.json"),
    ("track-source-empty-file", [*VIDEO[:1], "empty.json", *VIDEO[2:]], "empty.json"),
    ("track-ptlflow-offline", [*TRACK, "--flow", "ptlflow:raft_small:things"], "ptlflow:raft_small:things"),
    ("track-detector-json-missing", [*TRACK, "--detector", "json:nope.json"], "nope.json"),
    ("track-detector-unknown", [*TRACK, "--detector", "yolo"], "--detector"),
    ("track-detector-onnx-not-onnx", [*TRACK, "--detector", "onnx:text.onnx"], "text.onnx"),
    ("track-detector-json-not-detections", [*TRACK, "--detector", "json:broken.json"], "broken.json"),
    ("track-detector-gt-not-annotation", [*TRACK, "--detector", "gt:list.json"], "list.json"),
    ("track-detector-zoo-offline", [*TRACK, "--detector", "rtmdet_nano_person"], "rtmdet_nano_person"),
    ("track-weights-missing", [*TRACK, "--weights", "nope.pth"], "--weights"),
    ("track-weights-folder", [*TRACK, "--weights", "empty"], "empty"),
    ("track-weights-cut", [*TRACK, "--weights", "cut.pth"], "cut.pth"),
    ("track-weights-text", [*TRACK, "--weights", "text.pth"], "text.pth"),
    ("track-weights-wrong-arch", [*TRACK, "--arch", "hrnet_w16"], "w8.pth"),
    ("track-weights-zoo-offline", [*TRACK[:4], *TRACK[8:], "--weights", "hrnet_w32_coco_256x192"], "hrnet_w32_coco"),
    # track: many sources
    ("track-workers-0", [*TRACK, "--workers", "0"], "--workers"),
    ("track-threads-0", [*TRACK, "--threads", "0"], "--threads"),
    ("track-gpus-per-task-negative", [*TRACK, "--gpus-per-task", "-1"], "--gpus-per-task"),
    ("track-ray-address", [*TRACK, "--ray", "not an address"], "--ray"),
    ("track-glob-matches-nothing", [*TRACK[:1], "nothing/*.json", *TRACK[2:]], "nothing/*.json"),
    ("track-eval-missing", [*TRACK, "--eval", "nowhere"], "nowhere"),
    ("track-name-with-two-sources", [*TRACK[:2], "gt.json", *TRACK[2:], "--name", "x"], "--name"),
    ("track-render-with-two-sources", [*TRACK[:2], "gt.json", *TRACK[2:], "--render", "r.mp4"], "--render"),
    ("track-two-sources-one-name", [*TRACK[:2], "gt2/000001_synth.json", *TRACK[2:]], "000001_synth"),
    ("track-detector-gt-needs-annotations", [*VIDEO[:-1], "gt"], "--detector gt"),
    ("track-eval-other-sequences", [*TRACK, "--eval", "gt"], "--eval gt"),
    ("track-render-inside-out", [*TRACK, "--out", "x.mp4", "--render", "x.mp4"], "x.mp4"),
    ("track-ray-cuda-without-gpus", [*TRACK, "--ray", "--device", "cuda"], "--device"),
    # eval
    ("eval-gt-missing", ["eval", "--gt", "nowhere", "--pred", "pred/good"], "nowhere"),
    ("eval-pred-missing", [*EVAL, "--pred", "nowhere"], "nowhere"),
    ("eval-no-gt", ["eval", "--pred", "pred/good"], "--gt"),
    ("eval-gt-empty-folder", ["eval", "--gt", "empty", "--pred", "pred/good"], "empty"),
    ("eval-json-suffix", [*EVAL, "--pred", "pred/good", "--json", "m.txt"], "m.txt"),
    ("eval-json-proc", [*EVAL, "--pred", "pred/good", "--json", "/proc/hrtrack/m.json"], "/proc/hrtrack/m.json"),
    ("eval-json-is-the-gt", [*EVAL, "--pred", "pred/good", "--json", "gt/seq.json"], "gt/seq.json"),
    ("eval-json-into-the-pred-folder", [*EVAL, "--pred", "pred/good", "--json", "pred/good/m.json"], "pred/good"),
    ("eval-pred-missing-file", [*EVAL, "--pred", "empty"], "seq.json"),
    ("eval-pred-not-json", [*EVAL, "--pred", "pred/not_json"], "seq.json"),
    ("eval-pred-nan-xy", [*EVAL, "--pred", "pred/nan_xy"], "seq.json"),
    ("eval-pred-inf-xy", [*EVAL, "--pred", "pred/inf_xy"], "seq.json"),
    ("eval-pred-str-keypoints", [*EVAL, "--pred", "pred/str_kp"], "seq.json"),
    ("eval-pred-str-coordinate", [*EVAL, "--pred", "pred/str_xy"], "seq.json"),
    ("eval-pred-str-track-id", [*EVAL, "--pred", "pred/str_tid"], "seq.json"),
    ("eval-pred-float-track-id", [*EVAL, "--pred", "pred/float_tid"], "seq.json"),
    ("eval-pred-track-id-10000", [*EVAL, "--pred", "pred/big_tid"], "seq.json"),
    ("eval-pred-negative-track-id", [*EVAL, "--pred", "pred/neg_tid"], "seq.json"),
    ("eval-pred-no-track-id", [*EVAL, "--pred", "pred/no_tid"], "seq.json"),
    ("eval-pred-duplicate-track-id", [*EVAL, "--pred", "pred/dup_tid"], "seq.json"),
    ("eval-pred-unknown-image-id", [*EVAL, "--pred", "pred/unknown_image"], "seq.json"),
    ("eval-pred-renamed-images", [*EVAL, "--pred", "pred/renamed"], "seq.json"),
    ("eval-pred-short-scores", [*EVAL, "--pred", "pred/short_scores"], "seq.json"),
    ("eval-pred-str-score", [*EVAL, "--pred", "pred/str_score"], "seq.json"),
    ("eval-pred-nan-score", [*EVAL, "--pred", "pred/nan_score"], "seq.json"),
    ("eval-pred-50-values", [*EVAL, "--pred", "pred/kp50"], "seq.json"),
    ("eval-pred-fewer-frames", [*EVAL, "--pred", "pred/fewer_frames"], "seq.json"),
    ("eval-pred-no-images", [*EVAL, "--pred", "pred/no_images"], "seq.json"),
    ("eval-pred-list-image-id", [*EVAL, "--pred", "pred/list_image_id"], "seq.json"),
    ("eval-pred-huge-track-id", [*EVAL, "--pred", "pred/huge_tid"], "seq.json"),
    ("eval-pred-categories-not-a-list", [*EVAL, "--pred", "pred/dict_categories"], "seq.json"),
    # render
    ("render-video-missing", ["render", "nope.mp4", "tracks.json", "-o", "r.mp4"], "nope.mp4"),
    ("render-predictions-missing", ["render", "video.mp4", "nope.json", "-o", "r.mp4"], "nope.json"),
    ("render-no-out", RENDER, "--out"),
    ("render-avi", [*RENDER, "-o", "r.avi"], "r.avi"),
    ("render-sheet-jpg", [*RENDER, "-o", "r.mp4", "--contact-sheet", "s.jpg"], "s.jpg"),
    ("render-sheet-proc", [*RENDER, "-o", "r.mp4", "--contact-sheet", "/proc/hrtrack/s.png"], "/proc/hrtrack/s.png"),
    ("render-sheet-is-a-folder", [*RENDER, "-o", "r.mp4", "--contact-sheet", "empty/"], "empty"),
    ("render-out-is-the-video", [*RENDER, "-o", "video.mp4"], "video.mp4"),
    ("render-out-under-a-file", [*RENDER, "-o", "afile/r.mp4"], "afile"),
    ("render-trail-negative", [*RENDER, "-o", "r.mp4", "--trail", "-1"], "--trail"),
    ("render-threshold-2", [*RENDER, "-o", "r.mp4", "--joint-threshold", "2"], "--joint-threshold"),
    ("render-predictions-not-json", ["render", "video.mp4", "broken.json", "-o", "r.mp4"], "broken.json"),
    ("render-predictions-foreign", ["render", "video.mp4", "list.json", "-o", "r.mp4"], "list.json"),
    ("render-gt-missing", [*RENDER, "-o", "r.mp4", "--gt", "nope.json"], "nope.json"),
    ("render-video-not-a-video", ["render", "text.mp4", "tracks.json", "-o", "r.mp4"], "text.mp4"),
    # synth
    ("synth-size-huge", ["synth", "--size", "100000x100000"], "--size"),
    ("synth-size-zero", ["synth", "--size", "0x10"], "--size"),
    ("synth-size-text", ["synth", "--size", "large"], "--size"),
    ("synth-ignore-regions-5", ["synth", "--ignore-regions", "5"], "--ignore-regions"),
    ("synth-frames-0", ["synth", "--frames", "0"], "--frames"),
    ("synth-sequences-0", ["synth", "--sequences", "0"], "--sequences"),
    ("synth-fps-0", ["synth", "--fps", "0"], "--fps"),
    ("synth-fps-inf", ["synth", "--fps", "inf"], "--fps"),
    ("synth-det-miss-1.5", ["synth", "--det-miss", "1.5"], "--det-miss"),
    ("synth-det-fp-negative", ["synth", "--det-fp", "-1"], "--det-fp"),
    ("synth-people-0", ["synth", "--people", "0"], "--people"),
    ("synth-label-every-0", ["synth", "--label-every", "0"], "--label-every"),
    ("synth-difficulty", ["synth", "--difficulty", "extreme"], "--difficulty"),
    ("synth-seed-negative", ["synth", "--seed", "-1"], "--seed"),
    ("synth-out-proc", ["synth", "--out", "/proc/hrtrack/s"], "/proc/hrtrack/s"),
    ("synth-out-is-a-file", ["synth", "--out", "afile"], "afile"),
    # train
    ("train-config-missing", ["train", "no_such_config"], "no_such_config"),
    ("train-arch-resnet", [*TRAIN, "--set", "arch=resnet"], "arch"),
    ("train-lr-negative", [*TRAIN, "--set", "lr=-1"], "lr"),
    ("train-epochs-text", [*TRAIN, "--set", "epochs=many"], "epochs"),
    ("train-unknown-key", [*TRAIN, "--set", "speed=11"], "speed"),
    ("train-override-syntax", [*TRAIN, "--set", "lr"], "lr"),
    ("train-input-size-odd", [*TRAIN, "--set", "input_size=[250,190]"], "input_size"),
    ("train-flip-prob-2", [*TRAIN, "--set", "augment.flip_prob=2"], "augment.flip_prob"),
    ("train-device-cuda", [*TRAIN, "--device", "cuda"], "--device"),
    ("train-device-tpu", [*TRAIN, "--device", "tpu"], "--device"),
    ("train-annotation-missing", [*TRAIN, "--set", "data.train_ann=nope.json"], "nope.json"),
    ("train-images-unset", ["train", "tiny_overfit", "--set", "data.train_ann=gt.json"], "data.train_images"),
    ("train-out-is-a-file", [*TRAIN, "--out", "afile"], "afile"),
    ("train-pretrained-missing", [*TRAIN, "--set", "pretrained=nope.pth", "--out", "run2"], "nope.pth"),
    ("train-init-weights-cut", [*TRAIN, "--set", "init_weights=cut.pth", "--out", "run2"], "cut.pth"),
    ("train-resume-cut-state", [*TRAIN, "--out", "run", "--resume", "--set", "epochs=1"], "run/state.pth"),
    # weights
    ("weights-missing", ["weights", "nope.pth"], "nope.pth"),
    ("weights-cut", ["weights", "cut.pth", "--arch", "hrnet_w8"], "cut.pth"),
    ("weights-text", ["weights", "text.pth"], "text.pth"),
    ("weights-folder", ["weights", "empty"], "empty"),
    ("weights-wrong-arch", ["weights", "w8.pth"], "w8.pth"),
    ("weights-arch-resnet", ["weights", "w8.pth", "--arch", "resnet"], "--arch"),
    ("weights-joints-0", ["weights", "w8.pth", "--joints", "0"], "--joints"),
    ("weights-export-proc", ["weights", "w8.pth", "--arch", "hrnet_w8", "--export-fp16", "/proc/x/y.pth"], "/proc/x"),
    ("weights-export-folder", ["weights", "w8.pth", "--arch", "hrnet_w8", "--export-fp16", "empty"], "empty"),
    ("weights-export-suffix", ["weights", "w8.pth", "--arch", "hrnet_w8", "--export-fp16", "w.txt"], "w.txt"),
    ("weights-export-over-input", ["weights", "w8.pth", "--arch", "hrnet_w8", "--export-fp16", "w8.pth"], "w8.pth"),
    # demo
    ("demo-device-tpu", ["demo", "--device", "tpu"], "--device"),
    ("demo-device-cuda", ["demo", "--device", "cuda"], "--device"),
    ("demo-frames-1", ["demo", "--frames", "1"], "--frames"),
    ("demo-weights-missing", ["demo", "--weights", "nope.pth"], "nope.pth"),
    ("demo-weights-cut", ["demo", "--weights", "cut.pth"], "cut.pth"),
    ("demo-weights-wrong-arch", ["demo", "--weights", "w8.pth"], "w8.pth"),
    ("demo-out-proc", ["demo", "--out", "/proc/hrtrack/d"], "/proc/hrtrack/d"),
    ("demo-out-is-a-file", ["demo", "--out", "afile"], "afile"),
    ("demo-difficulty", ["demo", "--difficulty", "extreme"], "--difficulty"),
    # models, bench, the command itself
    ("models-unknown", ["models", "fetch", "nosuch_model"], "nosuch_model"),
    ("models-path-no-name", ["models", "path"], "models path"),
    ("bench-pose-batch-0", ["bench", "pose", "--batch", "0"], "--batch"),
    ("bench-pose-official-missing", ["bench", "pose", "--official", "nowhere"], "nowhere"),
    ("bench-track-no-video", ["bench", "track"], "--video"),
    ("unknown-command", ["trak", "video.mp4"], "trak"),
]


def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """Every file and folder under ``root`` with its size and modification time."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            st = path.lstat()
            out[str(path.relative_to(root))] = (st.st_size if path.is_file() else -1, st.st_mtime_ns)
    return out


@pytest.mark.parametrize(("argv", "names"), [pytest.param(a, n, id=i) for i, a, n in CASES])
def test_bad_input_ends_clean(
    world: Path, argv: list[str], names: str, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    if "cuda" in argv and _has_cuda():
        pytest.skip("this machine has CUDA")
    if any(a.startswith("ptlflow:") for a in argv) and importlib.util.find_spec("ptlflow") is None:
        pytest.skip("the optional ptlflow extra is not installed")
    monkeypatch.chdir(world)
    assert_clean_error(world, argv, names, capfd)


def assert_clean_error(world: Path, argv: list[str], names: str, capfd: pytest.CaptureFixture[str]) -> str:
    """``hrtrack ARGV`` exits 2 with one stderr line naming ``names``, and ``world`` is as it was;
    returns that line."""
    before = _snapshot(world)
    status = main(list(argv))
    out, err = capfd.readouterr()
    lines = [line for line in err.splitlines() if line.strip()]
    assert status == 2, (status, err)
    assert len(lines) == 1 and lines[0].startswith("hrtrack: error: "), err
    assert names in lines[0], lines[0]
    assert "Traceback" not in out + err
    assert _snapshot(world) == before, "the run left files behind or changed some"
    return lines[0]


def _has_cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def test_the_table_is_large_and_covers_every_command() -> None:
    commands = {argv[0] if argv else "" for _, argv, _ in CASES}
    assert len(CASES) >= 60
    assert {"track", "eval", "render", "synth", "train", "weights", "demo"} <= commands


def test_good_eval_runs(world: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]) -> None:
    """The reference for the eval cases: the untouched prediction scores 100 mAP."""
    monkeypatch.chdir(world)
    assert main([*EVAL, "--pred", "pred/good", "--json", "outdir/m.json"]) == 0
    result = json.loads((world / "outdir" / "m.json").read_text())
    (world / "outdir" / "m.json").unlink()
    assert np.isclose(result["ap"]["total"], 100.0)
