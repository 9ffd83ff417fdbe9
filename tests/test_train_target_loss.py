"""Gaussian heatmap targets and the target-weighted MSE loss of the official recipe."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pose.train.loss import JointsMSELoss
from pose.train.target import default_sigma, generate_target


def test_peak_at_the_heatmap_pixel_of_the_joint() -> None:
    joints = np.array([[100.0, 130.0, 1.0], [101.9, 2.0, 1.0], [6.0, 250.0, 2.0]])
    target, weight = generate_target(joints, (192, 256), (48, 64), sigma=2)
    assert target.shape == (3, 64, 48) and target.dtype == np.float32
    np.testing.assert_array_equal(weight, [1, 1, 1])
    for k, (x, y, _) in enumerate(joints):
        mu = (int(x / 4 + 0.5), int(y / 4 + 0.5))
        assert target[k, mu[1], mu[0]] == 1.0
        assert np.unravel_index(target[k].argmax(), target[k].shape) == (mu[1], mu[0])
    # Gaussian values and the 3-sigma cut-off of the square patch.
    mx, my = 25, 33
    assert target[0, my, mx + 1] == pytest.approx(np.exp(-1 / 8))
    assert target[0, my + 2, mx - 2] == pytest.approx(np.exp(-8 / 8))
    assert target[0, my, mx + 6] == pytest.approx(np.exp(-36 / 8))
    assert target[0, my, mx + 7] == 0
    assert target[0, my - 7, mx] == 0


def test_weight_zero_outside_the_map_and_for_invisible_joints() -> None:
    joints = np.array(
        [
            [-40.0, 100.0, 1.0],  # patch entirely left of the map
            [100.0, 300.0, 1.0],  # below
            [100.0, 100.0, 0.0],  # unlabelled
            [-10.0, 100.0, 1.0],  # outside the input but its patch still reaches the map
        ]
    )
    target, weight = generate_target(joints, (192, 256), (48, 64), sigma=2)
    np.testing.assert_array_equal(weight, [0, 0, 0, 1])
    assert not target[:3].any()
    assert 0 < target[3].max() < 1  # partial patch at the border, peak off the map


def test_unbiased_target_is_centred_on_the_sub_pixel_position() -> None:
    # Joint at heatmap position (10.3, 7.0): official target peaks exactly at pixel 10 with equal
    # neighbours; the unbiased one is the Gaussian around 10.3 (same patch, asymmetric).
    joints = np.array([[10.3 * 4, 7.0 * 4, 1.0]])
    official, w1 = generate_target(joints, (96, 128), (24, 32), sigma=2.0)
    unbiased, w2 = generate_target(joints, (96, 128), (24, 32), sigma=2.0, unbiased=True)
    assert w1.tolist() == w2.tolist() == [1.0]
    row_o, row_u = official[0, 7], unbiased[0, 7]
    assert row_o[10] == 1.0 and row_o[9] == pytest.approx(row_o[11])
    assert int(np.argmax(row_u)) == 10 and row_u[11] > row_u[9]
    xs = np.arange(24)
    expected = np.exp(-((xs - 10.3) ** 2) / 8.0) * ((xs >= 4) & (xs < 17))  # patch of the rounded 10
    assert row_u == pytest.approx(expected, abs=1e-6)
    assert (official > 0).tolist() == (unbiased > 0).tolist()


def test_default_sigma() -> None:
    assert default_sigma((48, 64)) == 2 and default_sigma((72, 96)) == 3


def test_sigma_3_patch_radius_9() -> None:
    target, _ = generate_target(np.array([[144.0, 192.0, 1.0]]), (288, 384), (72, 96), sigma=3)
    row = target[0, 48]
    assert row[36] == 1 and row[45] > 0 and row[46] == 0 and row[27] > 0 and row[26] == 0


def test_loss_hand_case() -> None:
    pred = torch.zeros(1, 2, 2, 2)
    target = torch.zeros(1, 2, 2, 2)
    pred[0, 0, 0, 0] = 2.0  # error 2 on joint 0
    pred[0, 1, 1, 1] = 3.0  # error 3 on joint 1, which has weight 0
    weight = torch.tensor([[[1.0], [0.0]]])
    loss = JointsMSELoss()(pred, target, weight)
    # 0.5 * mean over joints (MSE_0 = 4/4 = 1, MSE_1 = 0) = 0.5 * 0.5 = 0.25
    assert loss.item() == pytest.approx(0.25)
    assert JointsMSELoss(use_target_weight=False)(pred, target, weight).item() == pytest.approx(0.5 * (1 + 9 / 4) / 2)
    weight_half = torch.tensor([[0.5, 1.0]])  # (B,K) also accepted; weight scales the error
    assert JointsMSELoss()(pred, target, weight_half).item() == pytest.approx(0.5 * (1 / 4 + 9 / 4) / 2)


def test_loss_equals_per_joint_official_form() -> None:
    g = torch.Generator().manual_seed(0)
    pred, target = torch.rand(3, 17, 8, 6, generator=g), torch.rand(3, 17, 8, 6, generator=g)
    weight = (torch.rand(3, 17, 1, generator=g) > 0.3).float()
    expected = (
        sum(
            0.5 * torch.nn.functional.mse_loss(pred[:, j] * weight[:, j, :, None], target[:, j] * weight[:, j, :, None])
            for j in range(17)
        )
        / 17
    )
    assert JointsMSELoss()(pred, target, weight).item() == pytest.approx(expected.item(), rel=1e-6)
    with pytest.raises(ValueError):
        JointsMSELoss()(pred, target[:, :5], weight)
