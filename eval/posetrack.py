"""PoseTrack file formats: reading, writing and joint-layout conversion.

This is the one module that knows the PoseTrack json layouts. Both formats are read
into the same in-memory representation (:class:`Sequence` -> :class:`Frame` ->
:class:`Person`) and written back from it.

* PoseTrack 2017 ("annolist"): one entry per frame; every value is wrapped in a
  one-element list; ``x1..y2`` of a GT person is its HEAD box; joints are listed
  as ``annopoints[0].point`` with ids in the 15-joint poseval order below.
* PoseTrack 2018 (COCO-like): ``images``, ``annotations`` (17 keypoint slots in
  COCO order, slot 1 = head_bottom, slot 2 = head_top, ears unused),
  ``categories``. A keypoint stored as ``(0, 0, 0)`` is "not annotated"; any other
  triple is a joint (this is how the official converter reads the format).

Joint layout used internally: the 15 poseval joints (:data:`JOINT_NAMES`).

Converting outputs of a COCO-17 model (``layout="coco"``) to the 15 joints: the
shoulders, elbows, wrists, hips, knees, ankles and the nose map by name. The two
joints COCO lacks are derived (our documented choice):

* ``head_bottom`` (neck) = midpoint of the two shoulders, score = min of their scores;
* ``head_top`` = ``m + 0.5 * (m - head_bottom)`` where ``m`` is the midpoint of the
  eyes (the nose when an eye is missing); score = min of the scores used. The factor
  0.5 follows adult proportions (eyes-to-vertex is about half of shoulders-to-eyes).

With ``layout="posetrack18"`` (a model trained on PoseTrack 2018 slots), head_bottom
and head_top are read directly from slots 1 and 2.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import json
import math
import os
from collections.abc import Callable, Iterable, Iterator
from collections.abc import Sequence as SequenceABC
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pose.errors import HrtrackError
from pose.files import atomic_write_json
from pose.keypoints import COCO_SKELETON, POSETRACK18_NAMES, POSEVAL_NAMES, SLOT17_TO_15, KeypointLayout, get_layout

try:  # optional: about 2x faster json decoding; the stdlib parser is the fallback
    import orjson as _orjson
except ImportError:  # pragma: no cover - depends on the environment
    _orjson = None

JOINT_NAMES = POSEVAL_NAMES
NUM_JOINTS = len(JOINT_NAMES)
HEAD_BOTTOM, NOSE, HEAD_TOP = (JOINT_NAMES.index(n) for n in ("head_bottom", "nose", "head_top"))

#: Keypoint names of the PoseTrack 2018 files (COCO order, eyes replaced).
POSETRACK18_KEYPOINTS = POSETRACK18_NAMES
#: The ``skeleton`` written into PoseTrack 2018 files: 1-based, COCO's limbs (as the official files have it).
POSETRACK18_SKELETON = [[a + 1, b + 1] for a, b in COCO_SKELETON]
#: Alias names that the 2018 reader accepts for the 15 joints.
_NAME_TO_15 = {name: i for i, name in enumerate(JOINT_NAMES)} | {"neck": HEAD_BOTTOM}

MIN_SCORE = -9999.0
MAX_TRACK_ID = 10000


class PoseTrackError(HrtrackError):
    """A PoseTrack file or evaluation input is unusable; the message is one line."""


@dataclass
class Person:
    """One person in a frame, in the 15-joint poseval layout.

    ``joints`` is (15, 2) x/y, ``present`` (15,) marks the joints that exist,
    ``scores`` (15,) holds the joint scores (NaN: no score given), ``visible`` (15,)
    the visibility flags (-1: not given). ``head_box`` is x1, y1, x2, y2 (GT) and
    ``box`` a person box x1, y1, x2, y2 (predictions), either may be None.
    ``has_points`` is False for a person written without any ``annopoints`` entry
    (poseval drops those; a person with an empty point list is kept).
    """

    track_id: int | None
    joints: np.ndarray
    present: np.ndarray
    scores: np.ndarray
    visible: np.ndarray
    head_box: np.ndarray | None = None
    box: np.ndarray | None = None
    score: float | None = None
    has_points: bool = True

    @classmethod
    def empty(cls, track_id: int | None = None) -> Person:
        """A person with no joints."""
        return cls(
            track_id=track_id,
            joints=np.zeros((NUM_JOINTS, 2)),
            present=np.zeros(NUM_JOINTS, dtype=bool),
            scores=np.full(NUM_JOINTS, np.nan),
            visible=np.full(NUM_JOINTS, -1, dtype=np.int64),
        )


@dataclass
class Frame:
    """One frame: image name, labelled flag, ignore-region polygons ((K, 2) arrays) and people."""

    image: str
    is_labeled: bool = True
    ignore_regions: list[np.ndarray] = field(default_factory=list)
    people: list[Person] = field(default_factory=list)


@dataclass
class Sequence:
    """One video sequence (one json file)."""

    name: str
    frames: list[Frame]
    vid_id: str | None = None


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector inside the block.

    Decoding or building large json documents creates millions of container objects, and the
    collector's repeated passes over them cost more than the work itself. Nothing in this package
    builds reference cycles, so reference counting still frees everything."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


# ----------------------------------------------------------------------------- reading


def json_decoder() -> str:
    """The json decoder :func:`load_json` uses: "orjson" when installed (about 2x faster), else "json"."""
    return "json" if _orjson is None else "orjson"


def load_json(path: str | os.PathLike) -> Any:
    """Read a json file; malformed json raises a one-line :class:`PoseTrackError` with the position."""
    path = Path(path)
    try:
        if _orjson is not None:
            with open(path, "rb") as f:
                raw = f.read()
            try:
                return _orjson.loads(raw)
            except _orjson.JSONDecodeError:
                pass  # the stdlib parser gives the error message (and accepts NaN / Infinity)
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except json.JSONDecodeError as e:
        raise PoseTrackError(f"{path}: malformed JSON at line {e.lineno} column {e.colno}: {e.msg}") from None
    except UnicodeDecodeError as e:
        raise PoseTrackError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    except OSError as e:
        raise PoseTrackError(f"{path}: cannot read ({e.strerror})") from None


def _one(value: Any) -> Any:
    """Unwrap the one-element lists of the 2017 format (plain values pass through)."""
    if isinstance(value, list):
        return value[0] if value else None
    return value


def _rect_fields(rect: Any, where: str) -> tuple[int | None, np.ndarray | None, float | None, list | None]:
    """Track id, head box (x1, y1, x2, y2), score and point list of a 2017 ``annorect`` entry.

    The point list is None when poseval would drop the person (no ``annopoints[0].point``)."""
    if not isinstance(rect, dict):
        raise PoseTrackError(f"{where}: annorect entry is not an object")
    tid = _one(rect.get("track_id"))
    head_box = None
    if "x1" in rect and "y1" in rect and "x2" in rect and "y2" in rect:
        head_box = np.array([float(_one(rect[k])) for k in ("x1", "y1", "x2", "y2")])
    score = float(_one(rect["score"])) if rect.get("score") is not None else None
    annopoints = rect.get("annopoints")
    # poseval keeps a person only if annopoints[0] exists and has a "point" key.
    if not (
        isinstance(annopoints, list) and annopoints and isinstance(annopoints[0], dict) and "point" in annopoints[0]
    ):
        return (None if tid is None else int(tid)), head_box, score, None
    return (None if tid is None else int(tid)), head_box, score, annopoints[0]["point"] or []


def _person_from_annorect(rect: dict, where: str) -> Person:
    """One 2017 ``annorect`` entry -> :class:`Person` (general reader, any value layout)."""
    tid, head_box, score, points = _rect_fields(rect, where)
    person = Person.empty(tid)
    person.head_box, person.score, person.has_points = head_box, score, points is not None
    person.box = None if head_box is None else head_box.copy()
    for point in points or []:
        jid = _one(point.get("id"))
        if jid is None:
            continue
        jid = int(jid)
        if not 0 <= jid < NUM_JOINTS or person.present[jid]:
            continue  # unknown id, or a repeated id (the first one counts)
        try:
            person.joints[jid] = (float(_one(point["x"])), float(_one(point["y"])))
        except (KeyError, TypeError, ValueError):
            raise PoseTrackError(f"{where}: joint {jid} lacks numeric x/y") from None
        person.present[jid] = True
        if point.get("score") is not None:
            person.scores[jid] = float(_one(point["score"]))
        if point.get("is_visible") is not None:
            person.visible[jid] = int(_one(point["is_visible"]))
    return person


def _numeric(values: list, integer: bool = False) -> np.ndarray | None:
    """``values`` as a 1-d float array when they are all plain finite-or-not numbers
    (integral and finite with ``integer``); None otherwise (the caller then takes the general path)."""
    try:
        arr = np.asarray(values)
    except (ValueError, TypeError, OverflowError):
        return None
    if arr.ndim != 1 or arr.dtype.kind not in "iuf":
        return None
    arr = arr.astype(float)
    if integer and not (np.abs(arr) < 2.0**53).all():  # also rejects NaN / inf
        return None
    return arr


_NAN = float("nan")


def _people_2017_fast(rect_lists: list[list]) -> list[list[Person]] | None:
    """Vectorised reader of the people of all frames of a 2017 sequence, for the usual layout
    (every point value a one-element list of a number). Returns None on anything else; the general
    reader then handles the sequence with the same semantics."""
    rects_all = [r for rects in rect_lists for r in rects]
    if not all(type(r) is dict for r in rects_all):
        return None
    try:  # the person-level values, one pass per field
        tids = [r["track_id"][0] if "track_id" in r else None for r in rects_all]
        has_box = ["x1" in r and "y1" in r and "x2" in r and "y2" in r for r in rects_all]
        boxes = [
            (r["x1"][0], r["y1"][0], r["x2"][0], r["y2"][0]) if h else (0, 0, 0, 0)
            for r, h in zip(rects_all, has_box, strict=True)
        ]
        has_score = [r.get("score") is not None for r in rects_all]
        rect_scores = [r["score"][0] if h else _NAN for r, h in zip(rects_all, has_score, strict=True)]
        aps = [r.get("annopoints") for r in rects_all]
        # poseval keeps a person only if annopoints[0] exists and has a "point" key.
        point_lists = [
            (a[0]["point"] or []) if (type(a) is list and a and type(a[0]) is dict and "point" in a[0]) else None
            for a in aps
        ]
    except (KeyError, TypeError, IndexError, AttributeError):
        return None
    if not all(t is None or type(t) is int for t in tids) or not all(
        pl is None or type(pl) is list for pl in point_lists
    ):
        return None
    try:
        box_arr = np.asarray(boxes) if boxes else np.zeros((0, 4))
    except (ValueError, TypeError, OverflowError):
        return None
    rect_score_arr = _numeric(rect_scores) if rect_scores else np.zeros(0)
    if box_arr.ndim != 2 or box_arr.dtype.kind not in "iuf" or rect_score_arr is None:
        return None
    head_boxes = box_arr.astype(float)
    person_boxes = head_boxes.copy()
    counts = [len(pl) if pl else 0 for pl in point_lists]
    points_all = [pt for pl in point_lists if pl for pt in pl]
    try:  # one pass per field over all points of the sequence
        ids = [p["id"][0] for p in points_all]
        xs = [p["x"][0] for p in points_all]
        ys = [p["y"][0] for p in points_all]
        scs = [p["score"][0] if "score" in p else _NAN for p in points_all]
        vis = [p["is_visible"][0] if "is_visible" in p else -1 for p in points_all]
    except (KeyError, TypeError, IndexError, AttributeError):
        return None
    n = len(rects_all)
    joints = np.zeros((n, NUM_JOINTS, 2))
    present = np.zeros((n, NUM_JOINTS), dtype=bool)
    scores = np.full((n, NUM_JOINTS), np.nan)
    visible = np.full((n, NUM_JOINTS), -1, dtype=np.int64)
    if ids:
        arrays = [_numeric(ids, True), _numeric(xs), _numeric(ys), _numeric(scs), _numeric(vis, True)]
        if any(a is None for a in arrays):
            return None
        jid, x, y, sc, vi = arrays
        own = np.repeat(np.arange(n, dtype=np.int64), counts)
        jid = np.trunc(jid).astype(np.int64)  # int() of a float id truncates as well
        ok = (jid >= 0) & (jid < NUM_JOINTS)
        _, first = np.unique((own * NUM_JOINTS + jid)[ok], return_index=True)  # repeated id: the first counts
        sel = np.flatnonzero(ok)[first]
        r, c = own[sel], jid[sel]
        joints[r, c, 0] = x[sel]
        joints[r, c, 1] = y[sel]
        present[r, c] = True
        scores[r, c] = sc[sel]
        visible[r, c] = np.trunc(vi[sel]).astype(np.int64)
    persons = [
        Person(
            track_id=tids[k],
            joints=joints[k],
            present=present[k],
            scores=scores[k],
            visible=visible[k],
            head_box=head_boxes[k] if has_box[k] else None,
            box=person_boxes[k] if has_box[k] else None,
            score=float(rect_score_arr[k]) if has_score[k] else None,
            has_points=point_lists[k] is not None,
        )
        for k in range(n)
    ]
    out, k = [], 0
    for rects in rect_lists:
        out.append(persons[k : k + len(rects)])
        k += len(rects)
    return out


def _polygons_2017(regions: Any) -> list[np.ndarray]:
    polys = []
    for region in regions or []:
        pts = [(float(_one(p["x"])), float(_one(p["y"]))) for p in region.get("point", [])]
        polys.append(np.array(pts, dtype=float).reshape(-1, 2))
    return polys


def _parse_2017(data: dict, name: str, path: Path) -> Sequence:
    annolist = data["annolist"]
    if not isinstance(annolist, list):
        raise PoseTrackError(f"{path}: 'annolist' is not a list")
    frames = []
    rect_lists = []
    for idx, entry in enumerate(annolist):
        where = f"{path}: frame {idx}"
        if not isinstance(entry, dict):
            raise PoseTrackError(f"{where}: not an object")
        image = entry.get("image")
        image_name = str(_one(image).get("name", "")) if image and isinstance(_one(image), dict) else ""
        labeled = _one(entry.get("is_labeled"))
        rects = entry.get("annorect") or []
        if not isinstance(rects, list):
            raise PoseTrackError(f"{where}: 'annorect' is not a list")
        rect_lists.append(rects)
        frame = Frame(
            image=image_name,
            is_labeled=bool(labeled) if labeled is not None else bool(rects),
            ignore_regions=_polygons_2017(entry.get("ignore_regions")),
        )
        frames.append(frame)
    people = _people_2017_fast(rect_lists)
    for idx, (frame, rects) in enumerate(zip(frames, rect_lists, strict=True)):
        if people is not None:
            frame.people = people[idx]
        else:  # unusual value layout: the general reader
            frame.people = [_person_from_annorect(r, f"{path}: frame {idx} ({frame.image})") for r in rects]
    return Sequence(name=name, frames=frames)


def _parse_2018(data: dict, name: str, path: Path) -> Sequence:
    for key in ("images", "annotations"):
        if not isinstance(data.get(key), list):
            raise PoseTrackError(f"{path}: '{key}' missing or not a list (neither PoseTrack 2017 nor 2018 format)")
    cats = data.get("categories") or []
    kp_names = cats[0].get("keypoints") if cats and isinstance(cats[0], dict) else None
    table = np.array([_NAME_TO_15.get(n, -1) for n in kp_names]) if kp_names else SLOT17_TO_15
    nslots = len(table)
    by_image: dict[Any, list[dict]] = {}
    for ann in data["annotations"]:
        by_image.setdefault(ann.get("image_id"), []).append(ann)
    frames = []
    vid_id = None
    for idx, img in enumerate(data["images"]):
        where = f"{path}: image {idx} ({img.get('file_name', '')})"
        vid_id = vid_id or (str(img["vid_id"]) if img.get("vid_id") is not None else None)
        polys = []
        xs, ys = img.get("ignore_regions_x") or [], img.get("ignore_regions_y") or []
        for px, py in zip(xs, ys, strict=False):
            polys.append(np.stack([np.asarray(px, float), np.asarray(py, float)], axis=1).reshape(-1, 2))
        people = []
        for ann in by_image.get(img.get("id"), []):
            tid = ann.get("track_id")
            person = Person.empty(None if tid is None else int(tid))
            kps = np.asarray(ann.get("keypoints") or np.zeros(nslots * 3), dtype=float)
            if kps.size != nslots * 3:
                raise PoseTrackError(f"{where}: keypoints has {kps.size} values, expected {nslots * 3}")
            kps = kps.reshape(nslots, 3)
            scores = ann.get("scores") or None
            for slot, jid in enumerate(table):
                x, y, v = kps[slot]
                if jid < 0 or (x == 0 and y == 0 and v == 0) or person.present[jid]:
                    continue
                person.joints[jid] = (x, y)
                person.present[jid] = True
                person.visible[jid] = int(v)
                if scores is not None:
                    person.scores[jid] = float(scores[slot])
            if ann.get("bbox_head"):
                x, y, w, h = (float(v) for v in ann["bbox_head"])
                person.head_box = np.array([x, y, x + w, y + h])
            if ann.get("bbox"):
                x, y, w, h = (float(v) for v in ann["bbox"])
                person.box = np.array([x, y, x + w, y + h])
            if ann.get("score") is not None:
                person.score = float(ann["score"])
            people.append(person)
        labeled = img.get("is_labeled")
        frames.append(
            Frame(
                image=str(img.get("file_name", "")),
                is_labeled=bool(labeled) if labeled is not None else bool(people),
                ignore_regions=polys,
                people=people,
            )
        )
    return Sequence(name=name, frames=frames, vid_id=vid_id)


def read_sequence(path: str | os.PathLike, prediction: bool = False) -> Sequence:
    """Read one PoseTrack 2017 or 2018 json file (detected from its keys).

    ``prediction``: first check every predicted person strictly (:func:`check_prediction`)."""
    path = Path(path)
    data = load_json(path)
    name = path.name.rsplit(".", 1)[0]
    if not isinstance(data, dict):
        raise PoseTrackError(f"{path}: top level is not a json object")
    try:
        if prediction:
            check_prediction(data, path)
        if "annolist" in data:
            return _parse_2017(data, name, path)
        return _parse_2018(data, name, path)
    except PoseTrackError:
        raise
    except (KeyError, TypeError, ValueError, IndexError, AttributeError, OverflowError) as e:
        raise PoseTrackError(f"{path}: unexpected PoseTrack structure ({type(e).__name__}: {e})") from None


# ----------------------------------------------------------------------------- strict predictions
# What the official poseval (commit 4258a157) does with each malformed field of a prediction, run on
# each case: it crashes on a string, null or missing track_id, a track_id of 10000 or more, track ids
# repeated in a frame, null or string keypoints, string coordinates, a keypoint or scores list of
# the wrong length, and string scores: each is a clear error here instead. It scores NaN or infinite
# coordinates as wrong detections and ranks a NaN score highest, keeps 1.5 as a track id of its own,
# accepts negative track ids and ignores annotations whose image_id is no image of the file: none of
# these is a meaningful submission, so each is an error here too. Missing scores (poseval: -9999),
# unknown 2017 joint ids (skipped), persons without annopoints (dropped) and is_labeled are read as
# poseval reads them.


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and (isinstance(v, float) or abs(v) < 2**63)


def _show(v: Any) -> str:
    text = repr(v)
    return text if len(text) <= 40 else text[:37] + "..."


def _check_track_id(tid: Any, where: str) -> None:
    if tid is None:
        raise PoseTrackError(f"{where}: track_id is missing")
    if not _is_number(tid) or not math.isfinite(tid) or tid != int(tid):
        raise PoseTrackError(f"{where}: track_id must be an integer, got {_show(tid)}")
    if not 0 <= tid < MAX_TRACK_ID:
        raise PoseTrackError(f"{where}: track_id must be in [0, {MAX_TRACK_ID}), got {_show(tid)}")


def _check_numbers(values: Any, where: str, field: str, length: int | None = None) -> None:
    if not isinstance(values, list):
        raise PoseTrackError(f"{where}: {field} must be a list of numbers, got {type(values).__name__}")
    if length is not None and len(values) != length:
        raise PoseTrackError(f"{where}: {field} has {len(values)} values, expected {length}")
    for k, v in enumerate(values):
        if not _is_number(v):
            raise PoseTrackError(f"{where}: {field}[{k}] must be a number, got {_show(v)}")
        if not math.isfinite(v):
            raise PoseTrackError(f"{where}: {field}[{k}] is {_show(v)}, not a finite number")


def _check_ids_unique(ids: list[Any], where: str) -> None:
    seen = set()
    for tid in ids:
        if tid in seen:
            raise PoseTrackError(f"{where}: track_id {_show(tid)} is given to two people of this frame")
        seen.add(tid)


def check_prediction(data: dict, path: Path) -> None:
    """Raise a one-line :class:`PoseTrackError` naming file, frame, person and field on the first
    malformed predicted person (the choices against poseval are listed above)."""
    if "annolist" in data:
        annolist = data["annolist"]
        for fi, entry in enumerate(annolist if isinstance(annolist, list) else []):
            if not isinstance(entry, dict):
                continue  # the reader reports it
            rects = entry.get("annorect") or []
            ids = []
            for pi, rect in enumerate(rects if isinstance(rects, list) else []):
                where = f"{path}: frame {fi}, person {pi}"
                if not isinstance(rect, dict):
                    raise PoseTrackError(f"{where}: not an object")
                tid = _one(rect.get("track_id"))
                _check_track_id(tid, where)
                ids.append(tid)
                if rect.get("score") is not None:
                    _check_numbers([_one(rect["score"])], where, "score")
                if "annopoints" not in rect:
                    continue
                aps = rect["annopoints"]
                if not isinstance(aps, list) or (aps and not isinstance(aps[0], dict)):
                    raise PoseTrackError(f"{where}: annopoints must be a list holding one {{'point': [...]}} object")
                points = aps[0].get("point", []) if aps else []
                if not isinstance(points, list):
                    raise PoseTrackError(f"{where}: annopoints[0].point must be a list of joints")
                for k, point in enumerate(points):
                    if not isinstance(point, dict):
                        raise PoseTrackError(f"{where}: point {k} is not an object")
                    for field in ("x", "y") + (("score",) if point.get("score") is not None else ()):
                        _check_numbers([_one(point.get(field))], where, f"point {k} {field}")
            _check_ids_unique(ids, f"{path}: frame {fi}")
        return
    images = data.get("images")
    annotations = data.get("annotations")
    if not isinstance(images, list) or not isinstance(annotations, list):
        return  # the reader reports it
    cats = data.get("categories") or []
    cat = cats[0] if isinstance(cats, list) and cats else None
    names = cat.get("keypoints") if isinstance(cat, dict) else None
    slots = len(names) if isinstance(names, list) and names else 17
    frame_of = {}
    for fi, img in enumerate(images):
        image_id = img.get("id") if isinstance(img, dict) else None
        if not isinstance(image_id, int | str) or isinstance(image_id, bool):
            raise PoseTrackError(f"{path}: image {fi}: id must be an integer or a string, got {_show(image_id)}")
        frame_of[image_id] = fi
    ids: dict[Any, list[Any]] = {}
    for ai, ann in enumerate(annotations):
        where = f"{path}: annotation {ai}"
        if not isinstance(ann, dict):
            raise PoseTrackError(f"{where}: not an object")
        if not isinstance(ann.get("image_id"), int | str) or ann.get("image_id") not in frame_of:
            raise PoseTrackError(f"{where}: image_id {ann.get('image_id')!r} is not the id of any image of the file")
        where = f"{path}: frame {frame_of[ann['image_id']]}, annotation {ai}"
        _check_track_id(ann.get("track_id"), where)
        ids.setdefault(ann["image_id"], []).append(ann["track_id"])
        if "keypoints" not in ann or ann["keypoints"] is None:
            raise PoseTrackError(f"{where}: keypoints is missing")
        _check_numbers(ann["keypoints"], where, "keypoints", slots * 3)
        if ann.get("scores"):  # missing or empty: poseval scores every joint -9999
            _check_numbers(ann["scores"], where, "scores", slots)
        if ann.get("score") is not None:
            _check_numbers([ann["score"]], where, "score")
    for image_id, tids in ids.items():
        _check_ids_unique(tids, f"{path}: frame {frame_of[image_id]}")


# ----------------------------------------------------------------------------- writing


def _f(v: Any) -> float | int:
    v = float(v)
    return int(v) if v.is_integer() else v


def posetrack17_entry(idx: int, frame: Frame) -> dict:
    """One frame of the PoseTrack 2017 (annolist) json: the ``annolist`` entry of frame ``idx``."""
    rects = []
    for p in frame.people:
        rect: dict[str, Any] = {}
        if p.track_id is not None:
            rect["track_id"] = [int(p.track_id)]
        box = p.head_box if p.head_box is not None else p.box
        if box is not None:
            for k, v in zip(("x1", "y1", "x2", "y2"), box, strict=True):
                rect[k] = [_f(v)]
        if p.score is not None:
            rect["score"] = [float(p.score)]
        if p.has_points:
            points = []
            for j in np.flatnonzero(p.present):
                pt: dict[str, Any] = {"id": [int(j)], "x": [_f(p.joints[j, 0])], "y": [_f(p.joints[j, 1])]}
                if not np.isnan(p.scores[j]):
                    pt["score"] = [float(p.scores[j])]
                if p.visible[j] >= 0:
                    pt["is_visible"] = [int(p.visible[j])]
                points.append(pt)
            rect["annopoints"] = [{"point": points}]
        rects.append(rect)
    entry: dict[str, Any] = {
        "image": [{"name": frame.image}],
        "imgnum": [idx + 1],
        "is_labeled": [int(frame.is_labeled)],
        "annorect": rects,
    }
    if frame.ignore_regions:
        entry["ignore_regions"] = [
            {"point": [{"id": [k], "x": [_f(x)], "y": [_f(y)]} for k, (x, y) in enumerate(poly)]}
            for poly in frame.ignore_regions
        ]
    return entry


def to_posetrack17(seq: Sequence) -> dict:
    """The PoseTrack 2017 (annolist) json object of a sequence."""
    return {"annolist": [posetrack17_entry(idx, frame) for idx, frame in enumerate(seq.frames)]}


def _image_id(vid_id: str | None, idx: int) -> int:
    """PoseTrack 2018 style image id: "1" + video id + 4-digit frame index when the video id is numeric."""
    if vid_id and vid_id.isdigit():
        return int(f"1{vid_id}{idx:04d}")
    return idx


def video_id(seq_name: str, vid_id: str | None = None) -> str:
    """The PoseTrack 2018 video id of a sequence: its own, else the name's leading part."""
    return vid_id or seq_name.split("_")[0]


