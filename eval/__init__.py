"""PoseTrack evaluation (mAP and MOTA with the official poseval semantics).

The benchmark against the official tool lives in :mod:`tracker.bench.evaluator` (``hrtrack bench
eval``), its generated cross-check sets in :mod:`tracker.synth.crosscheck`.
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

__all__ = [
    "JOINT_NAMES",
    "EvalError",
    "Frame",
    "Person",
    "PoseTrackError",
    "Sequence",
    "coco17_to_posetrack15",
    "evaluate",
    "format_tables",
    "load_pairs",
    "people_from_keypoints",
    "read_sequence",
    "run_eval_cli",
    "to_jsonable",
    "write_sequence",
]
