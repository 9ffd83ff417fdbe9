"""Optical flow between consecutive frames.

``make_flow(spec)`` builds a flow method from a command-line spec:

* ``dis`` / ``dis:PRESET`` — OpenCV DIS (default ``medium``; ``ultrafast``, ``fast``);
* ``farneback`` — OpenCV Farneback;
* ``ptlflow:MODEL:CHECKPOINT`` — a ptlflow model (optional extra), e.g. ``ptlflow:raft_small:raft_small.ckpt``;
* ``none`` — no flow (disables box propagation and flow similarity).

Each returns ``(H,W,2)`` float32 flow from the previous frame to the next, computed at a working
resolution whose longer side is at most ``max_side`` pixels and rescaled to the frame size.
"""

from __future__ import annotations

from flow.base import FlowMethod, ScaledFlow, move_points, sample_flow
from flow.opencv import DisFlow, FarnebackFlow
from pose.errors import HrtrackError

__all__ = ["DisFlow", "FarnebackFlow", "FlowMethod", "ScaledFlow", "make_flow", "move_points", "sample_flow"]


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

        model, _, checkpoint = rest.partition(":")
        if not model:
            raise HrtrackError("ptlflow flow spec is ptlflow:MODEL:CHECKPOINT, e.g. ptlflow:raft_small:things")
        return ScaledFlow(PtlflowFlow(model, checkpoint or None, device), max_side)
    raise HrtrackError(f"unknown flow {spec!r}: use dis[:PRESET], farneback, ptlflow:MODEL:CHECKPOINT or none")
