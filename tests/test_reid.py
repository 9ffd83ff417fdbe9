"""Identity across occlusion: the colour embedding, lost tracks and re-identification (stage d).

The re-linking tests drive :class:`FlowTracker` directly with drawn people (a coloured torso and
limbs over a grey textured background) and their exact poses, frame by frame at 25 fps, with a
still camera (zero flow): what is tested is the association, not a network.
"""

from __future__ import annotations

import cv2
import numpy as np

from pose.keypoints import COCO
from pose.poses import Poses
from tracker.appearance import PARTS, appearance_similarity, embed
from tracker.flowtrack import FlowTrackConfig, FlowTracker
from tracker.synth import SynthConfig, make_scene, render_frame

SHAPE = (240, 480)
FPS = 25.0
# a standing figure's joints in a 1 x 1 box (COCO order), as in tests/synthetic.py
LAYOUT = np.array(
    [
        [0.50, 0.08], [0.45, 0.06], [0.55, 0.06], [0.40, 0.08], [0.60, 0.08], [0.30, 0.25], [0.70, 0.25],
        [0.22, 0.42], [0.78, 0.42], [0.18, 0.58], [0.82, 0.58], [0.38, 0.58], [0.62, 0.58], [0.36, 0.78],
        [0.64, 0.78], [0.35, 0.97], [0.65, 0.97],
    ],
    np.float32,
)  # fmt: skip
BONES = ((5, 7), (7, 9), (6, 8), (8, 10), (11, 13), (13, 15), (12, 14), (14, 16))
RED, BLUE, GREEN, DARK = (40, 40, 200), (200, 60, 30), (40, 170, 40), (50, 50, 50)


class Person:
    """A figure of ``size`` (w, h) whose box's left edge is at ``x(t)``, in shirt and trouser colours."""

    def __init__(self, x, shirt, trousers, size=(50, 140), y=60) -> None:
        self.x, self.shirt, self.trousers, self.size, self.y = x, shirt, trousers, size, y

    def keypoints(self, t: int) -> np.ndarray:
        kp = np.ones((17, 3), np.float32) * 0.9
        kp[:, :2] = (self.x(t), self.y) + LAYOUT * self.size
        return kp

    def box(self, t: int) -> np.ndarray:
        return np.array([self.x(t), self.y, self.x(t) + self.size[0], self.y + self.size[1]], np.float32)

    def draw(self, image: np.ndarray, t: int) -> None:
        kp = self.keypoints(t)[:, :2].round().astype(int)
        torso = kp[[5, 6, 12, 11]]
        cv2.fillConvexPoly(image, torso, self.shirt)
        for a, b in BONES:
            colour = self.shirt if a in (5, 6, 7, 8) else self.trousers
            cv2.line(image, tuple(kp[a]), tuple(kp[b]), colour, 9)


def _background(shape=SHAPE) -> np.ndarray:
    rng = np.random.default_rng(0)
    return (128 + rng.normal(0, 12, (*shape, 3))).clip(0, 255).astype(np.uint8)


def run(
    people_at, frames: int, pan: float = 0.0, turning: range = range(0), shape=SHAPE, **config
) -> list[dict[int, int]]:
    """Track ``frames`` frames; ``people_at(t)`` lists (label, Person, present): present people are
    drawn in list order (later ones in front). A person's pose is exact, its joints inside a later
    person's box or outside the image scored 0.05, and the pose is given (a network finds the
    person) when at least 6 joints are seen. ``pan``: in the frames ``turning`` the camera turns by this
    many pixels a frame (the scene moves left, the flow says so). Returns per frame {label: track id}."""
    tracker = FlowTracker(FlowTrackConfig(fps=FPS, **config))
    background = _background(shape)
    out = []
    for t in range(frames):
        image = background.copy()
        shift = pan * len(range(turning.start, min(t + 1, turning.stop)))
        here = [(label, _shifted(person, shift)) for label, person, present in people_at(t) if present]
        posed = []
        for k, (label, person) in enumerate(here):
            person.draw(image, t)
            kp = person.keypoints(t)
            for _, front in here[k + 1 :]:
                b = front.box(t)
                kp[(kp[:, 0] >= b[0]) & (kp[:, 0] < b[2]) & (kp[:, 1] >= b[1]) & (kp[:, 1] < b[3]), 2] = 0.05
            kp[(kp[:, 0] < 0) | (kp[:, 0] >= shape[1]), 2] = 0.05
            if (kp[:, 2] > 0.2).sum() >= 6:
                posed.append((label, person.box(t), kp))
        tracker.advance(np.full((*shape, 2), (-pan if t in turning else 0.0, 0.0), np.float32) if t else None)
        poses = Poses(
            np.array([b for _, b, _ in posed], np.float32).reshape(-1, 4),
            np.full(len(posed), 0.9, np.float32),
            np.array([kp for _, _, kp in posed], np.float32).reshape(-1, 17, 3),
            layout=COCO,
        )
        tracked = tracker.update(poses, image)
        assert len(tracked) == len(posed)  # confident poses: all are tracked, in order
        ids = tracked.track_ids.tolist()
        assert len(set(ids)) == len(ids)  # one id, one person
        out.append({label: ids[k] for k, (label, _, _) in enumerate(posed)})
    return out


