"""Annotated videos: tracked poses (and optionally PoseTrack ground truth) drawn on the source frames.

``render_video`` streams the source one frame at a time (:func:`tracker.video.open_source`),
draws the predictions of that frame and pipes the raw BGR frame to ffmpeg, so memory does not
grow with the video's length. The output is an H.264 mp4 (libx264, yuv420p, ``+faststart`` so
browsers can start playing before the download ends) at the source's frame rate and size, with
exactly one output frame per input frame; a frame that fails to decode is written black.

Choices made here (documented because they show in the output):

* Odd frame sizes: yuv420p needs even sizes, so ffmpeg's ``pad`` filter adds one black column
  and/or row on the right/bottom (nothing of the picture is lost; drawn coordinates are unchanged).
* Predictions are matched to source frames by frame index (position in the source), which is
  how ``hrtrack track`` writes them (one PoseTrack frame per input frame, ``frame`` in the
  per-track export).
* PoseTrack 2017/2018 prediction files are drawn with the 15-joint poseval skeleton directly
  (no joints are invented to fill the 17 COCO slots); per-track exports and in-memory results use
  the 17-joint COCO skeleton.
* Predictions use a saturated colour per track id (golden-ratio hue steps, so neighbouring ids
  differ), thick limbs and filled joints; ground truth is drawn thin and white with hollow joint
  rings and ``GT<id>`` labels, so both can be inspected together.
"""

from __future__ import annotations

import argparse
import colorsys
import contextlib
import functools
import logging
import math
import os
import tempfile
import threading
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any

import cv2
import numpy as np

from eval.files import atomic_write, default_mode
from eval.posetrack import Person, load_json, read_sequence
from eval.posetrack import Sequence as PtSequence
from tracker.video import open_source

if TYPE_CHECKING:  # the pipeline module pulls in torch; rendering needs only the result fields
    from subprocess import Popen

    from tracker.pipeline import FrameResult

log = logging.getLogger(__name__)

#: Limbs of the 17 COCO keypoints (0-based joint pairs).
COCO_SKELETON: tuple[tuple[int, int], ...] = (
    (15, 13), (13, 11), (16, 14), (14, 12), (11, 12), (5, 11), (6, 12), (5, 6), (5, 7), (6, 8),
    (7, 9), (8, 10), (1, 2), (0, 1), (0, 2), (1, 3), (2, 4), (3, 5), (4, 6),
)  # fmt: skip
#: Limbs of the 15 poseval joints (:data:`eval.posetrack.JOINT_NAMES`): legs, hips, arms, torso
#: sides, shoulders to head_bottom, head_bottom to nose and to head_top.
POSEVAL_SKELETON: tuple[tuple[int, int], ...] = (
    (0, 1), (1, 2), (5, 4), (4, 3), (2, 3), (6, 7), (7, 8), (11, 10), (10, 9), (2, 8), (3, 9),
    (8, 12), (9, 12), (12, 13), (12, 14),
)  # fmt: skip
SKELETONS: dict[int, tuple[tuple[int, int], ...]] = {17: COCO_SKELETON, 15: POSEVAL_SKELETON}

GOLDEN_RATIO_CONJUGATE = 0.6180339887498949
GT_COLOUR = (255, 255, 255)
UNKNOWN_ID_COLOUR = (160, 160, 160)
SHEET_FRAMES = 8
SHEET_COLUMNS = 4
SHEET_CELL_WIDTH = 320


class RenderError(ValueError):
    """A rendering input or the encoder failed; the message is one line."""


# ----------------------------------------------------------------------------- encoding


