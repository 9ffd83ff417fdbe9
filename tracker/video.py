"""Video IO: frame sources (a video file, a folder of frames, a list of image files, read as a
stream) and :class:`VideoSink`, the H.264 encoder that streams frames into ffmpeg.

Every source yields :class:`Frame` objects one at a time, so memory does
not grow with the video's length. A frame that fails to decode is yielded with ``image=None`` and
counted in ``failed`` (the tracker writes it as a frame without people and keeps its ids), so the
output always has one entry per input frame.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import os
import threading
from collections import deque
from collections.abc import Iterable, Iterator, Sized
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from subprocess import Popen
from types import TracebackType
from typing import IO

import cv2
import numpy as np

from pose.errors import HrtrackError
from pose.files import default_mode, sweep_stale, temp_name

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}
VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv"}


@dataclass
class Frame:
    """One video frame.

    image: ``(H,W,3)`` uint8 BGR, or None for a frame that failed to decode (it is written as a
    frame without people). index: 0-based position in the video. name: image file name
    (relative to the dataset root for annotation lists, else a synthetic ``frame_000123``).
    image_id: dataset image id when known (PoseTrack/COCO), else None.
    """

    image: np.ndarray | None
    index: int
    name: str = ""
    image_id: int | None = None


class SourceError(HrtrackError):
    """An input that cannot be read at all; the message is one line naming the file."""


def read_image(path: str | os.PathLike[str]) -> np.ndarray | None:
    """A BGR uint8 image, or None if the file is missing or cannot be decoded."""
    data = np.fromfile(str(path), np.uint8) if os.path.isfile(path) else None
    if data is None or data.size == 0:
        return None
    image = cv2.imdecode(data, cv2.IMREAD_COLOR)
    return image


#: Frames in a row a video may fail to read before it counts as ended (cut short).
MAX_LOST = 25


class VideoSource:
    """Frames of a video file decoded one by one with OpenCV."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise SourceError(f"{self.path}: video file not found")
        cap = cv2.VideoCapture(str(self.path))
        ok = cap.isOpened()
        first = cap.read()[1] if ok else None
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        self.fps = fps if math.isfinite(fps) and 0 < fps <= 1000 else 25.0  # a container's nonsense rate: 25
        count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        cap.release()
        if first is None:
            raise SourceError(f"{self.path}: not a readable video (no frame could be decoded)")
        self.height, self.width = first.shape[:2]
        self.count = max(count, 1)
        self.counted = count > 0  # the container knows its frame count
        self.failed = self.missing = 0
        self.start = 0
        self.stop: int | None = None

    def window(self, start: int = 0, frames: int | None = None) -> VideoSource:
        """Only frames ``start`` .. ``start + frames - 1`` (their indices and names kept)."""
        if start >= self.count:
            raise SourceError(f"{self.path}: --start {start} is past the video's {self.count} frames")
        self.start = start
        self.stop = None if frames is None else start + frames
        return self

    def __len__(self) -> int:
        """Frame count from the container (an estimate for some formats), within the window."""
        end = self.count if self.stop is None else min(self.count, self.stop)
        return max(end - self.start, 1)

    def __iter__(self) -> Iterator[Frame]:
        """The frames the file really has: a frame that cannot be read ends the video (a file cut
        short, whose container still counts the lost frames: :attr:`missing` says how many); a
        frame that is read but cannot be decoded is a frame without an image (:attr:`failed`)."""
        cap = cv2.VideoCapture(str(self.path))
        index = 0
        self.failed = self.missing = 0  # of this pass
        try:
            while index < self.start and cap.grab():  # frames before the window: not decoded
                index += 1
            lost = 0  # frames in a row that could not be read
            while self.stop is None or index + lost < self.stop:
                if not cap.grab():  # never a seek back: it would repeat frames
                    lost += 1
                    if lost > MAX_LOST or index + lost >= self.count:  # the end of what the file holds
                        end = self.count if self.stop is None else min(self.count, self.stop)
                        self.missing = max(end - max(index, self.start), 0)
                        break
                    continue
                if lost:  # a bad stretch inside the file: the frames it really lost (by the grabbed frame's
                    # time: a failed read may also be a decoder waiting for data, which loses nothing)
                    at = round(cap.get(cv2.CAP_PROP_POS_MSEC) * self.fps / 1000)
                    for _ in range(min(max(at - index, 0), lost)):
                        self.failed += 1
                        yield Frame(None, index, f"frame_{index:06d}")
                        index += 1
                    lost = 0
                ok, image = cap.retrieve()
                if not ok or image is None:
                    self.failed += 1
                    image = None
                elif image.shape[:2] != (self.height, self.width):  # never resized: poses would be at its scale
                    h, w = image.shape[:2]
                    raise SourceError(
                        f"{self.path}: frame {index} is {w}x{h}, the first frame {self.width}x{self.height} "
                        "(a stream that changes its size)"
                    )
                yield Frame(image, index, f"frame_{index:06d}")
                index += 1
        finally:
            cap.release()


