"""Annotators: tracked poses, ground truth and trails drawn on a frame, in place.

Predictions use a saturated colour per track id (golden-ratio hue steps, so neighbouring ids
differ), thick limbs and filled joints, with the limbs of the poses' own keypoint layout (COCO,
PoseTrack 2018 slots, or poseval's 15 joints for PoseTrack files); ground truth is drawn thin and
white with hollow joint rings and ``GT<id>`` labels, so both can be inspected together.
"""

from __future__ import annotations

import colorsys
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from eval.posetrack import Person
from pose.errors import HrtrackError
from pose.keypoints import POSEVAL
from pose.poses import Poses

GOLDEN_RATIO_CONJUGATE = 0.6180339887498949
GT_COLOUR = (255, 255, 255)
UNKNOWN_ID_COLOUR = (160, 160, 160)


class RenderError(HrtrackError):
    """A rendering input or the encoder failed; the message is one line."""


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


def draw_label(
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
    poses: Poses,
    joint_threshold: float = 0.3,
    show_boxes: bool = False,
    trails: Mapping[int, Sequence[tuple[float, float]]] | None = None,
    labels: bool = True,
    style: Style | None = None,
) -> np.ndarray:
    """Draw tracked poses on ``image`` in place (and return it).

    The limbs are the skeleton of the poses' layout (``poses.layout``; without one, joints only).
    A limb is drawn when both its joints score at least ``joint_threshold``, a joint when it does.
    Each pose is drawn in its track id's colour (:func:`track_colour`; no id: grey ``?``) with its id
    as a label, placed at its box (a NaN box row: unknown, the label goes above the joints);
    ``show_boxes`` outlines the known boxes. ``trails`` maps a track id to its recent centres,
    oldest first (kept by the caller across frames, :class:`TrailState`), drawn as a polyline that
    thickens towards the present.
    """
    if poses.keypoints is None:
        raise RenderError("poses without keypoints cannot be drawn")
    kp = poses.keypoints.astype(np.float64)
    ids = poses.track_ids if poses.track_ids is not None else np.full(len(poses), -1, np.int64)
    box_arr = poses.boxes.astype(np.float64)
    st = style or Style.for_image(image)
    skeleton = poses.layout.skeleton if poses.layout is not None else ()
    valid = _valid_joints(kp, joint_threshold)

    for tid, points in (trails or {}).items():
        pts = [p for p in points if np.isfinite(p).all()]
        colour = track_colour(int(tid))
        for k in range(1, len(pts)):
            t = max(1, round(st.thickness * k / (len(pts) - 1)))
            cv2.line(image, _pt(pts[k - 1]), _pt(pts[k]), colour, t, cv2.LINE_AA)

    for i in range(len(kp)):
        colour = track_colour(int(ids[i]))
        box = box_arr[i]
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
            anchor = _label_anchor(kp[i], valid[i], box_arr[i])
            if anchor is not None:
                text = str(int(ids[i])) if ids[i] >= 0 else "?"
                draw_label(image, text, anchor, track_colour(int(ids[i])), st.font_scale)
    return image


def annotate(image: np.ndarray | None, poses: Poses, width: int, height: int, **options: object) -> np.ndarray:
    """A copy of the frame (black when it could not be decoded, resized to ``width`` x ``height``)
    with ``poses`` drawn (:func:`draw_poses` ``options``)."""
    canvas = np.zeros((height, width, 3), np.uint8) if image is None else image.copy()
    if canvas.shape[:2] != (height, width):
        canvas = cv2.resize(canvas, (width, height))
    if len(poses):
        draw_poses(canvas, poses, **options)
    return canvas


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
        for a, b in POSEVAL.skeleton:
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


class TrailState:
    """The last ``length`` centres of each track, for :func:`draw_poses`' ``trails``."""

    def __init__(self, length: int) -> None:
        self.length = length
        self.points: dict[int, deque[tuple[float, float]]] = {}
        self.last_seen: dict[int, int] = {}

    def update(self, index: int, poses: Poses | None) -> dict[int, list[tuple[float, float]]]:
        """Add this frame's centres (:func:`pose_centres`); returns the trails of the tracks present in it."""
        present = []
        if poses is not None and self.length > 0 and poses.track_ids is not None:
            for tid, c in zip(poses.track_ids.tolist(), pose_centres(poses), strict=True):
                if np.isfinite(c).all():
                    self.points.setdefault(tid, deque(maxlen=self.length)).append((float(c[0]), float(c[1])))
                    self.last_seen[tid] = index
                    present.append(tid)
        for tid in [t for t, seen in self.last_seen.items() if index - seen > self.length]:
            del self.points[tid], self.last_seen[tid]
        return {tid: list(self.points[tid]) for tid in present}


def pose_centres(poses: Poses) -> np.ndarray:
    """``(N, 2)`` box centres, or the mean of the joints with finite coordinates where the box is unknown."""
    boxes = poses.boxes.astype(np.float64)
    out = (boxes[:, :2] + boxes[:, 2:]) / 2
    kp = poses.keypoints.astype(np.float64) if poses.keypoints is not None else None
    for i in np.flatnonzero(~np.isfinite(out).all(axis=1)):
        good = np.isfinite(kp[i]).all(axis=1) if kp is not None else np.zeros(0, bool)
        out[i] = kp[i, good, :2].mean(axis=0) if good.any() else np.nan
    return out
