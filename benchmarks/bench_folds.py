"""Fold (saddle-node) boundaries: ``boundary_along`` on ``ca_fold_margin`` vs a dense grid.

The work: the edges of the bistable Ca²⁺ band along Ī_PMCA at every point of a
V_m × [Na⁺]ᵢ grid (notebook 09's bistable set: n_act = 4, K_dact = 1 µM), to
≤ 1e-9 of the Ī_PMCA span.

* folds: ``sweep.boundary_along(spec, "ca_fold_margin", "ibar_pmca")`` — the
  margin on the axis samples, then Brent refinement of each sign change on the
  kernel (f = 0 = f′ is where the margin vanishes);
* dense: the branch count ``ca_i_ss_count`` on a fine Ī_PMCA grid through the
  engine's blocks, timed at ``--dense`` samples per line. A dense grid locates a
  fold to half its step, so reaching 1e-9 of the span needs 5·10⁸ samples per
  line: its time there is extrapolated from the measured rate (said so in the
  table), and its evaluation count is exact arithmetic.

Agreement: every fold found is bracketed by a change of the dense count.
Usage: ``python benchmarks/bench_folds.py [--n 21] [--samples 41] [--dense 4001]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

import numpy as np
from _machine import machine, timed  # benchmarks/ is on sys.path when run

HERE = Path(__file__).resolve().parent
LO, HI = 0.1, 0.5  # Ī_PMCA span, µA/cm²
TOL = 1e-9


def spec(n: int, samples: int, outputs: list[str]):
    from sweep import parse_config

    return parse_config(
        {
            "name": "bench-folds",
            "precision": "float64",
            "parameters": {"n_act": 4.0, "k_dact": "1 uM"},
            "axes": {
                "vm": {"start": "-40 mV", "stop": "20 mV", "num": n},
                "na_i": {"start": "20 mM", "stop": "40 mM", "num": n},
                "ibar_pmca": {"start": f"{LO} uA/cm**2", "stop": f"{HI} uA/cm**2", "num": samples},
            },
            "outputs": outputs,
        }
    )


def main() -> None:
    from sweep import boundary_along, evaluate_grid

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=21, help="points per V_m and [Na+]i axis")
    ap.add_argument("--samples", type=int, default=41, help="Ī_PMCA samples for the fold search")
    ap.add_argument("--dense", type=int, default=4001, help="dense Ī_PMCA samples (timed)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--no-record", action="store_true")
    args = ap.parse_args()
    mach = machine()
    print(f"machine: {mach}")
    lines = args.n * args.n

    fspec = spec(args.n, args.samples, ["ca_fold_margin"])
    res, t_fold, c_fold, _ = timed(
        lambda: boundary_along(fspec, "ca_fold_margin", "ibar_pmca"), args.repeats
    )
    ds = res.dataset
    evals = int(ds.attrs["n_evaluations"])  # grid samples + Brent refinements
    folds = ds["boundary_ibar_pmca"].values
    n_folds = int(np.isfinite(folds).sum())
    print(f"folds: {n_folds} on {lines} lines in {t_fold:.3f} s (compile {c_fold:.2f} s)")

    dspec = spec(args.n, args.dense, ["ca_i_ss_count"])
    dense, t_dense, c_dense, _ = timed(lambda: evaluate_grid(dspec), 1)
    count = dense["ca_i_ss_count"].values  # (vm, na_i, ibar)
    x = dense["ibar_pmca"].values
    step = x[1] - x[0]
    agree = 0
    for i in range(args.n):
        for j in range(args.n):
            changes = x[np.flatnonzero(np.diff(count[i, j]))]
            f = np.sort(folds[i, j][np.isfinite(folds[i, j])])
            if len(f) == len(changes) and all(
                c - 1e-12 <= t <= c + step + 1e-12 for t, c in zip(f, changes, strict=True)
            ):
                agree += 1
    pps_dense = lines * args.dense / t_dense
    need = int(np.ceil(1.0 / (2 * TOL)))  # samples per line for a half-step ≤ 1e-9 of the span
    t_need = lines * need / pps_dense
    print(
        f"dense {args.dense} samples/line: {t_dense:.2f} s ({pps_dense:,.0f} points/s); "
        f"agreement {agree}/{lines} lines"
    )
    print(
        f"to 1e-9 of the span a dense grid needs {need:,} samples/line: {lines * need:.2e} "
        f"evaluations, ~{t_need:,.0f} s extrapolated; folds used {evals:,} evaluations "
        f"({lines * need / evals:.1e}× fewer)"
    )
    if args.no_record:
        return
    today = dt.date.today().isoformat()
    section = (
        f"\n## {today} — bench_folds.py: fold boundaries vs a dense grid "
        "(Ca²⁺ balance, notebook 09's bistable set)\n\n"
        f"Machine: {mach}. {lines} lines (V_m × [Na⁺]ᵢ = {args.n}×{args.n}) along Ī_PMCA "
        f"{LO}–{HI} µA/cm²; target: folds to ≤ 1e-9 of the span. Folds: `boundary_along` on "
        f"`ca_fold_margin` ({args.samples} samples + Brent), median of {args.repeats}. Dense: "
        f"`ca_i_ss_count` at {args.dense} samples/line, timed; the 1e-9 row is extrapolated "
        "from that rate (5·10⁸ samples/line).\n\n"
        "| date | method | evaluations | wall s | fold lines agreeing with the dense count |\n"
        "|---|---|---|---|---|\n"
        f"| {today} | boundary_along(ca_fold_margin) | {evals:,} | {t_fold:.3f} "
        f"(compile {c_fold:.2f}) | {agree}/{lines} |\n"
        f"| {today} | dense count, {args.dense}/line (half-step {step / 2 / (HI - LO):.1e} "
        f"of span) | {lines * args.dense:,} | {t_dense:.2f} | — |\n"
        f"| {today} | dense count to 1e-9 of span (extrapolated) | {lines * need:.2e} | "
        f"~{t_need:,.0f} | — |\n"
    )
    with (HERE / "RESULTS.md").open("a", encoding="utf-8") as fh:
        fh.write(section)
    print(f"appended to {HERE / 'RESULTS.md'}")


if __name__ == "__main__":
    main()
