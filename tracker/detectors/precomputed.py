"""Precomputed detections from a COCO results file (how PoseTrack results are usually produced).

The file is a json list of ``{"image_id", "category_id", "bbox": [x, y, w, h], "score"}``. Entries
are found by the frame's dataset image id, or by file name when ``image_id`` holds a name (or an
entry has ``file_name``/``image_name``): the full relative name first, then the base name.
Only category 1 (person) is used when a category is given.
"""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path

import numpy as np

from eval.posetrack import load_json
from pose.errors import HrtrackError
from pose.poses import Poses
from tracker.video import Frame

PERSON_CATEGORY = 1


class JsonDetections:
    """Detections looked up per frame in a COCO results json."""

    def __init__(self, path: str | Path, score_threshold: float = 0.0) -> None:
        path = Path(path)
        if not path.is_file():
            raise HrtrackError(f"{path}: detections file not found")
        entries = load_json(path)  # one line naming the file: malformed json, not UTF-8, unreadable
        if isinstance(entries, dict) and "annotations" in entries:
            entries = entries["annotations"]
        if not isinstance(entries, list):
            raise HrtrackError(f"{path}: expected a list of COCO results ({{image_id, bbox, score}})")
        self.path = path
        self.by_key: dict[object, list[tuple[list[float], float]]] = defaultdict(list)
        for i, e in enumerate(entries):  # every entry checked when the file is read, before any frame
            if not isinstance(e, dict) or "bbox" not in e:
                raise HrtrackError(f"{path}: entry {i} has no bbox")
            key = e.get("image_id", e.get("file_name", e.get("image_name")))
            where = f"{path}: entry {i} (image {key!r})"
            if key is None or isinstance(key, (bool, list, dict)) or (isinstance(key, float) and not key.is_integer()):
                raise HrtrackError(f"{where}: names no image (image_id: a number or a file name)")
            try:
                bbox = [float(v) for v in e["bbox"]]
            except (TypeError, ValueError):
                raise HrtrackError(f"{where}: bbox must be 4 numbers [x, y, w, h], got {e['bbox']!r}") from None
            if len(bbox) != 4 or not all(math.isfinite(v) for v in bbox) or bbox[2] < 0 or bbox[3] < 0:
                raise HrtrackError(f"{where}: bbox must be [x, y, w, h], finite, with w and h >= 0, got {bbox}")
            score = e.get("score", 1.0)
            if isinstance(score, bool) or not isinstance(score, (int, float)) or not math.isfinite(score):
                raise HrtrackError(f"{where}: score must be a finite number, got {score!r}")
            if e.get("category_id", PERSON_CATEGORY) != PERSON_CATEGORY or score < score_threshold:
                continue
            if isinstance(key, str) and not key.isdigit():
                self.by_key[key].append((bbox, float(score)))
                self.by_key[Path(key).name].append((bbox, float(score)))
            else:
                self.by_key[int(key)].append((bbox, float(score)))

    def detect(self, frame: Frame) -> Poses:
        """The file's person boxes for this frame (none if the frame has no entry)."""
        found = None
        for key in (frame.image_id, frame.name, Path(frame.name).name if frame.name else None):
            if key is not None and key in self.by_key:
                found = self.by_key[key]
                break
        if not found:
            return Poses()
        xywh = np.array([b for b, _ in found], np.float32)
        boxes = np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], 1)
        return Poses(boxes, np.array([s for _, s in found], np.float32))
