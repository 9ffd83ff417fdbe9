"""The articulated 2D person of the synthetic world: proportions, posture, kinematics, drawing.

A person is a kinematic tree in a 3D body frame (units: body heights; ``y`` up from the ground,
``x`` towards the person's LEFT, ``z`` forward), turned about the vertical axis by its ``yaw``
and projected orthographically onto the image. Yaw 0 faces the camera (the person's left side is
on the image's right), +90 deg faces image-right, -90 deg image-left, 180 deg shows the back. So
turning changes the apparent shoulder/hip width and swaps the left/right order on screen, as in
real video.

Proportions (fractions of the standing height, after Drillis & Contini's segment table):
ankle 0.039, knee 0.285, hip joint 0.53, shoulder 0.818, upper neck (PoseTrack ``head_bottom``)
0.85, eyes 0.943, skull top (``head_top``) 1.0; thigh 0.245, shank 0.246, upper arm 0.186,
forearm 0.146; shoulder joints 0.23 apart, hip joints 0.17 apart. The head is an ellipse
0.09 wide, 0.11 deep and 0.13 high centred at 0.935.

Data contract: :class:`BodyPose` holds the 19 named points of :data:`POINT_NAMES` (the 17 COCO
keypoints, then ``head_top`` and ``head_bottom``) as a (19, 2) image-pixel array plus their
(19,) depth towards the camera, and a few auxiliary drawing points. :func:`draw_person` renders
it into a label map (one value per clothing part), which the scene colours and textures.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from pose.keypoints import COCO_NAMES as _COCO_NAMES
from pose.keypoints import COCO_SKELETON as _COCO_SKELETON

#: The 17 COCO keypoints, in COCO order.
COCO_NAMES = _COCO_NAMES
#: Every point a :class:`BodyPose` carries: COCO's 17, then the two PoseTrack head points.
POINT_NAMES = (*COCO_NAMES, "head_top", "head_bottom")
NUM_POINTS = len(POINT_NAMES)
HEAD_TOP, HEAD_BOTTOM = 17, 18
#: Face points, which a person's own head hides when they face away from them.
FACE_POINTS = (0, 1, 2, 3, 4)
#: COCO skeleton (1-based keypoint pairs, as in the COCO annotation files).
COCO_SKELETON = [[a + 1, b + 1] for a, b in _COCO_SKELETON]

# Proportions in body heights (see the module docstring).
ANKLE_H = 0.039
HIP_H = 0.53
HIP_HALF = 0.085
THIGH = 0.245
SHANK = 0.246
SHOULDER_H = 0.818
SHOULDER_HALF = 0.115
HEAD_BOTTOM_H = 0.85
HEAD_CENTRE_H = 0.935
HEAD_TOP_H = 1.0
UPPER_ARM = 0.186
FOREARM = 0.146
HAND = 0.055
FOOT = 0.11
HEAD_HALF_WIDTH = 0.045
HEAD_HALF_DEPTH = 0.056
HEAD_HALF_HEIGHT = 0.065
#: Offsets from the head centre (x left, y up, z forward) of nose, eyes and ears.
FACE_OFFSETS = np.array(
    [[0.0, -0.012, 0.062], [0.03, 0.008, 0.05], [-0.03, 0.008, 0.05], [0.058, 0.0, -0.005], [-0.058, 0.0, -0.005]]
)
#: A face point is hidden by its own head when it lies this far (body heights) behind the head centre.
FACE_HIDDEN_BEHIND = 0.02

# Label values of the label map that :func:`draw_person` writes (0 is background).
SHIRT, TROUSERS, SHOES, SKIN, HAIR = 1, 2, 3, 4, 5
NUM_LABELS = 6

# Auxiliary drawing points (rows of BodyPose.aux).
AUX_TOE, AUX_HAND, AUX_HEAD, AUX_NECK, AUX_TORSO = 0, 2, 4, 5, 6  # toes/hands: left then right
NUM_AUX = 14
SIDES = np.array([1.0, -1.0])  # left, right: sign of x in the body frame


@dataclass
class Posture:
    """Joint angles (radians) of one person in one frame; 2-vectors are (left, right).

    ``hip`` flexes the thigh forward, ``knee`` bends the shank backward, ``shoulder`` swings the
    upper arm forward, ``abduct`` raises it sideways, ``elbow`` bends the forearm forward and
    ``forearm_abduct`` raises the forearm further sideways/up (waving). ``lean`` tilts the trunk
    forward (running)."""

    yaw: float = 0.0
    lean: float = 0.0
    hip: np.ndarray | None = None
    knee: np.ndarray | None = None
    shoulder: np.ndarray | None = None
    abduct: np.ndarray | None = None
    elbow: np.ndarray | None = None
    forearm_abduct: np.ndarray | None = None

    def __post_init__(self) -> None:
        for name in ("hip", "knee", "shoulder", "abduct", "elbow", "forearm_abduct"):
            value = getattr(self, name)
            setattr(self, name, np.zeros(2) if value is None else np.asarray(value, dtype=float).reshape(2))


@dataclass
class BodyPose:
    """A person's projected pose in one frame.

    ``points`` (19, 2): image x/y of :data:`POINT_NAMES`; ``depth`` (19,): their offset towards
    the camera in pixels (larger = nearer), used to order limbs and hide the far face points;
    ``aux`` (14, 2) / ``aux_depth`` (14,): toes, hand tips, head centre, neck base and the 8
    torso-box corners; ``height``: standing height in pixels; ``yaw``: facing angle (radians)."""

    points: np.ndarray
    depth: np.ndarray
    aux: np.ndarray
    aux_depth: np.ndarray
    height: float
    yaw: float

    def face_hidden(self) -> np.ndarray:
        """(19,) bool: face points behind the person's own head (seen from the camera)."""
        hidden = np.zeros(NUM_POINTS, dtype=bool)
        limit = self.aux_depth[AUX_HEAD] - FACE_HIDDEN_BEHIND * self.height
        hidden[list(FACE_POINTS)] = self.depth[list(FACE_POINTS)] < limit
        return hidden

    def head_box(self, side_factor: float = 1.1) -> np.ndarray:
        """The PoseTrack head box x1, y1, x2, y2: a square centred between head_top and head_bottom
        with side ``side_factor`` x their distance. With 1.1, poseval's head size (0.6 x the box
        diagonal) is 0.93 x the head_top-head_bottom distance, and both points lie inside."""
        top, bottom = self.points[HEAD_TOP], self.points[HEAD_BOTTOM]
        centre = (top + bottom) / 2
        half = side_factor * float(np.linalg.norm(top - bottom)) / 2
        return np.array([centre[0] - half, centre[1] - half, centre[0] + half, centre[1] + half])

    def extent(self) -> np.ndarray:
        """x1, y1, x2, y2 bounding every drawn part (limb thickness included)."""
        pts = np.concatenate([self.points, self.aux])
        pad = 0.06 * self.height
        return np.array([pts[:, 0].min() - pad, pts[:, 1].min() - pad, pts[:, 0].max() + pad, pts[:, 1].max() + pad])