@functools.lru_cache(maxsize=1)
class VideoWriter:
    """Stream BGR frames into an H.264 mp4 through ffmpeg (imageio-ffmpeg's bundled binary).

    Use as a context manager and call :meth:`write` once per frame. Frames go to ffmpeg's stdin as
    raw ``bgr24`` as they come (never buffered here), are encoded with libx264 to yuv420p and muxed
    with ``-movflags +faststart``. The file is written under a temp name in the destination folder
    and renamed on success, so ``path`` is either complete or untouched; on any error the temp file
    is removed and a one-line :class:`RenderError` carries ffmpeg's first (cause) and last stderr lines.

    Odd ``width``/``height`` are padded to even with ffmpeg's ``pad`` filter (black column/row on the
    right/bottom), since yuv420p has half-resolution chroma; ``out_width``/``out_height`` give the
    encoded size.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        width: int,
        height: int,
        fps: float,
        crf: int = 20,
        preset: str = "veryfast",
    ) -> None:
        if int(width) <= 0 or int(height) <= 0:
            raise RenderError(f"{path}: invalid video size {width}x{height}")
        if not (math.isfinite(fps) and fps > 0):
            raise RenderError(f"{path}: invalid frame rate {fps}")
        self.path = Path(path)
        self.width, self.height = int(width), int(height)
        self.out_width, self.out_height = self.width + self.width % 2, self.height + self.height % 2
        self.fps = float(fps)
        self.crf = crf
        self.preset = preset
        self.frames = 0
        self._proc: Popen[bytes] | None = None
        self._tmp: Path | None = None
        self._stderr: deque[str] = deque(maxlen=20)
        self._first_line: str | None = None
        self._reader: threading.Thread | None = None

    def __enter__(self) -> VideoWriter:
        self.open()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def open(self) -> None:
        """Start ffmpeg writing to a temp file beside ``path``."""
        import ffmpeg
        import imageio_ffmpeg

        try:
            exe = imageio_ffmpeg.get_ffmpeg_exe()
        except RuntimeError as e:
            raise RenderError(f"no ffmpeg binary: {str(e).splitlines()[0]}") from None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp.mp4", dir=self.path.parent)
        except OSError as e:
            raise RenderError(f"{self.path}: cannot write there ({e.strerror})") from None
        os.close(fd)
        self._tmp = Path(tmp)
        rate = Fraction(self.fps).limit_denominator(1001)
        stream = ffmpeg.input(
            "pipe:", format="rawvideo", pix_fmt="bgr24", s=f"{self.width}x{self.height}", framerate=str(rate)
        )
        if (self.out_width, self.out_height) != (self.width, self.height):
            stream = stream.filter("pad", self.out_width, self.out_height, 0, 0, color="black")
        stream = (
            stream.output(
                str(self._tmp),
                f="mp4",
                vcodec="libx264",
                preset=self.preset,
                crf=self.crf,
                pix_fmt="yuv420p",
                movflags="+faststart",
            )
            .global_args("-hide_banner", "-nostats", "-loglevel", "error")
            .overwrite_output()
        )
        try:
            self._proc = stream.run_async(cmd=exe, pipe_stdin=True, pipe_stderr=True)
        except OSError as e:
            self._remove_tmp()
            raise RenderError(f"cannot start ffmpeg {exe} ({e.strerror})") from None
        self._reader = threading.Thread(target=self._drain, args=(self._proc.stderr,), daemon=True)
        self._reader.start()

    def _drain(self, pipe: IO[bytes]) -> None:
        """Keep the last stderr lines (reading also stops a chatty ffmpeg blocking on a full pipe)."""
        for raw in iter(pipe.readline, b""):
            line = raw.decode("utf-8", "replace").strip()
            if line:
                if self._first_line is None:
                    self._first_line = line
                self._stderr.append(line)

    def write(self, image: np.ndarray) -> None:
        """Encode one ``(height, width, 3)`` uint8 BGR frame."""
        if self._proc is None or self._proc.stdin is None:
            raise RenderError(f"{self.path}: writer is not open")
        if image.shape != (self.height, self.width, 3) or image.dtype != np.uint8:
            self.abort()
            raise RenderError(
                f"{self.path}: frame {self.frames} is {image.dtype} {'x'.join(map(str, image.shape))}, "
                f"expected uint8 {self.height}x{self.width}x3"
            )
        try:
            self._proc.stdin.write(np.ascontiguousarray(image).data)
        except OSError:  # BrokenPipeError: ffmpeg exited
            self._fail(f"ffmpeg stopped at frame {self.frames}")
        self.frames += 1

    def close(self) -> Path:
        """Finish the file (flush, wait for ffmpeg, rename into place); returns ``path``."""
        if self._proc is None:
            raise RenderError(f"{self.path}: writer is not open")
        if self.frames == 0:
            self.abort()
            raise RenderError(f"{self.path}: no frames to write")
        try:
            assert self._proc.stdin is not None
            self._proc.stdin.close()
        except OSError:
            self._fail("ffmpeg exited early")
        code = self._proc.wait()
        self._join()
        if code != 0:
            self._fail(f"ffmpeg failed (exit status {code})")
        assert self._tmp is not None
        try:
            os.chmod(self._tmp, default_mode())  # mkstemp makes owner-only files
            os.replace(self._tmp, self.path)
        except OSError as e:
            self._remove_tmp()
            raise RenderError(f"{self.path}: cannot write ({e.strerror})") from None
        self._proc = None
        self._tmp = None
        return self.path

    def abort(self) -> None:
        """Stop ffmpeg and remove the temp file (``path`` is left as it was)."""
        if self._proc is not None:
            if self._proc.poll() is None:
                self._proc.kill()
            if self._proc.stdin is not None:
                with contextlib.suppress(OSError):  # unflushed frames hit a closed pipe
                    self._proc.stdin.close()
            self._proc.wait()
            self._join()
            self._proc = None
        self._remove_tmp()

    def _fail(self, what: str) -> None:
        self.abort()
        raise RenderError(f"{self.path}: {what}: {self.ffmpeg_message()}")

    def ffmpeg_message(self) -> str:
        """ffmpeg's first error line (usually the cause) and its last line, as one line."""
        if not self._stderr:
            return "ffmpeg printed no message"
        last = self._stderr[-1]
        if self._first_line is None or self._first_line == last:
            return last
        return f"{self._first_line} ... {last}"

    def _join(self) -> None:
        if self._reader is not None:
            self._reader.join(timeout=10)
            self._reader = None

    def _remove_tmp(self) -> None:
        if self._tmp is not None:
            self._tmp.unlink(missing_ok=True)
            self._tmp = None


