"""Annotated-video rendering: the encoded stream's properties, the drawn pixels, and error handling.

Every video here is tiny (at most 12 frames of 160x120) so the whole file runs in a few seconds.
Streams are checked independently of the writer: frames are counted by decoding with OpenCV, and
codec, pixel format, size and rate are read from the bundled ffmpeg's ``-i`` report.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import cv2
import imageio_ffmpeg
import numpy as np
import pytest

from eval.posetrack import Frame as PtFrame
from eval.posetrack import Sequence, people_from_keypoints, write_sequence
from pose.keypoints import COCO, POSETRACK18, POSEVAL
from pose.poses import Poses
from tracker.annotate import RenderError, TrailState, annotate, draw_gt, draw_poses, track_colour
from tracker.cli import main
from tracker.render import contact_sheet, render_video, sheet_indices
from tracker.video import VideoSink

W, H, FPS, N = 160, 120, 10, 12
BACKGROUND = 90
PATCH = (slice(104, 120), slice(72, 88))  # bottom middle: frame-index marker, clear of the people
#: A standing person, COCO order, offsets from its centre in pixels (about 85 px tall).
PERSON = 0.5 * np.array(
    [
        [0, -70], [-5, -75], [5, -75], [-12, -72], [12, -72], [-25, -50], [25, -50], [-35, -20], [35, -20],
        [-40, 10], [40, 10], [-15, 10], [15, 10], [-17, 55], [17, 55], [-18, 100], [18, 100],
    ]
)  # fmt: skip
CENTRES = {1: (45.0, 60.0), 2: (115.0, 60.0)}
LOW_JOINT = 9  # left wrist: scored below the drawing threshold
SHIFT = np.array([4.0, 3.0, 0.0])  # ground truth beside the predictions


def marker(i: int) -> int:
    """Grey level of frame ``i``'s marker patch (tells frames apart after encoding)."""
    return 20 + 18 * i


def person_keypoints(tid: int) -> np.ndarray:
    cx, cy = CENTRES[tid]
    kp = np.c_[PERSON + np.array([cx, cy]), np.full(17, 0.9)]
    kp[LOW_JOINT, 2] = 0.1
    return kp


def ffmpeg_info(path: Path) -> dict[str, object]:
    """Codec, pixel format, size and fps of the first video stream, from ``ffmpeg -i`` (no ffprobe)."""
    proc = subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True, text=True
    )
    line = next(ln for ln in proc.stderr.splitlines() if "Video:" in ln)
    m = re.search(r"Video: (\w+).*?, (\w+)(?:\(.*?\))?, (\d+)x(\d+).*?, ([\d.]+) fps", line)
    assert m, line
    return {"codec": m[1], "pix_fmt": m[2], "size": (int(m[3]), int(m[4])), "fps": float(m[5])}


def decode(path: Path) -> list[np.ndarray]:
    """All frames of a video, decoded with OpenCV (independent of the writer)."""
    cap = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, img = cap.read()
        if not ok:
            break
        frames.append(img)
    cap.release()
    return frames


def near(pixel: np.ndarray, colour: tuple[int, int, int], tol: int = 40) -> bool:
    return bool(np.abs(pixel.astype(int) - np.array(colour)).max() <= tol)


@pytest.fixture
def source(tmp_path: Path) -> Path:
    """12 grey frames of 160x120 at 10 fps with a per-frame marker patch, written with cv2 (mp4v)."""
    path = tmp_path / "src.mp4"
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), FPS, (W, H))
    assert out.isOpened()
    for i in range(N):
        img = np.full((H, W, 3), BACKGROUND, np.uint8)
        img[PATCH] = marker(i)
        out.write(img)
    out.release()
    return path


@pytest.fixture
def tracks(tmp_path: Path) -> Path:
    """Per-track export (tracker.sinks.TracksSink layout, COCO slots): ids 1 and 2 in every frame."""
    obj = {"num_frames": N, "tracks": {}}
    for tid, (cx, _) in CENTRES.items():
        kp = person_keypoints(tid)
        obj["tracks"][str(tid)] = [
            {"frame": f, "image": f"frame_{f:06d}", "box": [cx - 30, 15, cx + 30, 112], "score": 0.9,
             "keypoints": kp.round(2).tolist()}
            for f in range(N)
        ]  # fmt: skip
    path = tmp_path / "tracks.json"
    path.write_text(json.dumps(obj))
    return path


