"""Top-down inference: geometry, flip test, decoding, scoring, batching and bad input.

No trained weights exist here, so the geometry is proven with a tiny "network" that produces
real heatmaps from the crop: channel k responds to the colour of dot k. Drawing coloured dots at
known image positions and recovering them through crop -> network -> decode -> inverse transform
checks every step of the recipe end to end.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
from torch import nn

from pose import PoseEstimator, build_model, decode_heatmaps, parse_input_size, person_scores
from pose.decode import flip_back, flip_permutation
from pose.estimator import IMAGENET_MEAN, IMAGENET_STD, Poses
from pose.transforms import box_to_center_scale, get_affine_transform, heatmap_to_image

# Dot colours in RGB for joints 0, 1, 2 (nose, left eye, right eye).
COLOURS = {0: (255, 0, 0), 1: (0, 255, 0), 2: (0, 0, 255)}


class DotNet(nn.Module):
    """Heatmap k = how close each pixel is to colour k, average-pooled to 1/4 resolution."""

    num_joints = 17

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1) * 255
        std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1) * 255
        rgb = x * std + mean  # back to 0..255 RGB
        maps = torch.zeros(x.shape[0], self.num_joints, x.shape[2], x.shape[3])
        for k, colour in COLOURS.items():
            dist = (rgb - torch.tensor(colour, dtype=torch.float32).view(1, 3, 1, 1)).abs().sum(1)
            maps[:, k] = (dist < 60).float()
        return nn.functional.avg_pool2d(maps, 4)


def _dots_image(points: dict[int, tuple[float, float]], shape=(480, 640)) -> np.ndarray:
    """A grey BGR image with a filled colour disc (radius 6) at each joint position."""
    img = np.full((*shape, 3), 128, np.uint8)
    for k, (x, y) in points.items():
        r, g, b = COLOURS[k]
        cv2.circle(img, (round(x), round(y)), 6, (b, g, r), -1, lineType=cv2.LINE_8)
    return img


def test_dots_are_found_where_they_were_drawn() -> None:
    points = {0: (210.0, 140.0), 1: (260.0, 300.0), 2: (150.0, 390.0)}
    image = _dots_image(points)
    box = np.array([[110, 100, 310, 420]], np.float32)
    est = PoseEstimator(DotNet(), (256, 192), flip_test=False, prepare=False)
    poses = est(image, box, np.array([0.8]))
    assert poses.keypoints.shape == (1, 17, 3) and poses.keypoints.dtype == np.float32
    # One heatmap pixel is 200 * 1.25 * (320 / 200) / 48 = 8.3 image pixels here.
    for k, (x, y) in points.items():
        assert abs(poses.keypoints[0, k, 0] - x) < 4 and abs(poses.keypoints[0, k, 1] - y) < 4, k
        assert poses.keypoints[0, k, 2] > 0.5
    assert np.all(poses.keypoints[0, 3:, 2] == 0)
    # person score: mean of joint scores above 0.2 (the three dots) times the box score
    expected = poses.keypoints[0, :3, 2].mean() * 0.8
    assert poses.scores[0] == pytest.approx(expected, rel=1e-5)


def test_rgb_channel_order() -> None:
    points = {0: (200.0, 200.0)}
    bgr = _dots_image(points)
    box = np.array([[100, 100, 300, 400]], np.float32)
    est_rgb = PoseEstimator(DotNet(), flip_test=False, prepare=False, channel_order="rgb")
    est_bgr = PoseEstimator(DotNet(), flip_test=False, prepare=False)
    a = est_bgr(bgr, box).keypoints
    b = est_rgb(bgr[:, :, ::-1].copy(), box).keypoints
    np.testing.assert_array_equal(a, b)
    assert a[0, 0, 2] > 0.5
    assert est_rgb(bgr, box).keypoints[0, 0, 2] == 0  # red read as blue: not found


def test_flip_test_keeps_unpaired_joint_in_place() -> None:
    points = {0: (205.0, 233.0)}
    image = _dots_image(points)
    box = np.array([[100, 100, 300, 400]], np.float32)
    plain = PoseEstimator(DotNet(), flip_test=False, prepare=False)(image, box).keypoints[0, 0]
    flip = PoseEstimator(DotNet(), flip_test=True, prepare=False)(image, box).keypoints[0, 0]
    assert abs(flip[0] - 205) < 4 and abs(flip[1] - 233) < 4
    assert abs(flip[0] - plain[0]) < 8.5  # within one heatmap pixel of the direct result


def test_flip_back_swaps_pairs_and_shifts_one_pixel() -> None:
    hm = torch.zeros(1, 17, 8, 6)
    hm[0, 5, 3, 1] = 1.0  # left shoulder at x=1 in the mirrored map
    hm[0, 0, 2, 4] = 1.0  # nose at x=4
    back = flip_back(hm, flip_permutation(17))
    # mirrored x=1 -> x=4 in a width-6 map, then shifted right by one -> x=5, now right shoulder
    assert back[0, 6, 3, 5] == 1.0 and back[0, 5].sum() == 0
    assert back[0, 0, 2, 2] == 1.0  # nose: x=4 -> 1 -> 2
    assert torch.equal(flip_back(hm, flip_permutation(17), shift=False)[0, 0, 2], hm[0, 0, 2].flip(0))


def test_decode_argmax_and_quarter_offset() -> None:
    hm = torch.zeros(1, 3, 64, 48)
    hm[0, 0, 10, 20] = 1.0
    hm[0, 0, 10, 21] = 0.5  # right neighbour higher -> +0.25 in x
    hm[0, 0, 9, 20] = 0.3  # upper neighbour higher -> -0.25 in y
    hm[0, 1, 0, 5] = 0.7  # on the border: no offset
    coords, scores = decode_heatmaps(hm)  # joint 2: all zero -> (0, 0), score 0
    np.testing.assert_allclose(coords[0], [[20.25, 9.75], [5, 0], [0, 0]])
    np.testing.assert_allclose(scores[0], [1.0, 0.7, 0.0])


def test_inverse_transform_matches_opencv_inverse_affine() -> None:
    rng = np.random.default_rng(0)
    boxes = np.array([[10, 20, 110, 300], [400, 50, 600, 90]], np.float32)
    centers, scales = box_to_center_scale(boxes, 192 / 256)
    coords = rng.uniform(0, 48, size=(2, 17, 2))
    fast = heatmap_to_image(coords, centers, scales, (48, 64))
    for i in range(2):
        inv = get_affine_transform(centers[i], scales[i], 0, (48, 64), inverse=True)
        ref = coords[i] @ inv[:, :2].T + inv[:, 2]
        np.testing.assert_allclose(fast[i], ref, atol=1e-3)


def test_box_to_center_scale_pads_to_aspect_and_enlarges() -> None:
    center, scale = box_to_center_scale(np.array([[100, 100, 200, 400]]), 0.75)
    np.testing.assert_allclose(center, [[150, 250]])
    np.testing.assert_allclose(scale, [[225 / 200 * 1.25, 300 / 200 * 1.25]])  # width padded
    _, scale = box_to_center_scale(np.array([[0, 0, 300, 100]]), 0.75)
    np.testing.assert_allclose(scale, [[300 / 200 * 1.25, 400 / 200 * 1.25]])  # height padded


def test_batching_does_not_change_results() -> None:
    torch.manual_seed(0)
    model = build_model("hrnet_w8")
    rng = np.random.default_rng(1)
    image = rng.integers(0, 255, (240, 320, 3), dtype=np.uint8)
    xy = rng.uniform(0, 250, size=(7, 2))
    boxes = np.concatenate([xy, xy + rng.uniform(20, 90, size=(7, 2))], 1).astype(np.float32)
    one = PoseEstimator(model, (128, 96), batch_size=2)(image, boxes).keypoints
    many = PoseEstimator(model, (128, 96), batch_size=64)(image, boxes).keypoints
    np.testing.assert_allclose(one, many, atol=1e-4)


def test_empty_and_degenerate_boxes() -> None:
    est = PoseEstimator(DotNet(), flip_test=False, prepare=False)
    image = _dots_image({0: (100.0, 100.0)})
    empty = est(image, np.zeros((0, 4)), np.zeros(0))
    assert empty.keypoints.shape == (0, 17, 3) and empty.scores.shape == (0,)
    assert est(image, []).keypoints.shape == (0, 17, 3)
    boxes = np.array(
        [[50, 50, 50, 150], [700, 10, 800, 100], [-50, -50, -10, -10], [60, 60, 140, 140], [-20, 40, 150, 160]],
        np.float32,
    )
    poses = est(image, boxes, np.ones(5))
    assert np.all(poses.keypoints[:3] == 0) and np.all(poses.scores[:3] == 0)  # zero-area / outside
    assert poses.keypoints[3, 0, 2] > 0.5 and poses.keypoints[4, 0, 2] > 0.5  # partly outside: fine
    assert abs(poses.keypoints[4, 0, 0] - 100) < 5


def test_grey_and_rgba_images() -> None:
    est = PoseEstimator(DotNet(), flip_test=False, prepare=False)
    image = _dots_image({0: (100.0, 100.0)})
    box = np.array([[40, 40, 160, 200]], np.float32)
    ref = est(image, box).keypoints
    bgra = np.concatenate([image, np.full((*image.shape[:2], 1), 255, np.uint8)], 2)
    np.testing.assert_array_equal(est(bgra, box).keypoints, ref)
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    assert est(grey, box).keypoints.shape == (1, 17, 3)
    assert est(grey[:, :, None], box).keypoints.shape == (1, 17, 3)


@pytest.mark.parametrize(
    ("image", "boxes", "scores", "message"),
    [
        (np.zeros((10, 10, 3), np.float32), [[0, 0, 5, 5]], None, "uint8"),
        (np.zeros((10, 10, 2), np.uint8), [[0, 0, 5, 5]], None, "shape"),
        (np.zeros((0, 10, 3), np.uint8), [[0, 0, 5, 5]], None, "empty"),
        (np.zeros((10, 10, 3), np.uint8), [[0, 0, 5]], None, r"\(N,4\)"),
        (np.zeros((10, 10, 3), np.uint8), [[5, 0, 0, 5]], None, "x2 < x1"),
        (np.zeros((10, 10, 3), np.uint8), [[0, 0, np.nan, 5]], None, "NaN"),
        (np.zeros((10, 10, 3), np.uint8), [[0, 0, 5, 5]], [0.5, 0.5], "box scores"),
    ],
)
def test_bad_input_is_a_clear_error(image, boxes, scores, message) -> None:
    est = PoseEstimator(DotNet(), flip_test=False, prepare=False)
    with pytest.raises(ValueError, match=message):
        est(image, np.asarray(boxes, np.float32), scores)


def test_person_score_rescoring() -> None:
    joint = np.array([[0.9, 0.1, 0.5, 0.0], [0.1, 0.1, 0.1, 0.1]], np.float32)
    np.testing.assert_allclose(person_scores(joint, np.array([0.5, 1.0])), [0.35, 0.0], rtol=1e-6)


def test_pose_nms_drops_duplicates() -> None:
    kp = np.zeros((3, 17, 3), np.float32)
    kp[:, :, 2] = 0.9
    kp[0, :, :2] = np.random.default_rng(0).uniform(100, 200, (17, 2))
    kp[1, :, :2] = kp[0, :, :2] + 0.5  # near duplicate of pose 0, lower score
    kp[2, :, :2] = kp[0, :, :2] + 60
    boxes = np.array([[90, 90, 210, 210], [90, 90, 210, 210], [150, 150, 270, 270]], np.float32)
    kept = Poses(boxes, np.array([0.8, 0.7, 0.6], np.float32), kp).nms(0.9)
    assert len(kept) == 2 and kept.scores.tolist() == pytest.approx([0.8, 0.6])


def test_parse_input_size() -> None:
    assert parse_input_size("384x288") == (384, 288)
    for bad in ("256", "256x", "0x192", "255x192", "260x192"):
        with pytest.raises(ValueError):
            parse_input_size(bad)


def test_real_coco_image_with_real_detections(shared_data) -> None:
    """All 118 real detections of the COCO fixture images go through in batches, in the boxes."""
    import json

    dets = json.loads((shared_data / "coco" / "test_coco_det_AP_H_56.json").read_text())
    coco = json.loads((shared_data / "coco" / "test_coco.json").read_text())
    files = {im["id"]: im["file_name"] for im in coco["images"]}
    est = PoseEstimator(build_model("hrnet_w8"), (128, 96), batch_size=16)
    total = 0
    for image_id, name in files.items():
        image = cv2.imread(str(shared_data / "coco" / name))
        mine = [d for d in dets if d["image_id"] == image_id]
        xywh = np.array([d["bbox"] for d in mine], np.float32).reshape(-1, 4)
        boxes = np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], 1)
        poses = est(image, boxes, np.array([d["score"] for d in mine]))
        total += len(poses)
        assert poses.keypoints.shape == (len(mine), 17, 3)
        # every keypoint lies inside its padded crop region
        centers, scales = box_to_center_scale(boxes, 0.75)
        half = scales * 200 / 2 + 1
        assert np.all(np.abs(poses.keypoints[..., :2] - centers[:, None]) <= half[:, None])
    assert total == len(dets) == 118


def test_compiled_estimator_pads_batches_and_matches_plain() -> None:
    torch.manual_seed(0)
    model = build_model("hrnet_w8")
    rng = np.random.default_rng(2)
    image = rng.integers(0, 255, (120, 160, 3), dtype=np.uint8)
    boxes = np.array([[10, 10, 60, 100], [50, 20, 120, 110], [0, 0, 159, 119]], np.float32)
    plain = PoseEstimator(model, (64, 64))(image, boxes)
    fast = PoseEstimator(model, (64, 64), compile=True)(image, boxes)  # 6 crops -> padded to 8
    np.testing.assert_allclose(fast.keypoints, plain.keypoints, atol=1e-3)


def test_bfloat16_estimator_finds_same_joints() -> None:
    torch.manual_seed(0)
    model = build_model("hrnet_w8")
    rng = np.random.default_rng(3)
    image = rng.integers(0, 255, (120, 160, 3), dtype=np.uint8)
    boxes = np.array([[10, 10, 60, 100], [50, 20, 120, 110]], np.float32)
    ref = PoseEstimator(model, (128, 96))(image, boxes)
    half = PoseEstimator(model, (128, 96), dtype=torch.bfloat16)(image, boxes)
    assert half.keypoints.dtype == np.float32
    np.testing.assert_allclose(half.keypoints[..., 2], ref.keypoints[..., 2], rtol=0.05, atol=1e-5)
