"""External heatmap networks: an ONNX file, an OpenVINO IR (``.xml`` with its ``.bin``), or any
callable, run as the pose network of :class:`pose.estimator.PoseEstimator`.

Such a network takes the tensor the estimator builds (``(B,3,H,W)`` float32, RGB, ImageNet
mean/std on 0-1 values) and gives heatmaps ``(B,K,H/4,W/4)``, one per joint, as HRNet does; the
crop, flip test, decoding and rescoring stay the estimator's. What is read from the file:

* the input size from the input's fixed dims (``input_size`` is needed only where they are dynamic);
* the heatmap output: the 4-D output of ``K`` channels at 1/4 of the input (several outputs, e.g.
  PP-TinyPose's extra ``argmax``, are allowed: the 4-D one at 1/4 is taken);
* a fixed batch (often 1): OpenVINO reshapes it to a dynamic batch; onnxruntime runs the rows one
  by one.

Runtimes: ``onnxruntime`` (``.onnx`` only) and ``openvino`` (both; extra ``[openvino]``). The
precision is explicit: float32 unless bf16 is asked for (OpenVINO's own default on CPUs with bf16
is bf16, so the hint is always set); ``precision`` says what it really runs in (asked for bf16, a
CPU without it runs float32). A file that does not fit raises one :class:`HrtrackError`
line naming the file and what does not fit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from pose.errors import HrtrackError, first_line, third_party_quiet
from pose.specs import backend_installed, check_backend

SUFFIXES = (".onnx", ".xml")
STRIDE = 4  # heatmaps are at 1/4 of the input, as HRNet's


def is_network_file(path: str | Path) -> bool:
    """Whether ``path`` names an external network file (``.onnx`` or OpenVINO ``.xml``)."""
    return Path(path).suffix.lower() in SUFFIXES


def runtimes(path: Path) -> list[str]:
    """The runtimes that can run this file, installed or not: onnxruntime only reads ONNX."""
    return ["onnxruntime", "openvino"] if path.suffix.lower() == ".onnx" else ["openvino"]


@dataclass(frozen=True)
class NetworkInfo:
    """What a network file is: its input (name, shape with None for dynamic dims), its outputs
    (name and shape), which output holds the heatmaps, and the joints and input size it implies."""

    path: Path
    input_name: str
    input_shape: tuple[int | None, ...]
    outputs: tuple[tuple[str, tuple[int | None, ...]], ...]
    heatmap_output: str
    input_size: tuple[int, int]
    num_joints: int

    def describe(self) -> str:
        def dims(shape: tuple[int | None, ...]) -> str:
            return "x".join("?" if d is None else str(d) for d in shape)

        outs = ", ".join(
            f"{n} [{dims(s)}]" + (" (heatmaps)" if n == self.heatmap_output else "") for n, s in self.outputs
        )
        h, w = self.input_size
        return (
            f"{self.path}: input {self.input_name} [{dims(self.input_shape)}], outputs {outs}; "
            f"{self.num_joints} joints, input {h}x{w}, heatmaps {h // STRIDE}x{w // STRIDE}"
        )


def _dims(shape) -> tuple[int | None, ...]:
    """Static dims as ints and dynamic ones as None (onnxruntime strings/None, OpenVINO Dimension)."""
    out: list[int | None] = []
    for d in shape:
        if isinstance(d, int):
            out.append(d if d > 0 else None)
        elif hasattr(d, "is_static"):
            out.append(d.get_length() if d.is_static else None)
        else:
            out.append(None)
    return tuple(out)


class _Runner:
    """One runtime's session on the file: ``run(x) -> {output name: array}`` for a float32 batch."""

    name: str
    precision: str = "f32"

    def run(self, x: np.ndarray) -> dict[str, np.ndarray]:
        raise NotImplementedError


class _OrtRunner(_Runner):
    name = "onnxruntime"

    def __init__(self, path: Path, threads: int) -> None:
        from pose.backends import ort_session

        try:
            self.session = ort_session(path, threads)
        except Exception as exc:
            raise HrtrackError(f"{path}: onnxruntime cannot load this network ({first_line(exc)})") from None
        inp = self.session.get_inputs()
        if len(inp) != 1:
            raise HrtrackError(f"{path}: a pose network has one input (an image batch), this one has {len(inp)}")
        self.input_name = inp[0].name
        self.input_shape = _dims(inp[0].shape)
        self.outputs = [(o.name, _dims(o.shape)) for o in self.session.get_outputs()]

    def run(self, x: np.ndarray) -> dict[str, np.ndarray]:
        if self.input_shape[0] is not None and len(x) != self.input_shape[0]:  # a fixed batch: row by row
            if self.input_shape[0] != 1:
                raise HrtrackError(f"fixed batch {self.input_shape[0]} is not supported by onnxruntime; use openvino")
            rows = [self.session.run(None, {self.input_name: x[i : i + 1]}) for i in range(len(x))]
            return {n: np.concatenate([r[k] for r in rows]) for k, (n, _) in enumerate(self.outputs)}
        outs = self.session.run(None, {self.input_name: x})
        return {n: o for (n, _), o in zip(self.outputs, outs, strict=True)}