def test_render_stream_is_faststart_h264_with_every_frame(source: Path, tracks: Path, tmp_path: Path) -> None:
    out = render_video(source, tracks, tmp_path / "out.mp4", progress=False)
    assert out == tmp_path / "out.mp4"
    info = ffmpeg_info(out)
    assert info == {"codec": "h264", "pix_fmt": "yuv420p", "size": (W, H), "fps": FPS}
    frames = decode(out)
    assert len(frames) == len(decode(source)) == N
    for i, img in enumerate(frames):  # same frames, same order: no drop, no duplicate
        assert abs(float(img[PATCH][4:12, 4:12].mean()) - marker(i)) < 6, i
    data = out.read_bytes()
    assert 0 <= data.find(b"moov") < data.find(b"mdat")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mp4", "src.mp4", "tracks.json"]  # no temp left


def test_joints_are_drawn_in_the_track_colour(source: Path, tracks: Path, tmp_path: Path) -> None:
    out = render_video(source, tracks, tmp_path / "out.mp4", progress=False)
    img = decode(out)[N // 2]
    for tid in CENTRES:
        kp = person_keypoints(tid)
        for j in (0, 5, 6, 11, 12, 15, 16):
            x, y = np.round(kp[j, :2]).astype(int)
            assert near(img[y, x], track_colour(tid)), (tid, j, img[y, x])
        x, y = np.round(kp[LOW_JOINT, :2]).astype(int)  # below the threshold: untouched background
        assert near(img[y - 1 : y + 2, x - 1 : x + 2].reshape(-1, 3).mean(0), (BACKGROUND,) * 3, 12)
    assert track_colour(1) != track_colour(2)


def test_contact_sheet_grid(source: Path, tracks: Path, tmp_path: Path) -> None:
    sheet = tmp_path / "sheet.png"
    render_video(
        source, tracks, tmp_path / "out.mp4", contact_sheet=sheet, sheet_frames=6, sheet_columns=4, progress=False
    )
    img = cv2.imread(str(sheet))
    assert img.shape == (2 * H, 4 * W, 3)  # 6 frames, 4 columns: 2 rows, cells at source size (< 320 wide)
    assert sheet_indices(N, 6) == [0, 2, 4, 7, 9, 11]
    # cell 5 (row 1, column 1) is frame 11; its marker patch survives the label in the corner
    cell = img[H : 2 * H, W : 2 * W]
    assert abs(float(cell[PATCH][4:12, 4:12].mean()) - marker(11)) < 6

    big = [np.full((100, 640, 3), k * 40, np.uint8) for k in range(5)]
    path = contact_sheet(big, tmp_path / "grid.png", columns=2, cell_width=320)
    assert cv2.imread(str(path)).shape == (3 * 50, 2 * 320, 3)


def test_odd_size_frame_folder_with_an_undecodable_frame(tmp_path: Path) -> None:
    """Odd sizes are padded to even on the right/bottom; a broken frame becomes a black frame."""
    folder = tmp_path / "frames"
    folder.mkdir()
    for i in range(7):
        path = folder / f"f_{i}.png"
        if i == 3:
            path.write_bytes(b"not a png")
        else:
            cv2.imwrite(str(path), np.full((53, 75, 3), 200, np.uint8))
    preds = tmp_path / "empty.json"
    preds.write_text(json.dumps({"num_frames": 7, "tracks": {}}))
    out = render_video(folder, preds, tmp_path / "odd.mp4", progress=False)
    assert ffmpeg_info(out)["size"] == (76, 54)
    frames = decode(out)
    assert len(frames) == 7
    assert frames[3][:53, :75].mean() < 15 and frames[2][:53, :75].mean() > 185
    assert frames[2][:, 75].mean() < 60 and frames[2][53, :].mean() < 60  # the black padding

    with VideoSink(tmp_path / "direct.mp4", 161, 121, 25) as writer:
        writer.write(np.full((121, 161, 3), 255, np.uint8))
    assert (writer.out_width, writer.out_height) == (162, 122)
    assert ffmpeg_info(tmp_path / "direct.mp4")["size"] == (162, 122)


def only_one_line(exc: pytest.ExceptionInfo[ValueError]) -> str:
    msg = str(exc.value)
    assert msg and "\n" not in msg
    return msg


def test_errors_are_one_line_and_leave_no_file(source: Path, tracks: Path, tmp_path: Path) -> None:
    out = tmp_path / "out" / "video.mp4"
    bad_json = tmp_path / "bad.json"
    bad_json.write_text('{"tracks": {"1": [')
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({"tracks": {"1": [{"frame": 0, "keypoints": [[1, 2, 3]] * 5}]}}))
    other = tmp_path / "other.json"
    other.write_text(json.dumps([1, 2]))
    cases = {
        "no such file": (tmp_path / "missing.mp4", tracks),
        "no such predictions file": (source, tmp_path / "missing.json"),
        "malformed JSON": (source, bad_json),
        "17 x [x, y, score]": (source, wrong),
        "neither a per-track export": (source, other),
    }
    for expected, (video, preds) in cases.items():
        with pytest.raises(ValueError) as exc:
            render_video(video, preds, out, progress=False)
        assert expected in only_one_line(exc)
    not_video = tmp_path / "notes.mp4"
    not_video.write_text("hello")
    with pytest.raises(ValueError) as exc:
        render_video(not_video, tracks, out, progress=False)
    assert "notes.mp4" in only_one_line(exc)
    assert not out.exists() and (not out.parent.exists() or not any(out.parent.iterdir()))


