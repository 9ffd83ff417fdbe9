"""The pose network's precision: float32 or bfloat16, and which of them ``auto`` may choose here.

``--precision auto`` (the default) lets the calibration of :mod:`pose.backends` time bfloat16
candidates beside the float32 ones, but only where the device computes bfloat16 natively: a CPU
with AVX512-BF16 or AMX (its flags), or a CUDA GPU with bfloat16. Elsewhere bfloat16 is emulated
(torch) or quietly run in float32 (OpenVINO), slower or no faster, so ``auto`` is float32 there.
``--precision bf16`` asks for bfloat16 whatever the device (with a warning where it is not native);
``--precision f32`` never uses it.

:data:`BF16_IN_AUTO` is the accuracy evidence's verdict (README, "Precision"): bfloat16 may join
``auto`` only if it costs at most 0.5 points on every measurement made in both precisions.
"""

from __future__ import annotations

import contextlib
import functools
from pathlib import Path

from pose.errors import HrtrackError

#: What ``--precision`` takes.
PRECISIONS = ("auto", "f32", "bf16")

#: CPU flags (Linux ``/proc/cpuinfo``) that mean native bfloat16 arithmetic.
BF16_CPU_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})

#: Whether the accuracy evidence lets ``auto`` choose bfloat16 where it is native (README,
#: "Precision": every measured loss at most 0.5 points). Not yet: the demo model lost 0.7 MOTA on
#: one row of the synthetic set in bfloat16; PP-TinyPose lost nothing, but only in emulation.
BF16_IN_AUTO = False


@functools.cache
def cpuinfo(field: str) -> str | None:
    """The first ``field`` of Linux ``/proc/cpuinfo`` (``model name``, ``flags``), or None."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.split(":", 1)[0].strip() == field:
                return line.split(":", 1)[1].strip()
    return None


def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags (Linux ``/proc/cpuinfo``; empty where that cannot be read)."""
    return frozenset((cpuinfo("flags") or "").split())


def native_bf16(device: object = "cpu") -> bool:
    """Whether ``device`` (a torch device or its name) computes bfloat16 natively: AVX512-BF16 or
    AMX on a CPU, bfloat16 support on a CUDA GPU."""
    kind = str(device).split(":")[0]
    if kind == "cuda":
        import torch

        return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    return bool(BF16_CPU_FLAGS & cpu_flags())


def check_precision(precision: str) -> str:
    """``precision`` if it is one of :data:`PRECISIONS`, else an error naming ``--precision``."""
    if precision not in PRECISIONS:
        raise HrtrackError(f"--precision: unknown {precision!r}; use " + ", ".join(PRECISIONS))
    return precision


def precisions(precision: str, device: object = "cpu") -> list[str]:
    """The precisions a run may use on ``device``: ``auto`` -> float32, plus bfloat16 where it is
    native and the evidence allows it (:data:`BF16_IN_AUTO`); ``f32`` or ``bf16`` -> just that."""
    if check_precision(precision) != "auto":
        return [precision]
    return ["f32", "bf16"] if BF16_IN_AUTO and native_bf16(device) else ["f32"]