class _OvRunner(_Runner):
    name = "openvino"

    def __init__(self, path: Path, threads: int, bf16: bool = False, input_size: tuple[int, int] | None = None) -> None:
        import openvino as ov

        from pose.backends import ov_compile, ov_precision

        core = ov.Core()
        try:
            model = core.read_model(str(path))
        except Exception as exc:
            raise HrtrackError(f"{path}: OpenVINO cannot read this network ({first_line(exc)})") from None
        if len(model.inputs) != 1:
            raise HrtrackError(
                f"{path}: a pose network has one input (an image batch), this one has {len(model.inputs)}"
            )
        port = model.inputs[0]
        self.input_name = port.get_any_name()
        self.input_shape = _dims(port.get_partial_shape())
        shape = list(port.get_partial_shape())
        if len(shape) == 4:  # any batch; the spatial dims fixed where they are dynamic
            dims = [-1, shape[1], shape[2], shape[3]]
            for axis, size in zip((2, 3), input_size or (None, None), strict=True):
                if not shape[axis].is_static and size:
                    dims[axis] = size
            try:
                model.reshape({port.get_any_name(): ov.PartialShape(dims)})
            except Exception as exc:
                raise HrtrackError(f"{path}: OpenVINO cannot give it a dynamic batch ({first_line(exc)})") from None
        self.outputs = [(o.get_any_name(), _dims(o.get_partial_shape())) for o in model.outputs]
        try:
            compiled = ov_compile(core, model, threads, bf16)
        except Exception as exc:
            raise HrtrackError(f"{path}: OpenVINO cannot compile this network ({first_line(exc)})") from None
        self.precision = ov_precision(compiled)  # a CPU without bf16 runs float32 when asked for it
        self.request = compiled.create_infer_request()
        self._names = [n for n, _ in self.outputs]

    def run(self, x: np.ndarray) -> dict[str, np.ndarray]:
        result = self.request.infer({0: x})
        return {n: np.array(result[k]) for k, n in enumerate(self._names)}  # copies: buffers are reused


def open_runner(path: Path, runtime: str, threads: int, bf16: bool = False, input_size=None) -> _Runner:
    """A session of ``runtime`` on the network file (one-line errors naming the file)."""
    if runtime not in runtimes(path):
        raise HrtrackError(f"--backend {runtime}: cannot run {path.name} (use " + " or ".join(runtimes(path)) + ")")
    check_backend(runtime, "cpu", bf16)  # installed, and bf16 only where the runtime has it
    with third_party_quiet():
        if runtime == "onnxruntime":
            return _OrtRunner(path, threads)
        return _OvRunner(path, threads, bf16, input_size)


def _input_size(path: Path, shape: tuple[int | None, ...], given: tuple[int, int] | None) -> tuple[int, int]:
    """The network's (height, width): its fixed dims, else ``given``."""
    if len(shape) != 4 or shape[1] not in (3, None):
        raise HrtrackError(f"{path}: the input must be an NCHW batch of 3-channel images, not {list(shape)}")
    fixed = shape[2], shape[3]
    if fixed[0] is not None and fixed[1] is not None:
        if given is not None and tuple(given) != fixed:
            raise HrtrackError(
                f"{path}: the network's input is fixed at {fixed[0]}x{fixed[1]}; --input-size "
                f"{given[0]}x{given[1]} does not fit it"
            )
        size = (int(fixed[0]), int(fixed[1]))
    elif given is None:
        raise HrtrackError(f"{path}: the network's input size is dynamic; give --input-size HxW")
    else:
        size = (fixed[0] or given[0], fixed[1] or given[1])
    if size[0] % STRIDE or size[1] % STRIDE:
        raise HrtrackError(f"{path}: input {size[0]}x{size[1]} is not a multiple of {STRIDE}")
    return size


