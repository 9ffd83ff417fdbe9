"""Training of the HRNet pose network: data, augmentation, targets, loss and the training loop.

The recipe is the official HRNet one (REFERENCE §1): top-down crops of ground-truth boxes,
half-body / scale / rotation / flip augmentation, Gaussian heatmap targets and a target-weighted
MSE loss, Adam with a step schedule.
"""

from pose.train.augment import NO_AUGMENT, AugmentConfig, AugmentedSample, augment, flip_joints
from pose.train.data import (
    POSETRACK18_FLIP_PAIRS,
    KeypointDataset,
    PersonRecord,
    RecordList,
    coco_records,
    posetrack18_records,
)
from pose.train.loop import TrainConfig, TrainResult, build_training_model, read_log, train
from pose.train.loss import JointsMSELoss
from pose.train.target import default_sigma, generate_target
from pose.train.validate import coco_keypoint_ap, coco_validator, evaluate_coco, predict_coco

__all__ = [
    "NO_AUGMENT",
    "POSETRACK18_FLIP_PAIRS",
    "AugmentConfig",
    "AugmentedSample",
    "JointsMSELoss",
    "KeypointDataset",
    "PersonRecord",
    "RecordList",
    "TrainConfig",
    "TrainResult",
    "augment",
    "build_training_model",
    "coco_keypoint_ap",
    "coco_records",
    "coco_validator",
    "default_sigma",
    "evaluate_coco",
    "flip_joints",
    "generate_target",
    "posetrack18_records",
    "predict_coco",
    "read_log",
    "train",
]
