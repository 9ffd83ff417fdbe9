"""``hrtrack bench pose``: the pose network on every backend, against the machine's matmul peak.

For each architecture/input size and batch size, every mode is timed on the same weights in one
run: ``plain`` (our model as built), ``optimized`` (BN folded, channels_last: torch's path),
``onnxruntime``, ``openvino`` (when installed), ``bf16`` and ``openvino-bf16``, ``auto`` (what
``--backend auto`` picks), optionally ``compiled``/``bf16-compiled`` (torch.compile) and
``official``: the HRNet authors' own model code (``lib/models/pose_hrnet.py`` of a checkout of
leoxiaobin/deep-high-resolution-net.pytorch given with ``--official``), the reference a rewrite
is measured against.

Figures: ms per crop, crops/s and GFLOP/s, counting 2 FLOPs per multiply-accumulate of the paper's
GMACs (Table 1: W32 256x192 7.1, W48 384x288 32.9). The ceiling is the machine's measured peak: a
large square matmul in the mode's dtype with the same thread count; the share of it a network
reaches is the figure of merit. Every mode's heatmaps are compared with the plain float32 model on
weights whose heatmaps are far from zero (randomised BatchNorm statistics, :func:`lively_weights`):
``max dev`` is the largest absolute difference (heatmap values are about 0-1).
"""

from __future__ import annotations

import importlib.util
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from pose import backends
from pose.checkpoint import save_state_dict
from pose.errors import HrtrackError
from pose.fold import prepare_for_inference
from pose.hrnet import build_model

# GMACs from the HRNet paper (reported as "GFLOPs" there, counted as multiply-accumulates).
PAPER_GMACS = {
    ("hrnet_w32", 256, 192): 7.1,
    ("hrnet_w32", 384, 288): 16.0,
    ("hrnet_w48", 256, 192): 14.6,
    ("hrnet_w48", 384, 288): 32.9,
}
DEFAULT_CASES = (("hrnet_w32", 256, 192), ("hrnet_w48", 384, 288))
# mode -> (backend, dtype); plain and official are the unprepared models run by torch.
MODES = {
    "official": ("official", torch.float32),
    "plain": ("plain", torch.float32),
    "optimized": ("torch", torch.float32),
    "compiled": ("compiled", torch.float32),
    "onnxruntime": ("onnxruntime", torch.float32),
    "openvino": ("openvino", torch.float32),
    "auto": ("auto", torch.float32),
    "bf16": ("torch", torch.bfloat16),
    "bf16-compiled": ("compiled", torch.bfloat16),
    "openvino-bf16": ("openvino", torch.bfloat16),
}
NOT_OFFICIAL = "no lib/models/pose_hrnet.py (give a checkout of leoxiaobin/deep-high-resolution-net.pytorch)"
DEFAULT_MODES = tuple(m for m in MODES if not m.endswith("compiled"))


@dataclass
class BenchRow:
    """One measured configuration."""

    arch: str
    input_size: str
    batch: int
    mode: str
    ms_per_crop: float
    crops_per_s: float
    gflops: float
    peak_gflops: float
    deviation: float = float("nan")
    note: str = ""

    @property
    def share(self) -> float:
        return self.gflops / self.peak_gflops if self.peak_gflops else float("nan")


def _time(
    fn: Callable[[], object], min_time: float, min_iters: int, sync: Callable[[], None], warmup: int = 2
) -> float:
    """Seconds per call: ``warmup`` calls, then at least ``min_iters`` calls and ``min_time`` s."""
    for _ in range(warmup):
        fn()
    sync()
    iters, start = 0, time.perf_counter()
    while True:
        fn()
        iters += 1
        sync()
        elapsed = time.perf_counter() - start
        if iters >= min_iters and elapsed >= min_time:
            return elapsed / iters


def _sync(device: torch.device) -> Callable[[], None]:
    return torch.cuda.synchronize if device.type == "cuda" else (lambda: None)


def peak_gflops(
    device: torch.device, dtype: torch.dtype = torch.float32, size: int = 2048, min_time: float = 1.0
) -> tuple[float, str]:
    """GFLOP/s of a ``size``-cubed matmul in ``dtype`` with torch's current thread count, and how:
    the faster of ``torch.matmul`` (MKL: throttled on AMD CPUs) and the same product as a 1x1
    convolution (oneDNN, which the networks use). The machine's practical dense-compute ceiling."""
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(size, size, generator=gen).to(device, dtype)
    b = torch.randn(size, size, generator=gen).to(device, dtype)
    conv = nn.Conv2d(size, size, 1, bias=False).to(device, dtype).to(memory_format=torch.channels_last).eval()
    x = torch.randn(1, size, size, 1, generator=gen).to(device, dtype).contiguous(memory_format=torch.channels_last)
    best = (0.0, "")
    with torch.inference_mode():
        for how, fn in (("matmul", lambda: a @ b), ("1x1 conv", lambda: conv(x))):
            gflops = 2 * size**3 / _time(fn, min_time / 2, 3, _sync(device)) / 1e9
            best = max(best, (gflops, how))
    return best


