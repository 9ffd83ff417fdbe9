"""Training augmentation of the official HRNet COCO recipe (REFERENCE §1), with a seeded RNG.

One person sample goes through, in this order (the order of the official data pipeline):

1. **half-body** (probability 0.3, only when more than 8 joints are visible): the crop is replaced
   by a box around either the upper-body joints (0-10, chosen when ``randn() < 0.5`` i.e. ~69 %)
   or the lower-body joints (11-16), each half needing more than 2 visible joints, centred on the
   mean of those joints, padded to the input aspect ratio and enlarged x1.5. It teaches
   the network people that are cut by the image border or occluded;
2. **scale** ``s * clip(N(1, 0.35), 0.65, 1.35)``;
3. **rotation** ``clip(N(0, 45), -90, 90)`` degrees with probability 0.6, else 0;
4. **horizontal flip** (probability 0.5): the image is mirrored, ``x' = w - 1 - x`` for the joints
   and for the crop centre, and left/right joint pairs are swapped;
5. **affine warp** (bilinear) of the image to the input size; the joints are mapped with the same
   matrix and those that land outside the input get visibility 0.

Every random number comes from the ``numpy.random.Generator`` passed in, so that a sample is a
pure function of (record, seed): runs are reproducible whatever the number of loader workers.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from pose.decode import COCO_FLIP_PAIRS
from pose.transforms import PIXEL_STD, get_affine_transform

UPPER_BODY_IDS = tuple(range(11))  # nose, eyes, ears, shoulders, elbows, wrists
LOWER_BODY_IDS = tuple(range(11, 17))  # hips, knees, ankles


@dataclass(frozen=True)
class AugmentConfig:
    """Parameters of the training augmentation; the defaults are the official COCO yaml values.

    ``flip_pairs``: left/right joint pairs swapped by a flip. PoseTrack 2018 uses slots 1 and 2
    for head_bottom / head_top, which are not a left/right pair: use ``POSETRACK18_FLIP_PAIRS``
    (from :mod:`pose.train.data`) for it.
    """

    scale_factor: float = 0.35
    rotation_factor: float = 45.0
    rotation_prob: float = 0.6
    flip_prob: float = 0.5
    half_body_prob: float = 0.3
    half_body_min_joints: int = 8  # half-body only when MORE than this many joints are visible
    half_body_scale: float = 1.5
    upper_body_ids: tuple[int, ...] = UPPER_BODY_IDS
    flip_pairs: tuple[tuple[int, int], ...] = COCO_FLIP_PAIRS


NO_AUGMENT = AugmentConfig(scale_factor=0.0, rotation_factor=0.0, rotation_prob=0.0, flip_prob=0.0, half_body_prob=0.0)
"""Validation setting: the plain box crop, no randomness consumed that changes the result."""


@dataclass
class AugmentedSample:
    """A warped person crop and its joints.

    image: ``(H,W,3)`` uint8 crop (same channel order as the input image).
    joints: ``(K,3)`` float32: x, y in input pixels and visibility (0 when outside the input).
    center, scale: the crop's final center (image pixels, after a flip: in the mirrored image)
        and scale (units of 200 px); rotation in degrees; flipped: whether the image was mirrored.
    matrix: the 2x3 affine from the (possibly mirrored) image to the crop.
    """

    image: np.ndarray
    joints: np.ndarray
    center: np.ndarray
    scale: np.ndarray
    rotation: float
    flipped: bool
    matrix: np.ndarray


def affine_points(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Apply a 2x3 affine ``matrix`` to points ``(N,2)`` -> ``(N,2)`` float64."""
    pts = np.asarray(points, np.float64).reshape(-1, 2)
    m = np.asarray(matrix, np.float64)
    return pts @ m[:, :2].T + m[:, 2]


def flip_joints(
    joints: np.ndarray, image_width: int, pairs: tuple[tuple[int, int], ...] = COCO_FLIP_PAIRS
) -> np.ndarray:
    """Joints ``(K,3)`` of an image mirrored horizontally: ``x' = w - 1 - x``, left/right swapped.

    Invisible joints are kept at their (mirrored) coordinates; visibility travels with the swap.
    """
    out = np.array(joints, dtype=np.float64, copy=True)
    out[:, 0] = image_width - 1 - out[:, 0]
    for a, b in pairs:
        if a < len(out) and b < len(out):
            out[[a, b]] = out[[b, a]]
    return out


