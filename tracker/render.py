"""``hrtrack render``: tracked poses (and optionally PoseTrack ground truth) drawn on the source
frames, as an H.264 video and a contact sheet.

``render_video`` streams the source one frame at a time (:func:`tracker.video.open_source`),
draws the predictions of that frame (:mod:`tracker.annotate`) and pipes it to ffmpeg
(:class:`tracker.video.VideoSink`), so memory does not grow with the video's length. The output
is an H.264 mp4 (libx264, yuv420p, ``+faststart`` so browsers can start playing before the
download ends) at the source's frame rate and size, with exactly one output frame per input
frame; a frame that fails to decode is written black.

Choices made here (documented because they show in the output):

* Odd frame sizes: yuv420p needs even sizes, so ffmpeg's ``pad`` filter adds one black column
  and/or row on the right/bottom (nothing of the picture is lost; drawn coordinates are unchanged).
* Predictions are matched to source frames by frame index (position in the source), which is
  how ``hrtrack track`` writes them (one PoseTrack frame per input frame, ``frame`` in the
  per-track export).
* PoseTrack 2017/2018 prediction files are drawn with the 15-joint poseval skeleton directly
  (no joints are invented to fill the 17 slots); per-track exports and in-memory results use the
  skeleton of their keypoint layout (COCO or PoseTrack 2018 slots).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from eval.posetrack import Person, load_json, read_sequence
from eval.posetrack import Sequence as PtSequence
from pose.files import OutputPlan, atomic_write
from pose.keypoints import POSEVAL, get_layout
from pose.poses import Poses
from tracker.annotate import RenderError, TrailState, draw_gt, draw_label, draw_poses, people_keypoints
from tracker.video import ImageListSource, VideoSink, open_source

if TYPE_CHECKING:  # the pipeline module pulls in torch; rendering needs only the result fields
    from tracker.pipeline import FrameResult


SHEET_FRAMES = 8
SHEET_COLUMNS = 4
SHEET_CELL_WIDTH = 320


# ----------------------------------------------------------------------------- predictions


def _poses_from_people(people: Sequence[Person]) -> Poses:
    """PoseTrack people as poses in the 15-joint poseval layout (absent joints NaN, unknown boxes NaN)."""
    boxes = np.full((len(people), 4), np.nan)
    for i, p in enumerate(people):
        if p.box is not None:
            boxes[i] = np.asarray(p.box, dtype=np.float64)[:4]
    ids = np.array([-1 if p.track_id is None else int(p.track_id) for p in people], dtype=np.int64)
    scores = np.array([np.nan if p.score is None else p.score for p in people], np.float32)
    return Poses(boxes, scores, people_keypoints(people), ids, layout=POSEVAL)


def _poses_from_track_export(data: dict[str, Any], path: Path) -> dict[int, Poses]:
    """Per-track export (:class:`tracker.sinks.TracksSink`) -> poses per frame index. Files
    written before the export named its ``keypoint_layout`` are read as COCO."""
    try:
        layout = get_layout(data.get("keypoint_layout", "coco"))
    except ValueError as e:
        raise RenderError(f"{path}: {e}") from None
    tracks = data.get("tracks")
    if not isinstance(tracks, dict):
        raise RenderError(f"{path}: 'tracks' is not an object of track id -> entries")
    rows: dict[int, list[tuple[int, np.ndarray, np.ndarray, float]]] = {}
    for key, entries in tracks.items():
        if not isinstance(entries, list):
            raise RenderError(f"{path}: track {key!r} is not a list of entries")
        try:
            tid = int(key)
        except ValueError:
            raise RenderError(f"{path}: track id {key!r} is not an integer") from None
        for k, entry in enumerate(entries):
            where = f"{path}: tracks[{key}][{k}]"
            try:
                frame = entry["frame"]
                kp = np.asarray(entry["keypoints"], dtype=np.float64)
                box = np.asarray(entry.get("box") or [np.nan] * 4, dtype=np.float64)
                score = float(entry.get("score", np.nan))
            except (KeyError, TypeError, ValueError, AttributeError) as e:
                raise RenderError(f"{where}: unreadable entry ({type(e).__name__}: {e})") from None
            if not isinstance(frame, int) or isinstance(frame, bool) or frame < 0:
                raise RenderError(f"{where}: 'frame' must be a non-negative integer, got {frame!r}")
            if kp.shape != (17, 3):
                raise RenderError(f"{where}: 'keypoints' must be 17 x [x, y, score], got shape {kp.shape}")
            if box.shape != (4,):
                raise RenderError(f"{where}: 'box' must be [x1, y1, x2, y2], got shape {box.shape}")
            rows.setdefault(frame, []).append((tid, kp, box, score))
    return {
        frame: Poses(
            np.stack([r[2] for r in items]),
            np.array([r[3] for r in items], np.float32),
            np.stack([r[1] for r in items]),
            np.array([r[0] for r in items], dtype=np.int64),
            layout=layout,
        )
        for frame, items in rows.items()
    }


def load_predictions(predictions: str | os.PathLike[str] | Iterable[FrameResult]) -> dict[int, Poses]:
    """Poses per source frame index from a per-track export json, a PoseTrack 2017/2018 json, or
    tracking results (:class:`~tracker.pipeline.FrameResult`)."""
    return _read_predictions(predictions)[0]


def _read_predictions(
    predictions: str | os.PathLike[str] | Iterable[FrameResult],
) -> tuple[dict[int, Poses], int | None, PtSequence | None]:
    """The poses per frame index, how many frames the predictions describe (None: unknown), and the
    PoseTrack sequence they were read from (None: another format)."""
    if not isinstance(predictions, (str, os.PathLike)):
        results = list(predictions)
        return {int(r.index): r.poses for r in results}, None, None
    path = Path(predictions)
    if not path.is_file():
        raise RenderError(f"{path}: no such predictions file")
    data = load_json(path)
    if isinstance(data, dict) and "tracks" in data:
        count = data.get("num_frames")
        return _poses_from_track_export(data, path), count if isinstance(count, int) else None, None
    if isinstance(data, dict) and ("annolist" in data or "annotations" in data):
        seq = read_sequence(path)
        poses = {i: _poses_from_people(f.people) for i, f in enumerate(seq.frames) if f.people}
        return poses, len(seq.frames), seq
    raise RenderError(f"{path}: neither a per-track export ('tracks') nor a PoseTrack 2017/2018 json")


def load_gt(gt: str | os.PathLike[str] | PtSequence) -> dict[int, list[Person]]:
    """Ground-truth people per frame index from a PoseTrack annotation (file or read sequence)."""
    return _people(_gt_sequence(gt))


def _gt_sequence(gt: str | os.PathLike[str] | PtSequence) -> PtSequence:
    if isinstance(gt, PtSequence):
        return gt
    path = Path(gt)
    if not path.is_file():
        raise RenderError(f"{path}: ground-truth annotation not found")
    return read_sequence(path)


def _people(seq: PtSequence) -> dict[int, list[Person]]:
    return {i: f.people for i, f in enumerate(seq.frames) if f.people}


# ----------------------------------------------------------------------------- contact sheet


def _thumbnail(image: np.ndarray, width: int) -> np.ndarray:
    h, w = image.shape[:2]
    if w <= width:
        return image.copy()
    return cv2.resize(image, (width, max(1, round(h * width / w))), interpolation=cv2.INTER_AREA)


def contact_sheet(
    frames: Sequence[np.ndarray],
    out_png: str | os.PathLike[str],
    columns: int = SHEET_COLUMNS,
    labels: Sequence[str] | None = None,
    cell_width: int | None = None,
    temp: str | os.PathLike[str] | None = None,
) -> Path:
    """Write a PNG grid of ``frames`` (row by row, ``columns`` wide) for reports; returns the path.

    Every cell has the size of the first frame (after downscaling to ``cell_width`` when given);
    the sheet is ``ceil(n / columns)`` cells high and ``min(columns, n)`` wide, with no gaps.
    ``labels`` (e.g. frame numbers) are written in the cells' top-left corners. ``temp``: write
    there instead (a planned output's temp file, renamed by the plan).
    """
    out = Path(out_png)
    if not frames:
        raise RenderError(f"{out}: contact sheet needs at least one frame")
    if columns < 1:
        raise RenderError(f"{out}: contact sheet columns must be at least 1, got {columns}")
    cells = [_thumbnail(f, cell_width) if cell_width else f for f in frames]
    h, w = cells[0].shape[:2]
    cols = min(columns, len(cells))
    rows = math.ceil(len(cells) / cols)
    sheet = np.zeros((rows * h, cols * w, 3), np.uint8)
    (_, th), base = cv2.getTextSize("#0", cv2.FONT_HERSHEY_SIMPLEX, 0.4, 1)
    for k, cell in enumerate(cells):
        if cell.shape[:2] != (h, w):
            cell = cv2.resize(cell, (w, h), interpolation=cv2.INTER_AREA)
        r, c = divmod(k, cols)
        sheet[r * h : (r + 1) * h, c * w : (c + 1) * w] = cell
        if labels is not None and k < len(labels):
            draw_label(sheet, str(labels[k]), (c * w + 2, r * h + th + base + 4), (40, 40, 40), 0.4)
    ok, buf = cv2.imencode(".png", sheet)
    if not ok:
        raise RenderError(f"{out}: PNG encoding failed")
    try:
        atomic_write(temp if temp is not None else out, buf.tobytes())
    except OSError as e:
        raise RenderError(f"{out}: cannot write ({e.strerror})") from None
    return out


_write_contact_sheet = contact_sheet  # render_video's ``contact_sheet`` argument shadows the name


def sheet_indices(num_frames: int, count: int = SHEET_FRAMES) -> list[int]:
    """``count`` evenly spaced frame indices from 0 to ``num_frames - 1`` (fewer for short videos)."""
    if num_frames <= 0 or count <= 0:
        return []
    return sorted({round(x) for x in np.linspace(0, num_frames - 1, min(count, num_frames))})


# ----------------------------------------------------------------------------- rendering


def render_video(
    source: str | os.PathLike[str],
    results_or_tracks: str | os.PathLike[str] | Iterable[FrameResult],
    out_path: str | os.PathLike[str],
    gt: str | os.PathLike[str] | PtSequence | None = None,
    joint_threshold: float = 0.3,
    show_boxes: bool = False,
    trail: int = 0,
    contact_sheet: str | os.PathLike[str] | None = None,
    images_root: str | os.PathLike[str] | None = None,
    progress: bool = True,
    sheet_frames: int = SHEET_FRAMES,
    sheet_columns: int = SHEET_COLUMNS,
) -> Path:
    """Write ``out_path``: the frames of ``source`` with the predictions drawn, as H.264 mp4.

    ``source`` is anything :func:`tracker.video.open_source` reads (video, frame folder, PoseTrack
    annotation with ``images_root``). ``results_or_tracks``: a per-track export json, a PoseTrack
    2017/2018 prediction json, or tracking results; they are matched to frames by index. ``gt``
    (a PoseTrack annotation) adds the ground truth in a thin white style. ``trail`` > 0 draws the last
    ``trail`` centres of each track. ``contact_sheet``: also a PNG of ``sheet_frames`` evenly spaced
    annotated frames (downscaled while streaming), written after the video. Inputs are checked before
    encoding starts; any failure is a one-line :class:`ValueError`. The video and the sheet are
    planned outputs (:class:`pose.files.OutputPlan`): both appear together at the end, or neither
    (an existing ``out_path`` stays as it was).

    Steps:

    1. check the options, read the predictions (poses per frame index) and the ground truth;
    2. open the source and the encoder (:class:`tracker.video.VideoSink`);
    3. per frame: the image (black if undecodable), the GT drawn thin, the trails updated, the
       predictions drawn (:func:`tracker.annotate.draw_poses`), the frame encoded, a thumbnail kept
       when the frame is one of the contact sheet's;
    4. the encoder closes (the video appears by rename); a warning when predictions reach past
       the source's end;
    5. the contact sheet from the kept thumbnails.
    """
    with OutputPlan(
        inputs=[source, gt if not isinstance(gt, PtSequence) else None, _path_or_none(results_or_tracks)],
        sealed=[source],  # a frame folder: an output inside it would become one of its frames
    ) as plan:
        plan.add(out_path, "--out", suffixes=(".mp4",))
        if contact_sheet:
            plan.add(contact_sheet, "--contact-sheet", suffixes=(".png",))
        return _render(
            plan,
            source,
            results_or_tracks,
            Path(out_path),
            gt,
            joint_threshold,
            show_boxes,
            trail,
            contact_sheet,
            images_root,
            progress,
            sheet_frames,
            sheet_columns,
        )


def _check_belongs(src: object, seq: PtSequence | None, file: object, what: str) -> None:
    """A PoseTrack sequence drawn on an image list must name some of its images (else it is another
    sequence's, drawn by position on the wrong frames); a ground truth on a video has its frame count."""
    if seq is None:
        return
    names = {Path(f.image).name for f in seq.frames if f.image}
    if isinstance(src, ImageListSource) and names and not names & {Path(n).name for n in src.names}:
        raise RenderError(
            f"{file}: none of its frames is an image of {src.label} (e.g. {sorted(names)[0]!r}): another sequence's "
            f"{'ground truth' if what == '--gt' else what}?"
        )
    counted = getattr(src, "counted", True)  # a video's container may not know its frame count
    if what == "--gt" and not isinstance(src, ImageListSource) and counted and abs(len(seq.frames) - len(src)) > 1:
        raise RenderError(
            f"{file}: the ground truth has {len(seq.frames)} frames but the source {len(src)} (drawn by position, "
            "so it must be this video's)"
        )


def _label(predictions: object) -> str:
    return str(predictions) if isinstance(predictions, (str, os.PathLike)) else "the predictions"


def _path_or_none(value: object) -> str | os.PathLike[str] | None:
    return value if isinstance(value, (str, os.PathLike)) else None


def _render(
    plan: OutputPlan,
    source: str | os.PathLike[str],
    results_or_tracks: str | os.PathLike[str] | Iterable[FrameResult],
    out: Path,
    gt: str | os.PathLike[str] | PtSequence | None,
    joint_threshold: float,
    show_boxes: bool,
    trail: int,
    contact_sheet: str | os.PathLike[str] | None,
    images_root: str | os.PathLike[str] | None,
    progress: bool,
    sheet_frames: int,
    sheet_columns: int,
) -> Path:
    """The steps of :func:`render_video`, writing to ``plan``'s temp files."""
    from tqdm import tqdm

    # 1. options, predictions, ground truth
    if trail < 0:
        raise RenderError(f"trail must be 0 or more frames, got {trail}")
    if not math.isfinite(joint_threshold):
        raise RenderError(f"joint threshold must be a number, got {joint_threshold}")
    predictions, described, pred_seq = _read_predictions(results_or_tracks)
    gt_seq = _gt_sequence(gt) if gt is not None else None
    gt_people = _people(gt_seq) if gt_seq is not None else {}
    # 2. source and encoder
    src = open_source(source, images_root)
    _check_belongs(src, pred_seq, results_or_tracks, "predictions")
    _check_belongs(src, gt_seq, gt, "--gt")
    width, height = src.width, src.height
    trails = TrailState(trail)
    picks = set(sheet_indices(len(src), sheet_frames)) if contact_sheet else set()
    thumbs: list[tuple[int, np.ndarray]] = []
    last: tuple[int, np.ndarray] | None = None
    count = 0
    with (
        VideoSink(out, width, height, src.fps, temp=plan.temp(out)) as writer,
        tqdm(total=len(src), unit="frame", desc=f"render {out.name}", disable=not progress, leave=False) as bar,
    ):
        for frame in src:  # 3. per frame
            image = frame.image
            if image is None:  # (a frame of another size is refused by the source: never resized)
                image = np.zeros((height, width, 3), np.uint8)
            people = gt_people.get(frame.index)
            if people:
                draw_gt(image, people)
            poses = predictions.get(frame.index)
            frame_trails = trails.update(frame.index, poses) if trail else None
            if poses is not None and len(poses):
                draw_poses(image, poses, joint_threshold, show_boxes, frame_trails)
            writer.write(image)
            if frame.index in picks:
                thumbs.append((frame.index, _thumbnail(image, SHEET_CELL_WIDTH)))
            last = (frame.index, image)
            count += 1
            bar.update(1)
    # 4. the video is complete (renamed into place when the encoder closed)
    if predictions and max(predictions) >= count:
        print(
            f"hrtrack: warning: {_label(results_or_tracks)}: predictions reach frame {max(predictions)} "
            f"but the source has {count} frames (those are not drawn)",
            file=sys.stderr,
        )
    elif described is not None and described < count:
        print(
            f"hrtrack: warning: {_label(results_or_tracks)}: the predictions describe {described} of the source's "
            f"{count} frames: the other {count - described} are drawn without people",
            file=sys.stderr,
        )
    if getattr(src, "missing", 0):
        print(
            f"hrtrack: warning: {source}: the video ends after {count} of the {count + src.missing} frames its "
            f"container counts (cut short?): {out.name} has the {count} real frames",
            file=sys.stderr,
        )
    if contact_sheet:  # 5. the contact sheet
        if last is not None and len(thumbs) < len(picks) and (not thumbs or thumbs[-1][0] != last[0]):
            thumbs.append((last[0], _thumbnail(last[1], SHEET_CELL_WIDTH)))  # source shorter than announced
        _write_contact_sheet(
            [t for _, t in thumbs],
            contact_sheet,
            sheet_columns,
            labels=[f"#{i}" for i, _ in thumbs],
            temp=plan.temp(contact_sheet),
        )
    return out


# ----------------------------------------------------------------------------- command line


def run_render(args: argparse.Namespace) -> int:
    """Run ``render`` for the parsed options; returns the exit status (errors raise ValueError)."""
    out = render_video(
        args.video,
        args.predictions,
        args.out,
        gt=args.gt,
        joint_threshold=args.joint_threshold,
        show_boxes=args.boxes,
        trail=args.trail,
        contact_sheet=args.contact_sheet,
        images_root=args.images_root,
        progress=not getattr(args, "quiet", False),
    )
    print(f"wrote {out}" + (f" and {args.contact_sheet}" if args.contact_sheet else ""))
    return 0
