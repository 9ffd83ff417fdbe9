"""The synthetic scene: background, camera pan, cast of actors, rendering and per-frame truth.

A :class:`Scene` is everything about one sequence that is decided before any pixel is drawn:
a textured background canvas larger than the frame, the camera's pan path over it (a smooth
bounded random walk, so the whole background moves and optical flow matters), the actors and
their simulated tracks, and optional ignore regions (a stand with an unannotated crowd).
:func:`render_frame` draws frame ``t``: the camera's crop of the background, then every person
far-to-near (depth order), each into its own label map that is coloured with the person's
clothing palette and a texture that moves with them. An owner map records which person painted
each pixel; a joint is visible when it lies in the image, is not painted over by a nearer person
and (face points) is not behind the person's own head. The result is a :class:`FrameTruth` with
one :class:`PersonTruth` per person whose silhouette reaches the image.

Static occluders (:class:`Occluder`: pillars, advertising columns, vans; only in sets made with
``occlusion="long"``, see :mod:`tracker.synth.occlusion`) stand on the ground at a depth of their
own: they are painted in the same far-to-near order as the people, over everyone behind them and
under everyone nearer, and own their pixels in the owner map, so people behind them lose joints
and visible share exactly as behind a nearer person. Their texture is fixed on the canvas, so
they move with the background when the camera pans.

Geometry: depth z runs from 0 (near, feet at 96 % of the frame height, 72 % of the frame height
tall) to 1 (far, feet at 60 %, 30 % tall); a person's size factor (0.75..1.05) scales that.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np

from .body import HAIR, NUM_LABELS, SHIRT, SHOES, SKIN, TROUSERS, BodyPose, articulate, draw_person
from .motion import Actor, ActorTrack, gait_posture, simulate

TEXTURE_SIZE = 64  # per-person texture tile (pixels, power of two)


@dataclass
class Appearance:
    """How a person looks: a BGR colour per label (row 0 unused), a shirt texture and a fine base
    texture (multipliers around 1, tiled, anchored at the person's pelvis so they move with them)."""

    palette: np.ndarray
    shirt_texture: np.ndarray
    base_texture: np.ndarray
    long_sleeves: bool


@dataclass(frozen=True)
class Stage:
    """Frame size, canvas margins (how far the camera can pan) and the depth-to-image mapping."""

    width: int
    height: int
    margin_x: int
    margin_y: int

    @property
    def canvas_size(self) -> tuple[int, int]:
        """(width, height) of the background canvas."""
        return self.width + 2 * self.margin_x, self.height + 2 * self.margin_y

    def person_height(self, z: float) -> float:
        """Pixel height of a size-1 person at depth z."""
        return self.height * (0.72 - 0.42 * z)

    def ground_y(self, z: float) -> float:
        """Canvas y of the feet of a person at depth z."""
        return self.margin_y + self.height * (0.96 - 0.36 * z)

    @property
    def horizon(self) -> int:
        """Canvas y of the horizon."""
        return int(self.margin_y + 0.45 * self.height)


@dataclass
class PersonTruth:
    """Ground truth of one person in one frame.

    ``points`` (19, 2) image x/y of :data:`~tracker.synth.body.POINT_NAMES`; ``in_image`` and
    ``visible`` (19,) bool (visible: in the image, not covered by a nearer person or occluder,
    face points not behind the own head); ``box`` x1, y1, x2, y2 of the silhouette's part in the image;
    ``area`` its pixel count; ``visible_fraction`` the share of it not covered by others;
    ``head_box`` the PoseTrack head box (see :meth:`BodyPose.head_box`); ``depth`` 0 near..1 far."""

    track_id: int
    points: np.ndarray
    in_image: np.ndarray
    visible: np.ndarray
    box: np.ndarray
    area: int
    visible_fraction: float
    head_box: np.ndarray
    depth: float


@dataclass
class FrameTruth:
    """Ground truth of one frame: its index, people (near-to-far order is not implied) and the
    ignore-region polygons ((K, 2) image coordinates)."""

    index: int
    people: list[PersonTruth]
    ignore_regions: list[np.ndarray] = field(default_factory=list)
    camera: tuple[int, int] = (0, 0)


@dataclass
class Occluder:
    """A static object standing on the ground at depth ``z`` (0 near .. 1 far): its picture
    ``patch`` (h, w, 3 uint8) and ``mask`` (h, w bool) with the top-left corner at canvas pixel
    (``x``, ``y``). ``kind`` names what it shows ("pillar", "column", "van")."""

    kind: str
    z: float
    x: int
    y: int
    patch: np.ndarray
    mask: np.ndarray

    def box(self, camera: tuple[int, int] | np.ndarray = (0, 0)) -> np.ndarray:
        """x1, y1, x2, y2 of the patch in the image of a frame whose top-left corner is the canvas
        point ``camera`` (inclusive-exclusive pixels; may reach outside the image)."""
        h, w = self.mask.shape
        x, y = self.x - int(camera[0]), self.y - int(camera[1])
        return np.array([x, y, x + w, y + h], dtype=float)


@dataclass
class Scene:
    """One sequence before rendering (see the module docstring). ``camera`` is (n, 2) integer
    canvas offsets of the frame's top-left corner; ``ignore_regions`` polygons in canvas pixels;
    ``occluders`` the static occluders (none unless the set was made with long occlusions)."""

    stage: Stage
    background: np.ndarray
    camera: np.ndarray
    actors: list[Actor]
    tracks: list[ActorTrack]
    ignore_regions: list[np.ndarray]
    occluders: list[Occluder] = field(default_factory=list)

    @property
    def n_frames(self) -> int:
        return len(self.camera)

    def pose(self, actor_index: int, t: int) -> BodyPose:
        """The projected pose of an actor in frame t (image coordinates)."""
        actor, tr = self.actors[actor_index], self.tracks[actor_index]
        cx, cy = self.camera[t]
        posture = gait_posture(
            actor.gait, tr.phase[t], tr.amount[t], tr.yaw[t], tr.wave[t], tr.wave_phase[t], actor.wave_side
        )
        z = tr.z[t]
        root = (tr.x[t] - cx, self.stage.ground_y(z) - cy)
        return articulate(posture, root, self.stage.person_height(z) * actor.size)


# ----------------------------------------------------------------------------- appearance


def _bgr(h: float, s: float, v: float) -> np.ndarray:
    hsv = np.array([[[h, s, v]]], dtype=np.uint8)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0, 0].astype(np.float32)


