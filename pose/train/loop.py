"""The training loop: Adam + MultiStepLR, progress bar, CSV log, best/last weights, resume.

Files written to ``TrainConfig.out_dir``:

* ``last.pth`` / ``best.pth``: plain state_dicts in the official key layout (loadable by
  :func:`pose.load_checkpoint` and by the official code), written atomically;
* ``state.pth``: the training state (model, optimizer, scheduler, next epoch, best metric, RNG
  states, config), written atomically after every epoch; ``resume=True`` continues from it;
* ``log.csv``: one row per epoch (epoch, loss, lr, imgs_per_s, metric, seconds);
* ``tb/``: the same scalars for TensorBoard, only when ``torch.utils.tensorboard`` imports (the
  ``tensorboard`` package is installed) and ``TrainConfig.tensorboard`` is on; skipped silently
  otherwise.

Multi-GPU / multi-node: when a ``torch.distributed`` process group is initialised (``torchrun``,
see :mod:`pose.train.cli`), the model is wrapped in ``DistributedDataParallel`` (optionally with
``SyncBatchNorm``), each process reads its share of every epoch through a ``DistributedSampler``
(``set_epoch`` every epoch) and ``batch_size`` is the batch of ONE process (the official runs:
4 GPUs x 32). Only rank 0 validates, writes files and logs and shows the progress bar; the
others wait for it at a barrier after every epoch. A single process (CPU or one GPU) needs no
``torchrun`` and trains exactly as before.

The metric that selects ``best.pth`` is the ``validate`` callback's value (higher is better, e.g.
COCO AP from :func:`pose.train.validate.evaluate_coco`), or minus the training loss without one.
"""

from __future__ import annotations

import csv
import dataclasses
import logging
import math
import os
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from pose.checkpoint import load_checkpoint, load_pretrained_backbone, save_atomic, save_state_dict
from pose.errors import HrtrackError, first_line
from pose.hrnet import build_model
from pose.train.loss import JointsMSELoss

log = logging.getLogger(__name__)

CSV_FIELDS = ("epoch", "loss", "lr", "imgs_per_s", "metric", "seconds")
STATE_FILE = "state.pth"


@dataclass
class TrainConfig:
    """Parameters of a training run; the defaults are the official COCO W32 256x192 recipe.

    For the PoseTrack fine-tune (HRNet §4.3) start from the COCO model with ``init_weights``,
    ``lr=1e-4``, ``lr_steps=(10, 15)``, ``epochs=20``.

    Attributes:
        arch: ``hrnet_w32``, ``hrnet_w48`` or any ``hrnet_wC``.
        input_size: (height, width), multiples of 32.
        epochs: total number of epochs (a resumed run continues up to it).
        lr, lr_steps, lr_factor: Adam learning rate, multiplied by ``lr_factor`` at each step epoch.
        batch_size, workers: data loader settings (the official runs used 4 GPUs x 32 images).
        seed: seed of the shuffling and of the augmentation (the dataset's own seed is used for
            the augmentation; this one seeds the shuffle order and torch).
        device: torch device.
        out_dir: folder for the weights, the training state and the CSV log.
        pretrained: ImageNet-pretrained backbone checkpoint (only the backbone is loaded).
        init_weights: full pose checkpoint to start from (e.g. the COCO model for PoseTrack).
        resume: continue from ``out_dir/state.pth`` when it exists.
        max_steps_per_epoch: cut every epoch short (smoke tests, debugging).
        val_every: validate every this many epochs (and after the last one).
        progress: show a tqdm progress bar (rank 0 only).
        sync_bn: convert BatchNorm to SyncBatchNorm under DistributedDataParallel (GPU only;
            ignored with a warning on CPU, where PyTorch has no SyncBatchNorm kernel).
        tensorboard: also write TensorBoard scalars when the tensorboard package is installed.
        amp: run the forward pass under bfloat16 autocast (the loss and the weights stay
            float32). About 1.9x faster on CPUs with AMX/AVX512-BF16 and on Ampere+ GPUs; no
            gradient scaler is needed with bfloat16.
        channels_last: keep the network and the batches in channels_last memory layout (the
            faster convolution path on CPU and on tensor-core GPUs). The same computation up to
            float rounding; the saved state_dicts have the usual contiguous layout.
    """

    arch: str = "hrnet_w32"
    input_size: tuple[int, int] = (256, 192)
    epochs: int = 210
    lr: float = 1e-3
    lr_steps: tuple[int, ...] = (170, 200)
    lr_factor: float = 0.1
    batch_size: int = 32
    workers: int = 4
    seed: int = 0
    device: str = "cpu"
    out_dir: str = "runs/train"
    pretrained: str | None = None
    init_weights: str | None = None
    resume: bool = False
    max_steps_per_epoch: int | None = None
    val_every: int = 1
    progress: bool = True
    sync_bn: bool = False
    tensorboard: bool = True
    amp: bool = False
    channels_last: bool = True

    def __post_init__(self) -> None:
        h, w = self.input_size
        if h % 32 or w % 32:
            raise HrtrackError(f"input_size {self.input_size} must be multiples of 32 (HRNet's 4 resolutions)")
        if self.epochs < 1 or self.batch_size < 1 or self.lr <= 0:
            raise HrtrackError("epochs and batch_size must be >= 1 and lr > 0")
        self.input_size = (int(h), int(w))
        self.lr_steps = tuple(int(s) for s in self.lr_steps)


