"""The ``hrtrack`` command line: one parser, one subcommand per task, one error boundary.

Each command declares its own options in a small module (``add_parser(sub)``): those of
:mod:`tracker.commands`, :mod:`eval.command` and :mod:`pose.train.command`, built from the option
types of :mod:`pose.options` and :mod:`tracker.options`. The work itself lives in the modules a
command names (``func="module:function"``), imported only when it runs, so that ``hrtrack eval
--help`` or ``hrtrack models`` never load torch.

:func:`main` is the entry point of the ``hrtrack`` console script; :func:`pose.options.run` is the
error boundary (one line and exit status 2 for a user's problem, a traceback with ``--debug``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from eval import command as eval_command
from pose.options import Parser, run
from pose.train import command as train_command
from tracker.commands import bench, demo, models, render, synth, track, weights


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="hrtrack",
        description="Multi-person 2D pose tracking in video with HRNet and FlowTrack.",
        epilog="--debug (anywhere on the line) or HRTRACK_DEBUG=1: show third-party messages and tracebacks.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in (demo, track, eval_command, render, synth, train_command, bench, weights, models):
        command.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``hrtrack`` console script (:func:`pose.options.run`: the one error boundary)."""
    return run(build_parser, argv)


if __name__ == "__main__":
    sys.exit(main())
