"""Global sensitivity end to end: the engine versus SALib's own evaluate-style path.

The work: Sobol' indices (S1, ST, 95 % bootstrap intervals, 100 resamples) of
the chloride steady state ``cl_i_ss`` over 8 inputs (V_m, [K⁺]ₒ, [K⁺]ᵢ, [Na⁺]ᵢ,
[Cl⁻]ₒ, p_kcc2, p_nkcc1, g_Cl; concentrations and g_Cl log-uniform) with
N = 2¹⁴ base samples (N·(D + 2) = 163,840 model evaluations), sample → evaluate
→ analyse, two ways on the same machine in the same run:

* engine: :func:`sweep.global_sensitivity` (SALib sampling, the
  registry's ``cl_i_ss`` — a bracketed Newton solver with implicit
  derivatives — in chunked jitted flat ``vmap`` calls scheduled with dask,
  finiteness and status checks, SALib analysis);
* SALib: ``ProblemSpec(...).sample_sobol(N).evaluate(f).analyze_sobol()`` with
  ``f`` a vectorised numpy implementation of the same output — the closed form
  of physics.md (E_Cl,ss = (γg_Cl V_m + G_K E_K + 2G_N(E_Na + E_K)) / (γg_Cl +
  G_K + 4G_N), [Cl⁻]ᵢ = [Cl⁻]ₒ e^{E_Cl,ss F/RT}), the fastest numpy a user could
  write for it;
* optionally (``--brentq``) SALib with ``f`` solving the balance per sample
  point with ``scipy.optimize.brentq`` — what a user writes for a steady state
  without a closed form (benchmarks.md item 3's baseline).

Both use the same samples (same seed) and the same bootstrap seed; the script
checks that the model values agree (max relative difference) and reports the
largest difference of the indices. Each contender is warmed up (JAX compile)
first; compile time = first call − median of ``--repeats`` timed calls, and the
contenders' repeats are interleaved (engine, SALib, engine, ...) so that a shared
machine's slow spells hit both alike.

If ``cl_i_ss`` is not in the registry, ``e_gaba`` with 8 inputs is used instead
(and said so). Usage::

    python benchmarks/bench_sensitivity.py [--n 16384] [--repeats 5] [--second-order]
        [--brentq] [--output cl_i_ss|e_gaba] [--no-record]

Appends a dated section to ``benchmarks/RESULTS.md`` unless ``--no-record``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from _machine import machine, timed  # noqa: E402  (benchmarks/ is on sys.path when run)

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

R = 8.31446261815324  # J/(mol K), as kernels/constants.py
F = 96485.3321233100184  # C/mol

#: name -> (start, stop, log-uniform), stored units
CL_INPUTS = {
    "vm": (-90.0, -50.0, False),
    "k_o": (2.0, 12.0, True),
    "k_i": (120.0, 150.0, True),
    "na_i": (5.0, 30.0, True),
    "cl_o": (100.0, 140.0, True),
    "p_kcc2": (0.0, 1.0, False),
    "p_nkcc1": (0.0, 1.0, False),
    "g_cl": (0.02, 0.5, True),
}
EGABA_INPUTS = {
    "cl_i": (3.0, 30.0, True),
    "cl_o": (100.0, 140.0, True),
    "hco3_i": (10.0, 25.0, True),
    "hco3_o": (20.0, 30.0, True),
    "p_hco3_cl": (0.0, 0.4, False),
    "temperature": (300.0, 315.0, False),
    "vm": (-90.0, -50.0, False),  # no effect on e_gaba: expected S ≈ 0
    "k_o": (2.0, 12.0, True),  # no effect on e_gaba: expected S ≈ 0
}
UNITS = {
    "vm": "mV",
    "temperature": "K",
    "g_cl": "mS/cm**2",
    "p_kcc2": None,
    "p_nkcc1": None,
    "p_hco3_cl": None,
}


def config(output: str, inputs: dict) -> dict:
    axes = {}
    for name, (lo, hi, log) in inputs.items():
        unit = UNITS.get(name, "mM")
        fmt = (lambda v, u=unit: f"{v} {u}") if unit else (lambda v: v)
        axes[name] = {"start": fmt(lo), "stop": fmt(hi), "spacing": "log" if log else "linear"}
    return {
        "name": f"bench-sensitivity-{output}",
        "precision": "float64",
        "parameters": {"temperature": "310 K"} if "temperature" not in inputs else {},
        "axes": axes,
        "outputs": [output],
        # bounds-only axes need a sampled design to validate; global analysis ignores it
        "design": {"method": "sobol", "n": 1024, "seed": 0},
    }


# --- numpy implementations of the same outputs ----------------------------------
def _defaults() -> dict[str, float]:
    from kernels.registry import REGISTRY

    return REGISTRY.defaults()


def to_physical(X: np.ndarray, inputs: dict) -> dict[str, np.ndarray]:
    out = {}
    for j, (name, (_lo, _hi, log)) in enumerate(inputs.items()):
        out[name] = np.exp(X[:, j]) if log else X[:, j]
    return out


def numpy_cl_i_ss(X: np.ndarray, inputs: dict, d: dict) -> np.ndarray:
    """Closed-form steady-state [Cl⁻]ᵢ (physics.md), vectorised numpy, mM."""
    p = {**d, **to_physical(X, inputs)}
    rt_f = R * p["temperature"] / F * 1e3  # mV
    u_k = p["u_kcc2"] * ((1 - p["p_kcc2"]) + p["p_kcc2"] * p["rho_kcc2"])
    u_k = u_k * p["ic50_vu0463271"] / (p["vu0463271"] + p["ic50_vu0463271"])
    u_n = p["u_nkcc1"] * (p["rho_nkcc1"] + (1 - p["rho_nkcc1"]) * p["p_nkcc1"])
    u_n = u_n * p["ic50_bumetanide"] / (p["bumetanide"] + p["ic50_bumetanide"])
    g_k, g_n = u_k / rt_f, u_n / rt_f
    e_k = rt_f * np.log(p["k_o"] / p["k_i"])
    e_na = rt_f * np.log(p["na_o"] / p["na_i"])
    gg = p["gamma"] * p["g_cl"]
    e_cl = (gg * p["vm"] + g_k * e_k + 2 * g_n * (e_na + e_k)) / (gg + g_k + 4 * g_n)
    return p["cl_o"] * np.exp(e_cl / rt_f)


def brentq_cl_i_ss(X: np.ndarray, inputs: dict, d: dict) -> np.ndarray:
    """The chloride balance solved per point with scipy's brentq (plain ``math``), mM."""
    from scipy.optimize import brentq

    cols = to_physical(X, inputs)
    out = np.empty(X.shape[0])
    keys = list(cols)
    for i in range(X.shape[0]):
        p = dict(d)
        for k in keys:
            p[k] = float(cols[k][i])
        rt_f = R * p["temperature"] / F * 1e3
        u_k = p["u_kcc2"] * ((1 - p["p_kcc2"]) + p["p_kcc2"] * p["rho_kcc2"])
        u_n = p["u_nkcc1"] * (p["rho_nkcc1"] + (1 - p["rho_nkcc1"]) * p["p_nkcc1"])
        gg = p["gamma"] * p["g_cl"]
        lk = math.log(p["k_i"] / (p["k_o"] * p["cl_o"]))
        ln_ = math.log(p["na_o"] * p["k_o"] * p["cl_o"] ** 2 / (p["na_i"] * p["k_i"]))
        lco = math.log(p["cl_o"])

        def f(x, rt_f=rt_f, u_k=u_k, u_n=u_n, gg=gg, lk=lk, ln_=ln_, lco=lco, vm=p["vm"]):
            return gg * (vm - rt_f * (x - lco)) - u_k * (lk + x) + 2 * u_n * (ln_ - 2 * x)

        out[i] = math.exp(brentq(f, math.log(1e-6), math.log(1e4), xtol=1e-14, rtol=1e-14))
    return out