def _shifted(person: Person, shift: float) -> Person:
    if not shift:
        return person
    return Person(lambda t: person.x(t) - shift, person.shirt, person.trousers, person.size, person.y)


def _crossing(x: float = 0.0):
    """A walks right at 4 px/frame behind B, a wide person standing in front: A is wholly hidden
    for 1.5 s (its 50 px behind B's 200 px). ``x`` moves the scene right."""
    a = Person(lambda t: x + 40 + 4 * t, RED, BLUE)
    b = Person(lambda t: x + 190.0, GREEN, DARK, size=(200, 150), y=55)
    hidden = range(38, 38 + round(1.5 * FPS))  # A's box wholly inside B's

    def at(t):
        return [("A", a, True), ("B", b, True)]

    return at, hidden


def test_a_person_hidden_for_1_5_s_behind_another_keeps_the_id() -> None:
    at, hidden = _crossing()
    frames = hidden.stop + 25
    ids = run(at, frames)
    assert all("A" not in ids[t] for t in hidden)  # wholly hidden, as planned
    assert ids[-1]["A"] == ids[0]["A"]
    assert {r["B"] for r in ids} == {ids[0]["B"]}
    # without a track buffer the track has ended (after --queue frames) and A comes back as someone new
    plain = run(at, frames, track_buffer=0.0)
    assert plain[-1]["A"] != plain[0]["A"]


def test_the_prediction_of_a_hidden_person_follows_the_camera() -> None:
    """The same crossing in a wide frame, the camera turning 12 px a frame while A is hidden: A
    comes out about 440 px left of where it would have without the turn (beyond the gate of a
    prediction that ignored the camera), where its own motion plus the camera's predicts it."""
    at, hidden = _crossing(x=420.0)
    turning = range(hidden.start + 1, hidden.stop)
    ids = run(at, hidden.stop + 25, pan=12.0, turning=turning, shape=(240, 960))
    assert all("A" not in ids[t] for t in hidden)
    assert ids[-1]["A"] == ids[0]["A"]


def test_a_new_person_entering_where_a_lost_one_left_gets_a_new_id_when_they_look_different() -> None:
    a = Person(lambda t: 300 + 6 * t, RED, BLUE)  # walks out through the right edge around frame 25

    def newcomer(shirt, trousers):
        c = Person(lambda t: 480 - 6 * (t - 45), shirt, trousers)  # enters there from frame 45, 1 s later

        def at(t):
            return [("A", a, t < 30), ("C", c, t >= 45)]

        return at

    other = run(newcomer(GREEN, DARK), 65)
    assert "A" not in other[40] and "C" in other[55]
    assert other[-1]["C"] != other[0]["A"]
    # the same clothes coming back where A left is A coming back
    same = run(newcomer(RED, BLUE), 65)
    assert same[-1]["C"] == same[0]["A"]


def test_a_lost_tracks_id_is_never_given_to_two_people_at_once() -> None:
    at, hidden = _crossing()
    twin = Person(lambda t: 4 * t - 30, RED, BLUE)  # A's double, 70 px behind A, appearing as A comes out

    def both(t):
        return [*at(t), ("A2", twin, t >= hidden.stop)]

    ids = run(both, hidden.stop + 15)
    after = ids[-1]
    assert after["A"] != after["A2"]  # (run also checks every frame's ids are distinct)
    assert ids[0]["A"] in (after["A"], after["A2"])  # one of them, and only one, is A


def test_the_embedding_of_a_person_is_closer_to_the_same_person_2_s_later_than_to_others() -> None:
    """In the synthetic world: GT joints of every person seen at t and t + 2 s, 4 sequences."""
    cfg = SynthConfig(sequences=4, frames=60, seed=4242, difficulty="medium", width=480, height=270)
    wins = trials = 0
    for index in range(cfg.sequences):
        scene = make_scene(cfg, index)
        looks = []
        for t in (5, 5 + 2 * round(cfg.fps)):
            image, truth = render_frame(scene, t)
            clear = [p for p in truth.people if p.visible_fraction > 0.9 and p.visible[:17].sum() >= 12]
            kp = np.array([np.c_[p.points[:17], p.visible[:17] * 0.9] for p in clear], np.float32).reshape(-1, 17, 3)
            looks.append(({p.track_id: k for k, p in enumerate(clear)}, *embed(image, kp)))
        (ids0, e0, v0), (ids1, e1, v1) = looks
        sim = appearance_similarity(e0, v0, e1, v1)
        for tid, k in ids0.items():
            if tid in ids1 and len(ids1) > 1:
                trials += 1
                wins += int(sim[k].argmax() == ids1[tid])
    assert trials >= 6
    assert wins == trials