def posetrack18_image(idx: int, frame: Frame, vid_id: str, nframes: int) -> dict:
    """The ``images`` entry of frame ``idx`` of a PoseTrack 2018 json."""
    image_id = _image_id(vid_id, idx)
    return {
        "file_name": frame.image,
        "id": image_id,
        "frame_id": image_id,
        "vid_id": vid_id,
        "nframes": nframes,
        "is_labeled": bool(frame.is_labeled),
        "ignore_regions_x": [[_f(v) for v in poly[:, 0]] for poly in frame.ignore_regions],
        "ignore_regions_y": [[_f(v) for v in poly[:, 1]] for poly in frame.ignore_regions],
    }


_SLOT_OF = {int(j): s for s, j in enumerate(SLOT17_TO_15) if j >= 0}


def posetrack18_annotations(idx: int, frame: Frame, vid_id: str) -> list[dict]:
    """The ``annotations`` entries of the people of frame ``idx`` of a PoseTrack 2018 json."""
    image_id = _image_id(vid_id, idx)
    annotations = []
    for k, p in enumerate(frame.people):
        kps = np.zeros((17, 3))
        scores = np.zeros(17)
        for j in np.flatnonzero(p.present):
            s = _SLOT_OF[int(j)]
            vis = p.visible[j] if p.visible[j] >= 0 else 1
            kps[s] = (p.joints[j, 0], p.joints[j, 1], vis)
            scores[s] = p.scores[j]
        ann: dict[str, Any] = {
            "id": image_id * 100 + k,
            "image_id": image_id,
            "category_id": 1,
            "track_id": None if p.track_id is None else int(p.track_id),
            "keypoints": [_f(v) for v in kps.ravel()],
            # no score at all -> empty list (readers then use the -9999 fallback)
            "scores": [] if np.isnan(p.scores[p.present]).all() else [float(np.nan_to_num(v)) for v in scores],
        }
        if p.head_box is not None:
            x1, y1, x2, y2 = (float(v) for v in p.head_box)
            ann["bbox_head"] = [_f(x1), _f(y1), _f(x2 - x1), _f(y2 - y1)]
        if p.box is not None:
            x1, y1, x2, y2 = (float(v) for v in p.box)
            ann["bbox"] = [_f(x1), _f(y1), _f(x2 - x1), _f(y2 - y1)]
        if p.score is not None:
            ann["score"] = float(p.score)
        annotations.append(ann)
    return annotations


