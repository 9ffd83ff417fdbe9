"""The tracking application: pipeline stages, FlowTrack association, the Python API and the ``hrtrack`` CLI.

The Python API (imported lazily, PEP 562, so that ``hrtrack eval --help`` never loads torch)::

    from tracker import Tracker, TrackConfig

* :class:`Tracker` (:mod:`tracker.api`): track a video, a frame folder, a PoseTrack annotation or any
  iterable of images; a stream of :class:`FrameResult`, or the files of ``hrtrack track``;
* :class:`TrackConfig` (:mod:`tracker.config`): every option, typed and checked;
* :class:`TrackSummary`, :class:`FrameResult`: what a run gives.
"""

from __future__ import annotations

from pose import lazy_exports

_WHERE = {
    "Tracker": "tracker.api",
    "TrackSummary": "tracker.api",
    "TrackConfig": "tracker.config",
    "FrameResult": "tracker.pipeline",
}

__all__ = sorted(_WHERE)
__getattr__, __dir__ = lazy_exports(__name__, _WHERE)