def test_ffmpeg_failure_removes_the_temp_file_and_reports_its_message(tmp_path: Path) -> None:
    out = tmp_path / "bad.mp4"
    out.write_bytes(b"previous")
    with pytest.raises(ValueError) as exc, VideoSink(out, 64, 48, 10, preset="no-such-preset") as writer:
        for _ in range(40):  # the failure shows on a write or on closing
            writer.write(np.zeros((48, 64, 3), np.uint8))
    assert "invalid preset" in only_one_line(exc)
    assert out.read_bytes() == b"previous"  # untouched, and no temp file beside it
    assert [p.name for p in tmp_path.iterdir()] == ["bad.mp4"]

    with pytest.raises(ValueError, match="expected uint8 48x64x3"), VideoSink(tmp_path / "s.mp4", 64, 48, 10) as w:
        w.write(np.zeros((48, 63, 3), np.uint8))
    assert [p.name for p in tmp_path.iterdir()] == ["bad.mp4"]


def test_posetrack_predictions_and_gt_overlay(source: Path, tmp_path: Path) -> None:
    """PoseTrack json predictions draw the 15-joint skeleton in track colours; GT adds white lines."""
    kp = np.stack([person_keypoints(t) for t in CENTRES])
    frames = [PtFrame(image=f"frame_{i:06d}", people=people_from_keypoints(kp, list(CENTRES))) for i in range(N)]
    preds = write_sequence(Sequence("pred", frames), tmp_path / "pred.json", "2018")
    gt_frames = [PtFrame(image=f.image, people=people_from_keypoints(kp + SHIFT, [5, 6])) for f in frames]
    gt = write_sequence(Sequence("gt", gt_frames), tmp_path / "gt.json", "2017")
    plain = decode(render_video(source, preds, tmp_path / "pred.mp4", progress=False))
    both = decode(render_video(source, preds, tmp_path / "both.mp4", gt=gt, progress=False))
    assert len(plain) == len(both) == N
    x, y = np.round(kp[0, 5, :2]).astype(int)  # left shoulder of track 1
    assert near(plain[4][y, x], track_colour(1))
    assert np.abs(plain[4].astype(int) - both[4].astype(int)).max() > 60  # the GT changed the frame

    canvas = np.full((H, W, 3), BACKGROUND, np.uint8)
    draw_gt(canvas, gt_frames[0].people)
    assert (canvas[..., 0] == canvas[..., 1]).all() and (canvas[..., 1] == canvas[..., 2]).all()  # white only
    hips = (person_keypoints(1) + SHIFT)[[11, 12], :2].mean(axis=0)  # middle of the GT hip line
    x, y = np.round(hips).astype(int)
    assert canvas[y - 1 : y + 2, x - 1 : x + 2].max() > 200
    assert (canvas > 240).all(axis=2).sum() > 100


def test_draw_poses_threshold_boxes_labels_trails() -> None:
    img = np.zeros((120, 160, 3), np.uint8)
    kp = np.full((1, 15, 3), np.nan)
    a, b = POSEVAL.skeleton[0]
    kp[0, a] = (20, 20, 0.9)
    kp[0, b] = (60, 20, 0.9)
    kp[0, 12] = (100, 100, 0.2)  # below threshold: not drawn
    poses = Poses([[10, 40, 150, 110]], [0.9], kp, [4], layout=POSEVAL)
    draw_poses(img, poses, show_boxes=True, trails={4: [(5, 115), (40, 80)]})
    colour = track_colour(4)
    assert near(img[20, 40], colour, 10)  # the limb between the two joints
    assert (img[96:105, 96:105] == 0).all()
    assert near(img[75, 10], colour)  # the box's left side (anti-aliased)
    assert (img[30:40, 10:30] != 0).any()  # the label above the box's corner
    assert near(img[98, 22], colour, 30)  # on the trail from (5, 115) to (40, 80)

    empty = np.zeros_like(img)
    draw_poses(empty, Poses.empty(COCO))
    assert not empty.any()
    with pytest.raises(RenderError, match="keypoints"):
        draw_poses(img, Poses([[0, 0, 1, 1]], [1.0]))  # boxes only

    state = TrailState(2)
    for i in range(4):
        trails = state.update(i, Poses([[0.0, 0.0, 10.0, 10.0]], [0.9], np.zeros((1, 17, 3)), [1], layout=COCO))
    assert trails == {1: [(5.0, 5.0), (5.0, 5.0)]}
    assert state.update(10, None) == {} and not state.points


