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


# ------------------------------------------------------------------ whole cell
KO, UNKA = (2.0, 12.0), (40.0, 200.0)


def build_copasi_cell_model():
    """The pump–leak neuron (cubic pump) as a COPASI model; returns (datamodel, {name: CModelValue}).

    An independent formulation of kernels.cell: two ODE quantities a = ln n_Na,
    b = ln n_K (amounts per reference volume); [Cl⁻]ᵢ from electroneutrality
    (n_Na + n_K − n_Cl − [HCO₃⁻]ᵢ·w + z·x = 0) and the volume from the osmotic
    balance, which together give w = (2(n_Na + n_K) + (1 + z)·x)/osm_o; V_m from
    zero net membrane current. On this charge-neutral slice the steady state is
    isolated (the full three-amount system has a conserved charge, hence a
    singular Jacobian). Numbers are the registry defaults.
    """
    import basico
    import jax.numpy as jnp

    from kernels import REGISTRY
    from kernels.cell import CellParams
    from kernels.constants import F, R

    d = REGISTRY.defaults()
    q = CellParams.from_inputs({k: jnp.asarray(v) for k, v in d.items()})
    r = float(q.r)
    basico.new_model(name="pump_leak_cell")
    pars = {
        "rt_f": R * d["temperature"] / F * 1e3,
        "na_o": d["na_o"],
        "k_o": d["k_o"],
        "cl_o": d["cl_o"],
        "hco3_i": d["hco3_i"],
        "hco3_o": d["hco3_o"],
        "g_na": d["g_na"],
        "g_k": d["g_k"],
        "g_c": d["g_cl"] + d["g_gaba"] / (1 + r),
        "g_h": d["g_gaba"] * r / (1 + r),
        "gamma": d["gamma"],
        "u_nka": d["u_nka"],
        "z": d["z_x"],
        "osm_o": d["osm_o"],
        "x": d["x_i_ref"],
        "u_k": float(q.u_k),  # KCC2/NKCC1 capacities after phosphorylation and drugs
        "u_n": float(q.u_n),
    }
    for k, val in pars.items():
        basico.add_parameter(k, initial_value=float(val))
    basico.add_parameter("a", type="ode", expression="0", initial_value=math.log(12.0))
    basico.add_parameter("b", type="ode", expression="0", initial_value=math.log(126.0))

    def v(n: str) -> str:
        return f"Values[{n}]"

    nna, nk = "exp(Values[a])", "exp(Values[b])"
    rules = [
        ("w", f"(2*({nna}+{nk})+(1+{v('z')})*{v('x')})/{v('osm_o')}"),
        ("na", f"{nna}/{v('w')}"),
        ("k", f"{nk}/{v('w')}"),
        ("cl", f"({nna}+{nk}-{v('hco3_i')}*{v('w')}+{v('z')}*{v('x')})/{v('w')}"),
        ("e_na", f"{v('rt_f')}*log({v('na_o')}/{v('na')})"),
        ("e_k", f"{v('rt_f')}*log({v('k_o')}/{v('k')})"),
        ("e_cl", f"{v('rt_f')}*log({v('cl')}/{v('cl_o')})"),
        ("e_h", f"{v('rt_f')}*log({v('hco3_i')}/{v('hco3_o')})"),
        ("j", f"{v('u_nka')}*({v('na')}/{v('na_o')})^3"),
        (
            "vm",
            f"({v('g_na')}*{v('e_na')}+{v('g_k')}*{v('e_k')}+{v('g_c')}*{v('e_cl')}"
            f"+{v('g_h')}*{v('e_h')}-{v('j')}/{v('gamma')})"
            f"/({v('g_na')}+{v('g_k')}+{v('g_c')}+{v('g_h')})",
        ),
        ("jk", f"{v('u_k')}*log({v('k')}*{v('cl')}/({v('k_o')}*{v('cl_o')}))"),
        (
            "jn",
            f"{v('u_n')}*log({v('na_o')}*{v('k_o')}*{v('cl_o')}^2"
            f"/({v('na')}*{v('k')}*{v('cl')}^2))",
        ),
    ]
    vm, gam = v("vm"), v("gamma")
    rules += [
        (
            "r_na",
            f"-{gam}*{v('g_na')}*({vm}-{v('e_na')})-3*{v('j')}+{v('jn')}"
            f"-{gam}*{v('g_h')}*({vm}-{v('e_h')})",
        ),
        ("r_k", f"-{gam}*{v('g_k')}*({vm}-{v('e_k')})+2*{v('j')}-{v('jk')}+{v('jn')}"),
    ]
    for name, expr in rules:
        basico.add_parameter(name, type="assignment", expression=expr)
    h, o = v("hco3_i"), v("osm_o")
    # d n_Na/dt = r_Na + [HCO3]_i dw/dt (clamped HCO3, NHE1), dw/dt = 2(dn_Na + dn_K)/osm_o
    dn_na = f"(({v('r_na')}+2*{h}*{v('r_k')}/{o})/(1-2*{h}/{o}))"
    basico.set_parameters("a", expression=f"{dn_na}/{nna}")
    basico.set_parameters("b", expression=f"{v('r_k')}/{nk}")
    dm = basico.get_current_model()
    model = dm.getModel()
    return dm, {n: model.getModelValue(n) for n in ("k_o", "u_nka", "a", "b", "na", "vm")}


