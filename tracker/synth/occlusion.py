"""Long occlusions (``SynthConfig.occlusion = "long"``): static occluders and people scripted to vanish.

:func:`add_long_occlusions` turns a sequence's ordinary :class:`~tracker.synth.scene.Scene` into
one made to test whether a tracker keeps a person's identity across a long occlusion. It keeps the
background, camera, ignore regions and every actor's look, size, gait and speed (so the difficulty
preset still sets the people count, their motion and the camera), and adds, from a generator of
its own:

* 1-3 static occluders (:class:`~tracker.synth.scene.Occluder`) standing on the ground at depth
  0.2-0.55 and at least 0.1 frame widths apart (:data:`KINDS`): pillars 0.4-0.7 body heights wide
  (at their depth) reaching above the frame, advertising columns 0.6-0.95 wide and box vans
  1.2-1.9 wide with a see-through gap under the body, all taller than anyone behind them, with a
  texture fixed on the canvas (it pans with the background);
* scripts. Actor 1 walks straight across behind an occluder, at the depth (0.12-0.5 behind it)
  where it is fully hidden for a drawn 0.5-2.5 s, timed to pass while the occluder is in view and
  to be seen before and after. Actor 2 walks out of the frame and turns back
  (:attr:`~tracker.synth.motion.Actor.turns`) so that it is out of view for a drawn 0.5-3 s (the
  turn frame is fitted with the camera's actual pan). Each further actor does one of these, or
  crosses a partner at another depth (opposite directions, or the nearer one overtaking the farther
  slowly: the farther is then less than half visible, often below the detector's threshold, for up
  to about 2 s, but fully hidden only briefly, as people are narrow), or keeps its ordinary script,
  walking straight (no diagonal walker passes through an occluder's depth).

So that nobody stays behind an occluder for good, the pacer (actor 0) is moved in front of every
occluder that stands in its zone, and standers out from behind occluders. An actor keeps one track id
for the whole sequence; frames in which they are fully hidden simply have no visible joints.
Every number is drawn from the generator, so a set is deterministic by its seed.
"""

from __future__ import annotations

import math
from dataclasses import replace

import cv2
import numpy as np

from .motion import Actor, ActorTrack, simulate
from .scene import Motion, Occluder, Scene, Stage, _bgr, _noise

#: Width (body heights) of the silhouette of a person walking across the image, arms and legs swinging.
WALKER_WIDTH = 0.45
#: Half width (body heights) of the walker's joints (feet and hands swing out), for off-screen tests.
WALKER_HALF_EXTENT = 0.15


def add_long_occlusions(scene: Scene, rng: np.random.Generator, fps: float, motion: Motion) -> Scene:
    """The scene with occluders and occlusion scripts (see the module docstring), drawn from ``rng``."""
    stage, n = scene.stage, scene.n_frames
    actors = list(scene.actors)
    plans = _plans(rng, len(actors))
    occluders: list[Occluder] = []
    for _ in range(int(rng.integers(1, 4))):
        occluder = _place_occluder(rng, scene, occluders)
        if occluder is not None:
            occluders.append(occluder)
    walkers = [k for k, plan in enumerate(plans) if plan == "occluder"]
    for j, k in enumerate(walkers):
        actors[k] = _walk_behind(rng, actors[k], occluders[j % len(occluders)], occluders, scene, fps)
    for k, plan in enumerate(plans):
        if plan == "exit":
            actors[k] = _exit_and_return(rng, actors[k], scene, occluders, fps)
        elif plan == "pair":
            actors[k], actors[k + 1] = _pair(rng, actors[k], actors[k + 1], scene, occluders, fps, motion)
        elif plan == "free":
            actors[k] = _clear_of_occluders(_straight(actors[k]), occluders, stage)
    if actors:
        actors[0] = _pacer_in_front(actors[0], occluders, stage)
    tracks = [simulate(a, n, fps, stage.person_height) for a in actors]
    return replace(scene, actors=actors, tracks=tracks, occluders=occluders)