def _noise(rng: np.random.Generator, shape: tuple[int, int], cells: int) -> np.ndarray:
    """Smooth value noise in [0, 1] of ``shape`` with about ``cells`` features along the width."""
    h, w = shape
    small = rng.random((max(2, round(cells * h / w)) + 1, cells + 1)).astype(np.float32)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC).clip(0, 1)


SKIN_TONES = ((200, 220, 245), (160, 190, 230), (120, 160, 210), (80, 120, 170), (50, 80, 120))
HAIR_COLOURS = ((20, 20, 25), (30, 50, 80), (60, 110, 170), (150, 150, 150), (40, 60, 140))
TROUSER_COLOURS = ((120, 70, 40), (40, 40, 40), (110, 150, 170), (90, 90, 90), (60, 50, 90))


def random_appearance(rng: np.random.Generator) -> Appearance:
    """Random clothing colours (shirt any hue; trousers, shoes, skin and hair from plausible sets,
    jittered) and a shirt texture: noise, stripes or checks, so that moving people have texture
    for optical flow."""
    palette = np.zeros((NUM_LABELS, 3), dtype=np.float32)
    palette[SHIRT] = _bgr(rng.uniform(0, 180), rng.uniform(60, 230), rng.uniform(80, 240))
    palette[TROUSERS] = np.array(TROUSER_COLOURS[rng.integers(len(TROUSER_COLOURS))]) * rng.uniform(0.8, 1.2)
    palette[SHOES] = rng.choice([30.0, 60.0, 200.0]) * rng.uniform(0.8, 1.1, 3)
    palette[SKIN] = np.array(SKIN_TONES[rng.integers(len(SKIN_TONES))]) * rng.uniform(0.92, 1.08)
    palette[HAIR] = np.array(HAIR_COLOURS[rng.integers(len(HAIR_COLOURS))]) * rng.uniform(0.85, 1.15)
    s = TEXTURE_SIZE
    yy, xx = np.mgrid[0:s, 0:s].astype(np.float32)
    kind = rng.integers(3)
    period = float(rng.choice([4, 8, 16]))
    if kind == 0:
        pattern = _noise(rng, (s, s), 8) * 0.7 + _noise(rng, (s, s), 32) * 0.3
    elif kind == 1:
        pattern = (np.sin(2 * np.pi * (yy if rng.random() < 0.7 else xx) / period) > 0).astype(np.float32)
    else:
        pattern = ((np.floor(xx / period) + np.floor(yy / period)) % 2).astype(np.float32)
    amp = rng.uniform(0.15, 0.35)
    grain = (rng.random((s, s)).astype(np.float32) - 0.5) * 0.12
    shirt = 1.0 + amp * (2 * pattern - 1) + grain
    base = 1.0 + _noise(rng, (s, s), 16) * 0.2 - 0.1 + grain
    return Appearance(palette.clip(0, 255), shirt, base, bool(rng.random() < 0.5))


