"""Keypoint layouts: what the K joint slots of a pose mean, in one place.

A :class:`KeypointLayout` holds the slot names, the limbs to draw, the OKS sigmas and the map
to PoseTrack 2017's 15 poseval joints; the left/right flip pairs are derived from the names.
Two model layouts exist, both with 17 slots in COCO order (and :data:`POSEVAL`, the 15 joints of
PoseTrack 2017 files, for drawing those):

* :data:`COCO`: COCO's 17 keypoints (a COCO-trained model);
* :data:`POSETRACK18`: PoseTrack 2018's slots, COCO's order with slot 1 = ``head_bottom`` and
  slot 2 = ``head_top`` in place of the eyes, and the ears unused (a PoseTrack-trained model, the
  zoo's ``*_posetrack18_*`` models and the bundled demo model).

The layout travels with the poses (:class:`pose.poses.Poses`), so every consumer (the flip test,
drawing, the PoseTrack writers) reads it from the data instead of a string beside it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pose.errors import HrtrackError

#: COCO's keypoint names, in slot order.
COCO_NAMES = (
    "nose",
    "left_eye",
    "right_eye",
    "left_ear",
    "right_ear",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
)
#: PoseTrack 2018's keypoint names (COCO order, eyes replaced by the two head points).
POSETRACK18_NAMES = ("nose", "head_bottom", "head_top", *COCO_NAMES[3:])

#: The 15 poseval joints of PoseTrack 2017, in poseval's id order.
POSEVAL_NAMES = (
    "right_ankle",
    "right_knee",
    "right_hip",
    "left_hip",
    "left_knee",
    "left_ankle",
    "right_wrist",
    "right_elbow",
    "right_shoulder",
    "left_shoulder",
    "left_elbow",
    "left_wrist",
    "head_bottom",
    "nose",
    "head_top",
)

#: Body limbs shared by both 17-slot layouts: legs, hips, torso sides, shoulders, arms.
_BODY_LIMBS = (
    (15, 13), (13, 11), (16, 14), (14, 12), (11, 12), (5, 11), (6, 12), (5, 6), (5, 7), (6, 8), (7, 9), (8, 10),
)  # fmt: skip
#: COCO's skeleton (0-based): the body, then the face (eyes, nose, ears) and ears to shoulders.
COCO_SKELETON = (*_BODY_LIMBS, (1, 2), (0, 1), (0, 2), (1, 3), (2, 4), (3, 5), (4, 6))
#: PoseTrack 2018's skeleton as drawn: the body, shoulders to head_bottom, head_bottom to nose and head_top.
POSETRACK18_SKELETON = (*_BODY_LIMBS, (5, 1), (6, 1), (1, 0), (1, 2))
#: The poseval skeleton (15 joints): legs, hips, arms, torso sides, shoulders to head_bottom, head.
POSEVAL_SKELETON = (
    (0, 1), (1, 2), (5, 4), (4, 3), (2, 3), (6, 7), (7, 8), (11, 10), (10, 9), (2, 8), (3, 9),
    (8, 12), (9, 12), (12, 13), (12, 14),
)  # fmt: skip

#: COCO's OKS sigmas (also used for the PoseTrack 2018 slots: the head points take the eyes').
COCO_SIGMAS = (
    np.array([0.26, 0.25, 0.25, 0.35, 0.35, 0.79, 0.79, 0.72, 0.72, 0.62, 0.62, 1.07, 1.07, 0.87, 0.87, 0.89, 0.89])
    / 10.0
)

#: For each of the 17 slots (either layout), the poseval joint id (-1: not evaluated). In the
#: COCO layout slots 1 and 2 are the eyes, not the head points: they map to nothing there.
SLOT17_TO_15 = np.array([13, 12, 14, -1, -1, 9, 8, 10, 7, 11, 6, 3, 2, 4, 1, 5, 0])


def flip_pairs_of(names: tuple[str, ...]) -> tuple[tuple[int, int], ...]:
    """The (left, right) slot pairs that a mirror image swaps, from ``left_X``/``right_X`` names."""
    index = {n: i for i, n in enumerate(names)}
    return tuple((i, index["right_" + n[5:]]) for i, n in enumerate(names) if n.startswith("left_"))


@dataclass(frozen=True, eq=False)  # compared and hashed by identity: the layouts are module constants
class KeypointLayout:
    """The meaning of a pose's K slots (see the module docstring)."""

    name: str
    names: tuple[str, ...]
    skeleton: tuple[tuple[int, int], ...]
    sigmas: np.ndarray
    #: True when slots 1 and 2 are PoseTrack's head_bottom and head_top (else they are derived).
    has_head_points: bool

    @property
    def num_joints(self) -> int:
        return len(self.names)

    @property
    def flip_pairs(self) -> tuple[tuple[int, int], ...]:
        return flip_pairs_of(self.names)

    def to_poseval(self) -> np.ndarray:
        """For each slot, the poseval joint id it is written as (-1: not written)."""
        if self.name == "poseval":
            return np.arange(len(self.names))
        table = SLOT17_TO_15.copy()
        if not self.has_head_points:
            table[[1, 2]] = -1
        return table

    def __repr__(self) -> str:
        return f"KeypointLayout({self.name!r})"


COCO = KeypointLayout("coco", COCO_NAMES, COCO_SKELETON, COCO_SIGMAS, has_head_points=False)
POSETRACK18 = KeypointLayout("posetrack18", POSETRACK18_NAMES, POSETRACK18_SKELETON, COCO_SIGMAS, has_head_points=True)
#: The 15 poseval joints (how PoseTrack files are drawn); sigmas by name, the head points take the eyes'.
POSEVAL = KeypointLayout(
    "poseval",
    POSEVAL_NAMES,
    POSEVAL_SKELETON,
    np.array([COCO_SIGMAS[POSETRACK18_NAMES.index(n)] for n in POSEVAL_NAMES]),
    has_head_points=True,
)
LAYOUTS = {layout.name: layout for layout in (COCO, POSETRACK18)}  # the layouts a 17-slot model can have


def get_layout(layout: str | KeypointLayout) -> KeypointLayout:
    """The layout called ``layout`` (``coco`` or ``posetrack18``); a layout is returned as it is."""
    if isinstance(layout, KeypointLayout):
        return layout
    try:
        return LAYOUTS[layout]
    except KeyError:
        raise HrtrackError(f"unknown keypoint layout {layout!r}: use " + " or ".join(LAYOUTS)) from None