class ImageListSource:
    """Frames from a list of image files (a sorted folder, or a PoseTrack annotation's images)."""

    def __init__(
        self,
        paths: list[Path],
        names: list[str] | None = None,
        image_ids: list[int | None] | None = None,
        fps: float = 25.0,
        label: str = "",
    ) -> None:
        if not paths:
            raise SourceError(f"{label or 'image list'}: no frames")
        self.paths = paths
        self.names = names or [p.name for p in paths]
        self.image_ids = image_ids or [None] * len(paths)
        self.fps = fps
        self.failed = 0
        self.label = label or str(paths[0].parent)
        first = next((img for img in (read_image(p) for p in paths[:10]) if img is not None), None)
        if first is None:
            raise SourceError(f"{label or paths[0]}: none of the first frames can be read (e.g. {paths[0]})")
        self.height, self.width = first.shape[:2]
        self.start = 0

    def window(self, start: int = 0, frames: int | None = None) -> ImageListSource:
        """Only frames ``start`` .. ``start + frames - 1`` (their indices and names kept)."""
        if start >= len(self.paths):
            raise SourceError(f"{self.label}: --start {start} is past its {len(self.paths)} frames")
        stop = None if frames is None else start + frames
        self.paths, self.names, self.image_ids = (x[start:stop] for x in (self.paths, self.names, self.image_ids))
        self.start = start
        return self

    def __len__(self) -> int:
        return len(self.paths)

    def __iter__(self) -> Iterator[Frame]:
        self.failed = 0  # of this pass
        triples = zip(self.paths, self.names, self.image_ids, strict=True)
        for index, (path, name, image_id) in enumerate(triples, self.start):
            image = read_image(path)
            if image is None:
                self.failed += 1
            elif image.shape[:2] != (self.height, self.width):  # never resized: poses would be at its scale
                h, w = image.shape[:2]
                raise SourceError(
                    f"{path}: frame {index} is {w}x{h}, the first frame {self.width}x{self.height} "
                    "(the frames of one sequence must share one size)"
                )
            yield Frame(image, index, name, image_id)


class ArraySource:
    """Frames from any iterable of images: ``(H,W,3)`` uint8 BGR arrays (as OpenCV reads them), or
    :class:`Frame` objects, e.g. a camera, a list in memory, a generator. Nothing is kept: each
    image is passed on as it comes. Every image must have the first one's size (nothing is resized)."""

    def __init__(self, images: Iterable[np.ndarray | Frame], fps: float = 25.0, label: str = "frames") -> None:
        self._images = iter(images)
        self._count = len(images) if isinstance(images, Sized) else None
        self.fps = fps
        self.label = label
        self.failed = 0
        self.start = 0
        self.stop: int | None = None
        self._first = next(self._images, None)
        if self._first is None:
            raise SourceError(f"{label}: no frames")
        self.height, self.width = self._frame(self._first, 0).image.shape[:2]

    def _frame(self, item: np.ndarray | Frame, index: int) -> Frame:
        frame = item if isinstance(item, Frame) else Frame(item, index, f"frame_{index:06d}")
        image = frame.image
        if not (isinstance(image, np.ndarray) and image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3):
            what = type(image).__name__ if not isinstance(image, np.ndarray) else f"{image.dtype} {image.shape}"
            raise SourceError(f"{self.label}: frame {index}: expected an (H,W,3) uint8 BGR image, got {what}")
        if hasattr(self, "height") and image.shape[:2] != (self.height, self.width):
            raise SourceError(
                f"{self.label}: frame {index} is {image.shape[1]}x{image.shape[0]}, "
                f"the first frame {self.width}x{self.height} (frames of one stream share one size)"
            )
        return frame

    def window(self, start: int = 0, frames: int | None = None) -> ArraySource:
        """Only frames ``start`` .. ``start + frames - 1`` (their indices kept)."""
        self.start, self.stop = start, None if frames is None else start + frames
        return self

    def __len__(self) -> int:
        """The number of frames when the iterable knows it (a list), else 0 (unknown)."""
        if self._count is None:
            return 0
        end = self._count if self.stop is None else min(self._count, self.stop)
        return max(end - self.start, 0)

    def __iter__(self) -> Iterator[Frame]:
        if self._first is None:
            raise SourceError(f"{self.label}: an image stream can be tracked once")
        items, self._first = itertools.chain([self._first], self._images), None
        for index, item in enumerate(items):
            if self.stop is not None and index >= self.stop:
                return
            if index >= self.start:
                yield self._frame(item, index)


