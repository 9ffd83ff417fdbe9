"""Learned optical flow (RAFT and the other models of the ptlflow package), an optional extra.

Install with ``pip install 'hrtrack[ptlflow]'`` (ptlflow plus torchvision 0.28.0). Spec:
``ptlflow:MODEL:CHECKPOINT`` where CHECKPOINT is a local file or one of ptlflow's checkpoint
names (e.g. ``things``), which ptlflow downloads into torch hub's cache on first use (never with
``HRTRACK_OFFLINE=1``; a failed download is a one-line error naming the URL and the path). ``none`` as
checkpoint runs the model with random weights (for tests and timing only).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from pose.errors import HrtrackError, third_party_quiet

INSTALL_HINT = "pip install 'hrtrack[ptlflow]' (ptlflow and torchvision==0.28.0)"
_SCHEMA_LIB: list[torch.library.Library] = []


def _define_torchvision_ops() -> None:
    """Let a CUDA-built torchvision import on CPU torch.

    torchvision registers fake kernels for ``torchvision::nms``/``qnms`` at import time, which
    fails when its compiled ops did not load (a CUDA wheel on CPU torch): the op schemas are then
    defined here first. Nothing is defined when the real ops exist.
    """
    try:
        torch.ops.torchvision.nms  # noqa: B018  (attribute access is the probe)
        return
    except (AttributeError, RuntimeError):
        pass
    lib = torch.library.Library("torchvision", "DEF")
    lib.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    lib.define("qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    _SCHEMA_LIB.append(lib)  # the definitions live as long as the Library object


def import_ptlflow():
    """Import ptlflow, or raise a one-line ValueError saying how to install it."""
    try:
        _define_torchvision_ops()
        with third_party_quiet():  # its import prints banners and deprecation warnings
            import ptlflow
    except ImportError as exc:
        raise HrtrackError(f"ptlflow flow needs the optional extra: {INSTALL_HINT} ({exc})") from None
    return ptlflow


def _named_checkpoint(ptlflow, model_name: str, name: str) -> tuple[str, str, Path]:
    """ptlflow's named checkpoint ``name``: (the name ptlflow takes, its URL, its file in torch hub's cache)."""
    urls = getattr(ptlflow.get_model_reference(model_name), "pretrained_checkpoints", {}) or {}
    if name not in urls:
        if os.sep in name or name.endswith((".ckpt", ".pth", ".pt")):
            raise HrtrackError(f"{name}: ptlflow checkpoint file not found")
        known = ", ".join(urls) or "none"
        raise HrtrackError(f"ptlflow:{model_name}: no checkpoint file or name {name!r} (named checkpoints: {known})")
    cached = Path(torch.hub.get_dir()) / "checkpoints" / Path(urls[name]).name
    from tracker.zoo import offline  # the one reading of HRTRACK_OFFLINE

    if not cached.is_file() and offline():
        raise HrtrackError(
            f"ptlflow:{model_name}:{name}: not in the cache and HRTRACK_OFFLINE is set; download {urls[name]} "
            f"and place it at {cached}"
        )
    return (str(cached) if cached.is_file() else name), urls[name], cached


class PtlflowFlow:
    """Dense flow from a ptlflow model on the CPU or GPU."""

    def __init__(self, model_name: str, checkpoint: str | None, device: str | torch.device = "cpu") -> None:
        ptlflow = import_ptlflow()
        if model_name not in ptlflow.get_model_names():
            raise HrtrackError(f"unknown ptlflow model {model_name!r}; e.g. raft_small, raft, rapidflow, neuflow2")
        if not checkpoint:
            raise HrtrackError(
                f"ptlflow:{model_name} needs a checkpoint: ptlflow:{model_name}:PATH to a local .ckpt, "
                "or a ptlflow checkpoint name such as things (downloaded on first use)"
            )
        ckpt = None if checkpoint == "none" else checkpoint
        named = None
        if ckpt is not None and not Path(ckpt).is_file():
            ckpt, url, cached = named = _named_checkpoint(ptlflow, model_name, ckpt)
        try:
            self.model = ptlflow.get_model(model_name, ckpt_path=ckpt).eval()  # ptlflow downloads a named one
        except Exception as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            if named is not None and not cached.is_file():
                raise HrtrackError(
                    f"cannot fetch ptlflow:{model_name}:{checkpoint} from {url} ({first}); download it and place it "
                    f"at {cached}"
                ) from None
            raise HrtrackError(
                f"ptlflow:{model_name}:{checkpoint}: could not load the checkpoint ({first}); give a local file path"
            ) from None
        self.device = torch.device(device)
        self.model.to(self.device)
        self.name = model_name

    @torch.inference_mode()
    def compute(self, prev: np.ndarray, nxt: np.ndarray) -> np.ndarray:
        from ptlflow.utils.io_adapter import IOAdapter

        h, w = prev.shape[:2]
        adapter = IOAdapter(self.model.output_stride, (h, w), cuda=self.device.type == "cuda")
        # ptlflow models take images as read by OpenCV (BGR, HWC uint8), scaled to [0,1] by the adapter
        inputs = adapter.prepare_inputs([prev, nxt])
        inputs = {k: v.to(self.device) if isinstance(v, torch.Tensor) else v for k, v in inputs.items()}
        preds = adapter.unscale(self.model(inputs))
        flow = preds["flows"][0, 0].permute(1, 2, 0).float().cpu().numpy()
        return np.ascontiguousarray(flow)
