"""Atomic file writes shared by every writer of the project (json results, images, exports).

A file is written to a temp file in the same folder and renamed over the target, so a reader (or a
crash) never sees half a file, and an earlier good file survives a failed write. A run with several
outputs plans them with :class:`OutputPlan`: checked before any work, committed together.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import json
import os
import shutil
import signal
import socket
import tempfile
import threading
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pose.errors import HrtrackError


def hrtrack_home() -> Path:
    """``$HRTRACK_HOME`` (default ``~/.cache/hrtrack``): the model cache, exports, calibrations.

    Checked when used: a file there, or a folder this process cannot write into, is an error that
    names ``HRTRACK_HOME`` (not a silent fallback, nor a path under a file)."""
    given = os.environ.get("HRTRACK_HOME")
    home = Path(given or Path.home() / ".cache" / "hrtrack")
    what = f"HRTRACK_HOME {home}" if given else f"{home} (the default HRTRACK_HOME)"
    existing = _existing_part(home)
    if existing.exists() and not existing.is_dir():
        where = "" if existing == home else f" ({existing} is a file)"
        raise HrtrackError(f"{what}: is a file, not a folder{where}; set HRTRACK_HOME to a writable folder")
    return home


def writable_home(why: str) -> Path:
    """:func:`hrtrack_home` where something must be written into it (``why``: what): a folder this
    process cannot write into is an error naming ``HRTRACK_HOME`` (a read-only home serves reads)."""
    home = hrtrack_home()
    existing = _existing_part(home)
    if not os.access(existing, os.W_OK | os.X_OK):
        given = "HRTRACK_HOME" if os.environ.get("HRTRACK_HOME") else "the default HRTRACK_HOME"
        raise HrtrackError(f"{given} {home}: {existing} is not writable ({why}); set HRTRACK_HOME to a writable folder")
    return home


def _existing_part(path: Path) -> Path:
    """The longest leading part of ``path`` that exists (a folder to create starts under it)."""
    while not path.exists() and path.parent != path:
        path = path.parent
    return path


def temp_name(path: Path, suffix: str = "") -> Path:
    """A hidden temp name beside ``path`` that says who writes it: ``.NAME.HOST-PID-TOKEN.tmpSUFFIX``
    (so that a later run can tell a dead writer's leftover from a live one's, see :func:`sweep_stale`)."""
    return path.parent / f".{path.name}.{_HOST}-{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp{suffix}"


def sweep_stale(path: Path) -> None:
    """Remove the temps that writers of ``path`` on this machine left when they were killed
    (``kill -9``, a power cut): those of a process that no longer runs. A live writer's stay."""
    for tmp in path.parent.glob(f".{glob.escape(path.name)}.{glob.escape(_HOST)}-*.tmp*"):
        pid = tmp.name[len(path.name) + len(_HOST) + 3 :].split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            with contextlib.suppress(OSError):  # a leftover that cannot go never fails this output
                _remove(tmp)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def file_sha256(path: str | os.PathLike[str]) -> str:
    """The sha256 of a file's content, in hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def default_mode() -> int:
    """The permissions a plainly created file gets (0o666 less the umask); mkstemp's are 0o600."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """A temp file beside ``path`` to write in the block; renamed over ``path`` when the block
    succeeds, removed when it fails or is interrupted (``path`` is then as it was). Creates the folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_name(path)
    try:
        try:
            tmp.touch(0o600, exist_ok=False)
            yield tmp
        except OSError as e:  # e.g. the disk full: name the user's file, not the temp (or nothing)
            if not e.filename or str(e.filename) == str(tmp):
                e.filename = str(path)
            raise
        os.chmod(tmp, default_mode())
        os.replace(tmp, path)
        sweep_stale(path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write(path: str | os.PathLike[str], data: str | bytes) -> Path:
    """Write ``data`` (text as UTF-8) to ``path`` atomically; creates the folder. Returns the path."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return Path(path)


def atomic_write_json(obj: Any, path: str | os.PathLike[str], compact: bool = False) -> Path:
    """Write ``obj`` as json atomically (NaN is refused: convert it to null first)."""
    separators = (",", ":") if compact else None
    return atomic_write(path, json.dumps(obj, allow_nan=False, separators=separators))


# ----------------------------------------------------------------------------- planned outputs


class OutputError(HrtrackError):
    """An output path that cannot be written (a folder in the way, no permission, a collision)."""


_ACTIVE: set[OutputPlan] = set()
_HOST = socket.gethostname().replace("-", "_").replace(".", "_")[:40] or "host"


class OutputPlan:
    """Every file (or folder) a run writes, checked before any work and committed together.

    1. :meth:`add` each output while the options are read: the path is checked (not a folder, no
       file in the way of its folder, its folder writable, not also an input nor inside a
       ``sealed`` input folder, whose every file is read, not planned twice), and nothing is created;
    2. writers write to :meth:`temp` (a hidden name beside the output, same suffix), which creates
       the missing folders, remembered;
    3. :meth:`commit` renames every temp over its output (signals held off meanwhile); an output
       folder replaces the earlier folder of that name whole;
    4. on any failure, and on SIGINT/SIGTERM (``hrtrack`` turns both into KeyboardInterrupt),
       :meth:`abort` removes the temps and the folders it made: earlier files stay untouched.

    Use as a context manager: the block's success commits, an exception aborts.
    """

    def __init__(
        self,
        inputs: Iterable[str | os.PathLike[str] | None] = (),
        sealed: Iterable[str | os.PathLike[str] | None] = (),
    ) -> None:
        self.inputs = {_key(Path(p)): Path(p) for p in inputs if p}
        self.sealed = {_key(Path(p)): Path(p) for p in sealed if p and Path(p).is_dir()}
        self.targets: dict[str, _Target] = {}
        self.created: list[Path] = []
        self.times: dict[Path, tuple[int, int]] = {}
        self.scratch: list[Path] = []
        self._probed: dict[Path, str | None] = {}
        _ACTIVE.add(self)

    def add(
        self,
        path: str | os.PathLike[str],
        option: str = "",
        *,
        folder: bool = False,
        suffixes: tuple[str, ...] = (),
        temp: str | os.PathLike[str] | None = None,
    ) -> Path:
        """Plan the output ``path`` (``option``: what the user gave it with, for messages).

        ``suffixes``: the allowed endings (lower case, with the dot); ``temp``: where the writer
        writes instead of the default hidden name (e.g. inside :meth:`workdir`). Planning the
        same path again with the same option only sets ``temp``, when given."""
        path = Path(path)
        what = f"{option} {path}" if option else str(path)
        key = _key(path)
        if key in self.targets:
            if self.targets[key].option == option:
                if temp is not None:
                    self.targets[key].temp = Path(temp)
                return path
            raise OutputError(f"{what}: also written by {self.targets[key].option or 'another output'}")
        clash = next(
            (t for k, t in self.targets.items() if k.startswith(key + os.sep) or key.startswith(k + os.sep)), None
        )
        if clash is not None:
            raise OutputError(
                f"{what}: clashes with {clash.path} ({clash.option or 'another output'}): one lies inside the other"
            )
        if key in self.inputs:
            raise OutputError(f"{what}: is also an input of this run (refusing to overwrite it)")
        inside = next((p for k, p in self.sealed.items() if key.startswith(k + os.sep)), None)
        if inside is not None:
            raise OutputError(f"{what}: is inside the input folder {inside} (it would become part of the input)")
        if suffixes and path.suffix.lower() not in suffixes:
            raise OutputError(f"{what}: must end in {' or '.join(suffixes)}")
        if not path.name or path.name in (".", ".."):
            raise OutputError(f"{what}: not a file name")
        if path.is_dir() and not folder:
            raise OutputError(f"{what}: is a folder")
        if path.exists() and folder and not path.is_dir():
            raise OutputError(f"{what}: exists and is not a folder")
        parent = path.parent
        while not parent.exists():
            if parent.is_symlink():
                raise OutputError(f"{what}: {parent} is a broken link")
            parent = parent.parent
        if not parent.is_dir():
            raise OutputError(f"{what}: {parent} exists and is not a folder")
        problem = self._probe(parent)
        if problem:
            raise OutputError(f"{what}: cannot write into {parent} ({problem})")
        self.targets[key] = _Target(path, option, folder, Path(temp) if temp else None)
        return path

    def _probe(self, folder: Path) -> str | None:
        """Why nothing can be created in ``folder`` (None: it can); tried once per folder."""
        if folder not in self._probed:
            try:
                st = folder.stat()
                fd, tmp = tempfile.mkstemp(prefix=".hrtrack-probe.", dir=folder)
                os.close(fd)
                os.unlink(tmp)
                self._probed[folder] = None
            except OSError as e:
                self._probed[folder] = e.strerror or type(e).__name__
            else:
                with contextlib.suppress(OSError):  # the folder's times as they were (its owner only)
                    os.utime(folder, ns=(st.st_atime_ns, st.st_mtime_ns))
        return self._probed[folder]

    def temp(self, path: str | os.PathLike[str]) -> Path:
        """Where the writer of the planned output ``path`` writes (its folders created)."""
        target = self.targets.get(_key(Path(path)))
        if target is None:
            raise KeyError(f"{path} is not a planned output")
        if target.temp is None:
            target.temp = temp_name(target.path, target.path.suffix)
        self._mkdirs(target.temp.parent)
        self._remember(target.temp.parent)
        if target.folder:
            self._mkdirs(target.temp)
        return target.temp

    def _remember(self, folder: Path) -> None:
        """Keep the times of an existing folder that temps are made in, to give them back on abort."""
        if folder not in self.times and folder not in self.created:
            st = folder.stat()
            self.times[folder] = (st.st_atime_ns, st.st_mtime_ns)

    def workdir(self, near: str | os.PathLike[str]) -> Path:
        """A scratch folder inside the folder ``near`` (made if missing; the scratch is removed at
        commit or abort): several outputs can be staged there under their own names with
        ``add(..., temp=workdir / name)``."""
        near = Path(near)
        if near.is_dir():
            self._remember(near)
        self._mkdirs(near)  # inside it: the renames out of the scratch folder stay on one file system
        work = Path(tempfile.mkdtemp(prefix=".hrtrack-work.", suffix=".tmp", dir=near))
        self.scratch.append(work)
        return work

    def _mkdirs(self, folder: Path) -> None:
        missing = []
        while not folder.exists():
            missing.append(folder)
            folder = folder.parent
        if missing:
            self._remember(folder)
        for f in reversed(missing):
            try:
                f.mkdir()
            except FileExistsError:  # another process made it meanwhile: it is not ours to remove
                continue
            self.created.append(f)

    def commit(self) -> list[Path]:
        """Rename every written temp over its output; returns the outputs written, in plan order."""
        written = []
        with _signals_held():
            for target in self.targets.values():
                if target.temp is None or not (target.temp.exists() or target.temp.is_symlink()):
                    continue
                self._mkdirs(target.path.parent)
                if target.folder and target.path.is_dir():
                    old = target.path.with_name(f".{target.path.name}.{uuid.uuid4().hex[:8]}.old")
                    os.replace(target.path, old)
                    os.replace(target.temp, target.path)
                    shutil.rmtree(old, ignore_errors=True)
                else:
                    if not target.folder:
                        os.chmod(target.temp, default_mode())
                    os.replace(target.temp, target.path)
                sweep_stale(target.path)  # what a killed earlier run of this output left behind
                written.append(target.path)
            self._remove_scratch()
            self.created = []
            self.times = {}
        _ACTIVE.discard(self)
        return written

    def abort(self) -> None:
        """Remove every temp and every folder this plan created; earlier files stay as they were."""
        for target in self.targets.values():
            if target.temp is not None:
                _remove(target.temp)
        self._remove_scratch()
        for folder in reversed(self.created):
            with contextlib.suppress(OSError):
                folder.rmdir()  # only when empty: something else may have been put there meanwhile
        for folder, times in self.times.items():  # the folders' times as they were, too
            with contextlib.suppress(OSError):
                os.utime(folder, ns=times)
        self.created = []
        self.times = {}
        _ACTIVE.discard(self)

    def _remove_scratch(self) -> None:
        for work in self.scratch:
            shutil.rmtree(work, ignore_errors=True)
        self.scratch = []

    def __enter__(self) -> OutputPlan:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        if exc_type is None:
            self.commit()
            return
        self.abort()
        if isinstance(exc, OSError) and exc.filename:  # name the user's file, not its temp
            temps = {str(t.temp): t.path for t in self.targets.values() if t.temp is not None}
            for temp, path in temps.items():
                if str(exc.filename) == temp or str(exc.filename).startswith(temp + os.sep):
                    exc.filename = str(path)
        elif isinstance(exc, OSError) and len(self.targets) == 1:  # e.g. the disk full: the one output
            exc.filename = str(next(iter(self.targets.values())).path)


@dataclass
class _Target:
    path: Path
    option: str
    folder: bool
    temp: Path | None = None


def abort_active_plans() -> None:
    """Abort every plan not yet committed (the last line of defence of ``hrtrack``'s main)."""
    for plan in list(_ACTIVE):
        plan.abort()


def _key(path: Path) -> str:
    """One spelling per file: absolute, with the existing part of the path resolved."""
    path = Path(os.path.abspath(path))
    head, tail = path, []
    while not head.exists() and head.parent != head:
        tail.append(head.name)
        head = head.parent
    return str(head.resolve().joinpath(*reversed(tail)))


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """SIGINT and SIGTERM wait until the block is done (so a commit is never half done)."""
    held = {signal.SIGINT, signal.SIGTERM}
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)
