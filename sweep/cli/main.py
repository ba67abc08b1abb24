"""The entry point of ``sweep``: the parser of every command group, errors and exit codes.

Every command validates before it computes. Exit status: 0 success; 2 bad
configs or arguments, or a store that cannot be used as asked (one line on
stderr); 1 a computation that ran and failed (failed blocks, model outputs
an analysis cannot use) or an internal error (``SWEEP_DEBUG=1`` shows its
traceback); 3 ``sweep status`` of an incomplete store; 130 interrupted.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from importlib import metadata

from ..analysis.global_sensitivity import UnusableOutputError
from ..manifest import StoreError
from ..spec import ConfigError
from . import boundary, plot, run, sensitivity
from .common import EXIT_FAILED, EXIT_INCOMPLETE, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE

__all__ = [
    "main",
    "build_parser",
    "EXIT_OK",
    "EXIT_FAILED",
    "EXIT_USAGE",
    "EXIT_INCOMPLETE",
    "EXIT_INTERRUPTED",
]

#: The command groups, in the order ``sweep --help`` lists them.
COMMAND_GROUPS = (run, boundary, plot, sensitivity)


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (no usage dump): ``sweep: error: ...``."""

    def error(self, message: str):  # type: ignore[override]
        print(f"sweep: error: {message} (see '{self.prog} --help')", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


def _version() -> str:
    try:
        return metadata.version("transporter-sweep")
    except metadata.PackageNotFoundError:
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    """The ``sweep`` parser with every command group's sub-commands."""
    parser = _Parser(
        prog="sweep",
        description="Map the thermodynamics and steady states of neuronal ion transporters over "
        "parameter grids (JAX + dask + xarray/zarr).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for group in COMMAND_GROUPS:
        group.add_parsers(sub)
    return parser


def _resume_hint(args: argparse.Namespace) -> str | None:
    """The command that completes the interrupted one: its config and store, with --resume.

    None for commands that keep no partial work (they are simply run again).
    """
    import shlex

    if args.command not in ("run", "sensitivity") or (
        args.command == "sensitivity" and not getattr(args, "method", None)
    ):
        return None
    words = ["sweep", str(args.command)]
    if getattr(args, "config", None):
        words.append(shlex.quote(str(args.config)))
    if args.command == "sensitivity" and getattr(args, "method", None):
        words += ["--global", str(args.method)]
    for flag in ("store", "samples_store"):
        if getattr(args, flag, None):
            words += [f"--{flag.replace('_', '-')}", shlex.quote(str(getattr(args, flag)))]
    return " ".join([*words, "--resume"])


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``sweep``; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        return int(args.func(args) or 0)
    except (ConfigError, StoreError) as exc:
        print(f"sweep: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except UnusableOutputError as exc:
        print(f"sweep: failed: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except BrokenPipeError:  # e.g. `sweep list | head`
        sys.stderr.close()
        return EXIT_OK
    except KeyboardInterrupt:
        hint = _resume_hint(args)
        print(
            f"sweep: interrupted; finished blocks are kept: complete with '{hint}'"
            if hint
            else "sweep: interrupted",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    except Exception as exc:
        if os.environ.get("SWEEP_DEBUG"):  # the documented debug hook: show the traceback
            raise
        msg = str(exc).splitlines()[0] if str(exc) else ""
        print(
            f"sweep: internal error: {type(exc).__name__}: {msg} (SWEEP_DEBUG=1 shows the traceback)",
            file=sys.stderr,
        )
        return EXIT_FAILED
