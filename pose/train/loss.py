"""The official heatmap loss: MSE weighted per joint by the target weight, times 0.5."""

from __future__ import annotations

import torch
from torch import nn

from pose.errors import HrtrackError


class JointsMSELoss(nn.Module):
    """``0.5 * mean over joints of MSE(pred * w, target * w)``.

    The official code sums ``0.5 * MSE`` per joint (each MSE a mean over batch and pixels) and
    divides by the number of joints, which equals ``0.5 * mean(((pred - target) * w) ** 2)``
    over all elements. A joint with weight 0 (unlabelled, or outside the heatmap) contributes 0
    but still counts in the mean, as in the official code.

    Args:
        use_target_weight: multiply by the weights (the official configs do); without it every
            joint counts fully.
    """

    def __init__(self, use_target_weight: bool = True) -> None:
        super().__init__()
        self.use_target_weight = use_target_weight

    def forward(self, pred: torch.Tensor, target: torch.Tensor, target_weight: torch.Tensor) -> torch.Tensor:
        """``pred``, ``target``: ``(B,K,H,W)``; ``target_weight``: ``(B,K)`` or ``(B,K,1)``."""
        if pred.shape != target.shape:
            raise HrtrackError(f"prediction {tuple(pred.shape)} and target {tuple(target.shape)} differ in shape")
        diff = pred.float() - target.float()
        if self.use_target_weight:
            w = target_weight.float().reshape(pred.shape[0], pred.shape[1], 1, 1)
            diff = diff * w
        return 0.5 * diff.pow(2).mean()
