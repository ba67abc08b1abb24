"""``sweep sensitivity``: local (autodiff) or global (Sobol'/Morris) sensitivity of outputs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ..analysis.common import parse_names
from ..analysis.global_sensitivity import NUM_RESAMPLES, bounds_spec, global_sensitivity
from ..analysis.local_sensitivity import default_store, local_sensitivity
from ..design import check_method
from ..report import convergence_report, local_summary, ranked_table
from ..spec import ConfigError, load_spec
from .common import EXIT_OK, SCHEDULER_HELP, number

__all__ = ["add_parsers"]


def add_parsers(sub: Any) -> None:
    """Add ``sweep sensitivity`` to the CLI's sub-parsers."""
    p = sub.add_parser(
        "sensitivity",
        help="local (autodiff) or global (Sobol'/Morris/eFAST) sensitivity of a sweep's outputs",
        description=(
            "--local: at every grid point, d(output)/d(input) by JAX autodiff (implicit through "
            "steady states), as elasticities: d ln y for concentration outputs, d ln x for "
            "concentration inputs, raw otherwise. --global sobol|morris|fast: SALib indices over "
            "the axes' ranges or distributions (spacing log = log-uniform; dist: normal, "
            "truncnormal, lognormal, triangular; group: factor groups for sobol and morris; "
            "num is not needed; design: is ignored), with bootstrap confidence intervals, "
            "printed as a ranked table."
        ),
    )
    p.add_argument("config", help="YAML config (its axes give the grid or the ranges)")
    p.add_argument("--local", action="store_true", help="local derivatives on the grid")
    p.add_argument(
        "--wrt", metavar="IN1,IN2", help="--local: inputs to differentiate by (default: the axes)"
    )
    p.add_argument(
        "--global",
        dest="method",
        metavar="sobol|morris|fast",
        help="global indices with SALib: sobol (S1, ST[, S2]), morris (mu_star, sigma) or "
        "fast (eFAST: S1, ST)",
    )
    p.add_argument(
        "--n",
        metavar="N",
        help="--global: base samples (sobol, a power of 2), trajectories (morris) or samples "
        "per input (fast, > 64); default 1024",
    )
    p.add_argument(
        "--seed", metavar="S", help="--global: seed of sampling and bootstrap (default 0)"
    )
    p.add_argument(
        "--second-order", action="store_true", help="--global sobol: also S2 (more evaluations)"
    )
    p.add_argument(
        "--resamples",
        metavar="R",
        help=f"--global: bootstrap resamples of the confidence intervals (default {NUM_RESAMPLES})",
    )
    p.add_argument(
        "--outputs", metavar="O1,O2", help="outputs to analyse (default: the config's outputs)"
    )
    p.add_argument(
        "--store", help="store path (default results/<name>.<local|sobol|morris|fast>.zarr)"
    )
    p.add_argument("--overwrite", action="store_true", help="replace an existing store")
    p.add_argument(
        "--samples-store",
        metavar="PATH",
        help="--global: evaluate through a resumable sweep store at PATH "
        "(default with --resume: results/<name>.<method>-samples.zarr)",
    )
    p.add_argument(
        "--resume",
        action="store_true",
        help="--global: complete an interrupted samples store, then analyse",
    )
    p.add_argument(
        "--scheduler",
        default="threads",
        help=SCHEDULER_HELP,
    )
    p.set_defaults(func=cmd_sensitivity)


def cmd_sensitivity(args: argparse.Namespace) -> int:
    """``sweep sensitivity``: validate, compute, store, print; returns the exit code."""
    if args.local == (args.method is not None):
        raise ConfigError(
            "give exactly one of --local (derivatives on the grid) or --global sobol|morris|fast "
            "(indices over the axes' ranges)"
        )
    outputs = parse_names(args.outputs) if args.outputs is not None else None
    if args.local:
        for flag, given in (
            ("--n", args.n is not None),
            ("--seed", args.seed is not None),
            ("--second-order", args.second_order),
            ("--resamples", args.resamples is not None),
            ("--samples-store", args.samples_store is not None),
            ("--resume", args.resume),
        ):
            if given:
                raise ConfigError(f"{flag} applies to --global, not to --local")
    else:
        check_method(args.method)
        if args.wrt is not None:
            raise ConfigError("--wrt applies to --local; --global uses every axis as an input")
    spec = load_spec(args.config) if args.local else bounds_spec(args.config)
    path = Path(args.store or default_store(spec, "local" if args.local else args.method))
    # the scheduler and the store are checked by the analysis, before it computes
    if args.local:
        ds = local_sensitivity(
            spec,
            args.wrt,
            outputs=outputs,
            store=path,
            overwrite=args.overwrite,
            scheduler=args.scheduler,
        )
        print(local_summary(ds))
    else:
        n = number("--n", args.n, int, "an integer")
        seed = number("--seed", args.seed, int, "an integer")
        resamples = number("--resamples", args.resamples, int, "an integer")
        ds = global_sensitivity(
            spec,
            args.method,
            1024 if n is None else n,
            0 if seed is None else seed,
            second_order=args.second_order,
            outputs=outputs,
            scheduler=args.scheduler,
            num_resamples=NUM_RESAMPLES if resamples is None else resamples,
            store=path,
            overwrite=args.overwrite or args.resume,
            samples_store=args.samples_store,
            resume=args.resume,
        )
        print(ranked_table(ds))
        conv = convergence_report(ds)
        if conv:
            print()
            print(conv)
    print(f"store     {path}: open with xarray.open_zarr({str(path)!r})")
    sys.stdout.flush()
    return EXIT_OK