def lively_weights(model: nn.Module, input_size: tuple[int, int] = (128, 96), seed: int = 0) -> nn.Module:
    """Give ``model`` (in place) random weights whose heatmaps are far from zero: freshly
    initialised HRNet outputs about 1e-16, which hides any numerical difference. The BatchNorm
    statistics are those of a random batch (each BN then normalises), gamma/beta are randomised
    and the final layer scaled so that the heatmaps span about -1..1. Every weight is drawn from
    ``seed``: the result does not depend on the global random state (nor on which tests ran before)."""
    gen = torch.Generator().manual_seed(seed)
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    with torch.no_grad():
        for conv in (m for m in model.modules() if isinstance(m, nn.Conv2d)):
            conv.weight.normal_(0.0, 0.001, generator=gen)  # the official init, from ``seed`` alone
        for bn in bns:
            bn.momentum = None  # running statistics = the batch's
            bn.weight.copy_(torch.rand(bn.num_features, generator=gen) + 0.5)
            bn.bias.copy_(torch.rand(bn.num_features, generator=gen) - 0.5)
            bn.reset_running_stats()
        final = model.final_layer
        final.weight.copy_(torch.randn(final.weight.shape, generator=gen) / final.in_channels**0.5)
        model.train()
        height, width = input_size
        model(torch.randn(4, 3, height, width, generator=gen))
        model.eval()
        x = torch.randn(2, 3, height, width, generator=gen)
        final.weight.mul_(1.0 / model(x).abs().max().clamp_min(1e-12))
        for bn in bns:
            bn.momentum = 0.1
    return model


