"""Pose-network runtimes behind one call: torch, onnxruntime and OpenVINO, and ``auto``.

A backend maps a normalised float32 batch ``(B,3,H,W)`` (a torch tensor, any memory format) to
float32 heatmaps ``(B,K,H/4,W/4)``:

* ``torch``: the prepared model (BN folded, channels_last; float32 or bfloat16) on any device;
* ``onnxruntime``: the prepared float32 model exported to ONNX (dynamic batch), on the CPU;
* ``openvino`` (extra ``[openvino]``): the same ONNX file compiled by OpenVINO for the CPU, in
  float32 or bfloat16 (``INFERENCE_PRECISION_HINT``).

The ONNX export is made once per weights file and input size and cached beside the weights (or in
``$HRTRACK_HOME/onnx`` when that folder is not writable, and in a temporary folder for weights
that come from no file). ``auto`` times every available backend on a few batches of this model on
this machine, once, and keeps the result in ``$HRTRACK_HOME/calibration.json``: the fastest
runtime depends on the CPU (oneDNN, MLAS and OpenVINO each win somewhere), so it is measured, not
assumed.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import importlib.util
import json
import os
import platform
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import torch
from torch import nn

from pose.errors import HrtrackError, first_line, third_party_quiet
from pose.files import atomic_path, atomic_write_json, file_sha256, hrtrack_home, writable_home
from pose.precision import cpuinfo, native_bf16
from pose.specs import BACKEND_CHOICES
from pose.specs import BACKENDS as BACKENDS  # the names and their checks live in pose.specs (no torch)
from pose.specs import backend_installed as available
from pose.specs import check_backend as check_backend

CHOICES = BACKEND_CHOICES
EXPORT_VERSION = 1  # bump when the exported graph changes: old cached files are then not used
CALIBRATION_BATCH = 8  # crops per timed batch of the calibration
CALIBRATION_REPEATS = 3  # rounds of one timed batch per backend (the fastest counts), after one warm-up


class Backend(Protocol):
    """A pose-network runtime: normalised input batch -> float32 heatmaps."""

    name: str
    precision: str

    def __call__(self, x: torch.Tensor) -> torch.Tensor: ...


class TorchBackend:
    """The prepared torch model (see :func:`pose.fold.prepare_for_inference`)."""

    name = "torch"

    def __init__(self, model: nn.Module, dtype: torch.dtype = torch.float32) -> None:
        self.model = model
        self.dtype = dtype
        self.precision = "bf16" if dtype == torch.bfloat16 else "f32"

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            return self.model(x.to(self.dtype).contiguous(memory_format=torch.channels_last)).float()


def ort_session(onnx_file: Path, threads: int):
    """An onnxruntime CPU session with ``threads`` intra-op threads and its logging quiet."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(str(onnx_file), options, providers=["CPUExecutionProvider"])


class OnnxRuntimeBackend:
    """An exported model run by onnxruntime's CPU provider with ``threads`` intra-op threads."""

    name = "onnxruntime"
    precision = "f32"

    def __init__(self, onnx_file: Path, threads: int) -> None:
        self.session = ort_session(onnx_file, threads)
        self.input_name = self.session.get_inputs()[0].name

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        out = self.session.run(None, {self.input_name: x.detach().float().contiguous().cpu().numpy()})[0]
        return torch.from_numpy(out)


def ov_compile(core, model, threads: int, bf16: bool = False):
    """``model`` (a file name or an OpenVINO model) compiled for the CPU: latency-minded, ``threads``
    threads, and the precision always explicit (OpenVINO picks bf16 by itself on bf16 CPUs)."""
    config = {"INFERENCE_PRECISION_HINT": "bf16" if bf16 else "f32", "INFERENCE_NUM_THREADS": threads}
    return core.compile_model(model, "CPU", config | {"PERFORMANCE_HINT": "LATENCY"})


def ov_precision(compiled) -> str:
    """What a compiled OpenVINO model really runs in: ``bf16`` or ``f32`` (asked for bf16, a CPU
    without it runs float32 and says so only here)."""
    return "bf16" if "bf16" in str(compiled.get_property("INFERENCE_PRECISION_HINT")).lower() else "f32"


class OpenVinoBackend:
    """An exported model compiled by OpenVINO for the CPU, float32 or bfloat16 inside."""

    name = "openvino"

    def __init__(self, onnx_file: Path, threads: int, bf16: bool = False) -> None:
        import openvino as ov

        compiled = ov_compile(ov.Core(), str(onnx_file), threads, bf16)
        self.precision = ov_precision(compiled)
        self.request = compiled.create_infer_request()

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        out = self.request.infer({0: x.detach().float().contiguous().cpu().numpy()})[0]
        return torch.from_numpy(out.copy())  # the request reuses its output buffer