# ----------------------------------------------------------------------------- background


def make_background(rng: np.random.Generator, stage: Stage) -> np.ndarray:
    """A textured street-like canvas: sky, a row of buildings with windows above the horizon,
    paved ground with perspective seams below it, all modulated by multi-scale noise and fine
    grain (static texture at every scale, so optical flow can measure the pan)."""
    w, h = stage.canvas_size
    hz = stage.horizon
    img = np.zeros((h, w, 3), dtype=np.float32)
    sky = _bgr(rng.uniform(90, 120), rng.uniform(30, 120), rng.uniform(170, 250))
    img[:hz] = sky * np.linspace(0.85, 1.1, hz, dtype=np.float32)[:, None, None]
    x = int(rng.integers(-40, 0))
    while x < w:
        bw = int(stage.width * rng.uniform(0.08, 0.25))
        top = int(stage.margin_y + stage.height * rng.uniform(0.0, 0.3))
        colour = _bgr(rng.uniform(0, 180), rng.uniform(10, 90), rng.uniform(90, 210))
        img[top:hz, max(x, 0) : x + bw] = colour
        win = _bgr(rng.uniform(90, 120), rng.uniform(20, 80), rng.uniform(40, 230))
        step_x, step_y = max(6, bw // int(rng.integers(3, 7))), max(6, int(stage.height * rng.uniform(0.04, 0.08)))
        for wy in range(top + step_y // 2, hz - step_y, step_y):
            for wx in range(x + step_x // 3, x + bw - step_x // 2, step_x):
                cv2.rectangle(img, (wx, wy), (wx + step_x // 2, wy + step_y // 2), win.tolist(), -1)
        x += bw + int(rng.integers(0, max(1, stage.width // 20)))
    ground = _bgr(rng.uniform(0, 180), rng.uniform(10, 70), rng.uniform(90, 170))
    img[hz:] = ground
    seam = (ground * 0.7).tolist()
    y, gap = float(hz), 3.0
    while y < h:
        cv2.line(img, (0, int(y)), (w, int(y)), seam, 1)
        y, gap = y + gap, gap * 1.25
    vp = w / 2
    for x0 in np.arange(-3 * w, 4 * w, max(8.0, stage.width / 12)):
        cv2.line(img, (int(vp + (x0 - vp) * 0.02), hz), (int(x0), h), seam, 1)
    shade = 0.55 * _noise(rng, (h, w), 6) + 0.3 * _noise(rng, (h, w), 40) + 0.15 * _noise(rng, (h, w), 160)
    img *= (0.7 + 0.6 * shade)[..., None]
    img += rng.normal(0.0, 7.0, img.shape).astype(np.float32)
    return img.clip(0, 255).astype(np.uint8)


def camera_path(rng: np.random.Generator, n: int, stage: Stage, speed: float) -> np.ndarray:
    """(n, 2) integer canvas offsets of the frame: a smooth random walk (the velocity itself
    drifts) of at most 1.5 x ``speed`` px/frame horizontally, with a little vertical tilt; near the margins a
    spring slows it down and turns it back, and a hard clamp keeps it inside the canvas."""
    centre = np.array([stage.margin_x, stage.margin_y], dtype=float)
    pos = centre + rng.uniform(-0.5, 0.5, 2) * centre
    vel = np.array([speed * rng.choice([-1.0, 1.0]) * rng.uniform(0.6, 1.0), 0.0])
    vmax = np.array([1.5 * speed, 0.3 * speed])
    out = np.zeros((n, 2), dtype=np.int64)
    for t in range(n):
        out[t] = np.round(pos)
        offset = (pos - centre) / np.maximum(centre, 1.0)  # -1 .. 1 across the pan range
        spring = -np.sign(offset) * np.clip(np.abs(offset) - 0.6, 0.0, None) * 0.5 * vmax
        vel = np.clip(vel * 0.97 + rng.normal(0.0, 1.0, 2) * 0.15 * vmax + spring, -vmax, vmax)
        pos = np.clip(pos + vel, 0.0, 2 * centre)
    return out


# ----------------------------------------------------------------------------- rendering


def paint_person(
    image: np.ndarray,
    owner: np.ndarray | None,
    pose: BodyPose,
    appearance: Appearance,
    rank: int,
) -> tuple[np.ndarray, int] | None:
    """Draw ``pose`` over ``image`` (uint8 BGR, in place) and mark its pixels with ``rank`` in
    ``owner`` (int16, same size; may be None). Returns the silhouette's image box (x1, y1, x2, y2,
    inclusive-exclusive pixels) and pixel count, or None when nothing falls in the image."""
    height, width = image.shape[:2]
    ext = pose.extent()
    x0, y0 = max(0, math.floor(ext[0])), max(0, math.floor(ext[1]))
    x1, y1 = min(width, math.ceil(ext[2]) + 1), min(height, math.ceil(ext[3]) + 1)
    if x1 <= x0 or y1 <= y0:
        return None
    labels = np.zeros((y1 - y0, x1 - x0), dtype=np.uint8)
    draw_person(labels, pose, (x0, y0), appearance.long_sleeves)
    mask = labels > 0
    count = int(mask.sum())
    if count == 0:
        return None
    s = TEXTURE_SIZE
    rx, ry = round(pose.aux[4, 0]), round(pose.aux[4, 1])  # texture anchored at the head centre
    ty = (np.arange(y0, y1) - ry) % s
    tx = (np.arange(x0, x1) - rx) % s
    shirt = appearance.shirt_texture[np.ix_(ty, tx)]
    base = appearance.base_texture[np.ix_(ty, tx)]
    tex = np.where(labels == SHIRT, shirt, base)
    colour = (appearance.palette[labels] * tex[..., None]).clip(0, 255).astype(np.uint8)
    roi = image[y0:y1, x0:x1]
    roi[mask] = colour[mask]
    if owner is not None:
        owner[y0:y1, x0:x1][mask] = rank
    ys, xs = np.nonzero(mask)
    return np.array([x0 + xs.min(), y0 + ys.min(), x0 + xs.max() + 1, y0 + ys.max() + 1], dtype=float), count


def paint_occluder(
    image: np.ndarray, owner: np.ndarray, occluder: Occluder, camera: tuple[int, int], rank: int
) -> None:
    """Draw ``occluder`` over ``image`` (the frame whose top-left corner is canvas point ``camera``,
    in place) and mark its pixels with ``rank`` in ``owner``."""
    height, width = image.shape[:2]
    x0, y0 = occluder.x - camera[0], occluder.y - camera[1]
    ph, pw = occluder.mask.shape
    ix0, iy0, ix1, iy1 = max(0, x0), max(0, y0), min(width, x0 + pw), min(height, y0 + ph)
    if ix1 <= ix0 or iy1 <= iy0:
        return
    mask = occluder.mask[iy0 - y0 : iy1 - y0, ix0 - x0 : ix1 - x0]
    image[iy0:iy1, ix0:ix1][mask] = occluder.patch[iy0 - y0 : iy1 - y0, ix0 - x0 : ix1 - x0][mask]
    owner[iy0:iy1, ix0:ix1][mask] = rank


def _visible_points(points: np.ndarray, owner: np.ndarray, rank: int) -> tuple[np.ndarray, np.ndarray]:
    """(in_image, not covered by a nearer person or occluder) for (K, 2) points of the person drawn at ``rank``."""
    height, width = owner.shape
    xi, yi = np.floor(points[:, 0]).astype(np.int64), np.floor(points[:, 1]).astype(np.int64)
    inside = (xi >= 0) & (xi < width) & (yi >= 0) & (yi < height)
    uncovered = np.zeros(len(points), dtype=bool)
    uncovered[inside] = owner[yi[inside], xi[inside]] <= rank
    return inside, uncovered & inside


def render_frame(scene: Scene, t: int, poses: list[BodyPose] | None = None) -> tuple[np.ndarray, FrameTruth]:
    """Render frame ``t`` of ``scene`` and compute its ground truth (see the module docstring).

    ``poses`` overrides the actors' simulated poses (one per actor, image coordinates), which
    lets tests and callers stage exact configurations. People and occluders are drawn far-to-near
    by depth (an occluder over the people at its own depth)."""
    cx, cy = (int(v) for v in scene.camera[t])
    st = scene.stage
    image = np.ascontiguousarray(scene.background[cy : cy + st.height, cx : cx + st.width])
    owner = np.full((st.height, st.width), -1, dtype=np.int16)
    if poses is None:
        poses = [scene.pose(i, t) for i in range(len(scene.actors))]
    depths = [float(tr.z[t]) for tr in scene.tracks]
    n = len(scene.actors)
    # people are items 0..n-1, occluders n.. (after the people of equal depth: in front of them)
    items = [(-depths[i], 0, scene.actors[i].track_id, i) for i in range(n)]
    items += [(-o.z, 1, k, n + k) for k, o in enumerate(scene.occluders)]
    order = [item[3] for item in sorted(items)]
    painted: dict[int, tuple[int, np.ndarray, int]] = {}
    for rank, i in enumerate(order):
        if i >= n:
            paint_occluder(image, owner, scene.occluders[i - n], (cx, cy), rank)
            continue
        result = paint_person(image, owner, poses[i], scene.actors[i].appearance, rank)
        if result is not None:
            painted[i] = (rank, *result)
    people = []
    for i, (rank, box, area) in sorted(painted.items(), key=lambda item: scene.actors[item[0]].track_id):
        pose = poses[i]
        inside, uncovered = _visible_points(pose.points, owner, rank)
        visible = uncovered & ~pose.face_hidden()
        bx0, by0, bx1, by1 = box.astype(int)
        own = int((owner[by0:by1, bx0:bx1] == rank).sum())
        people.append(
            PersonTruth(
                track_id=scene.actors[i].track_id,
                points=pose.points.copy(),
                in_image=inside,
                visible=visible,
                box=box,
                area=area,
                visible_fraction=own / area,
                head_box=pose.head_box(),
                depth=depths[i],
            )
        )
    regions = [poly - (cx, cy) for poly in scene.ignore_regions]
    return image, FrameTruth(t, people, regions, (cx, cy))


# ----------------------------------------------------------------------------- casting


@dataclass(frozen=True)
class Motion:
    """Difficulty-dependent motion parameters (see :data:`tracker.synth.config.PRESETS`)."""

    speed: float = 1.0  # walking/running speed factor
    run: float = 0.2  # probability that a crosser runs
    turn: float = 0.3  # probability that a crosser turns back once
    wave: float = 0.4  # probability of a waving episode per actor
    pan: float = 4.0  # top camera speed (px/frame at 640 px width) is 1.5x this; the mean is about 0.5x
    crowd: float = 0.0  # probability of a crowd stand (ignore region) per sequence
    depth_spread: float = 1.0  # share of the depth range used (small: more overlap)


def _cast(
    rng: np.random.Generator, n_people: int, n_frames: int, fps: float, stage: Stage, motion: Motion, camera: np.ndarray
) -> list[Actor]:
    """The actors of a sequence: actor 0 paces in the middle (present throughout), the others are
    crossers entering through either side at random times (some running, turning back or walking
    diagonally in depth) and standers."""
    actors = []
    centre = stage.margin_x + stage.width / 2
    lo_z = 0.5 - 0.5 * motion.depth_spread
    for k in range(n_people):
        role = "pacer" if k == 0 else ("stander" if rng.random() < 0.2 else "crosser")
        gait = "run" if role == "crosser" and rng.random() < motion.run else "walk"
        z = float(lo_z + rng.random() * motion.depth_spread)
        size = float(rng.uniform(0.75, 1.05))
        speed = float(rng.uniform(0.7, 1.2) * motion.speed * (2.0 if gait == "run" else 0.8))
        direction = float(rng.choice([-1.0, 1.0]))
        heading = direction * math.pi / 2
        turns: tuple[int, ...] = ()
        stops: tuple[tuple[int, int], ...] = ()
        waves: tuple[tuple[int, int], ...] = ()
        zone = None
        if role == "pacer":
            x = centre + rng.uniform(-0.15, 0.15) * stage.width
            zone = (centre - 0.22 * stage.width, centre + 0.22 * stage.width)
            if rng.random() < 0.6:
                start = int(rng.integers(0, max(1, n_frames)))
                stops = ((start, start + int(fps * rng.uniform(1.0, 2.5))),)
                if rng.random() < 0.7:
                    waves = ((stops[0][0] + int(fps * 0.3), stops[0][1]),)
        elif role == "stander":
            x = camera[0, 0] + rng.uniform(0.1, 0.9) * stage.width
            heading = float(rng.uniform(-0.8, 0.8))
            if rng.random() < motion.turn:
                turns = (int(rng.integers(0, max(1, n_frames))),)
        else:
            if rng.random() < 0.3:  # diagonal: towards or away from the camera as well
                heading = direction * (math.pi / 2 + float(rng.choice([-1.0, 1.0])) * rng.uniform(0.3, 0.7))
            enter = rng.uniform(-0.4, 0.8) * n_frames
            h_px = stage.person_height(z) * size
            edge = camera[0, 0] + (-0.3 * h_px if direction > 0 else stage.width + 0.3 * h_px)
            x = edge - math.sin(heading) * speed * h_px * enter / fps
            if rng.random() < motion.turn:
                turns = (int(max(0.0, enter) + rng.uniform(0.3, 0.9) * n_frames),)
        if role != "pacer" and rng.random() < motion.wave:
            start = int(rng.integers(0, max(1, n_frames)))
            waves = ((start, start + int(fps * rng.uniform(1.0, 3.0))),)
        actors.append(
            Actor(
                track_id=k,
                role=role,
                gait=gait,
                speed=speed,
                x=float(x),
                z=z,
                heading=heading,
                size=size,
                phase=float(rng.uniform(0, 2 * math.pi)),
                turn_via=float(rng.choice([-1.0, 1.0])),
                wave_side=int(rng.integers(2)),
                turns=turns,
                stops=stops,
                waves=waves,
                zone=zone,
                appearance=random_appearance(rng),
            )
        )
    return actors


def _crowd(rng: np.random.Generator, background: np.ndarray, stage: Stage) -> np.ndarray:
    """Paint a stand with a small unannotated crowd into the background; returns its polygon
    (canvas pixels), the ignore region."""
    w = stage.width * rng.uniform(0.2, 0.35)
    x0 = stage.margin_x + rng.uniform(0.1, 0.9) * stage.width - w / 2
    y1 = stage.ground_y(1.0) - 0.01 * stage.height
    y0 = stage.horizon - 0.12 * stage.height
    cv2.rectangle(background, (int(x0), int(y0)), (int(x0 + w), int(y1)), (60, 60, 70), -1)
    figures = []
    for _ in range(int(rng.integers(6, 14))):
        height = stage.height * rng.uniform(0.1, 0.16)
        fx = x0 + rng.uniform(0.1, 0.9) * w
        fy = rng.uniform(y0 + height, y1)
        posture = gait_posture("walk", float(rng.uniform(0, 6.3)), 0.0, float(rng.uniform(-1.0, 1.0)))
        figures.append((fy, articulate(posture, (fx, fy), height)))
    for _, pose in sorted(figures, key=lambda f: f[0]):
        paint_person(background, None, pose, random_appearance(rng), 0)
    return np.array([[x0, y0], [x0 + w, y0], [x0 + w, y1], [x0, y1]])


def build_scene(
    rng: np.random.Generator, stage: Stage, n_frames: int, n_people: int, fps: float, motion: Motion
) -> Scene:
    """Draw a whole sequence's scene from ``rng`` (deterministic for a given generator state)."""
    background = make_background(rng, stage)
    camera = camera_path(rng, n_frames, stage, motion.pan * stage.width / 640)
    regions = [_crowd(rng, background, stage)] if rng.random() < motion.crowd else []
    actors = _cast(rng, n_people, n_frames, fps, stage, motion, camera)
    tracks = [simulate(a, n_frames, fps, stage.person_height) for a in actors]
    return Scene(stage, background, camera, actors, tracks, regions)
