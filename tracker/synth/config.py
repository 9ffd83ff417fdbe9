"""Configuration of ``hrtrack synth``: one dataclass, three difficulty presets."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

from pose.errors import HrtrackError

from .scene import Motion

#: What a difficulty sets unless the config gives a value: people per video, motion and camera
#: (see :class:`~tracker.synth.scene.Motion`) and the simulated detector's quality.
PRESETS: dict[str, dict[str, object]] = {
    "easy": {
        "people": 3,
        "motion": Motion(speed=0.8, run=0.0, turn=0.1, wave=0.3, pan=1.5, crowd=0.0, depth_spread=1.0),
        "det_jitter": 0.03,
        "det_miss": 0.02,
        "det_fp": 0.05,
    },
    "medium": {
        "people": 5,
        "motion": Motion(speed=1.0, run=0.2, turn=0.3, wave=0.4, pan=4.0, crowd=0.3, depth_spread=0.9),
        "det_jitter": 0.05,
        "det_miss": 0.05,
        "det_fp": 0.2,
    },
    "hard": {
        "people": 8,
        "motion": Motion(speed=1.25, run=0.4, turn=0.5, wave=0.5, pan=8.0, crowd=0.5, depth_spread=0.7),
        "det_jitter": 0.08,
        "det_miss": 0.12,
        "det_fp": 0.5,
    },
}

#: Kinds of occlusion: the ordinary world, or one with static occluders and people scripted to be
#: hidden behind them or out of the frame for 0.5-3 s, or to pass behind each other
#: (:mod:`tracker.synth.occlusion`).
OCCLUSIONS = ("normal", "long")


@dataclass(frozen=True)
class SynthConfig:
    """Parameters of a synthetic set. Fields left None take the ``difficulty`` preset's value.

    ``people``: actors per video (actor 0 stays around the middle, the others enter and leave);
    ``label_every``: every k-th frame is labelled (PoseTrack val style is 4), the others are
    written with ``is_labeled`` false and no people; ``ignore_regions``: probability per
    sequence of a crowd stand whose polygon is an ignore region (its people are not annotated);
    ``det_jitter``: std of the detection box centre shift and log-size change (fraction of the
    box size); ``det_miss``: share of detectable people missed (misses come in runs of about
    3 frames); ``det_fp``: false-positive boxes per frame; ``det_min_visible``: people with a
    smaller unoccluded share of their silhouette are never detected; ``det_tp_score`` /
    ``det_fp_score``: score ranges of true and false detections (the true score also falls with
    occlusion); ``jpeg_quality`` of the frames; ``occlusion``: "normal", or "long" for a set made
    to test identities across long occlusions (1-3 static occluders per video and people scripted
    to disappear behind them or out of the frame for 0.5-3 s and come back, or to pass behind each
    other, see :mod:`tracker.synth.occlusion`; drawn from a generator of their own, so "normal" sets
    are exactly as without the option)."""

    sequences: int = 3
    frames: int = 100
    people: int | None = None
    width: int = 640
    height: int = 360
    fps: float = 25.0
    seed: int = 0
    difficulty: str = "medium"
    label_every: int = 1
    write_video: bool = True
    write_frames: bool = True
    ignore_regions: float | None = None
    det_jitter: float | None = None
    det_miss: float | None = None
    det_fp: float | None = None
    det_min_visible: float = 0.25
    det_tp_score: tuple[float, float] = (0.6, 1.0)
    det_fp_score: tuple[float, float] = (0.05, 0.7)
    jpeg_quality: int = 95
    occlusion: str = "normal"

    def resolved(self) -> SynthConfig:
        """A copy with every None field set from the difficulty preset; checks the values."""
        if self.difficulty not in PRESETS:
            raise HrtrackError(f"unknown difficulty {self.difficulty!r} (use {', '.join(PRESETS)})")
        if self.occlusion not in OCCLUSIONS:
            raise HrtrackError(f"unknown occlusion {self.occlusion!r} (use {', '.join(OCCLUSIONS)})")
        preset = PRESETS[self.difficulty]
        values = {f.name: preset[f.name] for f in fields(self) if getattr(self, f.name) is None and f.name in preset}
        if self.ignore_regions is None:
            values["ignore_regions"] = preset["motion"].crowd  # type: ignore[union-attr]
        cfg = replace(self, **values)
        if cfg.sequences < 1 or cfg.frames < 1 or cfg.frames > 9999:
            raise HrtrackError("need at least 1 sequence and 1..9999 frames")
        if cfg.people < 0:  # type: ignore[operator]
            raise HrtrackError("people must be >= 0")
        if cfg.width < 32 or cfg.height < 32:
            raise HrtrackError(f"frame size {cfg.width}x{cfg.height} is too small (min 32x32)")
        if cfg.label_every < 1:
            raise HrtrackError("label_every must be >= 1")
        if not 0 <= cfg.det_miss <= 1 or cfg.det_fp < 0 or cfg.det_jitter < 0:  # type: ignore[operator]
            raise HrtrackError("det_miss must be in [0, 1]; det_fp and det_jitter >= 0")
        if cfg.fps <= 0:
            raise HrtrackError("fps must be > 0")
        return cfg

    @property
    def motion(self) -> Motion:
        """The difficulty's motion parameters, with this config's crowd probability."""
        base = PRESETS[self.difficulty]["motion"]
        assert isinstance(base, Motion)
        crowd = base.crowd if self.ignore_regions is None else self.ignore_regions
        return replace(base, crowd=crowd)
