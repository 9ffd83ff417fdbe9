"""``hrtrack track SRC [SRC ...]``: a corpus of sequences, resumable, in parallel, on Ray.

* :func:`plan_jobs` expands the sources (files, folders of PoseTrack annotation files, globs)
  into one :class:`Job` per sequence and checks every output path before any work;
* a sequence whose outputs all exist is skipped (``--overwrite`` redoes it); outputs appear only
  whole (each sequence commits its files together), so a sequence cut short is simply redone;
* :func:`run_corpus` tracks the rest serially, in ``--workers N`` local processes (torch threads
  split between them) or as Ray tasks (``--ray``), one failing sequence not stopping the others;
  a table at the end, exit status 2 naming the failed sequences;
* ``--threads T``: torch threads per sequence (default: the machine's, split between the workers;
  one per Ray task). oneDNN's sums depend on the thread count (scores then differ in the 7th
  digit), so the outputs of two runs are byte-identical when their ``--threads`` are equal, in
  any mode: serial, ``--workers`` and ``--ray``;
* workers write their sequence's outputs to ``--out`` themselves: with Ray, ``--out`` and the
  inputs must be on storage every worker reads and writes (a shared file system), and a task
  lost with its worker is retried by Ray (its leftover temp files are swept at the end);
* ``--eval GT_DIR`` scores the results at the end (:func:`eval.evaluate`).
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import importlib.util
import os
import sys
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

from pose.errors import HrtrackError, third_party_quiet
from pose.files import OutputPlan
from pose.specs import check_backend
from tracker.api import Tracker, output_paths, report_summary, source_detector
from tracker.commands.track import config_from_args, formats_of
from tracker.video import IMAGE_SUFFIXES

#: Test hook: with this set to a folder, the first attempt of every sequence exits at its third
#: frame (a marker file in the folder remembers it): a worker lost mid-task, for Ray's retries.
CRASH_ONCE_ENV = "HRTRACK_TEST_CRASH_ONCE"


@dataclass(frozen=True)
class Job:
    """One sequence of a ``track`` run: where its frames come from, its name (of its output files)
    and its detector spec (``json:DIR`` and a bare ``gt`` resolved per sequence)."""

    source: str
    name: str
    detector: str


def job_outputs(job: Job, args: argparse.Namespace) -> list[tuple[Path, str]]:
    """The files a job writes, with the option that names them."""
    return output_paths(args.out, job.name, formats_of(args.format), args.render)


@dataclass
class Report:
    """How one sequence went: ``status`` is done, skipped or failed (with ``message``)."""

    name: str
    status: str
    frames: int = 0
    tracks: int = 0
    seconds: float = 0.0
    message: str = ""


# ----------------------------------------------------------------------------- planning


def expand_sources(specs: list[str]) -> list[str]:
    """Files and folders as given; a folder holding PoseTrack annotation files (json, no images)
    is its json files; a pattern with ``*``, ``?`` or ``[`` is its matches, sorted."""
    sources: list[str] = []
    for spec in specs:
        if not os.path.exists(spec) and glob.has_magic(spec):
            matches = sorted(glob.glob(spec))
            if not matches:
                raise HrtrackError(f"{spec}: no file matches this pattern")
            sources.extend(expand_sources(matches))
            continue
        path = Path(spec)
        if path.is_dir():
            entries = [p for p in path.iterdir() if p.is_file()]
            jsons = sorted(p for p in entries if p.suffix.lower() == ".json")
            if jsons and not any(p.suffix.lower() in IMAGE_SUFFIXES for p in entries):
                sources.extend(str(p) for p in jsons)
                continue
        sources.append(spec)
    return sources


def plan_jobs(args: argparse.Namespace) -> list[Job]:
    """The run's sequences, with their outputs checked (nothing is created)."""
    sources = expand_sources(list(args.source))
    if args.name and len(sources) > 1:
        raise HrtrackError(f"--name: one name for {len(sources)} sources (each is named after its file)")
    if args.render and len(sources) > 1:
        raise HrtrackError(f"--render: one video for {len(sources)} sources (use hrtrack render per sequence)")
    jobs, seen = [], {}
    for source in sources:
        name = args.name or Path(source).stem
        if name in seen:
            raise HrtrackError(f"{source}: its sequence name {name!r} is also that of {seen[name]}")
        seen[name] = source
        jobs.append(Job(source, name, source_detector(args.detector, source, name)))
    check_backend(args.backend, args.device, args.precision == "bf16", args.compile)  # e.g. onnxruntime, bf16
    if args.eval:
        _check_eval(args.eval, {job.name for job in jobs})
    if args.ray is not None and importlib.util.find_spec("ray") is None:
        raise HrtrackError("--ray needs the optional extra: pip install 'hrtrack[ray]'")
    if args.ray is not None and args.device.startswith("cuda") and args.gpus_per_task == 0:
        raise HrtrackError(f"--device {args.device} with --ray: give --gpus-per-task (Ray hides GPUs from tasks)")
    kind, _, arg = args.detector.partition(":")
    read_folders = [args.eval, arg if kind == "json" and Path(arg).is_dir() else None]
    check = OutputPlan(inputs=[*sources, args.eval], sealed=read_folders)  # e.g. --out over the --eval GT: refused
    for job in jobs:
        for path, option in job_outputs(job, args):
            check.add(path, option, suffixes=(".mp4",) if option == "--render" else ())
    check.abort()  # only the checks: each sequence plans and commits its own files
    return jobs


def _check_eval(gt: str, names: set[str]) -> None:
    """``--eval GT``: every ground-truth sequence must be one this run tracks (the results are
    paired with the GT files by name), checked before any work."""
    files = [Path(gt)] if Path(gt).is_file() else sorted(Path(gt).glob("*.json"))
    if not files:
        raise HrtrackError(f"--eval {gt}: no ground-truth .json files there")
    missing = [f.stem for f in files if f.stem not in names]
    if missing:
        raise HrtrackError(
            f"--eval {gt}: {len(missing)} ground-truth sequence(s) not tracked by this run (e.g. {missing[0]}); "
            "results are paired with the GT files by name"
        )
    from eval.posetrack import read_sequence

    for f in files:  # ground truth that is not (malformed, nothing labelled): refused before any work
        seq = read_sequence(f)
        if seq.frames and not any(frame.is_labeled for frame in seq.frames):
            raise HrtrackError(f"--eval {f}: no frame is labelled (is_labeled is false on all): not ground truth")


def absolute_paths(args: argparse.Namespace) -> None:
    """The run's paths made absolute, so that workers (processes, Ray tasks with another working
    folder) read and write the same files as the driver."""
    args.source = [os.path.abspath(s) for s in args.source]
    for name in ("out", "images_root", "render", "eval"):
        if getattr(args, name, None):
            setattr(args, name, os.path.abspath(getattr(args, name)))
    if args.weights and os.path.isfile(args.weights):
        args.weights = os.path.abspath(args.weights)
    kind, sep, rest = args.detector.partition(":")
    if sep and kind in ("onnx", "json", "gt") and os.path.exists(rest):
        args.detector = f"{kind}:{os.path.abspath(rest)}"


def is_complete(job: Job, args: argparse.Namespace) -> bool:
    """Every output of the sequence exists (they are committed together, so it was finished)."""
    return all(path.is_file() for path, _ in job_outputs(job, args))


def sweep_temps(job: Job, args: argparse.Namespace) -> None:
    """Remove the temp files a lost worker left beside the sequence's outputs."""
    for path, _ in job_outputs(job, args):
        for tmp in path.parent.glob(f".{glob.escape(path.name)}.*.tmp*"):
            tmp.unlink(missing_ok=True)


# ----------------------------------------------------------------------------- one sequence (any process)

_TRACKERS: dict[str, Tracker] = {}


def run_job(job: Job, args: argparse.Namespace, progress: object = None) -> Report:
    """Track one sequence in this process with a :class:`~tracker.api.Tracker` (its models loaded
    once per process); a failure is reported, not raised, so that the other sequences go on."""
    try:
        config = config_from_args(args)
        key = repr(config)
        if key not in _TRACKERS:
            _TRACKERS.clear()
            _TRACKERS[key] = Tracker(config=config)
        tracker = _TRACKERS[key].load(progress=not args.quiet)  # before "start": a worker lost loading is retried
        if progress is not None and not isinstance(progress, _BarQueue):
            progress.put(("start", job.name))
        on_frame = _crash_hook(job) or (None if progress is None else lambda: progress.put(1))
        summary = tracker.track(
            job.source, args.out, args.render, name=job.name, detector=job.detector, on_frame=on_frame
        )
    except (HrtrackError, OSError, MemoryError) as exc:
        text = str(exc).strip().splitlines()
        return Report(job.name, "failed", message=text[0] if text else type(exc).__name__)
    except Exception as exc:  # a bug in one sequence: reported with the others, traceback with --debug
        if os.environ.get("HRTRACK_DEBUG", "0") not in ("", "0"):
            raise
        return Report(job.name, "failed", message=f"internal error ({type(exc).__name__}: {exc})")
    report_summary(summary, job.detector, job.name, args.track_score)
    return Report(job.name, "done", summary.frames, len(summary.tracks), summary.timer.wall)


def resolve_backend(args: argparse.Namespace, threads: int) -> None:
    """``--backend auto`` settled once, in this process, for runs in other processes (``--workers``,
    Ray): every sequence then runs on the same backend with ``threads`` threads, and the outputs
    are those of a serial run with the same ``--threads``."""
    import torch

    if args.backend != "auto":
        return
    saved = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        estimator = Tracker(config=config_from_args(args)).load(progress=not args.quiet, flow=False).estimator
    finally:
        torch.set_num_threads(saved)
    args.backend = estimator.choice.name
    if not args.quiet:
        print(f"hrtrack: {estimator.choice.describe()} for {threads} thread(s) per sequence", file=sys.stderr)


def _crash_hook(job: Job):
    folder = os.environ.get(CRASH_ONCE_ENV)
    if not folder:
        return None
    marker = Path(folder) / f"{job.name}.crashed"
    if marker.exists():
        return None
    count = [0]

    def on_frame() -> None:
        count[0] += 1
        if count[0] == 3:
            marker.write_text("the first attempt exited here\n")
            os._exit(3)

    return on_frame


def _init_worker(threads: int) -> None:
    import signal

    import torch

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: the parent decides
    torch.set_num_threads(threads)


# ----------------------------------------------------------------------------- the corpus


def run_corpus(jobs: list[Job], args: argparse.Namespace) -> int:
    """Track every sequence not yet complete (serially, ``--workers`` processes or Ray tasks),
    print the table, then ``--eval``; exit status 2 when a sequence failed."""
    from tqdm import tqdm

    if args.ray is not None:  # Ray tasks run in other working folders
        absolute_paths(args)
        jobs = [
            Job(os.path.abspath(j.source), j.name, source_detector(args.detector, os.path.abspath(j.source), j.name))
            for j in jobs
        ]
    reports: dict[str, Report] = {}
    todo = []
    for job in jobs:
        if not args.overwrite and is_complete(job, args):
            reports[job.name] = Report(job.name, "skipped", message="outputs complete (--overwrite redoes it)")
        else:
            todo.append(job)
    mode = "ray" if args.ray is not None else "workers" if args.workers > 1 else "serial"
    if not args.quiet:
        print(
            f"hrtrack: {len(jobs)} sequences, {len(todo)} to track ({len(jobs) - len(todo)} complete), {mode}",
            file=sys.stderr,
        )
    made = []  # the folders all sequences share, made here so that no worker removes them
    for folder in sorted({path.parent for job in todo for path, _ in job_outputs(job, args)}):
        missing = [f for f in (folder, *folder.parents) if not f.exists()]
        folder.mkdir(parents=True, exist_ok=True)
        made.extend(reversed(missing))
    total = sum(_frame_count(job, args) for job in todo)
    bar = tqdm(total=total, unit="frame", disable=args.quiet or not todo, dynamic_ncols=True)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    try:
        if mode == "serial":
            for job in todo:
                bar.set_description(job.name)
                reports[job.name] = run_job(job, args, _BarQueue(bar))
        elif mode == "workers":
            _run_workers(todo, args, bar, reports)
        else:
            _run_ray(todo, args, bar, reports)
    finally:
        bar.close()
        for job in todo:
            sweep_temps(job, args)
        for folder in reversed(made):  # left empty (every sequence failed, or an interruption)
            with contextlib.suppress(OSError):
                folder.rmdir()
    print(format_table([reports[job.name] for job in jobs]))
    failed = [r for r in reports.values() if r.status == "failed"]
    if failed:
        text = f"{len(failed)} of {len(jobs)} sequences failed: {', '.join(r.name for r in failed)} (see the table)"
        if any(r.message.startswith("internal error") for r in failed):  # a bug: exit 1, as for one source
            print(f"hrtrack: error: {text}; rerun with --debug for the traceback", file=sys.stderr)
            return 1
        raise HrtrackError(text)
    if args.eval:
        evaluate_results(args)
    return 0


class _BarQueue:
    """The progress 'queue' of a serial run: a frame done advances the bar."""

    def __init__(self, bar: object) -> None:
        self.bar = bar

    def put(self, n: int) -> None:
        self.bar.update(n)


def _frame_count(job: Job, args: argparse.Namespace) -> int:
    try:
        from tracker.video import open_source

        return len(open_source(job.source, args.images_root))
    except (HrtrackError, OSError):
        return 0  # it fails when tracked, with its message in the table


def _run_workers(todo: list[Job], args: argparse.Namespace, bar: object, reports: dict[str, Report]) -> None:
    """``--workers N`` spawned processes. A worker that dies takes only the sequences that had
    started with it (the pool is started again for the others); an interruption stops them all."""
    import multiprocessing as mp
    from concurrent.futures.process import BrokenProcessPool

    import torch

    threads = args.threads or max(1, torch.get_num_threads() // args.workers)
    resolve_backend(args, threads)
    ctx = mp.get_context("spawn")
    started: set[str] = set()
    with ctx.Manager() as manager:
        queue = manager.Queue()
        waiting = list(todo)
        while waiting:
            pool = ProcessPoolExecutor(args.workers, ctx, initializer=_init_worker, initargs=(threads,))
            try:
                pending = {pool.submit(run_job, job, args, queue): job for job in waiting}
                waiting = []
                while pending:
                    done, _ = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
                    _drain(queue, bar, started)
                    for future in done:
                        job = pending.pop(future)
                        try:
                            reports[job.name] = future.result()
                        except BrokenProcessPool:
                            if job.name in started:
                                reports[job.name] = Report(job.name, "failed", message="worker lost")
                            else:  # it never ran: into the next pool
                                waiting.append(job)
                _drain(queue, bar, started)
            except BaseException:
                _stop(pool)
                raise
            pool.shutdown(wait=True, cancel_futures=True)


def _stop(pool: ProcessPoolExecutor) -> None:
    """Cancel what has not started and end the workers now (an interrupted run)."""
    processes = list(getattr(pool, "_processes", {}).values())  # the executor has no public way
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        process.terminate()
    for process in processes:
        process.join(timeout=10)


def _drain(queue: object, bar: object, started: set[str] | None = None) -> None:
    """Workers' messages: a frame done (1) advances the bar; ``("start", name)`` marks a sequence begun."""
    import queue as queue_module

    while True:
        try:
            message = queue.get_nowait()
        except queue_module.Empty:
            return
        if isinstance(message, tuple):
            if started is not None:
                started.add(message[1])
        else:
            bar.update(message)


def _run_ray(todo: list[Job], args: argparse.Namespace, bar: object, reports: dict[str, Report]) -> None:
    try:
        import ray
    except ImportError:
        raise HrtrackError("--ray needs the optional extra: pip install 'hrtrack[ray]'") from None
    started = not ray.is_initialized()
    if started:
        address = None if args.ray == "local" else args.ray
        options = {"num_cpus": os.cpu_count()} if address is None else {}
        with third_party_quiet():  # Ray's start-up banner and warnings
            ray.init(address=address, include_dashboard=False, log_to_driver=False, **options)
    try:
        threads = args.threads or 1
        have = ray.cluster_resources()
        if threads > have.get("CPU", 0):
            raise HrtrackError(f"--threads {threads}: the Ray cluster has {have.get('CPU', 0):g} CPUs")
        if args.gpus_per_task > have.get("GPU", 0):
            raise HrtrackError(
                f"--gpus-per-task {args.gpus_per_task:g}: the Ray cluster has {have.get('GPU', 0):g} GPUs"
            )
        resolve_backend(args, threads)  # on this machine: every task runs on the same backend
        task = ray.remote(_ray_job).options(num_cpus=threads, num_gpus=args.gpus_per_task, max_retries=3)
        refs = {task.remote(job, args): job for job in todo}
        while refs:
            done, _ = ray.wait(list(refs), num_returns=1)
            job = refs.pop(done[0])
            try:
                reports[job.name] = ray.get(done[0])
            except Exception as exc:  # retries exhausted
                reports[job.name] = Report(job.name, "failed", message=f"ray task failed ({type(exc).__name__})")
            bar.update(reports[job.name].frames)
    finally:
        if started:
            ray.shutdown()


def _ray_job(job: Job, args: argparse.Namespace) -> Report:
    """One Ray task: one torch thread per CPU the task holds (``--threads``, default 1)."""
    import torch

    torch.set_num_threads(args.threads or 1)
    return run_job(job, args)


# ----------------------------------------------------------------------------- results


def format_table(reports: list[Report]) -> str:
    """sequence, frames, tracks, fps, status: one row per sequence."""
    width = max([len("sequence")] + [len(r.name) for r in reports])
    lines = [f"{'sequence':<{width}}  {'frames':>6}  {'tracks':>6}  {'fps':>6}  status"]
    for r in reports:
        done = r.status == "done"
        fps = f"{r.frames / r.seconds:.1f}" if done and r.seconds > 0 else "-"
        status = r.status + (f": {r.message}" if r.message else "")
        frames = str(r.frames) if done else "-"
        tracks = str(r.tracks) if done else "-"
        lines.append(f"{r.name:<{width}}  {frames:>6}  {tracks:>6}  {fps:>6}  {status}")
    return "\n".join(lines)


def evaluate_results(args: argparse.Namespace) -> None:
    """``--eval GT_DIR``: the PoseTrack tables of the results against the ground truth."""
    from eval.api import evaluate, format_identity_table, format_tables, warn_unscored

    fmt = "posetrack17" if args.format in ("both", "posetrack17") else "posetrack18"
    result = evaluate(args.eval, Path(args.out) / fmt)
    warn_unscored(args.eval, Path(args.out) / fmt)
    print(f"PoseTrack evaluation of {Path(args.out) / fmt} against {args.eval}:")
    print(format_tables(result))
    print()
    print(format_identity_table(result))