def _plans(rng: np.random.Generator, n_people: int) -> list[str]:
    """Per actor: "pacer" (actor 0, kept), "occluder" (walks behind one), "exit" (leaves the frame and
    comes back), "pair" / "partner" (crosses the next actor at another depth) or "free" (kept)."""
    plans = ["pacer", "occluder", "exit"][:n_people]
    while len(plans) < n_people:
        u = rng.random()
        if u < 0.3 and len(plans) + 1 < n_people:
            plans += ["pair", "partner"]
        else:
            plans.append("occluder" if u < 0.55 else "exit" if u < 0.8 else "free")
    return plans


def _straight(actor: Actor) -> Actor:
    """The actor walking straight across (no diagonal heading: depth stays put)."""
    if actor.role != "crosser":
        return actor
    return replace(actor, heading=math.copysign(math.pi / 2, actor.heading))


def _scripted(actor: Actor, x: float, z: float, direction: float, **changes: object) -> Actor:
    """``actor`` as a crosser walking straight in ``direction`` (+1 image-right) at depth ``z`` from
    canvas x ``x``, without its own turns and stops (look, gait, speed and waves kept)."""
    values: dict[str, object] = {"turns": (), "stops": (), "zone": None}
    values.update(changes)
    return replace(actor, role="crosser", x=float(x), z=float(z), heading=direction * math.pi / 2, **values)


def _start_x(stage: Stage, actor: Actor, z: float, direction: float, x_at: float, t: int, fps: float) -> float:
    """Canvas x at frame 0 of a straight walker at depth z that is at ``x_at`` in frame t."""
    v_px = actor.speed * stage.person_height(z) * actor.size
    return x_at - direction * v_px * (t + 1) / fps


# ----------------------------------------------------------------------------- occluders


#: Occluder kinds, how often each is drawn and their widths in body heights at their depth.
KINDS = {"pillar": (0.35, (0.4, 0.7)), "column": (0.3, (0.6, 0.95)), "van": (0.35, (1.2, 1.9))}
#: Least canvas gap between two occluders (share of the frame width): people are seen in between.
GAP = 0.1


def _place_occluder(rng: np.random.Generator, scene: Scene, placed: list[Occluder]) -> Occluder | None:
    """An occluder at depth 0.2-0.55, in view in some frames and at least :data:`GAP` away from the
    ``placed`` ones (after 15 tries a narrow pillar); None when 30 tries find no room (never for the
    first)."""
    stage, camera = scene.stage, scene.camera
    kind = str(rng.choice(list(KINDS), p=[share for share, _ in KINDS.values()]))
    z_o = float(rng.uniform(0.2, 0.55))
    width = float(rng.uniform(*KINDS[kind][1])) * stage.person_height(z_o)
    lo, hi = float(camera[:, 0].min()), float(camera[:, 0].max()) + stage.width  # canvas x ever in view
    for attempt in range(30):
        if attempt == 15:  # no room: a narrow pillar instead
            kind, width = "pillar", KINDS["pillar"][1][0] * stage.person_height(z_o)
        room = max(0.0, (hi - lo) / 2 - width / 2 - 0.2 * stage.width)  # seen with people either side
        x_c = float((lo + hi) / 2 + rng.uniform(-room, room))
        if all(_gap(x_c, width, o) > GAP * stage.width for o in placed):
            return _draw_occluder(rng, kind, stage, z_o, x_c, width)
    return None if placed else _draw_occluder(rng, kind, stage, z_o, x_c, width)


