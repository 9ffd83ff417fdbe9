"""``hrtrack synth``: a synthetic PoseTrack world with exact ground truth.

Articulated 2D people (17 COCO joints plus PoseTrack's head_top/head_bottom on a kinematic tree
with human proportions) walk, run, turn and wave over a textured background while the camera
pans; several per video, entering and leaving through the sides, crossing and occluding each
other by depth. Each sequence is written as frames and/or an mp4, PoseTrack 2018 and 2017 GT,
COCO keypoints and simulated detections (COCO results), deterministically from a seed.

Modules: :mod:`.body` (proportions, posture, kinematics, drawing), :mod:`.motion` (gaits and
actor scripts), :mod:`.scene` (background, camera, rendering, visibility), :mod:`.occlusion`
(``--occlusion long``: static occluders, people scripted to vanish for 0.5-3 s and come back),
:mod:`.config` (:class:`SynthConfig`, difficulty presets), :mod:`.generate` (files and the command
line).
"""

from __future__ import annotations

from .body import COCO_NAMES, POINT_NAMES, BodyPose, Posture, articulate
from .config import PRESETS, SynthConfig
from .generate import (
    coco_document,
    generate,
    make_scene,
    posetrack_sequence,
    render_sequence,
    run_synth,
    simulate_detections,
)
from .motion import gait_posture
from .scene import FrameTruth, PersonTruth, Scene, render_frame

__all__ = [
    "COCO_NAMES",
    "POINT_NAMES",
    "PRESETS",
    "BodyPose",
    "FrameTruth",
    "PersonTruth",
    "Posture",
    "Scene",
    "SynthConfig",
    "articulate",
    "coco_document",
    "gait_posture",
    "generate",
    "make_scene",
    "posetrack_sequence",
    "render_frame",
    "render_sequence",
    "run_synth",
    "simulate_detections",
]
