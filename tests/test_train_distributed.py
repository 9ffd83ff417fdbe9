"""DistributedDataParallel on CPU: 2 processes with the gloo backend.

``torchrun`` (``python -m torch.distributed.run``) starts the real command; a second test runs
:func:`pose.train.loop.train` under ``torch.multiprocessing.spawn`` so that every rank's final
weights can be compared (DDP keeps them identical).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from test_train_overfit import make_stick_figures

from pose.train.augment import AugmentConfig
from pose.train.data import KeypointDataset, coco_records
from pose.train.loop import TrainConfig, read_log, train

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_torchrun_two_cpu_processes(tmp_path: Path) -> None:
    ann = make_stick_figures(tmp_path / "figs", images=2, per_image=2)
    out = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", str(_free_port())]
    cmd += ["-m", "pose.train.cli", "train", "tiny_coco", "--out", str(out), "--device", "cpu"]
    for s in (f"data.train_ann={ann}", f"data.train_images={ann.parent}", "batch_size=2", "epochs=2"):
        cmd += ["--set", s]
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    # One set of outputs, written by rank 0 only: no stray files from rank 1.
    names = sorted(p.name for p in out.iterdir())
    assert names == ["best.pth", "config.yaml", "last.pth", "log.csv", "state.pth"]
    rows = read_log(out / "log.csv")
    assert [r["epoch"] for r in rows] == [1, 2]  # one row per epoch, not one per rank
    assert proc.stdout.count("done: best metric") + proc.stderr.count("done: best metric") == 1


def _worker(rank: int, world: int, port: int, folder: str) -> None:
    """One rank: gloo process group, train two epochs, save this rank's final weights."""
    os.environ.update({"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "LOCAL_RANK": str(rank)})
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        root = Path(folder)
        records = coco_records(root / "figs" / "figures.json", root / "figs")
        dataset = KeypointDataset(records, (64, 64), AugmentConfig(), seed=0)
        cfg = TrainConfig(
            arch="hrnet_w8",
            input_size=(64, 64),
            epochs=2,
            batch_size=2,
            workers=0,
            out_dir=str(root / "run"),
            progress=False,
            tensorboard=False,
            seed=rank,  # different torch seeds: DDP must still start all ranks from rank 0's weights
        )
        result = train(cfg, dataset)
        torch.save(result.model.state_dict(), root / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def test_ddp_ranks_end_with_identical_weights(tmp_path: Path) -> None:
    make_stick_figures(tmp_path / "figs", images=2, per_image=2)
    mp.spawn(_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True)
    a = torch.load(tmp_path / "rank0.pt")
    b = torch.load(tmp_path / "rank1.pt")
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=1e-6, msg=key)
    last = torch.load(tmp_path / "run" / "last.pth")
    for key in a:
        torch.testing.assert_close(a[key], last[key], rtol=0, atol=0, msg=key)  # rank 0 wrote last.pth
    assert len(read_log(tmp_path / "run" / "log.csv")) == 2
