"""Small generated sequences with known motion for tracker tests.

Each "person" is a textured rectangle carrying a fixed 17-joint layout; it moves by a constant
velocity over a static textured background. Textures make optical flow well defined, and the GT
joints of every person in every frame are known exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from pose.keypoints import COCO
from pose.poses import Poses
from tracker.video import Frame

# Joint layout inside a person box of size 1x1 (x, y), COCO order: head at the top, feet at the bottom.
LAYOUT = np.array(
    [
        [0.50, 0.08],
        [0.45, 0.06],
        [0.55, 0.06],
        [0.40, 0.08],
        [0.60, 0.08],
        [0.30, 0.25],
        [0.70, 0.25],
        [0.22, 0.42],
        [0.78, 0.42],
        [0.18, 0.58],
        [0.82, 0.58],
        [0.38, 0.58],
        [0.62, 0.58],
        [0.36, 0.78],
        [0.64, 0.78],
        [0.35, 0.97],
        [0.65, 0.97],
    ],
    np.float32,
)


def texture(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Random colour texture with structure at several scales (uint8 BGR).

    Coarse blobs let flow pyramids find large motions; fine detail makes it precise.
    """
    out = np.zeros((h, w, 3), np.float32)
    for cell, weight in ((16, 0.5), (4, 0.3), (1, 0.2)):
        small = rng.uniform(0, 255, (max(2, h // cell), max(2, w // cell), 3)).astype(np.float32)
        out += weight * cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    return np.clip(out, 0, 255).astype(np.uint8)


@dataclass
class Walker:
    """A textured box of ``size`` (w, h) at ``start`` (top-left) moving by ``velocity`` px/frame."""

    start: tuple[float, float]
    velocity: tuple[float, float]
    size: tuple[int, int] = (60, 120)
    seed: int = 0

    def box(self, t: int) -> np.ndarray:
        x = self.start[0] + self.velocity[0] * t
        y = self.start[1] + self.velocity[1] * t
        return np.array([x, y, x + self.size[0], y + self.size[1]], np.float32)

    def joints(self, t: int) -> np.ndarray:
        """GT joints ``(17,3)``: x, y and 1."""
        b = self.box(t)
        xy = b[:2] + LAYOUT * np.array(self.size, np.float32)
        return np.concatenate([xy, np.ones((17, 1), np.float32)], 1)


def visible_joints(walkers: list[Walker], t: int) -> list[np.ndarray]:
    """Per walker, the joints ``(17,3)`` with score 0.9 where visible and 0.05 where a walker
    drawn later (in front) covers them, as a real pose network would report them."""
    out = []
    for i, w in enumerate(walkers):
        kp = w.joints(t)
        kp[:, 2] = 0.9
        for front in walkers[i + 1 :]:
            b = front.box(t)
            inside = (kp[:, 0] >= b[0]) & (kp[:, 0] < b[2]) & (kp[:, 1] >= b[1]) & (kp[:, 1] < b[3])
            kp[inside, 2] = 0.05
        out.append(kp)
    return out


def render(walkers: list[Walker], num_frames: int, shape=(240, 320), seed: int = 0) -> list[np.ndarray]:
    """Frames with the walkers drawn in list order (later ones in front), integer positions."""
    rng = np.random.default_rng(seed)
    background = texture(rng, *shape)
    skins = [texture(np.random.default_rng(100 + w.seed), w.size[1], w.size[0]) for w in walkers]
    frames = []
    for t in range(num_frames):
        img = background.copy()
        for w, skin in zip(walkers, skins, strict=True):
            x1, y1 = (round(v) for v in w.box(t)[:2])
            xa, ya = max(x1, 0), max(y1, 0)
            xb, yb = min(x1 + w.size[0], shape[1]), min(y1 + w.size[1], shape[0])
            if xb > xa and yb > ya:
                img[ya:yb, xa:xb] = skin[ya - y1 : yb - y1, xa - x1 : xb - x1]
        frames.append(img)
    return frames


class ScriptedDetector:
    """Detections = the walkers' boxes, except the (frame, walker) pairs listed in ``misses``."""

    def __init__(self, walkers: list[Walker], misses: set[tuple[int, int]] = frozenset()) -> None:
        self.walkers = walkers
        self.misses = misses

    def detect(self, frame: Frame) -> Poses:
        boxes = [w.box(frame.index) for i, w in enumerate(self.walkers) if (frame.index, i) not in self.misses]
        return Poses(np.array(boxes, np.float32).reshape(-1, 4), np.full(len(boxes), 0.9, np.float32))


class OracleEstimator:
    """Pose "estimation" that returns the GT joints of the walker best covered by each box.

    Joints hidden behind a walker in front get a low score, as from a real network.

    It stands in for the network so that tracker tests isolate association and propagation; a
    box that covers no walker (IoU < 0.3) yields a pose with zero scores.
    """

    def __init__(self, walkers: list[Walker]) -> None:
        self.walkers = walkers
        self.t = 0
        self.frame_of: dict[int, int] = {}  # id(image) -> frame index, filled by frames_of

    def clock(self, image: np.ndarray) -> None:
        """Set the oracle's time to the frame of ``image``: the pipeline decodes frames ahead of
        the estimator, so the source's position is not the estimator's frame."""
        self.t = self.frame_of.get(id(image), self.t)

    def __call__(self, image: np.ndarray, boxes: Poses | np.ndarray, scores: np.ndarray | None = None) -> Poses:
        from pose.poses import box_iou

        self.clock(image)
        given = boxes if isinstance(boxes, Poses) else Poses(boxes, np.ones(len(np.reshape(boxes, (-1, 4)))))
        boxes = given.boxes
        gt = np.array([w.box(self.t) for w in self.walkers], np.float32)
        iou = box_iou(boxes, gt)
        kp = np.zeros((len(boxes), 17, 3), np.float32)
        truth = visible_joints(self.walkers, self.t)
        for i in range(len(boxes)):
            j = int(iou[i].argmax()) if iou.shape[1] else -1
            if j >= 0 and iou[i, j] >= 0.3:
                kp[i] = truth[j]
        person = np.where(kp[:, :, 2].max(1) > 0, 0.9, 0.0).astype(np.float32)
        return given.with_(keypoints=kp, scores=person, layout=COCO)


def frames_of(images: list[np.ndarray], estimator: OracleEstimator | None = None):
    """Frames for the pipeline; tells the oracle which frame each image is."""
    for i, img in enumerate(images):
        if estimator is not None:
            estimator.frame_of[id(img)] = i
        yield Frame(img, i, f"{i:06d}.jpg")


def true_flow(walkers: list[Walker], t: int, shape: tuple[int, int]) -> np.ndarray:
    """The exact flow from frame t to t+1 of :func:`render`: 0 on the background, each walker's
    velocity on the pixels where it is in front (the visible surface moves with it)."""
    flow = np.zeros((*shape, 2), np.float32)
    for w in walkers:  # later walkers are drawn in front
        x1, y1 = (round(v) for v in w.box(t)[:2])
        xa, ya = max(x1, 0), max(y1, 0)
        xb, yb = min(x1 + w.size[0], shape[1]), min(y1 + w.size[1], shape[0])
        if xb > xa and yb > ya:
            flow[ya:yb, xa:xb] = w.velocity
    return flow


class KnownFlow:
    """A flow "method" that returns the exact flow of a rendered sequence, frame pair by pair."""

    def __init__(self, walkers: list[Walker], shape: tuple[int, int]) -> None:
        self.walkers = walkers
        self.shape = shape
        self.t = 0

    def compute(self, prev: np.ndarray, nxt: np.ndarray) -> np.ndarray:
        flow = true_flow(self.walkers, self.t, self.shape)
        self.t += 1
        return flow


class MisalignedOracle(OracleEstimator):
    """A pose "estimator" that errs like a real network when the box is off the person.

    For each box, the walker it overlaps most (IoU ``v``): its visible joints, pulled towards the
    box centre by ``1 - v`` of the offset between the box centre and the walker's, with joint
    scores multiplied by ``v``; the person score is then the estimator's (mean joint score above
    0.2 times the box score). A box on no walker (IoU < 0.1) gives zero scores. Two boxes on one
    person therefore give two different poses with different scores, as propagated copies and
    detections do in the real pipeline.
    """

    def __call__(self, image: np.ndarray, boxes: Poses | np.ndarray, scores: np.ndarray | None = None) -> Poses:
        from pose.estimator import person_scores
        from pose.poses import box_iou

        self.clock(image)
        given = boxes if isinstance(boxes, Poses) else Poses(boxes, np.ones(len(np.reshape(boxes, (-1, 4)))))
        gt = np.array([w.box(self.t) for w in self.walkers], np.float32)
        iou = box_iou(given.boxes, gt)
        kp = np.zeros((len(given), 17, 3), np.float32)
        truth = visible_joints(self.walkers, self.t)
        for i, box in enumerate(given.boxes):
            j = int(iou[i].argmax()) if iou.shape[1] else -1
            if j < 0 or iou[i, j] < 0.1:
                continue
            v = float(iou[i, j])
            offset = (box[:2] + box[2:]) / 2 - (gt[j, :2] + gt[j, 2:]) / 2
            kp[i, :, :2] = truth[j][:, :2] + (1 - v) * offset
            kp[i, :, 2] = truth[j][:, 2] * v
        person = person_scores(kp[:, :, 2], given.scores)
        return given.with_(keypoints=kp, scores=person, layout=COCO)
