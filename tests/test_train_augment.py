"""Training augmentation geometry: joints follow the image warp, flips mirror exactly, seeds repeat."""

from __future__ import annotations

import numpy as np
import pytest

from pose.decode import COCO_FLIP_PAIRS, flip_permutation
from pose.train.augment import (
    NO_AUGMENT,
    AugmentConfig,
    affine_points,
    augment,
    flip_joints,
    half_body_center_scale,
)
from pose.transforms import box_to_center_scale, get_affine_transform

IN_W, IN_H = 48, 64


def _person(rng: np.random.Generator, width: int = 160, height: int = 120) -> tuple[np.ndarray, np.ndarray]:
    """A random image and 17 visible joints well inside it."""
    image = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    joints = np.ones((17, 3))
    joints[:, 0] = rng.uniform(50, 110, 17)
    joints[:, 1] = rng.uniform(20, 100, 17)
    return image, joints


def _center_scale(joints: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    box = np.array([[joints[:, 0].min(), joints[:, 1].min(), joints[:, 0].max(), joints[:, 1].max()]])
    c, s = box_to_center_scale(box, IN_W / IN_H)
    return c[0], s[0]


def _draw_dots(shape: tuple[int, int], joints: np.ndarray) -> np.ndarray:
    image = np.zeros((*shape, 3), np.uint8)
    for j, (x, y, _) in enumerate(joints):
        image[int(y), int(x)] = 10 + 10 * j
    return image


def test_joints_follow_the_affine_of_the_crop() -> None:
    rng = np.random.default_rng(0)
    image, joints = _person(rng)
    center, scale = _center_scale(joints)
    cfg = AugmentConfig(flip_prob=0.0, half_body_prob=0.0, rotation_prob=1.0)
    for seed in range(5):
        out = augment(image, joints, center, scale, (IN_W, IN_H), np.random.default_rng(seed), cfg)
        expected = get_affine_transform(out.center, out.scale, out.rotation, (IN_W, IN_H))
        np.testing.assert_allclose(out.matrix, expected, atol=1e-9)
        np.testing.assert_allclose(out.joints[:, :2], affine_points(joints[:, :2], expected), atol=1e-4)
        assert out.image.shape == (IN_H, IN_W, 3)
        inside = (
            (out.joints[:, 0] >= 0) & (out.joints[:, 0] < IN_W) & (out.joints[:, 1] >= 0) & (out.joints[:, 1] < IN_H)
        )
        np.testing.assert_array_equal(out.joints[:, 2], inside.astype(np.float32))


def test_rotated_joint_lands_where_the_image_pixel_goes() -> None:
    """A bright pixel at a joint ends up (after warping) at the joint's transformed position."""
    image = np.zeros((120, 160, 3), np.uint8)
    image[60 - 2 : 60 + 3, 90 - 2 : 90 + 3] = 255  # 5x5 blob centred on (90, 60)
    joints = np.zeros((17, 3))
    joints[0] = [90, 60, 1]
    cfg = AugmentConfig(scale_factor=0.0, rotation_prob=1.0, flip_prob=0.0, half_body_prob=0.0)
    out = augment(
        image, joints, np.array([80.0, 60.0]), np.array([0.5, 0.5]), (IN_W, IN_H), np.random.default_rng(3), cfg
    )
    assert out.rotation != 0
    gray = out.image[..., 0].astype(np.float64)
    ys, xs = np.nonzero(gray > 0)
    w = gray[ys, xs]
    centroid = np.array([(xs * w).sum() / w.sum(), (ys * w).sum() / w.sum()])
    np.testing.assert_allclose(centroid, out.joints[0, :2], atol=0.3)


def test_flip_joints_swaps_pairs_and_mirrors_x() -> None:
    joints = np.arange(17 * 3, dtype=np.float64).reshape(17, 3)
    flipped = flip_joints(joints, 100)
    perm = flip_permutation(17)
    np.testing.assert_array_equal(flipped[:, 0], 99 - joints[perm, 0])
    np.testing.assert_array_equal(flipped[:, 1:], joints[perm, 1:])
    np.testing.assert_array_equal(flip_joints(flipped, 100), joints)  # an involution


def test_flip_mirrors_the_crop_exactly() -> None:
    """Flipped and unflipped crops of the same box are mirror images: x' = W_in - x."""
    rng = np.random.default_rng(1)
    image, joints = _person(rng)
    center = np.array([80.0, 60.0])  # integer center, 1 source px per crop px: exact sampling
    scale = np.array([IN_W / 200.0, IN_H / 200.0])
    plain = augment(image, joints, center, scale, (IN_W, IN_H), rng, NO_AUGMENT)
    cfg = AugmentConfig(scale_factor=0.0, rotation_prob=0.0, flip_prob=1.0, half_body_prob=0.0)
    flip = augment(image, joints, center, scale, (IN_W, IN_H), np.random.default_rng(5), cfg)
    assert flip.flipped and not plain.flipped
    assert flip.center[0] == 160 - 1 - 80
    perm = flip_permutation(17)
    np.testing.assert_allclose(flip.joints[:, 0], IN_W - plain.joints[perm, 0], atol=1e-4)
    np.testing.assert_allclose(flip.joints[:, 1], plain.joints[perm, 1], atol=1e-4)
    # Pixel column j of the flipped crop samples the same source pixel as column W_in - j.
    np.testing.assert_array_equal(flip.image[:, 1:], plain.image[:, ::-1][:, :-1])


def test_flip_of_real_joint_pixels() -> None:
    """Dots drawn at the joints are found at the flipped joints' positions (pairs swapped)."""
    rng = np.random.default_rng(2)
    joints = np.ones((17, 3))
    joints[:, 0] = rng.integers(50, 110, 17)
    joints[:, 1] = rng.integers(40, 80, 17)
    image = _draw_dots((120, 160), joints)
    center, scale = np.array([79.0, 60.0]), np.array([IN_W / 200.0, IN_H / 200.0])
    cfg = AugmentConfig(scale_factor=0.0, rotation_prob=0.0, flip_prob=1.0, half_body_prob=0.0)
    out = augment(image, joints, center, scale, (IN_W, IN_H), rng, cfg)
    for x, y, v in out.joints:
        if v > 0:
            assert out.image[round(float(y)), round(float(x)), 0] > 0


def test_seeded_rng_gives_identical_samples() -> None:
    image, joints = _person(np.random.default_rng(4))
    center, scale = _center_scale(joints)
    cfg = AugmentConfig(half_body_prob=0.5)
    a = augment(image, joints, center, scale, (IN_W, IN_H), np.random.default_rng(42), cfg)
    b = augment(image, joints, center, scale, (IN_W, IN_H), np.random.default_rng(42), cfg)
    np.testing.assert_array_equal(a.image, b.image)
    np.testing.assert_array_equal(a.joints, b.joints)
    assert (a.rotation, a.flipped) == (b.rotation, b.flipped)
    others = [augment(image, joints, center, scale, (IN_W, IN_H), np.random.default_rng(s), cfg) for s in range(8)]
    assert len({(o.rotation, o.flipped, float(o.scale[0])) for o in others}) > 1


def test_augmentation_statistics_match_the_recipe() -> None:
    image, joints = _person(np.random.default_rng(5))
    center, scale = _center_scale(joints)
    cfg = AugmentConfig(half_body_prob=0.0)
    outs = [augment(image, joints, center, scale, (IN_W, IN_H), np.random.default_rng(s), cfg) for s in range(600)]
    ratios = np.array([o.scale[0] / scale[0] for o in outs])
    rotations = np.array([o.rotation for o in outs])
    flips = np.array([o.flipped for o in outs])
    assert ratios.min() >= 0.65 - 1e-9 and ratios.max() <= 1.35 + 1e-9
    assert np.abs(rotations).max() <= 90
    assert 0.5 < (rotations != 0).mean() < 0.7
    assert 0.4 < flips.mean() < 0.6


def test_half_body_box_of_the_selected_half() -> None:
    joints = np.zeros((17, 3))
    joints[:11] = [[100 + 2 * i, 50 + i, 1] for i in range(11)]  # upper body
    joints[11:] = [[90 + 4 * i, 150 + 10 * i, 1] for i in range(6)]  # lower body
    picks = []
    for seed in range(400):
        c, s = half_body_center_scale(joints, np.random.default_rng(seed), 0.75)
        upper = np.allclose(c, joints[:11, :2].mean(0))
        lower = np.allclose(c, joints[11:, :2].mean(0))
        assert upper or lower
        sel = joints[:11, :2] if upper else joints[11:, :2]
        w, h = sel.max(0) - sel.min(0)
        w, h = (w, w / 0.75) if w > 0.75 * h else (h * 0.75, h)
        np.testing.assert_allclose(s, np.array([w, h]) / 200 * 1.5)
        # Official rule: upper when a standard normal draw is below 0.5 (one draw from the RNG).
        assert upper == (np.random.default_rng(seed).standard_normal() < 0.5)
        picks.append(upper)
    assert 0.62 < np.mean(picks) < 0.76  # P(N(0,1) < 0.5) = 0.691


def test_half_body_needs_more_than_two_joints_in_a_half() -> None:
    joints = np.zeros((17, 3))
    joints[:11] = [[100 + 2 * i, 50 + i, 1] for i in range(11)]
    joints[11:] = [[90 + 4 * i, 150 + 10 * i, 1] for i in range(6)]
    # Only 2 visible lower joints: never the lower half, whatever the draw.
    two_lower = joints.copy()
    two_lower[13:, 2] = 0
    for seed in range(20):
        c, _ = half_body_center_scale(two_lower, np.random.default_rng(seed), 0.75)
        np.testing.assert_allclose(c, joints[:11, :2].mean(0))
    # Only 2 visible upper joints: always the lower half (3 joints are enough).
    two_upper = joints.copy()
    two_upper[2:11, 2] = 0
    two_upper[14:, 2] = 0
    for seed in range(20):
        c, _ = half_body_center_scale(two_upper, np.random.default_rng(seed), 0.75)
        np.testing.assert_allclose(c, joints[11:14, :2].mean(0))
    # Neither half has more than 2 joints: no half-body box.
    few = np.zeros((17, 3))
    few[[0, 1, 11, 12]] = [[5, 5, 1], [9, 7, 1], [5, 40, 1], [9, 42, 1]]
    for seed in range(10):
        assert half_body_center_scale(few, np.random.default_rng(seed), 0.75) is None


def test_half_body_only_with_more_than_8_visible_joints() -> None:
    image, joints = _person(np.random.default_rng(6))
    joints[8:, 2] = 0  # exactly 8 visible: never half-body
    center, scale = _center_scale(joints)
    cfg = AugmentConfig(half_body_prob=1.0, scale_factor=0.0, rotation_prob=0.0, flip_prob=0.0)
    out = augment(image, joints, center, scale, (IN_W, IN_H), np.random.default_rng(0), cfg)
    np.testing.assert_allclose(out.center, center)
    joints[8, 2] = 1  # 9 visible: always half-body with probability 1
    out = augment(image, joints, center, scale, (IN_W, IN_H), np.random.default_rng(0), cfg)
    assert not np.allclose(out.center, center)


@pytest.mark.parametrize("pairs", [COCO_FLIP_PAIRS])
def test_flip_pairs_are_configurable(pairs: tuple[tuple[int, int], ...]) -> None:
    joints = np.tile(np.arange(17, dtype=np.float64)[:, None], (1, 3))
    no_head_swap = tuple(p for p in pairs if p != (1, 2))
    out = flip_joints(joints, 10, no_head_swap)
    assert out[1, 1] == 1 and out[2, 1] == 2 and out[5, 1] == 6
