"""hrtrack synth --occlusion long: static occluders and people who vanish for 0.5-3 s and come back."""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path

import cv2
import numpy as np
import pytest
from test_bad_inputs import assert_clean_error

from pose.errors import HrtrackError
from tracker.cli import build_parser, main
from tracker.synth import SynthConfig, generate, make_scene, posetrack_sequence, render_frame, render_sequence
from tracker.synth.generate import posetrack_person
from tracker.synth.scene import Stage, build_scene

SMALL = {"width": 320, "height": 180, "write_video": False, "write_frames": False}


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*.json"))}


def test_long_sets_are_deterministic_by_seed(tmp_path: Path) -> None:
    cfg = SynthConfig(sequences=2, frames=40, seed=3, occlusion="long", **SMALL)
    generate(cfg, tmp_path / "a")
    generate(cfg, tmp_path / "b")
    generate(SynthConfig(sequences=2, frames=40, seed=4, occlusion="long", **SMALL), tmp_path / "c")
    generate(SynthConfig(sequences=2, frames=40, seed=3, **SMALL), tmp_path / "normal")
    a, b, c, normal = (_files(tmp_path / k) for k in ("a", "b", "c", "normal"))
    assert a == b
    for name in ("posetrack18/000001_synth.json", "detections/000002_synth.json"):
        assert a[name] != c[name]
        assert a[name] != normal[name]
    made = json.loads(a["synth.json"])
    assert made["config"]["occlusion"] == "long"
    assert all(1 <= len(s["occluders"]) <= 3 for s in made["sequences"])
    plain = json.loads(normal["synth.json"])
    assert plain["config"]["occlusion"] == "normal" and "occluders" not in plain["sequences"][0]


def _same_scene(a, b) -> None:
    assert np.array_equal(a.background, b.background) and np.array_equal(a.camera, b.camera)
    assert len(a.actors) == len(b.actors)
    for x, y, tx, ty in zip(a.actors, b.actors, a.tracks, b.tracks, strict=True):
        for f in fields(x):
            if f.name != "appearance":
                assert getattr(x, f.name) == getattr(y, f.name), f.name
        assert np.array_equal(x.appearance.palette, y.appearance.palette)
        assert all(np.array_equal(getattr(tx, f.name), getattr(ty, f.name)) for f in fields(tx))


def test_normal_occlusion_is_the_scene_as_before() -> None:
    """ "normal" draws nothing more: the scene is the one build_scene draws from the sequence's own
    generator, and a "long" scene shares its background, camera and people's looks."""
    cfg = SynthConfig(frames=30, people=5, seed=9, ignore_regions=0.5, **SMALL)
    for index in range(2):
        normal = make_scene(
            SynthConfig(frames=30, people=5, seed=9, ignore_regions=0.5, occlusion="normal", **SMALL), index
        )
        stage = Stage(320, 180, margin_x=80, margin_y=7)
        before = build_scene(np.random.default_rng([9, index, 0]), stage, 30, 5, 25.0, cfg.resolved().motion)
        _same_scene(normal, before)
        _same_scene(normal, make_scene(cfg, index))
        assert normal.occluders == []
        for t in (0, 29):
            img_a, truth_a = render_frame(normal, t)
            img_b, truth_b = render_frame(before, t)
            assert np.array_equal(img_a, img_b)
            assert [p.track_id for p in truth_a.people] == [p.track_id for p in truth_b.people]
        long = make_scene(
            SynthConfig(frames=30, people=5, seed=9, ignore_regions=0.5, occlusion="long", **SMALL), index
        )
        assert 1 <= len(long.occluders) <= 3
        assert np.array_equal(long.background, normal.background) and np.array_equal(long.camera, normal.camera)
        for a, b in zip(long.actors, normal.actors, strict=True):
            assert np.array_equal(a.appearance.palette, b.appearance.palette) and a.size == b.size