@dataclass
class TrainResult:
    """Outcome of :func:`train`: the model (last epoch), best metric, and the per-epoch log rows."""

    model: nn.Module
    best_metric: float
    best_epoch: int
    history: list[dict[str, float]] = field(default_factory=list)


def _rng_state() -> dict[str, object]:
    state: dict[str, object] = {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, object]) -> None:
    random.setstate(state["python"])  # type: ignore[arg-type]
    np.random.set_state(state["numpy"])  # type: ignore[arg-type]
    torch.set_rng_state(state["torch"])  # type: ignore[arg-type]
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])  # type: ignore[arg-type]


def _append_csv(path: Path, row: dict[str, float]) -> None:
    new = not path.exists()
    with path.open("a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=CSV_FIELDS)
        if new:
            writer.writeheader()
        writer.writerow({k: row[k] for k in CSV_FIELDS})


def _truncate_log(path: Path, last_epoch: int) -> None:
    """Drop log rows after ``last_epoch`` (written by an epoch whose state was never saved)."""
    if not path.exists():
        return
    rows = [r for r in read_log(path) if r["epoch"] <= last_epoch]
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=CSV_FIELDS)
        writer.writeheader()
        for r in rows:
            writer.writerow({**r, "epoch": int(r["epoch"])})
    os.replace(tmp, path)


def build_training_model(config: TrainConfig, num_joints: int = 17) -> nn.Module:
    """The network of ``config`` with the pretrained backbone or initial weights loaded."""
    model = build_model(config.arch, num_joints)
    if config.pretrained:
        load_pretrained_backbone(model, _zoo_or_path(config.pretrained, "backbone"))
    if config.init_weights:
        load_checkpoint(model, _zoo_or_path(config.init_weights, "pose"))
    return model


def _zoo_or_path(spec: str, kind: str) -> str:
    """A checkpoint path, or the cached file of a zoo model of ``kind`` (e.g. ``hrnet_w48_imagenet``)."""
    from pose import zoo

    entry = None if Path(spec).is_file() else zoo.lookup(spec, kind)
    return spec if entry is None else str(zoo.fetch(entry))


@dataclass
class _Dist:
    """Where this process stands in a ``torch.distributed`` job (world 1 without one)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world > 1

    @property
    def main(self) -> bool:
        return self.rank == 0


def _dist_info() -> _Dist:
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        return _Dist()
    return _Dist(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))


def _barrier(info: _Dist) -> None:
    if info.enabled:
        import torch.distributed as dist

        dist.barrier()


def _resolve_device(config: TrainConfig, info: _Dist) -> torch.device:
    """``cuda`` means this process's GPU (``LOCAL_RANK``) under torchrun; anything else as given."""
    device = torch.device(config.device)
    if device.type == "cuda" and device.index is None and info.enabled:
        device = torch.device("cuda", info.local_rank)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    return device


class _Scalars:
    """TensorBoard scalar writer when ``torch.utils.tensorboard`` imports, else a silent no-op."""

    def __init__(self, folder: Path, enabled: bool) -> None:
        self.writer = None
        if not enabled:
            return
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:  # the tensorboard package is optional
            return
        self.writer = SummaryWriter(log_dir=str(folder))

    def add(self, row: dict[str, float]) -> None:
        if self.writer is None:
            return
        step = int(row["epoch"])
        for key in ("loss", "lr", "imgs_per_s", "seconds"):
            self.writer.add_scalar(f"train/{key}", row[key], step)
        if not math.isnan(row["metric"]):
            self.writer.add_scalar("val/metric", row["metric"], step)
        self.writer.flush()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def _loader(config: TrainConfig, train_set: Dataset, epoch: int, info: _Dist, device: torch.device) -> DataLoader:
    """The epoch's loader: a seeded shuffle in one process, a DistributedSampler under torchrun."""
    common = {
        "batch_size": config.batch_size,
        "num_workers": config.workers,
        "pin_memory": device.type == "cuda",
        "persistent_workers": False,
    }
    if info.enabled:
        from torch.utils.data.distributed import DistributedSampler

        sampler = DistributedSampler(
            train_set, num_replicas=info.world, rank=info.rank, shuffle=True, seed=config.seed, drop_last=True
        )
        sampler.set_epoch(epoch)
        per_rank = len(sampler)
        return DataLoader(train_set, sampler=sampler, drop_last=per_rank >= config.batch_size, **common)
    shuffle = torch.Generator().manual_seed(config.seed * 100_003 + epoch)
    return DataLoader(
        train_set,
        shuffle=True,
        generator=shuffle,
        drop_last=len(train_set) >= config.batch_size,  # type: ignore[arg-type]
        **common,
    )


