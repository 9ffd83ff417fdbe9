"""Training of the HRNet pose network: data, augmentation, targets, loss and the training loop.

The recipe is the official HRNet one (REFERENCE §1): top-down crops of ground-truth boxes,
half-body / scale / rotation / flip augmentation, Gaussian heatmap targets and a target-weighted
MSE loss, Adam with a step schedule. YAML configs (``pose/configs``, :mod:`pose.train.config`),
the ``train`` command (:mod:`pose.train.cli`, torchrun for several GPUs) sit on top (the
training-step benchmark is :mod:`tracker.bench.training`).
"""

from __future__ import annotations

from pose import lazy_exports

# Imported lazily (PEP 562): ``import pose.train.config`` must not pull in the whole package.
_WHERE = {
    "POSETRACK18_FLIP_PAIRS": "pose.decode",
    "NO_AUGMENT": "pose.train.augment",
    "AugmentConfig": "pose.train.augment",
    "AugmentedSample": "pose.train.augment",
    "augment": "pose.train.augment",
    "flip_joints": "pose.train.augment",
    "AugmentSection": "pose.train.config",
    "DataConfig": "pose.train.config",
    "ExperimentConfig": "pose.train.config",
    "available_configs": "pose.train.config",
    "load_config": "pose.train.config",
    "POSETRACK17_TO_SLOT": "pose.train.data",
    "KeypointDataset": "pose.train.data",
    "PersonRecord": "pose.train.data",
    "RecordList": "pose.train.data",
    "coco_records": "pose.train.data",
    "posetrack17_records": "pose.train.data",
    "posetrack18_records": "pose.train.data",
    "TrainConfig": "pose.train.loop",
    "TrainResult": "pose.train.loop",
    "build_training_model": "pose.train.loop",
    "read_log": "pose.train.loop",
    "train": "pose.train.loop",
    "JointsMSELoss": "pose.train.loss",
    "default_sigma": "pose.train.target",
    "generate_target": "pose.train.target",
    "coco_keypoint_ap": "pose.train.validate",
    "coco_validator": "pose.train.validate",
    "evaluate_coco": "pose.train.validate",
    "evaluate_posetrack": "pose.train.validate",
    "load_detections": "pose.train.validate",
    "posetrack_validator": "pose.train.validate",
    "predict_coco": "pose.train.validate",
    "predict_posetrack": "pose.train.validate",
}

__all__ = sorted(_WHERE)
__getattr__, __dir__ = lazy_exports(__name__, _WHERE)
