"""Precomputed detections from a COCO results file (how PoseTrack results are usually produced).

The file is a json list of ``{"image_id", "category_id", "bbox": [x, y, w, h], "score"}``. Entries
are found by the frame's dataset image id, or by file name when ``image_id`` holds a name (or an
entry has ``file_name``/``image_name``): the full relative name first, then the base name.
Only category 1 (person) is used when a category is given.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import numpy as np

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
        try:
            entries = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise HrtrackError(f"{path}: malformed json at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
        if isinstance(entries, dict) and "annotations" in entries:
            entries = entries["annotations"]
        if not isinstance(entries, list):
            raise HrtrackError(f"{path}: expected a list of COCO results ({{image_id, bbox, score}})")
        self.path = path
        self.by_key: dict[object, list[tuple[list[float], float]]] = defaultdict(list)
        for i, e in enumerate(entries):
            if not isinstance(e, dict) or "bbox" not in e:
                raise HrtrackError(f"{path}: entry {i} has no bbox")
            if e.get("category_id", PERSON_CATEGORY) != PERSON_CATEGORY:
                continue
            score = float(e.get("score", 1.0))
            if score < score_threshold:
                continue
            bbox = e["bbox"]
            if len(bbox) != 4:
                raise HrtrackError(f"{path}: entry {i} bbox must be [x, y, w, h], got {bbox}")
            key = e.get("image_id", e.get("file_name", e.get("image_name")))
            if isinstance(key, str) and not key.isdigit():
                self.by_key[key].append((bbox, score))
                self.by_key[Path(key).name].append((bbox, score))
            else:
                self.by_key[int(key)].append((bbox, score))

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
