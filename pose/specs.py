"""Parsing of the model specs users type (architecture names, input sizes), without torch, so that
``hrtrack`` checks them while it reads its options, before any model is built."""

from __future__ import annotations

from pose.errors import HrtrackError

#: The published HRNet widths by name (any ``hrnet_wC`` with C > 0 also builds).
ARCHS = {"hrnet_w32": 32, "hrnet_w48": 48}


def parse_arch(name: str) -> int:
    """Width C of an architecture name such as ``hrnet_w32``, ``hrnet_w48`` or ``hrnet_w8``."""
    if name in ARCHS:
        return ARCHS[name]
    prefix = "hrnet_w"
    if name.startswith(prefix) and name[len(prefix) :].isdigit() and 0 < int(name[len(prefix) :]) <= 256:
        return int(name[len(prefix) :])
    raise HrtrackError(f"unknown architecture {name!r}: expected hrnet_w32, hrnet_w48 or hrnet_wC (C up to 256)")


def parse_input_size(text: str) -> tuple[int, int]:
    """``"256x192"`` (height x width, the HRNet convention) -> (height, width)."""
    parts = text.lower().split("x")
    if len(parts) != 2 or not all(p.isdigit() and int(p) > 0 for p in parts):
        raise HrtrackError(f"input size must look like 256x192 (height x width), got {text!r}")
    h, w = int(parts[0]), int(parts[1])
    if h % 32 or w % 32:
        raise HrtrackError(f"input size {text!r}: height and width must be multiples of 32 (HRNet's 4 resolutions)")
    if h > 2048 or w > 2048:
        raise HrtrackError(f"input size {text!r}: at most 2048x2048")
    return h, w