def official_model(checkout: str | Path, arch: str, num_joints: int = 17) -> nn.Module:
    """The authors' ``PoseHighResolutionNet`` from ``checkout/lib/models/pose_hrnet.py`` (imported
    from the user's checkout, run as it is), configured as their ``wC`` experiment files do."""
    path = Path(checkout) / "lib" / "models" / "pose_hrnet.py"
    if not path.is_file():
        raise HrtrackError(f"--official {checkout}: {NOT_OFFICIAL}")
    spec = importlib.util.spec_from_file_location("hrtrack_official_pose_hrnet", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    with warnings.catch_warnings():  # its `is '*'` comparison warns on Python >= 3.8
        warnings.simplefilter("ignore")
        spec.loader.exec_module(module)
    c = int(arch.removeprefix("hrnet_w"))

    def stage(branches: int, modules: int) -> dict:
        return {
            "NUM_MODULES": modules,
            "NUM_BRANCHES": branches,
            "BLOCK": "BASIC",
            "NUM_BLOCKS": [4] * branches,
            "NUM_CHANNELS": [c * 2**i for i in range(branches)],
            "FUSE_METHOD": "SUM",
        }

    extra = {
        "PRETRAINED_LAYERS": ["*"],
        "FINAL_CONV_KERNEL": 1,
        "STAGE2": stage(2, 1),
        "STAGE3": stage(3, 4),
        "STAGE4": stage(4, 3),
    }
    cfg = {"MODEL": {"NUM_JOINTS": num_joints, "EXTRA": extra, "INIT_WEIGHTS": False, "PRETRAINED": ""}}
    return module.get_pose_net(cfg, is_train=False).eval()


def _runner(
    mode: str, model: nn.Module, size: tuple[int, int], official: str | Path | None, weights: Path | None = None
) -> tuple[Callable[[torch.Tensor], torch.Tensor], str]:
    """A callable for ``mode`` on ``model``'s weights, and a note (auto's choice). ``weights``: the
    weights saved to a file, whose ONNX export the onnxruntime/openvino modes share."""
    kind, dtype = MODES[mode]
    if kind in ("plain", "official"):
        net = model
        if kind == "official":
            net = official_model(official, f"hrnet_w{model.width}", model.num_joints)
            net.load_state_dict(model.state_dict())  # the official layer names: the same weights
        return (lambda x: net(x.contiguous())), ""
    if kind == "auto":
        from pose.estimator import PoseEstimator

        estimator = PoseEstimator(model, size, backend="auto", weights=weights)
        return estimator.backend, f"= {estimator.backend.name}"
    if kind in ("torch", "compiled"):
        return backends.TorchBackend(prepare_for_inference(model, compile=kind == "compiled", dtype=dtype), dtype), ""
    onnx_file = backends.ensure_onnx(prepare_for_inference(model), size, weights)  # exported once, then found
    return backends.make_backend(kind, onnx_file, dtype), ""


ROUNDS = 3  # every mode is timed in each round, in turn: a slow spell of the machine hits all


def bench_modes(
    model: nn.Module,
    size: tuple[int, int],
    batch: int,
    modes: list[str],
    device: torch.device,
    official: str | Path | None = None,
    min_time: float = 2.0,
    weights: Path | None = None,
) -> dict[str, tuple[float, float, str]]:
    """Per mode (seconds per batch, max heatmap deviation from the plain model, note).

    The modes are timed interleaved: ``ROUNDS`` rounds, each giving every mode ``min_time /
    ROUNDS`` seconds (at least one call), and a mode's time is its best round. Timing them one
    after the other instead let the machine's noise (10-20 % here) decide between runtimes."""
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(batch, 3, *size, generator=gen).to(device)
    runs, results = {}, {}
    with torch.inference_mode():
        reference = model(x).float()
        for mode in modes:
            run, note = _runner(mode, model, size, official, weights)
            start = time.perf_counter()
            deviation = float((run(x).float() - reference).abs().max())  # the first call: compiles
            if mode.endswith("compiled"):
                note = f"compile {time.perf_counter() - start:.0f} s"
            runs[mode] = run
            results[mode] = [float("inf"), deviation, note]
        for round_ in range(ROUNDS):
            for mode, run in runs.items():
                warmup = 2 if round_ == 0 else 0
                seconds = _time(lambda run=run: run(x), min_time / ROUNDS, 1, _sync(device), warmup)
                results[mode][0] = min(results[mode][0], seconds)
    return {mode: tuple(values) for mode, values in results.items()}


def available_modes(modes: tuple[str, ...], device: torch.device, official: str | Path | None) -> list[str]:
    """The requested modes that can run here (the others are skipped with a line)."""
    keep = []
    for mode in modes:
        kind = MODES[mode][0]
        if kind == "official" and not official:
            continue
        if kind in ("onnxruntime", "openvino") and (device.type != "cpu" or not backends.available(kind)):
            continue
        keep.append(mode)
    return keep


def run_pose_bench(
    cases: tuple[tuple[str, int, int], ...] = DEFAULT_CASES,
    batches: tuple[int, ...] = (1, 8),
    modes: tuple[str, ...] = DEFAULT_MODES,
    device: str = "cpu",
    min_time: float = 2.0,
    official: str | Path | None = None,
    echo: Callable[[str], None] = print,
) -> list[BenchRow]:
    """Measure every case x batch x mode and print a table as it goes."""
    dev = torch.device(device)
    if official and not (Path(official) / "lib" / "models" / "pose_hrnet.py").is_file():
        raise HrtrackError(f"--official {official}: {NOT_OFFICIAL}")
    run_modes = available_modes(modes, dev, official)
    skipped = [m for m in modes if m not in run_modes]
    echo(
        f"hrtrack bench pose: {backends.cpu_model() if dev.type == 'cpu' else torch.cuda.get_device_name(dev)}, "
        f"torch {torch.__version__}, device {dev}, threads {torch.get_num_threads()}"
        + (f"; skipped (not available): {', '.join(skipped)}" if skipped else "")
    )
    peaks = {}
    for dtype in sorted({MODES[m][1] for m in run_modes}, key=str):
        peaks[dtype], how = peak_gflops(dev, dtype, min_time=min(1.0, min_time))
        echo(f"peak {str(dtype).removeprefix('torch.')}: {peaks[dtype]:.0f} GFLOP/s (2048^3 matmul as {how})")
    header = (
        f"{'model':<10} {'input':<8} {'batch':>5} {'mode':<14} {'ms/crop':>9} {'crops/s':>8} "
        f"{'GFLOP/s':>8} {'of peak':>7} {'max dev':>8}"
    )
    echo(header)
    echo("-" * len(header))
    rows = []
    scratch = tempfile.TemporaryDirectory(prefix="hrtrack-bench-pose-")
    for arch, height, width in cases:
        gmacs = PAPER_GMACS.get((arch, height, width))
        if gmacs is None:
            raise HrtrackError(f"no published GMACs for {arch} {height}x{width}")
        model = lively_weights(build_model(arch), (height, width)).to(dev)
        weights = Path(scratch.name) / f"{arch}_{height}x{width}.pth"
        save_state_dict(model, weights)
        for batch in batches:
            measured = bench_modes(model, (height, width), batch, run_modes, dev, official, min_time, weights)
            for mode, (seconds, deviation, note) in measured.items():
                peak = peaks[MODES[mode][1]]
                row = BenchRow(
                    arch,
                    f"{height}x{width}",
                    batch,
                    mode,
                    seconds / batch * 1e3,
                    batch / seconds,
                    2 * gmacs * batch / seconds,
                    peak,
                    deviation,
                    note,
                )
                rows.append(row)
                echo(
                    f"{arch:<10} {row.input_size:<8} {batch:>5} {mode:<14} {row.ms_per_crop:>9.1f} "
                    f"{row.crops_per_s:>8.2f} {row.gflops:>8.1f} {row.share:>7.0%} {deviation:>8.1e}"
                    + (f"  {note}" if note else "")
                )
    scratch.cleanup()
    return rows
