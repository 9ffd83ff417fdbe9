"""The project's error type for problems with the user's input.

Every file, option or model problem that a user can fix is raised as :class:`HrtrackError` (or a
subclass: checkpoint, source, video, zoo, PoseTrack file errors) with a one-line message naming the
file or option. ``hrtrack`` reports exactly these as ``hrtrack: error: <message>`` with exit status 2;
any other exception is a bug and shows its traceback. It is a ``ValueError``, so code calling the
Python API can keep catching ``ValueError``.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator


class HrtrackError(ValueError):
    """A problem with the user's input; the message is one line."""


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (its type's name when it has none): what a one-line
    error quotes of a library's failure."""
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def debugging() -> bool:
    """``HRTRACK_DEBUG`` is set (``hrtrack --debug`` sets it for its run): show everything."""
    return os.environ.get("HRTRACK_DEBUG", "0") not in ("", "0")


@contextlib.contextmanager
def third_party_quiet() -> Iterator[None]:
    """Send whatever a library prints while the block runs (on stdout or stderr, from Python or C)
    to a scratch file instead of the terminal, unless :func:`debugging`. ptlflow's import, for one,
    prints banners and warnings that would otherwise surround hrtrack's own one-line messages."""
    if debugging():
        yield
        return
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    with tempfile.TemporaryFile() as sink:
        try:
            os.dup2(sink.fileno(), 1)
            os.dup2(sink.fileno(), 2)
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)
