"""Overfitting proof: a small HRNet (W16, 128x96) learns a handful of people on CPU.

Target of the issue: train-set COCO AP >= 0.9 (pycocotools) within a few CPU minutes.

The data are generated stick figures (limbs and coloured joint discs on a textured background,
written as a tiny COCO file + images) and, when ../shared/data is present, the real COCO
fixture (4 images, 12 usable persons). Augmentation is off and the heatmap targets are centred
on the sub-pixel joint positions (``tiny_overfit`` config): the network must memorise exactly
the crops it is validated on, and the official rounded targets would teach it peaks up to half
a 32x24-heatmap pixel off, which caps the AP of a perfectly memorised set near 0.88 (measured:
0.884 after 300 epochs with rounded targets, 0.943 with sub-pixel ones).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from pose.decode import COCO_FLIP_PAIRS
from pose.train.augment import NO_AUGMENT
from pose.train.config import load_config
from pose.train.data import KeypointDataset, coco_records
from pose.train.loop import train
from pose.train.validate import evaluate_coco

# Limbs of the drawn figure (COCO joint ids).
LIMBS = ((5, 7), (7, 9), (6, 8), (8, 10), (5, 6), (5, 11), (6, 12), (11, 12), (11, 13), (13, 15), (12, 14), (14, 16))
LIMBS += ((0, 1), (0, 2), (1, 3), (2, 4), (0, 5), (0, 6))
# Joint positions of a standing figure in a unit box (x right, y down); left = the figure's left.
TEMPLATE = np.array(
    [
        [0.50, 0.08],  # nose
        [0.55, 0.05],  # l_eye
        [0.45, 0.05],  # r_eye
        [0.60, 0.07],  # l_ear
        [0.40, 0.07],  # r_ear
        [0.70, 0.22],  # l_shoulder
        [0.30, 0.22],  # r_shoulder
        [0.80, 0.38],  # l_elbow
        [0.20, 0.38],  # r_elbow
        [0.85, 0.52],  # l_wrist
        [0.15, 0.52],  # r_wrist
        [0.62, 0.55],  # l_hip
        [0.38, 0.55],  # r_hip
        [0.66, 0.76],  # l_knee
        [0.34, 0.76],  # r_knee
        [0.68, 0.97],  # l_ankle
        [0.32, 0.97],  # r_ankle
    ]
)


def _colors() -> np.ndarray:
    """A distinct colour per joint; left and right joints differ so that a flip is visible."""
    hues = np.linspace(0, 170, 17, endpoint=False).astype(np.uint8)
    hsv = np.stack([hues, np.full(17, 255, np.uint8), np.full(17, 255, np.uint8)], 1)[None]
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0].astype(int)


def make_stick_figures(folder: Path, images: int = 4, per_image: int = 2, seed: int = 0) -> Path:
    """Write ``images`` pictures with ``per_image`` jittered stick figures each and a COCO json.

    Each figure is the template pose with random joint jitter, size and position, drawn as grey
    limbs and coloured joint discs on a blurred-noise background; all 17 joints are labelled
    (visibility 2). Returns the annotation path (images are in ``folder``).
    """
    rng = np.random.default_rng(seed)
    colors = _colors()
    folder.mkdir(parents=True, exist_ok=True)
    width, height = 256, 192
    imgs, anns = [], []
    for i in range(images):
        noise = rng.integers(0, 256, (height // 8, width // 8, 3), dtype=np.uint8)
        image = cv2.resize(noise, (width, height), interpolation=cv2.INTER_CUBIC) // 2 + 40
        slot_w = width // per_image
        for p in range(per_image):
            h = rng.uniform(120, 170)
            w = h * 0.55
            x0 = p * slot_w + rng.uniform(0, max(1.0, slot_w - w))
            y0 = rng.uniform(5, height - h - 5)
            pts = (TEMPLATE + rng.normal(0, 0.03, TEMPLATE.shape)) * [w, h] + [x0, y0]
            for a, b in LIMBS:
                cv2.line(image, tuple(np.round(pts[a]).astype(int)), tuple(np.round(pts[b]).astype(int)), (200,) * 3, 2)
            for j, (x, y) in enumerate(pts):
                cv2.circle(image, (round(x), round(y)), 3, tuple(int(c) for c in colors[j]), -1)
            lo, hi = pts.min(0) - 4, pts.max(0) + 4
            bw, bh = hi - lo
            anns.append(
                {
                    "id": len(anns) + 1,
                    "image_id": i + 1,
                    "category_id": 1,
                    "iscrowd": 0,
                    "bbox": [float(lo[0]), float(lo[1]), float(bw), float(bh)],
                    "area": float(bw * bh),
                    "num_keypoints": 17,
                    "keypoints": [float(v) for xy in pts for v in (round(xy[0], 2), round(xy[1], 2), 2)],
                }
            )
        name = f"fig{i:02d}.png"
        cv2.imwrite(str(folder / name), image)
        imgs.append({"id": i + 1, "file_name": name, "width": width, "height": height})
    categories = [{"id": 1, "name": "person", "keypoints": [str(k) for k in range(17)], "skeleton": []}]
    ann_path = folder / "figures.json"
    ann_path.write_text(json.dumps({"images": imgs, "annotations": anns, "categories": categories}))
    return ann_path


def _overfit(ann: Path, image_dir: Path, out: Path, epochs: int, lr: float, batch: int) -> tuple[float, float]:
    """Train the ``tiny_overfit`` config on ``ann`` and return (train-set AP, seconds).

    One torch thread: on this shared 2-core machine two OpenMP threads slow down badly as soon
    as other processes run (busy-waiting), one thread is steady.
    """
    steps = f"[{int(epochs * 0.7)},{int(epochs * 0.9)}]"
    sets = [f"epochs={epochs}", f"lr={lr}", f"lr_steps={steps}", f"batch_size={batch}", f"out_dir={out}"]
    exp = load_config("tiny_overfit", sets)
    assert exp.augment.to_augment_config(COCO_FLIP_PAIRS) == NO_AUGMENT  # the config turns augmentation off
    assert exp.data.unbiased_target
    records = coco_records(ann, image_dir)
    dataset = KeypointDataset(
        records, exp.train.input_size, NO_AUGMENT, seed=0, unbiased_target=exp.data.unbiased_target
    )
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        t0 = time.perf_counter()
        result = train(exp.train, dataset)
        seconds = time.perf_counter() - t0
    finally:
        torch.set_num_threads(threads)
    stats = evaluate_coco(result.model, ann, image_dir, exp.train.input_size, flip_test=exp.data.flip_test)
    print(f"overfit {ann.name}: {len(records)} persons, AP {stats['AP']:.3f} after {seconds:.0f} s")
    return stats["AP"], seconds


def test_overfit_stick_figures(tmp_path: Path) -> None:
    ann = make_stick_figures(tmp_path / "figs")
    ap, seconds = _overfit(ann, tmp_path / "figs", tmp_path / "run", epochs=300, lr=2e-3, batch=4)
    # Measured: AP 0.943 after 300 epochs (about 4-7 min with one thread, by load); 200 epochs with
    # the learning-rate steps at 140 and 180 give 0.893.
    assert ap >= 0.9, f"train-set AP {ap:.3f} after {seconds:.0f} s"


def test_overfit_coco_fixture(shared_data: Path, tmp_path: Path) -> None:
    coco = shared_data / "coco"
    ap, seconds = _overfit(coco / "test_coco.json", coco, tmp_path / "run", epochs=200, lr=2e-3, batch=4)
    # Measured: AP 0.773 after 200 epochs (293 s with one thread on the busy 2-core CPU; 0.856
    # at best in a 300-epoch run). 10 of the 12 real people are memorised to OKS 0.94-0.99; a
    # person lying across the right image border (OKS 0.09) and one cut by the left border
    # (0.58) are not within the budget, which keeps the real fixture below the 0.9 of the
    # generated figures.
    assert ap >= 0.7, f"train-set AP {ap:.3f} after {seconds:.0f} s"
