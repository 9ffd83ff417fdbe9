"""PoseTrack evaluation (mAP and MOTA with the official poseval semantics).

The benchmark against the official tool lives in :mod:`eval.bench` (``hrtrack bench eval``).
"""

from .api import EvalError, evaluate, format_tables, load_pairs, run_eval_cli, to_jsonable
from .posetrack import (
    JOINT_NAMES,
    Frame,
    Person,
    PoseTrackError,
    Sequence,
    coco17_to_posetrack15,
    people_from_keypoints,
    read_sequence,
    write_sequence,
)
from .synth import SynthConfig, make_synthetic, write_synthetic

__all__ = [
    "JOINT_NAMES",
    "EvalError",
    "Frame",
    "Person",
    "PoseTrackError",
    "Sequence",
    "SynthConfig",
    "coco17_to_posetrack15",
    "evaluate",
    "format_tables",
    "load_pairs",
    "make_synthetic",
    "people_from_keypoints",
    "read_sequence",
    "run_eval_cli",
    "to_jsonable",
    "write_sequence",
    "write_synthetic",
]
