"""``sweep plot``: a phase map, line or bar plot of a store variable, or a bifurcation
diagram of the Ca²⁺ branch outputs (figures: :mod:`sweep.plot`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ..manifest import store_status
from ..plot import DEFAULT_DPI, open_store, parse_sel, plot, plot_bifurcation, save_figure
from ..spec import ConfigError
from .common import EXIT_OK

__all__ = ["add_parsers"]


def add_parsers(sub: Any) -> None:
    """Add ``sweep plot`` to the CLI's sub-parsers."""
    p = sub.add_parser(
        "plot",
        usage="sweep plot STORE VAR -o FILE.png [--x AXIS] [--y AXIS] [--sel AXIS=VALUE ...] "
        "[--dpi DPI] [--boundary STORE] [--title TITLE]\n"
        "       sweep plot STORE --bifurcation AXIS -o FILE.png [--sel AXIS=VALUE ...] "
        "[--boundary FOLDS_STORE] [--dpi DPI] [--title TITLE]",
        help="phase map, line or bar plot of a store variable; bifurcation diagram",
        description=(
            "Plot VAR from a store: a phase map with --x and --y (codes categorical, signed "
            "quantities diverging at 0, boundary overlaid), a line with --x only, ranked bars "
            "for sensitivity indices (dims output, input). Select other dims with --sel "
            "AXIS=VALUE (nearest value; units allowed, e.g. ca_i=100nM). "
            "--bifurcation AXIS (no VAR): the Ca²⁺ steady-state branches along AXIS from a "
            "store holding ca_i_ss_low, ca_i_ss_high and ca_i_ss_mid (e.g. "
            "configs/ca_bistability.yaml): stable branches solid, the unstable one dashed, "
            "no line across a fold; --boundary takes a 'sweep boundary --fold AXIS' store "
            "(or --output ca_fold_margin --along AXIS) whose folds are marked as dotted lines."
        ),
    )
    p.add_argument("store", help="zarr store (sweep run / boundary / sensitivity)")
    p.add_argument("var", nargs="?", help="variable to plot (not with --bifurcation)")
    p.add_argument(
        "--bifurcation",
        metavar="AXIS",
        help="bifurcation diagram of the Ca²⁺ branches along AXIS (stable solid, unstable dashed)",
    )
    p.add_argument("--x", metavar="AXIS", help="dimension on the horizontal axis")
    p.add_argument("--y", metavar="AXIS", help="dimension on the vertical axis (a map)")
    p.add_argument(
        "--sel",
        metavar="AXIS=VALUE",
        nargs="+",
        action="extend",
        default=[],
        help="select the other dimensions (nearest value)",
    )
    req = p.add_argument_group("required")
    # required, but checked in cmd_plot (a one-line error naming -o), so argparse keeps it
    # optional; the usage line and this group show it as required
    req.add_argument("-o", "--out", metavar="FILE.png", help="image file to write")
    p.add_argument("--dpi", default=str(DEFAULT_DPI), help=f"resolution (default {DEFAULT_DPI})")
    p.add_argument(
        "--boundary",
        metavar="STORE",
        help="overlay a 'sweep boundary --along' store on a map; with --bifurcation, "
        "mark the folds of a 'sweep boundary --fold' store",
    )
    p.add_argument("--title", help="figure title (default: long name and selection)")
    p.set_defaults(func=cmd_plot)


def warn_incomplete(store: str, attrs: dict) -> None:
    """A one-line warning on stderr when a sweep store is not complete (missing blocks
    read as NaN / not written)."""
    if attrs.get("complete") is True or "n_blocks" not in attrs:
        return
    st = store_status(store)
    print(
        f"sweep: warning: store {store!r} is not complete ({len(st['missing'])} of "
        f"{st['n_blocks']} blocks missing: their points read as NaN / not written); "
        "complete it with 'sweep run CONFIG --resume'",
        file=sys.stderr,
    )


def cmd_plot(args: argparse.Namespace) -> int:
    """``sweep plot``: returns the exit code; bad input raises :class:`ConfigError`."""
    if not args.out:
        raise ConfigError("-o FILE.png is required: the image file to write")
    if Path(args.out).is_dir():
        raise ConfigError(f"-o {args.out!r} is a directory: give the image file to write")
    try:
        dpi = int(str(args.dpi))
    except ValueError:
        raise ConfigError(f"--dpi {args.dpi!r} is not allowed: an integer 10..2400") from None
    if args.bifurcation is not None:
        if args.var is not None or args.x is not None or args.y is not None:
            raise ConfigError(
                f"--bifurcation {args.bifurcation} draws the Ca²⁺ branches: give no VAR, --x or "
                "--y (select the other axes with --sel AXIS=VALUE)"
            )
    elif args.var is None:
        raise ConfigError("VAR is required (the variable to plot), or give --bifurcation AXIS")
    ds = open_store(args.store)
    warn_incomplete(args.store, ds.attrs)
    sel = parse_sel(args.sel)
    bds = open_store(args.boundary) if args.boundary else None
    if args.bifurcation is not None:
        if bds is not None and f"boundary_{args.bifurcation}" not in bds.data_vars:
            raise ConfigError(
                f"--boundary {args.boundary!r} has no boundary_{args.bifurcation}: give the "
                f"store of 'sweep boundary CONFIG --fold {args.bifurcation}'"
            )
        fig = plot_bifurcation(ds, args.bifurcation, sel=sel, folds=bds, title=args.title)
    else:
        if bds is not None and args.y is None:
            raise ConfigError("--boundary overlays a map: give --x and --y")
        fig = plot(ds, args.var, x=args.x, y=args.y, sel=sel, boundary=bds, title=args.title)
    path = save_figure(fig, args.out, dpi)
    w, h = (int(round(s * dpi)) for s in fig.get_size_inches())
    print(f"wrote {path} ({w}×{h} px)")
    return EXIT_OK