def test_in_memory_results_trails_and_cli(source: Path, tracks: Path, tmp_path: Path) -> None:
    from tracker.pipeline import FrameResult

    results = []
    for i in range(N):
        kp = person_keypoints(1)[None].astype(np.float32)
        kp[..., 0] += i  # moving right, so the trail is visible
        box = np.array([[kp[0, :, 0].min(), 15, kp[0, :, 0].max(), 112]], np.float32)
        poses = Poses(box, [0.9], kp, [1], layout=COCO)
        results.append(FrameResult(i, f"frame_{i:06d}", None, poses))
    out = render_video(source, results, tmp_path / "mem.mp4", trail=5, show_boxes=True, progress=False)
    frames = decode(out)
    assert len(frames) == N
    x, y = np.round(results[8].keypoints[0, 0, :2]).astype(int)
    assert near(frames[8][y, x], track_colour(1))

    cli_out = tmp_path / "cli" / "x.mp4"
    argv = ["render", str(source), str(tracks), "-o", str(cli_out), "--boxes", "--trail", "3", "--joint-threshold",
            "0.5", "--contact-sheet", str(tmp_path / "cli" / "x.png"), "--quiet"]  # fmt: skip
    assert main(argv) == 0
    assert len(decode(cli_out)) == N and (tmp_path / "cli" / "x.png").is_file()


def test_real_video_with_no_predictions(shared_data: Path, tmp_path: Path) -> None:
    video = shared_data / "videos" / "street_walkers_960x540_5f.mp4"
    preds = tmp_path / "tracks.json"
    preds.write_text(json.dumps({"num_frames": 5, "tracks": {}}))
    out = render_video(video, preds, tmp_path / "street.mp4", contact_sheet=tmp_path / "s.png", progress=False)
    assert ffmpeg_info(out) == {"codec": "h264", "pix_fmt": "yuv420p", "size": (960, 540), "fps": 5.0}
    frames = decode(out)
    source = decode(video)
    assert len(frames) == len(source) == 5
    assert np.abs(frames[2].astype(int) - source[2].astype(int)).mean() < 6  # nothing drawn, re-encoded only
    assert cv2.imread(str(tmp_path / "s.png")).shape == (2 * 180, 4 * 320, 3)


def test_two_video_sinks_are_two_objects(tmp_path: Path) -> None:
    """Two sinks with the same arguments are independent writers (the class was once lru_cached)."""
    a, b = VideoSink(tmp_path / "v.mp4", 64, 48, 10), VideoSink(tmp_path / "v.mp4", 64, 48, 10)
    assert a is not b and isinstance(a, VideoSink)
    with a:
        a.write(np.zeros((48, 64, 3), np.uint8))
    assert a.frames == 1 and b.frames == 0


def test_each_layout_is_drawn_with_its_own_skeleton() -> None:
    """PoseTrack 2018 slots: the head limbs join head_bottom (slot 1) to the shoulders, the nose and
    head_top; COCO's skeleton, picked by joint count before, joined the eyes instead."""
    kp = np.zeros((1, 17, 3), np.float32)
    kp[0, :, 2] = 0.9
    kp[0, 0, :2] = (80, 30)  # nose
    kp[0, 1, :2] = (80, 50)  # head_bottom (an eye's slot in COCO)
    kp[0, 2, :2] = (80, 10)  # head_top (the other eye's slot in COCO)
    kp[0, 3:, 2] = 0.0  # only the three head points are scored
    kp[0, 5, :2], kp[0, 6, :2], kp[0, 5:7, 2] = (60, 70), (100, 70), 0.9
    colour = track_colour(1)
    drawn = {}
    for layout in (POSETRACK18, COCO):
        img = np.zeros((120, 160, 3), np.uint8)
        draw_poses(img, Poses([[50, 5, 110, 100]], [0.9], kp, [1], layout=layout), labels=False)
        drawn[layout.name] = img
    pt, coco = drawn["posetrack18"], drawn["coco"]
    assert near(pt[60, 70], colour, 30) and not near(coco[60, 70], colour, 60)  # head_bottom - left shoulder
    assert near(pt[20, 80], colour, 30)  # head_bottom - head_top passes through the nose: the upper half
    assert not coco[60, 70].any()


def test_annotate_draws_on_a_copy_and_blacks_out_undecoded_frames() -> None:
    image = np.full((40, 60, 3), 50, np.uint8)
    kp = np.zeros((1, 17, 3), np.float32)
    kp[0, :, :2], kp[0, :, 2] = (30, 20), 0.9
    poses = Poses([[20, 10, 40, 30]], [0.9], kp, [3], layout=COCO)
    out = annotate(image, poses, 60, 40)
    assert (image == 50).all() and (out != 50).any()
    assert not annotate(None, Poses.empty(COCO), 60, 40).any()
