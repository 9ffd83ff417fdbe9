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
        return _inline(frames, detector, flow, timer)
    return _threaded(frames, detector, flow, timer, ahead)


def _inline(frames: Iterable[Frame], detector: Detector, flow: FlowMethod | None, timer: Any) -> Iterator[Prepared]:
    prev: np.ndarray | None = None
    t = time.perf_counter()
    for frame in frames:
        t = timer.add("decode", t)
        if frame.image is None:  # the tracks age; flow resumes from the last good frame
            yield frame, None, None
            t = time.perf_counter()
            continue
        dets = detector.detect(frame)
        t = timer.add("detect", t)
        field = flow.compute(prev, frame.image) if flow is not None and prev is not None else None
        timer.add("flow", t)
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
    detect_pool = ThreadPoolExecutor(1, "hrtrack-detect", initializer=init)
    flow_pool = ThreadPoolExecutor(1, "hrtrack-flow", initializer=init)

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
            prev: np.ndarray | None = None
            t = time.perf_counter()
            for frame in frames:
                timer.add("decode", t)
                if stop.is_set():
                    return
                if frame.image is None:
                    item: tuple = (frame, None, None)
                else:
                    dets = detect_pool.submit(_timed, timer, "detect", detector.detect, frame)
                    field = None
                    if flow is not None and prev is not None:
                        field = flow_pool.submit(_timed, timer, "flow", flow.compute, prev, frame.image)
                    prev = frame.image
                    item = (frame, dets, field)
                if not put(item):
                    return
                t = time.perf_counter()
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
        for pool in (detect_pool, flow_pool):
            pool.shutdown(wait=True, cancel_futures=True)


def _result(value: Future | None) -> Any:
    return value.result() if isinstance(value, Future) else value
