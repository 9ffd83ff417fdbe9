"""PoseTrack metrics with the semantics of the official poseval tool.

* :func:`prepare_frames` - poseval's cleaning: track-id offsets per sequence, dropping GT
  frames without people, persons without points, and points inside ignore regions.
* :func:`assign_frame` - PCKh@0.5 distances and the one-to-one pose assignment of a frame.
* :func:`average_precision` - all-point VOC AP of one joint.
* :class:`MotCounter` - the event rules of ``motmetrics.MOTAccumulator.update`` (1.4),
  counted directly instead of stored in pandas frames (tests prove the counts equal); frames
  whose candidate pairs are disjoint (the usual case) take a short path without any solver.
* :class:`IdentityCounter` - IDTP / IDFP / IDFN of ``motmetrics``' ID measures (IDF1), fed with
  the same per-frame inputs as :class:`MotCounter`.
* :func:`compute_metrics` - AP per joint and MOTA / MOTP / precision / recall / IDF1 per joint.

Everything works on the 15 poseval joints (see :mod:`eval.posetrack`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from math import isfinite, sqrt

import numpy as np
from scipy.optimize import linear_sum_assignment

from .posetrack import MAX_TRACK_ID, MIN_SCORE, NUM_JOINTS, Person, PoseTrackError, Sequence

PCKH_THRESHOLD = 0.5
#: Joint groups of the poseval tables, in print order (Total is the mean over the 15 joints).
GROUPS: dict[str, tuple[int, ...]] = {
    "head": (14, 12, 13),
    "shoulder": (8, 9),
    "elbow": (7, 10),
    "wrist": (6, 11),
    "hip": (2, 3),
    "knee": (1, 4),
    "ankle": (0, 5),
}


# ----------------------------------------------------------------------------- frames


@dataclass
class FrameData:
    """A cleaned frame as arrays: G GT people and P predicted people."""

    seq: int
    gt_xy: np.ndarray  # (G, 15, 2)
    gt_present: np.ndarray  # (G, 15) bool
    gt_ids: np.ndarray  # (G,) int64, offset per sequence
    head_size: np.ndarray  # (G,) 0.6 * head box diagonal (NaN: no head box)
    pr_xy: np.ndarray  # (P, 15, 2)
    pr_present: np.ndarray  # (P, 15) bool
    pr_scores: np.ndarray  # (P, 15), -9999 where no score was given
    pr_ids: np.ndarray  # (P,) int64, offset per sequence
    where: str = ""


def points_in_polygon(points: np.ndarray, poly: np.ndarray) -> np.ndarray:
    """Which of the (N, 2) points lie strictly inside the polygon (K, 2) (boundary excluded,
    like shapely's ``contains``; even-odd rule). Polygons with < 3 vertices contain nothing."""
    points = np.asarray(points, dtype=float).reshape(-1, 2)
    result = np.zeros(len(points), dtype=bool)
    if len(poly) < 3 or len(points) == 0:
        return result
    lo, hi = poly.min(axis=0), poly.max(axis=0)
    near = np.flatnonzero((points >= lo).all(axis=1) & (points <= hi).all(axis=1))  # in the bounding box
    if len(near) == 0:
        return result
    result[near] = _in_polygon(points[near], poly)
    return result


def _in_polygon(points: np.ndarray, poly: np.ndarray) -> np.ndarray:
    """:func:`points_in_polygon` without the bounding-box shortcut."""
    x, y = points[:, 0:1], points[:, 1:2]  # (N, 1)
    x1, y1 = poly[:, 0][None, :], poly[:, 1][None, :]  # (1, K)
    nxt = np.r_[1 : len(poly), 0]
    x2, y2 = poly[nxt, 0][None, :], poly[nxt, 1][None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        crosses = (y1 > y) != (y2 > y)
        x_at = x1 + (y - y1) * (x2 - x1) / (y2 - y1)
        inside = (crosses & (x < x_at)).sum(axis=1) % 2 == 1
    cross = (x2 - x1) * (y - y1) - (y2 - y1) * (x - x1)
    on_edge = (
        (cross == 0)
        & (x >= np.minimum(x1, x2))
        & (x <= np.maximum(x1, x2))
        & (y >= np.minimum(y1, y2))
        & (y <= np.maximum(y1, y2))
    ).any(axis=1)
    return inside & ~on_edge


def _drop_ignored(people: list[Person], polys: list[np.ndarray]) -> list[Person]:
    """Remove joints inside any ignore polygon; people left without joints are dropped."""
    if not people:
        return people
    points = np.concatenate([p.joints for p in people])
    inside = np.zeros(len(points), dtype=bool)
    for poly in polys:
        inside |= points_in_polygon(points, poly)
    inside = inside.reshape(len(people), NUM_JOINTS)
    present = np.array([p.present for p in people], dtype=bool).reshape(-1, NUM_JOINTS)
    hit = (inside & present).any(axis=1).tolist()
    present &= ~inside
    keep = present.any(axis=1).tolist()
    kept = []
    for k, p in enumerate(people):
        if keep[k]:
            kept.append(Person(**{**p.__dict__, "present": present[k]}) if hit[k] else p)
    return kept


def _check_ids(people: list[Person], where: str, what: str) -> None:
    ids = [p.track_id for p in people]
    for tid in ids:
        if tid is None:
            raise PoseTrackError(f"{where}: a {what} person has no track_id")
        if not 0 <= tid < MAX_TRACK_ID:
            raise PoseTrackError(f"{where}: {what} track_id {tid} outside [0, {MAX_TRACK_ID})")
    if len(set(ids)) != len(ids):
        dup = sorted({int(i) for i in ids if ids.count(i) > 1})
        raise PoseTrackError(f"{where}: duplicate {what} track ids {dup} in one frame")


def _frame_arrays(si: int, kept: list[tuple[str, list[Person], list[Person]]]) -> list[FrameData]:
    """The cleaned frames of sequence ``si`` as arrays (built once per sequence, sliced per frame)."""
    if not kept:
        return []
    offset = si * MAX_TRACK_ID
    gts = [p for _, g, _ in kept for p in g]
    prs = [p for _, _, pr in kept for p in pr]
    gt_xy = np.array([p.joints for p in gts], dtype=float).reshape(-1, NUM_JOINTS, 2)
    gt_present = np.array([p.present for p in gts], dtype=bool).reshape(-1, NUM_JOINTS)
    gt_ids = np.array([p.track_id for p in gts], dtype=np.int64) + offset
    head_size = np.full(len(gts), np.nan)
    for k, p in enumerate(gts):
        if p.head_box is not None:  # poseval's getHeadSize: np.linalg.norm = sqrt(v.dot(v))
            v = p.head_box[2:] - p.head_box[:2]
            head_size[k] = 0.6 * sqrt(v.dot(v))
    pr_xy = np.array([p.joints for p in prs], dtype=float).reshape(-1, NUM_JOINTS, 2)
    pr_present = np.array([p.present for p in prs], dtype=bool).reshape(-1, NUM_JOINTS)
    pr_scores = np.array([p.scores for p in prs], dtype=float).reshape(-1, NUM_JOINTS)
    pr_scores[np.isnan(pr_scores)] = MIN_SCORE
    pr_ids = np.array([p.track_id for p in prs], dtype=np.int64) + offset
    frames = []
    g0 = p0 = 0
    for where, g, pr in kept:
        g1, p1 = g0 + len(g), p0 + len(pr)
        frames.append(
            FrameData(
                seq=si,
                gt_xy=gt_xy[g0:g1],
                gt_present=gt_present[g0:g1],
                gt_ids=gt_ids[g0:g1],
                head_size=head_size[g0:g1],
                pr_xy=pr_xy[p0:p1],
                pr_present=pr_present[p0:p1],
                pr_scores=pr_scores[p0:p1],
                pr_ids=pr_ids[p0:p1],
                where=where,
            )
        )
        g0, p0 = g1, p1
    return frames


def prepare_frames(gt_seqs: list[Sequence], pr_seqs: list[Sequence]) -> list[FrameData]:
    """Clean and pair GT and prediction frames exactly as poseval does before scoring."""
    frames = []
    for si, (gt, pr) in enumerate(zip(gt_seqs, pr_seqs, strict=True)):
        if len(gt.frames) != len(pr.frames):
            raise PoseTrackError(
                f"sequence {gt.name}: prediction has {len(pr.frames)} frames, ground truth has {len(gt.frames)}"
            )
        kept: list[tuple[str, list[Person], list[Person]]] = []
        for fi, (gf, pf) in enumerate(zip(gt.frames, pr.frames, strict=True)):
            where = f"{gt.name} frame {fi} ({gf.image or pf.image})"
            _check_ids(pf.people, where, "predicted")
            if not gf.people:  # GT frames with no people are dropped with their predictions
                continue
            gpeople = [p for p in gf.people if p.has_points]
            _check_ids(gpeople, where, "GT")
            ppeople = [p for p in pf.people if p.has_points]
            if gf.ignore_regions:
                ppeople = _drop_ignored(ppeople, gf.ignore_regions)
                gpeople = _drop_ignored(gpeople, gf.ignore_regions)
            kept.append((where, gpeople, ppeople))
        frames.extend(_frame_arrays(si, kept))
    return frames


# ----------------------------------------------------------------------------- assignment


@dataclass
class FrameAssignment:
    """Result of matching one frame.

    ``dist`` (P, G, 15) normalised distances (inf where a joint is missing on either
    side), ``match`` = dist <= 0.5, ``pred_to_gt`` (P,) the assigned GT pose or -1,
    ``labels`` (P, 15) whether each predicted joint counts as a true positive.
    """

    dist: np.ndarray
    match: np.ndarray
    pred_to_gt: np.ndarray
    labels: np.ndarray


def assign_frame(f: FrameData) -> FrameAssignment:
    """PCKh distances and poseval's one-to-one assignment (by PCKh, not by score)."""
    n_pr, n_gt = len(f.pr_ids), len(f.gt_ids)
    dist = np.full((n_pr, n_gt, NUM_JOINTS), np.inf)
    pred_to_gt = np.full(n_pr, -1, dtype=np.int64)
    if n_pr == 0 or n_gt == 0:
        return FrameAssignment(dist, dist <= PCKH_THRESHOLD, pred_to_gt, np.zeros((n_pr, NUM_JOINTS), dtype=bool))
    both = f.pr_present[:, None, :] & f.gt_present[None, :, :]
    hs = f.head_size
    if np.isnan(hs).any() and (both.any(axis=(0, 2)) & np.isnan(hs)).any():
        raise PoseTrackError(f"{f.where}: a GT person has joints but no head box (x1..y2 / bbox_head)")
    diff = f.pr_xy[:, None, :, :] - f.gt_xy[None, :, :, :]
    sq = np.sqrt(diff[..., 0] * diff[..., 0] + diff[..., 1] * diff[..., 1])
    if (hs > 0).all():  # the usual case; the error state context costs as much as the division
        d = sq / hs[None, :, None]
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            d = sq / hs[None, :, None]
    dist = np.where(both, d, np.inf)
    match = dist <= PCKH_THRESHOLD
    # matched / annotated joints (a GT person without joints has no matches: 0 / 1)
    pck = match.sum(axis=2) / np.maximum(f.gt_present.sum(axis=1), 1)[None, :]
    # each prediction keeps only its best GT (first on ties) ...
    best_gt = np.argmax(pck, axis=1)
    keep = np.zeros_like(pck)
    keep[np.arange(n_pr), best_gt] = pck[np.arange(n_pr), best_gt]
    # ... and each GT keeps the best of those predictions; pck 0 is no match
    best_pr = np.argmax(keep, axis=0)
    matched_gt = np.flatnonzero(keep.max(axis=0) > 0)
    pred_to_gt[best_pr[matched_gt]] = matched_gt
    labels = np.zeros((n_pr, NUM_JOINTS), dtype=bool)
    ok = pred_to_gt >= 0
    labels[ok] = match[np.flatnonzero(ok), pred_to_gt[ok]]
    return FrameAssignment(dist, match, pred_to_gt, labels)


# ----------------------------------------------------------------------------- AP


def average_precision(scores: np.ndarray, labels: np.ndarray, n_gt: float) -> float:
    """All-point VOC AP in percent of one joint (poseval's computeRPC + VOCap).

    No detections -> 0.0; detections but no GT joints -> NaN. Detections are ranked with
    ``np.argsort(scores)[::-1]`` as poseval does, so ties order the same way."""
    scores = np.asarray(scores, dtype=float)
    if scores.size == 0:
        return 0.0
    order = np.argsort(scores)[::-1]
    tp = np.cumsum(np.asarray(labels)[order] == 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        recall = tp / float(n_gt)
    precision = tp / np.arange(1, len(tp) + 1)
    mrec = np.concatenate(([0.0], recall, [1.0]))
    mpre = np.concatenate(([0.0], precision, [0.0]))
    mpre = np.maximum.accumulate(mpre[::-1])[::-1]
    idx = np.flatnonzero(mrec[1:] != mrec[:-1]) + 1
    return float(np.sum((mrec[idx] - mrec[idx - 1]) * mpre[idx]) * 100)


# ----------------------------------------------------------------------------- MOT


def _assign_lsa(d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Min-cost assignment over finite entries, maximising their number first (motmetrics'
    scipy path: non-finite edges get a cost above any all-finite solution)."""
    valid = np.isfinite(d)
    if not valid.any():
        return np.empty(0, np.int64), np.empty(0, np.int64)
    if valid.all():
        cost = d
    else:
        big = 2 * min(d.shape) * (np.abs(d[valid]).max() + 1) + 1
        cost = np.where(valid, d, big)
    rows, cols = linear_sum_assignment(cost)
    ok = valid[rows, cols]
    return rows[ok], cols[ok]


class _FrameUpdates:
    """The frame inputs of motmetrics' ``MOTAccumulator.update``, turned into :meth:`update_frame`'s."""

    def update(self, oids: np.ndarray, hids: np.ndarray, dists: np.ndarray) -> None:
        """One frame: GT ids, hypothesis ids and their (len(oids), len(hids)) distances (NaN: no pair).

        Ids must be unique within the frame (the loaders guarantee it)."""
        oids = np.asarray(oids).tolist()
        hids = np.asarray(hids).tolist()
        dl = np.asarray(dists, dtype=float).reshape(len(oids), len(hids)).tolist()
        pairs = [(i, j, v) for i, row in enumerate(dl) for j, v in enumerate(row) if isfinite(v)]
        self.update_pairs(oids, hids, pairs)

    def update_pairs(self, oids: list, hids: list, pairs: list[tuple[int, int, float]]) -> None:
        """:meth:`update` with the finite entries of the distance matrix given as (row, column, distance)."""
        self.update_frame(len(oids), len(hids), [(i, j, v, oids[i], hids[j]) for i, j, v in pairs])

    def update_frame(self, no: int, nh: int, pairs: list[tuple[int, int, float, int, int]]) -> None:
        raise NotImplementedError


@dataclass
class MotCounter(_FrameUpdates):
    """CLEAR-MOT event counts with the exact update rules of ``motmetrics.MOTAccumulator``
    (1.4, ``max_switch_time`` infinite), without building event tables.

    ``sum_d_matched`` sums the distances of MATCH/SWITCH events; ``sum_d_events`` is what
    poseval uses for MOTP: the sum of column D over *all* events of the accumulator
    (``acc.events['D'].sum()``: RAW, MATCH, SWITCH, TRANSFER, ASCEND, MIGRATE rows).
    """

    matches: int = 0
    switches: int = 0
    misses: int = 0
    false_positives: int = 0
    sum_d_matched: float = 0.0
    sum_d_events: float = 0.0
    frames: int = 0
    _m: dict = field(default_factory=dict)  # oid -> hid of its last match
    _res_m: dict = field(default_factory=dict)  # hid -> oid of its last match
    _matched_oids: set = field(default_factory=set)
    _matched_hids: set = field(default_factory=set)

    @property
    def objects(self) -> int:
        return self.matches + self.switches + self.misses

    @property
    def detections(self) -> int:
        return self.matches + self.switches

    def update_frame(self, no: int, nh: int, pairs: list[tuple[int, int, float, int, int]]) -> None:
        """One frame given as the numbers of objects and hypotheses and the finite entries of the
        distance matrix as (row, column, distance, object id, hypothesis id); rows and columns are
        the positions of the ids in the frame's id lists."""
        self.frames += 1
        npairs = len(pairs)
        if not npairs:
            self.misses += no
            self.false_positives += nh
            return
        m = self._m
        if npairs == 1 or len({q[0] for q in pairs}) == npairs == len({q[1] for q in pairs}):
            # Disjoint edges (the usual case): step 1 takes the pairs that continue an established
            # correspondence, step 2 all the others (every optimal assignment takes every edge).
            raw = 0.0
            for _, _, v, o, h in pairs:
                raw += v
                if m.get(o) == h:
                    self.matches += 1
                    self.sum_d_matched += v
                    self.sum_d_events += v
                else:
                    self._pair(o, h, v)
            self.sum_d_events += raw  # the RAW events
            self.misses += no - npairs
            self.false_positives += nh - npairs
            return
        self.sum_d_events += sum(q[2] for q in pairs)  # the RAW events
        o_used = [False] * no
        h_used = [False] * nh
        dist = {(i, j): v for i, j, v, _, _ in pairs}
        oid_at = {i: o for i, _, _, o, _ in pairs}
        hid_at = {j: h for _, j, _, _, h in pairs}
        hpos = {h: j for j, h in hid_at.items()}
        # 1. carry forward established correspondences (objects in frame order)
        for i in sorted(oid_at):
            o = oid_at[i]
            if o not in m:
                continue
            j = hpos.get(m[o])
            if j is None or h_used[j] or (i, j) not in dist:
                continue
            o_used[i] = h_used[j] = True
            self.matches += 1
            self.sum_d_matched += dist[i, j]
            self.sum_d_events += dist[i, j]
            self._matched_oids.add(o)
            self._matched_hids.add(hid_at[j])
        # 2. optimal assignment of the rest
        rest = [(i, j) for i, j, _, _, _ in pairs if not (o_used[i] or h_used[j])]
        if rest:
            if len({i for i, _ in rest}) == len(rest) == len({j for _, j in rest}):
                chosen = rest  # disjoint edges: every optimum takes all of them
            else:  # the same masked matrix and solver as motmetrics
                d = np.full((no, nh), np.nan)
                for i, j in rest:
                    d[i, j] = dist[i, j]
                chosen = list(zip(*_assign_lsa(d), strict=True))
            for i, j in chosen:
                self._pair(oid_at[i], hid_at[j], dist[i, j])
                o_used[i] = h_used[j] = True
        # 3./4. what is left is missed / false
        self.misses += o_used.count(False)
        self.false_positives += h_used.count(False)

    def _pair(self, o: int, h: int, dij: float) -> None:
        """Record an assignment from step 2 (MATCH or SWITCH, plus the extra event rows)."""
        if o in self._m and self._m[o] != h:
            self.switches += 1
            if h not in self._matched_hids:
                self.sum_d_events += dij  # ASCEND event
        else:
            self.matches += 1
        if h in self._res_m and self._res_m[h] != o:
            if o not in self._matched_oids:
                self.sum_d_events += dij  # MIGRATE event
            self.sum_d_events += dij  # TRANSFER event
        self._matched_hids.add(h)
        self._matched_oids.add(o)
        self.sum_d_matched += dij
        self.sum_d_events += dij
        self._m[o] = h
        self._res_m[h] = o


@dataclass
class IdentityCounter(_FrameUpdates):
    """Identity counts (IDF1, Ristani et al. 2016) with the semantics of ``motmetrics``' ID measures
    (1.4, ``id_global_assignment``), fed with the same frames as :class:`MotCounter`.

    ``objects`` / ``hypotheses`` count the id occurrences over all frames; ``_tp`` counts, per
    (object id, hypothesis id), the frames where the pair has a finite distance. IDTP is the
    largest sum of those counts over one-to-one id mappings (motmetrics minimises IDFP + IDFN,
    which is ``objects + hypotheses - 2 * IDTP``: the same optimum). The per-id occurrence counts
    do not enter the optimum, so only their totals are kept: frames without pairs (poseval's dummy
    frames included) only add to the totals, whatever their ids.
    """

    objects: int = 0
    hypotheses: int = 0
    frames: int = 0
    _tp: dict = field(default_factory=dict)  # (oid, hid) -> frames with a finite distance
    _idtp: int | None = field(default=None, repr=False)  # cached global assignment

    def update_frame(self, no: int, nh: int, pairs: list[tuple[int, int, float, int, int]]) -> None:
        """One frame as the numbers of objects and hypotheses and the finite entries of the distance
        matrix as (row, column, distance, object id, hypothesis id), as :meth:`MotCounter.update_frame`."""
        self.frames += 1
        self.objects += no
        self.hypotheses += nh
        if pairs:
            tp = self._tp
            for _, _, _, o, h in pairs:
                tp[o, h] = tp.get((o, h), 0) + 1
            self._idtp = None

    @property
    def idtp(self) -> int:
        """Identity true positives: co-occurrences kept by the best one-to-one id mapping."""
        if self._idtp is None:
            self._idtp = _max_cooccurrence(self._tp)
        return self._idtp

    @property
    def idfp(self) -> int:
        """Identity false positives: hypothesis occurrences not covered by the mapping."""
        return self.hypotheses - self.idtp

    @property
    def idfn(self) -> int:
        """Identity false negatives: object occurrences not covered by the mapping."""
        return self.objects - self.idtp

    @property
    def idf1(self) -> float:
        """2 IDTP / (2 IDTP + IDFP + IDFN) as a fraction; NaN without any id occurrence."""
        total = self.objects + self.hypotheses
        return 2 * self.idtp / total if total else float("nan")


def _max_cooccurrence(tp: dict) -> int:
    """The largest sum of ``tp[(o, h)]`` over one-to-one mappings of object ids to hypothesis ids."""
    if not tp:
        return 0
    oids = {o: k for k, o in enumerate({o for o, _ in tp})}
    hids = {h: k for k, h in enumerate({h for _, h in tp})}
    if len(oids) == len(hids) == len(tp):  # every id in one pair only (the usual case): take them all
        return int(sum(tp.values()))
    counts = np.zeros((len(oids), len(hids)), np.int64)
    for (o, h), n in tp.items():
        counts[oids[o], hids[h]] = n
    rows, cols = linear_sum_assignment(counts, maximize=True)
    return int(counts[rows, cols].sum())


def mot_inputs(f: FrameData, a: FrameAssignment, joint: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """poseval's per-joint accumulator input of a frame: GT ids and predicted ids having the joint,
    and the PCKh distance of pairs within the threshold (NaN elsewhere). Frames without GT or
    without predictions get one dummy id on each side and a NaN distance."""
    return _MotFrame(f, a).joint(joint)


class _MotFrame:
    """The per-joint accumulator inputs of one frame, computed for all joints at once."""

    __slots__ = ("dummy", "f", "n_gt", "n_pr", "pairs")

    def __init__(self, f: FrameData, a: FrameAssignment) -> None:
        self.f = f
        self.dummy = len(f.gt_ids) == 0 or len(f.pr_ids) == 0
        if self.dummy:
            return
        self.n_gt = f.gt_present.sum(axis=0).tolist()
        self.n_pr = f.pr_present.sum(axis=0).tolist()
        gt_rank = np.cumsum(f.gt_present, axis=0) - 1  # row of each GT person in its joint's list
        pr_rank = np.cumsum(f.pr_present, axis=0) - 1
        p, g, j = np.nonzero(a.match)  # a match implies the joint exists on both sides
        self.pairs: list[list[tuple[int, int, float, int, int]]] = [[] for _ in range(NUM_JOINTS)]
        for q in zip(
            j.tolist(),
            gt_rank[g, j].tolist(),
            pr_rank[p, j].tolist(),
            a.dist[p, g, j].tolist(),
            f.gt_ids[g].tolist(),
            f.pr_ids[p].tolist(),
            strict=True,
        ):
            self.pairs[q[0]].append(q[1:])

    def update(self, counters: tuple[MotCounter | IdentityCounter, ...], j: int) -> None:
        """Feed joint ``j`` of this frame to each of ``counters`` (the same inputs for all)."""
        if self.dummy:  # poseval's dummy ids never have a finite distance: only the totals count
            for counter in counters:
                counter.update_frame(1, 1, [])
        else:
            no, nh, pairs = self.n_gt[j], self.n_pr[j], self.pairs[j]
            for counter in counters:
                counter.update_frame(no, nh, pairs)

    def joint(self, j: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """GT ids, predicted ids and the dense (n_gt, n_pred) distance matrix (NaN: no pair) of joint ``j``."""
        if self.dummy:
            return np.zeros(1, np.int64), np.zeros(1, np.int64), np.full((1, 1), np.nan)
        oids = self.f.gt_ids[self.f.gt_present[:, j]]
        hids = self.f.pr_ids[self.f.pr_present[:, j]]
        d = np.full((len(oids), len(hids)), np.nan)
        for i, k, v, _, _ in self.pairs[j]:
            d[i, k] = v
        return oids.astype(np.int64), hids.astype(np.int64), d


# ----------------------------------------------------------------------------- totals


@dataclass
class JointCounts:
    """Per-joint sums that all reported numbers derive from (arrays of length 15)."""

    ap_scores: list[list[np.ndarray]] = field(default_factory=lambda: [[] for _ in range(NUM_JOINTS)])
    ap_labels: list[list[np.ndarray]] = field(default_factory=lambda: [[] for _ in range(NUM_JOINTS)])
    n_gt: np.ndarray = field(default_factory=lambda: np.zeros(NUM_JOINTS))
    misses: np.ndarray = field(default_factory=lambda: np.zeros(NUM_JOINTS, np.int64))
    switches: np.ndarray = field(default_factory=lambda: np.zeros(NUM_JOINTS, np.int64))
    false_positives: np.ndarray = field(default_factory=lambda: np.zeros(NUM_JOINTS, np.int64))
    objects: np.ndarray = field(default_factory=lambda: np.zeros(NUM_JOINTS, np.int64))
    detections: np.ndarray = field(default_factory=lambda: np.zeros(NUM_JOINTS, np.int64))
    sum_d: np.ndarray = field(default_factory=lambda: np.zeros(NUM_JOINTS))
    idtp: np.ndarray = field(default_factory=lambda: np.zeros(NUM_JOINTS, np.int64))
    idfp: np.ndarray = field(default_factory=lambda: np.zeros(NUM_JOINTS, np.int64))
    idfn: np.ndarray = field(default_factory=lambda: np.zeros(NUM_JOINTS, np.int64))


def _mean_finite(v: np.ndarray) -> float:
    v = np.asarray(v, dtype=float)
    v = v[~np.isnan(v)]
    return float(v.mean()) if v.size else float("nan")


def _group(values: np.ndarray) -> dict[str, float]:
    out = {name: float(np.mean([values[j] for j in idx])) for name, idx in GROUPS.items()}
    out["total"] = _mean_finite(values)
    return out


def counts_for(frames: list[FrameData]) -> JointCounts:
    """Accumulate AP detections, MOT and identity counts over cleaned frames (several sequences allowed).

    Identity counts are summed over sequences, each with its own global id mapping: the same as
    one ``motmetrics`` accumulator over all sequences, whose ids are unique per sequence."""
    c = JointCounts()
    by_seq: dict[int, list[int]] = {}
    assignments = [assign_frame(f) for f in frames]
    for k, f in enumerate(frames):
        by_seq.setdefault(f.seq, []).append(k)
    if frames:
        c.n_gt += np.concatenate([f.gt_present for f in frames]).sum(axis=0)
        present = np.concatenate([f.pr_present for f in frames])
        scores = np.concatenate([f.pr_scores for f in frames])
        labels = np.concatenate([a.labels for a in assignments])
        for j in range(NUM_JOINTS):  # detections in poseval's order: frame by frame, person by person
            has = present[:, j]
            if has.any():
                c.ap_scores[j].append(scores[has, j])
                c.ap_labels[j].append(labels[has, j])
    for ks in by_seq.values():
        counters = [(MotCounter(), IdentityCounter()) for _ in range(NUM_JOINTS)]
        for k in ks[:-1]:  # the last (labelled) frame of every sequence is not scored
            mf = _MotFrame(frames[k], assignments[k])
            for j in range(NUM_JOINTS):
                mf.update(counters[j], j)
        for j, (mc, ic) in enumerate(counters):
            c.misses[j] += mc.misses
            c.switches[j] += mc.switches
            c.false_positives[j] += mc.false_positives
            c.objects[j] += mc.objects
            c.detections[j] += mc.detections
            c.sum_d[j] += mc.sum_d_events
            idtp = ic.idtp
            c.idtp[j] += idtp
            c.idfp[j] += ic.hypotheses - idtp
            c.idfn[j] += ic.objects - idtp
    return c


def metrics_from_counts(c: JointCounts) -> dict:
    """Final numbers (percent) from the sums, with poseval's conventions for empty cases.

    IDF1 / IDP / IDR (not poseval) are per joint like MOTA; a joint without GT objects has NaN
    IDF1 and IDR (like its MOTA), one without predictions NaN IDP."""
    ap = np.array(
        [
            average_precision(
                np.concatenate(c.ap_scores[j]) if c.ap_scores[j] else np.empty(0),
                np.concatenate(c.ap_labels[j]) if c.ap_labels[j] else np.empty(0, bool),
                c.n_gt[j],
            )
            for j in range(NUM_JOINTS)
        ]
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        objects = np.where(c.objects > 0, c.objects, np.nan)
        mota = 100 * (1.0 - (c.misses + c.switches + c.false_positives) / objects)
        motp = np.where(c.detections == 0, 0.0, 100 * (1.0 - c.sum_d / np.maximum(c.detections, 1)))
        total_det = c.detections + c.false_positives
        precision = 100 * c.detections / np.where(total_det > 0, total_det, np.nan)
        recall = 100 * c.detections / objects
        idf1 = 100 * 2 * c.idtp / np.where(c.objects > 0, 2 * c.idtp + c.idfp + c.idfn, np.nan)
        id_pred = c.idtp + c.idfp
        idp = 100 * c.idtp / np.where(id_pred > 0, id_pred, np.nan)
        idr = 100 * c.idtp / objects
    return {
        "ap": _group(ap),
        "mota": _group(mota),
        "motp": {"total": _mean_finite(motp)},
        "precision": {"total": _mean_finite(precision)},
        "recall": {"total": _mean_finite(recall)},
        "idf1": _group(idf1),
        "idp": {"total": _mean_finite(idp)},
        "idr": {"total": _mean_finite(idr)},
        "id_switches": {"total": int(c.switches.sum())},
        "per_joint": {
            "ap": ap.tolist(),
            "mota": mota.tolist(),
            "motp": motp.tolist(),
            "precision": precision.tolist(),
            "recall": recall.tolist(),
            "idf1": idf1.tolist(),
            "idp": idp.tolist(),
            "idr": idr.tolist(),
        },
        "counts": {
            "gt_joints": c.n_gt.astype(int).tolist(),
            "misses": c.misses.tolist(),
            "switches": c.switches.tolist(),
            "false_positives": c.false_positives.tolist(),
            "objects": c.objects.tolist(),
            "detections": c.detections.tolist(),
            "idtp": c.idtp.tolist(),
            "idfp": c.idfp.tolist(),
            "idfn": c.idfn.tolist(),
        },
    }


def compute_metrics(frames: list[FrameData]) -> dict:
    """AP, MOT and identity metrics over cleaned frames (see :func:`prepare_frames`)."""
    return metrics_from_counts(counts_for(frames))