def test_the_embedding_pools_left_and_right_and_counts_only_confident_parts() -> None:
    image = _background()
    person = Person(lambda t: 100.0, RED, BLUE)
    person.draw(image, 0)
    kp = person.keypoints(0)
    mirrored = kp.copy()
    mirrored[5:] = kp[[6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15]]  # facing the other way
    weak = kp.copy()
    weak[[13, 14, 15, 16], 2] = 0.05  # legs hidden
    e, v = embed(image, np.stack([kp, mirrored, weak]))
    assert e.shape == (3, len(PARTS), 3) and v[0].all() and v[1].all()
    np.testing.assert_allclose(e[0], e[1], atol=1e-3)
    assert v[2].tolist() == [True, True, False, False]
    assert appearance_similarity(e[:1], v[:1], e[2:], v[2:])[0, 0] > 0.95


def test_a_new_track_found_to_be_a_lost_one_leaves_the_pipeline_with_the_old_id() -> None:
    """A is hidden for 1 s. Its first two poses back show only its head and one arm: too little of
    it for its colours, so it starts a new track. Its third pose passes A's gates: that young track
    is folded into A's, and the pipeline, holding its output back, writes A's id in every frame."""
    from pose.estimator import person_scores
    from tracker.pipeline import PipelineConfig, track
    from tracker.video import Frame

    a, b = Person(lambda t: 60 + 2.0 * t, RED, BLUE), Person(lambda t: 330.0, GREEN, DARK)
    hidden, partial = range(20, 45), (45, 46)
    background = _background()

    def frames():
        for t in range(60):
            image = background.copy()
            for person in (a, b) if t not in hidden else (b,):
                person.draw(image, t)
            yield Frame(image, t, f"{t:06d}")

    class Detector:
        def detect(self, frame: Frame) -> Poses:
            people = (a, b) if frame.index not in hidden else (b,)
            return Poses(np.stack([p.box(frame.index) for p in people]), np.full(len(people), 0.9, np.float32))

    def estimator(image: np.ndarray, boxes: Poses) -> Poses:
        """The exact pose in each box (A's first two back: the head and the left arm only)."""
        kps = []
        for box in boxes.boxes:
            person = a if box[0] < 300 else b
            kp = person.keypoints(0)
            kp[:, :2] += box[:2] - person.box(0)[:2]
            if person is a and round((float(box[0]) - 60) / 2) in partial:
                kp[5:, 2] = 0.05
                kp[[5, 7, 9], 2] = 0.9
            kps.append(kp)
        kp = np.stack(kps).astype(np.float32)
        return boxes.with_(keypoints=kp, scores=person_scores(kp[..., 2], boxes.scores), layout=COCO)

    tracker = FlowTracker(FlowTrackConfig(fps=FPS))
    results = list(track(frames(), Detector(), estimator, None, tracker, PipelineConfig(propagate=False, ahead=0)))
    assert [frame.index for frame, _ in results] == list(range(60))  # every frame, in order
    ids_a = {frame.index: int(r.track_ids[r.boxes[:, 0] < 300][0]) for frame, r in results if frame.index not in hidden}
    assert set(ids_a.values()) == {ids_a[0]}  # A's id in every frame, the two partial ones included
    ids_b = {int(r.track_ids[r.boxes[:, 0] >= 300][0]) for _, r in results}
    assert len(ids_b) == 1 and ids_b != {ids_a[0]}


def test_without_holding_back_the_young_track_shows_its_own_id_first() -> None:
    """The same scene through the tracker alone: the two partial frames carry the young track's
    id, and :meth:`FlowTracker.relabels` reports that it became A's in the frame after."""
    a = Person(lambda t: 60 + 2.0 * t, RED, BLUE)
    hidden, partial = range(20, 45), (45, 46)
    tracker = FlowTracker(FlowTrackConfig(fps=FPS))
    background = _background()
    seen, relabels = {}, {}
    for t in range(50):
        image = background.copy()
        tracker.advance(np.zeros((*SHAPE, 2), np.float32) if t else None)
        if t in hidden:
            tracker.update(
                Poses(
                    np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros((0, 17, 3), np.float32), layout=COCO
                ),
                image,
            )
            continue
        a.draw(image, t)
        kp = a.keypoints(t)
        if t in partial:
            kp[5:, 2] = 0.05
            kp[[5, 7, 9], 2] = 0.9
        tracked = tracker.update(Poses(a.box(t)[None], np.full(1, 0.9, np.float32), kp[None], layout=COCO), image)
        seen[t] = int(tracked.track_ids[0])
        relabels.update(tracker.relabels())
    assert seen[45] == seen[46] != seen[0]
    assert relabels == {seen[45]: seen[0]} and seen[47] == seen[49] == seen[0]
