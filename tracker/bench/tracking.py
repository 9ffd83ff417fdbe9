"""``hrtrack bench track``: per-stage time and fps of the tracking pipeline on a real video, with
the frame-only stages in turn and overlapped (decode, detect and flow in threads ahead).

The pose network gets random weights unless ``--weights`` is given (no weights ship here): its
cost depends only on the number of boxes, which the detector decides. With random weights the
person scores are near zero, so no flow-propagated box passes ``propagate_min_score``; the
propagation stage is timed all the same (flow, moving joints, NMS). Reported per run: the stage
table, fps on the wall clock, and the share of the work outside the pose network; at the end the
gain of the overlap and what an instant network would leave (the slowest frame-only stage).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch

from pose.errors import HrtrackError
from pose.estimator import PoseEstimator
from pose.external import is_network_file
from tracker.api import Tracker, load_estimator
from tracker.pipeline import StageTimer


def _run(video: Path, frames: int | None, detector: str, flow: str, estimator: object, ahead: int) -> StageTimer:
    tracker = Tracker(estimator, detector, flow, device="cpu", frames=frames, ahead=ahead)
    for _ in tracker.track(video):
        pass
    return tracker.timer


def run_track_bench(
    video: str | Path,
    arch: str = "hrnet_w32",
    input_size: tuple[int, int] = (256, 192),
    detector: str = "rtmdet_nano_person",
    flow: str = "dis",
    weights: str | None = None,
    frames: int | None = None,
    device: str = "cpu",
    precision: str = "auto",
    backend: str = "auto",
    ahead: int = 4,
    echo: Callable[[str], None] = print,
) -> dict[str, StageTimer]:
    """Track ``video`` in turn and overlapped; print both stage tables and the fps gain."""
    video = Path(video)
    if not video.exists():
        raise HrtrackError(f"{video}: video not found")
    if weights and is_network_file(weights):  # a network file (.onnx, OpenVINO .xml): its own size
        estimator = PoseEstimator(Path(weights), backend=backend, precision=precision)
        arch, input_size = Path(weights).name, (estimator.input_h, estimator.input_w)
    else:
        estimator = load_estimator(weights, arch, input_size, device=device, precision=precision, backend=backend)
    echo(
        f"hrtrack bench track: {video.name}, {arch} {input_size[0]}x{input_size[1]}, "
        f"{estimator.choice.describe()}, {estimator.precision}, detector {detector}, flow {flow}, "
        f"{'weights ' + str(weights) if weights else 'random weights'}, torch threads {torch.get_num_threads()}"
    )
    timers = {}
    for label, depth in (("in turn", 0), (f"overlapped (--ahead {ahead})", ahead)):
        timer = timers[label] = _run(video, frames, detector, flow, estimator, depth)
        pose = timer.seconds["pose"]
        rest = sum(v for k, v in timer.seconds.items() if k != "pose")
        echo(f"\n{label}:")
        echo(timer.summary())
        echo(f"work outside the pose network: {rest / timer.frames * 1e3:.1f} ms/frame = {rest / (rest + pose):.0%}")
    serial, overlapped = timers.values()
    fps = [t.frames / t.wall for t in (serial, overlapped)]
    frame_only = max(serial.seconds[s] for s in ("decode", "detect", "flow")) / serial.frames
    echo(
        f"\noverlap: {fps[0]:.2f} -> {fps[1]:.2f} fps ({fps[1] / fps[0] - 1:+.0%}); with an instant pose network "
        f"the slowest frame-only stage would cap it at {1 / frame_only:.0f} fps (more cores or a GPU)"
    )
    return timers
