"""Calcium steady state per point: JAX (nested vmap + jit) versus a scipy ``brentq`` loop.

benchmarks.md item 3: ``ca_i_ss`` in float64 on the 100 × 100 grid V_m −90…0 mV
× [Na⁺]ᵢ 5…30 mM ([Na⁺]ₒ 145 mM, [Ca²⁺]ₒ 2 mM, 310 K, other inputs at their
defaults), measured side by side in one run:

* JAX: ``REGISTRY.evaluate`` of ``ca_i_ss`` (with its companions
  ``status_ca_i_ss`` and ``residual_ca_i_ss``, as a sweep stores them), one
  ``jax.vmap`` per grid axis (the engine's dense plan), ``jax.jit``; the fixed
  inputs are passed as traced scalars (not baked in as constants). Warm-up
  (compile) first and reported apart; then the median of ``--repeats`` calls.
* baseline: ``scipy.optimize.brentq`` per point on plain ``math`` code (the
  physics.md balance in ln[Ca]ᵢ over [1 nM, [Ca]ₒ], scipy's default
  tolerances), the loop a user would otherwise write.

Every JAX point is checked against the baseline (1e-8 relative, status 0).
The larger grid (``--n-large``, default 1000 × 1000) is timed for the JAX path
as one call and as blocks of ``--n`` × ``--n`` (the engine's block plan: the
same compiled function per block) on 1 and 2 threads.

Usage: ``python benchmarks/bench_steady_state.py [--n 100] [--n-large 1000]
[--repeats 11] [--no-record]``. Appends a dated section to
``benchmarks/RESULTS.md`` unless ``--no-record``.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import datetime as dt
import math
import os
import statistics
import time
from pathlib import Path

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from _machine import machine  # noqa: E402  (benchmarks/ is on sys.path when run)
from scipy.optimize import brentq  # noqa: E402

from kernels import REGISTRY  # noqa: E402
from kernels.constants import F, R  # noqa: E402

HERE = Path(__file__).resolve().parent
OUTPUTS = REGISTRY.resolve_outputs(["ca_i_ss"])  # + status, residual


def grid(n: int) -> tuple[np.ndarray, np.ndarray]:
    return np.linspace(-90.0, 0.0, n), np.linspace(5.0, 30.0, n)


# ------------------------------------------------------------------------------ JAX
def make_jax(dtype=jnp.float64):
    """Jitted nested-vmap evaluation of ca_i_ss over (vm, na_i); fixed inputs are arguments."""
    names = OUTPUTS

    def point(vm, na_i, fixed):
        return REGISTRY.evaluate({**fixed, "vm": vm, "na_i": na_i}, names)

    inner = jax.vmap(point, in_axes=(None, 0, None))
    return jax.jit(jax.vmap(inner, in_axes=(0, None, None)))


def fixed_inputs(dtype=jnp.float64) -> dict:
    return {
        k: jnp.asarray(v, dtype) for k, v in REGISTRY.defaults().items() if k not in ("vm", "na_i")
    }


def time_calls(fn, repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - t0)
    return times


# ------------------------------------------------------------------------- baseline
def baseline_solve(vms: np.ndarray, nas: np.ndarray) -> np.ndarray:
    """brentq per point on plain-math code (physics.md balance, GPB 2010 defaults)."""
    d = REGISTRY.defaults()
    t, na_o, ca_o = d["temperature"], d["na_o"], d["ca_o"]
    ibar, nu, ksat = d["ibar_ncx"], d["nu_ncx"], d["ksat_ncx"]
    km_cai, km_cao, km_nai, km_nao = d["km_cai"], d["km_cao"], d["km_nai"], d["km_nao"]
    kd, n_act = d["k_dact"], d["n_act"]
    ibar_p, k_p, h_p, g = d["ibar_pmca"], d["k_pmca"], d["h_pmca"], d["g_ca_bg"]
    rt_f = R * t / F * 1e3
    lo, hi = math.log(1e-6), math.log(ca_o)

    def balance(x, vm, na_i):
        ca = math.exp(x)
        u = vm / rt_f
        ka = 1.0 / (1.0 + (kd / ca) ** n_act)
        den = (
            km_cai * na_o**3 * (1 + (na_i / km_nai) ** 3)
            + km_nao**3 * ca * (1 + ca / km_cai)
            + km_cao * na_i**3
            + na_i**3 * ca_o
            + na_o**3 * ca
        )
        e1, e2 = math.exp(nu * u), math.exp((nu - 1) * u)
        i_ncx = ibar * ka * (e1 * na_i**3 * ca_o - e2 * na_o**3 * ca) / (den * (1 + ksat * e2))
        e_ca = rt_f / 2 * math.log(ca_o / ca)
        pmca = ibar_p * ca**h_p / (k_p**h_p + ca**h_p)
        return 2 * i_ncx - g * (vm - e_ca) - pmca

    out = np.empty((len(vms), len(nas)))
    for i, vm in enumerate(vms):
        for j, na_i in enumerate(nas):
            out[i, j] = math.exp(brentq(balance, lo, hi, args=(vm, na_i)))
    return out


# ---------------------------------------------------------------------------- main
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100, help="grid points per axis (benchmarks.md: 100)")
    ap.add_argument("--n-large", type=int, default=1000, help="larger grid per axis (JAX only)")
    ap.add_argument("--repeats", type=int, default=11)
    ap.add_argument("--no-record", action="store_true", help="do not append to RESULTS.md")
    args = ap.parse_args()
    n, big = args.n, args.n_large
    mach = machine()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"machine: {mach}; load average {load:.2f}")

    fixed = fixed_inputs()
    f = make_jax()
    vms, nas = grid(n)
    vm_j, na_j = jnp.asarray(vms), jnp.asarray(nas)
    t0 = time.perf_counter()
    compiled = f.lower(vm_j, na_j, fixed).compile()
    compile_s = time.perf_counter() - t0
    res = jax.block_until_ready(compiled(vm_j, na_j, fixed))  # warm-up
    times = time_calls(lambda: compiled(vm_j, na_j, fixed), args.repeats)
    t_jax = statistics.median(times)
    pps_jax = n * n / t_jax
    print(
        f"JAX nested vmap, {n}x{n} float64: compile {compile_s:.2f} s, "
        f"median {t_jax * 1e3:.3f} ms (min {min(times) * 1e3:.3f}) -> {pps_jax:,.0f} points/s"
    )

    t0 = time.perf_counter()
    ref = baseline_solve(vms, nas)
    t_base = time.perf_counter() - t0
    pps_base = n * n / t_base
    print(f"scipy brentq loop, {n}x{n}: {t_base:.3f} s -> {pps_base:,.0f} points/s")

    ca = np.asarray(res["ca_i_ss"])
    status = np.asarray(res["status_ca_i_ss"])
    rel = float(np.max(np.abs(ca / ref - 1.0)))
    n_ok = int((status == 0).sum())
    ratio = pps_jax / pps_base
    print(f"check: {n_ok}/{n * n} status 0, max |JAX/brentq − 1| = {rel:.2e}")
    print(f"ratio JAX / brentq loop: {ratio:,.0f}x")

    # Larger grid: one call, and blocks of n x n through the same compiled function.
    bvms, bnas = grid(big)
    bvm_j, bna_j = jnp.asarray(bvms), jnp.asarray(bnas)
    t0 = time.perf_counter()
    compiled_big = f.lower(bvm_j, bna_j, fixed).compile()
    compile_big = time.perf_counter() - t0
    jax.block_until_ready(compiled_big(bvm_j, bna_j, fixed))
    t_big = statistics.median(time_calls(lambda: compiled_big(bvm_j, bna_j, fixed), 3))
    pps_big = big * big / t_big
    print(
        f"JAX one call, {big}x{big}: compile {compile_big:.2f} s, median {t_big:.3f} s "
        f"-> {pps_big:,.0f} points/s"
    )

    blocks = [
        (jnp.asarray(bvms[i : i + n]), jnp.asarray(bnas[j : j + n]))
        for i in range(0, big, n)
        for j in range(0, big, n)
    ]

    def run_blocks(threads: int):
        if threads == 1:
            return [compiled(a, b, fixed) for a, b in blocks]
        with cf.ThreadPoolExecutor(threads) as ex:
            return list(ex.map(lambda ab: jax.block_until_ready(compiled(*ab, fixed)), blocks))

    pps_blocks = {}
    for threads in (1, 2):
        jax.block_until_ready(run_blocks(threads))
        t_b = statistics.median(time_calls(lambda th=threads: run_blocks(th), 3))
        pps_blocks[threads] = big * big / t_b
        print(
            f"JAX {big}x{big} as {len(blocks)} blocks of {n}x{n}, {threads} thread(s): "
            f"median {t_b:.3f} s -> {pps_blocks[threads]:,.0f} points/s"
        )

    if args.no_record:
        return
    today = dt.date.today().isoformat()
    path = HERE / "RESULTS.md"
    if not path.exists():
        path.write_text(
            "# Benchmark results\n\nEvery number here is measured side by side with its "
            "baseline in the same run, on the machine named in the entry, after a warm-up "
            "(JIT compile) run; compile time is reported apart; medians of repeats.\n"
        )
    rows = [
        f"| {today} | ca_i_ss {n}×{n}, nested vmap, 1 call | {pps_jax:,.0f} | "
        f"{pps_base:,.0f} | {ratio:,.0f}× | {compile_s:.2f} | {n_ok}/{n * n} ok, "
        f"max rel diff {rel:.1e} |",
        f"| {today} | ca_i_ss {big}×{big}, nested vmap, 1 call | {pps_big:,.0f} | — | "
        f"{pps_big / pps_base:,.0f}× | {compile_big:.2f} | memory-bound intermediates |",
    ]
    for threads, pps in pps_blocks.items():
        rows.append(
            f"| {today} | ca_i_ss {big}×{big} as {len(blocks)} blocks of {n}×{n}, "
            f"{threads} thread(s) | {pps:,.0f} | — | {pps / pps_base:,.0f}× | "
            f"(shared) | same compiled function |"
        )
    section = (
        f"\n## {today} — bench_steady_state.py: calcium steady state per point "
        "(benchmarks.md item 3)\n\n"
        f"Machine: {mach}; load average {load:.2f} at start. JAX: `ca_i_ss` + status + "
        "residual, float64, V_m −90…0 mV × [Na⁺]ᵢ 5…30 mM, median of repeats after a warm-up. "
        "Baseline: `scipy.optimize.brentq` per point on plain `math` code in the same run "
        "(ratios use it).\n\n"
        "| date | case | JAX points/s | brentq points/s | ratio | compile s | notes |\n"
        "|---|---|---|---|---|---|---|\n" + "\n".join(rows) + "\n"
    )
    with path.open("a", encoding="utf-8") as fh:
        fh.write(section)
    print(f"appended to {path}")


if __name__ == "__main__":
    main()
