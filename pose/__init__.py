"""HRNet pose estimation: the network, checkpoint loading and batched top-down inference.

Data contract: images are (H,W,3) uint8 (BGR by default, as OpenCV reads them); boxes are
``(N,4)`` float32 xyxy in image pixels with scores ``(N,)``; poses are :class:`pose.poses.Poses`
with keypoints ``(N,K,3)`` float32 (x, y in image pixels and the joint score) in the slots of
their :class:`pose.keypoints.KeypointLayout`.

The names below are imported lazily (PEP 562), so ``import pose.keypoints`` or ``pose.poses``
does not load torch: ``hrtrack eval`` and the writers stay quick to start.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

_WHERE = {
    "CheckpointError": "pose.checkpoint",
    "load_checkpoint": "pose.checkpoint",
    "load_pretrained_backbone": "pose.checkpoint",
    "save_state_dict": "pose.checkpoint",
    "COCO_FLIP_PAIRS": "pose.decode",
    "decode_heatmaps": "pose.decode",
    "PoseEstimator": "pose.estimator",
    "parse_input_size": "pose.specs",
    "person_scores": "pose.estimator",
    "fold_batchnorm": "pose.fold",
    "prepare_for_inference": "pose.fold",
    "PoseHighResolutionNet": "pose.hrnet",
    "build_model": "pose.hrnet",
    "COCO_SIGMAS": "pose.oks",
    "oks_matrix": "pose.oks",
    "oks_nms": "pose.oks",
    "COCO": "pose.keypoints",
    "POSETRACK18": "pose.keypoints",
    "KeypointLayout": "pose.keypoints",
    "get_layout": "pose.keypoints",
    "Poses": "pose.poses",
}


def lazy_exports(package: str, where: dict[str, str]) -> tuple[Any, Any]:
    """PEP 562 ``__getattr__`` and ``__dir__`` for a package whose names live in submodules:
    ``where`` maps a name to its module, imported on the first access."""

    def getattr_(name: str) -> Any:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)
        return value

    def dir_() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(where))

    return getattr_, dir_


__all__ = sorted(_WHERE)
__getattr__, __dir__ = lazy_exports(__name__, _WHERE)
