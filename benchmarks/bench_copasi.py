"""Peer comparison: COPASI's steady-state task versus ``sweep run`` on the Ca²⁺ balance.

benchmarks.md items 3 and 6. The model is the calcium balance of physics.md
("Calcium steady state", GPB 2010 NCX with allosteric activation + PMCA +
background leak, at fixed V_m and [Na⁺]ᵢ), built as a COPASI model with one
ODE-defined quantity x = ln[Ca²⁺]ᵢ whose rate is the balance. Every numeric
value is read from the registry's defaults, so both sides solve the same
equations. Side by side in one run, over the benchmarks.md grid (V_m −90…0 mV ×
[Na⁺]ᵢ 5…30 mM, 310 K):

* COPASI: its Steady-State task (damped Newton with integration fallback),
  called once per point through the COPASI Python API (python-copasi, with
  copasi-basico to build the model), started from [Ca²⁺]ᵢ = 100 nM. This is
  the loop a COPASI user writes from Python; COPASI's own Scan task would
  avoid the Python loop overhead.
* engine: ``sweep run`` of the same grid into a zarr store, end to end
  (validation, plan, template, blocks, consolidation), after a warm-up run
  with the persistent compile cache.

Agreement: max relative difference of [Ca²⁺]ᵢ over points where both report
success (COPASI's task result true, engine status 0).

Requires the ``bench`` extra: ``pip install -e '.[bench]'``.
Usage: ``python benchmarks/bench_copasi.py [--n 60] [--n-engine 1000] [--no-record]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from _machine import machine  # benchmarks/ is on sys.path when run

HERE = Path(__file__).resolve().parent
VM, NA = (-90.0, 0.0), (5.0, 30.0)


def build_copasi_model():
    """The Ca²⁺ balance as a COPASI model; returns (datamodel, {name: CModelValue})."""
    import basico

    from kernels import REGISTRY
    from kernels.constants import F, R

    d = REGISTRY.defaults()
    basico.new_model(name="ca_balance")
    pars = {
        "vm": -70.0,
        "na_i": 12.0,
        "na_o": d["na_o"],
        "ca_o": d["ca_o"],
        "rt_f": R * d["temperature"] / F * 1e3,
        "ibar": d["ibar_ncx"],
        "nu": d["nu_ncx"],
        "ksat": d["ksat_ncx"],
        "km_cai": d["km_cai"],
        "km_cao": d["km_cao"],
        "km_nai": d["km_nai"],
        "km_nao": d["km_nao"],
        "kd": d["k_dact"],
        "n_act": d["n_act"],
        "ibar_p": d["ibar_pmca"],
        "k_p": d["k_pmca"],
        "h_p": d["h_pmca"],
        "g": d["g_ca_bg"],
    }
    for k, v in pars.items():
        basico.add_parameter(k, initial_value=float(v))

    def v(n: str) -> str:
        return f"Values[{n}]"

    ca = "exp(Values[x])"
    u = f"({v('vm')}/{v('rt_f')})"
    ka = f"(1/(1+({v('kd')}/{ca})^{v('n_act')}))"
    den = (
        f"({v('km_cai')}*{v('na_o')}^3*(1+({v('na_i')}/{v('km_nai')})^3)"
        f"+{v('km_nao')}^3*{ca}*(1+{ca}/{v('km_cai')})"
        f"+{v('km_cao')}*{v('na_i')}^3+{v('na_i')}^3*{v('ca_o')}+{v('na_o')}^3*{ca})"
    )
    e1, e2 = f"exp({v('nu')}*{u})", f"exp(({v('nu')}-1)*{u})"
    i_ncx = (
        f"({v('ibar')}*{ka}*({e1}*{v('na_i')}^3*{v('ca_o')}-{e2}*{v('na_o')}^3*{ca})"
        f"/({den}*(1+{v('ksat')}*{e2})))"
    )
    e_ca = f"({v('rt_f')}/2*log({v('ca_o')}/{ca}))"
    pmca = f"({v('ibar_p')}*{ca}^{v('h_p')}/({v('k_p')}^{v('h_p')}+{ca}^{v('h_p')}))"
    balance = f"(2*{i_ncx}-{v('g')}*({v('vm')}-{e_ca})-{pmca})"
    basico.add_parameter("x", type="ode", expression=balance, initial_value=math.log(1e-4))
    dm = basico.get_current_model()
    model = dm.getModel()
    return dm, {n: model.getModelValue(n) for n in ("vm", "na_i", "x")}


def copasi_loop(vms: np.ndarray, nas: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """[Ca²⁺]ᵢ (mM) and success flags per point, and the wall time of the loop."""
    import COPASI

    dm, mv = build_copasi_model()
    model, task = dm.getModel(), dm.getTask("Steady-State")
    out = np.full((len(vms), len(nas)), np.nan)
    ok = np.zeros(out.shape, bool)
    x0 = math.log(1e-4)
    t0 = time.perf_counter()
    for i, vm in enumerate(vms):
        for j, na in enumerate(nas):
            mv["vm"].setInitialValue(float(vm))
            mv["na_i"].setInitialValue(float(na))
            mv["x"].setInitialValue(x0)
            model.updateInitialValues(COPASI.CCore.Framework_Concentration)
            done = task.initializeRaw(COPASI.CCopasiTask.NO_OUTPUT) and task.processRaw(True)
            ok[i, j] = bool(done)
            out[i, j] = math.exp(mv["x"].getValue())
    return out, ok, time.perf_counter() - t0


def engine_config(n: int, store: Path) -> dict:
    return {
        "name": "bench-copasi",
        "precision": "float64",
        "axes": {
            "vm": {"start": f"{VM[0]} mV", "stop": f"{VM[1]} mV", "num": n},
            "na_i": {"start": f"{NA[0]} mM", "stop": f"{NA[1]} mM", "num": n},
        },
        "outputs": ["ca_i_ss"],
        "store": str(store),
    }


def engine_run(n: int, tmp: Path, repeats: int = 3) -> tuple[np.ndarray, np.ndarray, float]:
    """``sweep run`` end to end (median of repeats after a warm-up): ca_i_ss, status, seconds."""
    import xarray as xr

    import sweep

    store = tmp / f"engine-{n}.zarr"
    spec = sweep.parse_config(engine_config(n, store))
    sweep.run(spec, overwrite=True, progress=False)  # warm-up: compile (and cache)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        sweep.run(sweep.parse_config(engine_config(n, store)), overwrite=True, progress=False)
        times.append(time.perf_counter() - t0)
    ds = xr.open_zarr(store)
    return ds["ca_i_ss"].values, ds["status_ca_i_ss"].values, statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=60, help="grid points per axis for both sides")
    ap.add_argument("--n-engine", type=int, default=1000, help="larger grid, engine only")
    ap.add_argument("--no-record", action="store_true", help="do not append to RESULTS.md")
    args = ap.parse_args()
    n = args.n
    mach = machine()
    print(f"machine: {mach}")
    vms, nas = np.linspace(*VM, n), np.linspace(*NA, n)

    ref, ok, t_cop = copasi_loop(vms, nas)
    pps_cop = n * n / t_cop
    print(f"COPASI steady-state task per point, {n}x{n}: {t_cop:.2f} s -> {pps_cop:,.0f} points/s")

    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        ca, status, t_eng = engine_run(n, tmp)
        pps_eng = n * n / t_eng
        print(f"sweep run {n}x{n} end to end: {t_eng:.3f} s -> {pps_eng:,.0f} points/s")
        big = args.n_engine
        _, status_big, t_big = engine_run(big, tmp, repeats=1)
        pps_big = big * big / t_big
        print(f"sweep run {big}x{big} end to end: {t_big:.2f} s -> {pps_big:,.0f} points/s")

    both = ok & (status == 0)
    rel = float(np.max(np.abs(ca[both] / ref[both] - 1.0))) if both.any() else float("nan")
    print(
        f"agreement: COPASI ok {int(ok.sum())}/{n * n}, engine status 0 {int((status == 0).sum())}"
        f"/{n * n}; max rel diff {rel:.1e} on {int(both.sum())} common points"
    )
    print(
        f"ratio (end to end, same {n}x{n} grid): {pps_eng / pps_cop:,.0f}x; "
        f"at {big}x{big}: {pps_big / pps_cop:,.0f}x"
    )
    if args.no_record:
        return
    today = dt.date.today().isoformat()
    rows = [
        f"| {today} | ca_i_ss {n}×{n} | {pps_cop:,.0f} | {pps_eng:,.0f} | "
        f"{pps_eng / pps_cop:,.0f}× | {int(ok.sum())}/{n * n} | {int((status == 0).sum())}/{n * n} "
        f"| {rel:.1e} |",
        f"| {today} | ca_i_ss {big}×{big} (engine only) | — | {pps_big:,.0f} | "
        f"{pps_big / pps_cop:,.0f}× | — | {int((status_big == 0).sum())}/{big * big} | — |",
    ]
    section = (
        f"\n## {today} — bench_copasi.py: COPASI steady-state task vs `sweep run` "
        "(Ca²⁺ balance, benchmarks.md items 3/6)\n\n"
        f"Machine: {mach}. COPASI {_copasi_version()} Steady-State task per point through its "
        "Python API (model built with basico from the registry defaults, start 100 nM); "
        "engine: `sweep run` float64 end to end (median of 3 after a warm-up). "
        "Ratios are engine / COPASI points/s in the same run.\n\n"
        "| date | case | COPASI points/s | engine points/s | ratio | COPASI ok | engine status 0 "
        "| max rel diff |\n|---|---|---|---|---|---|---|---|\n" + "\n".join(rows) + "\n"
    )
    with (HERE / "RESULTS.md").open("a", encoding="utf-8") as fh:
        fh.write(section)
    print(f"appended to {HERE / 'RESULTS.md'}")


def _copasi_version() -> str:
    import COPASI

    try:
        return COPASI.CVersion.VERSION.getVersion()
    except Exception:  # older bindings name it differently; the version is informative only
        return "(version unknown)"


if __name__ == "__main__":
    main()
