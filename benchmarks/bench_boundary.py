"""Adaptive versus dense mode-boundary mapping: kernel evaluations and wall time.

The work: the boundary cells of a 3-D mode map at the grid's resolution, found
two ways, checked equal (same boundary accuracy: identical boundary cells):

* dense: every grid point, computed as ``sweep run`` computes it (the engine's
  jitted nested-vmap blocks, no store), then the cells whose corners disagree;
* adaptive: ``sweep boundary --adaptive`` (N-D quadtree refinement from a
  coarse lattice, flat-vmapped batches of new corners).

Cases: ``mode_ncx`` over vm × na_i × ca_i (a closed-form kernel: cheap, the
dense grid is memory-bound) and, when the steady-state outputs exist,
``mode_ncx_ss`` over vm × na_i × ibar_ncx (a root scan + refinement per point:
expensive). Each contender is warmed up (compiled) first; compile time is the
first call minus the median of ``--repeats`` timed calls.

Usage: ``python benchmarks/bench_boundary.py [--n 129] [--n-ss 129] [--repeats 5]``.
Appends a dated section to ``benchmarks/RESULTS.md`` unless ``--no-record``.
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

import numpy as np
from _machine import machine, timed  # noqa: E402  (benchmarks/ is on sys.path when run)

HERE = Path(__file__).resolve().parent


def spec_for(output: str, n: int, third: str):
    from sweep.spec import parse_config

    axes = {
        "vm": {"start": "-120 mV", "stop": "60 mV", "num": n},
        "na_i": {"start": "5 mM", "stop": "50 mM", "num": n, "spacing": "log"},
    }
    if third == "ca_i":
        axes["ca_i"] = {"start": "50 nM", "stop": "10 uM", "num": n, "spacing": "log"}
    else:
        axes["ibar_ncx"] = {
            "start": "0.5 uA/cm**2",
            "stop": "20 uA/cm**2",
            "num": n,
            "spacing": "log",
        }
    return parse_config(
        {"name": f"bench-{output}", "axes": axes, "outputs": [output], "precision": "float64"}
    )


def bench_case(output: str, n: int, third: str, repeats: int, levels: int | None) -> dict:
    from sweep.analysis.boundary import adaptive_cells, boundary_cells, output_function
    from sweep.execute import BlockRunner
    from sweep.plan import make_plan

    spec = spec_for(output, n, third)
    plan = make_plan(spec)
    runner = BlockRunner(plan)

    def dense():
        out = np.empty(plan.shape, dtype=np.int8)
        for b in range(plan.n_blocks):
            region, vals = runner.compute(b)
            out[region] = vals[output]
        return out, boundary_cells(out)

    f = output_function(spec, output, spec.axis_names)
    axes = [a.values for a in spec.axes]

    def adaptive():
        return adaptive_cells(f, axes, levels=levels)

    (dmap, dcells), d_med, d_comp, d_all = timed(dense, repeats)
    ares, a_med, a_comp, a_all = timed(adaptive, repeats)
    mism = int((dcells != ares.boundary_cell).sum())
    return {
        "case": f"{output} over {' × '.join(f'{a.name}={a.size}' for a in spec.axes)}",
        "dense_evals": int(dmap.size),
        "adaptive_evals": ares.n_evaluations,
        "ratio": dmap.size / ares.n_evaluations,
        "levels": ares.levels,
        "per_level": ares.per_level,
        "boundary_cells": int(dcells.sum()),
        "mismatch": mism,
        "map_equal": bool(np.array_equal(dmap, ares.values)),
        "dense_s": d_med,
        "dense_compile_s": d_comp,
        "adaptive_s": a_med,
        "adaptive_compile_s": a_comp,
        "dense_all": d_all,
        "adaptive_all": a_all,
        "blocks": plan.n_blocks,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=129, help="points per axis, mode_ncx case")
    ap.add_argument(
        "--n-ss", type=int, default=129, help="points per axis, mode_ncx_ss case (0: skip)"
    )
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--levels", type=int, default=None, help="refinement levels (default: auto)")
    ap.add_argument("--no-record", action="store_true", help="do not append to RESULTS.md")
    args = ap.parse_args()

    from kernels.registry import REGISTRY
    from sweep.batching import configure_jax

    configure_jax()
    mach = machine()
    print(f"machine: {mach}")
    cases = [("mode_ncx", args.n, "ca_i")]
    if args.n_ss > 0:
        if "mode_ncx_ss" in REGISTRY.outputs:
            cases.append(("mode_ncx_ss", args.n_ss, "ibar_ncx"))
        else:
            print("skipping mode_ncx_ss: the steady-state outputs are not in the registry")
    rows = []
    for output, n, third in cases:
        r = bench_case(output, n, third, args.repeats, args.levels)
        rows.append(r)
        print(f"\n{r['case']}  (levels {r['levels']}, per level {r['per_level']})")
        print(
            f"  evaluations   dense {r['dense_evals']:,}   adaptive {r['adaptive_evals']:,}   "
            f"ratio {r['ratio']:.1f}x fewer"
        )
        print(
            f"  boundary      {r['boundary_cells']:,} cells; adaptive differs in {r['mismatch']} "
            f"(map identical: {r['map_equal']})"
        )
        print(
            f"  wall (median of {args.repeats})  dense {r['dense_s']:.4f} s   adaptive "
            f"{r['adaptive_s']:.4f} s   (dense/adaptive {r['dense_s'] / r['adaptive_s']:.2f})"
        )
        print(
            f"  compile       dense {r['dense_compile_s']:.2f} s   adaptive "
            f"{r['adaptive_compile_s']:.2f} s"
        )
    if args.no_record:
        return
    path = HERE / "RESULTS.md"
    lines = []
    if not path.exists():
        lines += [
            "# Benchmark results",
            "",
            "Each script appends its own dated entry (machine, medians after a warm-up).",
            "",
        ]
    today = dt.date.today().isoformat()
    lines += [
        "",
        f"## {today} — bench_boundary.py: adaptive vs dense mode-boundary mapping",
        "",
        f"Machine: {mach}. Boundary cells at the grid's resolution, checked identical; "
        f"wall = median of {args.repeats} after a warm-up; compile = first call − median.",
        "",
        "| date | case | dense evals | adaptive evals | evals ratio | boundary cells "
        "| mismatched cells | dense s | adaptive s | compile dense / adaptive s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {today} | {r['case']} | {r['dense_evals']:,} | {r['adaptive_evals']:,} | "
            f"{r['ratio']:.1f}× | {r['boundary_cells']:,} | {r['mismatch']} | {r['dense_s']:.3f} | "
            f"{r['adaptive_s']:.3f} | {r['dense_compile_s']:.2f} / {r['adaptive_compile_s']:.2f} |"
        )
    with path.open("a", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")
    print(f"\nappended to {path}")


if __name__ == "__main__":
    main()
