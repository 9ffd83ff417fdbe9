"""``hrtrack bench track``: per-stage time of the tracking pipeline on a real video.

The pose network gets random weights unless ``--weights`` is given (no weights ship here): its
cost depends only on the number of boxes, which the detector decides. With random weights the
person scores are near zero, so no flow-propagated box passes ``propagate_min_score``; the
propagation stage is timed all the same (flow, moving joints, NMS). The figure of merit is the
time of everything except the pose network, relative to the pose network (target <= 15 %).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch

from flow import make_flow
from pose.errors import HrtrackError
from tracker.app import load_estimator
from tracker.detectors import make_detector
from tracker.flowtrack import FlowTracker
from tracker.pipeline import PipelineConfig, StageTimer, track
from tracker.video import open_source


def run_track_bench(
    video: str | Path,
    arch: str = "hrnet_w32",
    input_size: tuple[int, int] = (256, 192),
    detector: str = "rtmdet_nano_person",
    flow: str = "dis",
    weights: str | None = None,
    frames: int | None = None,
    device: str = "cpu",
    bf16: bool = False,
    echo: Callable[[str], None] = print,
) -> StageTimer:
    """Track ``video`` and print per-stage ms/frame and the non-pose / pose ratio."""
    video = Path(video)
    if not video.exists():
        raise HrtrackError(f"{video}: video not found")
    source = open_source(video)
    estimator = load_estimator(weights, arch, input_size, device=device, bf16=bf16)
    timer = StageTimer()
    stream = (f for f in source if frames is None or f.index < frames)
    count = 0
    for _ in track(stream, make_detector(detector), estimator, make_flow(flow), FlowTracker(), PipelineConfig(), timer):
        count += 1
    pose = timer.seconds["pose"]
    rest = sum(v for k, v in timer.seconds.items() if k != "pose")
    echo(
        f"hrtrack bench track: {video.name}, {arch} {input_size[0]}x{input_size[1]}{' bf16' if bf16 else ''}, "
        f"detector {detector}, "
        f"flow {flow}, {'weights ' + str(weights) if weights else 'random weights'}, torch threads "
        f"{torch.get_num_threads()}"
    )
    echo(timer.summary())
    per_frame = rest / max(count, 1) * 1e3
    echo(f"everything but the pose network: {per_frame:.1f} ms/frame = {rest / pose:.1%} of the pose network")
    return timer