def _walk_behind(
    rng: np.random.Generator, actor: Actor, occluder: Occluder, occluders: list[Occluder], scene: Scene, fps: float
) -> Actor:
    """The actor walking straight across behind ``occluder`` at the depth (0.12-0.5 behind it) where it
    is hidden for a drawn 0.5-2.5 s, passing the occluder's centre in a frame where its whole walk
    behind it is in view (else at least the centre): of up to 8 drawn times and directions, the
    first with the walker in view and clear of every occluder 0.4 s before and after (else one that
    is so after, else before)."""
    stage, n, camera = scene.stage, scene.n_frames, scene.camera
    x0, x1 = _occluder_span(occluder)
    width = x1 - x0
    hidden = float(rng.uniform(0.5, 2.5))
    height = width / (WALKER_WIDTH + actor.speed * hidden) / actor.size  # of a size-1 person there
    z_p = float(np.clip((0.72 - height / stage.height) / 0.42, occluder.z + 0.12, min(1.0, occluder.z + 0.5)))
    h_p = stage.person_height(z_p) * actor.size
    passing = (width / h_p + WALKER_WIDTH) / actor.speed  # seconds from first to last covered frame
    lo = min(n // 2, round((passing / 2 + 0.6) * fps))
    x_c = (x0 + x1) / 2
    margin = round(0.4 * fps)
    reach = (WALKER_WIDTH + actor.speed * (margin / fps + passing / 2)) * h_p  # px either side of x_c
    frames = (
        [t for t in range(lo, n - lo) if camera[t, 0] < x_c - reach and x_c + reach < camera[t, 0] + stage.width]
        or [t for t in range(lo, n - lo) if 0.1 < (x_c - camera[t, 0]) / stage.width < 0.9]
        or [n // 2]
    )
    best: tuple[tuple[bool, bool], Actor] | None = None
    for _ in range(8):
        t_c = int(rng.choice(frames))
        direction = float(rng.choice([-1.0, 1.0]))
        script = _scripted(actor, _start_x(stage, actor, z_p, direction, x_c, t_c, fps), z_p, direction)
        track = simulate(script, n, fps, stage.person_height)
        behind = [t for t in range(n) if _behind(track, script, occluder, t, stage)]
        if not behind:
            continue
        before, after = behind[0] - margin, behind[-1] + margin
        seen = (
            after < n and _clear(track, script, occluders, after, scene),
            before >= 0 and _clear(track, script, occluders, before, scene),
        )
        if best is None or seen > best[0]:
            best = (seen, script)
        if all(seen):
            break
    return best[1] if best is not None else _straight(actor)


def _clear(track: ActorTrack, actor: Actor, occluders: list[Occluder], t: int, scene: Scene) -> bool:
    """Whether the walker is in view in frame t (its joints' span) and behind no occluder."""
    half = WALKER_HALF_EXTENT * scene.stage.person_height(track.z[t]) * actor.size
    left = scene.camera[t, 0]
    inside = left < track.x[t] - half and track.x[t] + half < left + scene.stage.width
    return inside and not any(_behind(track, actor, o, t, scene.stage) for o in occluders)


def _draw_occluder(rng: np.random.Generator, kind: str, stage: Stage, z: float, x_c: float, width: float) -> Occluder:
    """Paint an occluder of ``kind``, ``width`` pixels wide, standing at depth z with its centre at
    canvas x ``x_c`` (see :class:`~tracker.synth.scene.Occluder`)."""
    h_o = stage.person_height(z)
    bottom = round(stage.ground_y(z) + 0.01 * h_o)
    w = max(4, round(width))
    top = 0 if kind == "pillar" else round(bottom - h_o * float(rng.uniform(1.15, 1.3)))  # a pillar: above the frame
    pw = w + (2 * round(0.04 * w) if kind == "column" else 0)  # a column's cap overhangs
    ph = bottom - top
    patch = np.zeros((ph, pw, 3), dtype=np.float32)
    mask = np.zeros((ph, pw), dtype=np.uint8)
    u = (np.arange(pw, dtype=np.float32) + 0.5) / pw
    if kind == "pillar":
        colour = _bgr(rng.uniform(5, 30), rng.uniform(0, 50), rng.uniform(150, 215))
        patch[:] = colour
        mask[:] = 1
        step = max(4, round(h_o * rng.uniform(0.2, 0.35)))
        for y in range(ph - round(0.1 * h_o), 0, -step):  # concrete joints
            patch[max(0, y - 1) : y + 1] *= 0.7
        patch[ph - round(0.1 * h_o) :] *= 0.75  # plinth
        shade = 0.7 + 0.45 * np.sin(np.pi * u) ** 0.6
    elif kind == "column":
        inset = (pw - w) // 2
        cap = max(3, round(0.1 * h_o))
        mask[cap:, inset : inset + w] = 1
        cv2.ellipse(mask, (pw // 2, cap), (pw // 2, cap), 0, 180, 360, 1, -1)
        green = _bgr(rng.uniform(50, 80), rng.uniform(80, 200), rng.uniform(60, 120))
        patch[:] = green
        y = cap + max(2, round(0.04 * h_o))
        low = ph - round(0.12 * h_o)
        while y < low - 4:  # posters, stacked
            poster_h = min(low - y, max(4, round(h_o * rng.uniform(0.2, 0.4))))
            paper = _bgr(rng.uniform(0, 180), rng.uniform(40, 220), rng.uniform(120, 250))
            block = patch[y : y + poster_h, inset : inset + w]
            block[:] = paper
            for _ in range(int(rng.integers(2, 6))):  # print: bands, blocks and lines of "text"
                by, bh = int(rng.integers(0, poster_h)), max(1, int(poster_h * rng.uniform(0.03, 0.2)))
                bx, bw = int(rng.integers(0, max(1, w // 2))), max(2, int(w * rng.uniform(0.2, 0.9)))
                ink = _bgr(rng.uniform(0, 180), rng.uniform(0, 255), rng.uniform(20, 230))
                block[by : by + bh, bx : bx + bw] = ink
            y += poster_h + max(1, round(0.015 * h_o))
        patch[:cap] *= 0.8
        shade = 0.55 + 0.55 * np.sin(np.pi * u) ** 0.5
    else:  # a box van: cargo box, cab at the front, wheels, a see-through gap under the body
        body_colour = _bgr(rng.uniform(0, 180), rng.uniform(0, 160), rng.uniform(120, 240))
        wheel_r = max(2, round(0.1 * h_o))
        body_bottom = ph - round(0.6 * wheel_r)
        cab_w = round(0.22 * w)
        front_right = rng.random() < 0.5
        box_x0, box_x1 = (0, w - cab_w) if front_right else (cab_w, w)
        cab_x0, cab_x1 = (w - cab_w, w) if front_right else (0, cab_w)
        cab_top = round(ph * rng.uniform(0.3, 0.45))
        mask[:body_bottom, box_x0:box_x1] = 1
        mask[cab_top:body_bottom, cab_x0:cab_x1] = 1
        patch[:] = body_colour
        stripe_y = round(ph * rng.uniform(0.2, 0.5))
        stripe = _bgr(rng.uniform(0, 180), rng.uniform(100, 255), rng.uniform(60, 220))
        patch[stripe_y : stripe_y + max(2, round(0.08 * ph)), box_x0:box_x1] = stripe
        glass = _bgr(rng.uniform(95, 115), rng.uniform(30, 90), rng.uniform(40, 90))
        win_x0, win_x1 = cab_x0 + round(0.15 * cab_w), cab_x1 - round(0.15 * cab_w)
        patch[cab_top + round(0.08 * ph) : cab_top + round(0.3 * ph), win_x0:win_x1] = glass
        patch[body_bottom - round(0.1 * ph) : body_bottom] *= 0.6  # bumper/sill
        for wx in (round(0.18 * w), round(0.82 * w)):
            cv2.circle(mask, (wx, ph - wheel_r - 1), wheel_r, 1, -1)
            cv2.circle(patch, (wx, ph - wheel_r - 1), wheel_r, (25.0, 25.0, 28.0), -1)
            cv2.circle(patch, (wx, ph - wheel_r - 1), max(1, wheel_r // 2), (120.0, 120.0, 125.0), -1)
        shade = np.ones(pw, dtype=np.float32)
    texture = 0.8 + 0.3 * _noise(rng, (ph, pw), max(2, pw // 12)) + 0.1 * _noise(rng, (ph, pw), max(2, pw // 3))
    patch *= (texture * shade)[..., None]
    patch += rng.normal(0.0, 6.0, patch.shape).astype(np.float32)
    x = round(x_c - pw / 2)
    return Occluder(kind, z, x, top, patch.clip(0, 255).astype(np.uint8), mask.astype(bool))


def _occluder_span(o: Occluder) -> tuple[float, float]:
    return float(o.x), float(o.x + o.mask.shape[1])


def _gap(x_c: float, width: float, o: Occluder) -> float:
    """Canvas pixels between an occluder ``width`` wide centred at ``x_c`` and ``o`` (< 0: overlap)."""
    x0, x1 = _occluder_span(o)
    return abs(x_c - (x0 + x1) / 2) - (width + x1 - x0) / 2


# ----------------------------------------------------------------------------- people


def _offscreen_runs(track: ActorTrack, actor: Actor, scene: Scene) -> list[tuple[int, int]]:
    """[start, end) frame runs in which the walker is out of the frame, after having been in it and
    before coming back (approximately: no joint of it is in view, with joints ``WALKER_HALF_EXTENT``
    heights either side of the walker's x)."""
    stage = scene.stage
    half = WALKER_HALF_EXTENT * np.array([stage.person_height(z) for z in track.z]) * actor.size
    left = scene.camera[:, 0]
    out = (track.x + half < left) | (track.x - half > left + stage.width)
    runs, start, seen = [], None, False
    for t, o in enumerate(out):
        if o and seen and start is None:
            start = t
        elif not o:
            if start is not None:
                runs.append((start, t))
                start = None
            seen = True
    return runs


def _exit_and_return(
    rng: np.random.Generator, actor: Actor, scene: Scene, occluders: list[Occluder], fps: float
) -> Actor:
    """The actor walks out through a side of the frame and turns back so that it is out of view for
    0.5-3 s (the turn frame fitted with the camera's pan), not behind an occluder from a second before
    it leaves until a second after it is back: of both sides at its own depth or in front of every
    occluder, for up to 3 drawn exit frames, the first that does both, else the first that avoids the
    occluders; its ordinary script (straight) when the sequence is too short for any."""
    stage, n = scene.stage, scene.n_frames
    target = float(rng.uniform(0.5, 3.0))
    direction = float(rng.choice([-1.0, 1.0]))
    latest = n - round((target + 1.5) * fps)
    earliest = round(0.12 * n)
    front = float(rng.uniform(0.0, max(0.0, min(o.z for o in occluders) - 0.08))) if occluders else actor.z
    near = min(actor.z, front)
    choices = []  # (behind an occluder meanwhile, off by over 0.3 s, try, script)
    for _ in range(3):  # exit frames
        t_exit = int(rng.integers(earliest, latest + 1)) if latest > earliest else earliest
        for side, z in ((direction, actor.z), (-direction, actor.z), (direction, near), (-direction, near)):
            fitted = _fit_turn(actor, scene, side, z, t_exit, target, fps)
            if fitted is None:
                continue
            script, (start, end) = fitted
            track = simulate(script, n, fps, stage.person_height)
            frames = range(max(0, start - round(fps)), min(n, end + round(fps)))
            hidden = any(_behind(track, script, o, t, stage) for o in occluders for t in frames)
            choices.append((hidden, abs((end - start) / fps - target) > 0.3, len(choices), script))
            if not choices[-1][0] and not choices[-1][1]:
                return script
    return min(choices, key=lambda c: c[:3])[3] if choices else _straight(actor)


def _fit_turn(
    actor: Actor, scene: Scene, direction: float, z: float, t_exit: int, target: float, fps: float
) -> tuple[Actor, tuple[int, int]] | None:
    """The script of a walker at depth z leaving the frame in ``direction`` in frame ``t_exit`` and
    turning back in the frame that leaves it out of view for closest to ``target`` seconds, with
    that out-of-view run; None when no turn brings it back within the sequence."""
    stage, n = scene.stage, scene.n_frames
    h = stage.person_height(z) * actor.size
    edge = scene.camera[min(t_exit, n - 1), 0] + (
        stage.width + WALKER_HALF_EXTENT * h if direction > 0 else -WALKER_HALF_EXTENT * h
    )
    x0 = _start_x(stage, actor, z, direction, edge, t_exit, fps)
    best: tuple[float, Actor, tuple[int, int]] | None = None
    t_turn = t_exit + round(max(0.0, target - 0.8) / 2 * fps)
    tried = set()
    for _ in range(6):  # out of view for about 2 x (turn - exit) + the turn itself: fit it
        if t_turn in tried or not 0 <= t_turn < n:
            break
        tried.add(t_turn)
        candidate = _scripted(actor, x0, z, direction, turns=(t_turn,))
        runs = _offscreen_runs(simulate(candidate, n, fps, stage.person_height), candidate, scene)
        if not runs:
            t_turn -= max(1, round(0.2 * fps))
            continue
        seconds = (runs[0][1] - runs[0][0]) / fps
        if best is None or abs(seconds - target) < best[0]:
            best = (abs(seconds - target), candidate, runs[0])
        t_turn += round((target - seconds) / 2 * fps)
    return None if best is None else best[1:]


def _behind(track: ActorTrack, actor: Actor, o: Occluder, t: int, stage: Stage) -> bool:
    """Whether the walker is behind occluder ``o`` (at least partly) in frame t."""
    x0, x1 = _occluder_span(o)
    half = WALKER_WIDTH / 2 * stage.person_height(track.z[t]) * actor.size
    return bool(track.z[t] > o.z and x0 - half < track.x[t] < x1 + half)


def _pair(
    rng: np.random.Generator,
    a: Actor,
    b: Actor,
    scene: Scene,
    occluders: list[Occluder],
    fps: float,
    motion: Motion,
) -> tuple[Actor, Actor]:
    """Two walkers at depths at least 0.3 apart whose paths cross in view, not behind an occluder: in
    opposite directions, or the nearer overtaking the farther slowly (they overlap for 1-3 s)."""
    stage, n = scene.stage, scene.n_frames
    z_near = float(rng.uniform(0.0, 0.4))
    z_far = float(rng.uniform(z_near + 0.3, 1.0))
    t_m = int(rng.integers(round(0.25 * n), max(round(0.25 * n) + 1, round(0.75 * n))))
    for _ in range(10):  # they meet in view, not behind an occluder
        x_m = float(scene.camera[t_m, 0] + rng.uniform(0.2, 0.8) * stage.width)
        if all(_gap(x_m, 0.0, o) > 0.05 * stage.width for o in occluders):
            break
    direction = float(rng.choice([-1.0, 1.0]))
    h_near, h_far = stage.person_height(z_near) * a.size, stage.person_height(z_far) * b.size
    if rng.random() < 0.5:  # overtaking: both walk, the near one a little faster in pixels
        walk = 1.2 * 0.8 * motion.speed
        b = replace(b, gait="walk", speed=min(b.speed, walk))
        seconds = float(rng.uniform(1.0, 3.0))
        faster = WALKER_WIDTH * (h_near + h_far) / seconds  # px/s
        speed = float(np.clip((b.speed * h_far + faster) / h_near, 0.3, 1.5))
        a = replace(a, gait="walk", speed=speed)
        far_direction = direction
    else:
        far_direction = -direction
    near = _scripted(a, _start_x(stage, a, z_near, direction, x_m, t_m, fps), z_near, direction)
    far = _scripted(b, _start_x(stage, b, z_far, far_direction, x_m, t_m, fps), z_far, far_direction)
    return near, far


def _clear_of_occluders(actor: Actor, occluders: list[Occluder], stage: Stage) -> Actor:
    """A stander behind an occluder moved out beside it (crossers are left as they are)."""
    if actor.role != "stander":
        return actor
    x = actor.x
    half = WALKER_WIDTH * stage.person_height(actor.z) * actor.size
    for o in occluders:
        x0, x1 = _occluder_span(o)
        if actor.z >= o.z and x0 - half < x < x1 + half:
            x = x0 - 1.3 * half if x < (x0 + x1) / 2 else x1 + 1.3 * half
    return replace(actor, x=float(x))


def _pacer_in_front(actor: Actor, occluders: list[Occluder], stage: Stage) -> Actor:
    """The pacer moved in front of every occluder that stands in its zone."""
    if actor.zone is None:
        return actor
    half = WALKER_WIDTH * stage.person_height(0.0) * actor.size
    lo, hi = actor.zone[0] - half, actor.zone[1] + half
    zs = [o.z for o in occluders if _occluder_span(o)[0] < hi and _occluder_span(o)[1] > lo]
    if not zs or actor.z < min(zs) - 0.05:
        return actor
    return replace(actor, z=max(0.0, min(zs) - 0.08))
