"""Heatmap targets of the official recipe: an unnormalised Gaussian (peak 1) per joint.

For a joint at ``(x, y)`` in input pixels the heatmap position is
``mu = int(joint / feat_stride + 0.5)`` with ``feat_stride = input_size / heatmap_size`` (4 for
HRNet). The Gaussian ``exp(-d^2 / (2 sigma^2))`` is drawn only inside the square patch of radius
``3 * sigma`` around ``mu`` and is zero elsewhere. Sigma is 2 for 64x48 heatmaps and 3 for 96x72.

The target weight of a joint is its visibility (0/1), and 0 when the patch lies entirely outside
the heatmap: the loss then ignores that joint instead of teaching the network an empty map.

``unbiased=True`` centres the Gaussian on the exact sub-pixel position ``joint / feat_stride``
(the "unbiased encoding" of DARK, Zhang et al. CVPR 2020; mmpose's ``unbiased``) instead of the
rounded pixel; the patch stays where the official code puts it. Not the paper's recipe: the
rounding teaches the network a peak up to half a heatmap pixel off, which caps the OKS a
memorised person can reach on small heatmaps (the overfitting test, 32x24).
"""

from __future__ import annotations

import numpy as np


def default_sigma(heatmap_size: tuple[int, int]) -> float:
    """Sigma of the official configs: 2 up to 64-pixel-high heatmaps (256x192 input), else 3."""
    return 2.0 if heatmap_size[1] <= 64 else 3.0


def generate_target(
    joints: np.ndarray,
    input_size: tuple[int, int],
    heatmap_size: tuple[int, int],
    sigma: float = 2.0,
    unbiased: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian heatmaps ``(K,H,W)`` float32 and target weights ``(K,)`` float32.

    ``joints`` is ``(K,3)``: x, y in input pixels and visibility (> 0 means use the joint).
    ``input_size`` and ``heatmap_size`` are (width, height). ``unbiased``: Gaussian centred on
    the sub-pixel position (see the module docstring). Vectorised over joints and pixels.
    """
    joints = np.asarray(joints, np.float64).reshape(-1, 3)
    hm_w, hm_h = heatmap_size
    stride = np.array([input_size[0] / hm_w, input_size[1] / hm_h])
    radius = sigma * 3
    # int() of the official code truncates towards zero; np.trunc does the same for negatives.
    mu = np.trunc(joints[:, :2] / stride + 0.5)  # (K,2)
    ul = np.trunc(mu - radius)
    br = np.trunc(mu + radius + 1)  # exclusive
    outside = (ul[:, 0] >= hm_w) | (ul[:, 1] >= hm_h) | (br[:, 0] < 0) | (br[:, 1] < 0)
    weight = ((joints[:, 2] > 0) & ~outside).astype(np.float32)

    centre = joints[:, :2] / stride if unbiased else mu
    xs = np.arange(hm_w, dtype=np.float64)
    ys = np.arange(hm_h, dtype=np.float64)
    dx = xs[None, :] - centre[:, :1]  # (K,W)
    dy = ys[None, :] - centre[:, 1:]  # (K,H)
    in_x = (xs[None, :] >= ul[:, :1]) & (xs[None, :] < br[:, :1])
    in_y = (ys[None, :] >= ul[:, 1:]) & (ys[None, :] < br[:, 1:])
    gx = np.where(in_x, np.exp(-(dx**2) / (2 * sigma**2)), 0.0)
    gy = np.where(in_y, np.exp(-(dy**2) / (2 * sigma**2)), 0.0)
    target = gy[:, :, None] * gx[:, None, :] * weight[:, None, None]  # separable Gaussian
    return target.astype(np.float32), weight
