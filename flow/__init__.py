"""Optical flow between consecutive frames.

``make_flow(spec)`` builds a flow method from a command-line spec:

* ``dis`` / ``dis:PRESET`` — OpenCV DIS (default ``medium``; ``ultrafast``, ``fast``);
* ``farneback`` — OpenCV Farneback;
* ``ptlflow:MODEL:CHECKPOINT[:iters=N]`` — a ptlflow model (optional extra). CHECKPOINT is a local
  file (a ptlflow checkpoint, or a plain or ``module.``-prefixed state_dict such as the official RAFT
  weights), a ptlflow checkpoint name (e.g. ``things``) or ``none`` (random weights). ``KEY=VALUE``
  options follow the checkpoint, separated by ``:``; the one option is ``iters=N`` (1 to 100), the
  refinement iterations of RAFT-like models. E.g. ``ptlflow:raft_small:raft-small.pth:iters=12``.
  A path containing ``:`` is not supported;
* ``none`` — no flow (disables box propagation and flow similarity).

Each returns ``(H,W,2)`` float32 flow from the previous frame to the next, computed at a working
resolution whose longer side is at most ``max_side`` pixels and rescaled to the frame size.
"""

from __future__ import annotations

from flow.base import FlowMethod, ScaledFlow, move_points, sample_flow
from flow.opencv import DisFlow, FarnebackFlow
from pose.errors import HrtrackError

__all__ = [
    "DisFlow",
    "FarnebackFlow",
    "FlowMethod",
    "ScaledFlow",
    "make_flow",
    "move_points",
    "parse_ptlflow_spec",
    "sample_flow",
]

PTLFLOW_USAGE = "ptlflow:MODEL:CHECKPOINT[:iters=N], e.g. ptlflow:raft_small:things:iters=12"
MAX_ITERS = 100


def parse_ptlflow_spec(rest: str) -> tuple[str, str | None, dict[str, int]]:
    """``MODEL[:CHECKPOINT[:KEY=VALUE]...]``, the part of a spec after ``ptlflow:``, as (model,
    checkpoint or None, options). The one option is ``iters`` (an integer from 1 to 100). Checks the
    form only (no import of ptlflow); each problem is a one-line :class:`HrtrackError`."""
    model, *parts = rest.split(":")
    if not model:
        raise HrtrackError(f"ptlflow flow spec is {PTLFLOW_USAGE}")
    checkpoint = parts[0] if parts else None
    if checkpoint is not None and checkpoint.partition("=")[0] == "iters":
        raise HrtrackError(f"ptlflow:{model}: the checkpoint comes before the options: {PTLFLOW_USAGE}")
    options: dict[str, int] = {}
    for option in parts[1:]:
        key, eq, value = option.partition("=")
        if key != "iters" or not eq:
            raise HrtrackError(f"unknown ptlflow option {option!r} after the checkpoint; the one option is iters=N")
        if key in options:
            raise HrtrackError(f"ptlflow option {key} given twice")
        if not (value.isascii() and value.isdigit() and 1 <= int(value) <= MAX_ITERS):
            raise HrtrackError(f"ptlflow option {option!r}: iters must be an integer from 1 to {MAX_ITERS}")
        options[key] = int(value)
    return model, checkpoint or None, options


def make_flow(spec: str, max_side: int | None = 512, device: str = "cpu") -> ScaledFlow | None:
    """A flow method from its spec (see the module docstring); None for ``none``."""
    kind, _, rest = spec.partition(":")
    if kind == "none":
        return None
    if kind == "dis":
        return ScaledFlow(DisFlow(rest or "medium"), max_side)
    if kind == "farneback":
        return ScaledFlow(FarnebackFlow(), max_side)
    if kind == "ptlflow":
        from flow.ptlflow_flow import PtlflowFlow

        model, checkpoint, options = parse_ptlflow_spec(rest)
        return ScaledFlow(PtlflowFlow(model, checkpoint, device, iters=options.get("iters")), max_side)
    raise HrtrackError(f"unknown flow {spec!r}: use dis[:PRESET], farneback, {PTLFLOW_USAGE} or none")