def training_step(
    net: nn.Module,
    optimizer: torch.optim.Optimizer,
    criterion: JointsMSELoss,
    images: torch.Tensor,
    target: torch.Tensor,
    weight: torch.Tensor,
    amp: bool = False,
) -> torch.Tensor:
    """One optimisation step; returns the (detached) loss. ``amp``: the forward pass runs under
    bfloat16 autocast, the loss is computed in float32 from the float32 copy of the heatmaps."""
    with torch.autocast(images.device.type, dtype=torch.bfloat16, enabled=amp):
        heatmaps = net(images)
    loss = criterion(heatmaps.float(), target, weight)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss.detach()


def train(
    config: TrainConfig,
    train_set: Dataset,
    validate: Callable[[nn.Module], float] | None = None,
    model: nn.Module | None = None,
    on_start: Callable[[], None] | None = None,
) -> TrainResult:
    """Train ``model`` (default: :func:`build_training_model`) on ``train_set``.

    ``on_start`` is called (rank 0) once the model, its weights and any resume state are loaded,
    just before the first epoch: ``hrtrack train`` writes ``config.yaml`` then, so that a run
    rejected earlier leaves nothing. ``train_set`` yields ``(image, target, target_weight, meta)`` like
    :class:`pose.train.data.KeypointDataset`; its ``set_epoch`` is called every epoch when it has
    one. ``validate(model) -> float`` (higher is better) runs every ``val_every`` epochs, on rank
    0 only under torchrun (it receives the plain model, never the DDP wrapper). The returned
    model is the plain (unwrapped) network of this process.

    Steps:

    1. the model on its device and memory layout (the pretrained or initial weights loaded);
    2. with ``resume``, the model, optimizer, schedule, best metric and RNG state from ``state.pth``;
    3. under torchrun, the DistributedDataParallel wrapper (SyncBatchNorm on GPUs when asked);
    4. per epoch: the shuffled loader, the training steps (bf16 autocast with ``amp``), the
       schedule step, the job-wide loss (all-reduced);
    5. validation (rank 0) every ``val_every`` epochs and after the last;
    6. rank 0 writes the log row, ``best.pth`` when the metric improved, ``last.pth`` and the
       atomic ``state.pth``; every rank then waits at a barrier.
    """
    # 1. the model
    info = _dist_info()
    out = Path(config.out_dir)
    device = _resolve_device(config, info)
    torch.manual_seed(config.seed)
    model = (build_training_model(config) if model is None else model).to(device)
    layout = torch.channels_last if config.channels_last else torch.contiguous_format
    model = model.to(memory_format=layout)

    # 2. resume
    state_path = out / STATE_FILE
    state = None
    if config.resume and state_path.exists():
        try:
            state = torch.load(state_path, map_location=device, weights_only=False)
            model.load_state_dict(state["model"])
        except Exception as e:  # truncated, foreign or from another architecture
            first = first_line(e)
            raise HrtrackError(f"{state_path}: cannot resume from this training state ({first})") from None
    elif config.resume and info.main:
        log.warning("resume requested but %s does not exist: starting from scratch", state_path)

    # 3. distributed wrapper, loss, optimizer, schedule
    net: nn.Module = model
    if info.enabled:
        from torch.nn.parallel import DistributedDataParallel

        if config.sync_bn and device.type == "cuda":
            model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
        elif config.sync_bn and info.main:
            log.warning("sync_bn ignored: SyncBatchNorm needs CUDA devices")
        net = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    criterion = JointsMSELoss(use_target_weight=True)
    optimizer = torch.optim.Adam(net.parameters(), lr=config.lr)
    scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, list(config.lr_steps), config.lr_factor)

    start_epoch, best_metric, best_epoch = 0, -math.inf, -1
    if state is not None:
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        start_epoch, best_metric, best_epoch = state["epoch"], state["best_metric"], state["best_epoch"]
        _set_rng_state(state["rng"])
        if info.main:
            _truncate_log(out / "log.csv", start_epoch)
            log.info("resumed from %s at epoch %d (best metric %.4f)", state_path, start_epoch, best_metric)
    elif info.main and (out / "log.csv").exists():
        (out / "log.csv").unlink()  # a fresh run starts a fresh log (no rows of an older run)
    if info.main:
        out.mkdir(parents=True, exist_ok=True)

    if on_start is not None and info.main:
        on_start()  # everything checked (model, pretrained weights, resume state): the run folder fills
    scalars = _Scalars(out / "tb", config.tensorboard and info.main)
    history: list[dict[str, float]] = []
    for epoch in range(start_epoch, config.epochs):
        # 4. one epoch of training
        if hasattr(train_set, "set_epoch"):
            train_set.set_epoch(epoch)
        loader = _loader(config, train_set, epoch, info, device)
        steps = len(loader) if config.max_steps_per_epoch is None else min(len(loader), config.max_steps_per_epoch)
        net.train()
        lr = optimizer.param_groups[0]["lr"]
        total_loss, seen, t0 = 0.0, 0, time.perf_counter()
        show = config.progress and info.main
        bar = tqdm(total=steps, desc=f"epoch {epoch + 1}/{config.epochs}", disable=not show, leave=False)
        for step, (images, target, weight, _meta) in enumerate(loader):
            if step >= steps:
                break
            images = images.to(device, non_blocking=True).contiguous(memory_format=layout)
            target = target.to(device, non_blocking=True)
            weight = weight.to(device, non_blocking=True)
            loss = training_step(net, optimizer, criterion, images, target, weight, config.amp)
            total_loss += float(loss) * len(images)
            seen += len(images)
            rate = seen * info.world / max(time.perf_counter() - t0, 1e-9)
            bar.set_postfix(loss=f"{total_loss / seen:.3e}", lr=f"{lr:.1e}", imgs_s=f"{rate:.1f}")
            bar.update(1)
        bar.close()
        scheduler.step()
        if info.enabled:  # the log shows the loss and speed of the whole job
            import torch.distributed as dist

            sums = torch.tensor([total_loss, float(seen)], dtype=torch.float64, device=device)
            dist.all_reduce(sums)
            total_loss, seen = float(sums[0]), int(sums[1])
        seconds = time.perf_counter() - t0
        mean_loss = total_loss / max(seen, 1)
        last_epoch = epoch + 1 == config.epochs
        # 5. validation
        metric = float("nan")
        if validate is not None and ((epoch + 1) % config.val_every == 0 or last_epoch):
            if info.main:
                metric = float(validate(model))
            net.train()
        elif validate is None:
            metric = -mean_loss
        row = {
            "epoch": epoch + 1,
            "loss": mean_loss,
            "lr": lr,
            "imgs_per_s": seen / max(seconds, 1e-9),
            "metric": metric,
            "seconds": seconds,
        }
        history.append(row)
        # 6. outputs (rank 0), then the barrier
        if not math.isnan(metric) and metric > best_metric:
            best_metric, best_epoch = metric, epoch + 1
            if info.main:
                save_state_dict(model, out / "best.pth")
        if info.main:
            _append_csv(out / "log.csv", row)
            scalars.add(row)
            save_state_dict(model, out / "last.pth")
            save_atomic(
                {
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(),
                    "epoch": epoch + 1,
                    "best_metric": best_metric,
                    "best_epoch": best_epoch,
                    "rng": _rng_state(),
                    "config": dataclasses.asdict(config),
                },
                state_path,
            )
            log.info(
                "epoch %d/%d loss %.4e lr %.1e %.1f imgs/s metric %.4f",
                epoch + 1,
                config.epochs,
                mean_loss,
                lr,
                row["imgs_per_s"],
                metric,
            )
        _barrier(info)  # the others wait while rank 0 validates and writes
    scalars.close()
    return TrainResult(model, best_metric, best_epoch, history)


def read_log(path: str | os.PathLike[str]) -> list[dict[str, float]]:
    """Rows of a ``log.csv`` written by :func:`train`, as floats."""
    with Path(path).open(newline="") as f:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]


def lr_at(config: TrainConfig, epoch: int, steps: Sequence[int] | None = None) -> float:
    """Learning rate of ``epoch`` (0-based) under the MultiStepLR schedule of ``config``."""
    steps = config.lr_steps if steps is None else steps
    return config.lr * config.lr_factor ** sum(1 for s in steps if epoch >= s)
