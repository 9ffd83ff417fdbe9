"""YAML experiment configs for ``hrtrack train``: load, override, validate.

A config file has three parts:

* top-level keys: the fields of :class:`pose.train.loop.TrainConfig` (``arch``, ``input_size``,
  ``epochs``, ``lr``, ``lr_steps``, ``batch_size``, ...);
* ``data:``  the fields of :class:`DataConfig` (data set type, annotation and image paths, the
  validation boxes);
* ``augment:`` the fields of :class:`AugmentSection` (``enabled`` plus the probabilities and
  factors of :class:`pose.train.augment.AugmentConfig`).

A file may start with ``base: NAME`` to inherit another config (sections are merged key by key).
The shipped configs live in ``pose/configs/*.yaml`` inside the package and are found by name
(``coco_w32_256x192``) through :mod:`importlib.resources`, so they work from an installed wheel
as long as the YAML files are packaged as package data.

Overrides are ``key=value`` strings (``lr=1e-4``, ``data.val_boxes=dets.json``,
``augment.enabled=false``, ``input_size=[128,96]``); the value is parsed as a YAML scalar or
list and converted to the field's type. Any unknown key is a one-line :class:`ValueError`
naming it, so a typo never silently trains with the default.
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from pose.errors import HrtrackError
from pose.files import atomic_write
from pose.train.augment import AugmentConfig
from pose.train.loop import TrainConfig

DATASETS = ("coco", "posetrack18", "posetrack17")
MAX_BASE_DEPTH = 8  # ``base:`` chains longer than this are a cycle


@dataclass
class DataConfig:
    """The data of an experiment.

    Attributes:
        dataset: ``coco``, ``posetrack18`` (COCO-like json per sequence) or ``posetrack17``
            (``annolist`` json per sequence). PoseTrack persons are boxed by their keypoints
            (+15 %) and trained in the 17-slot PoseTrack 2018 layout.
        train_ann / train_images: training annotation file (or, for PoseTrack, a folder of
            per-sequence files) and the image folder (COCO) or PoseTrack root.
        val_ann / val_images: the same for validation; empty: no validation.
        val_boxes: ``gt`` (ground-truth boxes, the official ``use_gt_bbox``) or the path of a
            COCO-results person detection file (``image_id``, ``bbox`` xywh, ``score``; COCO only).
        det_score_threshold: detections scoring below this are dropped (official: 0.0).
        flip_test: flip test during validation (official recipe).
        sigma: heatmap Gaussian sigma; None: 2 for 64x48 heatmaps, 3 for larger ones.
        unbiased_target: centre the target Gaussians on the sub-pixel joint positions (DARK's
            unbiased encoding) instead of the official rounded pixel; off in the paper's recipe.
    """

    dataset: str = "coco"
    train_ann: str = ""
    train_images: str = ""
    val_ann: str = ""
    val_images: str = ""
    val_boxes: str = "gt"
    det_score_threshold: float = 0.0
    flip_test: bool = True
    sigma: float | None = None
    unbiased_target: bool = False

    def __post_init__(self) -> None:
        if self.dataset not in DATASETS:
            raise HrtrackError(f"data.dataset must be one of {', '.join(DATASETS)}, got {self.dataset!r}")
        if self.val_boxes != "gt" and self.dataset != "coco":
            raise HrtrackError("data.val_boxes: detection boxes are supported for coco only (PoseTrack uses gt)")


@dataclass
class AugmentSection:
    """Training augmentation; the defaults are the official values (see :class:`AugmentConfig`).

    ``enabled: false`` trains on the plain box crops (used by the overfitting tests: without
    augmentation a handful of people is memorised within minutes).
    """

    enabled: bool = True
    scale_factor: float = 0.35
    rotation_factor: float = 45.0
    rotation_prob: float = 0.6
    flip_prob: float = 0.5
    half_body_prob: float = 0.3
    half_body_min_joints: int = 8
    half_body_scale: float = 1.5

    def to_augment_config(self, flip_pairs: tuple[tuple[int, int], ...]) -> AugmentConfig:
        """The :class:`AugmentConfig` of this section (all probabilities 0 when disabled)."""
        if not self.enabled:
            return AugmentConfig(
                scale_factor=0.0,
                rotation_factor=0.0,
                rotation_prob=0.0,
                flip_prob=0.0,
                half_body_prob=0.0,
                flip_pairs=flip_pairs,
            )
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "enabled"}
        return AugmentConfig(**values, flip_pairs=flip_pairs)


@dataclass
class ExperimentConfig:
    """A whole experiment: the training loop, the data and the augmentation."""

    train: TrainConfig = field(default_factory=TrainConfig)
    data: DataConfig = field(default_factory=DataConfig)
    augment: AugmentSection = field(default_factory=AugmentSection)
    source: str = ""  # where the config came from (file path or package name)

    def to_dict(self) -> dict[str, Any]:
        """The config as the nested dict of a YAML file (tuples as lists)."""
        out: dict[str, Any] = {k: list(v) if isinstance(v, tuple) else v for k, v in _fields(self.train).items()}
        out["data"] = _fields(self.data)
        out["augment"] = _fields(self.augment)
        return out


SECTIONS: dict[str, type] = {"data": DataConfig, "augment": AugmentSection}


def _fields(obj: object) -> dict[str, Any]:
    return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}  # type: ignore[arg-type]


def config_dir() -> Path:
    """The folder of the shipped YAML configs (``pose/configs`` inside the installed package)."""
    return Path(str(resources.files("pose") / "configs"))


def available_configs() -> list[str]:
    """Names of the shipped configs (file names without ``.yaml``)."""
    folder = config_dir()
    return sorted(p.stem for p in folder.glob("*.yaml")) if folder.is_dir() else []


def resolve_config(path_or_name: str | os.PathLike[str]) -> Path:
    """A config file path: an existing file as given, else a shipped config by name."""
    path = Path(path_or_name)
    if path.is_file():
        return path
    name = path.name if path.suffix in (".yaml", ".yml") else path.name + ".yaml"
    shipped = config_dir() / name
    if len(path.parts) == 1 and shipped.is_file():
        return shipped
    known = ", ".join(available_configs()) or "none"
    raise HrtrackError(f"config {str(path_or_name)!r} is neither a file nor a shipped config (shipped: {known})")


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise HrtrackError(
            f"cannot read config {str(path)!r}: not UTF-8 text ({exc.reason} at byte {exc.start})"
        ) from None
    except (OSError, yaml.YAMLError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise HrtrackError(f"cannot read config {str(path)!r}: {first}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise HrtrackError(f"config {str(path)!r} must be a mapping of keys to values")
    return data


def _merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """``base`` updated by ``update``; the ``data``/``augment`` sections merge key by key."""
    out = dict(base)
    for key, value in update.items():
        if key in SECTIONS and isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = {**out[key], **value}
        else:
            out[key] = value
    return out


def _load_raw(path: Path, depth: int = 0) -> dict[str, Any]:
    if depth > MAX_BASE_DEPTH:
        raise HrtrackError(f"config {str(path)!r}: 'base' chain too deep (a cycle?)")
    data = _read_yaml(path)
    base = data.pop("base", None)
    if base is None:
        return data
    base_path = path.parent / str(base)
    if not base_path.is_file():
        base_path = resolve_config(str(base))
    return _merge(_load_raw(base_path, depth + 1), data)


def _coerce(key: str, value: Any, annotation: str) -> Any:
    """``value`` converted to the field type written as ``annotation``; one-line error if impossible."""
    optional = annotation.endswith("| None")
    kind = annotation.replace("| None", "").strip()
    if value is None or (isinstance(value, str) and value.lower() in ("none", "null") and optional):
        if optional:
            return None
        raise HrtrackError(f"config key {key!r} cannot be null")
    try:
        if kind == "bool":
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.lower() in ("true", "false", "yes", "no", "on", "off", "1", "0"):
                return value.lower() in ("true", "yes", "on", "1")
            raise TypeError
        if kind == "int":
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise TypeError
            return int(value)
        if kind == "float":
            if isinstance(value, bool):
                raise TypeError
            return float(value)  # also "1e-4", which YAML 1.1 reads as a string
        if kind == "str":
            if isinstance(value, (dict, list)):
                raise TypeError
            return str(value)
        if kind.startswith("tuple[int"):
            if isinstance(value, str) and "x" in value:  # "256x192"
                value = value.split("x")
            if isinstance(value, (int, str)) and not isinstance(value, bool):
                value = [value]
            if not isinstance(value, (list, tuple)) or any(isinstance(v, bool) for v in value):
                raise TypeError
            items = tuple(int(v) for v in value)
            if kind == "tuple[int, int]" and len(items) != 2:
                raise TypeError
            return items
    except (TypeError, ValueError):
        raise HrtrackError(f"config key {key!r}: {value!r} is not a valid {annotation}") from None
    return value


def _build(cls: type, values: dict[str, Any], prefix: str) -> Any:
    """An instance of dataclass ``cls`` from ``values``; unknown keys are one-line ValueErrors."""
    types = {f.name: str(f.type) for f in dataclasses.fields(cls)}
    kwargs = {}
    for key, value in values.items():
        if key not in types:
            raise HrtrackError(f"unknown config key {prefix + key!r}")
        kwargs[key] = _coerce(prefix + key, value, types[key])
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise HrtrackError(str(exc).splitlines()[0]) from None


def parse_overrides(overrides: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """``["lr=1e-4", "data.val_boxes=x.json"]`` -> the nested dict of a YAML file."""
    out: dict[str, Any] = {}
    for item in overrides:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise HrtrackError(f"override {item!r} must look like key=value")
        try:
            value = yaml.safe_load(text) if text.strip() else ""
        except yaml.YAMLError:
            value = text
        parts = key.split(".")
        if len(parts) == 1:
            out[key] = value
        elif len(parts) == 2 and parts[0] in SECTIONS:
            out.setdefault(parts[0], {})[parts[1]] = value
        elif len(parts) == 2 and parts[0] == "train":
            out[parts[1]] = value  # "train.lr" is accepted as an alias of "lr"
        else:
            raise HrtrackError(f"unknown config key {key!r}")
    return out


def config_from_dict(data: dict[str, Any], source: str = "") -> ExperimentConfig:
    """An :class:`ExperimentConfig` from the nested dict of a YAML file (validated)."""
    flat = {k: v for k, v in data.items() if k not in SECTIONS}
    sections = {}
    for name, cls in SECTIONS.items():
        section = data.get(name) or {}
        if not isinstance(section, dict):
            raise HrtrackError(f"config section {name!r} must be a mapping")
        sections[name] = _build(cls, section, name + ".")
    return ExperimentConfig(_build(TrainConfig, flat, ""), sections["data"], sections["augment"], source)


def load_config(path_or_name: str | os.PathLike[str], overrides: list[str] | tuple[str, ...] = ()) -> ExperimentConfig:
    """Load a YAML config (a file path or a shipped config name) and apply ``key=value`` overrides.

    Raises a one-line :class:`ValueError` for a missing/malformed file, an unknown key (in the
    file or in an override) or a value of the wrong type.
    """
    path = resolve_config(path_or_name)
    data = _merge(_load_raw(path), parse_overrides(list(overrides)))
    config = config_from_dict(data, str(path))
    check_values(config)
    return config


def check_values(config: ExperimentConfig) -> None:
    """Ranges of the values (types are checked when read): a bad value stops the run before anything
    is written. One-line :class:`HrtrackError` naming the key."""
    from pose.specs import parse_arch

    t, a = config.train, config.augment
    try:
        parse_arch(t.arch)
    except HrtrackError as e:
        raise HrtrackError(f"arch: {e}") from None
    h, w = t.input_size
    if h <= 0 or w <= 0 or h % 32 or w % 32:
        raise HrtrackError(f"input_size: height and width must be positive multiples of 32, got {h}x{w}")
    checks = [
        ("epochs", t.epochs >= 1, "at least 1"),
        ("lr", math.isfinite(t.lr) and t.lr > 0, "a positive number"),
        ("lr_factor", math.isfinite(t.lr_factor) and 0 < t.lr_factor <= 1, "in (0, 1]"),
        ("lr_steps", all(s >= 0 for s in t.lr_steps), "non-negative epochs"),
        ("batch_size", t.batch_size >= 1, "at least 1"),
        ("workers", t.workers >= 0, "0 or more"),
        ("val_every", t.val_every >= 1, "at least 1"),
        ("max_steps_per_epoch", t.max_steps_per_epoch is None or t.max_steps_per_epoch >= 1, "at least 1"),
        ("device", t.device == "cpu" or t.device.startswith("cuda"), "cpu or cuda"),
        ("data.det_score_threshold", 0 <= config.data.det_score_threshold <= 1, "between 0 and 1"),
        ("data.sigma", config.data.sigma is None or config.data.sigma > 0, "a positive number"),
    ]
    for name in ("rotation_prob", "flip_prob", "half_body_prob"):
        checks.append((f"augment.{name}", 0 <= getattr(a, name) <= 1, "between 0 and 1"))
    for name in ("scale_factor", "rotation_factor", "half_body_scale"):
        checks.append((f"augment.{name}", math.isfinite(getattr(a, name)) and getattr(a, name) >= 0, "0 or more"))
    for key, ok, what in checks:
        if not ok:
            value = key.split(".")[-1]
            section = config.data if key.startswith("data.") else a if key.startswith("augment.") else t
            raise HrtrackError(f"config key {key!r}: must be {what}, got {getattr(section, value)!r}")


def dump_config(config: ExperimentConfig, path: str | os.PathLike[str]) -> None:
    """Write ``config`` as YAML (the run folder keeps the exact config it was trained with)."""
    atomic_write(path, yaml.safe_dump(config.to_dict(), sort_keys=False))
