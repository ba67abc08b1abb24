"""Whole-cell steady state: ``sweep run`` end to end versus a scipy root-finding loop.

A float64 grid of ≥ 10⁶ points (default 100 [K⁺]ₒ × 100 u_nka × 100 p_kcc2)
is run through :func:`sweep.run` into a fresh zarr store, end to end (plan,
compile, compute, write), outputs ``vm_cell``, ``na_i_cell``, ``k_i_cell``,
``cl_i_cell``, ``volume_cell`` and ``df_gaba_cell`` (with their companions
``status_cell`` and ``residual_cell``). In the same run, the baseline is the
loop a user would otherwise write: ``scipy.optimize.root`` (``hybr``) on the
five equations of physics.md in (ln[Na], ln[K], ln[Cl], ln[X], V), plain
numpy, started from a resting state, on a random subsample of the same grid
points; its per-point time is extrapolated to the whole grid (stated so in the
entry). The subsample's scipy roots are compared with the store.

Usage: ``python benchmarks/bench_cell.py [--n 100] [--sample 300] [--no-record]``.
Appends a dated section to ``benchmarks/RESULTS.md`` unless ``--no-record``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
from _machine import machine  # benchmarks/ is on sys.path when run
from scipy.optimize import root

HERE = Path(__file__).resolve().parent
OUTPUTS = ["vm_cell", "na_i_cell", "k_i_cell", "cl_i_cell", "volume_cell", "df_gaba_cell"]
R, F = 8.31446261815324, 96485.3321233100184


def config(n: int) -> str:
    return f"""
name: bench-cell
precision: float64
axes:
  k_o:    {{start: 2 mM, stop: 12 mM, num: {n}, spacing: log}}
  u_nka:  {{start: 20 mM/s, stop: 500 mM/s, num: {n}, spacing: log}}
  p_kcc2: {{start: 0, stop: 1, num: {n}}}
