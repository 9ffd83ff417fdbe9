"""``hrtrack models``: list, fetch and locate the named models of :mod:`pose.zoo`."""

from __future__ import annotations

import argparse
import sys

from pose.errors import HrtrackError


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "models",
        help="the model zoo: list the named models, fetch them, print a cached path",
        description="Named pose models, person detectors and backbones, fetched on first use into "
        "$HRTRACK_HOME/models (default ~/.cache/hrtrack) and checked by sha256. HRTRACK_MIRROR=URL fetches "
        "URL/<file> instead; HRTRACK_OFFLINE=1 never downloads.",
    )
    p.add_argument("action", nargs="?", default="list", choices=["list", "fetch", "path"], help="default list")
    p.add_argument("names", nargs="*", metavar="NAME", help="zoo model names")
    p.set_defaults(func=cmd_models)


def cmd_models(args: argparse.Namespace) -> int:
    from pose import zoo

    if args.action == "path":
        entry = zoo.get(args.names[0]) if len(args.names) == 1 else None
        if entry is None:
            raise HrtrackError("models path takes one model name")
        if not zoo.is_cached(entry):
            raise HrtrackError(f"{entry.name}: not in the cache ({zoo.cached_path(entry)}); run hrtrack models fetch")
        if not zoo.verify_cached(entry):
            raise HrtrackError(zoo.mismatch_message(entry))
        print(zoo.cached_path(entry))
        return 0
    if args.action == "fetch":
        if not args.names:
            raise HrtrackError("models fetch takes one or more model names")
        entries = [zoo.get(n) for n in args.names]  # every name checked before any download
        for entry in entries:
            stale = zoo.is_cached(entry) and entry.url is not None and not zoo.verify_cached(entry)
            path = zoo.fetch(entry, again=True)  # a mismatch is replaced only by a verified download
            if stale:
                print(
                    f"hrtrack: warning: {path} did not match its sha256: replaced by a verified download",
                    file=sys.stderr,
                )
            print(f"{entry.name}: {path}")
        return 0
    if args.names:
        raise HrtrackError(f"unknown models action {args.names[0]!r}: use list, fetch NAME... or path NAME")
    print(zoo.describe())
    print(f"cache: {zoo.home() / 'models'}")
    return 0
