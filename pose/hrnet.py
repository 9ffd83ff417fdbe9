"""HRNet for top-down pose estimation (Sun et al., CVPR 2019).

The module tree mirrors the official ``PoseHighResolutionNet`` attribute by attribute, so that
``state_dict()`` has exactly the official key names and shapes and the published checkpoints load
unchanged (1754 keys; W32 28,536,113 parameters, W48 63,595,745).

Layout (C = width, 32 for W32, 48 for W48):

* stem: two 3x3 stride-2 convolutions (3->64->64), each with BatchNorm, ReLU after both;
* ``layer1``: four ResNet Bottlenecks (64 -> 256 channels), the first with a 1x1 downsample;
* ``transition1`` .. ``transition3``: add a new branch at half the resolution of the lowest one;
* ``stage2`` .. ``stage4``: 1, 4 and 3 multi-resolution modules with 2, 3 and 4 branches of widths
  ``C, 2C, 4C, 8C``; each branch holds four BasicBlocks and every module ends with a fusion where
  each output branch sums all inputs (upsampled with 1x1 conv + nearest, or downsampled with
  strided 3x3 convs); the very last module keeps only the highest-resolution output;
* ``final_layer``: 1x1 convolution to one heatmap per joint, at 1/4 of the input resolution.
"""

from __future__ import annotations

import torch
from torch import nn

from pose.errors import HrtrackError
from pose.specs import parse_arch

BN_MOMENTUM = 0.1

# Modules per stage and branches per stage, as in the official w32/w48 configs.
STAGES = ((1, 2), (4, 3), (3, 4))  # (num_modules, num_branches) for stage2, stage3, stage4
BLOCKS_PER_BRANCH = 4


def _conv3x3(cin: int, cout: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, momentum=BN_MOMENTUM)


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with a residual connection (ResNet basic block, no downsample)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = _conv3x3(channels, channels)
        self.bn1 = _bn(channels)
        self.conv2 = _conv3x3(channels, channels)
        self.bn2 = _bn(channels)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + x)


