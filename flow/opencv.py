"""OpenCV optical flow: DIS (the default: fast and good on video) and Farneback."""

from __future__ import annotations

import cv2
import numpy as np

from pose.errors import HrtrackError

DIS_PRESETS = {
    "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
    "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
    "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
}


def _grey(image: np.ndarray) -> np.ndarray:
    return image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)


class DisFlow:
    """Dense Inverse Search flow (Kroeger et al. 2016) with an OpenCV preset."""

    def __init__(self, preset: str = "medium") -> None:
        if preset not in DIS_PRESETS:
            raise HrtrackError(f"unknown DIS preset {preset!r}: use " + ", ".join(DIS_PRESETS))
        self.preset = preset
        self.dis = cv2.DISOpticalFlow_create(DIS_PRESETS[preset])

    def compute(self, prev: np.ndarray, nxt: np.ndarray) -> np.ndarray:
        return self.dis.calc(_grey(prev), _grey(nxt), None)


class FarnebackFlow:
    """Gunnar Farneback's polynomial-expansion flow (OpenCV defaults tuned for video)."""

    def __init__(self, levels: int = 4, winsize: int = 21, iterations: int = 3) -> None:
        self.levels = levels
        self.winsize = winsize
        self.iterations = iterations

    def compute(self, prev: np.ndarray, nxt: np.ndarray) -> np.ndarray:
        return cv2.calcOpticalFlowFarneback(
            _grey(prev), _grey(nxt), None, 0.5, self.levels, self.winsize, self.iterations, 5, 1.1, 0
        )