def numpy_e_gaba(X: np.ndarray, inputs: dict, d: dict) -> np.ndarray:
    """GHK E_GABA (physics.md), vectorised numpy, mV."""
    p = {**d, **to_physical(X, inputs)}
    rt_f = R * p["temperature"] / F * 1e3
    r = p["p_hco3_cl"]
    return rt_f * np.log((p["cl_i"] + r * p["hco3_i"]) / (p["cl_o"] + r * p["hco3_o"]))


# --- timing -----------------------------------------------------------------------


def timed_interleaved(fns: dict, repeats: int):
    """Warm each up (compile time = first − median), then alternate them ``repeats`` times."""
    first, out = {}, {}
    for k, fn in fns.items():
        t0 = time.perf_counter()
        out[k] = fn()
        first[k] = time.perf_counter() - t0
    times: dict = {k: [] for k in fns}
    for _ in range(repeats):
        for k, fn in fns.items():
            t0 = time.perf_counter()
            out[k] = fn()
            times[k].append(time.perf_counter() - t0)
    med = {k: statistics.median(v) for k, v in times.items()}
    return med, {k: max(0.0, first[k] - med[k]) for k in fns}, out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2**14, help="base samples (power of 2)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--second-order", action="store_true")
    ap.add_argument("--brentq", action="store_true", help="also SALib + per-point scipy brentq")
    ap.add_argument("--output", choices=("cl_i_ss", "e_gaba"), default="cl_i_ss")
    ap.add_argument("--scheduler", default="threads")
    ap.add_argument("--no-record", action="store_true")
    args = ap.parse_args(argv)

    import jax

    jax.config.update("jax_enable_x64", True)
    from SALib import ProblemSpec

    import sweep as sens
    from kernels.registry import REGISTRY
    from sweep.analysis.global_sensitivity import samples_config
    from sweep.execute import evaluate_plan
    from sweep.plan import make_plan
    from sweep.spec import parse_config

    output = args.output
    note = ""
    if output == "cl_i_ss" and "cl_i_ss" not in REGISTRY.outputs:
        output = "e_gaba"
        note = "cl_i_ss not in the registry yet: e_gaba with 8 inputs instead"
        print(f"NOTE: {note}")
    inputs = CL_INPUTS if output == "cl_i_ss" else EGABA_INPUTS
    np_fn = numpy_cl_i_ss if output == "cl_i_ss" else numpy_e_gaba
    d = _defaults()
    d["temperature"] = 310.0
    spec = parse_config(config(output, inputs))
    n, so, seed = args.n, args.second_order, 0
    D = len(inputs)
    rows = n * (2 * D + 2 if so else D + 2)
    mach = machine()
    print(f"machine: {mach}")
    print(f"work: Sobol' indices of {output}, D = {D}, N = {n}, {rows:,} evaluations, S2 {so}")

    # SALib's own path
    problem = sens.global_problem(spec)
    salib_problem = {**problem.salib(), "outputs": [output]}

    def salib(fn):
        sp = ProblemSpec(dict(salib_problem))
        sp.sample_sobol(n, calc_second_order=so, seed=seed)
        sp.evaluate(fn, inputs, d)
        sp.analyze_sobol(
            calc_second_order=so,
            num_resamples=100,
            conf_level=0.95,
            seed=np.random.default_rng(seed),
        )
        return sp

    def engine():
        return sens.global_sensitivity(
            spec, "sobol", n, seed, second_order=so, scheduler=args.scheduler
        )

    contenders = {"engine": engine, "salib_numpy": lambda: salib(np_fn)}
    if args.brentq and output == "cl_i_ss":
        contenders["salib_brentq"] = lambda: salib(brentq_cl_i_ss)
    # interleaved repeats: a shared machine's slow spells hit every contender alike
    t, first, out = timed_interleaved(contenders, args.repeats)
    ds, sp = out["engine"], out["salib_numpy"]
    t_engine, t_salib = t["engine"], t["salib_numpy"]
    c_engine = first["engine"]
    t_brent = t.get("salib_brentq")

    # the engine's steps, and the numpy evaluation alone
    X, t_sample, *_ = timed(
        lambda: sens.sample(problem, "sobol", n, seed=seed, second_order=so), args.repeats
    )
    rows_config = samples_config(spec, [output], "sobol", n, seed, so, 4, "unused.zarr")
    rows_plan = make_plan(parse_config(rows_config))  # the rows, as the engine plans them
    assert np.array_equal(rows_plan.rows, X)
    Yd, t_eval, *_ = timed(lambda: evaluate_plan(rows_plan, scheduler=args.scheduler), args.repeats)
    _, t_an, *_ = timed(
        lambda: sens.analyze(problem, X, {output: Yd[output]}, "sobol", seed=seed, second_order=so),
        args.repeats,
    )
    _, t_np_eval, *_ = timed(lambda: np_fn(X, inputs, d), args.repeats)
    same_x = np.array_equal(sp.samples, X)
    y_np = np.asarray(sp.results).ravel()
    rel = float(np.max(np.abs(Yd[output] - y_np) / np.maximum(np.abs(y_np), 1e-300)))
    dS = max(
        float(np.nanmax(np.abs(ds[k].values[0] - np.asarray(sp.analysis[k])))) for k in ("S1", "ST")
    )

    print(
        f"same samples in both paths: {same_x}; max rel. difference of the model values {rel:.1e}"
    )
    print(f"max |difference| of S1/ST between the paths: {dS:.1e}")
    print(
        f"engine end to end: {t_engine:.3f} s (compile {c_engine:.2f} s) = sample {t_sample:.3f} + "
        f"evaluate {t_eval:.3f} + analyse {t_an:.3f} s; {rows / t_eval:,.0f} evaluations/s"
    )
    print(
        f"SALib + numpy closed form end to end: {t_salib:.3f} s (evaluate {t_np_eval:.3f} s) "
        f"-> engine/SALib time ratio {t_engine / t_salib:.2f} (speed-up {t_salib / t_engine:.2f}x)"
    )
    if t_brent is not None:
        print(
            f"SALib + per-point brentq end to end: {t_brent:.2f} s -> speed-up of the engine "
            f"{t_brent / t_engine:.1f}x"
        )
    print(sens.ranked_table(ds))

    if not args.no_record:
        today = dt.date.today().isoformat()
        res = HERE / "RESULTS.md"
        header_needed = not res.exists()
        with res.open("a", encoding="utf-8") as f:
            if header_needed:
                f.write(
                    "# Benchmark results\n\nEvery number here is measured side by side with its "
                    "baseline in the same run, on the machine named in the entry, after a warm-up "
                    "(JIT compile) run; compile time apart; medians of repeats.\n"
                )
            f.write(
                f"\n## {today} — bench_sensitivity.py: global Sobol' sensitivity, engine vs SALib\n\n"
                f"Machine: {mach}. {output}, D = {D}, N = {n} ({rows:,} evaluations), "
                f"S2 {so}, 100 bootstrap resamples; median of {args.repeats} interleaved repeats after a warm-up. "
                f"Same samples in both paths: {same_x}; model values agree to {rel:.0e} "
                f"(relative); S1/ST agree to {dS:.0e}."
                + (f" NOTE: {note}." if note else "")
                + "\n\n"
                "| date | output | N | evals | engine s (sample / evaluate / analyse) | "
                "engine compile s | SALib + numpy closed form s (evaluate) | speed-up vs closed form"
                + (" | SALib + brentq s | speed-up vs brentq" if t_brent is not None else "")
                + " |\n|---|---|---|---|---|---|---|---"
                + ("|---|---" if t_brent is not None else "")
                + "|\n"
                f"| {today} | {output} | {n} | {rows:,} | {t_engine:.3f} ({t_sample:.3f} / "
                f"{t_eval:.3f} / {t_an:.3f}) | {c_engine:.2f} | {t_salib:.3f} ({t_np_eval:.3f}) | "
                f"{t_salib / t_engine:.2f}×"
                + (f" | {t_brent:.2f} | {t_brent / t_engine:.1f}×" if t_brent is not None else "")
                + " |\n"
            )
        print(f"appended to {res}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
