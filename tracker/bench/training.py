"""Training-step throughput: images/s of one HRNet training step (forward + backward + Adam).

``hrtrack bench train`` measures the step the training loop repeats: a batch of random inputs
through the network in training mode, :class:`JointsMSELoss` against random targets, backward,
and an Adam step. Data loading is not included (it runs in parallel loader workers), so the
figure is the upper bound the network and optimiser allow on the device. The step runs as the
loop runs it: channels_last, and once more under bfloat16 autocast (``amp: true``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch

from pose.errors import HrtrackError
from pose.hrnet import build_model
from pose.train.loop import training_step
from pose.train.loss import JointsMSELoss


@dataclass
class TrainBenchRow:
    """One measurement: device, network, input (H, W), batch, seconds per step and images/s."""

    device: str
    arch: str
    input_size: tuple[int, int]
    batch: int
    step_seconds: float
    amp: bool = False

    @property
    def images_per_s(self) -> float:
        return self.batch / self.step_seconds

    def __str__(self) -> str:
        h, w = self.input_size
        return (
            f"train step {self.arch} {h}x{w} batch {self.batch} on {self.device}, "
            f"{'bf16 autocast' if self.amp else 'float32'}: "
            f"{self.step_seconds * 1000:.0f} ms/step, {self.images_per_s:.2f} images/s"
        )


def bench_train_step(
    device: str = "cpu",
    batch: int = 8,
    steps: int = 3,
    warmup: int = 1,
    arch: str = "hrnet_w32",
    input_size: tuple[int, int] = (256, 192),
    amp: bool = False,
) -> TrainBenchRow:
    """Median time of ``steps`` training steps after ``warmup`` untimed ones (CUDA synchronised).

    channels_last like the training loop; ``amp``: forward under bfloat16 autocast."""
    if steps < 1 or batch < 1:
        raise HrtrackError("steps and batch must be >= 1")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise HrtrackError("CUDA is not available")
    model = build_model(arch).to(dev, memory_format=torch.channels_last).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    criterion = JointsMSELoss()
    h, w = input_size
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(batch, 3, h, w, generator=gen).to(dev).contiguous(memory_format=torch.channels_last)
    target = torch.rand(batch, model.num_joints, h // 4, w // 4, generator=gen).to(dev)
    weight = torch.ones(batch, model.num_joints, 1, device=dev)

    def sync() -> None:
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)

    def step() -> None:
        training_step(model, optimizer, criterion, x, target, weight, amp)

    for _ in range(warmup):
        step()
    sync()
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        step()
        sync()
        times.append(time.perf_counter() - t0)
    times.sort()
    return TrainBenchRow(str(dev), arch, (h, w), batch, times[len(times) // 2], amp)


def run_train_bench(
    device: str = "cpu",
    batch: int = 8,
    steps: int = 3,
    arch: str = "hrnet_w32",
    input_size: tuple[int, int] = (256, 192),
    warmup: int = 1,
) -> list[TrainBenchRow]:
    """Print images/s of one training step on ``device`` and, when available, on CUDA too,
    in float32 and under bfloat16 autocast.

    ``device="cpu"`` measures the CPU and then the GPU if there is one; ``device="cuda"`` only
    the GPU. Returns the rows printed.
    """
    devices = [device]
    if device == "cpu" and torch.cuda.is_available():
        devices.append("cuda")
    rows = []
    for dev in devices:
        for amp in (False, True):
            row = bench_train_step(dev, batch, steps, warmup, arch, input_size, amp)
            print(row, flush=True)
            rows.append(row)
    return rows
