"""Writing a synthetic set: frames/video, PoseTrack 2017/2018 GT, COCO keypoints, detections.

Layout under the output folder, per sequence NAME (``000001_synth``, ...)::

    images/NAME/000000.jpg ...     frames (image names in every json are relative to OUT)
    videos/NAME.mp4                the same frames as a video
    posetrack18/NAME.json          PoseTrack 2018 GT        (eval.posetrack.write_sequence)
    posetrack17/NAME.json          PoseTrack 2017 GT
    coco/NAME.json                 COCO keypoints (every frame; v=2 visible, 1 occluded, 0 outside)
    detections/NAME.json           simulated detector output, COCO results format
    synth.json                     the resolved configuration (``occlusion`` included) and per-sequence
                                   counts (and the occluders of a set with long occlusions)

So ``hrtrack track OUT/posetrack17/NAME.json --images-root OUT --detector json:OUT/detections/NAME.json``
runs the full pipeline and ``hrtrack eval OUT/posetrack17 PRED`` scores it.

PoseTrack GT follows the datasets' conventions: labelled frames (every ``label_every``-th) list
each person with at least one visible joint, and only the visible joints (in the image, not
covered by a nearer person; face points not behind the own head), with ``is_visible`` 1; the
head box is the square of :meth:`~tracker.synth.body.BodyPose.head_box`; the person box is the
silhouette's box. Unlabelled frames carry no people. Detections: each detectable person
(unoccluded share >= ``det_min_visible``) gets its silhouette box, jittered, unless missed;
false positives are person-shaped boxes away from everyone. The entries key frames by file name
(``image_id`` and ``file_name`` both hold the image's relative name), which is what
:class:`tracker.detectors.precomputed.JsonDetections` looks up for PoseTrack image lists.

Determinism: sequence i draws its scene from ``numpy.random.default_rng([seed, i, 0])``, its
detections from ``[seed, i, 1]`` and, with ``occlusion="long"``, its occluders and occlusion
scripts from ``[seed, i, 2]`` (:mod:`tracker.synth.occlusion`), so equal configs give
byte-identical json and images, detection settings never change the pictures, and a "normal"
set is what it was before long occlusions existed.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from eval.posetrack import JOINT_NAMES, NUM_JOINTS, Frame, Person, Sequence, write_sequence
from pose.errors import HrtrackError
from pose.files import OutputPlan, atomic_write_json
from pose.poses import box_iou
from tracker.video import VideoSink

from .body import COCO_NAMES, COCO_SKELETON, POINT_NAMES
from .config import SynthConfig
from .occlusion import add_long_occlusions
from .scene import FrameTruth, PersonTruth, Scene, Stage, build_scene, render_frame

#: For each of the 15 poseval joints, its row in the 19 body points.
POINTS_OF_JOINTS = np.array([POINT_NAMES.index(name) for name in JOINT_NAMES])
assert len(POINTS_OF_JOINTS) == NUM_JOINTS
MISS_RUN = 3.0  # mean length (frames) of a run of detector misses


def sequence_name(index: int) -> str:
    """File stem of sequence ``index`` (0-based): ``000001_synth`` ... (PoseTrack-style, numeric video id)."""
    return f"{index + 1:06d}_synth"


def image_name(name: str, t: int) -> str:
    """Image path of frame t, relative to the output folder."""
    return f"images/{name}/{t:06d}.jpg"


def make_scene(config: SynthConfig, index: int) -> Scene:
    """The scene of sequence ``index`` (deterministic by ``config.seed``)."""
    cfg = config.resolved()
    stage = Stage(cfg.width, cfg.height, margin_x=round(0.25 * cfg.width), margin_y=round(0.04 * cfg.height))
    rng = np.random.default_rng([cfg.seed, index, 0])
    scene = build_scene(rng, stage, cfg.frames, int(cfg.people or 0), cfg.fps, cfg.motion)
    if cfg.occlusion == "long":
        scene = add_long_occlusions(scene, np.random.default_rng([cfg.seed, index, 2]), cfg.fps, cfg.motion)
    return scene


def render_sequence(scene: Scene) -> Iterator[tuple[np.ndarray, FrameTruth]]:
    """Every frame of ``scene`` with its ground truth, in order."""
    for t in range(scene.n_frames):
        yield render_frame(scene, t)


# ----------------------------------------------------------------------------- records


def _r(values: np.ndarray | float, digits: int = 2) -> np.ndarray:
    return np.round(np.asarray(values, dtype=float), digits)


def image_points(p: PersonTruth, width: int, height: int) -> np.ndarray:
    """(19, 2) points rounded to 0.01 px; in-image points stay inside after rounding."""
    xy = _r(p.points)
    return np.where(p.in_image[:, None], np.clip(xy, 0.0, (width - 0.01, height - 0.01)), xy)


def posetrack_person(p: PersonTruth, width: int, height: int) -> Person | None:
    """The PoseTrack GT record of a person (visible joints only); None without any visible joint."""
    present = p.visible[POINTS_OF_JOINTS]
    if not present.any():
        return None
    joints = np.where(present[:, None], image_points(p, width, height)[POINTS_OF_JOINTS], 0.0)
    return Person(
        track_id=p.track_id,
        joints=joints,
        present=present,
        scores=np.full(NUM_JOINTS, np.nan),
        visible=np.where(present, 1, -1).astype(np.int64),
        head_box=_r(p.head_box),
        box=_r(p.box),
    )


def posetrack_sequence(name: str, truths: list[FrameTruth], label_every: int, width: int, height: int) -> Sequence:
    """The PoseTrack GT sequence of a ``width`` x ``height`` video (labelled frames every
    ``label_every``, with their ignore regions)."""
    frames = []
    for ft in truths:
        labelled = ft.index % label_every == 0
        people = [q for p in ft.people if (q := posetrack_person(p, width, height)) is not None] if labelled else []
        regions = [_r(poly, 1) for poly in ft.ignore_regions] if labelled else []
        frames.append(
            Frame(image=image_name(name, ft.index), is_labeled=labelled, ignore_regions=regions, people=people)
        )
    return Sequence(name=name, frames=frames, vid_id=name.split("_")[0])


def _xywh(box: np.ndarray) -> list[float]:
    x1, y1, x2, y2 = (float(v) for v in box)
    return [round(x1, 2), round(y1, 2), round(x2 - x1, 2), round(y2 - y1, 2)]


def coco_image_id(index: int, t: int) -> int:
    """COCO image id of frame t of sequence ``index``: PoseTrack 2018's scheme ("1" + video id + frame)."""
    return int(f"1{index + 1:06d}{t:04d}")