class Bottleneck(nn.Module):
    """1x1 -> 3x3 -> 1x1 ResNet bottleneck with expansion 4."""

    expansion = 4

    def __init__(self, inplanes: int, planes: int, downsample: nn.Module | None = None) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = _bn(planes)
        self.conv2 = _conv3x3(planes, planes)
        self.bn2 = _bn(planes)
        self.conv3 = nn.Conv2d(planes, planes * self.expansion, 1, bias=False)
        self.bn3 = _bn(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        residual = x if self.downsample is None else self.downsample(x)
        return self.relu(out + residual)


def _fuse_path(widths: list[int], j: int, i: int) -> nn.Module:
    """The path that brings branch ``j`` to the resolution and width of output branch ``i``."""
    if j == i:
        return nn.Identity()
    if j > i:  # lower resolution -> upsample
        return nn.Sequential(
            nn.Conv2d(widths[j], widths[i], 1, bias=False),
            _bn(widths[i]),
            nn.Upsample(scale_factor=2 ** (j - i), mode="nearest"),
        )
    steps = []  # higher resolution -> (i - j) strided 3x3 convs
    for k in range(i - j):
        last = k == i - j - 1
        cout = widths[i] if last else widths[j]
        layers: list[nn.Module] = [_conv3x3(widths[j], cout, stride=2), _bn(cout)]
        if not last:
            layers.append(nn.ReLU(inplace=True))
        steps.append(nn.Sequential(*layers))
    return nn.Sequential(*steps)


class HighResolutionModule(nn.Module):
    """Parallel branches of BasicBlocks followed by a multi-resolution fusion."""

    def __init__(self, widths: list[int], multi_scale_output: bool = True) -> None:
        super().__init__()
        n = len(widths)
        self.branches = nn.ModuleList(nn.Sequential(*[BasicBlock(w) for _ in range(BLOCKS_PER_BRANCH)]) for w in widths)
        outputs = n if multi_scale_output else 1
        self.fuse_layers = nn.ModuleList(
            nn.ModuleList(_fuse_path(widths, j, i) for j in range(n)) for i in range(outputs)
        )
        self.relu = nn.ReLU(inplace=False)

    def forward(self, xs: list[torch.Tensor]) -> list[torch.Tensor]:
        xs = [branch(x) for branch, x in zip(self.branches, xs, strict=True)]
        out = []
        for paths in self.fuse_layers:
            y = paths[0](xs[0])
            for j in range(1, len(xs)):
                y = y + paths[j](xs[j])
            out.append(self.relu(y))
        return out


def _transition(prev: list[int], cur: list[int]) -> nn.ModuleList:
    """Official transition layer: adapt existing branches whose width changes, add new ones.

    Branches whose width is unchanged get no module (an ``Identity``, which holds no keys).
    """
    layers: list[nn.Module] = []
    for i, width in enumerate(cur):
        if i < len(prev):
            if width == prev[i]:
                layers.append(nn.Identity())
            else:
                layers.append(nn.Sequential(_conv3x3(prev[i], width), _bn(width), nn.ReLU(inplace=True)))
        else:
            steps = []
            for k in range(i + 1 - len(prev)):
                cout = width if k == i - len(prev) else prev[-1]
                steps.append(nn.Sequential(_conv3x3(prev[-1], cout, 2), _bn(cout), nn.ReLU(inplace=True)))
            layers.append(nn.Sequential(*steps))
    return nn.ModuleList(layers)


class PoseHighResolutionNet(nn.Module):
    """HRNet-W``width`` pose network: image (B,3,H,W) -> heatmaps (B,num_joints,H/4,W/4)."""

    def __init__(self, width: int = 32, num_joints: int = 17) -> None:
        super().__init__()
        if width <= 0 or num_joints <= 0:
            raise HrtrackError(f"width and num_joints must be positive, got {width}, {num_joints}")
        self.width = width
        self.num_joints = num_joints
        self.conv1 = nn.Conv2d(3, 64, 3, stride=2, padding=1, bias=False)
        self.bn1 = _bn(64)
        self.conv2 = nn.Conv2d(64, 64, 3, stride=2, padding=1, bias=False)
        self.bn2 = _bn(64)
        self.relu = nn.ReLU(inplace=True)
        downsample = nn.Sequential(nn.Conv2d(64, 256, 1, bias=False), _bn(256))
        self.layer1 = nn.Sequential(Bottleneck(64, 64, downsample), *[Bottleneck(256, 64) for _ in range(3)])

        prev = [256]
        for s, (num_modules, num_branches) in enumerate(STAGES, start=2):
            widths = [width * 2**b for b in range(num_branches)]
            setattr(self, f"transition{s - 1}", _transition(prev, widths))
            last_stage = s == 1 + len(STAGES)
            modules = [
                HighResolutionModule(widths, not (last_stage and m == num_modules - 1)) for m in range(num_modules)
            ]
            setattr(self, f"stage{s}", nn.Sequential(*modules))
            prev = widths

        self.final_layer = nn.Conv2d(width, num_joints, 1)
        self.init_weights()

    def init_weights(self) -> None:
        """Official initialisation: conv weights N(0, 0.001), conv biases 0, BN (1, 0)."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.normal_(m.weight, std=0.001)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.relu(self.bn2(self.conv2(x)))
        xs = [self.layer1(x)]
        for s in range(2, 2 + len(STAGES)):
            transition = getattr(self, f"transition{s - 1}")
            # Existing branches pass through (or are re-widened); a new branch is made from the
            # lowest-resolution output of the previous stage.
            xs = [t(xs[i] if i < len(xs) else xs[-1]) for i, t in enumerate(transition)]
            for module in getattr(self, f"stage{s}"):
                xs = module(xs)
        return self.final_layer(xs[0])


def build_model(name: str = "hrnet_w32", num_joints: int = 17) -> PoseHighResolutionNet:
    """Build an HRNet pose model by name (``hrnet_w32``, ``hrnet_w48``, any ``hrnet_wC``)."""
    return PoseHighResolutionNet(parse_arch(name), num_joints)
