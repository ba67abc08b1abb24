"""GPU check: correctness on the card against float64 on the CPU, then the GPU benchmark table.

Run on a machine with a GPU (``pip install -e '.[gpu]'``)::

    python benchmarks/gpu_check.py --out gpu_check.md

Correctness (the same random points on both devices, kernels from the registry):

* thermodynamics panel (ΔG, V_rev, E_GABA of several transporters), the Cl⁻
  and Ca²⁺ steady states (value and status), the whole-cell steady state when
  the registry has it, and local sensitivities (``jax.jacfwd`` through the
  steady states);
* float64 on the card against float64 on the CPU: relative difference
  ≤ 1e-10 (different libm/FMA; the solvers' own tolerance is 1e-10 in ln c),
  identical status codes;
* float32 on the card against float64 on the CPU: ≤ 1e-4 of each output's
  scale (its largest magnitude over the points), and float32 converges
  wherever float64 does (≥ 99.9% of those points).

Benchmarks (on the card, compute only, after a warm-up compile):

* dense ΔG panel over a 4-D nested-vmap grid, float32: points/s and the output
  bytes written per second as a fraction of the card's memory bandwidth
  (``--peak-gbs``; known cards are looked up);
* ``ca_i_ss`` (and ``vm_cell`` when present) over a 2-D grid: points/s in
  float64 and float32;
* ``sweep run --device gpu`` end to end on a dense float32 grid;
* time courses (:func:`time_courses`): the Lorenz GPU-ensemble case of Utkarsh
  et al. 2024 with the engine's integrator beside plain diffrax, and 10⁵
  whole-cell trajectories in float64 and float32, checked against the CPU.

``--device cpu`` runs the same script on the CPU against itself (the test
suite does this with ``--small`` so that the script keeps working without a
card). Exit status: 0 when every check passes, 1 when one fails, 2 when the
device is missing.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from kernels import REGISTRY  # noqa: E402

#: Memory bandwidth (GB/s) of cards by device_kind substring (vendor data sheets).
PEAK_GBS = {"H200": 4800.0, "H100": 3350.0, "A100": 2039.0, "V100": 900.0, "L4": 300.0}

PANEL = ("dG_ncx", "v_rev_ncx", "dG_kcc2", "dG_nkcc1", "e_gaba", "dG_nka")
STEADY = ("cl_i_ss", "ca_i_ss")
#: Inputs drawn at random for the correctness points: name -> (low, high, log-uniform?).
RANGES = {
    "vm": (-120.0, 40.0, False),
    "na_i": (3.0, 60.0, True),
    "k_o": (1.0, 20.0, True),
    "cl_i": (2.0, 60.0, True),
    "ca_i": (2e-5, 1e-2, True),
    "p_kcc2": (0.0, 1.0, False),
    "temperature": (295.0, 315.0, False),
}
WRT = ("vm", "na_i", "k_o", "temperature")
TOL64, TOL32 = 1e-10, 1e-4


def _points(n: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    out = {}
    for name, (lo, hi, log) in RANGES.items():
        u = rng.random(n)
        out[name] = np.exp(np.log(lo) + u * np.log(hi / lo)) if log else lo + u * (hi - lo)
    return out


def _flat(names: Sequence[str], swept: Sequence[str], dtype) -> Callable:
    """jit(vmap) of the registry outputs ``names`` over points of the ``swept`` inputs."""
    defaults = REGISTRY.defaults()
    names = REGISTRY.resolve_outputs(names)

    def point(*xs):
        p = {k: jnp.asarray(v, dtype) for k, v in defaults.items()}
        p.update(dict(zip(swept, xs, strict=True)))
        return REGISTRY.evaluate(p, names)

    return jax.jit(jax.vmap(point))


def _on(device, fn: Callable, args: Sequence[np.ndarray], dtype) -> dict[str, np.ndarray]:
    with jax.default_device(device):
        xs = [jax.device_put(jnp.asarray(a, dtype), device) for a in args]
        res = jax.block_until_ready(fn(*xs))
    return {k: np.asarray(v) for k, v in res.items()}


def _sens(device, output: str, pts: dict[str, np.ndarray], dtype) -> np.ndarray:
    """∂output/∂(WRT) per point by forward-mode autodiff through the kernel."""
    defaults = REGISTRY.defaults()
    swept = list(pts)

    def value(w, *xs):
        p = {k: jnp.asarray(v, dtype) for k, v in defaults.items()}
        p.update(dict(zip(swept, xs, strict=True)))
        p.update(dict(zip(WRT, w, strict=True)))
        return REGISTRY.evaluate(p, [output])[output]

    def point(*xs):
        w = jnp.stack([xs[swept.index(k)] for k in WRT])
        return jax.jacfwd(value)(w, *xs)

    fn = jax.jit(jax.vmap(point))
    with jax.default_device(device):
        xs = [jax.device_put(jnp.asarray(pts[k], dtype), device) for k in swept]
        return np.asarray(jax.block_until_ready(fn(*xs)))


def _compare(name: str, test: np.ndarray, ref: np.ndarray, tol: float) -> tuple[bool, float]:
    """Max |test − ref| / max |ref| (the output's scale) where the reference is finite."""
    ref = np.asarray(ref, np.float64)
    test = np.asarray(test, np.float64)
    finite = np.isfinite(ref)
    if not finite.any():
        return bool(np.array_equal(np.isfinite(test), finite)), 0.0
    scale = max(float(np.max(np.abs(ref[finite]))), np.finfo(np.float64).tiny)
    err = np.abs(test[finite] - ref[finite]) / scale
    worst = float(np.nanmax(err)) if np.isfinite(err).all() else float("inf")
    return worst <= tol, worst


def correctness(acc, cpu, n: int) -> list[tuple[str, str, float, float, bool]]:
    """Rows (check, precision, worst difference, tolerance, passed)."""
    pts = _points(n)
    swept = list(pts)
    args = [pts[k] for k in swept]
    rows = []
    outs = list(PANEL) + list(STEADY)
    if "vm_cell" in REGISTRY.outputs:
        outs.append("vm_cell")
    f64 = _flat(outs, swept, jnp.float64)
    f32 = _flat(outs, swept, jnp.float32)
    ref = _on(cpu, f64, args, jnp.float64)
    a64 = _on(acc, f64, args, jnp.float64)
    a32 = _on(acc, f32, args, jnp.float32)
    for name in ref:
        if name.startswith("residual_"):  # ≈ 0 by construction: the statuses carry its meaning
            continue
        if name.startswith("status_"):
            same = bool(np.array_equal(a64[name], ref[name]))
            rows.append((f"{name} codes equal", "float64", float(not same), 0.0, same))
            conv = ref[name] == 0
            same32 = float(np.mean(a32[name][conv] == 0)) if conv.any() else 1.0
            rows.append((f"{name} converged share", "float32", 1 - same32, 1e-3, same32 >= 0.999))
            continue
        ok, worst = _compare(name, a64[name], ref[name], TOL64)
        rows.append((name, "float64", worst, TOL64, ok))
        ok32, worst32 = _compare(name, a32[name], ref[name], TOL32)
        rows.append((name, "float32", worst32, TOL32, ok32))
    for out in STEADY:
        s_ref = _sens(cpu, out, pts, jnp.float64)
        s_acc = _sens(acc, out, pts, jnp.float64)
        ok, worst = _compare(f"d{out}/d({','.join(WRT)})", s_acc, s_ref, 1e-8)
        rows.append((f"jacfwd {out} wrt {', '.join(WRT)}", "float64", worst, 1e-8, ok))
    return rows


def _time(fn: Callable[[], object], repeats: int) -> tuple[float, float]:
    t0 = time.perf_counter()
    jax.block_until_ready(fn())
    first = time.perf_counter() - t0
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    return med, max(first - med, 0.0)


def _nested(names: Sequence[str], axes: Sequence[str], dtype) -> Callable:
    defaults = REGISTRY.defaults()
    names = REGISTRY.resolve_outputs(names)

    def point(*xs):
        p = {k: jnp.asarray(v, dtype) for k, v in defaults.items()}
        p.update(dict(zip(axes, xs, strict=True)))
        return REGISTRY.evaluate(p, names)

    f = point
    for i in reversed(range(len(axes))):
        f = jax.vmap(f, in_axes=tuple(0 if j == i else None for j in range(len(axes))))
    return jax.jit(f)


def benchmarks(acc, small: bool, peak_gbs: float | None) -> list[tuple[str, float, str]]:
    """Rows (case, points/s, note)."""
    rows = []
    shape = (20, 10, 10, 10) if small else (200, 100, 100, 100)
    axes = ("vm", "na_i", "ca_i", "k_o")
    grids = [
        np.linspace(-120, 60, shape[0]),
        np.geomspace(5, 50, shape[1]),
        np.geomspace(5e-5, 1e-3, shape[2]),
        np.geomspace(2, 12, shape[3]),
    ]
    panel = ("dG_ncx", "v_rev_ncx", "mode_ncx", "dG_nkcc1", "dG_kcc2")
    f = _nested(panel, axes, jnp.float32)
    with jax.default_device(acc):
        xs = [jax.device_put(jnp.asarray(g, jnp.float32), acc) for g in grids]
        med, comp = _time(lambda: f(*xs), 5)
    pts = float(np.prod(shape))
    nbytes = pts * (4 * 4 + 1)  # four float32 outputs and one int8 mode per point
    gbs = nbytes / med / 1e9
    frac = f", {gbs / peak_gbs:.0%} of {peak_gbs:,.0f} GB/s" if peak_gbs else ""
    rows.append(
        (
            f"dense ΔG panel {'×'.join(map(str, shape))} float32 (5 outputs)",
            pts / med,
            f"{gbs:,.0f} GB/s written{frac}; compile {comp:.2f} s",
        )
    )
    m = 200 if small else 4000
    for out in ("ca_i_ss", "vm_cell"):
        if out not in REGISTRY.outputs:
            continue
        for dtype in (jnp.float64, jnp.float32):
            g = _nested([out], ("vm", "na_i") if out == "ca_i_ss" else ("k_o", "p_kcc2"), dtype)
            a = np.linspace(-90, 0, m) if out == "ca_i_ss" else np.geomspace(2, 12, m)
            b = np.linspace(5, 30, m) if out == "ca_i_ss" else np.linspace(0, 1, m)
            with jax.default_device(acc):
                xa = jax.device_put(jnp.asarray(a, dtype), acc)
                xb = jax.device_put(jnp.asarray(b, dtype), acc)
                med, comp = _time(lambda g=g, xa=xa, xb=xb: g(xa, xb), 3)
            rows.append(
                (
                    f"{out} {m}×{m} {jnp.dtype(dtype).name}",
                    m * m / med,
                    f"compile {comp:.2f} s",
                )
            )
    return rows


def end_to_end(device: str, small: bool) -> tuple[str, float, str]:
    import sweep

    n = (20, 10, 10, 10) if small else (200, 100, 100, 100)
    with tempfile.TemporaryDirectory() as d:
        cfg = {
            "name": "gpu-check",
            "precision": "float32",
            "axes": {
                "vm": {"start": "-120 mV", "stop": "60 mV", "num": n[0]},
                "na_i": {"start": "5 mM", "stop": "50 mM", "num": n[1], "spacing": "log"},
                "ca_i": {"start": "50 nM", "stop": "1 uM", "num": n[2], "spacing": "log"},
                "k_o": {"start": "2 mM", "stop": "12 mM", "num": n[3]},
            },
            "outputs": ["dG_ncx", "v_rev_ncx", "mode_ncx", "dG_nkcc1", "dG_kcc2"],
            "store": str(Path(d) / "gpu-check.zarr"),
        }
        sweep.run(sweep.parse_config(cfg), device=device, progress=False)  # warm-up
        t0 = time.perf_counter()
        sweep.run(sweep.parse_config(cfg), device=device, overwrite=True, progress=False)
        wall = time.perf_counter() - t0
    pts = float(np.prod(n))
    return (
        f"sweep run --device {device}, dense {'×'.join(map(str, n))} float32",
        pts / wall,
        f"{wall:.2f} s end to end",
    )


def time_courses(acc, cpu, small: bool) -> tuple[list[tuple[str, float, str]], list]:
    """Rows (case, trajectories/s, note) and checks of batched time courses on the card.

    * The GPU-ensemble anchor of Utkarsh et al. 2024 (GPUODEBenchmarks): Lorenz
      (σ 10, ρ ∈ [7, 28), β 8/3, u₀ = (1, 0, 0)), float32, Tsit5, 1,000 fixed steps
      over [0, 1], 2²³ ≈ 8.4 M trajectories (as their table), end state only: the
      engine's ``kernels.timecourse.integrate`` (status and summary grid included)
      and plain ``jax.vmap(diffrax.diffeqsolve)``. Published on a V100: DiffEqGPU.jl
      57.7 M trajectories/s, JAX/diffrax vmap 0.84 M/s.
    * The whole-cell KCC2 block × [K⁺]ₒ step of bench_timecourse.py (RODAS4, 300 s,
      32 output times, summaries and the GABA flip), float64 and float32, against
      float64 on the CPU on a subsample: ≤ 1e-6 relative (float64, both adaptive at
      rtol 1e-8: step sequences may differ in the last bits) and ≤ 1e-3 (float32;
      t_relax ≤ 1e-2).
    """
    from kernels.timecourse import INPUTS, SYSTEMS, time_course

    rows: list[tuple[str, float, str]] = []
    checks: list = []
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import _lorenz

    n = 1000 if small else 2**23
    rho = _lorenz.rho_values(n)
    plain, engine = _lorenz.plain_and_engine()

    with jax.default_device(acc):
        x = jax.device_put(jnp.asarray(rho), acc)
        fe, fp = jax.jit(jax.vmap(engine)), jax.jit(jax.vmap(plain))
        med_e, comp_e = _time(lambda: fe(x), 3)
        med_p, comp_p = _time(lambda: fp(x), 3)
        end_e, st = (np.asarray(a) for a in fe(x))
        end_p = np.asarray(fp(x))
    diff = float(np.max(np.abs(end_e - end_p)))
    rows.append(
        (
            f"Lorenz f32 Tsit5 1,000 fixed steps, engine's integrate, {n:,} trajectories",
            n / med_e,
            f"compile {comp_e:.2f} s; {int((st == 0).sum()):,}/{n:,} status 0; published V100: "
            "DiffEqGPU.jl 57.7 M/s",
        )
    )
    rows.append(
        (
            "Lorenz, same, plain jax.vmap(diffrax.diffeqsolve)",
            n / med_p,
            f"compile {comp_p:.2f} s; end states equal the engine's to {diff:.1e}; published "
            "V100: JAX vmap 0.84 M/s",
        )
    )

    m = 64 if small else 100_000
    P = {**REGISTRY.defaults(), **{i.name: i.default for i in INPUTS}}
    rng = np.random.default_rng(1)
    u = rng.uniform(0.0, 0.3, m)
    ko = rng.uniform(2.5, 8.0, m)

    def cell_fn(dtype):
        base = {k: jnp.asarray(v, dtype) for k, v in P.items()}
        ts = jnp.linspace(0.0, 300.0, 32, dtype=dtype)
        before = {"u_kcc2": jnp.asarray(0.3, dtype), "k_o": jnp.asarray(3.5, dtype)}

        def point(a, b):
            r = time_course(
                SYSTEMS["cell"], {**base, "u_kcc2": a, "k_o": b}, before, ts, 300.0,
                outputs=["vm", "cl_i", "e_gaba", "gaba_polarity"], flips=["gaba_polarity"],
            )  # fmt: skip
            return r["cl_i_tc"], r["cl_i_tc_t_relax"], r["status_tc"]

        return jax.jit(jax.vmap(point))

    k = min(m, 200)
    with jax.default_device(cpu):
        ref = [np.asarray(a) for a in cell_fn(jnp.float64)(jnp.asarray(u[:k]), jnp.asarray(ko[:k]))]
    # float32 t_relax: ≤ 1e-2 (near u_kcc2 0.3, [K⁺]ₒ 3.5 mM the step hardly moves
    # [Cl⁻]ᵢ, so the 1/e level is resolved to a few ulp of the change: 9e-4 on the CPU)
    tols = {jnp.float64: (1e-6, 1e-6), jnp.float32: (1e-3, 1e-2)}
    for dtype, tol2 in tols.items():
        g = cell_fn(dtype)
        with jax.default_device(acc):
            xa = jax.device_put(jnp.asarray(u, dtype), acc)
            xb = jax.device_put(jnp.asarray(ko, dtype), acc)
            med, comp = _time(lambda g=g, xa=xa, xb=xb: g(xa, xb), 3)
            out = [np.asarray(a) for a in g(xa, xb)]
        name = jnp.dtype(dtype).name
        ok_share = float((out[2] == 0).mean())
        rows.append(
            (
                f"whole-cell time course (RODAS4, 300 s, 32 times + summaries), {m:,} "
                f"trajectories, {name}",
                m / med,
                f"compile {comp:.2f} s; {ok_share:.1%} status 0",
            )
        )
        for (label, i), tol in zip((("[Cl⁻]ᵢ series", 0), ("t_relax", 1)), tol2, strict=True):
            worst = float(np.max(np.abs(out[i][:k].astype(np.float64) / ref[i] - 1)))
            checks.append((f"whole-cell time course {label}", name, worst, tol, bool(worst <= tol)))
        same = bool(np.array_equal(out[2][:k], ref[2]))
        checks.append(("whole-cell time course status equal", name, float(not same), 0.0, same))
    return rows, checks


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="gpu", help="device to check (default gpu)")
    ap.add_argument("--n", type=int, default=20000, help="random points for the correctness checks")
    ap.add_argument("--small", action="store_true", help="small sizes (CI on a CPU)")
    ap.add_argument("--peak-gbs", type=float, default=None, help="card memory bandwidth, GB/s")
    ap.add_argument("--out", default=None, help="write the markdown report here")
    args = ap.parse_args(argv)
    try:
        acc = jax.devices(args.device)[0]
    except RuntimeError:
        found = ", ".join(sorted({d.platform for d in jax.devices()}))
        print(f"gpu_check: no {args.device!r} device (JAX sees: {found})", file=sys.stderr)
        return 2
    cpu = jax.devices("cpu")[0]
    kind = acc.device_kind
    peak = args.peak_gbs or next((v for k, v in PEAK_GBS.items() if k in kind), None)
    n = min(args.n, 2000) if args.small else args.n
    print(f"device: {acc.platform}:{kind}; reference: cpu; jax {jax.__version__}")

    checks = correctness(acc, cpu, n)
    bench = benchmarks(acc, args.small, peak)
    bench.append(end_to_end(args.device, args.small))
    tc_rows, tc_checks = time_courses(acc, cpu, args.small)
    checks += tc_checks

    lines = [
        f"## {dt.date.today().isoformat()} — gpu_check.py on {acc.platform}:{kind}",
        "",
        f"Correctness: {n:,} random points, card against float64 on the CPU "
        "(max |difference| / max |float64 CPU value| per output).",
        "",
        "| check | precision | worst | tolerance | pass |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {c} | {p} | {w:.2e} | {t:.0e} | {'yes' if ok else 'NO'} |" for c, p, w, t, ok in checks
    ]
    lines += ["", "| benchmark | points/s | note |", "|---|---|---|"]
    lines += [f"| {c} | {pps:,.0f} | {note} |" for c, pps, note in bench]
    lines += ["", "| time courses | trajectories/s | note |", "|---|---|---|"]
    lines += [f"| {c} | {tps:,.0f} | {note} |" for c, tps, note in tc_rows]
    report = "\n".join(lines) + "\n"
    print(report)
    if args.out:
        Path(args.out).write_text(report)
    return 0 if all(ok for *_, ok in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
