"""Time courses: trajectories/s of the engine's integrator against a scipy loop and plain diffrax.

Cases, each measured side by side in one run (warm-up compile first and
reported apart, then the median of ``--repeats`` calls):

* ``calcium``: ``kernels.timecourse.time_course`` of the Ca²⁺ system, a step
  from (V_m −70 mV, [Na⁺]ᵢ 12 mM) to a point of a ``--n`` × ``--n`` grid
  V_m −90…0 mV × [Na⁺]ᵢ 5…30 mM, t_end 20 s, 32 output times, outputs
  ``ca_i``, ``i_ncx``, ``mode_ncx`` with their summaries and the NCX flip time,
  float64 default tolerances; nested ``jax.vmap`` + ``jax.jit`` (the engine's
  dense plan), one call for the whole grid and as blocks of 1,000.
  Baselines: (a) ``scipy.integrate.solve_ivp`` (BDF, rtol 1e-8, atol 1e-14 mM,
  dense output at the same 32 times, plain numpy right-hand side, no
  summaries) in a Python loop over a subsample (``--scipy-n`` points of the
  same grid), its per-trajectory time extrapolated to the grid; (b) plain
  ``jax.vmap(diffrax.diffeqsolve)`` over the same points: diffrax's default
  ``Kvaerno5()`` (chord iteration), ``PIDController`` with the same
  tolerances on ln[Ca²⁺]ᵢ, ``SaveAt(ts=...)`` at the 32 times, the same
  vector field and initial states, no summaries.
* ``cell``: whole-cell KCC2 block (u_kcc2 0.3 → ``--cell-n`` × ``--cell-n`` grid
  of u_kcc2 0…0.3 mM/s × [K⁺]ₒ 2.5…8 mM), t_end 300 s, 32 output times,
  ``vm``, ``cl_i``, ``e_gaba``, ``gaba_polarity``, summaries and the GABA flip;
  baseline a ``solve_ivp`` (BDF, same rtol/atol) loop over a subsample with a
  plain numpy right-hand side, extrapolated per trajectory.
* ``engine``: the ``cell`` case as a config through ``sweep.run`` into a zarr
  store (``--engine-n`` × ``--engine-n`` trajectories; plan, compile, blocks,
  writes, finalize), first run and a second (compiled) one; baselines plain
  ``jax.vmap(diffrax.diffeqsolve)`` on ≤ 10⁴ of the points and the scipy loop,
  both extrapolated per trajectory.
* ``lorenz``: the GPU-ensemble anchor of Utkarsh et al. 2024 (GPUODEBenchmarks):
  Lorenz (σ 10, ρ 28, β 8/3, u₀ = (1, 0, 0)), float32, Tsit5, 1,000 fixed
  steps over [0, 1], ρ varied per trajectory, end state only. Rows: plain
  ``jax.vmap(diffrax.diffeqsolve)`` and the engine's ``integrate`` (same
  solver and steps, plus its status and minimal summary grid). Published
  (V100): DiffEqGPU.jl 57.7 M traj/s, JAX/diffrax vmap 0.84 M traj/s.

Usage: ``python benchmarks/bench_timecourse.py [--n 100] [--scipy-n 40]
[--lorenz-n 10000] [--repeats 3] [--no-record]``. Appends a dated section to
``benchmarks/RESULTS.md`` unless ``--no-record``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import time
from pathlib import Path

import jax

import kernels  # noqa: F401  (its process set-up, EQX_ON_ERROR, must precede diffrax)

jax.config.update("jax_enable_x64", True)
# the scipy baseline integrates the tests' independent reference equations
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import _lorenz  # noqa: E402  (benchmarks/ is on sys.path when run)
import diffrax as dfx  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from _machine import machine  # noqa: E402
from reference_models import ca_rate, cell_rhs, cell_volume  # noqa: E402
from scipy.integrate import solve_ivp  # noqa: E402

from kernels import REGISTRY, cell  # noqa: E402
from kernels.timecourse import (  # noqa: E402
    CALCIUM,
    INPUTS,
    SYSTEMS,
    IntegratorOptions,
    _ca_prepare,
    _ca_steady_state,
    _ca_vector_field,
    time_course,
)

HERE = Path(__file__).resolve().parent
P = {**REGISTRY.defaults(), **{i.name: i.default for i in INPUTS}}


def timed(f, *args, repeats: int) -> tuple[float, float, object]:
    """(compile s, median run s, result) of a jitted function."""
    t0 = time.perf_counter()
    out = jax.block_until_ready(f(*args))
    first = time.perf_counter() - t0
    runs = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = jax.block_until_ready(f(*args))
        runs.append(time.perf_counter() - t0)
    med = statistics.median(runs)
    return max(first - med, 0.0), med, out


# ------------------------------------------------------------------ calcium
def calcium_case(n: int, scipy_n: int, repeats: int) -> list[str]:
    vm = np.linspace(-90.0, 0.0, n)
    na = np.linspace(5.0, 30.0, n)
    ts = np.linspace(0.0, 20.0, 32)
    before = {"vm": -70.0, "na_i": 12.0}
    base = {k: jnp.asarray(v) for k, v in P.items()}
    tsj = jnp.asarray(ts)

    def point(v, a, p):
        return time_course(
            CALCIUM, {**p, "vm": v, "na_i": a}, before, tsj, 20.0,
            outputs=["ca_i", "i_ncx", "mode_ncx"], flips=["mode_ncx"],
        )  # fmt: skip

    grid_f = jax.jit(jax.vmap(jax.vmap(point, (None, 0, None)), (0, None, None)))
    comp, wall, res = timed(grid_f, jnp.asarray(vm), jnp.asarray(na), base, repeats=repeats)
    n_traj = n * n
    ok = int(np.sum(np.asarray(res["status_tc"]) == 0))
    steps = np.asarray(res["n_steps_tc"])
    rows = []
    rows.append(
        f"| calcium, {n}×{n} grid, nested vmap, 1 call | {n_traj:,} | {n_traj / wall:,.0f} | "
        f"{comp:.1f} | {ok}/{n_traj} status 0, steps mean {steps.mean():.1f} max {steps.max()} |"
    )
    # the engine's block plan: the same compiled function per block of 1000 trajectories
    vv, aa = np.meshgrid(vm, na, indexing="ij")
    vv, aa = vv.ravel(), aa.ravel()
    block_f = jax.jit(jax.vmap(point, (0, 0, None)))
    b = 1000
    jax.block_until_ready(block_f(jnp.asarray(vv[:b]), jnp.asarray(aa[:b]), base))
    t0 = time.perf_counter()
    for i in range(0, n_traj, b):
        jax.block_until_ready(block_f(jnp.asarray(vv[i:i + b]), jnp.asarray(aa[i:i + b]), base))  # fmt: skip
    wall_b = time.perf_counter() - t0
    rows.append(
        f"| calcium, same grid as blocks of {b} (1 thread of dispatch) | {n_traj:,} | "
        f"{n_traj / wall_b:,.0f} | (shared) | engine block plan |"
    )

    # (b) plain jax.vmap(diffrax.diffeqsolve): default Kvaerno5, same tolerances
    rtol, _ = IntegratorOptions().tolerances(jnp.float64)

    def plain(v, a, p):
        q = {**p, "vm": v, "na_i": a}
        y0, _ = _ca_steady_state({**q, **before})
        args = _ca_prepare(q)
        sol = dfx.diffeqsolve(
            dfx.ODETerm(lambda t, y, a: _ca_vector_field(y, a)), dfx.Kvaerno5(), 0.0, 20.0,
            None, y0, args=args, saveat=dfx.SaveAt(ts=tsj),
            stepsize_controller=dfx.PIDController(rtol=0.0, atol=rtol), max_steps=4096,
            throw=False,
        )  # fmt: skip
        return jnp.exp(sol.ys[:, 0]), sol.result._value

    plain_f = jax.jit(jax.vmap(plain, (0, 0, None)))
    comp_p, wall_p, res_p = timed(
        plain_f, jnp.asarray(vv), jnp.asarray(aa), base, repeats=max(1, repeats // 2)
    )
    ca_plain = np.asarray(res_p[0]).reshape(n, n, -1)
    diff = np.nanmax(np.abs(ca_plain / np.asarray(res["ca_i_tc"]) - 1))
    rows.append(
        f"| plain jax.vmap(diffrax.diffeqsolve), default Kvaerno5, same points | {n_traj:,} | "
        f"{n_traj / wall_p:,.0f} | {comp_p:.1f} | engine is {wall_p / wall:.1f}× faster; "
        f"[Ca²⁺]ᵢ agree to {diff:.1e} (relative) |"
    )

    # (a) scipy solve_ivp loop over a subsample, extrapolated per trajectory
    rng = np.random.default_rng(0)
    idx = rng.choice(n_traj, size=min(scipy_n, n_traj), replace=False)
    y0s = np.exp(np.asarray(jax.vmap(lambda v, a: _ca_steady_state(
        {**base, "vm": v, "na_i": a, **before})[0][0])(jnp.asarray(vv[idx]), jnp.asarray(aa[idx]))))  # fmt: skip
    t0 = time.perf_counter()
    ref = []
    for k, i in enumerate(idx):
        q = {**P, "vm": vv[i], "na_i": aa[i]}
        sol = solve_ivp(
            lambda t, c, q=q: [_np_rate(c[0], q)], (0.0, 20.0), [y0s[k]], method="BDF",
            rtol=rtol, atol=1e-14, t_eval=ts,
        )  # fmt: skip
        ref.append(sol.y[0])
    wall_s = (time.perf_counter() - t0) / len(idx)
    got = np.asarray(res["ca_i_tc"]).reshape(n_traj, -1)[idx]
    err = np.max(np.abs(got / np.array(ref) - 1))
    rows.append(
        f"| scipy solve_ivp (BDF) loop, {len(idx)} of the points, extrapolated | {n_traj:,} | "
        f"{1 / wall_s:,.0f} | — | engine is {wall_s * n_traj / wall:,.0f}× faster "
        f"(per trajectory, extrapolated); [Ca²⁺]ᵢ agree to {err:.1e} |"
    )
    return rows


def _np_rate(ca: float, q: dict) -> float:
    """physics.md's Ca²⁺ rate, plain numpy (tests/reference_models.py)."""
    return ca_rate(ca, q)[0]


