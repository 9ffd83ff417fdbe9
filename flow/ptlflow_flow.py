"""Learned optical flow (RAFT and the other models of the ptlflow package), an optional extra.

Install with ``pip install 'hrtrack[ptlflow]'`` (ptlflow plus torchvision 0.28.0). Spec:
``ptlflow:MODEL:CHECKPOINT[:iters=N]``.

CHECKPOINT is one of:

* a local file: a ptlflow (Lightning) checkpoint, a dict with ``state_dict``; or a plain state_dict,
  such as the official RAFT weights (``raft-small.pth``), whose DataParallel ``module.`` prefix is
  stripped. The file is read without running pickled code (as HRNet checkpoints are). The weights
  must fit MODEL exactly (strict loading); a file that is not a torch file, holds
  no state_dict, or has missing, unexpected or differently shaped weights is a one-line error naming it.
  Paths containing ``:`` are not supported (``:`` separates the spec's parts);
* one of ptlflow's checkpoint names (e.g. ``things``), which ptlflow downloads into torch hub's cache
  on first use (never with ``HRTRACK_OFFLINE=1``; a failed download is a one-line error naming the URL
  and the path);
* ``none``: the model with random weights (for tests and timing only).

``iters=N`` (1 to 100) sets the refinement iterations of the models that have them (RAFT and its
kin; ptlflow's default for RAFT is 32): fewer are faster and coarser.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch

from pose.errors import HrtrackError, first_line, third_party_quiet

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
    from pose.zoo import offline  # the one reading of HRTRACK_OFFLINE

    if not cached.is_file() and offline():
        raise HrtrackError(
            f"ptlflow:{model_name}:{name}: not in the cache and HRTRACK_OFFLINE is set; download {urls[name]} "
            f"and place it at {cached}"
        )
    return (str(cached) if cached.is_file() else name), urls[name], cached


def _torch_load(path: str) -> object:
    """The object in the torch file ``path``, read without running pickled code
    (:func:`pose.checkpoint.read_checkpoint`: one-line errors naming the file)."""
    from pose.checkpoint import read_checkpoint

    return read_checkpoint(path)


def _what(obj: object) -> str:
    """A few words on what ``obj`` is, for an error message."""
    if isinstance(obj, Mapping):
        keys = list(obj)
        shown = ", ".join(repr(k) for k in keys[:3]) + (", ..." if len(keys) > 3 else "")
        return f"a dict with {len(keys)} entries ({shown})" if keys else "an empty dict"
    if isinstance(obj, (list, tuple)):
        return f"a {type(obj).__name__} of {len(obj)} items"
    return f"a {type(obj).__module__}.{type(obj).__qualname__}".replace("builtins.", "")


def read_state_dict(path: str) -> tuple[dict[str, torch.Tensor], Mapping | None]:
    """The weights in checkpoint file ``path`` and its ptlflow hyper-parameters (None when it has none).

    Takes a ptlflow/Lightning checkpoint (a dict with ``state_dict``), a plain state_dict, and a
    state_dict saved from ``nn.DataParallel`` (every key starts with ``module.``, which is stripped).
    """
    obj = _torch_load(path)
    hparams = None
    if isinstance(obj, Mapping) and isinstance(obj.get("state_dict"), Mapping):
        hparams = obj.get("hyper_parameters")
        obj = obj["state_dict"]
    if not isinstance(obj, Mapping) or not obj:
        raise HrtrackError(f"{path}: not a state_dict or a checkpoint with one: it holds {_what(obj)}")
    bad = next(((k, v) for k, v in obj.items() if not (isinstance(k, str) and isinstance(v, torch.Tensor))), None)
    if bad is not None:
        what = _what(bad[1])
        raise HrtrackError(f"{path}: not a state_dict: it holds {_what(obj)}, and {bad[0]!r} is {what}, not a tensor")
    state = dict(obj)
    if all(k.startswith("module.") for k in state):
        state = {k[len("module.") :]: v for k, v in state.items()}
    return state, hparams if isinstance(hparams, Mapping) else None


def load_weights(model: torch.nn.Module, path: str, label: str) -> None:
    """Load the checkpoint file ``path`` into ``model`` strictly; ``label`` names the model in errors.

    Each way a file can fail to fit (missing or unexpected keys, a different shape) is a one-line
    error naming the file and the first offending key.
    """
    state, hparams = read_state_dict(path)
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing {len(missing)} of the model's {len(own)} weights (e.g. {missing[0]!r})")
        if unexpected:
            parts.append(f"{len(unexpected)} keys the model does not have (e.g. {unexpected[0]!r})")
        hint = "; is it a checkpoint of another model?" if missing and unexpected else ""
        raise HrtrackError(f"{path}: does not fit {label}: {', '.join(parts)}{hint}")
    for key, tensor in own.items():
        if state[key].shape != tensor.shape:
            raise HrtrackError(
                f"{path}: does not fit {label}: {key!r} has shape {tuple(state[key].shape)} in the file, "
                f"{tuple(tensor.shape)} in the model"
            )
    try:
        model.load_state_dict(state, strict=True)
    except Exception as exc:  # e.g. a dtype that cannot be copied
        raise HrtrackError(f"{path}: does not fit {label}: {first_line(exc)}") from None
    if hparams:  # as ptlflow restores its own checkpoints
        try:
            if hparams.get("train_size") is not None:
                model.train_size = hparams["train_size"]
            if hparams.get("train_avg_length") is not None:
                model.train_avg_length = hparams["train_avg_length"]
            for name, value in (hparams.get("extra_params") or {}).items():
                model.add_extra_param(name, value)
        except (AssertionError, AttributeError, TypeError) as exc:
            raise HrtrackError(f"{path}: bad hyper_parameters for {label} ({first_line(exc)})") from None


def set_iters(model: torch.nn.Module, iters: int, label: str) -> None:
    """Set the refinement iterations of a ptlflow model that has them (its ``iters`` hyper-parameter)."""
    current = getattr(model, "iters", None)
    if not isinstance(current, int) or isinstance(current, bool):
        raise HrtrackError(f"{label} has no refinement iterations to set (iters=); drop the option")
    model.iters = iters  # RAFT-like models read it on every forward pass
    hp = getattr(model, "hparams", None)
    if isinstance(hp, dict) and "iters" in hp:
        hp["iters"] = iters  # what the model reports as its configuration


class PtlflowFlow:
    """Dense flow from a ptlflow model on the CPU or GPU."""

    def __init__(
        self,
        model_name: str,
        checkpoint: str | None,
        device: str | torch.device = "cpu",
        iters: int | None = None,
    ) -> None:
        ptlflow = import_ptlflow()
        if model_name not in ptlflow.get_model_names():
            raise HrtrackError(f"unknown ptlflow model {model_name!r}; e.g. raft_small, raft, rapidflow, neuflow2")
        if not checkpoint:
            raise HrtrackError(
                f"ptlflow:{model_name} needs a checkpoint: ptlflow:{model_name}:PATH to a local .ckpt or .pth, "
                "or a ptlflow checkpoint name such as things (downloaded on first use)"
            )
        label = f"ptlflow:{model_name}"
        if checkpoint != "none" and Path(checkpoint).is_file():
            self.model = ptlflow.get_model(model_name)  # random weights, replaced by the file's
            load_weights(self.model, checkpoint, label)
        else:
            self.model = self._named_or_none(ptlflow, model_name, checkpoint)
        self.model.eval()
        if iters is not None:
            set_iters(self.model, iters, label)
        self.device = torch.device(device)
        self.model.to(self.device)
        self.name = model_name

    @staticmethod
    def _named_or_none(ptlflow, model_name: str, checkpoint: str) -> torch.nn.Module:
        """The model with ptlflow's named checkpoint (downloaded by ptlflow), or random weights for ``none``."""
        ckpt = None if checkpoint == "none" else checkpoint
        named = None
        if ckpt is not None:
            ckpt, url, cached = named = _named_checkpoint(ptlflow, model_name, ckpt)
        try:
            return ptlflow.get_model(model_name, ckpt_path=ckpt)
        except Exception as exc:
            first = first_line(exc)
            if named is not None and not cached.is_file():
                raise HrtrackError(
                    f"cannot fetch ptlflow:{model_name}:{checkpoint} from {url} ({first}); download it and place it "
                    f"at {cached}"
                ) from None
            raise HrtrackError(f"ptlflow:{model_name}:{checkpoint}: could not load the checkpoint ({first})") from None

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