def _limb_dir(side: float, abduct: float, swing: float) -> np.ndarray:
    """Unit direction of a limb segment hanging down, raised sideways by ``abduct`` and swung
    forward by ``swing`` (body frame)."""
    return np.array([side * math.sin(abduct), -math.cos(abduct) * math.cos(swing), math.cos(abduct) * math.sin(swing)])


def articulate(posture: Posture, root: tuple[float, float], height: float) -> BodyPose:
    """Forward kinematics: the pose of a person ``height`` pixels tall whose feet stand at image
    point ``root`` (x of the pelvis, y of the ground), in ``posture``.

    The body frame is built with the pelvis at hip height, then shifted vertically so that the
    lower ankle touches the ground (legs bent by the gait lower the pelvis, which gives the
    natural bounce of walking and running)."""
    pts = np.zeros((NUM_POINTS, 3))
    aux = np.zeros((NUM_AUX, 3))
    pelvis = np.array([0.0, HIP_H, 0.0])
    axis = np.array([0.0, math.cos(posture.lean), math.sin(posture.lean)])  # trunk axis, leaning forward
    for k, side in enumerate(SIDES):
        hip = pelvis + np.array([side * HIP_HALF, 0.0, 0.0])
        a, kn = posture.hip[k], posture.knee[k]
        knee = hip + THIGH * np.array([0.0, -math.cos(a), math.sin(a)])
        ankle = knee + SHANK * np.array([0.0, -math.cos(a - kn), math.sin(a - kn)])
        pts[11 + k], pts[13 + k], pts[15 + k] = hip, knee, ankle
        aux[AUX_TOE + k] = ankle + np.array([0.0, -0.8 * ANKLE_H, FOOT])
    shoulder_centre = pelvis + (SHOULDER_H - HIP_H) * axis
    for k, side in enumerate(SIDES):
        shoulder = shoulder_centre + np.array([side * SHOULDER_HALF, 0.0, 0.0])
        c, b, e = posture.abduct[k], posture.shoulder[k], posture.elbow[k]
        elbow = shoulder + UPPER_ARM * _limb_dir(side, c, b)
        fore = _limb_dir(side, c + posture.forearm_abduct[k], b + e)
        wrist = elbow + FOREARM * fore
        pts[5 + k], pts[7 + k], pts[9 + k] = shoulder, elbow, wrist
        aux[AUX_HAND + k] = wrist + HAND * fore
    head = pelvis + (HEAD_CENTRE_H - HIP_H) * axis
    pts[HEAD_BOTTOM] = pelvis + (HEAD_BOTTOM_H - HIP_H) * axis
    pts[HEAD_TOP] = pelvis + (HEAD_TOP_H - HIP_H) * axis
    pts[0:5] = head + FACE_OFFSETS
    aux[AUX_HEAD] = head
    aux[AUX_NECK] = shoulder_centre
    corners = [
        (sx * w, y, sz * 0.06)
        for (w, y) in ((SHOULDER_HALF + 0.02, SHOULDER_H + 0.01), (HIP_HALF + 0.025, HIP_H - 0.045))
        for sx in (1, -1)
        for sz in (1, -1)
    ]
    for i, (x, y, z) in enumerate(corners):
        aux[AUX_TORSO + i] = pelvis + (y - HIP_H) * axis + (x, 0.0, z)
    lift = ANKLE_H - min(pts[15, 1], pts[16, 1])
    pts[:, 1] += lift
    aux[:, 1] += lift

    cos_y, sin_y = math.cos(posture.yaw), math.sin(posture.yaw)

    def project(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x_cam = p[:, 0] * cos_y + p[:, 2] * sin_y
        d_cam = -p[:, 0] * sin_y + p[:, 2] * cos_y
        xy = np.stack([root[0] + height * x_cam, root[1] - height * p[:, 1]], axis=1)
        return xy, height * d_cam

    points, depth = project(pts)
    aux_xy, aux_depth = project(aux)
    return BodyPose(points, depth, aux_xy, aux_depth, float(height), float(posture.yaw))


# ----------------------------------------------------------------------------- drawing

_SHIFT = 3  # fixed-point bits for OpenCV drawing (sub-pixel accurate outlines)
_ONE = 1 << _SHIFT


def _fix(p: np.ndarray) -> tuple[int, int]:
    return round(p[0] * _ONE), round(p[1] * _ONE)


def draw_person(
    labels: np.ndarray, pose: BodyPose, offset: tuple[int, int], long_sleeves: bool, hair_cover: float = 0.55
) -> None:
    """Paint ``pose`` into the uint8 label map ``labels`` (whose pixel (0, 0) is image point
    ``offset``) with the part labels SHIRT, TROUSERS, SHOES, SKIN and HAIR.

    Limbs are thick round-capped segments, the trunk the convex hull of its 3D box corners, the
    head an ellipse with hair over its back/top. Parts are painted far-to-near (by their depth
    towards the camera), so the far arm/leg disappears behind the trunk in profile views."""
    h = pose.height
    off = np.array(offset, dtype=float)
    p = pose.points - off
    a = pose.aux - off
    d = pose.depth

    def thick(fraction: float) -> int:
        return max(1, round(fraction * h))

    parts: list[tuple[float, int, object]] = []  # (depth, order, painter)

    def segment(i: np.ndarray, j: np.ndarray, width: float, label: int) -> object:
        return lambda: cv2.line(labels, _fix(i), _fix(j), label, thick(width), cv2.LINE_8, _SHIFT)

    for k in range(2):
        hip, knee, ankle, toe = p[11 + k], p[13 + k], p[15 + k], a[AUX_TOE + k]
        leg_depth = float(np.mean(d[[11 + k, 13 + k, 15 + k]])) - 0.02 * h
        parts.append((leg_depth, 0, segment(hip, knee, 0.085, TROUSERS)))
        parts.append((leg_depth, 1, segment(knee, ankle, 0.065, TROUSERS)))
        parts.append((leg_depth, 2, segment(ankle, toe, 0.04, SHOES)))
        shoulder, elbow, wrist, hand = p[5 + k], p[7 + k], p[9 + k], a[AUX_HAND + k]
        arm_depth = float(np.mean(d[[5 + k, 7 + k, 9 + k]]))
        parts.append((arm_depth, 3, segment(shoulder, elbow, 0.058, SHIRT)))
        parts.append((arm_depth, 4, segment(elbow, wrist, 0.046, SHIRT if long_sleeves else SKIN)))
        parts.append((arm_depth, 5, segment(wrist, hand, 0.04, SKIN)))
    hull = cv2.convexHull((a[AUX_TORSO : AUX_TORSO + 8] * _ONE).round().astype(np.int32))
    parts.append((0.0, -1, lambda: cv2.fillConvexPoly(labels, hull, SHIRT, cv2.LINE_8, _SHIFT)))
    parts.sort(key=lambda item: (item[0], item[1]))
    for _, _, paint in parts:
        paint()

    cv2.line(labels, _fix(a[AUX_NECK]), _fix(p[HEAD_BOTTOM]), SKIN, thick(0.05), cv2.LINE_8, _SHIFT)
    sin_y, cos_y = math.sin(pose.yaw), math.cos(pose.yaw)
    half_w = h * math.hypot(HEAD_HALF_WIDTH * cos_y, HEAD_HALF_DEPTH * sin_y)
    half_h = h * HEAD_HALF_HEIGHT
    centre = a[AUX_HEAD]
    axes = (round(half_w * _ONE), round(half_h * _ONE))
    cv2.ellipse(labels, _fix(centre), axes, 0.0, 0.0, 360.0, HAIR, -1, cv2.LINE_8, _SHIFT)
    if cos_y > -0.35:  # the face shows: skin ellipse shifted towards the facing direction and down
        face = centre + np.array([0.35 * half_w * sin_y, hair_cover * 0.45 * half_h])
        face_axes = (round(half_w * (0.9 - 0.25 * abs(sin_y)) * _ONE), round(half_h * 0.8 * _ONE))
        cv2.ellipse(labels, _fix(face), face_axes, 0.0, 0.0, 360.0, SKIN, -1, cv2.LINE_8, _SHIFT)