# ----------------------------------------------------------------------------- drawing


def track_colour(track_id: int) -> tuple[int, int, int]:
    """A stable BGR colour for a track id: hue advances by the golden ratio per id, so any two
    nearby ids get well separated hues, and the same id has the same colour in every video."""
    if track_id < 0:
        return UNKNOWN_ID_COLOUR
    hue = (int(track_id) * GOLDEN_RATIO_CONJUGATE) % 1.0
    r, g, b = colorsys.hsv_to_rgb(hue, 0.85, 0.95)
    return round(b * 255), round(g * 255), round(r * 255)


@dataclass(frozen=True)
class Style:
    """Line thickness, joint radius and label font scale, scaled with the frame size."""

    thickness: int
    radius: int
    font_scale: float

    @classmethod
    def for_image(cls, image: np.ndarray) -> Style:
        short = min(image.shape[:2])
        thickness = max(2, round(short / 240))
        return cls(thickness, thickness + 2, max(0.35, short / 1100))


def _pt(xy: np.ndarray | Sequence[float]) -> tuple[int, int]:
    """Pixel coordinates for OpenCV (clipped, so absurd predictions cannot overflow its int32)."""
    return round(min(max(float(xy[0]), -1e6), 1e6)), round(min(max(float(xy[1]), -1e6), 1e6))


def _valid_joints(keypoints: np.ndarray, threshold: float) -> np.ndarray:
    """(N, K) mask of joints with finite coordinates and a score at or above ``threshold``."""
    finite = np.isfinite(keypoints).all(axis=-1)
    with np.errstate(invalid="ignore"):
        return finite & (keypoints[..., 2] >= threshold)


