"""``sweep boundary``: where an output crosses a level, or where a mode map changes."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ..analysis.boundary import boundary_adaptive, boundary_along, default_store
from ..spec import ConfigError, load_spec
from .common import EXIT_OK, number

__all__ = ["add_parsers", "FOLD_OUTPUT"]

#: The output whose level-0 crossings are the folds of the Ca²⁺ balance (kernels.branches).
FOLD_OUTPUT = "ca_fold_margin"


def add_parsers(sub: Any) -> None:
    """Add ``sweep boundary`` to the CLI's sub-parsers."""
    p = sub.add_parser(
        "boundary",
        help="map where an output crosses a level (or where a mode changes)",
        description=(
            "Locate boundaries of an output over a config's grid. --along AXIS: every crossing "
            "of OUTPUT = LEVEL along the continuous axis, refined on the kernel (Brent) to "
            "<= 1e-9 x max(|x*|, span), with closed forms cross-checked where they exist. "
            "--adaptive: boundary cells of a mode map by N-D quadtree refinement, stopping at "
            "the grid's resolution. --fold AXIS: the folds (saddle-node points) of the Ca²⁺ "
            "balance along AXIS, the edges of the bistable region: shorthand for --output "
            "ca_fold_margin --along AXIS (level 0; the margin is 0 exactly where two steady "
            "states merge)."
        ),
    )
    p.add_argument("config", help="YAML config (its axes give the grid)")
    p.add_argument("--output", help="registry output, e.g. dG_ncx or mode_ncx (required)")
    p.add_argument("--along", metavar="AXIS", help="continuous axis to locate crossings along")
    p.add_argument("--adaptive", action="store_true", help="adaptive boundary-cell refinement")
    p.add_argument(
        "--fold",
        metavar="AXIS",
        help="Ca²⁺ folds along AXIS: --output ca_fold_margin --along AXIS --level 0",
    )
    p.add_argument("--level", metavar="X", help="level in the output's units (default 0)")
    p.add_argument("--max-crossings", metavar="K", help="crossings stored per point (default 4)")
    p.add_argument("--levels", metavar="L", help="adaptive: refinement levels (coarse stride 2^L)")
    p.add_argument(
        "--check-dense",
        action="store_true",
        help="adaptive: also evaluate the dense grid and compare boundary cells",
    )
    p.add_argument("--store", help="store path (default results/<name>.boundary.zarr)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing store")
    p.set_defaults(func=cmd_boundary)


def cmd_boundary(args: argparse.Namespace) -> int:
    """``sweep boundary``: validate, compute, store, print a summary; returns the exit code."""
    if args.fold is not None:
        clash = [
            flag
            for flag, v in (
                ("--output", args.output),
                ("--along", args.along),
                ("--level", args.level),
            )
            if v is not None
        ] + (["--adaptive"] if args.adaptive else [])
        if clash:
            raise ConfigError(
                f"--fold {args.fold} means --output {FOLD_OUTPUT} --along {args.fold} --level 0: "
                f"give no {', '.join(clash)}"
            )
        args.output, args.along = FOLD_OUTPUT, args.fold
    if not args.output:
        raise ConfigError("--output NAME is required (e.g. dG_ncx with --along vm), or --fold AXIS")
    if (args.along is None) == (not args.adaptive):
        raise ConfigError("give exactly one of --along AXIS (continuous output) or --adaptive")
    level = number("--level", args.level, float, "a finite number in the output's units")
    kmax = number("--max-crossings", args.max_crossings, int, "an integer 1..127")
    levels = number("--levels", args.levels, int, "an integer >= 0")
    spec = load_spec(args.config)
    path = Path(args.store or default_store(spec))
    # the analysis checks its arguments and the store once, before it computes
    if args.along is not None:
        if levels is not None or args.check_dense:
            raise ConfigError("--levels and --check-dense apply to --adaptive, not to --along")
        res = boundary_along(
            spec,
            args.output,
            args.along,
            level=0.0 if level is None else level,
            max_crossings=4 if kmax is None else kmax,
            store=path,
            overwrite=args.overwrite,
        )
    else:
        if kmax is not None:
            raise ConfigError("--max-crossings applies to --along, not to --adaptive")
        res = boundary_adaptive(
            spec,
            args.output,
            levels=levels,
            level=level,
            check_dense=args.check_dense,
            store=path,
            overwrite=args.overwrite,
        )
    print(res.summary)
    print(f"store     {path}: open with xarray.open_zarr({str(path)!r})")
    sys.stdout.flush()
    return EXIT_OK