def copasi_cell_loop(kos: np.ndarray, unkas: np.ndarray) -> tuple[dict, np.ndarray, float]:
    """[Na⁺]ᵢ (mM), V_m (mV) and success flags per point, and the wall time of the loop."""
    import COPASI

    dm, mv = build_copasi_cell_model()
    model, task = dm.getModel(), dm.getTask("Steady-State")
    na = np.full((len(kos), len(unkas)), np.nan)
    vm = np.full_like(na, np.nan)
    ok = np.zeros(na.shape, bool)
    a0, b0 = math.log(12.0), math.log(126.0)  # start: the default rest state
    t0 = time.perf_counter()
    for i, ko in enumerate(kos):
        for j, u in enumerate(unkas):
            mv["k_o"].setInitialValue(float(ko))
            mv["u_nka"].setInitialValue(float(u))
            mv["a"].setInitialValue(a0)
            mv["b"].setInitialValue(b0)
            model.updateInitialValues(COPASI.CCore.Framework_Concentration)
            done = task.initializeRaw(COPASI.CCopasiTask.NO_OUTPUT) and task.processRaw(True)
            ok[i, j] = bool(done)
            na[i, j] = mv["na"].getValue()
            vm[i, j] = mv["vm"].getValue()
    return {"na_i_cell": na, "vm_cell": vm}, ok, time.perf_counter() - t0


def engine_cell_config(n: int, store: Path) -> dict:
    return {
        "name": "bench-copasi-cell",
        "precision": "float64",
        "axes": {
            "k_o": {"start": f"{KO[0]} mM", "stop": f"{KO[1]} mM", "num": n},
            "u_nka": {"start": f"{UNKA[0]} mM/s", "stop": f"{UNKA[1]} mM/s", "num": n},
        },
        "outputs": ["na_i_cell", "vm_cell"],
        "store": str(store),
    }


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


def engine_run(
    n: int, tmp: Path, repeats: int = 3, *, case: str = "calcium"
) -> tuple[dict[str, np.ndarray], np.ndarray, float]:
    """``sweep run`` end to end (median of repeats after a warm-up): outputs, status, seconds."""
    import xarray as xr

    import sweep

    config, names, status = {
        "calcium": (engine_config, ("ca_i_ss",), "status_ca_i_ss"),
        "cell": (engine_cell_config, ("na_i_cell", "vm_cell"), "status_cell"),
    }[case]
    store = tmp / f"engine-{case}-{n}.zarr"
    sweep.run(sweep.parse_config(config(n, store)), overwrite=True, progress=False)  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        sweep.run(sweep.parse_config(config(n, store)), overwrite=True, progress=False)
        times.append(time.perf_counter() - t0)
    ds = xr.open_zarr(store)
    return {k: ds[k].values for k in names}, ds[status].values, statistics.median(times)


