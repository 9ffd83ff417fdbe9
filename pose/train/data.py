"""Person records from COCO / PoseTrack 2017 / PoseTrack 2018 annotations and the top-down training dataset.

A :class:`PersonRecord` is one annotated person: image path, box (xyxy, image pixels) and 17
joints ``(x, y, visibility)``. Loaders turn annotation files into :class:`RecordList` objects (a
list of records that also carries the counts of what was skipped and why), and
:class:`KeypointDataset` turns records into network inputs, Gaussian targets and weights.

Bad data never stops training half-way: annotations that cannot be used (unknown category, no
visible joints, degenerate box, missing image file) are skipped while loading, with one warning
that gives the counts; an image that fails to decode inside ``__getitem__`` is replaced by the
next loadable sample (a deterministic choice) and counted in ``KeypointDataset.load_failures``.
Problems that make the whole run pointless (a missing annotation file or image folder) raise a
one-line :class:`ValueError` before training starts.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from pose.errors import HrtrackError
from pose.estimator import IMAGENET_MEAN, IMAGENET_STD
from pose.train.augment import NO_AUGMENT, AugmentConfig, augment
from pose.train.target import default_sigma, generate_target
from pose.transforms import box_to_center_scale

log = logging.getLogger(__name__)

NUM_JOINTS = 17
PERSON_CATEGORY = 1
POSETRACK_BOX_ENLARGE = 1.15  # HRNet §4.3: person box = keypoint box enlarged by 15 %
# PoseTrack 2018 slots 1/2 are head_bottom/head_top (not a left/right pair): never swap them.
MIN_BOX_SIZE = 1.0  # pixels; a box smaller than this in both sides has no usable scale


@dataclass
class PersonRecord:
    """One annotated person.

    image: path of the image file. box: ``(4,)`` float64 xyxy in image pixels.
    joints: ``(17,3)`` float64 x, y, visibility (0 unlabelled, > 0 labelled; COCO uses 1/2).
    image_id / ann_id: ids from the annotation file (for evaluation and debugging).
    """

    image: str
    box: np.ndarray
    joints: np.ndarray
    image_id: int = -1
    ann_id: int = -1


class RecordList(list):
    """A list of :class:`PersonRecord` with ``skipped``: a Counter of skipped persons by reason."""

    def __init__(self, records: Iterable[PersonRecord] = (), skipped: Counter[str] | None = None) -> None:
        super().__init__(records)
        self.skipped: Counter[str] = Counter() if skipped is None else skipped


def _warn_skipped(source: str, kept: int, skipped: Counter[str]) -> None:
    if skipped:
        reasons = ", ".join(f"{reason}: {n}" for reason, n in sorted(skipped.items()))
        log.warning("%s: kept %d persons, skipped %d (%s)", source, kept, sum(skipped.values()), reasons)


def _require_file(path: Path, what: str) -> None:
    if not path.is_file():
        raise HrtrackError(f"{what} {str(path)!r} does not exist or is not a file")


def _require_dir(path: Path, what: str) -> None:
    if not path.is_dir():
        raise HrtrackError(f"{what} {str(path)!r} does not exist or is not a directory")


def _joints(flat: Sequence[float]) -> np.ndarray | None:
    """COCO ``keypoints`` (51 numbers) -> ``(17,3)``, or None when the list is malformed."""
    arr = np.asarray(flat, np.float64)
    if arr.size != NUM_JOINTS * 3 or not np.isfinite(arr).all():
        return None
    return arr.reshape(NUM_JOINTS, 3)


def coco_records(ann_json: str | os.PathLike[str], image_dir: str | os.PathLike[str]) -> RecordList:
    """Training persons of a COCO keypoint file, with their ground-truth boxes.

    Follows the official loader: person category only, ``num_keypoints > 0`` (at least one
    labelled joint), and the box ``[x, y, w, h]`` cleaned by clipping to the image
    (``x2 = min(width - 1, x1 + max(0, w - 1))``, likewise in y) and dropped when its area is 0
    or the clipped box is empty. Crowd annotations are skipped. Images that do not exist on disk
    are skipped (counted per person).
    """
    from pycocotools.coco import COCO

    ann_path, image_root = Path(ann_json), Path(image_dir)
    _require_file(ann_path, "COCO annotation file")
    _require_dir(image_root, "COCO image directory")
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints progress lines
            coco = COCO(str(ann_path))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise HrtrackError(f"cannot read COCO annotation file {str(ann_path)!r}: {exc}") from None

    skipped: Counter[str] = Counter()
    records = RecordList(skipped=skipped)
    exists: dict[int, bool] = {}
    for image_id in sorted(coco.getImgIds()):
        info = coco.imgs[image_id]
        width, height = float(info.get("width", 0)), float(info.get("height", 0))
        path = image_root / info["file_name"]
        for ann in coco.loadAnns(coco.getAnnIds(imgIds=image_id, iscrowd=None)):
            if ann.get("category_id") != PERSON_CATEGORY:
                skipped["unknown category"] += 1
                continue
            if ann.get("iscrowd", 0):
                skipped["crowd"] += 1
                continue
            joints = _joints(ann.get("keypoints", ()))
            if joints is None:
                skipped["malformed keypoints"] += 1
                continue
            if ann.get("num_keypoints", int((joints[:, 2] > 0).sum())) <= 0 or not (joints[:, 2] > 0).any():
                skipped["no visible joints"] += 1
                continue
            bbox = ann.get("bbox")
            if bbox is None or len(bbox) != 4:
                skipped["invalid box"] += 1
                continue
            x, y, w, h = (float(v) for v in bbox)
            x1, y1 = max(0.0, x), max(0.0, y)
            x2 = min(width - 1, x1 + max(0.0, w - 1))
            y2 = min(height - 1, y1 + max(0.0, h - 1))
            if ann.get("area", w * h) <= 0 or x2 < x1 or y2 < y1 or max(x2 - x1, y2 - y1) < MIN_BOX_SIZE:
                skipped["invalid box"] += 1
                continue
            if image_id not in exists:
                exists[image_id] = path.is_file()
            if not exists[image_id]:
                skipped["missing image"] += 1
                continue
            box = np.array([x1, y1, x2, y2], np.float64)
            records.append(PersonRecord(str(path), box, joints, int(image_id), int(ann.get("id", -1))))
    _warn_skipped(f"coco_records({ann_path.name})", len(records), skipped)
    return records


def _posetrack_files(
    ann_json_or_dir: str | os.PathLike[str], image_root: str | os.PathLike[str]
) -> tuple[list[Path], Path]:
    """The per-sequence json files of a PoseTrack annotation file or folder, and the image root;
    a one-line ValueError when either is missing."""
    src, root = Path(ann_json_or_dir), Path(image_root)
    if src.is_dir():
        files = sorted(src.glob("*.json"))
        if not files:
            raise HrtrackError(f"PoseTrack annotation directory {str(src)!r} holds no .json files")
    else:
        _require_file(src, "PoseTrack annotation file")
        files = [src]
    _require_dir(root, "PoseTrack image root")
    return files, root


def _posetrack_box(joints: np.ndarray | None, skipped: Counter[str]) -> np.ndarray | None:
    """The training box of a PoseTrack person (keypoint box enlarged 15 %), or None, counting why."""
    if joints is None:
        skipped["malformed keypoints"] += 1
        return None
    box = keypoint_box(joints)
    if box is None:
        skipped["no visible joints"] += 1
        return None
    if max(box[2] - box[0], box[3] - box[1]) < MIN_BOX_SIZE:
        skipped["invalid box"] += 1
        return None
    return box


def keypoint_box(joints: np.ndarray, enlarge: float = POSETRACK_BOX_ENLARGE) -> np.ndarray | None:
    """xyxy box around the labelled joints, enlarged by ``enlarge`` about its centre; None if none."""
    visible = joints[:, 2] > 0
    if not visible.any():
        return None
    lo = joints[visible, :2].min(axis=0)
    hi = joints[visible, :2].max(axis=0)
    center, half = (lo + hi) / 2, (hi - lo) / 2 * enlarge
    return np.concatenate([center - half, center + half])


def posetrack18_records(ann_json_or_dir: str | os.PathLike[str], image_root: str | os.PathLike[str]) -> RecordList:
    """Persons of PoseTrack 2018 annotation files (one COCO-like json per sequence, or a folder).

    Only labelled frames (``is_labeled``) are used. The person box is the box around the labelled
    joints enlarged by 15 % (HRNet §4.3); the 17 joint slots are kept as they are (slot 1 =
    head_bottom, 2 = head_top, 3/4 = ears are unlabelled). Image paths are ``image_root /
    file_name`` (file names look like ``images/val/<seq>/000000.jpg``, so ``image_root`` is the
    PoseTrack root). Flip augmentation must use :data:`POSETRACK18_FLIP_PAIRS`.
    """
    files, root = _posetrack_files(ann_json_or_dir, image_root)

    skipped: Counter[str] = Counter()
    records = RecordList(skipped=skipped)
    for file in files:
        try:
            data = json.loads(file.read_text())
            images = {img["id"]: img for img in data["images"]}
            annotations = data["annotations"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise HrtrackError(f"cannot read PoseTrack annotation file {str(file)!r}: {exc}") from None
        exists: dict[object, bool] = {}
        for ann in annotations:
            img = images.get(ann.get("image_id"))
            if img is None:
                skipped["unknown image"] += 1
                continue
            if not img.get("is_labeled", True):
                skipped["unlabelled frame"] += 1
                continue
            if ann.get("category_id", PERSON_CATEGORY) != PERSON_CATEGORY:
                skipped["unknown category"] += 1
                continue
            joints = _joints(ann.get("keypoints", ()))
            box = _posetrack_box(joints, skipped)
            if box is None:
                continue
            path = root / img["file_name"]
            key = img["id"]
            if key not in exists:
                exists[key] = path.is_file()
            if not exists[key]:
                skipped["missing image"] += 1
                continue
            records.append(PersonRecord(str(path), box, joints, int(img["id"]), int(ann.get("id", -1))))
    _warn_skipped(f"posetrack18_records({Path(ann_json_or_dir).name})", len(records), skipped)
    return records


# PoseTrack 2017 joint id (poseval order) -> slot of the 17-slot PoseTrack 2018 layout.
# ids: 0 r_ankle, 1 r_knee, 2 r_hip, 3 l_hip, 4 l_knee, 5 l_ankle, 6 r_wrist, 7 r_elbow,
# 8 r_shoulder, 9 l_shoulder, 10 l_elbow, 11 l_wrist, 12 head_bottom, 13 nose, 14 head_top.
POSETRACK17_TO_SLOT = (16, 14, 12, 11, 13, 15, 10, 8, 6, 5, 7, 9, 1, 0, 2)


def _first(value: object, default: object = None) -> object:
    """PoseTrack 2017 wraps every value in a one-element list; unwrap it (scalars pass through)."""
    if isinstance(value, list):
        return value[0] if value else default
    return default if value is None else value


def _posetrack17_joints(rect: dict[str, object]) -> np.ndarray | None:
    """The 15 poseval points of one ``annorect`` as ``(17,3)`` PoseTrack 2018 slots, None if malformed.

    Visibility is 2 for a visible point (or one without ``is_visible``), 1 for an annotated but
    occluded point (``is_visible`` 0): both are labelled and trained on, as in COCO.
    """
    joints = np.zeros((NUM_JOINTS, 3), np.float64)
    annopoints = rect.get("annopoints")
    if not annopoints:
        return joints
    ap = annopoints[0] if isinstance(annopoints, list) else annopoints
    points = ap.get("point", []) if isinstance(ap, dict) else []
    for point in points or []:
        try:
            jid = int(_first(point["id"]))  # type: ignore[arg-type]
            x, y = float(_first(point["x"])), float(_first(point["y"]))  # type: ignore[arg-type]
        except (KeyError, TypeError, ValueError):
            return None
        if not 0 <= jid < len(POSETRACK17_TO_SLOT) or not (np.isfinite(x) and np.isfinite(y)):
            return None
        visible = _first(point.get("is_visible"), 1)
        joints[POSETRACK17_TO_SLOT[jid]] = (x, y, 1.0 if visible in (0, False, "0") else 2.0)
    return joints


def posetrack17_records(ann_json_or_dir: str | os.PathLike[str], image_root: str | os.PathLike[str]) -> RecordList:
    """Persons of PoseTrack 2017 (``annolist``) files, one json per sequence or a folder of them.

    Only labelled frames (``is_labeled``; a frame without the flag counts as labelled) are used.
    Each ``annorect``'s 15 poseval joints are mapped into the 17-slot PoseTrack 2018 layout
    (:data:`POSETRACK17_TO_SLOT`: slot 0 nose, 1 head_bottom, 2 head_top, 3/4 ears unused, 5-16
    COCO order), so that one model trains on both releases; flip augmentation must then use
    :data:`POSETRACK18_FLIP_PAIRS`. The GT ``x1..y2`` is the HEAD box, so the person box is the
    box around the labelled joints enlarged by 15 % (HRNet §4.3). ``image_root / image.name`` is
    the image path. ``image_id`` is the frame's ``imgnum`` when present (else its index in the
    file) and ``ann_id`` the ``track_id`` (-1 when absent).
    """
    files, root = _posetrack_files(ann_json_or_dir, image_root)

    skipped: Counter[str] = Counter()
    records = RecordList(skipped=skipped)
    for file in files:
        try:
            data = json.loads(file.read_text())
            frames = data["annolist"] if isinstance(data, dict) else data
            if not isinstance(frames, list):
                raise TypeError("annolist is not a list")
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise HrtrackError(f"cannot read PoseTrack 2017 annotation file {str(file)!r}: {exc}") from None
        for index, frame in enumerate(frames):
            rects = frame.get("annorect") or []
            if not _first(frame.get("is_labeled"), 1):
                skipped["unlabelled frame"] += len(rects)
                continue
            try:
                name = str(_first(frame["image"])["name"])  # type: ignore[index]
            except (KeyError, TypeError, IndexError):
                skipped["frame without image name"] += len(rects)
                continue
            path = root / name
            exists: bool | None = None
            image_id = int(_first(frame.get("imgnum"), index))  # type: ignore[arg-type]
            for rect in rects:
                joints = _posetrack17_joints(rect)
                box = _posetrack_box(joints, skipped)
                if box is None:
                    continue
                if exists is None:
                    exists = path.is_file()
                if not exists:
                    skipped["missing image"] += 1
                    continue
                track = int(_first(rect.get("track_id"), -1))  # type: ignore[arg-type]
                records.append(PersonRecord(str(path), box, joints, image_id, track))
    _warn_skipped(f"posetrack17_records({Path(ann_json_or_dir).name})", len(records), skipped)
    return records


def read_image_rgb(path: str) -> np.ndarray | None:
    """The image at ``path`` as (H,W,3) uint8 RGB, or None when it cannot be read or decoded."""
    try:
        data = np.fromfile(path, np.uint8)
    except OSError:
        return None
    if data.size == 0:
        return None
    image = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if image is None or image.ndim != 3 or image.shape[0] == 0 or image.shape[1] == 0:
        return None
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


class KeypointDataset(Dataset):
    """Top-down training/validation samples from person records.

    A sample is ``(image, target, target_weight, meta)``: the normalised RGB crop ``(3,H,W)``
    float32 (ImageNet mean/std), the Gaussian heatmaps ``(K,H/4,W/4)``, the weights ``(K,1)`` and a
    dict of numpy values (``index``, ``center``, ``scale``, ``rotation``, ``flipped``, ``joints``
    in input pixels, ``image_id``, ``ann_id``).

    Randomness: the augmentation RNG of sample ``i`` in epoch ``e`` is
    ``numpy.random.default_rng([seed, e, i])``, so a sample depends only on (seed, epoch, index),
    never on worker scheduling; call :meth:`set_epoch` at the start of every epoch.

    Unreadable images: ``load_failures`` counts them per path, but only in the process that tried
    (with ``num_workers > 0`` each worker keeps its own copy; the warnings are logged either way).

    Args:
        records: person records (see :func:`coco_records`, :func:`posetrack18_records`).
        input_size: network input (height, width), multiples of 32 for HRNet (e.g. 256x192).
        augment_config: :class:`AugmentConfig` for training, ``NO_AUGMENT`` (default) for validation.
        sigma: Gaussian sigma on the heatmap; default 2 for 64x48 heatmaps, 3 for larger ones.
        seed: base seed of the augmentation.
        unbiased_target: Gaussian centred on the sub-pixel joint position (not the official
            recipe, see :func:`pose.train.target.generate_target`).
    """

    def __init__(
        self,
        records: Sequence[PersonRecord],
        input_size: tuple[int, int] = (256, 192),
        augment_config: AugmentConfig = NO_AUGMENT,
        sigma: float | None = None,
        seed: int = 0,
        unbiased_target: bool = False,
    ) -> None:
        if len(records) == 0:
            raise HrtrackError("KeypointDataset needs at least one person record")
        self.records = list(records)
        self.input_h, self.input_w = input_size
        if self.input_h % 4 or self.input_w % 4:
            raise HrtrackError(f"input size {input_size} must be a multiple of 4 (heatmaps are 1/4 of it)")
        self.heatmap_size = (self.input_w // 4, self.input_h // 4)  # (width, height)
        self.augment_config = augment_config
        self.sigma = default_sigma(self.heatmap_size) if sigma is None else float(sigma)
        self.seed = int(seed)
        self.unbiased_target = bool(unbiased_target)
        self.epoch = 0
        self.load_failures: Counter[str] = Counter()  # image path -> failed loads (this process)
        self._bad: set[int] = set()
        self._mean = np.asarray(IMAGENET_MEAN, np.float32) * 255.0
        self._std = np.asarray(IMAGENET_STD, np.float32) * 255.0

    def __len__(self) -> int:
        return len(self.records)

    def set_epoch(self, epoch: int) -> None:
        """Select the augmentation stream of ``epoch`` (reproducible across runs and workers)."""
        self.epoch = int(epoch)

    def _load(self, index: int) -> tuple[int, np.ndarray]:
        """Image of record ``index``, or of the next loadable record (cyclically) when it fails."""
        n = len(self.records)
        for step in range(n):
            i = (index + step) % n
            if i in self._bad:
                continue
            image = read_image_rgb(self.records[i].image)
            if image is not None:
                return i, image
            self._bad.add(i)
            self.load_failures[self.records[i].image] += 1
            log.warning("cannot read image %s; using another sample instead", self.records[i].image)
        raise RuntimeError(f"none of the {n} images of the dataset can be read")

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, dict[str, object]]:
        used, image = self._load(int(index))
        rec = self.records[used]
        center, scale = box_to_center_scale(rec.box[None], self.input_w / self.input_h)
        rng = np.random.default_rng([self.seed, self.epoch, int(index)])
        sample = augment(image, rec.joints, center[0], scale[0], (self.input_w, self.input_h), rng, self.augment_config)
        target, weight = generate_target(
            sample.joints, (self.input_w, self.input_h), self.heatmap_size, self.sigma, self.unbiased_target
        )
        x = (sample.image.astype(np.float32) - self._mean) / self._std
        meta: dict[str, object] = {
            "index": used,
            "image_id": rec.image_id,
            "ann_id": rec.ann_id,
            "center": sample.center.astype(np.float32),
            "scale": sample.scale.astype(np.float32),
            "rotation": np.float32(sample.rotation),
            "flipped": sample.flipped,
            "joints": sample.joints,
        }
        return (
            torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1))),
            torch.from_numpy(target),
            torch.from_numpy(weight[:, None]),
            meta,
        )