# ------------------------------------------------------------------ whole cell
def cell_case(n: int, scipy_n: int, repeats: int) -> list[str]:
    u = np.linspace(0.0, 0.3, n)
    ko = np.linspace(2.5, 8.0, n)
    ts = jnp.linspace(0.0, 300.0, 32)
    base = {k: jnp.asarray(v) for k, v in P.items()}
    before = {"u_kcc2": 0.3, "k_o": 3.5}

    def point(a, b, p):
        return time_course(
            SYSTEMS["cell"], {**p, "u_kcc2": a, "k_o": b}, before, ts, 300.0,
            outputs=["vm", "cl_i", "e_gaba", "gaba_polarity"], flips=["gaba_polarity"],
        )  # fmt: skip

    f = jax.jit(jax.vmap(jax.vmap(point, (None, 0, None)), (0, None, None)))
    comp, wall, res = timed(f, jnp.asarray(u), jnp.asarray(ko), base, repeats=repeats)
    ok = int(np.sum(np.asarray(res["status_tc"]) == 0))
    steps = np.asarray(res["n_steps_tc"])
    rows = [
        f"| cell, KCC2 block × [K⁺]ₒ step, {n}×{n} grid, nested vmap | {n * n:,} | "
        f"{n * n / wall:,.0f} | {comp:.1f} | {ok}/{n * n} status 0, steps mean "
        f"{steps.mean():.1f} max {steps.max()} |"
    ]
    # scipy loop over a subsample, from the kernel's initial amounts (not timed)
    rng = np.random.default_rng(1)
    uu, kk = np.meshgrid(u, ko, indexing="ij")
    idx = rng.choice(n * n, size=min(scipy_n, n * n), replace=False)
    q0 = cell.CellParams.from_inputs({**base, **{k: jnp.asarray(v) for k, v in before.items()}})
    n0 = np.asarray(cell.amounts(cell.cell_steady_state(q0)))
    ref, wall_s = _scipy_cell_loop(uu.ravel()[idx], kk.ravel()[idx], n0, ts)
    got = np.asarray(res["cl_i_tc"]).reshape(n * n, -1)[idx]
    err = np.max(np.abs(got / np.array(ref) - 1))
    rows.append(
        f"| scipy solve_ivp (BDF) loop, cell, {len(idx)} of the points, extrapolated | "
        f"{n * n:,} | {1 / wall_s:,.0f} | — | engine is {wall_s * n * n / wall:,.0f}× faster "
        f"(per trajectory, extrapolated); [Cl⁻]ᵢ agree to {err:.1e} |"
    )
    return rows