def posetrack18_categories() -> list[dict]:
    return [
        {
            "supercategory": "person",
            "id": 1,
            "name": "person",
            "keypoints": list(POSETRACK18_KEYPOINTS),
            "skeleton": POSETRACK18_SKELETON,
        }
    ]


def to_posetrack18(seq: Sequence) -> dict:
    """The PoseTrack 2018 (COCO-like) json object of a sequence."""
    vid_id = video_id(seq.name, seq.vid_id)
    n = len(seq.frames)
    images = [posetrack18_image(idx, frame, vid_id, n) for idx, frame in enumerate(seq.frames)]
    annotations = [a for idx, frame in enumerate(seq.frames) for a in posetrack18_annotations(idx, frame, vid_id)]
    return {"images": images, "annotations": annotations, "categories": posetrack18_categories()}


def stream_sequence(
    frames: Callable[[], Iterable[Frame]],
    count: int,
    name: str,
    path: str | os.PathLike,
    fmt: str = "2017",
    vid_id: str | None = None,
) -> Path:
    """Write a sequence of ``count`` frames in PoseTrack ``fmt`` frame by frame, never holding more
    than one frame: ``frames()`` gives a fresh iterator over them (called twice for 2018, whose
    images and annotations are two lists). The bytes are those of :func:`write_sequence` (the json
    module's default separators join list items with ", "). Written in place: give a temp path."""
    if fmt not in ("2017", "2018"):
        raise PoseTrackError(f"unknown PoseTrack format {fmt!r} (use '2017' or '2018')")
    dump = functools.partial(json.dumps, allow_nan=False)
    with open(path, "w", encoding="utf-8") as f:
        if fmt == "2017":
            f.write('{"annolist": [')
            for idx, frame in enumerate(frames()):
                f.write((", " if idx else "") + dump(posetrack17_entry(idx, frame)))
            f.write("]}")
            return Path(path)
        vid = video_id(name, vid_id)
        f.write('{"images": [')
        for idx, frame in enumerate(frames()):
            f.write((", " if idx else "") + dump(posetrack18_image(idx, frame, vid, count)))
        f.write('], "annotations": [')
        first = True
        for idx, frame in enumerate(frames()):
            for ann in posetrack18_annotations(idx, frame, vid):
                f.write(("" if first else ", ") + dump(ann))
                first = False
        f.write('], "categories": ' + dump(posetrack18_categories()) + "}")
    return Path(path)


