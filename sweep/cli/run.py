"""``sweep run | init | status | plan | list``: the sweep itself and its stores."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ..driver import init, plan_for_shards, plural, run, shard_warning
from ..execute import free_disk
from ..manifest import StoreError, store_status
from ..plan import make_plan
from ..report import plan_report, registry_table, status_report, store_summary
from ..spec import ConfigError, load_spec
from ..store import aside_stores, check_parent
from ..units import human_bytes
from ..verify import verify_store
from .common import EXIT_FAILED, EXIT_INCOMPLETE, EXIT_OK, SCHEDULER_HELP, number

__all__ = ["add_parsers"]


def add_parsers(sub: Any) -> None:
    """Add ``run``, ``init``, ``status``, ``plan`` and ``list`` to the sub-parsers."""
    p = sub.add_parser(
        "run",
        help="run a sweep into a zarr store",
        description="Run a sweep into a zarr (format 3) store. Without CONFIG, runs the "
        "built-in quickstart (NCX mode map over Vm x [Na+]i).",
    )
    p.add_argument("config", nargs="?", help="YAML config (default: built-in quickstart)")
    p.add_argument("--store", help="store path (default: the config's store)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--overwrite", action="store_true", help="replace an existing store")
    g.add_argument("--resume", action="store_true", help="complete an interrupted run")
    p.add_argument("--shard", metavar="I/N", help="compute only shard I of N (store from 'init')")
    p.add_argument("--scheduler", default="threads", help=SCHEDULER_HELP)
    p.add_argument("--device", choices=("cpu", "gpu"), help="JAX device (default: what JAX finds)")
    p.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bar (default: only on a terminal)",
    )
    p.set_defaults(func=cmd_run)

    p = sub.add_parser(
        "init",
        help="create the store for sharded batch jobs",
        description="Create the store (template and manifest) that 'sweep run --shard I/N' "
        "jobs fill.",
    )
    p.add_argument("config")
    p.add_argument("--store", help="store path (default: the config's store)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing store")
    p.add_argument(
        "--shards",
        metavar="N",
        help="size the blocks so that N shards (array tasks) each have work; "
        "warns when N exceeds the blocks",
    )
    p.set_defaults(func=cmd_init)

    p = sub.add_parser(
        "status",
        help="blocks done / missing / failed of a store",
        description="Report blocks done / missing / failed. Exit status 0 when the store is "
        "complete, 3 when it is not.",
    )
    p.add_argument("store")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument(
        "--verify",
        action="store_true",
        help="also check every done block's chunk files against the checksums recorded "
        "when it was written (finds deleted or damaged chunks)",
    )
    p.set_defaults(func=cmd_status)

    p = sub.add_parser(
        "plan",
        help="validate a config and show what it would compute",
        description="Validate CONFIG and print points, dims, chunks, bytes, free disk and "
        "outputs, without computing.",
    )
    p.add_argument("config", nargs="?")
    p.add_argument("--store")
    p.set_defaults(func=cmd_plan)

    p = sub.add_parser(
        "list",
        help="every input and output with unit, default, range and meaning",
        description="List every input (with unit, default, allowed range, meaning) and every "
        "output (unit, type, meaning) the engine knows.",
    )
    p.add_argument("--format", choices=("text", "markdown", "json"), default="text")
    p.add_argument("config", nargs="?", help="include user transporters from this config")
    p.set_defaults(func=cmd_list)


def cmd_run(args: argparse.Namespace) -> int:
    """``sweep run``: checks at the edge, runs, reports; returns the exit code."""
    spec = load_spec(args.config)
    res = run(  # checks the scheduler, shard and store before any compute
        spec,
        store=args.store,
        overwrite=args.overwrite,
        resume=args.resume,
        shard=args.shard,
        scheduler=args.scheduler,
        device=args.device,
        progress=args.progress,
    )
    rate = f"{res.points_per_second:,.0f} points/s" if res.points else "nothing to compute"
    if args.shard and int(args.shard.split("/")[1]) > res.n_blocks:
        print(
            f"sweep: warning: --shard {args.shard}: the store has only "
            f"{plural(res.n_blocks, 'block')}, so some shards have nothing to do "
            f"(create it with 'sweep init CONFIG --shards {args.shard.split('/')[1]}')",
            file=sys.stderr,
        )
    print(
        f"{res.store}: computed {len(res.computed):,} of {plural(res.n_blocks, 'block')} "
        f"({res.points:,} points, {res.seconds:.2f} s, {rate}); skipped {res.skipped:,} already done"
    )
    if res.failed:
        for b, err in sorted(res.failed.items()):
            print(f"sweep: block {b} failed after a retry: {err}", file=sys.stderr)
        print(
            f"sweep: {len(res.failed)} block(s) failed; rerun with --resume to retry them",
            file=sys.stderr,
        )
        return EXIT_FAILED
    if res.complete:
        print(f"store complete: open with xarray.open_zarr({str(res.store)!r})")
        summary = store_summary(res.store, spec.n_points)
        if summary:
            print(summary)
    elif args.shard:
        print(f"shard {args.shard} done; the store completes when every shard has run")
    return EXIT_OK


def cmd_init(args: argparse.Namespace) -> int:
    spec = load_spec(args.config)
    shards = number("--shards", args.shards, int, "an integer >= 1")
    if shards is not None and shards < 1:
        raise ConfigError(f"--shards {args.shards!r} is not allowed: an integer >= 1")
    plan = plan_for_shards(spec, shards)
    path = init(spec, store=args.store, overwrite=args.overwrite, shards=shards)
    n = shards or "N"
    print(
        f"initialised {path}: {plural(plan.n_blocks, 'block')} of "
        f"{plural(plan.points_per_block, 'point')}; run shards with --shard I/{n}"
    )
    warning = shard_warning(plan, shards) if shards else None
    if warning:
        print(f"sweep: warning: {warning}", file=sys.stderr)
    return EXIT_OK


def cmd_status(args: argparse.Namespace) -> int:
    if not Path(args.store).exists():
        aside = aside_stores(args.store)
        if aside:
            raise StoreError(
                f"store {args.store!r} does not exist, but an interrupted --overwrite moved "
                f"the previous store aside, whole, to {str(aside[-1])!r}: rename it back, or "
                "delete it and run again"
            )
        raise ConfigError(f"store {args.store!r} does not exist")
    st = store_status(args.store)
    if args.verify:
        v = verify_store(args.store)
        st["verify"] = v
        if v["bad"]:
            st["complete"] = False
    if args.json:
        print(json.dumps(st, indent=2))
    else:
        print(status_report(st))
        if args.verify:
            v = st["verify"]
            print(
                f"verified  {v['checked']} block(s); {len(v['bad'])} damaged; "
                f"{len(v['unverifiable'])} without checksums"
            )
            for b, msg in v["bad"].items():
                print(f"  block {b}: {msg}")
            if v["bad"]:
                print(
                    f"  to recompute them: delete their markers in "
                    f"{str(Path(args.store) / '.sweep' / 'done')!r}, then 'sweep run CONFIG --resume'"
                )
    return EXIT_OK if st["complete"] else EXIT_INCOMPLETE


def cmd_plan(args: argparse.Namespace) -> int:
    spec = load_spec(args.config)
    plan = make_plan(spec)
    path = Path(args.store or spec.store)
    check_parent(path)
    free = free_disk(path)
    print(plan_report(plan, path, free))
    need = plan.output_bytes()
    if need > free:
        raise ConfigError(
            f"the store would need up to {human_bytes(need)} (uncompressed: an upper bound) "
            f"but only {human_bytes(free)} is free"
        )
    return EXIT_OK


def cmd_list(args: argparse.Namespace) -> int:
    reg = load_spec(args.config).registry if args.config else None
    print(registry_table(args.format, reg))
    return EXIT_OK
