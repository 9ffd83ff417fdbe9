"""Writing tracking results: PoseTrack 2017/2018 json and a per-track export.

PoseTrack conversion (17 COCO joints -> 15 poseval joints) lives in :mod:`eval.posetrack`; this
module only filters the results as the paper does before writing (PoseTrack MOTA counts every
submitted joint) and lays out the files. All files are written atomically.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from eval.files import atomic_write_json
from eval.posetrack import Frame as PtFrame
from eval.posetrack import Sequence, people_from_keypoints, write_sequence
from tracker.pipeline import FrameResult

FORMATS = {"posetrack17": "2017", "posetrack18": "2018"}


@dataclass
class OutputFilter:
    """Poses with a person score below ``min_box_score`` and joints below ``min_joint_score``
    are left out of the PoseTrack files (paper: 0.5 and 0.4, tuned on PoseTrack val)."""

    min_box_score: float = 0.5
    min_joint_score: float = 0.4


def to_sequence(
    name: str, results: list[FrameResult], filt: OutputFilter, layout: str = "coco", vid_id: str | None = None
) -> Sequence:
    """A PoseTrack sequence (one frame per result, in order) from tracking results."""
    frames = []
    for r in results:
        keep = r.scores >= filt.min_box_score
        people = people_from_keypoints(
            r.keypoints[keep], r.track_ids[keep], r.boxes[keep], r.scores[keep], layout, filt.min_joint_score
        )
        frames.append(PtFrame(image=r.name, is_labeled=True, people=people))
    return Sequence(name=name, frames=frames, vid_id=vid_id)


def write_posetrack(
    out_dir: Path, name: str, results: list[FrameResult], formats: list[str], filt: OutputFilter, layout: str = "coco"
) -> list[Path]:
    """Write ``out_dir/<format>/<name>.json`` for each format; returns the paths."""
    seq = to_sequence(name, results, filt, layout)
    paths = []
    for fmt in formats:
        paths.append(write_sequence(seq, out_dir / fmt / f"{name}.json", FORMATS[fmt]))
    return paths


def write_tracks(path: Path, results: list[FrameResult], min_box_score: float = 0.0) -> Path:
    """Per-track export: ``{"tracks": {id: [{frame, image, box, score, keypoints}, ...]}}``.

    Boxes are xyxy, keypoints 17 x [x, y, score] in COCO order, all in image pixels.
    """
    tracks: dict[int, list[dict]] = {}
    for r in results:
        for i in np.flatnonzero(r.scores >= min_box_score):
            tracks.setdefault(int(r.track_ids[i]), []).append(
                {
                    "frame": r.index,
                    "image": r.name,
                    "box": [round(float(v), 2) for v in r.boxes[i]],
                    "score": round(float(r.scores[i]), 4),
                    "keypoints": [
                        [round(float(x), 2), round(float(y), 2), round(float(s), 4)] for x, y, s in r.keypoints[i]
                    ],
                }
            )
    obj = {"num_frames": len(results), "tracks": {str(k): v for k, v in sorted(tracks.items())}}
    atomic_write_json(obj, path)
    return path