_np_volume = cell_volume


def _scipy_cell_loop(u_kcc2, k_o, n0, ts) -> tuple[np.ndarray, float]:
    """The scipy baseline of the whole-cell cases: ``solve_ivp`` (BDF, the engine's
    default float64 rtol/atol) from the amounts ``n0`` over [0, 300] s at each
    (u_kcc2, k_o) point; returns [Cl⁻]ᵢ at ``ts`` (points × times) and s per trajectory."""
    rtol, atol = IntegratorOptions().tolerances(jnp.float64)
    ts_np = np.asarray(ts)
    t0 = time.perf_counter()
    ref = []
    for u, k in zip(u_kcc2, k_o, strict=True):
        q = {**P, "u_kcc2": u, "k_o": k}
        sol = solve_ivp(
            lambda t, y, q=q: _np_cell_rhs(y, q), (0.0, 300.0), n0, method="BDF",
            rtol=rtol, atol=atol, t_eval=ts_np,
        )  # fmt: skip
        ref.append(sol.y[2] / _np_volume(sol.y, q))
    return np.array(ref), (time.perf_counter() - t0) / len(ref)


def _np_cell_rhs(n: np.ndarray, q: dict) -> np.ndarray:
    """physics.md's pump–leak balances in amounts, plain numpy (tests/reference_models.py)."""
    return cell_rhs(n, q)[0]