def half_body_center_scale(
    joints: np.ndarray,
    rng: np.random.Generator,
    aspect_ratio: float,
    upper_ids: tuple[int, ...] = UPPER_BODY_IDS,
    enlarge: float = 1.5,
) -> tuple[np.ndarray, np.ndarray] | None:
    """Center and scale of a half-body crop, or None when the chosen half has fewer than 3 joints.

    Official HRNet semantics: the upper half is chosen when ``rng.standard_normal() < 0.5`` (a
    standard normal draw, so about 69 % of the time) and it has MORE than 2 visible joints;
    otherwise the lower half if it has more than 2, else the upper half again. A half with 2 or
    fewer joints spans too little of the body to define a useful box, hence None. The center is
    the mean of the chosen joints; the box spanning them is padded to ``aspect_ratio`` (width /
    height) and enlarged by ``enlarge`` (no extra 1.25 box padding, as in the official code).
    Uses exactly one draw from ``rng``.
    """
    visible = joints[:, 2] > 0
    is_upper = np.zeros(len(joints), bool)
    is_upper[[i for i in upper_ids if i < len(joints)]] = True
    upper = joints[visible & is_upper, :2]
    lower = joints[visible & ~is_upper, :2]
    pick_upper = rng.standard_normal() < 0.5
    selected = upper if pick_upper and len(upper) > 2 else (lower if len(lower) > 2 else upper)
    if len(selected) <= 2:
        return None
    center = selected.mean(axis=0)
    w, h = selected.max(axis=0) - selected.min(axis=0)
    if w > aspect_ratio * h:
        h = w / aspect_ratio
    else:
        w = h * aspect_ratio
    if w <= 0 or h <= 0:
        return None
    scale = np.array([w, h], np.float64) / PIXEL_STD * enlarge
    return center.astype(np.float64), scale


def augment(
    image: np.ndarray,
    joints: np.ndarray,
    center: np.ndarray,
    scale: np.ndarray,
    input_size: tuple[int, int],
    rng: np.random.Generator,
    config: AugmentConfig = NO_AUGMENT,
) -> AugmentedSample:
    """Augment one person and warp it to ``input_size`` (width, height).

    ``joints`` is ``(K,3)`` in image pixels with visibility (> 0 means labelled); ``center`` and
    ``scale`` come from :func:`pose.transforms.box_to_center_scale`. The random draws happen in a
    fixed order (half-body, scale, rotation, flip), each only when its probability is non-zero, so
    the same ``rng`` state always yields the same sample.
    """
    out_w, out_h = input_size
    joints = np.asarray(joints, np.float64).copy()
    joints[:, 2] = (joints[:, 2] > 0).astype(np.float64)
    center = np.asarray(center, np.float64).copy()
    scale = np.asarray(scale, np.float64).copy()
    cfg = config

    if cfg.half_body_prob > 0 and joints[:, 2].sum() > cfg.half_body_min_joints and rng.random() < cfg.half_body_prob:
        half = half_body_center_scale(joints, rng, out_w / out_h, cfg.upper_body_ids, cfg.half_body_scale)
        if half is not None:
            center, scale = half

    if cfg.scale_factor > 0:
        sf = cfg.scale_factor
        scale = scale * float(np.clip(rng.standard_normal() * sf + 1.0, 1.0 - sf, 1.0 + sf))

    rotation = 0.0
    if cfg.rotation_prob > 0 and cfg.rotation_factor > 0:
        rf = cfg.rotation_factor
        r = float(np.clip(rng.standard_normal() * rf, -2.0 * rf, 2.0 * rf))
        rotation = r if rng.random() < cfg.rotation_prob else 0.0

    flipped = bool(cfg.flip_prob > 0 and rng.random() < cfg.flip_prob)
    if flipped:
        width = image.shape[1]
        image = image[:, ::-1]
        joints = flip_joints(joints, width, cfg.flip_pairs)
        center[0] = width - 1 - center[0]

    matrix = get_affine_transform(center, scale, rotation, (out_w, out_h))
    crop = cv2.warpAffine(np.ascontiguousarray(image), matrix, (out_w, out_h), flags=cv2.INTER_LINEAR)
    xy = affine_points(joints[:, :2], matrix)
    inside = (xy[:, 0] >= 0) & (xy[:, 0] < out_w) & (xy[:, 1] >= 0) & (xy[:, 1] < out_h)
    vis = joints[:, 2] * inside
    out_joints = np.concatenate([xy, vis[:, None]], axis=1).astype(np.float32)
    return AugmentedSample(crop, out_joints, center, scale, rotation, flipped, np.asarray(matrix, np.float64))
