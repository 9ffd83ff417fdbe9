"""``hrtrack train``: train HRNet from a YAML config, on one CPU/GPU or many GPUs with torchrun.

Usage (one process)::

    hrtrack train coco_w32_256x192 --set data.train_ann=... --out runs/w32 --device cuda

Usage (4 GPUs on one node; multi-node: add ``--nnodes``/``--node_rank``/``--rdzv_*``)::

    torchrun --nproc_per_node 4 -m pose.train.cli train coco_w32_256x192 --device cuda

``python -m pose.train.cli`` is the same command without the rest of the ``hrtrack`` CLI, so
that torchrun can start it as a module. Under torchrun (``WORLD_SIZE`` > 1) the process group is
initialised here (NCCL for CUDA, gloo for CPU) with a long timeout, because the other ranks wait
at a barrier while rank 0 validates; :func:`pose.train.loop.train` does the rest.

The run folder receives ``config.yaml`` (the resolved config), ``log.csv``, ``last.pth``,
``best.pth``, ``state.pth`` and, when tensorboard is installed, ``tb/``.
"""

from __future__ import annotations

import argparse
import datetime
import logging
import logging.handlers
import os
import shutil
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from torch import nn

from pose.errors import HrtrackError
from pose.train.config import ExperimentConfig, dump_config, load_config
from pose.train.loop import STATE_FILE

log = logging.getLogger(__name__)

DIST_TIMEOUT = datetime.timedelta(hours=2)  # rank 0 validating a full COCO val keeps others waiting


def _flip_pairs(dataset: str) -> tuple[tuple[int, int], ...]:
    from pose.keypoints import COCO, POSETRACK18

    return (COCO if dataset == "coco" else POSETRACK18).flip_pairs


def load_records(dataset: str, ann: str, images: str) -> list:
    """Person records of ``dataset`` (``coco``, ``posetrack18`` or ``posetrack17``)."""
    from pose.train.data import coco_records, posetrack17_records, posetrack18_records

    for key, value in (("data.train_ann", ann), ("data.train_images", images)):
        if not value:
            raise HrtrackError(f"config key {key!r} must be set (in the config or with --set {key}=...)")
    if not Path(ann).is_file():
        raise HrtrackError(f"data.train_ann {ann}: no such file")
    if not Path(images).is_dir():
        raise HrtrackError(f"data.train_images {images}: no such folder")
    loader = {"coco": coco_records, "posetrack18": posetrack18_records, "posetrack17": posetrack17_records}[dataset]
    return loader(ann, images)


def build_validator(exp: ExperimentConfig) -> Callable[[nn.Module], float] | None:
    """The ``validate`` callback of ``exp``: COCO AP for coco, PoseTrack total mAP (/100) otherwise.

    The network is validated as a plain HRNet rebuilt from the trained weights, so that a model
    converted to SyncBatchNorm or still on the training device is validated the same way.
    None when no validation set is configured.
    """
    from pose.hrnet import build_model
    from pose.train.validate import coco_validator, posetrack_validator

    data, cfg = exp.data, exp.train
    if not data.val_ann:
        return None
    if not data.val_images:
        raise HrtrackError("data.val_images must be set when data.val_ann is")
    if data.dataset == "coco":
        det = None if data.val_boxes == "gt" else data.val_boxes
        inner = coco_validator(
            data.val_ann, data.val_images, cfg.input_size, cfg.device, data.flip_test, det, data.det_score_threshold
        )
    else:
        inner = posetrack_validator(data.val_ann, data.val_images, cfg.input_size, cfg.device, data.flip_test)

    def validate(model: nn.Module) -> float:
        plain = build_model(cfg.arch)
        plain.load_state_dict({k: v.detach().cpu() for k, v in model.state_dict().items()})
        return inner(plain)

    return validate


def _init_distributed(device: str) -> bool:
    """Initialise the torchrun process group when ``WORLD_SIZE`` > 1; True when it was done here."""
    import torch.distributed as dist

    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or dist.is_initialized():
        return False
    backend = "nccl" if device == "cuda" else "gloo"
    dist.init_process_group(backend=backend, timeout=DIST_TIMEOUT)
    return True