# ------------------------------------------------------------------ through `sweep run`
def engine_case(n: int, scipy_n: int, grid_points: int = 129) -> list[str]:
    """The whole-cell KCC2 block of :func:`cell_case` as a config, end to end through
    ``sweep.run`` into a zarr store (plan, compile, blocks, write, finalize), against
    plain ``jax.vmap(diffrax.diffeqsolve)`` and a scipy loop on the same points."""
    import tempfile

    import sweep  # the engine (lazy: the other cases need only the kernels)

    cfg = {
        "name": "bench-tc-cell",
        "axes": {
            "u_kcc2": {"start": "0 mM/s", "stop": "0.3 mM/s", "num": n},
            "k_o": {"start": "2.5 mM", "stop": "8 mM", "num": n},
        },
        "timecourse": {
            "system": "cell",
            "before": {"u_kcc2": "0.3 mM/s", "k_o": "3.5 mM"},
            "t_end": "300 s",
            "times": {"start": "0 s", "stop": "300 s", "num": 32},
            "outputs": ["vm", "cl_i", "e_gaba", "gaba_polarity"],
            "flips": ["gaba_polarity"],
            "grid_points": grid_points,
        },
    }
    tmp = Path(tempfile.mkdtemp(prefix="bench_tc_"))
    spec = sweep.parse_config({**cfg, "store": str(tmp / "tc.zarr")})
    t0 = time.perf_counter()
    res = sweep.run(spec, overwrite=True, progress=False)
    cold = time.perf_counter() - t0
    t0 = time.perf_counter()
    sweep.run(spec, overwrite=True, progress=False)  # compiled runner reused in-process
    warm = time.perf_counter() - t0
    import xarray as xr

    ds = xr.open_zarr(spec.store)
    ok = int((ds["status_tc"].values == 0).sum())
    steps = ds["n_steps_tc"].values
    got = ds["cl_i_tc"].values.reshape(n * n, -1)
    n_traj = n * n

    # plain jax.vmap(diffrax.diffeqsolve): default Kvaerno5, same tolerances, same states
    system = SYSTEMS["cell"]
    base = {k: jnp.asarray(v) for k, v in P.items()}
    rtol, atol = IntegratorOptions().tolerances(jnp.float64)
    before = {"u_kcc2": 0.3, "k_o": 3.5}
    n0 = jnp.asarray(cell.amounts(cell.cell_steady_state(cell.CellParams.from_inputs(
        {**base, **{k: jnp.asarray(v) for k, v in before.items()}}))))  # fmt: skip
    ts = jnp.linspace(0.0, 300.0, 32)

    def plain(a, b):
        args = system.prepare({**base, "u_kcc2": a, "k_o": b})
        sol = dfx.diffeqsolve(
            dfx.ODETerm(lambda t, y, a: system.vector_field(y, a)), dfx.Kvaerno5(), 0.0,
            300.0, None, n0, args=args, saveat=dfx.SaveAt(ts=ts),
            stepsize_controller=dfx.PIDController(rtol=rtol, atol=atol), max_steps=4096,
            throw=False,
        )  # fmt: skip
        return sol.ys, sol.result._value

    uu, kk = np.meshgrid(spec.axes[0].values, spec.axes[1].values, indexing="ij")
    # at most 10⁴ of the points (the same every run), its time per trajectory extrapolated
    n_plain = min(n_traj, 10_000)
    sub = np.random.default_rng(3).choice(n_traj, size=n_plain, replace=False)
    comp_p, wall_p, _ = timed(
        jax.jit(jax.vmap(plain)),
        jnp.asarray(uu.ravel()[sub]),
        jnp.asarray(kk.ravel()[sub]),
        repeats=1,
    )
    wall_p *= n_traj / n_plain

    # scipy loop over a subsample, extrapolated per trajectory
    rng = np.random.default_rng(2)
    idx = rng.choice(n_traj, size=min(scipy_n, n_traj), replace=False)
    ref, per_s = _scipy_cell_loop(uu.ravel()[idx], kk.ravel()[idx], np.asarray(n0), ts)
    err = float(np.max(np.abs(got[idx] / np.array(ref) - 1)))
    return [
        f"| `sweep run`, cell KCC2 block × [K⁺]ₒ, {n}×{n} grid → zarr, grid_points "
        f"{grid_points}, first run (compile included) | {n_traj:,} | {n_traj / cold:,.0f} | (included) | {res.n_blocks} blocks; "
        f"{ok}/{n_traj} status 0; steps mean {steps.mean():.1f} max {steps.max()} |",
        f"| `sweep run`, same, second run in the process (compiled) | {n_traj:,} | "
        f"{n_traj / warm:,.0f} | — | end to end: plan, blocks, zarr writes, finalize |",
        f"| plain jax.vmap(diffrax.diffeqsolve), default Kvaerno5, {n_plain:,} of the points"
        f"{', extrapolated' if n_plain < n_traj else ''} | {n_traj:,} | "
        f"{n_traj / wall_p:,.0f} | {comp_p:.1f} | `sweep run` (compiled) is "
        f"{wall_p / warm:.2f}× its speed, with summaries, status and the store |",
        f"| scipy solve_ivp (BDF) loop, {len(idx)} of the points, extrapolated | {n_traj:,} | "
        f"{1 / per_s:,.0f} | — | `sweep run` is {per_s * n_traj / warm:,.0f}× faster compiled, "
        f"{per_s * n_traj / cold:,.0f}× with compile; [Cl⁻]ᵢ agree to {err:.1e} |",
    ]


