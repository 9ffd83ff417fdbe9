"""Every choice of a tracking run, in one typed config: :class:`TrackConfig`.

The fields are the options of ``hrtrack track`` (same names with ``_``, same defaults, same checks:
a bad value is the CLI's one-line :class:`pose.options.UsageError` naming the option). Torch-free.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from pose.options import (
    PROBABILITY,
    UsageError,
    arch_spec,
    backend_name,
    check_choice,
    check_option,
    device_type,
    existing,
    number,
    size_spec,
)
from pose.precision import PRECISIONS
from pose.zoo import DEFAULT_DETECTOR
from tracker.options import ASSOCIATIONS, LAYOUTS, det_size, detector_spec, flow_spec, pose_weights

FORMATS = ("posetrack17", "posetrack18")


@dataclass(frozen=True)
class TrackConfig:
    """How a source is tracked and written.

    Models (loaded once per :class:`tracker.Tracker`):
      weights: zoo pose model name, HRNet checkpoint, or network file (.onnx, OpenVINO .xml); None:
        the zoo's default for the device. arch, input_size (H, W), keypoint_layout (coco or
        posetrack18): implied by a zoo model or a network file.
      detector: zoo detector, ``onnx:PATH``, ``json:PATH``, ``gt:ANNOTATION``, ``gt`` (an annotation
        source's own boxes) or ``hog``; det_threshold and det_size (ONNX input's longer side, a
        multiple of 32; None: the frame's, 320-640).
      flow: ``dis[:PRESET]``, ``farneback``, ``ptlflow:MODEL:CKPT[:iters=N]`` or ``none``; computed at
        flow_max_side (longer side).
      device (auto, cpu, cuda[:N]), backend (auto, torch, onnxruntime, openvino), batch_size (crops
      per network batch), flip_test, precision (auto, f32, bf16: :mod:`pose.precision`), compile.
    Frames: images_root (of an annotation's image names), start, frames (None: to the end).
    Pipeline: propagate (flow-propagated boxes), box_nms (IoU unifying boxes), pose_nms (OKS after
      estimation, None: off), ahead (frames decoded, detected and flowed in threads ahead).
    Association (FlowTrack): assoc (flow-oks, oks, iou), queue (frames of past poses flow-OKS
      uses), track_buffer (seconds a lost track waits for re-identification; 0: none), two_stage
      (confident poses first), merge (a propagated pose and a detection of one person folded),
      track_score (person score that starts a track).
    PoseTrack files: min_box_score and min_joint_score (what is written), formats.
    """

    weights: str | None = None
    arch: str | None = None
    input_size: tuple[int, int] | None = None
    keypoint_layout: str | None = None
    detector: str = DEFAULT_DETECTOR
    det_threshold: float | None = None
    det_size: int | None = None
    flow: str = "dis"
    flow_max_side: int = 512
    device: str = "auto"
    backend: str = "auto"
    batch_size: int = 32
    flip_test: bool = True
    precision: str = "auto"
    compile: bool = False
    images_root: str | None = None
    start: int = 0
    frames: int | None = None
    propagate: bool = True
    box_nms: float = 0.5
    pose_nms: float | None = 0.9
    ahead: int = 4
    assoc: str = "flow-oks"
    queue: int = 5
    track_buffer: float = 3.0
    two_stage: bool = True
    merge: bool = True
    track_score: float = 0.45
    min_box_score: float = 0.4
    min_joint_score: float = 0.4
    formats: tuple[str, ...] = FORMATS

    def __post_init__(self) -> None:
        put = object.__setattr__  # frozen: the checked values replace the given ones here only
        if isinstance(self.input_size, (tuple, list)) and len(self.input_size) == 2:
            h, w = self.input_size
            put(self, "input_size", check_option("--input-size", size_spec, f"{h}x{w}"))
        elif self.input_size is not None:
            raise UsageError(f"--input-size: expected (height, width), got {self.input_size!r}")
        formats = (self.formats,) if isinstance(self.formats, str) else tuple(self.formats)
        if not formats or any(f not in FORMATS for f in formats):
            raise UsageError(f"--format: use one or more of {', '.join(FORMATS)}, got {self.formats!r}")
        put(self, "formats", tuple(dict.fromkeys(formats)))  # each once, in the given order
        if self.pose_nms == 0:  # as on the command line: 0 turns the pose NMS off
            put(self, "pose_nms", None)
        for name, (option, parse) in CHECKS.items():
            value = getattr(self, name)
            if value is None and name not in OPTIONAL:
                raise UsageError(f"{option}: a value is needed, got None")
            if value is not None:
                put(self, name, check_option(option, parse, value))
        for name in ("flip_test", "compile", "propagate", "two_stage", "merge"):
            if not isinstance(getattr(self, name), bool):
                raise UsageError(f"{name}: expected True or False, got {getattr(self, name)!r}")
        check_choice("--assoc", self.assoc, ASSOCIATIONS)
        check_choice("--precision", self.precision, PRECISIONS)
        if self.keypoint_layout is not None:
            check_choice("--keypoint-layout", self.keypoint_layout, LAYOUTS)

    def replace(self, **changes: object) -> TrackConfig:
        """A copy with ``changes`` (checked like the original)."""
        unknown = set(changes) - {f.name for f in fields(self)}
        if unknown:
            raise UsageError(f"{sorted(unknown)[0]}: not a tracking option (see tracker.TrackConfig)")
        return TrackConfig(**(asdict(self) | changes))


#: The fields that may be None (their option's default is "unset").
OPTIONAL = {"weights", "arch", "images_root", "det_threshold", "det_size", "frames", "pose_nms"}

#: field -> (the option it is on the command line, the option's type, which checks it)
CHECKS = {
    "weights": ("--weights", pose_weights),
    "images_root": ("--images-root", existing("folder")),
    "arch": ("--arch", arch_spec),
    "detector": ("--detector", detector_spec),
    "det_threshold": ("--det-threshold", PROBABILITY),
    "det_size": ("--det-size", det_size),
    "flow": ("--flow", flow_spec),
    "flow_max_side": ("--flow-max-side", number(int, 16, 8192)),
    "device": ("--device", device_type),
    "backend": ("--backend", backend_name),
    "batch_size": ("--batch-size", number(int, 1, 4096)),
    "start": ("--start", number(int, 0, 10**9)),
    "frames": ("--frames", number(int, 1, 10**9)),
    "box_nms": ("--box-nms", PROBABILITY),
    "pose_nms": ("--pose-nms", PROBABILITY),
    "ahead": ("--ahead", number(int, 0, 64)),
    "queue": ("--queue", number(int, 1, 10000)),
    "track_buffer": ("--track-buffer", number(float, 0.0, 3600.0)),
    "track_score": ("--track-score", PROBABILITY),
    "min_box_score": ("--min-box-score", PROBABILITY),
    "min_joint_score": ("--min-joint-score", PROBABILITY),
}