def coco_document(name: str, index: int, truths: list[FrameTruth], width: int, height: int) -> dict:
    """COCO keypoint annotations of every frame: one annotation per person whose silhouette is in
    the image (keypoints v=2 visible, v=1 in the image but occluded, 0 outside: x=y=0), plus an
    ``iscrowd`` annotation for each ignore region. Extra keys: ``track_id``, ``visible_fraction``."""
    images, annotations = [], []
    for ft in truths:
        image_id = coco_image_id(index, ft.index)
        images.append(
            {
                "id": image_id,
                "file_name": image_name(name, ft.index),
                "width": width,
                "height": height,
                "frame_id": ft.index,
                "vid_id": name.split("_")[0],
            }
        )
        for p in ft.people:
            kps = np.zeros((17, 3))
            v = np.where(p.visible[:17], 2, np.where(p.in_image[:17], 1, 0))
            kps[:, :2] = np.where(v[:, None] > 0, image_points(p, width, height)[:17], 0.0)
            kps[:, 2] = v
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": image_id,
                    "category_id": 1,
                    "iscrowd": 0,
                    "track_id": p.track_id,
                    "keypoints": [float(x) if i % 3 < 2 else int(x) for i, x in enumerate(kps.ravel())],
                    "num_keypoints": int((v > 0).sum()),
                    "bbox": _xywh(p.box),
                    "area": float(p.area),
                    "visible_fraction": round(float(p.visible_fraction), 3),
                }
            )
        for poly in ft.ignore_regions:
            clipped = np.stack([poly[:, 0].clip(0, width), poly[:, 1].clip(0, height)], axis=1)
            area = float(cv2.contourArea(clipped.astype(np.float32)))
            if area <= 0:
                continue
            lo, hi = clipped.min(0), clipped.max(0)
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": image_id,
                    "category_id": 1,
                    "iscrowd": 1,
                    "segmentation": [[round(float(c), 1) for c in clipped.ravel()]],
                    "keypoints": [0] * 51,
                    "num_keypoints": 0,
                    "bbox": _xywh(np.concatenate([lo, hi])),
                    "area": round(area, 1),
                }
            )
    categories = [
        {"supercategory": "person", "id": 1, "name": "person", "keypoints": list(COCO_NAMES), "skeleton": COCO_SKELETON}
    ]
    return {"images": images, "annotations": annotations, "categories": categories}


@dataclass
class DetectionStats:
    """Counts of a simulated detection file: detectable person-frames, hits, misses, false positives."""

    detectable: int = 0
    hits: int = 0
    misses: int = 0
    false_positives: int = 0