def _draw_label(
    image: np.ndarray, text: str, anchor: tuple[int, int], colour: tuple[int, int, int], scale: float
) -> None:
    """``text`` on a filled box of ``colour`` whose bottom-left corner is ``anchor`` (kept inside the frame)."""
    (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
    h, w = image.shape[:2]
    x = min(max(anchor[0], 0), max(w - tw - 4, 0))
    y = min(max(anchor[1], th + base + 2), h - 1)
    cv2.rectangle(image, (x, y - th - base - 2), (x + tw + 4, y), colour, -1)
    luminance = 0.114 * colour[0] + 0.587 * colour[1] + 0.299 * colour[2]
    ink = (0, 0, 0) if luminance > 140 else (255, 255, 255)
    cv2.putText(image, text, (x + 2, y - base - 1), cv2.FONT_HERSHEY_SIMPLEX, scale, ink, 1, cv2.LINE_AA)


def _label_anchor(points: np.ndarray, valid: np.ndarray, box: np.ndarray | None) -> tuple[int, int] | None:
    """Top-left of the box if known, else just above the top-most drawn joint."""
    if box is not None and np.isfinite(box).all():
        return round(float(box[0])), round(float(box[1])) - 2
    if not valid.any():
        return None
    pts = points[valid]
    return round(float(pts[:, 0].min())), round(float(pts[:, 1].min())) - 6


def draw_poses(
    image: np.ndarray,
    keypoints: np.ndarray,
    track_ids: Sequence[int] | np.ndarray,
    boxes: np.ndarray | None = None,
    joint_threshold: float = 0.3,
    show_boxes: bool = False,
    trails: Mapping[int, Sequence[tuple[float, float]]] | None = None,
    labels: bool = True,
    style: Style | None = None,
) -> np.ndarray:
    """Draw predicted poses on ``image`` in place (and return it).

    keypoints ``(N, K, 3)`` x, y, score in pixels: K=17 uses the COCO skeleton, K=15 the poseval one
    (other K: joints only). A limb is drawn when both its joints score at least ``joint_threshold``,
    a joint when it does. Each pose is drawn in its track id's colour (:func:`track_colour`) with its
    id as a label; ``boxes`` ``(N, 4)`` xyxy (NaN rows: unknown) place the label and, with
    ``show_boxes``, are outlined. ``trails`` maps a track id to its recent centres, oldest first
    (kept by the caller across frames), drawn as a polyline that thickens towards the present.
    """
    kp = np.asarray(keypoints, dtype=np.float64)
    if kp.ndim != 3 or kp.shape[-1] != 3:
        raise RenderError(f"keypoints must be (N, K, 3), got shape {kp.shape}")
    ids = np.asarray(track_ids).reshape(-1)
    if len(ids) != len(kp):
        raise RenderError(f"{len(kp)} poses but {len(ids)} track ids")
    box_arr = None if boxes is None else np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    if box_arr is not None and len(box_arr) != len(kp):
        raise RenderError(f"{len(kp)} poses but {len(box_arr)} boxes")
    st = style or Style.for_image(image)
    skeleton = SKELETONS.get(kp.shape[1], ())
    valid = _valid_joints(kp, joint_threshold)

    for tid, points in (trails or {}).items():
        pts = [p for p in points if np.isfinite(p).all()]
        colour = track_colour(int(tid))
        for k in range(1, len(pts)):
            t = max(1, round(st.thickness * k / (len(pts) - 1)))
            cv2.line(image, _pt(pts[k - 1]), _pt(pts[k]), colour, t, cv2.LINE_AA)

    for i in range(len(kp)):
        colour = track_colour(int(ids[i]))
        box = box_arr[i] if box_arr is not None else None
        if show_boxes and box is not None and np.isfinite(box).all():
            cv2.rectangle(image, _pt(box[:2]), _pt(box[2:]), colour, max(1, st.thickness - 1), cv2.LINE_AA)
        for a, b in skeleton:
            if valid[i, a] and valid[i, b]:
                cv2.line(image, _pt(kp[i, a]), _pt(kp[i, b]), colour, st.thickness, cv2.LINE_AA)
        joints = [_pt(kp[i, j]) for j in np.flatnonzero(valid[i])]
        for p in joints:  # dark rims first, so no rim covers a neighbouring joint (the head's are close)
            cv2.circle(image, p, st.radius + 1, (0, 0, 0), -1, cv2.LINE_AA)
        for p in joints:
            cv2.circle(image, p, st.radius, colour, -1, cv2.LINE_AA)
    if labels:
        for i in range(len(kp)):
            anchor = _label_anchor(kp[i], valid[i], box_arr[i] if box_arr is not None else None)
            if anchor is not None:
                text = str(int(ids[i])) if ids[i] >= 0 else "?"
                _draw_label(image, text, anchor, track_colour(int(ids[i])), st.font_scale)
    return image


def people_keypoints(people: Sequence[Person]) -> np.ndarray:
    """``(N, 15, 3)`` x, y, score of poseval people; absent joints NaN, a missing score (GT) 1."""
    out = np.full((len(people), 15, 3), np.nan)
    for i, p in enumerate(people):
        present = np.asarray(p.present, dtype=bool)
        scores = np.nan_to_num(np.asarray(p.scores, dtype=np.float64), nan=1.0)
        out[i, present, :2] = np.asarray(p.joints, dtype=np.float64)[present]
        out[i, present, 2] = scores[present]
    return out


def draw_gt(
    image: np.ndarray,
    people: Sequence[Person],
    colour: tuple[int, int, int] = GT_COLOUR,
    labels: bool = True,
    style: Style | None = None,
) -> np.ndarray:
    """Draw PoseTrack ground-truth people (15 poseval joints) on ``image`` in place (and return it).

    The style differs from :func:`draw_poses` on purpose: 1-pixel lines and hollow joint rings in
    one colour (white), labels ``GT<id>``, so predictions drawn on top stay readable and every
    mismatch between the two is visible.
    """
    st = style or Style.for_image(image)
    kp = people_keypoints(people)
    valid = np.isfinite(kp).all(axis=-1)
    for i, person in enumerate(people):
        for a, b in POSEVAL_SKELETON:
            if valid[i, a] and valid[i, b]:
                cv2.line(image, _pt(kp[i, a]), _pt(kp[i, b]), colour, 1, cv2.LINE_AA)
        for j in np.flatnonzero(valid[i]):
            cv2.circle(image, _pt(kp[i, j]), max(2, st.radius - 1), colour, 1, cv2.LINE_AA)
        if labels and person.track_id is not None and valid[i].any():
            pts = kp[i, valid[i], :2]
            anchor = round(float(pts[:, 0].max())) + 4, round(float(pts[:, 1].min()))
            cv2.putText(
                image, f"GT{person.track_id}", anchor, cv2.FONT_HERSHEY_SIMPLEX, st.font_scale, colour, 1, cv2.LINE_AA
            )
    return image


# ----------------------------------------------------------------------------- predictions


@dataclass
class FramePoses:
    """The poses of one frame: keypoints ``(N, K, 3)``, track ids ``(N,)``, boxes ``(N, 4)`` (NaN: unknown)."""

    keypoints: np.ndarray
    track_ids: np.ndarray
    boxes: np.ndarray

    def centres(self) -> np.ndarray:
        """``(N, 2)`` box centres, or the mean of the joints with a score when there is no box."""
        out = (self.boxes[:, :2] + self.boxes[:, 2:]) / 2
        for i in np.flatnonzero(~np.isfinite(out).all(axis=1)):
            good = np.isfinite(self.keypoints[i]).all(axis=1)
            out[i] = self.keypoints[i, good, :2].mean(axis=0) if good.any() else np.nan
        return out


def _poses_from_people(people: Sequence[Person]) -> FramePoses:
    boxes = np.full((len(people), 4), np.nan)
    for i, p in enumerate(people):
        if p.box is not None:
            boxes[i] = np.asarray(p.box, dtype=np.float64)[:4]
    ids = np.array([-1 if p.track_id is None else int(p.track_id) for p in people], dtype=np.int64)
    return FramePoses(people_keypoints(people), ids, boxes)


def _poses_from_track_export(data: dict[str, Any], path: Path) -> dict[int, FramePoses]:
    """Per-track export (:func:`tracker.writers.write_tracks`) -> poses per frame index."""
    tracks = data.get("tracks")
    if not isinstance(tracks, dict):
        raise RenderError(f"{path}: 'tracks' is not an object of track id -> entries")
    rows: dict[int, list[tuple[int, np.ndarray, np.ndarray]]] = {}
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
            except (KeyError, TypeError, ValueError, AttributeError) as e:
                raise RenderError(f"{where}: unreadable entry ({type(e).__name__}: {e})") from None
            if not isinstance(frame, int) or isinstance(frame, bool) or frame < 0:
                raise RenderError(f"{where}: 'frame' must be a non-negative integer, got {frame!r}")
            if kp.shape != (17, 3):
                raise RenderError(f"{where}: 'keypoints' must be 17 x [x, y, score], got shape {kp.shape}")
            if box.shape != (4,):
                raise RenderError(f"{where}: 'box' must be [x1, y1, x2, y2], got shape {box.shape}")
            rows.setdefault(frame, []).append((tid, kp, box))
    return {
        frame: FramePoses(
            np.stack([r[1] for r in items]),
            np.array([r[0] for r in items], dtype=np.int64),
            np.stack([r[2] for r in items]),
        )
        for frame, items in rows.items()
    }


def load_predictions(predictions: str | os.PathLike[str] | Iterable[FrameResult]) -> dict[int, FramePoses]:
    """Poses per source frame index from a per-track export json, a PoseTrack 2017/2018 json, or
    tracking results (objects with ``index``, ``track_ids``, ``keypoints``, ``boxes``)."""
    if not isinstance(predictions, (str, os.PathLike)):
        out: dict[int, FramePoses] = {}
        for r in predictions:
            kp = np.asarray(r.keypoints, dtype=np.float64).reshape(-1, 17, 3)
            boxes = np.asarray(r.boxes, dtype=np.float64).reshape(-1, 4)
            out[int(r.index)] = FramePoses(kp, np.asarray(r.track_ids, dtype=np.int64).reshape(-1), boxes)
        return out
    path = Path(predictions)
    if not path.is_file():
        raise RenderError(f"{path}: no such predictions file")
    data = load_json(path)
    if isinstance(data, dict) and "tracks" in data:
        return _poses_from_track_export(data, path)
    if isinstance(data, dict) and ("annolist" in data or "annotations" in data):
        seq = read_sequence(path)
        return {i: _poses_from_people(f.people) for i, f in enumerate(seq.frames) if f.people}
    raise RenderError(f"{path}: neither a per-track export ('tracks') nor a PoseTrack 2017/2018 json")


def load_gt(gt: str | os.PathLike[str] | PtSequence) -> dict[int, list[Person]]:
    """Ground-truth people per frame index from a PoseTrack annotation (file or read sequence)."""
    if not isinstance(gt, PtSequence):
        path = Path(gt)
        if not path.is_file():
            raise RenderError(f"{path}: ground-truth annotation not found")
        gt = read_sequence(path)
    return {i: f.people for i, f in enumerate(gt.frames) if f.people}


class TrailState:
    """The last ``length`` centres of each track, for :func:`draw_poses`' ``trails``."""

    def __init__(self, length: int) -> None:
        self.length = length
        self.points: dict[int, deque[tuple[float, float]]] = {}
        self.last_seen: dict[int, int] = {}

    def update(self, index: int, poses: FramePoses | None) -> dict[int, list[tuple[float, float]]]:
        """Add this frame's centres; returns the trails of the tracks present in it."""
        present = []
        if poses is not None and self.length > 0:
            for tid, c in zip(poses.track_ids.tolist(), poses.centres(), strict=True):
                if np.isfinite(c).all():
                    self.points.setdefault(tid, deque(maxlen=self.length)).append((float(c[0]), float(c[1])))
                    self.last_seen[tid] = index
                    present.append(tid)
        for tid in [t for t, seen in self.last_seen.items() if index - seen > self.length]:
            del self.points[tid], self.last_seen[tid]
        return {tid: list(self.points[tid]) for tid in present}


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
) -> Path:
    """Write a PNG grid of ``frames`` (row by row, ``columns`` wide) for reports; returns the path.

    Every cell has the size of the first frame (after downscaling to ``cell_width`` when given);
    the sheet is ``ceil(n / columns)`` cells high and ``min(columns, n)`` wide, with no gaps.
    ``labels`` (e.g. frame numbers) are written in the cells' top-left corners.
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
            _draw_label(sheet, str(labels[k]), (c * w + 2, r * h + th + base + 4), (40, 40, 40), 0.4)
    ok, buf = cv2.imencode(".png", sheet)
    if not ok:
        raise RenderError(f"{out}: PNG encoding failed")
    try:
        atomic_write(out, buf.tobytes())
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
    encoding starts; any failure is a one-line :class:`ValueError`, and one before the video is complete
    leaves no video file (an existing ``out_path`` stays as it was).
    """
    from tqdm import tqdm

    out = Path(out_path)
    if trail < 0:
        raise RenderError(f"trail must be 0 or more frames, got {trail}")
    if not math.isfinite(joint_threshold):
        raise RenderError(f"joint threshold must be a number, got {joint_threshold}")
    predictions = load_predictions(results_or_tracks)
    gt_people = load_gt(gt) if gt is not None else {}
    src = open_source(source, images_root)
    width, height = src.width, src.height
    trails = TrailState(trail)
    picks = set(sheet_indices(len(src), sheet_frames)) if contact_sheet else set()
    thumbs: list[tuple[int, np.ndarray]] = []
    last: tuple[int, np.ndarray] | None = None
    count = 0
    with (
        VideoWriter(out, width, height, src.fps) as writer,
        tqdm(total=len(src), unit="frame", desc=f"render {out.name}", disable=not progress, leave=False) as bar,
    ):
        for frame in src:
            image = frame.image
            if image is None:
                image = np.zeros((height, width, 3), np.uint8)
            elif image.shape[:2] != (height, width):
                image = cv2.resize(image, (width, height))
            people = gt_people.get(frame.index)
            if people:
                draw_gt(image, people)
            poses = predictions.get(frame.index)
            frame_trails = trails.update(frame.index, poses) if trail else None
            if poses is not None and len(poses.track_ids):
                draw_poses(
                    image, poses.keypoints, poses.track_ids, poses.boxes, joint_threshold, show_boxes, frame_trails
                )
            writer.write(image)
            if frame.index in picks:
                thumbs.append((frame.index, _thumbnail(image, SHEET_CELL_WIDTH)))
            last = (frame.index, image)
            count += 1
            bar.update(1)
    if predictions and max(predictions) >= count:
        log.warning("%s: predictions reach frame %d but the source has %d frames", out, max(predictions), count)
    if contact_sheet:
        if last is not None and len(thumbs) < len(picks) and (not thumbs or thumbs[-1][0] != last[0]):
            thumbs.append((last[0], _thumbnail(last[1], SHEET_CELL_WIDTH)))  # source shorter than announced
        _write_contact_sheet([t for _, t in thumbs], contact_sheet, sheet_columns, labels=[f"#{i}" for i, _ in thumbs])
    return out


