"""Parsing of the model specs users type (architecture names, input sizes, backends), without
torch, so that ``hrtrack`` checks them while it reads its options, before any model is built."""

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


#: The pose network's runtimes (:mod:`pose.backends`); ``auto`` picks the fastest of them here.
BACKENDS = ("torch", "onnxruntime", "openvino")
BACKEND_CHOICES = ("auto", *BACKENDS)


def backend_installed(name: str) -> bool:
    """Whether backend ``name``'s package is installed (torch always is)."""
    import importlib.util

    return name == "torch" or importlib.util.find_spec(name) is not None


def check_backend(name: str, device: object = "cpu", bf16: bool = False, compiled: bool = False) -> None:
    """Refuse a backend that cannot run this configuration, naming ``--backend``. ``device``: a
    torch device or its name (``cpu``, ``cuda:0``); ``auto`` passes (it is resolved later)."""
    if name not in BACKEND_CHOICES:
        raise HrtrackError(f"--backend: unknown {name!r}; use " + ", ".join(BACKEND_CHOICES))
    if name in ("auto", "torch"):
        return
    kind = str(device).split(":")[0]
    if kind not in ("cpu", "auto"):
        raise HrtrackError(f"--backend {name}: runs on the CPU only; use --backend torch with --device {device}")
    if compiled:
        raise HrtrackError(f"--backend {name}: --compile is torch's; use --backend torch")
    if name == "onnxruntime" and bf16:
        raise HrtrackError("--backend onnxruntime: no bfloat16 on the CPU; use torch or openvino with --bf16")
    if not backend_installed(name):
        extra = " (pip install 'hrtrack[openvino]')" if name == "openvino" else ""
        raise HrtrackError(f"--backend {name}: {name} is not installed{extra}")