def candidates(device: torch.device, precisions: list[str], compiled: bool, backend: str = "auto") -> list[str]:
    """The runtimes ``auto`` chooses between, in each of ``precisions`` (``f32``, ``bf16``; see
    :func:`pose.precision.precisions`): ``torch``, ``openvino bf16``, ... On a GPU, or with
    torch.compile, only torch; onnxruntime has no bfloat16 path on the CPU. ``backend`` other
    than ``auto``: that runtime only. OpenVINO runs float32 when asked for bfloat16 on a CPU
    without it, so ``auto`` does not time it as a bfloat16 candidate there."""
    if backend != "auto":
        names = [backend]
    elif device.type != "cpu" or compiled:
        names = ["torch"]
    else:
        names = ["torch", "onnxruntime"] + (["openvino"] if available("openvino") else [])
    no_bf16 = {"onnxruntime"} | ({"openvino"} if backend == "auto" and not native_bf16(device) else set())
    return [candidate(n, p) for p in precisions for n in names if not (p == "bf16" and n in no_bf16)]


def candidate(name: str, precision: str) -> str:
    """The calibration's name of runtime ``name`` in ``precision``: ``torch``, ``openvino bf16``."""
    return name if precision == "f32" else f"{name} {precision}"


def split_candidate(text: str) -> tuple[str, torch.dtype]:
    """``openvino bf16`` -> (``openvino``, torch.bfloat16); ``torch`` -> (``torch``, torch.float32)."""
    name, _, precision = text.partition(" ")
    return name, torch.bfloat16 if precision == "bf16" else torch.float32


# ----------------------------------------------------------------------------- ONNX export


def onnx_cache_path(weights: Path, input_size: tuple[int, int]) -> Path:
    """Where the export of ``weights`` at ``input_size`` lives: beside the weights, named by their
    content, or in ``$HRTRACK_HOME/onnx`` when the weights' folder is not writable."""
    h, w = input_size
    name = f"{weights.stem}.{file_sha256(weights)[:12]}.{h}x{w}.v{EXPORT_VERSION}.onnx"
    folder = weights.resolve().parent
    if not os.access(folder, os.W_OK) or _inside_package(folder):
        folder = writable_home("for the ONNX export of the pose network") / "onnx"
    return folder / name


def _inside_package(folder: Path) -> bool:
    """A folder of hrtrack's own packages (the bundled demo weights'): never written into. Other
    folders beside them (a checkout's ``out/``) are the user's."""
    root = Path(__file__).resolve().parents[1]
    packages = [root / name for name in ("pose", "tracker", "flow", "eval")]
    return any(folder == p or p in folder.parents for p in packages)


def export_onnx(prepared: nn.Module, input_size: tuple[int, int], path: Path) -> Path:
    """Write the float32 prepared model to ``path`` as ONNX with a dynamic batch (atomically)."""
    model = prepared.float().to(memory_format=torch.contiguous_format).eval()
    x = torch.zeros(2, 3, *input_size)
    with atomic_path(path) as tmp, warnings.catch_warnings(), third_party_quiet():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            (x,),
            str(tmp),
            input_names=["input"],
            output_names=["heatmaps"],
            dynamic_axes={"input": {0: "batch"}, "heatmaps": {0: "batch"}},
            opset_version=17,
            dynamo=False,
        )
    return path


def ensure_onnx(prepared: nn.Module, input_size: tuple[int, int], weights: Path | None) -> Path:
    """The cached ONNX export of these weights (made now if missing). Without a weights file the
    export goes to a temporary folder removed when the process exits."""
    if weights is None:
        path = Path(tempfile.mkdtemp(prefix="model-", dir=_scratch())) / f"model.{input_size[0]}x{input_size[1]}.onnx"
    else:
        path = onnx_cache_path(Path(weights), input_size)
    if not path.is_file():
        if importlib.util.find_spec("onnx") is None:
            raise HrtrackError("--backend: exporting to ONNX needs the onnx package (pip install onnx)")
        if weights is not None:
            _remove_stale(path)
        export_onnx(prepared, input_size, path)
    return path


def _remove_stale(path: Path) -> None:
    """Exports of earlier contents of the same weights file at the same size are dropped."""
    stem, _sha, size, _version, _ext = path.name.rsplit(".", 4)
    for old in path.parent.glob(f"{stem}.*.{size}.v*.onnx"):
        if old != path and old.name.count(".") == path.name.count("."):
            with contextlib.suppress(OSError):
                old.unlink()


