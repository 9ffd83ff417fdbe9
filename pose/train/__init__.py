"""Training of the HRNet pose network: data, augmentation, targets, loss and the training loop.

The recipe is the official HRNet one (REFERENCE §1): top-down crops of ground-truth boxes,
half-body / scale / rotation / flip augmentation, Gaussian heatmap targets and a target-weighted
MSE loss, Adam with a step schedule. YAML configs (``pose/configs``, :mod:`pose.train.config`),
the ``train`` command (:mod:`pose.train.cli`, torchrun for several GPUs) and a training-step
benchmark (:mod:`pose.train.bench`) sit on top.
"""

from pose.decode import POSETRACK18_FLIP_PAIRS
from pose.train.augment import NO_AUGMENT, AugmentConfig, AugmentedSample, augment, flip_joints
from pose.train.bench import bench_train_step, run_train_bench
from pose.train.config import AugmentSection, DataConfig, ExperimentConfig, available_configs, load_config
from pose.train.data import (
    POSETRACK17_TO_SLOT,
    KeypointDataset,
    PersonRecord,
    RecordList,
    coco_records,
    posetrack17_records,
    posetrack18_records,
)
from pose.train.loop import TrainConfig, TrainResult, build_training_model, read_log, train
from pose.train.loss import JointsMSELoss
from pose.train.target import default_sigma, generate_target
from pose.train.validate import (
    coco_keypoint_ap,
    coco_validator,
    evaluate_coco,
    evaluate_posetrack,
    load_detections,
    posetrack_validator,
    predict_coco,
    predict_posetrack,
)

__all__ = [
    "NO_AUGMENT",
    "POSETRACK17_TO_SLOT",
    "POSETRACK18_FLIP_PAIRS",
    "AugmentConfig",
    "AugmentSection",
    "AugmentedSample",
    "DataConfig",
    "ExperimentConfig",
    "JointsMSELoss",
    "KeypointDataset",
    "PersonRecord",
    "RecordList",
    "TrainConfig",
    "TrainResult",
    "augment",
    "available_configs",
    "bench_train_step",
    "build_training_model",
    "coco_keypoint_ap",
    "coco_records",
    "coco_validator",
    "default_sigma",
    "evaluate_coco",
    "evaluate_posetrack",
    "flip_joints",
    "generate_target",
    "load_config",
    "load_detections",
    "posetrack17_records",
    "posetrack18_records",
    "posetrack_validator",
    "predict_coco",
    "predict_posetrack",
    "read_log",
    "run_train_bench",
    "train",
]
