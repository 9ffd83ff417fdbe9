"""Object Keypoint Similarity (COCO) and OKS-based non-maximum suppression of poses."""

from __future__ import annotations

import numpy as np

from pose.keypoints import COCO_SIGMAS

__all__ = ["COCO_SIGMAS", "oks_matrix", "oks_nms"]


def oks_matrix(
    poses_a: np.ndarray,
    poses_b: np.ndarray,
    areas_a: np.ndarray,
    areas_b: np.ndarray,
    sigmas: np.ndarray = COCO_SIGMAS,
    min_score: float | None = None,
) -> np.ndarray:
    """OKS between every pose of ``a`` ``(N,K,3)`` and of ``b`` ``(M,K,3)`` -> ``(N,M)``.

    Uses the mean of the two areas as the object scale (symmetric, as the official OKS-NMS).
    With ``min_score``, only joints scored above it in both poses count; a pair sharing no such
    joint has OKS 0.
    """
    a = np.asarray(poses_a, np.float64)
    b = np.asarray(poses_b, np.float64)
    if a.shape[0] == 0 or b.shape[0] == 0:
        return np.zeros((a.shape[0], b.shape[0]))
    var = (2.0 * np.asarray(sigmas, np.float64)) ** 2  # (K,)
    d2 = ((a[:, None, :, :2] - b[None, :, :, :2]) ** 2).sum(-1)  # (N,M,K)
    scale = (np.asarray(areas_a, np.float64)[:, None] + np.asarray(areas_b, np.float64)[None, :]) / 2.0
    e = d2 / var / (scale[..., None] + np.spacing(1)) / 2.0
    sim = np.exp(-e)
    if min_score is None:
        return sim.mean(-1)
    used = (a[:, None, :, 2] > min_score) & (b[None, :, :, 2] > min_score)
    count = used.sum(-1)
    total = np.where(used, sim, 0.0).sum(-1)
    return np.divide(total, count, out=np.zeros_like(total), where=count > 0)


def oks_nms(
    poses: np.ndarray,
    scores: np.ndarray,
    areas: np.ndarray,
    threshold: float = 0.9,
    sigmas: np.ndarray = COCO_SIGMAS,
    min_score: float | None = 0.2,
) -> np.ndarray:
    """Indices of the poses kept by greedy OKS-NMS, highest score first.

    A pose is suppressed when its OKS with an already kept pose exceeds ``threshold`` (0.9 in the
    official test recipe), counting joints scored above ``min_score`` in both poses.
    """
    order = np.argsort(-np.asarray(scores), kind="stable")
    if order.size == 0:
        return order.astype(np.int64)
    sim = oks_matrix(poses, poses, areas, areas, sigmas, min_score)
    keep: list[int] = []
    suppressed = np.zeros(len(order), bool)
    for i in order:
        if suppressed[i]:
            continue
        keep.append(int(i))
        suppressed |= sim[i] > threshold
    return np.array(keep, dtype=np.int64)
