"""Validation of a pose network: COCO keypoint AP and PoseTrack mAP.

COCO: the network runs through :class:`pose.PoseEstimator` (the test recipe: flip test, quarter
offset, person score, then OKS-NMS at 0.9) on every ground-truth person box with at least one
labelled joint (the official ``use_gt_bbox`` setting) or on the boxes of a COCO-results person
detection file above a score threshold, and pycocotools ``COCOeval(iouType='keypoints')`` scores
the poses.

PoseTrack (2017 or 2018 ground truth): the network runs on the keypoint box (+15 %) of every
ground-truth person of every labelled frame; the poses (PoseTrack 2018 slot layout) are written
as one prediction file per sequence and scored by the project's poseval-compatible evaluator
(:func:`eval.api.evaluate`); the metric is its total mAP.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
from torch import nn

from pose.errors import HrtrackError
from pose.estimator import PoseEstimator
from pose.train.data import coco_records, keypoint_box

COCO_STAT_NAMES = ("AP", "AP50", "AP75", "APm", "APl", "AR", "AR50", "AR75", "ARm", "ARl")


def load_detections(
    det_json: str | os.PathLike[str], score_threshold: float = 0.0
) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Person boxes of a COCO-results detection file: ``image_id -> (boxes xyxy (N,4), scores (N,))``.

    Only ``category_id`` 1 (person; entries without one count as persons) with ``score >=
    score_threshold`` are kept; ``bbox`` is ``[x, y, w, h]`` and becomes ``x, y, x + w, y + h``.
    """
    path = Path(det_json)
    if not path.is_file():
        raise HrtrackError(f"detection file {str(path)!r} does not exist or is not a file")
    try:
        dets = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise HrtrackError(f"cannot read detection file {str(path)!r}: {exc}") from None
    if not isinstance(dets, list):
        raise HrtrackError(f"detection file {str(path)!r} must hold a list of COCO results")
    boxes: dict[int, list[list[float]]] = defaultdict(list)
    scores: dict[int, list[float]] = defaultdict(list)
    for det in dets:
        try:
            if det.get("category_id", 1) != 1 or float(det["score"]) < score_threshold:
                continue
            x, y, w, h = (float(v) for v in det["bbox"])
            image_id = int(det["image_id"])
        except (KeyError, TypeError, ValueError):
            continue  # a malformed entry is not a person box
        if w <= 0 or h <= 0:
            continue
        boxes[image_id].append([x, y, x + w, y + h])
        scores[image_id].append(float(det["score"]))
    return {k: (np.asarray(boxes[k], np.float32), np.asarray(scores[k], np.float32)) for k in boxes}


def predict_coco(
    model: nn.Module,
    ann_json: str | os.PathLike[str],
    image_dir: str | os.PathLike[str],
    input_size: tuple[int, int] = (256, 192),
    device: str = "cpu",
    flip_test: bool = True,
    batch_size: int = 32,
    nms_threshold: float | None = 0.9,
    det_json: str | os.PathLike[str] | None = None,
    det_score_threshold: float = 0.0,
) -> list[dict[str, object]]:
    """COCO results (``image_id``, ``category_id``, ``keypoints`` x,y,score x17, ``score``).

    The boxes are the cleaned ground-truth boxes of :func:`coco_records`, or with ``det_json``
    the detections of that file scoring at least ``det_score_threshold`` (the person score is
    then the mean confident joint score times the box score). The model is copied and prepared
    for inference, so it is left untouched (and in its training mode).
    """
    by_image: dict[int, tuple[np.ndarray, np.ndarray | None]] = {}
    paths: dict[int, str] = {}
    if det_json is None:
        gt_boxes: dict[int, list[np.ndarray]] = defaultdict(list)
        for rec in coco_records(ann_json, image_dir):
            gt_boxes[rec.image_id].append(rec.box)
            paths[rec.image_id] = rec.image
        by_image = {k: (np.stack(v).astype(np.float32), None) for k, v in gt_boxes.items()}
    else:
        coco_records(ann_json, image_dir)  # checks both paths
        images = {int(img["id"]): img["file_name"] for img in json.loads(Path(ann_json).read_text())["images"]}
        for image_id, (boxes, scores) in load_detections(det_json, det_score_threshold).items():
            if image_id in images:
                by_image[image_id] = (boxes, scores)
                paths[image_id] = str(Path(image_dir) / images[image_id])
    estimator = PoseEstimator(model, input_size, device=device, flip_test=flip_test, batch_size=batch_size)
    results: list[dict[str, object]] = []
    for image_id in sorted(by_image):
        image = cv2.imread(paths[image_id], cv2.IMREAD_COLOR)
        if image is None:
            continue  # counted by the dataset when training; nothing to predict here
        boxes, box_scores = by_image[image_id]
        poses = estimator(image, boxes, box_scores)
        if nms_threshold is not None:
            poses = poses.nms(nms_threshold)
        for kps, score in zip(poses.keypoints, poses.scores, strict=True):
            results.append(
                {
                    "image_id": int(image_id),
                    "category_id": 1,
                    "keypoints": [round(float(v), 3) for v in kps.reshape(-1)],
                    "score": float(score),
                }
            )
    return results