def run_train(args: argparse.Namespace) -> int:
    """Run the ``train`` command; returns the exit status (0 ok, 2 bad config or data).

    The log messages of the preparation (config, data, model) are held until training starts, so
    that a run rejected before says one line only."""
    rank = int(os.environ.get("RANK", "0"))
    logging.basicConfig(level=logging.INFO if rank == 0 else logging.WARNING, format="%(message)s")
    held = _HeldLog(logging.getLogger(), hold=rank == 0)  # only rank 0 calls on_start
    try:
        return _run_train(args, held, rank)
    finally:
        held.restore()


def _run_train(args: argparse.Namespace, held: _HeldLog, rank: int) -> int:
    from pose.train.data import KeypointDataset
    from pose.train.loop import train

    exp = load_config(args.config, list(args.overrides or []))
    if args.out:
        exp.train.out_dir = args.out
    if args.device:
        exp.train.device = args.device
    if args.resume:
        exp.train.resume = True
    if exp.train.device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise HrtrackError(f"config key 'device': {exp.train.device} but no CUDA device is available")
    out_dir = Path(exp.train.out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise HrtrackError(f"--out {out_dir}: exists and is not a folder")
    records = load_records(exp.data.dataset, exp.data.train_ann, exp.data.train_images)
    augment = exp.augment.to_augment_config(_flip_pairs(exp.data.dataset))
    dataset = KeypointDataset(
        records, exp.train.input_size, augment, exp.data.sigma, exp.train.seed, exp.data.unbiased_target
    )
    validate = build_validator(exp) if rank == 0 else None

    started = _init_distributed(exp.train.device)
    out_dir = Path(exp.train.out_dir)
    fresh = rank == 0 and not out_dir.exists()

    def on_start() -> None:
        held.show()
        dump_config(exp, out_dir / "config.yaml")
        log.info("training %s on %d persons (%s), output in %s", exp.train.arch, len(dataset), exp.source, out_dir)

    try:
        if validate is None and int(os.environ.get("WORLD_SIZE", "1")) > 1 and exp.data.val_ann:
            validate = _never_called  # ranks > 0: validation happens on rank 0 only
        result = train(exp.train, dataset, validate, on_start=on_start)  # bad pretrained weights: HrtrackError
    except BaseException:
        if fresh and not (out_dir / STATE_FILE).exists():  # failed before its first epoch: leave nothing
            shutil.rmtree(out_dir, ignore_errors=True)
        raise
    finally:
        if started:
            import torch.distributed as dist

            dist.destroy_process_group()
    if rank == 0:
        log.info(
            "done: best metric %.4f at epoch %d; weights in %s",
            result.best_metric,
            result.best_epoch,
            exp.train.out_dir,
        )
    return 0


class _HeldLog(logging.handlers.MemoryHandler):
    """Keeps the log records of a run's preparation until :meth:`show`; dropped if it fails."""

    def __init__(self, root: logging.Logger, hold: bool = True) -> None:
        super().__init__(capacity=100000, flushLevel=logging.CRITICAL + 1)
        self.root, self.kept = root, list(root.handlers)
        if not hold:
            return
        for h in self.kept:
            root.removeHandler(h)
        root.addHandler(self)

    def show(self) -> None:
        """Put the handlers back and pass them the records held so far."""
        records, self.buffer = self.buffer, []
        self.restore()
        for h in self.kept:
            for record in records:
                if record.levelno >= h.level:
                    h.handle(record)

    def restore(self) -> None:
        """Put the handlers back (the held records are dropped); does nothing the second time."""
        if self in self.root.handlers:
            self.root.removeHandler(self)
            for h in self.kept:
                self.root.addHandler(h)
        self.buffer = []

    def shouldFlush(self, record: logging.LogRecord) -> bool:  # noqa: N802 - logging's name
        return False


def _never_called(model: nn.Module) -> float:
    """Validation placeholder of ranks > 0 (so that every rank follows the same epoch schedule)."""
    raise AssertionError("validation runs on rank 0 only")


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m pose.train.cli train ...`` (the entry point for torchrun): the ``train`` command
    alone, behind the same error boundary as ``hrtrack`` (:func:`pose.options.run`)."""
    from pose.options import Parser, run
    from pose.train import command

    def build_parser() -> Parser:
        parser = Parser(prog="hrtrack", description="Train HRNet (the hrtrack train command).")
        command.add_parser(parser.add_subparsers(dest="command", required=True, metavar="COMMAND"))
        return parser

    return run(build_parser, argv)


if __name__ == "__main__":
    sys.exit(main())