outputs: [{", ".join(OUTPUTS)}]
"""


# ------------------------------------------------------------------ scipy baseline
def _params(p: dict) -> dict:
    q = dict(p)
    q["u_k"] = p["u_kcc2"] * ((1 - p["p_kcc2"]) + p["p_kcc2"] * p["rho_kcc2"])
    q["u_n"] = p["u_nkcc1"] * (p["rho_nkcc1"] + (1 - p["rho_nkcc1"]) * p["p_nkcc1"])
    q["rt"] = R * p["temperature"] / F * 1e3
    q["gc"] = p["g_cl"] + p["g_gaba"] / (1 + p["p_hco3_cl"])
    q["gh"] = p["g_gaba"] * p["p_hco3_cl"] / (1 + p["p_hco3_cl"])
    return q


def _five(y: np.ndarray, q: dict) -> np.ndarray:
    na, k, cl, x = np.exp(y[:4])
    v = y[4]
    rt = q["rt"]
    e_na, e_k = rt * np.log(q["na_o"] / na), rt * np.log(q["k_o"] / k)
    e_cl, e_h = rt * np.log(cl / q["cl_o"]), rt * np.log(q["hco3_i"] / q["hco3_o"])
    j = q["u_nka"] * (na / q["na_o"]) ** 3
    jk = q["u_k"] * np.log(k * cl / (q["k_o"] * q["cl_o"]))
    jn = q["u_n"] * np.log(q["na_o"] * q["k_o"] * q["cl_o"] ** 2 / (na * k * cl**2))
    g = q["gamma"]
    i_h = q["gh"] * (v - e_h)
    s = g * (q["g_na"] + q["g_k"] + q["gc"]) * rt + q["u_k"] + q["u_n"]
    return np.array(
        [
            (-g * q["g_na"] * (v - e_na) - 3 * j + jn - g * i_h) / s,
            (-g * q["g_k"] * (v - e_k) + 2 * j - jk + jn) / s,
            (g * q["gc"] * (v - e_cl) - jk + 2 * jn) / s,
            (na + k - cl - q["hco3_i"] + q["z_x"] * x) / q["osm_o"],
            (na + k + cl + q["hco3_i"] + x) / q["osm_o"] - 1,
        ]
    )


def scipy_point(q: dict) -> tuple[float, float]:
    y0 = np.array([np.log(12.0), np.log(125.0), np.log(6.0), np.log(135.0), -70.0])
    sol = root(_five, y0, args=(q,), method="hybr", tol=1e-12)
    return float(np.exp(sol.x[0])), float(sol.x[4])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=100, help="points per axis (3 axes)")
    ap.add_argument("--sample", type=int, default=300, help="scipy subsample size")
    ap.add_argument("--repeats", type=int, default=3, help="timed runs (median)")
    ap.add_argument("--no-record", action="store_true")
    args = ap.parse_args(argv)

    import jax

    jax.config.update("jax_enable_x64", True)
    import xarray as xr

    from kernels import REGISTRY
    from sweep import run
    from sweep.spec import parse_config, parse_yaml

    mach = machine()
    n_pts = args.n**3
    tmp = Path(tempfile.mkdtemp(prefix="bench_cell_"))
    try:
        # first run: compiles (and fills the persistent compile cache); the timed run
        # is the same sweep again into a new store, end to end (plan, load, compute, write)
        spec = parse_config(parse_yaml(config(args.n)))
        t0 = time.perf_counter()
        run(spec, store=tmp / "warm.zarr", progress=False)
        first = time.perf_counter() - t0
        walls = []
        for rep in range(args.repeats):
            t0 = time.perf_counter()
            run(
                parse_config(parse_yaml(config(args.n))),
                store=tmp / f"cell{rep}.zarr",
                progress=False,
            )
            walls.append(time.perf_counter() - t0)
        wall = sorted(walls)[len(walls) // 2]
        for rep in range(1, args.repeats):
            shutil.rmtree(tmp / f"cell{rep}.zarr", ignore_errors=True)
        os.rename(tmp / "cell0.zarr", tmp / "cell.zarr")
        ds = xr.open_zarr(tmp / "cell.zarr")
        status = ds["status_cell"].values
        n_ok = int((status == 0).sum())

        rng = np.random.default_rng(0)
        idx = [tuple(int(rng.integers(args.n)) for _ in range(3)) for _ in range(args.sample)]
        base = REGISTRY.defaults()
        t1 = time.perf_counter()
        res = []
        for i, j, k in idx:
            p = {
                **base,
                "k_o": float(ds.k_o[i]),
                "u_nka": float(ds.u_nka[j]),
                "p_kcc2": float(ds.p_kcc2[k]),
            }
            res.append(scipy_point(_params(p)))
        t_scipy = (time.perf_counter() - t1) / args.sample
        na = ds["na_i_cell"].values
        vm = ds["vm_cell"].values
        rel = max(abs(na[i, j, k] - r[0]) / r[0] for (i, j, k), r in zip(idx, res, strict=True))
        dv = max(abs(vm[i, j, k] - r[1]) for (i, j, k), r in zip(idx, res, strict=True))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    pts_s = n_pts / wall
    scipy_pts_s = 1.0 / t_scipy
    ratio = pts_s / scipy_pts_s
    lines = [
        f"machine: {mach}; load average {os.getloadavg()[0]:.2f} at the end",
        f"grid: {args.n}^3 = {n_pts:,} points, float64, outputs {', '.join(OUTPUTS)} "
        "(+ status_cell, residual_cell)",
        f"sweep run (threads), end to end incl. zarr writes, median of {args.repeats} after a "
        f"first run: {wall:.2f} s = {pts_s:,.0f} points/s; {n_ok:,} points status 0",
        f"first run (compile included): {first:.2f} s = {n_pts / first:,.0f} points/s",
        f"scipy.optimize.root loop: {t_scipy * 1e3:.3f} ms/point over a random subsample of "
        f"{args.sample} grid points = {scipy_pts_s:,.0f} points/s (extrapolated per point to "
        f"the grid: {t_scipy * n_pts / 60:.1f} min)",
        f"ratio: {ratio:,.0f}x; subsample agreement: [Na]_i {rel:.1e} relative, V_m {dv:.1e} mV",
    ]
    text = "\n".join(lines)
    print(text)
    if not args.no_record:
        today = dt.date.today().isoformat()
        entry = (
            f"\n## {today} — bench_cell.py: whole-cell steady state, sweep run vs scipy root loop\n\n"
            f"```\n{text}\n```\n"
        )
        with open(HERE / "RESULTS.md", "a", encoding="utf-8") as fh:
            fh.write(entry)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