# ----------------------------------------------------------------------------- command line


def add_render_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """The ``render`` subcommand (``render VIDEO PREDICTIONS -o OUT.mp4 ...``); returns its parser."""
    p = subparsers.add_parser(
        "render",
        help="draw tracked poses on the video (H.264 mp4)",
        description="Draw tracked poses (per-track export or PoseTrack json) on the source frames, with "
        "stable per-track colours and ids, optionally with the ground truth, and encode an H.264 mp4 at "
        "the source's frame rate and size (odd sizes padded to even).",
    )
    p.add_argument("video", metavar="VIDEO", help="video file, folder of frames, or PoseTrack annotation json")
    p.add_argument("predictions", metavar="PREDICTIONS", help="per-track export json or PoseTrack 2017/2018 json")
    p.add_argument("-o", "--out", required=True, metavar="OUT.mp4", help="annotated video to write")
    p.add_argument("--gt", metavar="ANNOTATION", help="also draw this PoseTrack ground truth (thin, white)")
    p.add_argument("--images-root", metavar="DIR", help="folder the annotation's image names are relative to")
    p.add_argument("--boxes", action="store_true", help="outline the person boxes")
    p.add_argument("--trail", type=int, default=0, metavar="N", help="draw each track's last N centres (0: off)")
    p.add_argument(
        "--joint-threshold", type=float, default=0.3, metavar="T", help="draw joints scoring at least T (0.3)"
    )
    p.add_argument("--contact-sheet", metavar="OUT.png", help="also a PNG grid of evenly spaced annotated frames")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run_render)
    return p


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
