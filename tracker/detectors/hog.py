"""OpenCV's built-in HOG + linear SVM people detector: the zero-weights default.

It needs no model file, which is why it is the embedded default, but it is weak: trained on
upright pedestrians about 64x128 pixels and larger, it misses sitting, bending, small, occluded and
partly visible people and gives loose boxes. Use an ONNX detector (``onnx:PATH``) for real work.
"""

from __future__ import annotations

import cv2
import numpy as np

from pose.poses import Poses, box_nms, clip_boxes
from tracker.video import Frame


class HogDetector:
    """People detection with ``cv2.HOGDescriptor_getDefaultPeopleDetector``.

    Args:
        score_threshold: minimum SVM margin (OpenCV's weight) to keep a window.
        max_side: frames are downscaled so that their longer side is at most this (speed).
        upscale: frames whose longer side is below ``max_side / 2`` are upscaled x2 first, since
            HOG cannot find people smaller than its 64x128 window.
    """

    def __init__(self, score_threshold: float = 0.3, max_side: int = 960, nms_threshold: float = 0.5) -> None:
        self.hog = cv2.HOGDescriptor()
        self.hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
        self.score_threshold = score_threshold
        self.max_side = max_side
        self.nms_threshold = nms_threshold

    def detect(self, frame: Frame) -> Poses:
        image = frame.image
        h, w = image.shape[:2]
        factor = min(1.0, self.max_side / max(h, w))
        if max(h, w) * 2 <= self.max_side:
            factor = 2.0
        small = cv2.resize(image, (round(w * factor), round(h * factor))) if factor != 1.0 else image
        rects, weights = self.hog.detectMultiScale(small, winStride=(8, 8), padding=(8, 8), scale=1.05)
        if len(rects) == 0:
            return Poses()
        rects = np.asarray(rects, np.float32).reshape(-1, 4) / factor
        scores = np.asarray(weights, np.float32).reshape(-1)
        boxes = np.concatenate([rects[:, :2], rects[:, :2] + rects[:, 2:]], 1)
        keep = scores >= self.score_threshold
        boxes, scores = clip_boxes(boxes[keep], w, h), scores[keep]
        order = box_nms(boxes, scores, self.nms_threshold)
        # map the SVM margin to (0, 1) so that it composes with pose scores like other detectors
        return Poses(boxes[order], 1.0 / (1.0 + np.exp(-scores[order])))
