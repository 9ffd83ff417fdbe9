"""Motion of the synthetic people: gait cycles, waving, and the per-frame walk of each actor.

An :class:`Actor` is a person's whole script for a sequence (role, gait, speed, start point,
turn/stop/wave events). :func:`simulate` integrates it frame by frame into an
:class:`ActorTrack`: ground position (canvas x, depth), facing yaw, gait phase and amount, and
wave state. :func:`gait_posture` turns one frame of that into joint angles (:class:`Posture`).

Movement follows the facing direction: the yaw turns towards a target heading at a limited
rate (a U-turn passes through facing the camera, or its back, as the actor prefers), and the
person walks where they face, so turns are smooth arcs and walking towards or away from the
camera changes depth and therefore size. Speeds are in body heights per second, so far
(smaller) people move fewer pixels, as in perspective.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .body import Posture

#: Depth 0..1 spans this many body heights of ground (about 10 m for an adult).
DEPTH_SPAN = 6.0
#: Gait parameters: stride (body heights per cycle), nominal speed (heights/s), hip/knee/shoulder/
#: elbow amplitudes (radians) and trunk lean.
GAITS = {
    "walk": {"stride": 0.8, "speed": 0.8, "hip": 0.4, "knee0": 0.08, "knee": 0.95, "arm": 0.35, "elbow0": 0.25,
             "elbow": 0.3, "lean": 0.03},
    "run": {"stride": 1.4, "speed": 2.0, "hip": 0.65, "knee0": 0.3, "knee": 1.5, "arm": 0.6, "elbow0": 1.35,
            "elbow": 0.25, "lean": 0.15},
}  # fmt: skip
TURN_RATE = 4.0  # radians per second
SPEED_TAU = 0.4  # seconds to reach a new speed


@dataclass
class Actor:
    """One person's script for a sequence.

    ``role``: "pacer" (walks to and fro in the middle of the stage, stops and waves), "crosser"
    (enters through a side and walks/runs across, may turn back) or "stander" (stays, turns,
    waves). Frames in ``turns`` reverse the heading; ``stops`` and ``waves`` are [start, end)
    frame ranges. ``x`` is the canvas x at frame 0, ``z`` the depth (0 near .. 1 far)."""

    track_id: int
    role: str
    gait: str
    speed: float
    x: float
    z: float
    heading: float
    size: float
    phase: float = 0.0
    turn_via: float = 1.0
    wave_side: int = 0
    turns: tuple[int, ...] = ()
    stops: tuple[tuple[int, int], ...] = ()
    waves: tuple[tuple[int, int], ...] = ()
    zone: tuple[float, float] | None = None  # pacer: canvas x range it turns back at
    appearance: Any = field(default=None, repr=False)  # scene.Appearance


@dataclass
class ActorTrack:
    """Per-frame state of an actor, each array of length n_frames."""

    x: np.ndarray
    z: np.ndarray
    yaw: np.ndarray
    phase: np.ndarray
    amount: np.ndarray
    wave: np.ndarray
    wave_phase: np.ndarray


def _wrap(angle: float) -> float:
    """Angle in (-pi, pi]."""
    return -((-angle + math.pi) % (2 * math.pi) - math.pi)


def _in_ranges(t: int, ranges: tuple[tuple[int, int], ...]) -> bool:
    return any(a <= t < b for a, b in ranges)


def simulate(actor: Actor, n_frames: int, fps: float, person_height: Callable[[float], float]) -> ActorTrack:
    """Integrate ``actor``'s script over ``n_frames``; ``person_height(z)`` gives the pixel height
    of a size-1 person at depth z (to turn heights/s into pixels/s)."""
    dt = 1.0 / fps
    gait = GAITS[actor.gait]
    out = {k: np.zeros(n_frames) for k in ("x", "z", "yaw", "phase", "amount", "wave", "wave_phase")}
    x, z, yaw, phase = actor.x, actor.z, actor.heading, actor.phase
    heading = actor.heading
    speed = 0.0 if actor.role == "stander" or _in_ranges(0, actor.stops) else actor.speed
    wave = 0.0
    wave_phase = actor.phase
    for t in range(n_frames):
        if t in actor.turns:
            heading = -heading
        if (
            actor.zone is not None
            and math.sin(heading) * (x - sum(actor.zone) / 2) > (actor.zone[1] - actor.zone[0]) / 2
        ):
            heading = -heading  # pacer left its zone walking outward: turn back
        if (z <= 0.0 and math.cos(heading) > 0) or (z >= 1.0 and math.cos(heading) < 0):
            heading = _wrap(math.pi - heading)  # at the near/far edge: reflect the depth motion
        moving = actor.role != "stander" and not _in_ranges(t, actor.stops)
        waving = _in_ranges(t, actor.waves)
        target_speed = actor.speed if moving else 0.0
        target_yaw = heading if moving else (heading if actor.role == "stander" else 0.0)
        diff = _wrap(target_yaw - yaw)
        if abs(diff) > math.pi - 0.15:
            diff = actor.turn_via * abs(diff)
        yaw = _wrap(yaw + float(np.clip(diff, -TURN_RATE * dt, TURN_RATE * dt)))
        speed += (target_speed - speed) * (1 - math.exp(-dt / SPEED_TAU))
        wave += ((1.0 if waving else 0.0) - wave) * (1 - math.exp(-dt / 0.25))
        wave_phase += 2 * math.pi * 2.0 * dt
        h = person_height(z) * actor.size
        x += speed * math.sin(yaw) * h * dt
        z = float(np.clip(z - speed * math.cos(yaw) / DEPTH_SPAN * dt, 0.0, 1.0))
        phase += 2 * math.pi * speed / gait["stride"] * dt
        for key, value in (("x", x), ("z", z), ("yaw", yaw), ("phase", phase), ("wave", wave)):
            out[key][t] = value
        out["amount"][t] = min(1.0, speed / gait["speed"])
        out["wave_phase"][t] = wave_phase
    return ActorTrack(**out)


def gait_posture(
    gait: str, phase: float, amount: float, yaw: float, wave: float = 0.0, wave_phase: float = 0.0, wave_side: int = 0
) -> Posture:
    """Joint angles of a gait cycle at ``phase`` (radians), scaled by ``amount`` (0 standing .. 1
    full stride), with the ``wave_side`` arm (0 left, 1 right) raised and waving by ``wave`` (0..1).

    Legs swing in antiphase (hip = A sin(phase)); the knee bends during the swing (when the leg
    moves forward); each arm swings against the leg of its side, its elbow bending as it comes
    forward."""
    g = GAITS[gait]
    phases = np.array([phase, phase + math.pi])
    s, c = np.sin(phases), np.cos(phases)
    hip = amount * g["hip"] * s
    knee = amount * (g["knee0"] + g["knee"] * np.maximum(0.0, c) ** 2)
    shoulder = -amount * g["arm"] * s
    elbow = g["elbow0"] * (0.3 + 0.7 * amount) + amount * g["elbow"] * np.maximum(0.0, -s)
    abduct = np.full(2, 0.08)
    forearm = np.zeros(2)
    if wave > 0:
        k = wave_side
        abduct[k] += wave * (1.45 - abduct[k])
        shoulder[k] *= 1 - wave
        elbow[k] *= 1 - wave
        forearm[k] = wave * (1.2 + 0.45 * math.sin(wave_phase))
    return Posture(
        yaw=yaw,
        lean=amount * g["lean"],
        hip=hip,
        knee=knee,
        shoulder=shoulder,
        abduct=abduct,
        elbow=elbow,
        forearm_abduct=forearm,
    )
