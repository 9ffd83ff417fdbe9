"""Top-down pose estimation of many people in one image, in batches.

``PoseEstimator(model)(image, boxes, box_scores)`` runs the official HRNet test recipe:

1. each box ``(x1,y1,x2,y2)`` -> center/scale padded to the input aspect ratio, x1.25;
2. affine crop to the input size (bilinear), RGB, ImageNet mean/std;
3. the crops and their mirror images go through the network together, in batches;
4. flip test: mirrored heatmaps are flipped back, left/right swapped, shifted one pixel right,
   and averaged with the direct ones;
5. argmax + quarter offset per joint, mapped back to the image with the inverse transform;
6. person score = mean of the joint scores above 0.2, times the box score.

The network runs on a backend (:mod:`pose.backends`): torch, onnxruntime, OpenVINO, or ``auto``,
the fastest of them on this machine for this model (timed once, cached).
OKS-NMS (threshold 0.9 in the official recipe) is available through :meth:`Poses.nms`.
The result is the shared container :class:`pose.poses.Poses`, with the estimator's keypoint layout.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn

from pose import backends
from pose.decode import decode_heatmaps, flip_back, flip_permutation
from pose.errors import HrtrackError
from pose.external import CallableNetwork, ExternalNetwork, is_network_file, runtimes
from pose.files import file_sha256
from pose.fold import prepare_for_inference
from pose.keypoints import COCO, KeypointLayout, get_layout
from pose.poses import Poses
from pose.precision import native_bf16, precisions
from pose.transforms import box_to_center_scale, crop, heatmap_to_image

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
JOINT_SCORE_THRESHOLD = 0.2  # joints above it count in the person score


def _as_rgb(image: np.ndarray, channel_order: str) -> np.ndarray:
    """Validate an image and return it as contiguous (H,W,3) uint8 RGB."""
    if not isinstance(image, np.ndarray):
        raise TypeError(f"image must be a numpy array, got {type(image).__name__}")
    if image.dtype != np.uint8:
        raise HrtrackError(f"image must be uint8 (0-255), got {image.dtype}")
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim == 2:
        return np.ascontiguousarray(np.repeat(image[:, :, None], 3, axis=2))
    if image.ndim != 3 or image.shape[2] not in (3, 4):
        raise HrtrackError(f"image must be (H,W), (H,W,1), (H,W,3) or (H,W,4), got shape {image.shape}")
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise HrtrackError(f"image is empty, shape {image.shape}")
    image = image[:, :, :3]  # RGBA/BGRA: drop alpha
    if channel_order == "bgr":
        image = image[:, :, ::-1]
    elif channel_order != "rgb":
        raise HrtrackError(f"channel_order must be 'bgr' or 'rgb', got {channel_order!r}")
    return np.ascontiguousarray(image)


def _validate_boxes(boxes: np.ndarray, box_scores: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    boxes = np.asarray(boxes, np.float32)
    if boxes.size == 0:
        boxes = boxes.reshape(0, 4)
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise HrtrackError(f"boxes must have shape (N,4) xyxy, got {boxes.shape}")
    if not np.isfinite(boxes).all():
        raise HrtrackError("boxes contain NaN or infinite coordinates")
    bad = np.flatnonzero((boxes[:, 2] < boxes[:, 0]) | (boxes[:, 3] < boxes[:, 1]))
    if bad.size:
        raise HrtrackError(f"box {bad[0]} is not xyxy (x2 < x1 or y2 < y1): {boxes[bad[0]].tolist()}")
    if box_scores is None:
        scores = np.ones(len(boxes), np.float32)
    else:
        scores = np.asarray(box_scores, np.float32).reshape(-1)
        if len(scores) != len(boxes):
            raise HrtrackError(f"{len(boxes)} boxes but {len(scores)} box scores")
    return boxes, scores


class PoseEstimator:
    """Batched top-down inference of a heatmap network on one image at a time.

    Args:
        model: the pose network, one of
            * an HRNet ``nn.Module`` (plain or already prepared); it is prepared for inference here
              (BN folded, channels_last, eval) unless ``prepare=False``;
            * a network file, ``.onnx`` or OpenVINO ``.xml`` (:mod:`pose.external`), run by
              onnxruntime or OpenVINO (``backend``), float32 unless ``dtype`` is bfloat16;
            * any callable: normalised ``(B,3,H,W)`` float32 tensor -> heatmaps ``(B,K,H/4,W/4)``
              (a tensor or an array), e.g. another runtime's session; ``input_size`` is needed.
        input_size: network input (height, width), e.g. (256, 192) or (384, 288). Default: a network
            file's own fixed size, else (256, 192).
        device: torch device for the network.
        flip_test: average with the mirrored crop (official recipe; doubles the network work).
        batch_size: crops per forward pass (a mirrored crop counts as one).
        channel_order: ``"bgr"`` (OpenCV's ``imread``/``VideoCapture``, the default) or ``"rgb"``.
        compile: also ``torch.compile`` the network (see :func:`prepare_for_inference`); batches
            are then padded to powers of two so that only a few shapes are ever compiled.
        dtype: network precision, ``torch.float32`` (default) or ``torch.bfloat16`` (about 3x
            faster on CPUs with AMX/AVX512-BF16; decoding is always done in float32).
        precision: ``f32``, ``bf16`` or ``auto`` (overrides ``dtype``): with ``auto`` the
            calibration also times bfloat16 where the device has it natively and the accuracy
            evidence allows it (:mod:`pose.precision`); the chosen one is :attr:`precision`.
        layout: the model's keypoint layout (``coco`` by default, or ``posetrack18`` for a model
            trained on PoseTrack 2018 slots): its flip pairs are swapped by the flip test, and the
            returned poses carry it.
        backend: ``torch``, ``onnxruntime``, ``openvino`` or ``auto`` (the fastest here, by a
            calibration cached in ``$HRTRACK_HOME``); see :mod:`pose.backends`. Default: ``torch``
            for a module, ``auto`` for a network file (whichever of its runtimes is faster).
        weights: the checkpoint the model's weights came from: its ONNX export is cached beside it
            (without one, the export goes to a temporary folder).
    """

    def __init__(
        self,
        model: nn.Module | str | Path | Callable[[torch.Tensor], torch.Tensor],
        input_size: tuple[int, int] | None = None,
        device: str | torch.device = "cpu",
        flip_test: bool = True,
        batch_size: int = 32,
        channel_order: str = "bgr",
        prepare: bool = True,
        compile: bool = False,
        dtype: torch.dtype = torch.float32,
        layout: KeypointLayout | str = COCO,
        backend: str | None = None,
        weights: str | Path | None = None,
        precision: str | None = None,
    ) -> None:
        if batch_size < 1:
            raise HrtrackError(f"batch_size must be >= 1, got {batch_size}")
        self.device = torch.device(device)
        self.layout = get_layout(layout)
        self.flip_test = flip_test
        self.batch_size = batch_size
        self.channel_order = channel_order
        self.compiled = False
        self.model: nn.Module | None = None
        wanted = precision or ("bf16" if dtype == torch.bfloat16 else "f32")
        self._precisions = precisions(wanted, self.device)
        if isinstance(model, (str, Path)):  # a network file
            self.backend, self.choice = self._external(Path(model), backend or "auto", input_size)
            self.dtype = torch.bfloat16 if self.backend.precision == "bf16" else torch.float32
            self.input_h, self.input_w = self.backend.info.input_size
            self.num_joints = self.backend.info.num_joints
        elif not isinstance(model, nn.Module):  # any callable
            if not callable(model):
                kind = type(model).__name__
                raise HrtrackError(f"model must be an nn.Module, a network file or a callable, not {kind}")
            if input_size is None:
                raise HrtrackError("a callable network needs input_size=(height, width)")
            self.input_h, self.input_w = input_size
            self.dtype = torch.float32
            self.backend = CallableNetwork(model, input_size, self.layout.num_joints)
            self.choice = backends.Choice("callable", {}, False)
            self.num_joints = self.backend.num_joints
        else:
            self.input_h, self.input_w = input_size or (256, 192)
            if self.input_h % 32 or self.input_w % 32:
                raise HrtrackError(f"input size {input_size} must be a multiple of 32 in height and width")
            model = model.to(self.device)
            if not prepare:
                self._precisions = ["f32"]
            self.compiled = compile and prepare
            backend = backend or "torch"
            backends.check_backend(backend, self.device, self._precisions == ["bf16"], self.compiled)
            self.backend, self.choice = self._backend(backend, model, weights, prepare)
            self.dtype = torch.bfloat16 if self.backend.precision == "bf16" else torch.float32
            self.num_joints = int(getattr(model, "num_joints", 17))
        if self._precisions == ["bf16"] and not native_bf16(self.device):  # asked for: runs, but say how
            how = "emulated, slower" if self.precision == "bf16" else f"{self.backend.name} runs float32"
            print(f"hrtrack: warning: --precision bf16: no native bfloat16 on {self.device} ({how})", file=sys.stderr)
        self._perm = flip_permutation(self.num_joints, self.layout.flip_pairs)
        self._mean = torch.tensor(IMAGENET_MEAN, device=self.device).view(1, 3, 1, 1) * 255.0
        self._std = torch.tensor(IMAGENET_STD, device=self.device).view(1, 3, 1, 1) * 255.0

    @property
    def precision(self) -> str:
        """``f32`` or ``bf16``: what the network runs in."""
        return getattr(self.backend, "precision", "f32")

    def _external(
        self, path: Path, name: str, input_size: tuple[int, int] | None
    ) -> tuple[ExternalNetwork, backends.Choice]:
        """The runtime of a network file: ``name``, or for ``auto`` the fastest runtime that reads
        it here (timed once, cached as for HRNet). Errors about the file itself come first."""
        if not is_network_file(path):
            raise HrtrackError(f"{path}: network files are .onnx or OpenVINO .xml")
        if self.device.type != "cpu":
            raise HrtrackError(f"{path}: network files run on the CPU (onnxruntime, OpenVINO), not {self.device}")
        if name == "torch":
            raise HrtrackError(f"--backend torch: {path.name} runs on " + " or ".join(runtimes(path)))
        if name != "auto":
            names = backends.candidates(self.device, self._precisions, False, name)
        else:
            found = [r for r in runtimes(path) if backends.available(r)]
            names = [n for r in found for n in backends.candidates(self.device, self._precisions, False, r)]
            if not names:
                raise HrtrackError(
                    f"{path}: no installed runtime runs it in {self._precisions[0]} (pip install 'hrtrack[openvino]')"
                )
        joints = self.layout.num_joints
        built: dict[str, ExternalNetwork] = {}

        def build(which: str) -> ExternalNetwork:
            if which not in built:
                runtime, dtype = backends.split_candidate(which)
                bf16 = dtype == torch.bfloat16
                built[which] = ExternalNetwork(path, runtime, bf16=bf16, input_size=input_size, joints=joints)
            return built[which]

        first = build(names[0])  # checks the file
        if len(names) == 1:
            return first, backends.Choice(names[0], {}, False)
        size = first.info.input_size
        key = backends.calibration_key(f"{path.name} {file_sha256(path)[:12]}", size, self._wanted(), names)
        return backends.choose_backend(names, build, key, size)

    def _wanted(self) -> str:
        """The precision asked for, as the calibration key names it: ``f32``, ``bf16`` or ``auto``."""
        return self._precisions[0] if len(self._precisions) == 1 else "auto"

    def _backend(
        self, name: str, model: nn.Module, weights: str | Path | None, prepare: bool = True
    ) -> tuple[backends.Backend, backends.Choice]:
        """The runtime of the network: ``name``, or the fastest of the candidates for ``auto``, in
        each precision allowed (:mod:`pose.precision`). Sets :attr:`model` (the prepared module in
        the chosen precision; float32 for an ONNX runtime)."""
        size = (self.input_h, self.input_w)
        weights = Path(weights) if weights else None
        onnx_file: list[Path] = []  # found or exported once, for every ONNX backend tried
        prepared: dict[torch.dtype, nn.Module] = {}

        def module(dtype: torch.dtype, compile: bool) -> nn.Module:
            if dtype not in prepared:
                prepared[dtype] = (
                    prepare_for_inference(model, compile=compile, dtype=dtype) if prepare else model.eval()
                )
            return prepared[dtype]

        def build(which: str) -> backends.Backend:
            runtime, dtype = backends.split_candidate(which)
            if runtime == "torch":
                return backends.TorchBackend(module(dtype, self.compiled), dtype)
            if not onnx_file:  # the export is always float32, whatever the precision
                onnx_file.append(backends.ensure_onnx(module(torch.float32, False), size, weights))
            return backends.make_backend(runtime, onnx_file[0], dtype)

        names = backends.candidates(self.device, self._precisions, self.compiled, name)
        if len(names) == 1:
            chosen, choice = build(names[0]), backends.Choice(names[0], {}, False)
        else:
            arch = f"hrnet_w{getattr(model, 'width', '?')}"
            key = backends.calibration_key(arch, size, self._wanted(), names)
            chosen, choice = backends.choose_backend(names, build, key, size)
        dtype = backends.split_candidate(choice.name)[1]
        # not `or`: a compiled module has no truth value
        self.model = prepared[dtype] if dtype in prepared else prepared.get(torch.float32)
        return chosen, choice

    def crops(self, image: np.ndarray, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Affine crops ``(N,H,W,3)`` uint8 RGB with their centers and scales ``(N,2)``."""
        return self._crops_rgb(_as_rgb(image, self.channel_order), np.asarray(boxes, np.float32))

    def _crops_rgb(self, rgb: np.ndarray, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        centers, scales = box_to_center_scale(boxes, self.input_w / self.input_h)
        out = np.empty((len(boxes), self.input_h, self.input_w, 3), np.uint8)
        for i in range(len(boxes)):
            out[i] = crop(rgb, centers[i], scales[i], (self.input_w, self.input_h))
        return out, centers, scales

    @torch.inference_mode()
    def heatmaps(self, crops: np.ndarray) -> torch.Tensor:
        """Network heatmaps ``(N,K,H/4,W/4)`` for uint8 RGB crops, flip test included."""
        outs = []
        step = max(1, self.batch_size // 2) if self.flip_test else self.batch_size
        for start in range(0, len(crops), step):
            # (B,H,W,3) -> (B,3,H,W) view is channels_last in memory: no copy for the network.
            x = torch.from_numpy(crops[start : start + step]).to(self.device).permute(0, 3, 1, 2)
            x = (x.float() - self._mean) / self._std
            b = x.shape[0]
            if self.flip_test:
                x = torch.cat([x, x.flip(3)], dim=0)
            rows = x.shape[0]
            if self.compiled and rows & (rows - 1):  # pad to a power of two: few compiled shapes
                x = torch.cat([x, x.new_zeros((1 << rows.bit_length()) - rows, *x.shape[1:])])
            y = self.backend(x)[:rows].float()
            if self.flip_test:
                y = (y[:b] + flip_back(y[b:], self._perm)) * 0.5
            outs.append(y.cpu())
        if not outs:
            return torch.zeros(0, self.num_joints, self.input_h // 4, self.input_w // 4)
        return torch.cat(outs)

    def __call__(self, image: np.ndarray, boxes: np.ndarray | Poses, box_scores: np.ndarray | None = None) -> Poses:
        """Poses for the people in ``boxes``: a :class:`Poses` of boxes (its scores, sources and
        track ids are kept), or an ``(N,4)`` xyxy array with ``box_scores`` ``(N,)``.

        Boxes may extend past the image (the crop is zero-padded). Degenerate boxes (zero width
        or height) and boxes entirely outside the image yield a pose with all scores 0.
        """
        given = boxes if isinstance(boxes, Poses) else None
        if given is not None:
            boxes, box_scores = given.boxes, given.scores
        boxes, scores = _validate_boxes(boxes, box_scores)
        rgb = _as_rgb(image, self.channel_order)  # validate even when there are no boxes
        n, k = len(boxes), self.num_joints
        keypoints = np.zeros((n, k, 3), np.float32)
        person = np.zeros(n, np.float32)
        h, w = rgb.shape[:2]
        usable = (
            (boxes[:, 2] > boxes[:, 0])
            & (boxes[:, 3] > boxes[:, 1])
            & (boxes[:, 2] > 0)
            & (boxes[:, 3] > 0)
            & (boxes[:, 0] < w)
            & (boxes[:, 1] < h)
        )
        idx = np.flatnonzero(usable)
        if idx.size:
            crops, centers, scales = self._crops_rgb(rgb, boxes[idx])
            coords, joint_scores = decode_heatmaps(self.heatmaps(crops))
            xy = heatmap_to_image(coords, centers, scales, (self.input_w // 4, self.input_h // 4))
            keypoints[idx, :, :2] = xy
            keypoints[idx, :, 2] = joint_scores
            person[idx] = person_scores(joint_scores, scores[idx])
        if given is not None:
            return given.with_(keypoints=keypoints, scores=person, boxes=boxes, layout=self.layout)
        return Poses(boxes, person, keypoints, layout=self.layout)


def person_scores(
    joint_scores: np.ndarray, box_scores: np.ndarray, threshold: float = JOINT_SCORE_THRESHOLD
) -> np.ndarray:
    """Mean of the joint scores above ``threshold`` (0 if none) times the box score."""
    above = joint_scores > threshold
    count = above.sum(1)
    total = np.where(above, joint_scores, 0.0).sum(1)
    mean = np.divide(total, count, out=np.zeros(len(count), np.float64), where=count > 0)
    return (mean * box_scores).astype(np.float32)