def test_bad_occlusion_is_a_clean_error(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(HrtrackError, match="unknown occlusion 'sometimes' \\(use normal, long\\)"):
        SynthConfig(occlusion="sometimes").resolved()
    world = tmp_path / "world"
    world.mkdir()
    assert_clean_error(world, ["synth", "--occlusion", "sometimes", "--out", str(world / "s")], "--occlusion", capfd)
    assert_clean_error(world, ["bench", "synth", "--occlusion", "LONG"], "--occlusion", capfd)
    assert build_parser().parse_args(["bench", "synth", "--occlusion", "long"]).occlusion == "long"
    assert build_parser().parse_args(["bench", "synth"]).occlusion == "normal"


def test_cli_writes_a_long_set(tmp_path: Path) -> None:
    out = tmp_path / "long"
    argv = [
        "synth",
        "--occlusion",
        "long",
        "--sequences",
        "1",
        "--frames",
        "20",
        "--size",
        "320x180",
        "--out",
        str(out),
    ]
    assert main(argv) == 0
    made = json.loads((out / "synth.json").read_text())
    assert made["config"]["occlusion"] == "long" and made["config"]["width"] == 320
    assert len(list((out / "images" / "000001_synth").glob("*.jpg"))) == 20
    assert (out / "videos" / "000001_synth.mp4").is_file()
    assert (out / "posetrack18" / "000001_synth.json").is_file()


def test_bench_synth_generates_with_the_occlusion(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import tracker.bench.synthetic as bench

    made: list[SynthConfig] = []

    class StopError(Exception):
        pass

    def fake_generate(config: SynthConfig, *args: object, **kwargs: object) -> None:
        made.append(config)
        raise StopError

    monkeypatch.setattr(bench, "demo_estimator", lambda *args, **kwargs: None)
    monkeypatch.setattr(bench, "generate", fake_generate)
    args = build_parser().parse_args(["bench", "synth", "--occlusion", "long", "--data", str(tmp_path)])
    with pytest.raises(StopError):
        bench.run_bench_synth(args)
    assert made[0].occlusion == "long" and made[0].seed == 3000


def _behind_occluder(scene, truth, p) -> bool:
    """Whether most of the person's box is covered by the boxes of occluders nearer than them."""
    box = p.box
    area = float(np.prod(box[2:] - box[:2]))
    covered = 0.0
    for o in scene.occluders:
        if o.z >= p.depth:
            continue
        ob = o.box(truth.camera)
        lo, hi = np.maximum(box[:2], ob[:2]), np.minimum(box[2:], ob[2:])
        covered += float(np.prod(np.clip(hi - lo, 0, None)))
    return covered > 0.5 * area


def hide_events(cfg: SynthConfig, index: int) -> list[tuple[int, int, int, str]]:
    """(track id, first hidden frame, first frame seen again, cause) of every time a person who was in
    the PoseTrack GT (some visible joint) is missing from it and comes back, with its main cause:
    "off-screen" (no joint in the image), "occluder" (behind a static occluder) or "person"."""
    scene = make_scene(cfg, index)
    truths = [truth for _, truth in render_sequence(scene)]
    seq = posetrack_sequence("x", truths, 1, cfg.width, cfg.height)
    ids = [a.track_id for a in scene.actors]
    present = {i: [any(q.track_id == i for q in f.people) for f in seq.frames] for i in ids}
    events = []
    for i in ids:
        seen, t = present[i], 1
        while t < len(seen):
            if seen[t - 1] and not seen[t]:
                end = t
                while end < len(seen) and not seen[end]:
                    end += 1
                if end < len(seen):
                    causes = []
                    for u in range(t, end):
                        p = next((q for q in truths[u].people if q.track_id == i), None)
                        if p is None or not p.in_image.any():
                            causes.append("off-screen")
                        else:
                            causes.append("occluder" if _behind_occluder(scene, truths[u], p) else "person")
                    events.append((i, t, end, max(set(causes), key=causes.count)))
                t = end
            t += 1
    return events


def test_people_vanish_for_long_and_come_back_with_their_id() -> None:
    """Over 3 sequences x 150 frames, people are missing from the GT for 0.5-3 s behind an occluder and
    out of the frame, and come back (in the GT, with the id they had)."""
    cfg = SynthConfig(sequences=3, frames=150, seed=0, occlusion="long", **SMALL)
    events = [e for index in range(3) for e in hide_events(cfg, index)]
    long_ones = {cause for _, start, end, cause in events if 0.5 <= (end - start) / cfg.fps <= 3.0}
    assert {"occluder", "off-screen"} <= long_ones, events


def test_a_person_behind_an_occluder_is_hidden() -> None:
    cfg = SynthConfig(frames=1, people=2, seed=1, occlusion="long", **SMALL)
    scene = make_scene(cfg, 0)
    o = scene.occluders[0]
    x0, _, x1, _ = o.box()
    scene.camera[0, 0] = np.clip(round((x0 + x1 - cfg.width) / 2), 0, 160)  # the occluder in the middle
    scene.tracks[0].x[0] = -10_000.0  # the other person out of the way
    tr = scene.tracks[1]

    def person(z: float, x: float):
        tr.z[0], tr.x[0] = z, x
        image, truth = render_frame(scene, 0)
        return image, next(p for p in truth.people if p.track_id == 1)

    image, behind = person(min(1.0, o.z + 0.4), (x0 + x1) / 2)
    assert behind.in_image.all() and not behind.visible.any()
    assert behind.visible_fraction < 0.05
    assert posetrack_person(behind, cfg.width, cfg.height) is None  # not in the PoseTrack GT
    # the occluder is drawn over them, exactly as on the canvas
    bx0, by0, bx1, by1 = o.box(scene.camera[0]).astype(int)
    ix0, iy0, ix1, iy1 = max(bx0, 0), max(by0, 0), min(bx1, cfg.width), min(by1, cfg.height)
    inner = (slice(iy0 - by0, iy1 - by0), slice(ix0 - bx0, ix1 - bx0))
    mask = o.mask[inner]
    assert mask.sum() > 1000
    assert np.array_equal(image[iy0:iy1, ix0:ix1][mask], o.patch[inner][mask])
    # at its edge: partly hidden
    _, edge = person(min(1.0, o.z + 0.4), x1)
    assert 0.05 < edge.visible_fraction < 0.95 and edge.visible.any() and not edge.visible[edge.in_image].all()
    # in front of it: all seen
    _, front = person(max(0.0, o.z - 0.1), (x0 + x1) / 2)
    assert front.visible_fraction == 1.0 and front.in_image.all()
    assert front.visible[5:].all()


def test_occluders_move_with_the_background() -> None:
    """Their texture is fixed on the canvas: optical flow over an occluder is the camera's pan."""
    cfg = SynthConfig(frames=60, people=0, seed=5, occlusion="long", **SMALL)
    scene = make_scene(cfg, 0)
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    checked = 0
    for t in range(59):
        step = scene.camera[t + 1] - scene.camera[t]
        if abs(step[0]) < 1:
            continue
        img0, _ = render_frame(scene, t)
        img1, _ = render_frame(scene, t + 1)
        flow = dis.calc(cv2.cvtColor(img0, cv2.COLOR_BGR2GRAY), cv2.cvtColor(img1, cv2.COLOR_BGR2GRAY), None)
        for o in scene.occluders:
            x0, y0, x1, y1 = o.box(scene.camera[t]).astype(int)
            x0, y0, x1, y1 = max(x0, 0) + 4, max(y0, 0) + 4, min(x1, cfg.width) - 4, min(y1, cfg.height) - 4
            if x1 - x0 < 16 or y1 - y0 < 16:
                continue
            dx, dy = np.median(flow[y0:y1, x0:x1].reshape(-1, 2), axis=0)
            assert dx == pytest.approx(-step[0], abs=0.75) and dy == pytest.approx(-step[1], abs=0.75)
            checked += 1
        if checked >= 3:
            break
    assert checked