_SCRATCH: tempfile.TemporaryDirectory | None = None


def _scratch() -> str:
    global _SCRATCH
    if _SCRATCH is None:
        _SCRATCH = tempfile.TemporaryDirectory(prefix="hrtrack-onnx-")
    return _SCRATCH.name


# ----------------------------------------------------------------------------- building and auto


def make_backend(name: str, onnx_file: Path, dtype: torch.dtype, threads: int | None = None) -> Backend:
    """The ``onnxruntime`` or ``openvino`` backend of an exported model (:func:`ensure_onnx`)."""
    threads = threads or torch.get_num_threads()
    with third_party_quiet():
        if name == "onnxruntime":
            return OnnxRuntimeBackend(onnx_file, threads)
        return OpenVinoBackend(onnx_file, threads, bf16=dtype == torch.bfloat16)


@dataclass
class Choice:
    """What ``auto`` chose and why: ms per crop of each timed backend, and whether it was cached."""

    name: str
    timings: dict[str, float]
    cached: bool

    def describe(self) -> str:
        if not self.timings:
            return f"backend {self.name}"
        figures = ", ".join(f"{k} {v:.1f}" for k, v in sorted(self.timings.items(), key=lambda kv: kv[1]))
        how = "cached calibration" if self.cached else "calibrated now"
        return f"backend {self.name} (auto, {how}: {figures} ms/crop)"


def cpu_model() -> str:
    """The CPU's model name (Linux ``/proc/cpuinfo``), else what ``platform`` knows."""
    return cpuinfo("model name") or platform.processor() or platform.machine()


def calibration_key(arch: str, input_size: tuple[int, int], precision: str, names: list[str]) -> str:
    """What a calibration depends on: CPU, thread count, runtimes' versions, model and size."""
    runtimes = dict.fromkeys(split_candidate(name)[0] for name in names)
    versions = [f"{name} {importlib.metadata.version(name)}" for name in runtimes if name != "torch"]
    versions.insert(0, f"torch {torch.__version__}")
    h, w = input_size
    return f"{cpu_model()} | {torch.get_num_threads()} threads | {', '.join(versions)} | {arch} {h}x{w} {precision}"


def time_backends(
    built: dict[str, Backend], input_size: tuple[int, int], batch: int = CALIBRATION_BATCH
) -> dict[str, float]:
    """Milliseconds per crop of each backend: one warm-up each, then ``CALIBRATION_REPEATS``
    rounds in which every backend runs one batch in turn (a slow spell hits them all); the
    fastest round counts."""
    x = torch.randn(batch, 3, *input_size)
    for backend in built.values():
        backend(x)
    best = dict.fromkeys(built, float("inf"))
    for _ in range(CALIBRATION_REPEATS):
        for name, backend in built.items():
            start = time.perf_counter()
            backend(x)
            best[name] = min(best[name], time.perf_counter() - start)
    return {name: round(seconds / batch * 1e3, 3) for name, seconds in best.items()}


def choose_backend(
    names: list[str],
    build: Callable[[str], Backend],
    key: str,
    input_size: tuple[int, int],
    cache: Path | None = None,
) -> tuple[Backend, Choice]:
    """The fastest of ``names`` for this model on this machine: from the cache under ``key``, or
    timed now (every candidate built and timed, the result stored)."""
    if len(names) == 1:
        return build(names[0]), Choice(names[0], {}, False)
    cache = cache or hrtrack_home() / "calibration.json"
    table = _read_calibration(cache)
    entry = table.get(key)
    if isinstance(entry, dict) and entry.get("choice") in names:
        return build(entry["choice"]), Choice(entry["choice"], dict(entry.get("ms_per_crop", {})), True)
    built = {}
    for name in names:
        try:
            built[name] = build(name)
        except Exception as exc:  # an export or runtime that fails here: auto does without it
            if name == "torch" or (name == names[-1] and not built):
                raise
            first = first_line(exc)
            print(f"hrtrack: warning: --backend auto: {name} does not run this model ({first})", file=sys.stderr)
    if len(built) == 1:
        only = next(iter(built))
        return built[only], Choice(only, {}, False)
    timings = time_backends(built, input_size)
    best = min(timings, key=timings.__getitem__)
    table[key] = {"choice": best, "ms_per_crop": timings, "batch": CALIBRATION_BATCH, "when": time.time()}
    with contextlib.suppress(OSError):  # a read-only home: calibrate again next time
        atomic_write_json(table, cache)
    return built[best], Choice(best, timings, False)


def _read_calibration(path: Path) -> dict:
    try:
        table = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return table if isinstance(table, dict) else {}
