"""The frame-only stages of tracking: decode, detect and flow, run in order or ahead of the pose network.

Detection and flow depend only on the frames, never on the poses, so they can run for the next
frames while the pose network works on this one. :func:`prepare` yields, per frame, the frame, its
detections and the flow from the previous decoded frame; with ``ahead > 0`` three threads do it:

* a decoder reads frames and hands each to
* a detector thread and a flow thread (one each: every stage object is used by one thread, in
  frame order, so the results are those of the sequential run, bit for bit);
* at most ``ahead`` frames wait in a bounded queue, so memory stays flat on any video length.

OpenCV, onnxruntime and torch release the GIL while they compute, so the threads run in parallel
with the network. An exception in any stage is raised in the caller at its frame; closing the
generator (an error downstream, Ctrl-C) stops the threads and waits for them.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np

from flow.base import FlowMethod
from pose.poses import Poses
from tracker.detectors.base import Detector
from tracker.video import Frame

Prepared = tuple[Frame, "Poses | None", "np.ndarray | None"]  # detections None: undecodable frame
_END = object()


def prepare(
    frames: Iterable[Frame], detector: Detector, flow: FlowMethod | None, timer: Any, ahead: int = 0
) -> Iterator[Prepared]:
    """``(frame, detections, flow from the previous decoded frame)`` per frame, in order;
    ``ahead``: frames decoded, detected and flowed in threads ahead of the caller (0: inline)."""
    if ahead <= 0:
        return _stages(frames, detector, flow, timer, lambda stage, fn, *args: _timed(timer, stage, fn, *args))
    return _threaded(frames, detector, flow, timer, ahead)


def _stages(
    frames: Iterable[Frame],
    detector: Detector,
    flow: FlowMethod | None,
    timer: Any,
    run: Callable[..., Any],
) -> Iterator[tuple]:
    """The frame-only stages of each frame, in order: ``run(stage, fn, *args)`` runs a stage now
    (its value) or hands it to a thread (a future). An undecodable frame has no detections and
    no flow; the flow then resumes from the last decoded frame."""
    prev: np.ndarray | None = None
    t = time.perf_counter()
    for frame in frames:
        timer.add("decode", t)
        if frame.image is None:
            yield frame, None, None
        else:
            dets = run("detect", detector.detect, frame)
            field = run("flow", flow.compute, prev, frame.image) if flow is not None and prev is not None else None
            prev = frame.image
            yield frame, dets, field
        t = time.perf_counter()


def _timed(timer: Any, stage: str, fn: Callable[..., Any], *args: Any) -> Any:
    start = time.perf_counter()
    try:
        return fn(*args)
    finally:
        timer.add(stage, start)


def _threaded(
    frames: Iterable[Frame], detector: Detector, flow: FlowMethod | None, timer: Any, ahead: int
) -> Iterator[Prepared]:
    import torch

    threads = torch.get_num_threads()  # a new thread's torch ops use the caller's thread count

    def init() -> None:
        torch.set_num_threads(threads)

    items: queue.Queue = queue.Queue(maxsize=ahead)
    stop = threading.Event()
    pools = {stage: ThreadPoolExecutor(1, f"hrtrack-{stage}", initializer=init) for stage in ("detect", "flow")}

    def submit(stage: str, fn: Callable[..., Any], *args: Any) -> Future:
        return pools[stage].submit(_timed, timer, stage, fn, *args)

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                items.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def decode() -> None:
        try:
            for item in _stages(frames, detector, flow, timer, submit):
                if stop.is_set() or not put(item):
                    return
            put(_END)
        except BaseException as exc:  # raised in the caller at this point of the sequence
            put(exc)

    decoder = threading.Thread(target=decode, name="hrtrack-decode", daemon=True)
    decoder.start()
    try:
        while True:
            item = items.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            frame, dets, field = item
            yield frame, _result(dets), _result(field)
    finally:
        stop.set()
        while decoder.is_alive():  # let a decoder blocked on a full queue see the stop
            with contextlib.suppress(queue.Empty):
                items.get(timeout=0.05)
        decoder.join()
        for pool in pools.values():
            pool.shutdown(wait=True, cancel_futures=True)


def _result(value: Future | None) -> Any:
    return value.result() if isinstance(value, Future) else value