def simulate_detections(
    name: str, truths: list[FrameTruth], cfg: SynthConfig, rng: np.random.Generator
) -> tuple[list[dict], DetectionStats]:
    """COCO-results detections of every frame (see the module docstring) and their counts.

    Misses follow a two-state chain per person (mean run :data:`MISS_RUN` frames) whose
    long-run miss share is ``det_miss``; false positives per frame are Poisson(``det_fp``)."""
    width, height = cfg.width, cfg.height
    stay = 1.0 - 1.0 / MISS_RUN
    enter = 1.0 if cfg.det_miss >= 1 else min(1.0, cfg.det_miss * (1 - stay) / (1 - cfg.det_miss))
    missed: dict[int, bool] = {}
    stats = DetectionStats()
    out: list[dict] = []
    lo_tp, hi_tp = cfg.det_tp_score
    lo_fp, hi_fp = cfg.det_fp_score
    for ft in truths:
        file_name = image_name(name, ft.index)
        entries = []
        boxes = np.array([p.box for p in ft.people]).reshape(-1, 4)
        for p in ft.people:
            w, h = p.box[2] - p.box[0], p.box[3] - p.box[1]
            if p.visible_fraction < cfg.det_min_visible or min(w, h) < 4:
                continue
            stats.detectable += 1
            was = missed.get(p.track_id)
            now = bool(rng.random() < cfg.det_miss) if was is None else bool(rng.random() < (stay if was else enter))
            missed[p.track_id] = now
            if now:
                stats.misses += 1
                continue
            stats.hits += 1
            centre = (p.box[:2] + p.box[2:]) / 2 + rng.normal(0.0, cfg.det_jitter, 2) * (w, h)
            size = np.array([w, h]) * np.exp(rng.normal(0.0, cfg.det_jitter, 2))
            box = np.concatenate([centre - size / 2, centre + size / 2]).clip(0, [width, height, width, height])
            score = rng.uniform(lo_tp, hi_tp) * (0.8 + 0.2 * p.visible_fraction)
            entries.append((box, score))
        for _ in range(int(rng.poisson(cfg.det_fp))):
            for _try in range(10):
                bh = height * rng.uniform(0.15, 0.6)
                bw = bh * rng.uniform(0.3, 0.55)
                x, y = rng.uniform(0, width - bw), rng.uniform(0, height - bh)
                box = np.array([x, y, x + bw, y + bh])
                if (box_iou(box, boxes) <= 0.3).all():
                    entries.append((box, rng.uniform(lo_fp, hi_fp)))
                    stats.false_positives += 1
                    break
        entries.sort(key=lambda e: -e[1])
        for box, score in entries:
            out.append(
                {
                    "image_id": file_name,
                    "file_name": file_name,
                    "category_id": 1,
                    "bbox": _xywh(box),
                    "score": round(float(score), 4),
                }
            )
    return out, stats


# ----------------------------------------------------------------------------- files


def generate(
    config: SynthConfig, out_dir: str | os.PathLike, progress: bool = False, option: str = "--out"
) -> list[Path]:
    """Generate ``config.sequences`` sequences under ``out_dir`` (layout in the module docstring).

    Returns the PoseTrack 2018 GT file of each sequence (the 2017 file has the same name under
    ``posetrack17/``). ``progress`` shows a tqdm bar over all frames; ``option`` names ``out_dir`` in
    messages. Every file is planned first
    and written under a temp name (:class:`pose.files.OutputPlan`): the set appears whole at the
    end, or, on a failure or an interruption, not at all (earlier files are left as they were)."""
    cfg = config.resolved()
    out = Path(out_dir)
    names = [sequence_name(index) for index in range(cfg.sequences)]
    with OutputPlan() as plan:
        for name in names:
            if cfg.write_video:
                plan.add(out / "videos" / f"{name}.mp4", "--out")
            if cfg.write_frames:
                plan.add(out / "images" / name, "--out", folder=True)
            for kind in ("posetrack18", "posetrack17", "coco", "detections"):
                plan.add(out / kind / f"{name}.json", "--out")
        plan.add(out / "synth.json", "--out")
        _refuse_mixing(out, plan, option)
        return _generate(cfg, out, names, plan, progress)


def _refuse_mixing(out: Path, plan: OutputPlan, option: str) -> None:
    """An earlier set in ``out`` is replaced only whole: a file of it that this set would not
    replace (another sequence, a video of a set now written without videos) would mix two sets."""
    planned = {Path(os.path.abspath(t.path)) for t in plan.targets.values()}
    for kind in ("videos", "images", "posetrack18", "posetrack17", "coco", "detections"):
        folder = out / kind
        if not folder.is_dir():
            continue
        stale = sorted(
            p for p in folder.iterdir() if not p.name.startswith(".") and Path(os.path.abspath(p)) not in planned
        )
        if stale:
            raise HrtrackError(
                f"{option} {out}: holds {len(stale)} file(s) of an earlier set that this one would not replace "
                f"(e.g. {stale[0]}): remove them or choose another folder (one folder, one set)"
            )