def write_sequence(seq: Sequence, path: str | os.PathLike, fmt: str = "2017") -> Path:
    """Write a sequence atomically in PoseTrack ``fmt`` ("2017" or "2018"); returns the path."""
    if fmt not in ("2017", "2018"):
        raise PoseTrackError(f"unknown PoseTrack format {fmt!r} (use '2017' or '2018')")
    obj = to_posetrack17(seq) if fmt == "2017" else to_posetrack18(seq)
    atomic_write_json(obj, path)
    return Path(path)


# ----------------------------------------------------------------------------- 17 -> 15 joints


def coco17_to_posetrack15(
    keypoints: np.ndarray, layout: str | KeypointLayout = "coco"
) -> tuple[np.ndarray, np.ndarray]:
    """Convert (N, 17, 3) x/y/score keypoints to (N, 15, 2) joints and (N, 15) scores.

    ``layout="coco"``: slots 1/2 are the eyes; head_bottom and head_top are derived as
    described in the module docstring. ``layout="posetrack18"``: slots 1/2 are
    head_bottom/head_top. A joint whose score is NaN is absent (NaN propagates).
    """
    layout = get_layout(layout)
    kp = np.asarray(keypoints, dtype=float).reshape(-1, 17, 3)
    n = kp.shape[0]
    joints = np.full((n, NUM_JOINTS, 2), np.nan)
    scores = np.full((n, NUM_JOINTS), np.nan)
    for slot, jid in enumerate(layout.to_poseval()):
        if jid >= 0:
            joints[:, jid] = kp[:, slot, :2]
            scores[:, jid] = kp[:, slot, 2]
    if not layout.has_head_points:  # COCO: head_bottom and head_top derived (module docstring)
        neck = (kp[:, 5, :2] + kp[:, 6, :2]) / 2
        neck_s = np.minimum(kp[:, 5, 2], kp[:, 6, 2])
        eyes = (kp[:, 1, :2] + kp[:, 2, :2]) / 2
        eyes_s = np.minimum(kp[:, 1, 2], kp[:, 2, 2])
        use_nose = ~np.isfinite(eyes).all(axis=1) | ~np.isfinite(eyes_s)
        anchor = np.where(use_nose[:, None], kp[:, 0, :2], eyes)
        anchor_s = np.where(use_nose, kp[:, 0, 2], eyes_s)
        joints[:, HEAD_BOTTOM] = neck
        scores[:, HEAD_BOTTOM] = neck_s
        joints[:, HEAD_TOP] = anchor + 0.5 * (anchor - neck)
        scores[:, HEAD_TOP] = np.minimum(anchor_s, neck_s)
    return joints, scores


