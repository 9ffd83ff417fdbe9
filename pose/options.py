"""The command line's building blocks, shared by every command.

* :class:`Parser`: argparse with one-line errors (``--box-nms: must be ...``), raised as
  :class:`UsageError`, never printed with the usage;
* option types (:func:`number`, :func:`existing`, :func:`suffix`, ...): argparse calls them while it
  reads the line, so nothing runs on a bad value and the message names the option as typed;
* option groups several commands share (:func:`add_device`, :func:`add_backend`, :func:`add_network`);
* :func:`run`: the error boundary. A user's problem (:class:`pose.errors.HrtrackError`, an OS
  error) ends as one line ``hrtrack: error: ...`` with exit status 2; SIGINT/SIGTERM clean up
  (130/143); anything else is a bug (exit 1, the traceback with ``--debug``).

Torch-free, so that ``hrtrack eval --help`` and ``hrtrack models`` start without it. Each command
declares its own options with the code that runs it (``add_parser(sub)`` in ``tracker/commands/``,
``eval/command.py``, ``pose/train/command.py``).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import math
import os
import re
import signal
import sys
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import NoReturn

from pose.errors import HrtrackError, first_line

# ----------------------------------------------------------------------------- option types


class UsageError(HrtrackError):
    """A bad command line (argparse's complaint, as one line)."""


class SettingError(HrtrackError):
    """A problem of the environment (e.g. ``HRTRACK_ZOO``'s file) found while an option is read:
    raised past argparse, which would otherwise word it as the option's fault."""


class _Escape(Exception):  # noqa: N818 - carries a SettingError through argparse's type handling
    def __init__(self, error: SettingError) -> None:
        super().__init__(str(error))
        self.error = error


def setting_error(message: str) -> NoReturn:
    """Raise ``message`` from an option type as the environment's problem, not the option's."""
    raise _Escape(SettingError(message))


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors: ``--box-nms: must be ...``, raised, not printed with usage."""

    def error(self, message: str) -> NoReturn:
        match = re.match(r"argument ([^:]+): (.*)", message, re.S)
        if match:
            names = match.group(1).split("/")
            option, what = next((n for n in names if n.startswith("--")), names[0]), match.group(2)
            if what.startswith(PATH_MARK):  # a file problem: "--gt FILE: ..." (positional: "FILE: ...")
                message = f"{option} {what[1:]}" if option.startswith("-") else what[1:]
            else:
                message = f"{option}: {what}"
        raise UsageError(message)


PATH_MARK = "\0"  # marks a message about a path, which names the path itself


def check_option(option: str, parse: Callable[[str], object], value: object) -> object:
    """Check a value given from Python (a config field) with the option type the command line
    uses; returns what that type makes of it (``"0.3"`` -> 0.3) or raises the same one-line
    :class:`UsageError` (``--box-nms: must be ...``)."""
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if isinstance(value, bool) or (not isinstance(value, (str, int, float))):
        kind = "a number" if parse.__name__ in ("int", "float") else "a string"
        raise UsageError(f"{option}: expected {kind}, got {value!r}")
    try:
        return parse(str(value))
    except _Escape as escape:
        raise escape.error from None
    except argparse.ArgumentTypeError as e:
        what = str(e)
        raise UsageError(f"{option} {what[1:]}" if what.startswith(PATH_MARK) else f"{option}: {what}") from None


def check_choice(option: str, value: object, choices: Sequence[str]) -> str:
    """Check a value given from Python against an option's ``choices``, with argparse's own
    one-line message (``--assoc: invalid choice: ...``)."""
    if not isinstance(value, str):
        raise UsageError(f"{option}: expected a string, got {value!r}")
    parser = Parser(add_help=False)
    parser.add_argument(option, choices=choices)
    parser.parse_args([option, value])
    return value


def fail(text: str, what: str) -> NoReturn:
    raise argparse.ArgumentTypeError(f"{what}, got {text!r}")


def fail_path(text: str, what: str) -> NoReturn:
    raise argparse.ArgumentTypeError(f"{PATH_MARK}{text}: {what}")


def number(kind: type = float, lo: float | None = None, hi: float | None = None, above: bool = False) -> Callable:
    """An argparse type: an int or a finite float in ``[lo, hi]`` (``above``: strictly above ``lo``)."""
    noun = "an integer" if kind is int else "a number"

    def parse(text: str) -> int | float:
        try:
            value = kind(text)
        except ValueError:
            fail(text, f"expected {noun}")
        if kind is float and not math.isfinite(value):
            fail(text, "expected a finite number")
        if lo is not None and hi is not None and not above and not lo <= value <= hi:
            fail(text, f"must be between {lo:g} and {hi:g}")
        if lo is not None and (value <= lo if above else value < lo):
            fail(text, f"must be {'above' if above else 'at least'} {lo:g}")
        if hi is not None and value > hi:
            fail(text, f"must be at most {hi:g}")
        return value

    parse.__name__ = kind.__name__
    return parse


PROBABILITY = number(float, 0.0, 1.0)

POSITIVE = number(int, 1)

COUNT = number(int, 0)


def checked(convert: Callable[[str], object]) -> Callable[[str], object]:
    """An argparse type from a converter raising HrtrackError (its message becomes the option's)."""

    def parse(text: str) -> object:
        try:
            return convert(text)
        except HrtrackError as e:
            raise argparse.ArgumentTypeError(str(e)) from None

    parse.__name__ = getattr(convert, "__name__", "value")
    return parse


def device_spec(text: str, auto: bool = True) -> str:
    """``auto`` (if allowed), ``cpu``, ``cuda`` or ``cuda:N``; CUDA only when this machine has it."""
    match = re.fullmatch(r"cuda(?::(\d+))?", text)
    if text == "cpu" or (auto and text == "auto"):
        return text
    if not match:
        fail(text, "use " + ("auto, " if auto else "") + "cpu or cuda[:N]")
    import torch

    if not torch.cuda.is_available():
        fail(text, "no CUDA device is available on this machine (use cpu)")
    if match.group(1) is not None and int(match.group(1)) >= torch.cuda.device_count():
        fail(text, f"this machine has {torch.cuda.device_count()} CUDA device(s)")
    return text


def file_name(text: str) -> str:
    """A sequence name for output files: no folder separators, not empty, not . or .."""
    if not text or text in (".", "..") or any(c in text for c in "/\\\0") or len(text) > 200:
        fail(text, "a name must be a plain file name (no / or \\, not . or .., at most 200 characters)")
    return text


def existing(kind: str = "any") -> Callable[[str], str]:
    """An argparse type: a path that exists (``file``, ``folder`` or ``any``)."""

    def parse(text: str) -> str:
        path = Path(text)
        if kind == "file" and not path.is_file():
            fail_path(text, "is a folder, not a file" if path.is_dir() else "no such file")
        if kind == "folder" and not path.is_dir():
            fail_path(text, "is not a folder" if path.exists() else "no such folder")
        if not path.exists():
            fail_path(text, "no such file or folder")
        return text

    parse.__name__ = kind
    return parse


def suffix(*suffixes: str) -> Callable[[str], str]:
    """An argparse type: an output path ending in one of ``suffixes`` (written as that format)."""

    def parse(text: str) -> str:
        if Path(text).suffix.lower() not in suffixes:
            fail_path(text, f"must end in {' or '.join(suffixes)} (the format written)")
        return text

    return parse


def device_type(text: str) -> str:
    return device_spec(text, auto=True)


def device_type_no_auto(text: str) -> str:
    return device_spec(text, auto=False)


def size_spec(text: str) -> tuple[int, int]:
    from pose.specs import parse_input_size

    return checked(parse_input_size)(text)  # type: ignore[return-value]


def arch_spec(text: str) -> str:
    from pose.specs import parse_arch

    checked(parse_arch)(text)
    return text


def backend_name(text: str) -> str:
    """``auto``, ``torch``, ``onnxruntime`` or ``openvino`` (whose package must be installed)."""
    from pose.specs import check_backend

    try:
        check_backend(text)
    except HrtrackError as e:  # "--backend NAME: what" -> what (argparse names the option)
        raise argparse.ArgumentTypeError(str(e).split(": ", 1)[1]) from None
    return text


def frame_size(text: str) -> tuple[int, int]:
    """``WIDTHxHEIGHT`` for ``synth --size``: 32 to 4096 pixels a side."""
    parts = text.lower().split("x")
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        fail(text, "expected WIDTHxHEIGHT, e.g. 640x360")
    w, h = int(parts[0]), int(parts[1])
    if not (32 <= w <= 4096 and 32 <= h <= 4096):
        fail(text, "width and height must be 32 to 4096 pixels")
    return w, h


def int_list(text: str) -> tuple[int, ...]:
    """Comma-separated positive integers (``bench pose --batch 1,8``)."""
    try:
        values = tuple(int(v) for v in text.split(","))
    except ValueError:
        fail(text, "expected comma-separated integers, e.g. 1,8")
    if not values or min(values) < 1 or max(values) > 1024:
        fail(text, "batch sizes must be 1 to 1024")
    return values


def choice_list(choices: Sequence[str]) -> Callable[[str], tuple[str, ...]]:
    def parse(text: str) -> tuple[str, ...]:
        values = tuple(text.split(","))
        bad = [v for v in values if v not in choices]
        if bad:
            fail(text, f"unknown {bad[0]!r}; use a comma-separated list of " + ", ".join(choices))
        return values

    return parse


# ----------------------------------------------------------------------------- shared option groups


def add_device(p: argparse.ArgumentParser, default: str | None = "cpu", what: str = "") -> None:
    if default == "auto":
        text = "auto (CUDA when available, default), cpu or cuda[:N]"
    else:
        text = "cpu or cuda" + (f" (default: {default})" if default else "")
    p.add_argument(
        "--device", default=default, type=device_type if default == "auto" else device_type_no_auto, help=text + what
    )


def add_backend(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--backend",
        default="auto",
        type=backend_name,
        help="pose-network runtime: auto (the fastest here, timed once per model and cached in $HRTRACK_HOME; "
        "default), torch, onnxruntime or openvino",
    )


def add_precision(p: argparse.ArgumentParser) -> None:
    """``--precision auto|f32|bf16`` (default auto) and ``--bf16``, its synonym for bf16."""
    from pose.precision import PRECISIONS  # torch-free

    p.add_argument(
        "--precision",
        default="auto",
        choices=PRECISIONS,
        help="network precision: auto (default: float32, and bfloat16 beside it where the CPU or GPU has it "
        "natively once the accuracy evidence allows it, README 'Precision'), f32 or bf16",
    )
    p.add_argument("--bf16", dest="precision", action="store_const", const="bf16", help="same as --precision bf16")


def add_network(p: argparse.ArgumentParser, arch: str | None = "hrnet_w32", size: str | None = "256x192") -> None:
    """``--arch`` and ``--input-size`` (None defaults: implied by a zoo model)."""
    p.add_argument(
        "--arch",
        default=arch,
        type=arch_spec,
        help="hrnet_w32, hrnet_w48 or hrnet_wC"
        + (f" (default {arch})" if arch else " (implied by a zoo model; else hrnet_w32)"),
    )
    p.add_argument(
        "--input-size",
        default=size,
        type=size_spec,
        help="network input HxW" + (f" (default {size})" if size else " (implied by a zoo model; else 256x192)"),
    )


# ----------------------------------------------------------------------------- the error boundary


def resolve(func: object) -> object:
    """A command function, imported from its ``"module:function"`` name on first use."""
    if isinstance(func, str):
        module, _, name = func.partition(":")
        return getattr(importlib.import_module(module), name)
    return func


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so that every cleanup handler runs."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise Terminated()


def quiet_third_party() -> None:
    """Keep libraries' own chatter off the terminal (``--debug`` shows it): OpenCV's and FFmpeg's
    log lines, onnxruntime's warnings, Python warnings."""
    import logging
    import warnings

    os.environ.setdefault("OPENCV_LOG_LEVEL", "OFF")
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET
    os.environ.setdefault("ORT_LOGGING_LEVEL", "3")
    warnings.filterwarnings("ignore")
    # multiprocessing's resource tracker is a process of its own, started with this interpreter's
    # -W options: after a run interrupted with worker processes it would warn of "leaked semaphore
    # objects" (the pool's, reclaimed by it all the same) in two lines.
    quiet_tracker = "ignore::UserWarning:multiprocessing.resource_tracker"
    if quiet_tracker not in sys.warnoptions:
        sys.warnoptions.append(quiet_tracker)
    for name in ("ptlflow", "lightning", "pytorch_lightning", "onnxruntime", "ray", "urllib3"):
        logging.getLogger(name).setLevel(logging.ERROR)


def debug_requested(argv: Sequence[str]) -> bool:
    """``--debug`` anywhere on the command line, or ``HRTRACK_DEBUG`` set to anything but 0."""
    from pose.errors import debugging

    return "--debug" in argv or debugging()


def run(build_parser: Callable[[], argparse.ArgumentParser], argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` with the parser ``build_parser`` makes and run its command: the one error boundary
    (of ``hrtrack`` and of ``python -m pose.train.cli``).

    A problem with the user's input (a bad option, file or model; an unwritable output; too little
    memory) ends as one line ``hrtrack: error: <option or file>: <what>`` on stderr with exit status 2,
    and no output of the run is left behind; SIGINT and SIGTERM clean up the same way (exit 130 and
    143). Anything else is a bug: one line with exit status 1, the traceback with ``--debug`` or
    ``HRTRACK_DEBUG=1``.
    """
    from pose.files import abort_active_plans

    callers_bars = {id(bar) for bar in _open_bars()}  # a caller's bars (run() called in-process) stay
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = debug_requested(argv)
    argv = [a for a in argv if a != "--debug"]
    debug_env = os.environ.get("HRTRACK_DEBUG")
    if debug:
        os.environ["HRTRACK_DEBUG"] = "1"  # for the libraries' quiet blocks (pose.errors.debugging)
    else:
        quiet_third_party()
    previous = previous_int = None
    if threading_main():
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
        previous_int = signal.getsignal(signal.SIGINT)
    try:
        try:
            args = build_parser().parse_args(argv)
        except _Escape as escape:
            raise escape.error from None
        except UsageError as exc:
            dash = _dash_file(argv) if "required" in str(exc) or "unrecognized" in str(exc) else None
            raise dash or exc from None
        return int(resolve(args.func)(args))
    except HrtrackError as exc:
        close_bars(callers_bars)
        report(first_line(exc))
        return 2
    except OSError as exc:  # unwritable output folder, disk full, ...: name the file, no traceback
        where = f"{exc.filename}: " if exc.filename else ""
        close_bars(callers_bars)
        report(f"{where}{exc.strerror or first_line(exc)}")
        return 2
    except MemoryError:
        close_bars(callers_bars)
        report("out of memory (use smaller inputs, --batch-size or --flow-max-side)")
        return 2
    except KeyboardInterrupt as exc:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the clean-up short
        abort_active_plans()
        close_bars(callers_bars)
        name = "SIGTERM" if isinstance(exc, Terminated) else "SIGINT"
        print(f"hrtrack: interrupted ({name}); the outputs in progress were removed", file=sys.stderr)
        return 143 if isinstance(exc, Terminated) else 130
    except Exception as exc:
        if debug:
            raise
        close_bars(callers_bars)
        report(f"internal error ({type(exc).__name__}: {first_line(exc)}); rerun with --debug for the traceback")
        return 1
    finally:
        abort_active_plans()
        if debug_env is None:
            os.environ.pop("HRTRACK_DEBUG", None)
        else:
            os.environ["HRTRACK_DEBUG"] = debug_env
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
            signal.signal(signal.SIGINT, previous_int)


def threading_main() -> bool:
    """Signal handlers can only be set from the main thread."""
    import threading

    return threading.current_thread() is threading.main_thread()


def _dash_file(argv: Sequence[str]) -> UsageError | None:
    """A file whose name starts with ``-`` reads as an option: name it, and the way out."""
    for arg in argv:
        if arg == "--":
            return None
        if arg.startswith("-") and len(arg) > 1 and "=" not in arg and Path(arg).exists():
            return UsageError(f"{arg}: a file name that starts with '-' reads as an option; write ./{arg}")
    return None


def _open_bars() -> list:
    tqdm = sys.modules.get("tqdm")
    return list(getattr(getattr(tqdm, "tqdm", None), "_instances", ()))


def close_bars(keep: Collection[int] = ()) -> None:
    """End the progress bars left on the terminal (but those whose ``id`` is in ``keep``: a caller's),
    so that the last message has its own line."""
    for bar in _open_bars():
        if id(bar) in keep:
            continue
        with contextlib.suppress(Exception):  # a bar that cannot close must not hide the message
            bar.close()


def report(text: str) -> None:
    sys.stdout.flush()
    print(f"hrtrack: error: {text}", file=sys.stderr)