def _generate(cfg: SynthConfig, out: Path, names: list[str], plan: OutputPlan, progress: bool) -> list[Path]:
    with tqdm(
        total=cfg.sequences * cfg.frames, unit="frame", disable=not progress, desc="synth", dynamic_ncols=True
    ) as bar:
        return _write_set(cfg, out, names, plan, bar)


def _write_set(cfg: SynthConfig, out: Path, names: list[str], plan: OutputPlan, bar: tqdm) -> list[Path]:
    written: list[Path] = []
    summary = []
    for index, name in enumerate(names):
        scene = make_scene(cfg, index)
        truths = []
        video = None
        if cfg.write_video:
            path = out / "videos" / f"{name}.mp4"
            video = VideoSink(path, cfg.width, cfg.height, cfg.fps, temp=plan.temp(path))
            video.open()
        frames_dir = plan.temp(out / "images" / name) if cfg.write_frames else None
        ok = False
        try:
            for image, truth in render_sequence(scene):
                truths.append(truth)
                if frames_dir is not None:
                    path = frames_dir / Path(image_name(name, truth.index)).name
                    if not cv2.imwrite(str(path), image, [cv2.IMWRITE_JPEG_QUALITY, cfg.jpeg_quality]):
                        raise HrtrackError(f"{out / image_name(name, truth.index)}: cannot write the frame")
                if video is not None:
                    video.write(image)
                bar.update(1)
            ok = True
        finally:
            if video is not None:
                video.close() if ok else video.abort()
        seq = posetrack_sequence(name, truths, cfg.label_every, cfg.width, cfg.height)
        write_sequence(seq, plan.temp(out / "posetrack18" / f"{name}.json"), "2018")
        write_sequence(seq, plan.temp(out / "posetrack17" / f"{name}.json"), "2017")
        written.append(out / "posetrack18" / f"{name}.json")
        atomic_write_json(
            coco_document(name, index, truths, cfg.width, cfg.height),
            plan.temp(out / "coco" / f"{name}.json"),
            compact=True,
        )
        dets, stats = simulate_detections(name, truths, cfg, np.random.default_rng([cfg.seed, index, 1]))
        atomic_write_json(dets, plan.temp(out / "detections" / f"{name}.json"), compact=True)
        summary.append(
            {
                "name": name,
                "frames": cfg.frames,
                "labelled_frames": sum(f.is_labeled for f in seq.frames),
                "people": len(scene.actors),
                "poses": sum(len(f.people) for f in seq.frames),
                "ignore_regions": len(scene.ignore_regions),
                "detections": asdict(stats),
            }
        )
        if cfg.occlusion != "normal":
            summary[-1]["occluders"] = [o.kind for o in scene.occluders]
    bar.close()
    atomic_write_json(
        {"generator": "hrtrack synth", "config": asdict(cfg), "sequences": summary},
        plan.temp(out / "synth.json"),
        compact=True,
    )
    return written


# ----------------------------------------------------------------------------- command line


def run_synth(args: argparse.Namespace) -> int:
    """Run ``hrtrack synth`` from parsed options; returns the exit status."""
    width, height = args.size
    cfg = SynthConfig(
        sequences=args.sequences,
        frames=args.frames,
        people=args.people,
        width=width,
        height=height,
        fps=args.fps,
        seed=args.seed,
        difficulty=args.difficulty,
        label_every=args.label_every,
        write_video=not args.no_video,
        write_frames=not args.no_frames,
        ignore_regions=args.ignore_regions,
        det_jitter=args.det_jitter,
        det_miss=args.det_miss,
        det_fp=args.det_fp,
        occlusion=args.occlusion,
    )
    files = generate(cfg, args.out, progress=not args.quiet)
    if not args.quiet:
        out = Path(args.out)
        print(f"{len(files)} sequences x {cfg.frames} frames -> {out}")
        print(f"  ground truth: {out / 'posetrack18'}, {out / 'posetrack17'}, {out / 'coco'}")
        print(f"  detections:   {out / 'detections'}")
        if cfg.write_frames:
            name = files[0].stem
            print(
                f"  e.g. hrtrack track {out / 'posetrack17' / (name + '.json')} --images-root {out} "
                f"--detector json:{out / 'detections' / (name + '.json')}"
            )
    return 0