def heatmap_output(
    where: str, outputs: dict[str, np.ndarray], input_size: tuple[int, int], joints: int | None = None
) -> str:
    """The name of the heatmap output among a probe run's ``outputs``: 4-D, at 1/4 of the input,
    ``joints`` channels when given. Raises one line saying what does not fit."""
    h, w = input_size
    four_d = {n: o for n, o in outputs.items() if o.ndim == 4}
    listed = ", ".join(f"{n} {list(o.shape)}" for n, o in outputs.items())
    if not four_d:
        raise HrtrackError(f"{where}: no 4-D heatmap output (outputs: {listed})")
    quarter = [n for n, o in four_d.items() if o.shape[2:] == (h // STRIDE, w // STRIDE)]
    if not quarter:
        n, o = next(iter(four_d.items()))
        raise HrtrackError(
            f"{where}: output {n} is {o.shape[2]}x{o.shape[3]}, not 1/{STRIDE} of the input {h}x{w} "
            f"({h // STRIDE}x{w // STRIDE})"
        )
    if joints is not None:
        fitting = [n for n in quarter if four_d[n].shape[1] == joints]
        if not fitting:
            n = quarter[0]
            raise HrtrackError(f"{where}: output {n} has {four_d[n].shape[1]} joints, the keypoint layout has {joints}")
        return fitting[0]
    return quarter[0]


class ExternalNetwork:
    """A network file run by one runtime: ``(B,3,H,W)`` normalised tensor -> heatmaps ``(B,K,H/4,W/4)``.

    Args:
        path: ``.onnx`` or OpenVINO ``.xml`` (``.bin`` beside it).
        runtime: ``onnxruntime`` or ``openvino``.
        threads: the runtime's intra-op threads (default: torch's).
        bf16: OpenVINO in bfloat16 (else float32, whatever the CPU).
        input_size: (height, width) for a network whose input size is dynamic.
        joints: the joints the keypoint layout expects (checked against the output), or None.
    """

    def __init__(
        self,
        path: str | Path,
        runtime: str,
        threads: int | None = None,
        bf16: bool = False,
        input_size: tuple[int, int] | None = None,
        joints: int | None = None,
    ) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise HrtrackError(f"{self.path}: network file not found")
        if self.path.suffix.lower() == ".xml" and not self.path.with_suffix(".bin").is_file():
            weights = self.path.with_suffix(".bin").name
            raise HrtrackError(f"{self.path}: an OpenVINO IR needs its weights {weights} beside it")
        self.runner = open_runner(self.path, runtime, threads or torch.get_num_threads(), bf16, input_size)
        self.name = runtime
        self.precision = self.runner.precision
        size = _input_size(self.path, self.runner.input_shape, input_size)
        probe = self.runner.run(np.zeros((1, 3, *size), np.float32))
        self.output = heatmap_output(str(self.path), probe, size, joints)
        self.info = NetworkInfo(
            self.path,
            self.runner.input_name,
            self.runner.input_shape,
            tuple(self.runner.outputs),
            self.output,
            size,
            int(probe[self.output].shape[1]),
        )

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        out = self.runner.run(x.detach().float().contiguous().cpu().numpy())[self.output]
        return torch.from_numpy(np.ascontiguousarray(out, dtype=np.float32))


class CallableNetwork:
    """Any callable ``(B,3,H,W)`` normalised float32 tensor -> heatmaps (a tensor or an array) as a
    backend of the estimator; probed once with a zero batch for its joints and output size."""

    name = "callable"
    precision = "f32"

    def __init__(self, fn: Callable, input_size: tuple[int, int], joints: int | None = None) -> None:
        self.fn = fn
        where = getattr(fn, "__name__", type(fn).__name__)
        with torch.inference_mode():
            out = self(torch.zeros(1, 3, *input_size))
        self.output = heatmap_output(f"network {where}", {"output": out.numpy()}, input_size, joints)
        self.num_joints = int(out.shape[1])

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        out = self.fn(x)
        if isinstance(out, (list, tuple)):
            out = next((o for o in out if getattr(o, "ndim", 0) == 4), out[0])
        if not isinstance(out, torch.Tensor):
            out = torch.from_numpy(np.ascontiguousarray(out, dtype=np.float32))
        return out.float().cpu()


def describe_network(path: str | Path, input_size: tuple[int, int] | None = None) -> NetworkInfo:
    """What ``hrtrack weights FILE.onnx|.xml`` prints: the file opened by the first installed runtime
    that reads it and probed once."""
    path = Path(path)
    usable = [r for r in runtimes(path) if backend_installed(r)]
    runtime = usable[0] if usable else runtimes(path)[-1]
    return ExternalNetwork(path, runtime, input_size=input_size).info