def compare(
    case: str, label: str, n: int, big: int, tmp: Path
) -> tuple[list[str], dict[str, float]]:
    """One case side by side: printed lines and RESULTS.md rows."""
    if case == "calcium":
        ref, ok, t_cop = copasi_loop(np.linspace(*VM, n), np.linspace(*NA, n))
        ref = {"ca_i_ss": ref}
    else:
        ref, ok, t_cop = copasi_cell_loop(np.linspace(*KO, n), np.linspace(*UNKA, n))
    pps_cop = n * n / t_cop
    print(
        f"[{case}] COPASI steady-state task per point, {n}x{n}: {t_cop:.2f} s -> "
        f"{pps_cop:,.0f} points/s"
    )
    out, status, t_eng = engine_run(n, tmp, case=case)
    pps_eng = n * n / t_eng
    print(f"[{case}] sweep run {n}x{n} end to end: {t_eng:.3f} s -> {pps_eng:,.0f} points/s")
    _, status_big, t_big = engine_run(big, tmp, repeats=1, case=case)
    pps_big = big * big / t_big
    print(f"[{case}] sweep run {big}x{big} end to end: {t_big:.2f} s -> {pps_big:,.0f} points/s")
    both = ok & (status == 0)
    diffs = {}
    for k, r in ref.items():
        e = out[k]
        if k.startswith("vm"):  # a potential: absolute difference, mV
            diffs[k] = float(np.max(np.abs(e[both] - r[both]))) if both.any() else float("nan")
        else:
            diffs[k] = (
                float(np.max(np.abs(e[both] / r[both] - 1.0))) if both.any() else float("nan")
            )
    agree = "; ".join(
        f"{k} {'max abs diff' if k.startswith('vm') else 'max rel diff'} {v:.1e}"
        + (" mV" if k.startswith("vm") else "")
        for k, v in diffs.items()
    )
    print(
        f"[{case}] agreement: COPASI ok {int(ok.sum())}/{n * n}, engine status 0 "
        f"{int((status == 0).sum())}/{n * n}; {agree} on {int(both.sum())} common points"
    )
    print(
        f"[{case}] ratio (same {n}x{n} grid): {pps_eng / pps_cop:,.0f}x; "
        f"at {big}x{big}: {pps_big / pps_cop:,.0f}x"
    )
    today = dt.date.today().isoformat()
    rows = [
        f"| {today} | {label} {n}×{n} | {pps_cop:,.0f} | {pps_eng:,.0f} | "
        f"{pps_eng / pps_cop:,.0f}× | {int(ok.sum())}/{n * n} | {int((status == 0).sum())}/{n * n} "
        f"| {agree} |",
        f"| {today} | {label} {big}×{big} (engine only) | — | {pps_big:,.0f} | "
        f"{pps_big / pps_cop:,.0f}× | — | {int((status_big == 0).sum())}/{big * big} | — |",
    ]
    return rows, diffs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--case",
        choices=("calcium", "cell", "both"),
        default="both",
        help="the Ca²⁺ balance, the whole cell, or both (default)",
    )
    ap.add_argument("--n", type=int, default=60, help="grid points per axis for both sides")
    ap.add_argument("--n-engine", type=int, default=1000, help="larger grid, engine only")
    ap.add_argument("--no-record", action="store_true", help="do not append to RESULTS.md")
    args = ap.parse_args()
    mach = machine()
    print(f"machine: {mach}")
    cases = ("calcium", "cell") if args.case == "both" else (args.case,)
    labels = {
        "calcium": "ca_i_ss (V_m × [Na⁺]ᵢ)",
        "cell": "whole cell na_i_cell, vm_cell ([K⁺]ₒ × u_nka)",
    }
    rows: list[str] = []
    with tempfile.TemporaryDirectory() as d:
        for case in cases:
            rows += compare(case, labels[case], args.n, args.n_engine, Path(d))[0]
    if args.no_record:
        return
    today = dt.date.today().isoformat()
    section = (
        f"\n## {today} — bench_copasi.py: COPASI steady-state task vs `sweep run` "
        f"({', '.join(cases)}; benchmarks.md items 3/6)\n\n"
        f"Machine: {mach}. COPASI {_copasi_version()} Steady-State task per point through its "
        "Python API (models built with basico from the registry defaults; Ca²⁺ start 100 nM, "
        "whole cell start at the default rest state; the whole cell as an independent "
        "2-ODE formulation on the charge-neutral slice); engine: `sweep run` float64 end to "
        "end (median of 3 after a warm-up). Ratios are engine / COPASI points/s in the same "
        "run.\n\n"
        "| date | case | COPASI points/s | engine points/s | ratio | COPASI ok | engine status 0 "
        "| agreement |\n|---|---|---|---|---|---|---|---|\n" + "\n".join(rows) + "\n"
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