def posetrack15_to_slots17(joints: np.ndarray, present: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """15 poseval joints -> (17, 3) x/y/score in PoseTrack 2018 slots (absent and ears: zeros)."""
    out = np.zeros((17, 3))
    for slot, jid in enumerate(SLOT17_TO_15):
        if jid >= 0 and present[jid]:
            s = scores[jid]
            out[slot] = (joints[jid, 0], joints[jid, 1], 0.0 if np.isnan(s) else s)
    return out


def people_from_keypoints(
    keypoints: np.ndarray,
    track_ids: SequenceABC[int] | np.ndarray,
    boxes: np.ndarray | None = None,
    box_scores: SequenceABC[float] | np.ndarray | None = None,
    layout: str | KeypointLayout = "coco",
    min_joint_score: float | None = None,
) -> list[Person]:
    """Build prediction :class:`Person` records from (N, 17, 3) keypoints, N track ids and optional
    (N, 4) x1, y1, x2, y2 boxes / N box scores. Joints scoring below ``min_joint_score`` are left out
    (PoseTrack MOTA counts every submitted joint)."""
    kp = np.asarray(keypoints, dtype=float).reshape(-1, 17, 3)
    if len(track_ids) != kp.shape[0]:
        raise PoseTrackError(f"{kp.shape[0]} poses but {len(track_ids)} track ids")
    joints, scores = coco17_to_posetrack15(kp, layout)
    people = []
    for i in range(kp.shape[0]):
        present = np.isfinite(joints[i]).all(axis=1) & np.isfinite(scores[i])
        if min_joint_score is not None:
            present &= scores[i] >= min_joint_score
        p = Person(
            track_id=int(track_ids[i]),
            joints=np.where(present[:, None], joints[i], 0.0),
            present=present,
            scores=np.where(present, scores[i], np.nan),
            visible=np.where(present, 1, -1).astype(np.int64),
        )
        if boxes is not None:
            p.box = np.asarray(boxes[i], dtype=float)[:4].copy()
        if box_scores is not None:
            p.score = float(box_scores[i])
        people.append(p)
    return people