# ------------------------------------------------------------------ Lorenz anchor
def lorenz_case(n: int, repeats: int) -> list[str]:
    rho = jnp.asarray(_lorenz.rho_values(n))
    plain, engine = _lorenz.plain_and_engine()
    comp_p, wall_p, out_p = timed(jax.jit(jax.vmap(plain)), rho, repeats=repeats)
    comp_e, wall_e, out_e = timed(jax.jit(jax.vmap(engine)), rho, repeats=repeats)
    same = float(np.max(np.abs(np.asarray(out_e[0]) - np.asarray(out_p))))
    return [
        f"| Lorenz f32, Tsit5 1,000 fixed steps, plain jax.vmap(diffrax.diffeqsolve) | {n:,} | "
        f"{n / wall_p:,.0f} | {comp_p:.1f} | published V100: DiffEqGPU.jl 57.7 M/s, JAX vmap "
        f"0.84 M/s |",
        f"| Lorenz f32, same, engine's integrate (status + summary grid) | {n:,} | "
        f"{n / wall_e:,.0f} | {comp_e:.1f} | end states agree with plain diffrax to {same:.1e} "
        "(chaotic, float32); "
        f"{int(np.sum(np.asarray(out_e[1]) == 0))}/{n} status 0 |",
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100, help="grid side (n × n trajectories)")
    ap.add_argument("--cell-n", type=int, default=100, help="whole-cell grid side")
    ap.add_argument("--scipy-n", type=int, default=40, help="scipy loop subsample")
    ap.add_argument("--lorenz-n", type=int, default=10000, help="Lorenz trajectories")
    ap.add_argument("--engine-n", type=int, default=100, help="`sweep run` grid side")
    ap.add_argument(
        "--grid-points", type=int, default=129, help="summary grid of the `sweep run` case"
    )
    ap.add_argument(
        "--only", choices=["calcium", "cell", "engine", "lorenz"], help="run one case only"
    )
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--no-record", action="store_true", help="do not append to RESULTS.md")
    args = ap.parse_args()
    mach = machine()
    print(mach)
    cases = {
        "calcium": lambda: calcium_case(args.n, args.scipy_n, args.repeats),
        "cell": lambda: cell_case(args.cell_n, args.scipy_n, args.repeats),
        "engine": lambda: engine_case(args.engine_n, args.scipy_n, args.grid_points),
        "lorenz": lambda: lorenz_case(args.lorenz_n, args.repeats),
    }
    all_rows: list[str] = []
    for name, case in cases.items():
        if args.only in (None, name):
            rows = case()
            print(*rows, sep="\n")
            all_rows += rows
    if args.no_record:
        return
    today = dt.date.today().isoformat()
    text = (
        f"\n## {today} — bench_timecourse.py: batched time courses (kernels.timecourse)\n\n"
        f"Machine: {mach}. float64 default tolerances unless stated; wall = median of "
        f"{args.repeats} after a warm-up; compile = first call − median. The scipy row is a "
        "subsample of the same points, its time per trajectory extrapolated to the grid.\n\n"
        "| case | trajectories | trajectories/s | compile s | notes |\n|---|---|---|---|---|\n"
        + "\n".join(all_rows)
        + "\n"
    )
    with open(HERE / "RESULTS.md", "a", encoding="utf-8") as fh:
        fh.write(text)


if __name__ == "__main__":
    main()
