"""Ground-truth person boxes from a PoseTrack annotation (the paper's "GT box" setting).

Each annotated person's box is the box around its annotated joints enlarged by 15 % (the
PoseTrack person-box convention used for training, REFERENCE §1), with score 1. Frames are found
by image name, or by position when the names do not match (e.g. tracking the sequence's video).
Unlabelled frames have no boxes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pose.poses import Poses
from tracker.video import Frame

ENLARGE = 0.15


def person_box(joints: np.ndarray, enlarge: float = ENLARGE) -> np.ndarray | None:
    """xyxy box around ``(J,2)`` joints, enlarged by ``enlarge`` about its centre; None if < 2 joints."""
    if len(joints) < 2:
        return None
    lo, hi = joints.min(0), joints.max(0)
    centre, half = (lo + hi) / 2, (hi - lo) * (1 + enlarge) / 2
    return np.concatenate([centre - half, centre + half]).astype(np.float32)


class GtBoxes:
    """Boxes of the annotated people of a PoseTrack 2017/2018 sequence file."""

    def __init__(self, annotation: str | Path) -> None:
        from eval.posetrack import read_sequence

        seq = read_sequence(annotation)
        self.path = Path(annotation)
        self.by_name: dict[str, Poses] = {}
        self.by_index: list[Poses] = []
        for frame in seq.frames:
            boxes = []
            for person in frame.people:
                box = person_box(person.joints[person.present])
                if box is not None:
                    boxes.append(box)
            det = Poses(np.array(boxes, np.float32).reshape(-1, 4), np.ones(len(boxes), np.float32))
            self.by_name[frame.image] = det
            self.by_name.setdefault(Path(frame.image).name, det)
            self.by_index.append(det)

    def detect(self, frame: Frame) -> Poses:
        for key in (frame.name, Path(frame.name).name):
            if key in self.by_name:
                return self.by_name[key]
        if 0 <= frame.index < len(self.by_index):
            return self.by_index[frame.index]
        return Poses()
