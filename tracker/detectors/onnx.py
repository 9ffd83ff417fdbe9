"""Person detection with an ONNX model through onnxruntime.

Two output layouts are understood, chosen from the model's outputs:

* an mmdeploy *end2end* export (e.g. RTMDet-nano person): outputs ``dets`` ``(B,N,5)`` x1, y1, x2,
  y2, score in input pixels and ``labels`` ``(B,N)``; the input is BGR normalised with mmdet's
  mean (103.53, 116.28, 123.675) and std (57.375, 57.12, 58.395);
* a raw YOLOX export: one output ``(1, A, 5 + classes)`` with per-anchor grid offsets, log sizes,
  objectness and class scores at strides 8, 16 and 32; the input is BGR 0-255.

Both take a letterbox: the frame resized with its aspect ratio kept to fit the model input, placed
at the top-left, padded with grey 114 (as mmdet's and YOLOX's test pipelines do).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from pose.errors import HrtrackError, first_line
from pose.poses import Poses, box_nms, clip_boxes
from tracker.video import Frame

MMDET_MEAN = np.array([103.53, 116.28, 123.675], np.float32)
MMDET_STD = np.array([57.375, 57.12, 58.395], np.float32)
YOLOX_STRIDES = (8, 16, 32)
PERSON = 0  # COCO class index of "person"


def letterbox(image: np.ndarray, height: int, width: int, pad: int = 114) -> tuple[np.ndarray, float]:
    """Resize keeping the aspect ratio into a ``(height, width)`` canvas at the top-left."""
    h, w = image.shape[:2]
    ratio = min(height / h, width / w)
    nh, nw = max(1, round(h * ratio)), max(1, round(w * ratio))
    canvas = np.full((height, width, 3), pad, np.uint8)
    canvas[:nh, :nw] = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_LINEAR)
    return canvas, ratio


def auto_size(height: int, width: int, side: int | None = None) -> tuple[int, int]:
    """A dynamic detector's input (height, width) for a frame: the longer side ``side`` pixels
    (default: the frame's own, between 320 and 640), the shorter one in the frame's aspect ratio,
    both rounded up to multiples of 32 (the detectors' largest stride)."""

    def up(v: float) -> int:
        return max(32, -(-round(v) // 32) * 32)

    longer = max(height, width)
    side = side or min(max(up(longer), 320), 640)
    ratio = side / longer
    return up(height * ratio), up(width * ratio)


class OnnxDetector:
    """Person detector from an ONNX file (RTMDet end2end or raw YOLOX outputs).

    Args:
        path: the .onnx file.
        score_threshold: boxes scored below it are dropped.
        nms_threshold: IoU of box NMS among the person boxes.
        input_size: (height, width) for models with a dynamic input; default: :func:`auto_size` of
            each frame (its longer side, 320 to 640 pixels, aspect kept), or ``det_size`` pixels.
        det_size: the longer side of a dynamic model's input (``--det-size``), the shorter one
            following the frame's aspect ratio (multiples of 32).
        normalize: end2end inputs get mmdet's mean/std (RTMDet); False feeds raw BGR 0-255 (YOLOX).
    """

    def __init__(
        self,
        path: str | Path,
        score_threshold: float = 0.3,
        nms_threshold: float = 0.65,
        input_size: tuple[int, int] | None = None,
        threads: int | None = None,
        normalize: bool = True,
        det_size: int | None = None,
    ) -> None:
        import onnxruntime as ort

        path = Path(path)
        if not path.is_file():
            raise HrtrackError(f"{path}: ONNX detector file not found")
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        options.log_severity_level = 3
        # No spin-waiting between runs: it takes the cores from the pose network that runs
        # between detections (or beside them, overlapped): 8.9 -> 12.1 fps in bench track, W16.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:
            first = first_line(exc)
            raise HrtrackError(f"{path}: not a loadable ONNX model ({first})") from None
        self.path = path
        self.score_threshold = score_threshold
        self.nms_threshold = nms_threshold
        self.normalize = normalize
        inp = self.session.get_inputs()[0]
        self.input_name = inp.name
        shape = inp.shape
        self.fixed = all(isinstance(s, int) and s > 0 for s in shape[2:4])
        if self.fixed and det_size is not None:
            raise HrtrackError(f"--det-size {det_size}: {path.name} has a fixed input of {shape[2]}x{shape[3]}")
        self.input_h, self.input_w = (shape[2], shape[3]) if self.fixed else (input_size or (0, 0))
        self.det_size = det_size
        self.sized_for: tuple[int, ...] | None = None if self.fixed or input_size else ()  # frame (h, w)
        outputs = [o.name for o in self.session.get_outputs()]
        if "dets" in outputs and "labels" in outputs:
            self.kind = "end2end"
        elif len(outputs) == 1:
            self.kind = "yolox"
        else:
            raise HrtrackError(f"{path}: unknown detector outputs {outputs} (expected dets+labels or one YOLOX tensor)")

    def detect(self, frame: Frame) -> Poses:
        """Person boxes in ``frame.image`` (BGR)."""
        image = frame.image
        if self.sized_for is not None and self.sized_for != image.shape[:2]:  # sized by the frames
            self.sized_for = image.shape[:2]
            self.input_h, self.input_w = auto_size(*self.sized_for, self.det_size)
        canvas, ratio = letterbox(image, self.input_h, self.input_w)
        if self.kind == "end2end":
            x = canvas.astype(np.float32)
            if self.normalize:
                x = (x - MMDET_MEAN) / MMDET_STD
            x = x.transpose(2, 0, 1)[None]
            dets, labels = self.session.run(["dets", "labels"], {self.input_name: x})
            boxes, scores = dets[0, :, :4], dets[0, :, 4]
            keep = (labels[0] == PERSON) & (scores >= self.score_threshold)
            boxes, scores = boxes[keep], scores[keep]
        else:
            x = canvas.astype(np.float32).transpose(2, 0, 1)[None]
            out = self.session.run(None, {self.input_name: x})[0][0]
            boxes, scores = self._decode_yolox(out)
        boxes = clip_boxes(boxes / ratio, image.shape[1], image.shape[0])
        keep = box_nms(boxes, scores, self.nms_threshold)
        return Poses(boxes[keep], scores[keep])

    def _decode_yolox(self, out: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Raw YOLOX anchors ``(A, 5 + C)`` -> person boxes xyxy (input pixels) and scores."""
        grids, strides = [], []
        for stride in YOLOX_STRIDES:
            gh, gw = self.input_h // stride, self.input_w // stride
            ys, xs = np.meshgrid(np.arange(gh), np.arange(gw), indexing="ij")
            grids.append(np.stack([xs, ys], -1).reshape(-1, 2))
            strides.append(np.full((gh * gw, 1), stride))
        grid = np.concatenate(grids).astype(np.float32)
        stride = np.concatenate(strides).astype(np.float32)
        if len(grid) != len(out):
            raise HrtrackError(f"{self.path}: {len(out)} YOLOX anchors, expected {len(grid)} for the input size")
        scores = out[:, 4] * out[:, 5 + PERSON]
        keep = scores >= self.score_threshold
        out, grid, stride, scores = out[keep], grid[keep], stride[keep], scores[keep]
        center = (out[:, :2] + grid) * stride
        size = np.exp(out[:, 2:4]) * stride
        return np.concatenate([center - size / 2, center + size / 2], 1), scores