def folder_source(folder: str | os.PathLike[str], fps: float = 25.0) -> ImageListSource:
    """The images of a folder in natural sort order (frame_2 before frame_10)."""
    folder = Path(folder)
    files = [p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()]
    if not files:
        raise SourceError(f"{folder}: folder holds no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
    files.sort(key=_natural_key)
    return ImageListSource(files, [p.name for p in files], fps=fps, label=str(folder))


def _natural_key(path: Path) -> list[object]:
    import re

    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", path.name)]


def annotation_source(
    annotation: str | os.PathLike[str], images_root: str | os.PathLike[str] | None
) -> ImageListSource:
    """The frames listed in a PoseTrack 2017/2018 annotation file, in its order.

    Image names are relative to ``images_root`` (default: the annotation's folder), so the
    output has exactly the annotation's frames and can be evaluated against it.
    """
    from eval.posetrack import read_sequence

    seq = read_sequence(annotation)
    root = Path(images_root) if images_root else Path(annotation).parent
    if not root.is_dir():
        raise SourceError(f"{root}: images root folder not found")
    if not seq.frames:
        raise SourceError(f"{annotation}: annotation lists no frames")
    names = [f.image for f in seq.frames]
    paths = [root / n for n in names]
    return ImageListSource(paths, names, label=str(annotation))


def open_source(
    source: str | os.PathLike[str], images_root: str | os.PathLike[str] | None = None
) -> VideoSource | ImageListSource:
    """A video file, a frame folder, or a PoseTrack annotation json (images under ``images_root``)."""
    path = Path(source)
    if path.is_dir():
        return folder_source(path)
    if not path.exists():
        raise SourceError(f"{path}: no such file or folder")
    if path.suffix.lower() == ".json":
        return annotation_source(path, images_root)
    return VideoSource(path)


class VideoError(HrtrackError):
    """The encoder failed or was given a bad frame; the message is one line."""


class VideoSink:
    """Stream BGR frames into an H.264 mp4 through ffmpeg (imageio-ffmpeg's bundled binary).

    Use as a context manager and call :meth:`write` once per frame. Frames go to ffmpeg's stdin as
    raw ``bgr24`` as they come (never buffered here), are encoded with libx264 to yuv420p and muxed
    with ``-movflags +faststart``. The file is written under a temp name in the destination folder
    and renamed on success, so ``path`` is either complete or untouched; on any error the temp file
    is removed and a one-line :class:`VideoError` carries ffmpeg's first (cause) and last stderr lines.

    With ``temp`` (a planned output's temp file, :class:`pose.files.OutputPlan`), ffmpeg writes there
    and :meth:`close` leaves the renaming to the plan; messages always name ``path``.

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
        temp: str | os.PathLike[str] | None = None,
    ) -> None:
        if int(width) <= 0 or int(height) <= 0:
            raise VideoError(f"{path}: invalid video size {width}x{height}")
        if not (math.isfinite(fps) and fps > 0):
            raise VideoError(f"{path}: invalid frame rate {fps}")
        self.path = Path(path)
        self.width, self.height = int(width), int(height)
        self.out_width, self.out_height = self.width + self.width % 2, self.height + self.height % 2
        self.fps = float(fps)
        self.crf = crf
        self.preset = preset
        self.frames = 0
        self._proc: Popen[bytes] | None = None
        self._tmp: Path | None = None
        self._planned = Path(temp) if temp is not None else None
        self._stderr: deque[str] = deque(maxlen=20)
        self._first_line: str | None = None
        self._reader: threading.Thread | None = None

    def __enter__(self) -> VideoSink:
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
            raise VideoError(f"no ffmpeg binary: {str(e).splitlines()[0]}") from None
        if self._planned is not None:
            self._tmp = self._planned
        else:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._tmp = temp_name(self.path, ".mp4")  # names its writer: swept if this one is killed
                self._tmp.touch(0o600, exist_ok=False)
            except OSError as e:
                raise VideoError(f"{self.path}: cannot write there ({e.strerror})") from None
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
            raise VideoError(f"cannot start ffmpeg {exe} ({e.strerror})") from None
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
            raise VideoError(f"{self.path}: writer is not open")
        if image.shape != (self.height, self.width, 3) or image.dtype != np.uint8:
            self.abort()
            raise VideoError(
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
            raise VideoError(f"{self.path}: writer is not open")
        if self.frames == 0:
            self.abort()
            raise VideoError(f"{self.path}: no frames to write")
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
        if self._planned is not None:  # the plan renames it, with the run's other outputs
            self._proc = None
            self._tmp = None
            return self.path
        try:
            os.chmod(self._tmp, default_mode())  # the temp was made owner-only
            os.replace(self._tmp, self.path)
            sweep_stale(self.path)
        except OSError as e:
            self._remove_tmp()
            raise VideoError(f"{self.path}: cannot write ({e.strerror})") from None
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
        raise VideoError(f"{self.path}: {what}: {self.ffmpeg_message()}")

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
