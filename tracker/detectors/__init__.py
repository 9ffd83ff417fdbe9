"""Person detectors: each is a small class with ``detect(frame) -> Poses`` (boxes and scores).

``make_detector(spec)`` builds one from a command-line spec:

* ``onnx:PATH`` — an ONNX person detector through onnxruntime (RTMDet end2end or raw YOLOX);
* ``json:PATH`` — precomputed detections in COCO results format;
* ``gt:ANNOTATION`` — boxes from a PoseTrack ground-truth file (the "GT box" setting);
* ``hog`` — OpenCV's HOG people detector: needs no weights, but weak (upright, large people only);
* a zoo name (``hrtrack models``), e.g. ``rtmdet_nano_person`` (the default of ``hrtrack track``):
  the ONNX detector fetched, verified and cached on first use.

Adding a detector is one file with such a class and one line here.
"""

from __future__ import annotations

from pose.errors import HrtrackError
from tracker.detectors.base import Detector

__all__ = ["Detector", "make_detector"]


def make_detector(spec: str, score_threshold: float | None = None, det_size: int | None = None) -> Detector:
    """A detector from its spec (see the module docstring). ``det_size``: the longer side of an
    ONNX detector's input (default: chosen from the frame size, see :func:`onnx.auto_size`)."""
    from pose import zoo

    entry = zoo.lookup(spec, "detector")
    threshold = {} if score_threshold is None else {"score_threshold": score_threshold}
    if entry is not None:
        from tracker.detectors.onnx import OnnxDetector

        return OnnxDetector(zoo.fetch(entry), normalize=entry.normalize, det_size=det_size, **threshold)
    kind, _, arg = spec.partition(":")
    if det_size is not None and kind != "onnx":
        raise HrtrackError(f"--det-size: only ONNX detectors have an input size, not --detector {spec}")
    if kind == "onnx" and arg:
        from tracker.detectors.onnx import OnnxDetector

        return OnnxDetector(arg, det_size=det_size, **threshold)
    if kind == "json" and arg:
        from tracker.detectors.precomputed import JsonDetections

        return JsonDetections(arg, score_threshold or 0.0)
    if kind == "gt" and arg:
        from tracker.detectors.gt import GtBoxes

        return GtBoxes(arg)
    if kind == "hog" and not arg:
        from tracker.detectors.hog import HogDetector

        return HogDetector(**({} if score_threshold is None else {"score_threshold": score_threshold}))
    raise HrtrackError(
        f"unknown detector {spec!r}: use a zoo detector (hrtrack models), onnx:PATH, json:PATH, gt:ANNOTATION or hog"
    )
