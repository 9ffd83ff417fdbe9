"""The project's error type for problems with the user's input.

Every file, option or model problem that a user can fix is raised as :class:`HrtrackError` (or a
subclass: checkpoint, source, video, zoo, PoseTrack file errors) with a one-line message naming the
file or option. ``hrtrack`` reports exactly these as ``hrtrack: error: <message>`` with exit status 2;
any other exception is a bug and shows its traceback. It is a ``ValueError``, so code calling the
Python API can keep catching ``ValueError``.
"""

from __future__ import annotations


class HrtrackError(ValueError):
    """A problem with the user's input; the message is one line."""
