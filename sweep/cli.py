"""``sweep``: the command line (contract: docs/config.md, "CLI").

Every command validates before it computes; bad configs or arguments exit with
status 2 and one line on stderr (``SWEEP_DEBUG=1`` shows tracebacks of
internal errors).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from .spec import ConfigError

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_USAGE = 2
EXIT_INCOMPLETE = 3
EXIT_INTERRUPTED = 130


def _human(n: float) -> str:
    from .execute import _human as h

    return h(n)


# --- run / init / status / plan / list -------------------------------------------
def _add_run(sub) -> None:
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
    p.add_argument(
        "--scheduler",
        default="threads",
        help="threads (default) | processes | synchronous | local:N | tcp://HOST:PORT",
    )
    p.add_argument("--device", choices=("cpu", "gpu"), help="JAX device (default: what JAX finds)")
    p.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bar (default: only on a terminal)",
    )
    p.set_defaults(func=cmd_run)


def cmd_run(args) -> int:
    from .driver import run
    from .spec import load_spec

    spec = load_spec(args.config)
    res = run(
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
    print(
        f"{res.store}: computed {len(res.computed)} of {res.n_blocks} blocks "
        f"({res.points:,} points, {res.seconds:.2f} s, {rate}); skipped {res.skipped} already done"
    )
    if res.failed:
        for b, err in sorted(res.failed.items()):
            print(f"sweep: block {b} failed after a retry: {err}", file=sys.stderr)
        print(
            f"sweep: {len(res.failed)} block(s) failed; rerun with --resume to retry them",
            file=sys.stderr,
        )
        return EXIT_INTERNAL
    if res.complete:
        print(f"store complete: open with xarray.open_zarr({str(res.store)!r})")
        _print_summary(res.store, spec.n_points)
    elif args.shard:
        print(f"shard {args.shard} done; the store completes when every shard has run")
    return EXIT_OK


def _print_summary(path: Path, n_points: int, max_points: int = 10_000_000) -> None:
    if n_points > max_points:  # reading it back would cost more than the run
        return
    import numpy as np
    import xarray as xr

    ds = xr.open_zarr(path)
    dims = ", ".join(f"{d}={ds.sizes[d]}" for d in ds.dims)
    print(f"summary ({dims}):")
    for name, v in ds.data_vars.items():
        a = v.values
        unit = v.attrs.get("units", "")
        if a.dtype == np.int8 and name.startswith(("mode_", "gaba_polarity")):
            fr = {k: float(np.mean(a == k)) for k in (1, -1, 0)}
            lab = (
                ("forward", "reverse", "equilibrium")
                if name.startswith("mode_")
                else ("depolarizing", "hyperpolarizing", "neutral")
            )
            txt = ", ".join(f"{lab[i]} {fr[k]:.1%}" for i, k in enumerate((1, -1, 0)))
            print(f"  {name:<28} {txt}")
        elif a.dtype.kind == "f":
            ok = np.isfinite(a)
            if ok.any():
                print(f"  {name:<28} {np.min(a[ok]):12.5g} … {np.max(a[ok]):<12.5g} {unit}")
            else:
                print(f"  {name:<28} all NaN")
        else:
            vals, counts = np.unique(a, return_counts=True)
            txt = ", ".join(f"{int(v)}: {c}" for v, c in zip(vals, counts, strict=True))
            print(f"  {name:<28} {txt}")


def _add_init(sub) -> None:
    p = sub.add_parser(
        "init",
        help="create the store for sharded batch jobs",
        description="Create the store (template and manifest) that 'sweep run --shard I/N' "
        "jobs fill.",
    )
    p.add_argument("config")
    p.add_argument("--store")
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(func=cmd_init)


def cmd_init(args) -> int:
    from .driver import init
    from .plan import make_plan
    from .spec import load_spec

    spec = load_spec(args.config)
    path = init(spec, store=args.store, overwrite=args.overwrite)
    plan = make_plan(spec)
    print(f"initialised {path}: {plan.n_blocks} blocks; run shards with --shard I/N")
    return EXIT_OK


def _add_status(sub) -> None:
    p = sub.add_parser(
        "status",
        help="blocks done / missing / failed of a store",
        description="Report blocks done / missing / failed. Exit status 0 when the store is "
        "complete, 3 when it is not.",
    )
    p.add_argument("store")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_status)


def _ranges(xs: list[int]) -> str:
    if not xs:
        return "none"
    out, start, prev = [], xs[0], xs[0]
    for x in xs[1:] + [None]:
        if x is not None and x == prev + 1:
            prev = x
            continue
        out.append(f"{start}" if start == prev else f"{start}-{prev}")
        if x is not None:
            start = prev = x
    return ", ".join(out)


def cmd_status(args) -> int:
    from .store import store_status

    if not Path(args.store).exists():
        raise ConfigError(f"store {args.store!r} does not exist")
    st = store_status(args.store)
    if args.json:
        print(json.dumps(st, indent=2))
    else:
        print(f"store     {st['store']}  ({st['name']}, created {st['created']})")
        print(f"blocks    {st['done']} done of {st['n_blocks']}")
        print(f"missing   {len(st['missing'])}: {_ranges(st['missing'])}")
        print(f"failed    {len(st['failed'])}")
        for b, err in st["failed"].items():
            print(f"  block {b}: {err}")
        print(f"complete  {'yes' if st['complete'] else 'no'}")
    return EXIT_OK if st["complete"] else EXIT_INCOMPLETE


def _add_plan(sub) -> None:
    p = sub.add_parser(
        "plan",
        help="validate a config and show what it would compute",
        description="Validate CONFIG and print points, dims, chunks, bytes, free disk and "
        "outputs, without computing.",
    )
    p.add_argument("config", nargs="?")
    p.add_argument("--store")
    p.set_defaults(func=cmd_plan)


def cmd_plan(args) -> int:
    from .execute import free_disk
    from .plan import make_plan
    from .spec import load_spec
    from .store import _check_parent

    spec = load_spec(args.config)
    plan = make_plan(spec)
    path = Path(args.store or spec.store)
    _check_parent(path)
    print(f"sweep     {spec.name}: {spec.description}")
    kind = f"{spec.design.method} design, seed {spec.design.seed}" if spec.design else "grid"
    print(f"points    {spec.n_points:,} ({kind}, {spec.precision})")
    for a in spec.axes:
        u = f" {a.unit}" if a.unit else ""
        lo, hi = (a.start, a.stop) if a.bounded else (a.values.min(), a.values.max())
        print(
            f"  {a.name:<14} {a.spacing:<7} {lo:.6g} … {hi:.6g}{u}  ({a.size if not spec.design else 'sampled'})"
        )
    dims = " × ".join(f"{d}={n}" for d, n in zip(plan.dims, plan.shape, strict=True))
    print(f"dims      {dims}")
    chunks = " × ".join(str(c) for c in plan.block_shape)
    print(f"chunks    {chunks}  ({plan.n_blocks} blocks of ≤ {plan.points_per_block:,} points)")
    need, free = plan.output_bytes(), free_disk(path)
    print(f"bytes     {_human(need)} uncompressed; {_human(free)} free at {path}")
    print("outputs")
    for o in spec.outputs:
        spec_o = spec.registry.outputs[o]
        print(
            f"  {o:<22} {str(spec.output_dtype(o)):<8} {spec_o.unit or '-':<8} {spec_o.long_name}"
        )
    for r in spec.reduce:
        print(f"reduce    {r.output}: {', '.join(r.stats)} over {', '.join(r.over)}")
    if not spec.keep_full:
        print("keep_full false: only the reductions are stored")
    print(f"store     {path}{' (exists)' if path.exists() else ''}")
    if need > free:
        raise ConfigError(f"the store would need {_human(need)} but only {_human(free)} is free")
    return EXIT_OK


def _add_list(sub) -> None:
    p = sub.add_parser(
        "list",
        help="every input and output with unit, default, range and meaning",
        description="List every input (with unit, default, allowed range, meaning) and every "
        "output (unit, type, meaning) the engine knows.",
    )
    p.add_argument("--format", choices=("text", "markdown", "json"), default="text")
    p.add_argument("config", nargs="?", help="include user transporters from this config")
    p.set_defaults(func=cmd_list)


def registry_table(fmt: str = "text", registry=None) -> str:
    """The registry as text, markdown or json (``sweep list`` and the docs)."""
    from kernels.registry import REGISTRY

    reg = registry or REGISTRY
    ins = [
        {
            "name": i.name,
            "unit": i.unit,
            "default": i.default,
            "range": i.allowed().removeprefix("must be "),
            "meaning": i.description,
            "reference": i.reference,
        }
        for i in reg.inputs.values()
    ]
    outs = [
        {
            "name": o.name,
            "unit": o.unit,
            "type": "int8" if o.dtype == "int8" else "float",
            "meaning": o.description,
        }
        for o in reg.outputs.values()
    ]
    if fmt == "json":
        return json.dumps({"inputs": ins, "outputs": outs}, indent=2, ensure_ascii=False)
    if fmt == "markdown":
        lines = [
            "## Inputs",
            "",
            "| name | unit | default | range | meaning |",
            "|---|---|---|---|---|",
        ]
        for i in ins:
            lines.append(
                f"| `{i['name']}` | {i['unit'] or '—'} | {i['default']:g} | {i['range']} | "
                f"{i['meaning']} |"
            )
        lines += ["", "## Outputs", "", "| name | unit | type | meaning |", "|---|---|---|---|"]
        for o in outs:
            lines.append(f"| `{o['name']}` | {o['unit'] or '—'} | {o['type']} | {o['meaning']} |")
        return "\n".join(lines) + "\n"
    lines = ["INPUTS"]
    lines.append(f"  {'name':<18} {'unit':<18} {'default':>10}  {'range':<16} meaning")
    for i in ins:
        lines.append(
            f"  {i['name']:<18} {i['unit'] or '-':<18} {i['default']:>10.4g}  {i['range']:<16} "
            f"{i['meaning']}"
        )
    lines += ["", "OUTPUTS", f"  {'name':<22} {'unit':<10} {'type':<6} meaning"]
    for o in outs:
        lines.append(f"  {o['name']:<22} {o['unit'] or '-':<10} {o['type']:<6} {o['meaning']}")
    return "\n".join(lines)


def cmd_list(args) -> int:
    reg = None
    if args.config:
        from .spec import load_spec

        reg = load_spec(args.config).registry
    print(registry_table(args.format, reg))
    return EXIT_OK


# --- entry point -----------------------------------------------------------------
class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (no usage dump): ``sweep: error: ...``."""

    def error(self, message: str):  # type: ignore[override]
        print(f"sweep: error: {message} (see '{self.prog} --help')", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="sweep",
        description="Map the thermodynamics and steady states of neuronal ion transporters over "
        "parameter grids (JAX + dask + xarray/zarr).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add in (_add_run, _add_init, _add_status, _add_plan, _add_list):
        add(sub)
    for mod in _extension_modules():
        mod.add_parser(sub)
    return parser


#: Modules that add their own sub-commands (``add_parser(sub)``).
EXTENSIONS: tuple[str, ...] = ("boundary", "plot", "sensitivity")


def _extension_modules():
    import importlib

    return [importlib.import_module(f"sweep.{name}") for name in EXTENSIONS]


def _version() -> str:
    from importlib import metadata

    try:
        return metadata.version("transporter-sweep")
    except metadata.PackageNotFoundError:
        return "unknown"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``sweep``; returns the exit status."""
    from .store import StoreError

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
    except BrokenPipeError:  # e.g. `sweep list | head`
        sys.stderr.close()
        return EXIT_OK
    except KeyboardInterrupt:
        print(
            "sweep: interrupted; finished blocks are kept: complete with 'sweep run CONFIG --resume'",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    except Exception as exc:
        if os.environ.get("SWEEP_DEBUG"):
            raise
        msg = str(exc).splitlines()[0] if str(exc) else ""
        print(
            f"sweep: internal error: {type(exc).__name__}: {msg} (SWEEP_DEBUG=1 shows the traceback)",
            file=sys.stderr,
        )
        return EXIT_INTERNAL


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
