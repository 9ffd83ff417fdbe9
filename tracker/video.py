"""Frame sources: a video file, a folder of frames, or a list of image files, read as a stream.

Every source yields :class:`~tracker.detectors.base.Frame` objects one at a time, so memory does
not grow with the video's length. A frame that fails to decode is yielded with ``image=None`` and
counted in ``failed`` (the tracker writes it as a frame without people and keeps its ids), so the
output always has one entry per input frame.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from tracker.detectors.base import Frame

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}
VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv"}


class SourceError(ValueError):
    """An input that cannot be read at all; the message is one line naming the file."""


def read_image(path: str | os.PathLike[str]) -> np.ndarray | None:
    """A BGR uint8 image, or None if the file is missing or cannot be decoded."""
    data = np.fromfile(str(path), np.uint8) if os.path.isfile(path) else None
    if data is None or data.size == 0:
        return None
    image = cv2.imdecode(data, cv2.IMREAD_COLOR)
    return image


class VideoSource:
    """Frames of a video file decoded one by one with OpenCV."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise SourceError(f"{self.path}: video file not found")
        cap = cv2.VideoCapture(str(self.path))
        ok = cap.isOpened()
        first = cap.read()[1] if ok else None
        self.fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0) or 25.0
        count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        cap.release()
        if first is None:
            raise SourceError(f"{self.path}: not a readable video (no frame could be decoded)")
        self.height, self.width = first.shape[:2]
        self.count = max(count, 1)
        self.failed = 0

    def __len__(self) -> int:
        """Frame count from the container (an estimate for some formats)."""
        return self.count

    def __iter__(self) -> Iterator[Frame]:
        cap = cv2.VideoCapture(str(self.path))
        index = 0
        try:
            while True:
                if not cap.grab():
                    # End of stream, or a frame the demuxer cannot read: skip it if frames remain.
                    if index < self.count - 1 and cap.get(cv2.CAP_PROP_POS_FRAMES) < self.count:
                        self.failed += 1
                        yield Frame(None, index, f"frame_{index:06d}")
                        index += 1
                        cap.set(cv2.CAP_PROP_POS_FRAMES, index)
                        continue
                    break
                ok, image = cap.retrieve()
                if not ok or image is None:
                    self.failed += 1
                    image = None
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
        first = next((img for img in (read_image(p) for p in paths[:10]) if img is not None), None)
        if first is None:
            raise SourceError(f"{label or paths[0]}: none of the first frames can be read (e.g. {paths[0]})")
        self.height, self.width = first.shape[:2]

    def __len__(self) -> int:
        return len(self.paths)

    def __iter__(self) -> Iterator[Frame]:
        for index, (path, name, image_id) in enumerate(zip(self.paths, self.names, self.image_ids, strict=True)):
            image = read_image(path)
            if image is None:
                self.failed += 1
            elif image.shape[:2] != (self.height, self.width):
                image = cv2.resize(image, (self.width, self.height))
            yield Frame(image, index, name, image_id)


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
