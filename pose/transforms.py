"""Geometry of the top-down recipe: box -> (center, scale) -> affine crop, and back.

Conventions of the official HRNet code, which the published accuracy depends on:

* a box is padded to the network input's aspect ratio, ``scale = size / 200 * 1.25`` (the 200 is
  the historical "pixel standard");
* the affine transform maps ``center`` to the middle of the output (``(w/2, h/2)``, not the
  centre of the middle pixel) and ``scale * 200`` source pixels to the output width; rotation (in
  degrees, for training) turns counter-clockwise about ``center``.
"""

from __future__ import annotations

import cv2
import numpy as np

PIXEL_STD = 200.0
BOX_PADDING = 1.25


def box_to_center_scale(
    boxes: np.ndarray, aspect_ratio: float, padding: float = BOX_PADDING
) -> tuple[np.ndarray, np.ndarray]:
    """Boxes ``(N,4)`` xyxy -> centers ``(N,2)`` and scales ``(N,2)`` (in units of 200 px).

    ``aspect_ratio`` is the network input's width / height (0.75 for 256x192 and 384x288).
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    w = boxes[:, 2] - boxes[:, 0]
    h = boxes[:, 3] - boxes[:, 1]
    center = np.stack([boxes[:, 0] + w * 0.5, boxes[:, 1] + h * 0.5], axis=1)
    wide = w > aspect_ratio * h
    h = np.where(wide, w / aspect_ratio, h)
    w = np.where(~wide, h * aspect_ratio, w)
    scale = np.stack([w, h], axis=1) / PIXEL_STD * padding
    return center, scale


def _rotate(point: np.ndarray, rad: float) -> np.ndarray:
    s, c = np.sin(rad), np.cos(rad)
    return np.array([point[0] * c - point[1] * s, point[0] * s + point[1] * c])


def _third_point(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    d = a - b
    return b + np.array([-d[1], d[0]])


def get_affine_transform(
    center: np.ndarray,
    scale: np.ndarray,
    rotation: float,
    output_size: tuple[int, int],
    inverse: bool = False,
) -> np.ndarray:
    """2x3 matrix mapping the image to the crop (or back with ``inverse``).

    ``output_size`` is (width, height); ``scale`` is (sx, sy) in units of 200 px.
    """
    src_w = float(scale[0]) * PIXEL_STD
    dst_w, dst_h = output_size
    rad = np.deg2rad(rotation)
    src = np.zeros((3, 2), np.float32)
    dst = np.zeros((3, 2), np.float32)
    src[0] = center
    src[1] = np.asarray(center, np.float64) + _rotate(np.array([0.0, -0.5 * src_w]), rad)
    dst[0] = [dst_w * 0.5, dst_h * 0.5]
    dst[1] = dst[0] + np.array([0.0, -0.5 * dst_w])
    src[2] = _third_point(src[0], src[1])
    dst[2] = _third_point(dst[0], dst[1])
    return cv2.getAffineTransform(dst, src) if inverse else cv2.getAffineTransform(src, dst)


def crop(
    image: np.ndarray, center: np.ndarray, scale: np.ndarray, output_size: tuple[int, int], rotation: float = 0.0
) -> np.ndarray:
    """Affine crop of ``image`` (bilinear, zero padding) of ``output_size`` (width, height)."""
    matrix = get_affine_transform(center, scale, rotation, output_size)
    return cv2.warpAffine(image, matrix, output_size, flags=cv2.INTER_LINEAR)


def heatmap_to_image(
    coords: np.ndarray, centers: np.ndarray, scales: np.ndarray, heatmap_size: tuple[int, int]
) -> np.ndarray:
    """Map heatmap coordinates ``(N,K,2)`` back into the image, for unrotated crops.

    The unrotated transform is a uniform scaling by ``scale_x * 200 / heatmap_width`` about the
    heatmap middle, identical to the inverse of :func:`get_affine_transform` at rotation 0.
    """
    hm_w, hm_h = heatmap_size
    factor = scales[:, 0] * PIXEL_STD / hm_w  # (N,)
    out = np.empty_like(coords, dtype=np.float64)
    out[..., 0] = (coords[..., 0] - hm_w * 0.5) * factor[:, None] + centers[:, None, 0]
    out[..., 1] = (coords[..., 1] - hm_h * 0.5) * factor[:, None] + centers[:, None, 1]
    return out
