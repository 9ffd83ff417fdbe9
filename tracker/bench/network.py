"""``hrtrack bench pose``: network throughput against a single-convolution roofline.

For each architecture/input size and batch size the benchmark reports ms per crop, crops/s and the
achieved GFLOP/s, counting 2 FLOPs per multiply-accumulate of the paper's GMACs (HRNet paper
Table 1: W32 256x192 7.1, W48 384x288 32.9). The roofline is a plain 64->64 3x3 convolution in
channels_last at the network's high-resolution branch size (input / 4) and the same batch: the
best sustained convolution throughput this machine's backend reaches, which a convolutional
network can approach but not pass. The ratio network / roofline is the figure of merit.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

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
# plain: as built; optimized: BN folded + channels_last; compiled: + torch.compile; bf16 and
# bf16-compiled: the same in bfloat16 (compared with a bfloat16 roofline).
MODE_DTYPES = {
    "plain": torch.float32,
    "optimized": torch.float32,
    "compiled": torch.float32,
    "bf16": torch.bfloat16,
    "bf16-compiled": torch.bfloat16,
}


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
    roofline_gflops: float

    @property
    def ratio(self) -> float:
        return self.gflops / self.roofline_gflops if self.roofline_gflops else float("nan")


def _time(fn: Callable[[], object], min_time: float, min_iters: int, sync: Callable[[], None]) -> float:
    """Seconds per call: two warm-up calls, then at least ``min_iters`` calls and ``min_time`` s."""
    fn()
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


def roofline_gflops(
    batch: int,
    height: int,
    width: int,
    device: torch.device,
    min_time: float = 1.0,
    dtype: torch.dtype = torch.float32,
) -> float:
    """GFLOP/s of one 64->64 3x3 convolution (channels_last) on a (batch,64,height,width) input."""
    conv = torch.nn.Conv2d(64, 64, 3, padding=1, bias=False).to(device).eval()
    conv = conv.to(dtype=dtype, memory_format=torch.channels_last)
    x = torch.randn(batch, 64, height, width, device=device, dtype=dtype)
    x = x.contiguous(memory_format=torch.channels_last)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    with torch.inference_mode():
        seconds = _time(lambda: conv(x), min_time, 5, sync)
    return 2 * 64 * 64 * 9 * batch * height * width / seconds / 1e9


def bench_network(
    arch: str,
    height: int,
    width: int,
    batch: int,
    mode: str,
    device: torch.device,
    min_time: float = 2.0,
    min_iters: int = 3,
) -> tuple[float, float]:
    """(seconds per batch, compile seconds) for ``mode`` in plain / optimized / compiled / bf16."""
    model = build_model(arch).eval().to(device)
    compile_s = 0.0
    if mode == "plain":
        net = model
        fmt = torch.contiguous_format
    else:
        net = prepare_for_inference(model, compile=mode.endswith("compiled"), dtype=MODE_DTYPES[mode])
        fmt = torch.channels_last
    x = torch.randn(batch, 3, height, width, device=device, dtype=MODE_DTYPES[mode])
    x = x.contiguous(memory_format=fmt)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    with torch.inference_mode():
        if mode.endswith("compiled"):
            start = time.perf_counter()
            net(x)
            sync()
            compile_s = time.perf_counter() - start
        seconds = _time(lambda: net(x), min_time, min_iters, sync)
    return seconds, compile_s


def run_pose_bench(
    cases: tuple[tuple[str, int, int], ...] = DEFAULT_CASES,
    batches: tuple[int, ...] = (1, 8),
    modes: tuple[str, ...] = tuple(MODE_DTYPES),
    device: str = "cpu",
    min_time: float = 2.0,
    echo: Callable[[str], None] = print,
) -> list[BenchRow]:
    """Measure every case x batch x mode and print a table as it goes."""
    dev = torch.device(device)
    echo(
        f"hrtrack bench pose: torch {torch.__version__}, device {dev}, threads {torch.get_num_threads()}, "
        f"{platform.processor() or platform.machine()}"
    )
    header = (
        f"{'model':<10} {'input':<8} {'batch':>5} {'mode':<13} {'ms/crop':>9} {'crops/s':>8} "
        f"{'GFLOP/s':>8} {'roofline':>8} {'ratio':>6}"
    )
    echo(header)
    echo("-" * len(header))
    rows = []
    for arch, height, width in cases:
        gmacs = PAPER_GMACS.get((arch, height, width))
        if gmacs is None:
            raise HrtrackError(f"no published GMACs for {arch} {height}x{width}")
        for batch in batches:
            roofs = {
                dtype: roofline_gflops(batch, height // 4, width // 4, dev, min(1.0, min_time), dtype)
                for dtype in {MODE_DTYPES[m] for m in modes}
            }
            for mode in modes:
                roof = roofs[MODE_DTYPES[mode]]
                seconds, compile_s = bench_network(arch, height, width, batch, mode, dev, min_time)
                row = BenchRow(
                    arch,
                    f"{height}x{width}",
                    batch,
                    mode,
                    seconds / batch * 1e3,
                    batch / seconds,
                    2 * gmacs * batch / seconds,
                    roof,
                )
                rows.append(row)
                note = f"  (compile {compile_s:.0f} s)" if compile_s else ""
                echo(
                    f"{arch:<10} {row.input_size:<8} {batch:>5} {mode:<13} {row.ms_per_crop:>9.1f} "
                    f"{row.crops_per_s:>8.2f} {row.gflops:>8.1f} {roof:>8.1f} {row.ratio:>6.0%}{note}"
                )
    return rows
