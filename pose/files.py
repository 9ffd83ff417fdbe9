"""Atomic file writes shared by every writer of the project (json results, images, exports).

A file is written to a temp file in the same folder and renamed over the target, so a reader (or a
crash) never sees half a file, and an earlier good file survives a failed write.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


def default_mode() -> int:
    """The permissions a plainly created file gets (0o666 less the umask); mkstemp's are 0o600."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def atomic_write(path: str | os.PathLike[str], data: str | bytes) -> Path:
    """Write ``data`` (text as UTF-8) to ``path`` atomically; creates the folder. Returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode("utf-8") if isinstance(data, str) else data)
        os.chmod(tmp, default_mode())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_json(obj: Any, path: str | os.PathLike[str], compact: bool = False) -> Path:
    """Write ``obj`` as json atomically (NaN is refused: convert it to null first)."""
    separators = (",", ":") if compact else None
    return atomic_write(path, json.dumps(obj, allow_nan=False, separators=separators))
