"""Synthetic PoseTrack ground truth and predictions (for cross-checks, tests and ``hrtrack bench eval``).

:func:`make_synthetic` builds, deterministically from a seed, ``sequences`` videos of ``frames``
frames with up to ``people`` people each:

* GT: people walk (random walk of the body centre, slowly drifting pose, random height), enter
  and leave the video, carry a head box (x1..y2 around head_top / head_bottom), lack some joints,
  and are labelled in every frame or every 4th frame (PoseTrack val style; unlabelled frames
  have no people). Some sequences have an ignore region (a polygon) in their labelled frames.
* predictions: every frame (labelled or not) holds the GT people moved by Gaussian noise (plus a
  few far outliers) with some joints dropped and some people missed, duplicate detections,
  short-lived false-positive tracks, track-id switches (fresh ids and swaps of two identities)
  and joint scores that fall with the error.

With ``edge_cases=True`` a few cases that poseval handles (without crashing) are mixed in: GT
people with an empty point list or without ``annopoints``, prediction frames without people,
a sequence whose predictions carry no scores (-9999), a joint missing from all GT of a sequence,
and people fully inside an ignore region.

File and image names follow the PoseTrack layout (``000042_mpii_test.json``,
``images/val/000042_mpii_test/000007.jpg``) so that the official tool also reads the 2018 files.
:func:`write_synthetic` writes GT and predictions as ``<root>/gt/*.json`` and ``<root>/pred/*.json``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

from eval.posetrack import MAX_TRACK_ID, NUM_JOINTS, Frame, Person, Sequence, gc_paused, write_sequence
from pose.errors import HrtrackError

#: Joint positions of a standing person in units of its height, centre at the hips, y down
#: (poseval joint order: ankles, knees, hips, wrists, elbows, shoulders, neck, nose, head top).
TEMPLATE = np.array(
    [
        [-0.10, 0.50],
        [-0.10, 0.25],
        [-0.09, 0.00],
        [0.09, 0.00],
        [0.10, 0.25],
        [0.10, 0.50],
        [-0.25, 0.05],
        [-0.22, -0.12],
        [-0.15, -0.28],
        [0.15, -0.28],
        [0.22, -0.12],
        [0.25, 0.05],
        [0.00, -0.32],
        [0.00, -0.40],
        [0.00, -0.50],
    ]
)


@dataclass(frozen=True)
class CrossCheckConfig:
    """Parameters of a synthetic set; every probability is per person and frame unless noted.

    People live in a 1280 x 720 image. The first person of every sequence stays for the whole
    video, so every sequence has ``ceil(frames / label_every)`` labelled frames with people; the
    official poseval needs at least 2 of them per sequence (it crashes on a sequence with one).
    """

    sequences: int = 5
    frames: int = 20
    people: int = 4
    seed: int = 0
    #: 1: every frame labelled, 4: every 4th; None: chosen per sequence (1 or 4)
    label_every: int | None = None
    absent_joint: float = 0.1  # GT joint not annotated
    ignore_region: float = 0.3  # per sequence: an ignore polygon in its labelled frames
    noise: float = 0.18  # std of the predicted joint offset per axis, in head sizes
    outlier: float = 0.05  # predicted joint far off
    drop_joint: float = 0.08  # predicted joint left out
    miss: float = 0.08  # GT person not predicted
    duplicate: float = 0.03  # second prediction near a GT person (fresh id)
    false_positives: float = 0.1  # new false-positive tracks per frame (each lives 1-8 frames)
    switch: float = 0.01  # a track gets a fresh predicted id / swaps ids with another track
    edge_cases: bool = False


def _walk(rng: np.random.Generator, n: int, step: float, start: np.ndarray) -> np.ndarray:
    """A smooth random walk of ``n`` steps (velocity is itself a random walk)."""
    vel = np.cumsum(rng.normal(0, step, (n, *start.shape)), axis=0) * 0.3
    vel = np.clip(vel, -4 * step, 4 * step)
    return start + np.cumsum(vel, axis=0)


def _head_box(joints: np.ndarray, height: float) -> np.ndarray:
    """x1, y1, x2, y2 head box spanning head_top..head_bottom, 0.14 heights wide."""
    top, bottom = joints[14], joints[12]
    cx = (top[0] + bottom[0]) / 2
    half = 0.07 * height
    return np.array([cx - half, min(top[1], bottom[1]), cx + half, max(top[1], bottom[1])])


def _polygon(rng: np.random.Generator, centre: np.ndarray, size: float) -> np.ndarray:
    """A random convex-ish polygon (4-7 vertices) around ``centre``."""
    k = int(rng.integers(4, 8))
    ang = np.sort(rng.uniform(0, 2 * np.pi, k))
    rad = size * rng.uniform(0.6, 1.0, k)
    return np.round(centre + np.stack([np.cos(ang) * rad, np.sin(ang) * rad], axis=1), 1)


def _sequence(rng: np.random.Generator, cfg: CrossCheckConfig, idx: int) -> tuple[Sequence, Sequence]:
    """One GT sequence and its predictions.

    Steps (in the order the random numbers are drawn, which fixes every generated set):

    1. the sequence: name, labelled frames, people and their GT track ids;
    2. GT motion: each person's height, random-walk centre and joint drift, the frames they are
       in the video, absent joints, an optional ignore region;
    3. predicted identities per frame: id switches (a new id) and swaps between two people;
    4. per frame: the GT people of labelled frames (with the edge cases: no joints, no points),
       their predictions (misses, duplicates), false-positive tracks, empty prediction frames and
       an ignore region covering one person.
    """
    # ---------------------------------------------------------------- 1. the sequence
    n_frames = cfg.frames
    vid = 10 * idx + 1 + int(rng.integers(0, 9))  # unique per sequence (idx * 10 + 1..9)
    name = f"{vid:06d}_mpii_test"
    label_every = cfg.label_every or int(rng.choice([1, 4]))
    labelled = np.zeros(n_frames, dtype=bool)
    labelled[::label_every] = True
    n_people = int(rng.integers(1, cfg.people + 1))
    track_ids = rng.choice(1000, n_people, replace=False)

    # ---------------------------------------------------------------- 2. GT motion
    heights = rng.uniform(150, 450, n_people)
    centres = np.stack(
        [_walk(rng, n_frames, 3.0, rng.uniform([100, 200], [1180, 520])) for _ in range(n_people)]
    )  # (T, F, 2)
    drift = np.stack([_walk(rng, n_frames, 0.002, np.zeros((NUM_JOINTS, 2))) for _ in range(n_people)])
    joints = (
        centres[:, :, None, :] + (TEMPLATE[None, None] + np.clip(drift, -0.08, 0.08)) * heights[:, None, None, None]
    )
    alive = np.ones((n_people, n_frames), dtype=bool)
    for t in range(1, n_people):  # the first person stays for the whole video
        if rng.random() < 0.5:
            a, b = np.sort(rng.integers(0, n_frames + 1, 2))
            alive[t] = False
            alive[t, a : max(b, a + 2)] = True
    gt_present = rng.random((n_people, n_frames, NUM_JOINTS)) >= cfg.absent_joint

    polys: list[np.ndarray] = []
    if rng.random() < cfg.ignore_region:
        polys.append(_polygon(rng, rng.uniform([150, 150], [1130, 570]), rng.uniform(60, 180)))

    # ---------------------------------------------------------------- 3. predicted identities
    next_id = int(rng.integers(1000, 3000))
    pred_id = np.zeros((n_people, n_frames), dtype=np.int64)
    current = rng.choice(1000, n_people, replace=False)
    for f in range(n_frames):
        for t in range(n_people):
            r = rng.random()
            if r < cfg.switch:
                current[t] = next_id
                next_id += 1
            elif r < 2 * cfg.switch and n_people > 1:
                u = int(rng.integers(0, n_people))
                current[t], current[u] = current[u], current[t]
        pred_id[:, f] = current

    no_scores = cfg.edge_cases and idx % 3 == 2
    drop_joint = int(rng.integers(0, NUM_JOINTS)) if cfg.edge_cases and idx % 4 == 1 else -1
    # ---------------------------------------------------------------- 4. frames
    gt_frames: list[Frame] = []
    pr_frames: list[Frame] = []
    fp_tracks: list[list] = []  # [id, centre, height, frames left]
    for f in range(n_frames):
        image = f"images/val/{name}/{f:06d}.jpg"
        gpeople: list[Person] = []
        ppeople: list[Person] = []
        for t in range(n_people):
            if not alive[t, f]:
                continue
            xy = joints[t, f]
            hbox = _head_box(xy, heights[t])
            hs = 0.6 * float(np.hypot(*(hbox[2:] - hbox[:2])))
            if labelled[f]:
                present = gt_present[t, f].copy()
                if drop_joint >= 0:
                    present[drop_joint] = False
                p = Person.empty(int(track_ids[t]))
                p.joints[:] = np.round(xy, 2)
                p.present[:] = present
                p.visible[:] = np.where(present, (rng.random(NUM_JOINTS) < 0.8).astype(np.int64), -1)
                p.head_box = np.round(hbox, 2)
                if cfg.edge_cases and rng.random() < 0.02:
                    p.present[:] = False  # an empty point list (kept by poseval)
                if cfg.edge_cases and rng.random() < 0.02:
                    p.has_points = False  # no annopoints at all (dropped by poseval)
                gpeople.append(p)
            if rng.random() < cfg.miss:
                continue
            ppeople.append(_predict(rng, cfg, xy, hs, int(pred_id[t, f]), no_scores))
            if rng.random() < cfg.duplicate:
                ppeople.append(_predict(rng, cfg, xy, hs * 2, next_id, no_scores))
                next_id += 1
        # false-positive tracks
        if rng.random() < cfg.false_positives:
            fp_tracks.append(
                [next_id, rng.uniform([100, 200], [1180, 520]), rng.uniform(120, 400), int(rng.integers(1, 9))]
            )
            next_id += 1
        for fp in fp_tracks:
            if fp[3] > 0:
                fp[1] = fp[1] + rng.normal(0, 5, 2)
                xy = fp[1] + TEMPLATE * fp[2]
                q = _predict(rng, cfg, xy, 0.14 * fp[2], fp[0], no_scores)
                if not no_scores:
                    q.scores[:] = np.where(q.present, rng.uniform(0.0, 0.6, NUM_JOINTS), np.nan)
                ppeople.append(q)
                fp[3] -= 1
        fp_tracks = [fp for fp in fp_tracks if fp[3] > 0]
        if cfg.edge_cases and f % 7 == 3:
            ppeople = []  # a frame without predictions (dummy ids in MOT)
        frame_polys = polys if labelled[f] else []
        if cfg.edge_cases and labelled[f] and f % 11 == 5 and gpeople:
            # an ignore region covering one GT person completely
            box = np.concatenate([gpeople[0].joints.min(axis=0) - 5, gpeople[0].joints.max(axis=0) + 5])
            frame_polys = [*frame_polys, np.array([box[:2], [box[2], box[1]], box[2:], [box[0], box[3]]])]
        gt_frames.append(Frame(image, bool(labelled[f]), list(frame_polys), gpeople))
        pr_frames.append(Frame(image, True, [], ppeople))
    if next_id >= MAX_TRACK_ID:  # pragma: no cover - needs thousands of frames per sequence
        raise HrtrackError(f"sequence {name}: predicted track ids exceed {MAX_TRACK_ID}; use fewer frames")
    return Sequence(name, gt_frames, vid_id=f"{vid:06d}"), Sequence(name, pr_frames, vid_id=f"{vid:06d}")


def _predict(
    rng: np.random.Generator, cfg: CrossCheckConfig, xy: np.ndarray, hs: float, tid: int, no_scores: bool
) -> Person:
    """A predicted person near the joints ``xy`` (head size ``hs``) with track id ``tid``."""
    q = Person.empty(tid)
    err = rng.normal(0, cfg.noise, (NUM_JOINTS, 2))
    far = rng.random(NUM_JOINTS) < cfg.outlier
    err[far] += rng.normal(0, 3.0, (int(far.sum()), 2))
    q.joints[:] = np.round(np.clip(xy + err * hs, 1, None), 2)
    q.present[:] = rng.random(NUM_JOINTS) >= cfg.drop_joint
    if not q.present.any():
        q.present[int(rng.integers(0, NUM_JOINTS))] = True
    q.visible[:] = np.where(q.present, 1, -1)
    if not no_scores:
        e = np.hypot(err[:, 0], err[:, 1])
        s = 1 / (1 + np.exp(4 * (e - 0.5) + rng.normal(0, 1.0, NUM_JOINTS)))
        q.scores[:] = np.where(q.present, s, np.nan)
    q.box = np.concatenate([q.joints[q.present].min(axis=0), q.joints[q.present].max(axis=0)])
    return q


def make_synthetic(cfg: CrossCheckConfig | None = None, **overrides: object) -> tuple[list[Sequence], list[Sequence]]:
    """GT and prediction sequences of a synthetic set (same config and seed -> same data).

    ``overrides`` replace fields of ``cfg`` (or of the default :class:`CrossCheckConfig`)."""
    cfg = cfg or CrossCheckConfig()
    if overrides:
        names = {f.name for f in fields(CrossCheckConfig)}
        unknown = set(overrides) - names
        if unknown:
            raise TypeError(f"unknown CrossCheckConfig fields {sorted(unknown)}")
        cfg = CrossCheckConfig(**{**cfg.__dict__, **overrides})
    if cfg.frames < 2 or cfg.sequences < 1 or cfg.people < 1:
        raise HrtrackError("need at least 1 sequence, 2 frames and 1 person")
    gts, prs = [], []
    for idx in range(cfg.sequences):
        rng = np.random.default_rng([cfg.seed, idx])
        g, p = _sequence(rng, cfg, idx)
        gts.append(g)
        prs.append(p)
    return gts, prs


def write_synthetic(
    root: str | os.PathLike, cfg: CrossCheckConfig | None = None, fmt: str = "2017", **overrides: object
) -> tuple[Path, Path]:
    """Generate a set and write it as ``root/gt/<name>.json`` and ``root/pred/<name>.json``.

    ``fmt`` is "2017" or "2018" (both GT and predictions); returns the two folders."""
    root = Path(root)
    gt_dir, pr_dir = root / "gt", root / "pred"
    with gc_paused():
        gts, prs = make_synthetic(cfg, **overrides)
        for g, p in zip(gts, prs, strict=True):
            write_sequence(g, gt_dir / f"{g.name}.json", fmt)
            write_sequence(p, pr_dir / f"{p.name}.json", fmt)
    return gt_dir, pr_dir
