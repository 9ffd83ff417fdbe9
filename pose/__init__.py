"""HRNet pose estimation: the network, checkpoint loading and batched top-down inference.

Data contract: images are (H,W,3) uint8 (BGR by default, as OpenCV reads them); boxes are
``(N,4)`` float32 xyxy in image pixels with scores ``(N,)``; poses are ``(N,17,3)`` float32 with
x, y in image pixels and the joint score, joints in COCO order.
"""

from pose.checkpoint import CheckpointError, load_checkpoint, load_pretrained_backbone, save_state_dict
from pose.decode import COCO_FLIP_PAIRS, decode_heatmaps
from pose.estimator import PoseEstimator, Poses, parse_input_size, person_scores
from pose.fold import fold_batchnorm, prepare_for_inference
from pose.hrnet import PoseHighResolutionNet, build_model
from pose.oks import COCO_SIGMAS, oks_matrix, oks_nms

__all__ = [
    "COCO_FLIP_PAIRS",
    "COCO_SIGMAS",
    "CheckpointError",
    "PoseEstimator",
    "PoseHighResolutionNet",
    "Poses",
    "build_model",
    "decode_heatmaps",
    "fold_batchnorm",
    "load_checkpoint",
    "load_pretrained_backbone",
    "oks_matrix",
    "oks_nms",
    "parse_input_size",
    "person_scores",
    "prepare_for_inference",
    "save_state_dict",
]