def coco_keypoint_ap(ann_json: str | os.PathLike[str], results: list[dict[str, object]]) -> dict[str, float]:
    """pycocotools keypoint AP/AR of ``results`` against ``ann_json`` (all 0 when there are none)."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    if not results:
        return dict.fromkeys(COCO_STAT_NAMES, 0.0)
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints its tables
        gt = COCO(str(Path(ann_json)))
        dt = gt.loadRes(results)
        ev = COCOeval(gt, dt, iouType="keypoints")
        ev.params.useSegm = None
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return {name: float(v) for name, v in zip(COCO_STAT_NAMES, ev.stats, strict=True)}


def evaluate_coco(
    model: nn.Module,
    ann_json: str | os.PathLike[str],
    image_dir: str | os.PathLike[str],
    input_size: tuple[int, int] = (256, 192),
    device: str = "cpu",
    flip_test: bool = True,
    det_json: str | os.PathLike[str] | None = None,
    det_score_threshold: float = 0.0,
) -> dict[str, float]:
    """COCO keypoint AP of ``model`` on the ground-truth boxes of ``ann_json`` (or ``det_json``'s)."""
    results = predict_coco(
        model,
        ann_json,
        image_dir,
        input_size,
        device,
        flip_test,
        det_json=det_json,
        det_score_threshold=det_score_threshold,
    )
    return coco_keypoint_ap(ann_json, results)


def coco_validator(
    ann_json: str | os.PathLike[str],
    image_dir: str | os.PathLike[str],
    input_size: tuple[int, int] = (256, 192),
    device: str = "cpu",
    flip_test: bool = True,
    det_json: str | os.PathLike[str] | None = None,
    det_score_threshold: float = 0.0,
) -> Callable[[nn.Module], float]:
    """A ``validate`` callback for :func:`pose.train.loop.train`: model -> COCO AP.

    The files are checked now, so that a wrong path fails before the first epoch, not after it.
    """
    coco_records(ann_json, image_dir)
    if det_json is not None:
        load_detections(det_json, det_score_threshold)

    def validate(model: nn.Module) -> float:
        stats = evaluate_coco(model, ann_json, image_dir, input_size, device, flip_test, det_json, det_score_threshold)
        return stats["AP"]

    return validate


def _posetrack_gt_files(gt: Path) -> list[Path]:
    if gt.is_dir():
        files = sorted(gt.glob("*.json"))
        if not files:
            raise HrtrackError(f"PoseTrack annotation directory {str(gt)!r} holds no .json files")
        return files
    if not gt.is_file():
        raise HrtrackError(f"PoseTrack annotation file {str(gt)!r} does not exist or is not a file")
    return [gt]


def predict_posetrack(
    model: nn.Module,
    gt: str | os.PathLike[str],
    image_root: str | os.PathLike[str],
    pred_dir: str | os.PathLike[str],
    input_size: tuple[int, int] = (256, 192),
    device: str = "cpu",
    flip_test: bool = True,
    layout: str = "posetrack18",
    batch_size: int = 32,
) -> list[Path]:
    """Write one PoseTrack 2017 prediction file per ground-truth sequence into ``pred_dir``.

    Every labelled frame gets the poses of its ground-truth persons, each estimated in the box
    around the person's annotated joints enlarged by 15 % (HRNet §4.3); the other frames are
    written empty so that the frame lists match. ``layout`` is the model's joint layout:
    ``posetrack18`` (trained on PoseTrack: slots 1/2 = head_bottom/head_top, flip test without
    swapping them) or ``coco`` (a COCO model; head joints derived by the evaluator).
    """
    from eval.posetrack import Frame, Sequence, people_from_keypoints, read_sequence, write_sequence

    files = _posetrack_gt_files(Path(gt))
    root, out = Path(image_root), Path(pred_dir)
    estimator = PoseEstimator(
        model, input_size, device=device, flip_test=flip_test, batch_size=batch_size, layout=layout
    )
    written = []
    for file in files:
        seq = read_sequence(file)
        frames = []
        for frame in seq.frames:
            pred = Frame(image=frame.image, is_labeled=frame.is_labeled)
            boxes = []
            for person in frame.people if frame.is_labeled else []:
                joints = np.zeros((len(person.joints), 3))
                joints[:, :2] = person.joints
                joints[:, 2] = person.present
                box = keypoint_box(joints)
                if box is not None and (box[2:] - box[:2]).max() >= 1:
                    boxes.append(box)
            image = cv2.imread(str(root / frame.image), cv2.IMREAD_COLOR) if boxes else None
            if image is not None:
                poses = estimator(image, np.stack(boxes).astype(np.float32))
                pred.people = people_from_keypoints(
                    poses.keypoints, list(range(len(poses))), poses.boxes, poses.scores, layout=layout
                )
            frames.append(pred)
        written.append(write_sequence(Sequence(name=seq.name, frames=frames, vid_id=seq.vid_id), out / file.name))
    return written


def evaluate_posetrack(
    model: nn.Module,
    gt: str | os.PathLike[str],
    image_root: str | os.PathLike[str],
    input_size: tuple[int, int] = (256, 192),
    device: str = "cpu",
    flip_test: bool = True,
    layout: str = "posetrack18",
) -> dict[str, object]:
    """PoseTrack scores of ``model`` on ground-truth person boxes (see :func:`predict_posetrack`).

    Returns the result of :func:`eval.api.evaluate` (``ap``: per-group and ``total`` mAP in %).
    """
    from eval.api import evaluate

    gt_path = Path(gt)
    with tempfile.TemporaryDirectory(prefix="hrtrack_val_") as tmp:
        files = predict_posetrack(model, gt_path, image_root, tmp, input_size, device, flip_test, layout)
        pred = files[0] if gt_path.is_file() else Path(tmp)
        return evaluate(gt_path, pred)


def posetrack_validator(
    gt: str | os.PathLike[str],
    image_root: str | os.PathLike[str],
    input_size: tuple[int, int] = (256, 192),
    device: str = "cpu",
    flip_test: bool = True,
    layout: str = "posetrack18",
) -> Callable[[nn.Module], float]:
    """A ``validate`` callback: model -> PoseTrack total mAP as a fraction (poseval % / 100)."""
    _posetrack_gt_files(Path(gt))
    if not Path(image_root).is_dir():
        raise HrtrackError(f"PoseTrack image root {str(image_root)!r} does not exist or is not a directory")

    def validate(model: nn.Module) -> float:
        result = evaluate_posetrack(model, gt, image_root, input_size, device, flip_test, layout)
        total = float(result["ap"]["total"])  # type: ignore[index]
        return total / 100.0 if np.isfinite(total) else 0.0

    return validate
