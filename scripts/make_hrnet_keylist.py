"""Write the state_dict key list of the official HRNet pose network as a test fixture.

This script is an independent derivation: it enumerates every key and tensor
shape of ``PoseHighResolutionNet`` (the layout of the official
leoxiaobin/deep-high-resolution-net.pytorch checkpoints) from the published
architecture description alone, using only the standard library.  It does not
import torch or any model code of this project, so the fixture it writes can
cross-check the project's own network definition: a model that loads the
official checkpoints must produce exactly these keys, with these shapes, in
this order (PyTorch's ``state_dict()`` order, i.e. module registration order).

Architecture (C = width, 32 for W32 and 48 for W48):

- stem: conv1 3->64 3x3 s2, bn1, conv2 64->64 3x3 s2, bn2;
- layer1: 4 Bottlenecks (planes 64, expansion 4), layer1.0 with a 1x1 downsample;
- transition1: [256] -> [C, 2C]; transition2 adds 4C; transition3 adds 8C;
- stage2: 1 module, 2 branches; stage3: 4 modules, 3 branches;
  stage4: 3 modules, 4 branches, the last one fusing into branch 0 only;
  every branch holds 4 BasicBlocks;
- final_layer: 1x1 conv C -> joints, with bias.

Output format: one line per key, ``key<TAB>shape`` with the shape as
comma-separated integers (empty for the scalar ``num_batches_tracked``).

Usage::

    python scripts/make_hrnet_keylist.py                 # both W32 and W48 fixtures
    python scripts/make_hrnet_keylist.py --width 32 --joints 17 --out keys.txt
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

Shape = tuple[int, ...]
Entry = tuple[str, Shape]

FIXTURE_DIR = Path(__file__).resolve().parent.parent / "tests" / "fixtures"

STEM_WIDTH = 64
BOTTLENECK_PLANES = 64
BOTTLENECK_EXPANSION = 4
NUM_BOTTLENECKS = 4
BLOCKS_PER_BRANCH = 4
# (stage name, number of modules, number of branches)
STAGES: tuple[tuple[str, int, int], ...] = (
    ("stage2", 1, 2),
    ("stage3", 4, 3),
    ("stage4", 3, 4),
)

EXPECTED_KEYS = 1754
EXPECTED_NUM_BATCHES_TRACKED = 292
DEFAULT_JOINTS = 17
# Trainable parameters (weights and biases only) with DEFAULT_JOINTS joints.
EXPECTED_PARAMS = {32: 28_536_113, 48: 63_595_745}
NON_PARAM_SUFFIXES = ("running_mean", "running_var", "num_batches_tracked")


def conv(prefix: str, c_in: int, c_out: int, k: int, *, bias: bool = False) -> list[Entry]:
    """Keys of a Conv2d (stride does not change the shape)."""
    entries: list[Entry] = [(f"{prefix}.weight", (c_out, c_in, k, k))]
    if bias:
        entries.append((f"{prefix}.bias", (c_out,)))
    return entries


def bn(prefix: str, c: int) -> list[Entry]:
    """Keys of a BatchNorm2d, in registration order (parameters, then buffers)."""
    return [
        (f"{prefix}.weight", (c,)),
        (f"{prefix}.bias", (c,)),
        (f"{prefix}.running_mean", (c,)),
        (f"{prefix}.running_var", (c,)),
        (f"{prefix}.num_batches_tracked", ()),
    ]


def bottleneck(prefix: str, c_in: int, planes: int, *, downsample: bool) -> list[Entry]:
    """Keys of a ResNet Bottleneck (1x1, 3x3, 1x1 expanding by BOTTLENECK_EXPANSION)."""
    c_out = planes * BOTTLENECK_EXPANSION
    entries = [
        *conv(f"{prefix}.conv1", c_in, planes, 1),
        *bn(f"{prefix}.bn1", planes),
        *conv(f"{prefix}.conv2", planes, planes, 3),
        *bn(f"{prefix}.bn2", planes),
        *conv(f"{prefix}.conv3", planes, c_out, 1),
        *bn(f"{prefix}.bn3", c_out),
    ]
    if downsample:
        entries += conv(f"{prefix}.downsample.0", c_in, c_out, 1)
        entries += bn(f"{prefix}.downsample.1", c_out)
    return entries


def basic_block(prefix: str, c: int) -> list[Entry]:
    """Keys of a BasicBlock with equal input and output width (no downsample)."""
    return [
        *conv(f"{prefix}.conv1", c, c, 3),
        *bn(f"{prefix}.bn1", c),
        *conv(f"{prefix}.conv2", c, c, 3),
        *bn(f"{prefix}.bn2", c),
    ]


def transition(prefix: str, prev: list[int], cur: list[int]) -> list[Entry]:
    """Keys of a transition layer from branch widths ``prev`` to ``cur``.

    Existing branches of equal width have no module (no keys); a changed width
    would be Sequential(conv3x3, BN, ReLU).  Each new branch is a Sequential of
    one Sequential(conv3x3 s2, BN, ReLU) fed by the lowest existing branch.
    """
    entries: list[Entry] = []
    for i, c_out in enumerate(cur):
        if i < len(prev):
            if prev[i] != c_out:
                entries += conv(f"{prefix}.{i}.0", prev[i], c_out, 3)
                entries += bn(f"{prefix}.{i}.1", c_out)
        else:
            for k in range(i + 1 - len(prev)):
                c_in = prev[-1]
                c_k = c_out if k == i - len(prev) else c_in
                entries += conv(f"{prefix}.{i}.{k}.0", c_in, c_k, 3)
                entries += bn(f"{prefix}.{i}.{k}.1", c_k)
    return entries


def hr_module(prefix: str, widths: list[int], *, multi_scale_output: bool) -> list[Entry]:
    """Keys of one HighResolutionModule: branches, then fuse_layers."""
    entries: list[Entry] = []
    for b, c in enumerate(widths):
        for k in range(BLOCKS_PER_BRANCH):
            entries += basic_block(f"{prefix}.branches.{b}.{k}", c)
    num_outputs = len(widths) if multi_scale_output else 1
    for i in range(num_outputs):
        for j, c_j in enumerate(widths):
            fuse = f"{prefix}.fuse_layers.{i}.{j}"
            if j > i:
                entries += conv(f"{fuse}.0", c_j, widths[i], 1)
                entries += bn(f"{fuse}.1", widths[i])
            elif j < i:
                for k in range(i - j):
                    c_out = widths[i] if k == i - j - 1 else c_j
                    entries += conv(f"{fuse}.{k}.0", c_j, c_out, 3)
                    entries += bn(f"{fuse}.{k}.1", c_out)
    return entries


def hrnet_keys(width: int, joints: int = DEFAULT_JOINTS) -> list[Entry]:
    """All state_dict keys and shapes of PoseHighResolutionNet, in state_dict order."""
    entries: list[Entry] = [
        *conv("conv1", 3, STEM_WIDTH, 3),
        *bn("bn1", STEM_WIDTH),
        *conv("conv2", STEM_WIDTH, STEM_WIDTH, 3),
        *bn("bn2", STEM_WIDTH),
    ]
    c_in = STEM_WIDTH
    for k in range(NUM_BOTTLENECKS):
        entries += bottleneck(f"layer1.{k}", c_in, BOTTLENECK_PLANES, downsample=k == 0)
        c_in = BOTTLENECK_PLANES * BOTTLENECK_EXPANSION

    prev = [c_in]
    for n, (stage, num_modules, num_branches) in enumerate(STAGES, start=1):
        widths = [width * 2**b for b in range(num_branches)]
        entries += transition(f"transition{n}", prev, widths)
        for m in range(num_modules):
            last = stage == STAGES[-1][0] and m == num_modules - 1
            entries += hr_module(f"{stage}.{m}", widths, multi_scale_output=not last)
        prev = widths

    entries += conv("final_layer", width, joints, 1, bias=True)
    return entries


def count_params(entries: list[Entry]) -> int:
    """Sum of numel over trainable tensors (weights and biases, no BN buffers)."""
    return sum(math.prod(shape) for key, shape in entries if not key.endswith(NON_PARAM_SUFFIXES))


def check(entries: list[Entry], width: int, joints: int) -> None:
    """Assert the enumeration against the published totals."""
    keys = [key for key, _ in entries]
    assert len(set(keys)) == len(keys), "duplicate keys"
    assert len(keys) == EXPECTED_KEYS, f"{len(keys)} keys, expected {EXPECTED_KEYS}"
    nbt = sum(key.endswith("num_batches_tracked") for key in keys)
    assert nbt == EXPECTED_NUM_BATCHES_TRACKED, f"{nbt} num_batches_tracked, expected {EXPECTED_NUM_BATCHES_TRACKED}"
    if joints == DEFAULT_JOINTS and width in EXPECTED_PARAMS:
        params = count_params(entries)
        assert params == EXPECTED_PARAMS[width], f"W{width}: {params} params, expected {EXPECTED_PARAMS[width]}"


def write_keylist(entries: list[Entry], out: Path) -> None:
    """Write ``key<TAB>shape`` lines, one per key."""
    out.parent.mkdir(parents=True, exist_ok=True)
    lines = [f"{key}\t{','.join(map(str, shape))}\n" for key, shape in entries]
    out.write_text("".join(lines), encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    """Enumerate, check and write the key list(s)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, help="HRNet width C (default: both 32 and 48)")
    parser.add_argument(
        "--joints",
        type=int,
        default=DEFAULT_JOINTS,
        help="number of joints (default 17)",
    )
    parser.add_argument("--out", type=Path, help="output file (only with --width)")
    args = parser.parse_args(argv)
    if args.out is not None and args.width is None:
        parser.error("--out needs --width")

    for width in [args.width] if args.width is not None else [32, 48]:
        entries = hrnet_keys(width, args.joints)
        check(entries, width, args.joints)
        out = args.out or FIXTURE_DIR / f"hrnet_w{width}_keys.txt"
        write_keylist(entries, out)
        nbt = sum(key.endswith("num_batches_tracked") for key, _ in entries)
        print(f"W{width}: {len(entries)} keys ({nbt} num_batches_tracked), {count_params(entries):,} params -> {out}")


if __name__ == "__main__":
    main()
