"""What a person looks like: a small colour embedding from the pixels their joints cover.

Re-identification (:mod:`tracker.flowtrack`, stage d) asks whether a pose is the person of a track
lost a few seconds ago. Clothing colour answers much of that and costs almost nothing: no model
to download, the same on every backend. For each of four body parts (torso, upper arms,
thighs, shins) the pixels along the part are sampled (the torso on a grid between the shoulders
and the hips, the limbs along their bones), converted to CIE Lab and averaged; left and right are
pooled, so the embedding does not change when a person turns round. A part counts only when
the joints that span it are confident.

:func:`embed` gives ``(N, PARTS, 3)`` float32 Lab means and ``(N, PARTS)`` validity;
:func:`appearance_similarity` compares them: 1 for equal colours, falling linearly to 0 at
:data:`COLOUR_SCALE` Lab units of mean difference over the parts both poses show.
"""

from __future__ import annotations

import cv2
import numpy as np

#: Body slots (both keypoint layouts share them): shoulders 5/6, elbows 7/8, hips 11/12, knees 13/14, ankles 15/16.
L_SHOULDER, R_SHOULDER, L_ELBOW, R_ELBOW = 5, 6, 7, 8
L_HIP, R_HIP, L_KNEE, R_KNEE, L_ANKLE, R_ANKLE = 11, 12, 13, 14, 15, 16
#: The limb parts: (name, bones as joint pairs, left and right pooled).
LIMBS = (
    ("upper arms", ((L_SHOULDER, L_ELBOW), (R_SHOULDER, R_ELBOW))),
    ("thighs", ((L_HIP, L_KNEE), (R_HIP, R_KNEE))),
    ("shins", ((L_KNEE, L_ANKLE), (R_KNEE, R_ANKLE))),
)
PARTS = ("torso", *(name for name, _ in LIMBS))
#: Lab distance (mean over shared parts) at which two embeddings have similarity 0.
COLOUR_SCALE = 40.0
#: Samples along a bone (its middle 60 %, where the limb is, not the joint) and the torso grid.
_ALONG = np.linspace(0.2, 0.8, 5, dtype=np.float32)
_GRID = np.array([(u, v) for u in (0.25, 0.5, 0.75) for v in (0.2, 0.4, 0.6, 0.8)], np.float32)


def embed(image: np.ndarray, keypoints: np.ndarray, threshold: float = 0.2) -> tuple[np.ndarray, np.ndarray]:
    """The colour embedding of each pose in ``image`` (H,W,3 uint8 BGR): Lab means ``(N, 4, 3)``
    float32 per part of :data:`PARTS`, and ``(N, 4)`` bool, whether the part was seen (its joints
    above ``threshold``). About 0.15 ms per person."""
    kp = np.asarray(keypoints, np.float32).reshape(-1, 17, 3)
    n = len(kp)
    means = np.zeros((n, len(PARTS), 3), np.float32)
    valid = np.zeros((n, len(PARTS)), bool)
    if n == 0:
        return means, valid
    ok = kp[..., 2] > threshold
    points: list[np.ndarray] = []
    owners: list[tuple[int, int]] = []  # (pose, part) of each block of points
    for i in range(n):
        xy = kp[i, :, :2]
        if ok[i, [L_SHOULDER, R_SHOULDER, L_HIP, R_HIP]].all():  # torso: between shoulders (v=0) and hips (v=1)
            top = xy[L_SHOULDER] + np.outer(_GRID[:, 0], xy[R_SHOULDER] - xy[L_SHOULDER])
            bottom = xy[L_HIP] + np.outer(_GRID[:, 0], xy[R_HIP] - xy[L_HIP])
            points.append(top + _GRID[:, 1:2] * (bottom - top))
            owners.append((i, 0))
        for part, (_, bones) in enumerate(LIMBS, start=1):
            for a, b in bones:
                if ok[i, a] and ok[i, b]:
                    points.append(xy[a] + np.outer(_ALONG, xy[b] - xy[a]))
                    owners.append((i, part))
    if not points:
        return means, valid
    h, w = image.shape[:2]
    sizes = [len(p) for p in points]
    xy = np.concatenate(points)
    xi = np.clip(np.round(xy[:, 0]).astype(np.int64), 0, w - 1)
    yi = np.clip(np.round(xy[:, 1]).astype(np.int64), 0, h - 1)
    inside = (xy[:, 0] >= 0) & (xy[:, 0] < w) & (xy[:, 1] >= 0) & (xy[:, 1] < h)
    bgr = image[yi, xi].reshape(1, -1, 3).astype(np.float32) / 255.0
    lab = cv2.cvtColor(bgr, cv2.COLOR_BGR2Lab)[0]  # L 0..100, a/b about -128..127
    sums = np.zeros((n, len(PARTS), 3), np.float64)
    counts = np.zeros((n, len(PARTS)), np.int64)
    start = 0
    for (i, part), size in zip(owners, sizes, strict=True):
        block = slice(start, start + size)
        use = inside[block]
        sums[i, part] += lab[block][use].sum(0)
        counts[i, part] += int(use.sum())
        start += size
    valid = counts > 0
    means[valid] = (sums[valid] / counts[valid][:, None]).astype(np.float32)
    return means, valid


def appearance_similarity(
    a: np.ndarray, a_valid: np.ndarray, b: np.ndarray, b_valid: np.ndarray, min_parts: int = 2
) -> np.ndarray:
    """Similarity ``(N, M)`` in [0, 1] of embeddings ``a`` (N,4,3) and ``b`` (M,4,3): 1 - the mean
    Lab distance over the parts both show / :data:`COLOUR_SCALE`, clipped at 0. Pairs sharing fewer
    than ``min_parts`` parts get 0 (too little seen to say)."""
    if not len(a) or not len(b):
        return np.zeros((len(a), len(b)))
    dist = np.linalg.norm(a[:, None] - b[None], axis=-1)  # (N, M, parts)
    shared = a_valid[:, None] & b_valid[None]
    count = shared.sum(-1)
    mean = np.where(shared, dist, 0.0).sum(-1) / np.maximum(count, 1)
    sim = np.clip(1.0 - mean / COLOUR_SCALE, 0.0, 1.0)
    return np.where(count >= min_parts, sim, 0.0)
