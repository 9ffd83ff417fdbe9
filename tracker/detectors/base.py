"""The detector contract: one frame in, person boxes and scores out.

A detector is any object with ``detect(frame) -> Poses``: a :class:`pose.poses.Poses` with boxes
``(N,4)`` xyxy float32 and scores ``(N,)`` (no keypoints yet). :class:`tracker.video.Frame` carries
the image and what precomputed detectors need to find their entries (the frame index, the image
file name and the dataset image id).
"""

from __future__ import annotations

from typing import Protocol

from pose.poses import Poses
from tracker.video import Frame


class Detector(Protocol):
    """Anything that finds people in a frame."""

    def detect(self, frame: Frame) -> Poses: ...
