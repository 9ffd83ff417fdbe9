"""Loading HRNet weights from the checkpoint formats people actually have.

Accepted, all loaded strictly (every key present, no extra keys, identical shapes):

* a plain official state_dict (the HRNet model zoo's ``pose_hrnet_w32_256x192.pth`` files);
* the same with a ``module.`` prefix (saved from ``DataParallel``/``DistributedDataParallel``);
* a training checkpoint dict holding the weights under ``state_dict`` (or ``model``);
* mmpose checkpoints: ``backbone.*`` plus ``head.final_layer.*`` (1.x) or
  ``keypoint_head.final_layer.*`` (0.x).

ImageNet-pretrained HRNet *classification* checkpoints go through :func:`load_pretrained_backbone`,
which takes only the backbone (stem, layer1, transitions, stages) and skips the classification
parts (incre_modules, downsamp_modules, final_layer, classifier).

Every failure is a :class:`CheckpointError` with a one-line message naming the file and the
first offending key with both shapes.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

from pose.errors import HrtrackError, first_line
from pose.files import atomic_path

BACKBONE_PREFIXES = ("conv1.", "bn1.", "conv2.", "bn2.", "layer1.", "transition", "stage")
_HEAD_RENAMES = (("head.final_layer.", "final_layer."), ("keypoint_head.final_layer.", "final_layer."))


class CheckpointError(HrtrackError):
    """A checkpoint that cannot be loaded into the model; the message is one line."""


def _shape(t: torch.Tensor) -> str:
    return "(" + ",".join(str(s) for s in t.shape) + ")"


def read_checkpoint(path: str | os.PathLike[str]) -> dict[str, object]:
    """Read a checkpoint file on the CPU without executing pickled code."""
    p = Path(path)
    if not p.is_file():
        raise CheckpointError(f"{p}: checkpoint file not found")
    try:
        obj = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for corrupt or foreign files
        obj = _load_with_numpy_metadata(p)
        if obj is None:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            first = first.split(". ")[0].rstrip(".")  # torch's advice after the cause is not for our users
            raise CheckpointError(f"{p}: not a readable PyTorch checkpoint ({first})") from None
    if not isinstance(obj, Mapping):
        raise CheckpointError(f"{p}: expected a state_dict or a dict holding one, got {type(obj).__name__}")
    return dict(obj)


def _load_with_numpy_metadata(path: Path) -> object | None:
    """Load a checkpoint whose metadata holds numpy values (mmpose's ``meta``, e.g. a best score
    as ``numpy.float64``), allowing those numpy types and nothing else; None if others appear."""
    import importlib

    try:
        wanted = torch.serialization.get_unsafe_globals_in_checkpoint(path)
    except Exception:
        return None
    allowed = []
    for qualname in wanted:
        module, _, attr = qualname.rpartition(".")
        if module.split(".")[0] != "numpy":
            return None
        try:
            allowed.append(getattr(importlib.import_module(module), attr))
        except (ImportError, AttributeError):
            return None
    if not allowed:
        return None
    import numpy as np

    allowed += [getattr(np.dtypes, name) for name in getattr(np.dtypes, "__all__", ())]  # dtype instances' classes
    try:
        with torch.serialization.safe_globals(allowed):
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception:
        return None


def extract_state_dict(obj: Mapping[str, object], source: str = "checkpoint") -> dict[str, torch.Tensor]:
    """The model weights of any accepted format, with official key names.

    Unwraps ``state_dict``/``model`` entries of training checkpoints, strips a ``module.``
    prefix, and renames mmpose's ``backbone.``/``head.final_layer.``/``keypoint_head.final_layer.``.
    """
    for wrapper in ("state_dict", "model"):
        inner = obj.get(wrapper)
        if isinstance(inner, Mapping) and inner and all(isinstance(k, str) for k in inner):
            obj = inner
            break
    tensors = {k: v for k, v in obj.items() if isinstance(v, torch.Tensor)}
    if not tensors:
        raise CheckpointError(f"{source}: holds no tensors (not a model checkpoint)")
    if all(k.startswith("module.") for k in tensors):
        tensors = {k[len("module.") :]: v for k, v in tensors.items()}
    if any(k.startswith("backbone.") for k in tensors):  # mmpose
        renamed = {}
        for key, value in tensors.items():
            if key.startswith("backbone."):
                renamed[key[len("backbone.") :]] = value
                continue
            for old, new in _HEAD_RENAMES:
                if key.startswith(old):
                    renamed[new + key[len(old) :]] = value
                    break
            else:
                renamed[key] = value
        tensors = renamed
    return tensors


def _check_compatible(
    model_sd: Mapping[str, torch.Tensor], ckpt: Mapping[str, torch.Tensor], source: str, what: str
) -> None:
    """Raise on the first key (in model order) that is missing or has another shape."""
    for key, ref in model_sd.items():
        if key not in ckpt:
            raise CheckpointError(f"{source}: key {key!r} of {what} is missing from the checkpoint")
        if tuple(ckpt[key].shape) != tuple(ref.shape):
            raise CheckpointError(
                f"{source}: key {key!r} has shape {_shape(ckpt[key])} in the checkpoint but {_shape(ref)} in {what}"
            )


def _describe(model: nn.Module) -> str:
    width = getattr(model, "width", None)
    joints = getattr(model, "num_joints", None)
    if width is None:
        return type(model).__name__
    return f"hrnet_w{width} with {joints} joints"


def load_checkpoint(model: nn.Module, checkpoint: str | os.PathLike[str] | Mapping[str, object]) -> nn.Module:
    """Load weights into ``model`` strictly from a path or an already-loaded checkpoint object."""
    source = str(checkpoint) if isinstance(checkpoint, (str, os.PathLike)) else "checkpoint"
    obj = read_checkpoint(checkpoint) if isinstance(checkpoint, (str, os.PathLike)) else checkpoint
    state = extract_state_dict(obj, source)
    model_sd = model.state_dict()
    _check_compatible(model_sd, state, source, _describe(model))
    extra = [k for k in state if k not in model_sd]
    if extra:
        raise CheckpointError(f"{source}: unexpected key {extra[0]!r} ({len(extra)} in all) for {_describe(model)}")
    model.load_state_dict(state, strict=True)
    return model


def load_pretrained_backbone(model: nn.Module, checkpoint: str | os.PathLike[str] | Mapping[str, object]) -> list[str]:
    """Initialise the backbone from an ImageNet HRNet classification checkpoint.

    Takes conv1, bn1, conv2, bn2, layer1, transition1-3 and stage2-4; everything the model's
    backbone needs must be present with the same shape. Returns the checkpoint keys that were
    skipped (the classification head: incre_modules, downsamp_modules, final_layer, classifier,
    and the extra multi-scale fusion of the last classification module).
    """
    source = str(checkpoint) if isinstance(checkpoint, (str, os.PathLike)) else "checkpoint"
    obj = read_checkpoint(checkpoint) if isinstance(checkpoint, (str, os.PathLike)) else checkpoint
    state = extract_state_dict(obj, source)
    model_sd = model.state_dict()
    wanted = {k: v for k, v in model_sd.items() if k.startswith(BACKBONE_PREFIXES)}
    _check_compatible(wanted, state, source, f"the backbone of {_describe(model)}")
    model.load_state_dict({**model_sd, **{k: state[k] for k in wanted}}, strict=True)
    return sorted(k for k in state if k not in wanted)


def save_state_dict(model: nn.Module, path: str | os.PathLike[str], half: bool = False) -> None:
    """Write the model's plain state_dict (official key layout) atomically.

    Tensors are stored contiguous (a channels_last training model saves the same file as a
    plain one); ``half`` stores floating-point tensors as float16 (half the size).
    """
    sd = {k: (v.half() if half and v.is_floating_point() else v).contiguous() for k, v in model.state_dict().items()}
    save_atomic(sd, path)


#: What torch's checkpoint writer says when the file cannot be written (a full disk, a quota).
_WRITE_FAILURES = ("enforce fail", "unexpected pos", "write failed", "PytorchStreamWriter")


def save_atomic(obj: object, path: str | os.PathLike[str]) -> Path:
    """``torch.save`` to a temp file beside ``path``, then rename: ``path`` is whole or as it was
    (the temp is removed on any failure or interruption)."""
    with atomic_path(path) as tmp:
        try:
            torch.save(obj, tmp)
        except RuntimeError as exc:  # torch's writer: "[enforce fail at inline_container.cc] unexpected pos"
            if not any(
                m in str(exc) for m in ("enforce fail", "unexpected pos", "write failed", "PytorchStreamWriter")
            ):
                raise
            raise OSError(
                errno.EIO, f"cannot write the checkpoint (is the disk full? torch: {first_line(exc)})", str(tmp)
            ) from None
    return Path(path)
