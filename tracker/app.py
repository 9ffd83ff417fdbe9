"""``hrtrack track``: the parsed options as a :class:`~tracker.config.TrackConfig`, one source tracked
by a :class:`~tracker.api.Tracker`, or many by :mod:`tracker.corpus` (which uses the same Tracker)."""

from __future__ import annotations

import argparse
import sys

import torch

from tracker.api import Tracker, report_summary
from tracker.commands.track import config_from_args
from tracker.corpus import evaluate_results, plan_jobs, run_corpus


def run_track(args: argparse.Namespace) -> int:
    """Run the pipeline for the parsed ``track`` options; returns the exit status.

    One source: tracked here, its outputs planned (checked, nothing created) before any input is
    read, written under temp names and committed together at the end, or not at all
    (:class:`pose.files.OutputPlan`). Several sources (or ``--workers``/``--ray``): a corpus run
    (:mod:`tracker.corpus`), resumable, one sequence failing alone."""
    threads = torch.get_num_threads()
    try:
        return _run_track(args)
    finally:
        torch.set_num_threads(threads)  # --threads is this run's (the Python API may go on)


def _run_track(args: argparse.Namespace) -> int:
    jobs = plan_jobs(args)
    if len(jobs) > 1 or args.workers > 1 or args.ray is not None:
        return run_corpus(jobs, args)
    if args.threads:
        torch.set_num_threads(args.threads)
    job = jobs[0]
    tracker = Tracker(config=config_from_args(args))
    summary = tracker.track(
        job.source, args.out, args.render, name=job.name, detector=job.detector, progress=not args.quiet
    )
    report_summary(summary, job.detector, track_score=args.track_score)
    if not args.quiet:
        print(summary.timer.summary(), file=sys.stderr)
    print(
        f"{summary.frames} frames, {summary.detections} detections, {len(summary.tracks)} tracks -> "
        + ", ".join(str(p) for p in summary.files)
    )
    if args.eval:
        evaluate_results(args)
    return 0
