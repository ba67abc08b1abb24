"""Time courses through the engine: the ``timecourse:`` config, stores with a ``time``
dimension, reductions, shards, and consistency with the steady states and with scipy.

References: the float64 scipy ``solve_ivp`` (Radau, rtol 1e-10) solutions of
tests/reference_models.py (written apart from the kernels); the whole-cell steady
state and ``tau_cell`` of kernels/cell.py (the trajectory must end there).
"""

from __future__ import annotations

import copy
import re
import subprocess
import sys

import jax.numpy as jnp
import numpy as np
import pytest
import xarray as xr
from helpers import assert_identical, one_line
from reference_models import ca_rate, cell_rhs
from scipy.integrate import solve_ivp

import sweep
from kernels import REGISTRY, cell
from kernels.kinetics import NCXParams
from kernels.solvers import Status
from kernels.steady_state import calcium_steady_state
from kernels.timecourse import INPUTS
from sweep.spec import ConfigError, parse_config, spec_from_resolved
from sweep.store import verify_store

DEFAULTS = {**REGISTRY.defaults(), **{i.name: i.default for i in INPUTS}}

# ------------------------------------------------------------------ the whole-cell sweep
#: A Na⁺/K⁺-ATPase step (u_nka 137.5 → 80 or 100 mM/s) with a [K⁺]ₒ step, 2 × 2 points
#: in 2 blocks; with a small [HCO₃⁻]ᵢ the local rate of the pump step alone is
#: 1/tau_cell to 2e-3 by 150–200 s (the approach at the defaults, slower, is tested
#: in tests/test_timecourse.py); tight tolerances so that the late-rate check sees
#: the exponential, not the integration error.
CELL_TIMES = [-1.0, 0.0, 5.0, 30.0, 100.0, 150.0, 200.0, 600.0, 3000.0]
CELL_CONFIG = {
    "name": "tc-engine-cell",
    "parameters": {"hco3_i": "1e-06 mM"},
    "axes": {"u_nka": {"values": ["80 mM/s", "100 mM/s"]}, "k_o": {"values": ["3.5 mM", "5 mM"]}},
    "chunks": {"u_nka": 1},
    "timecourse": {
        "system": "cell",
        "before": {"u_nka": "137.5 mM/s", "k_o": "3.5 mM"},
        "t_end": "3000 s",
        "times": {"values": [f"{t} s" for t in CELL_TIMES]},
        "outputs": ["vm", "na_i", "cl_i", "volume", "mode_ncx"],
        "summaries": ["na_i", "cl_i", "vm", "volume"],
        "flips": ["mode_ncx", {"output": "na_i", "level": "15 mM"}],
        "rtol": 1e-10,
        "atol": 1e-12,
    },
    "outputs": ["vm_cell", "na_i_cell", "cl_i_cell", "volume_cell", "tau_cell"],
    "reduce": [
        {"output": "cl_i_tc", "stats": ["min", "max", "mean"], "over": ["k_o"]},
        {"output": "mode_ncx_tc", "stats": ["fraction_reverse"], "over": ["k_o"]},
        {"output": "na_i_tc_end", "stats": ["mean"], "over": ["u_nka"]},
    ],
}


@pytest.fixture(scope="module")
def cell_run(tmp_path_factory):
    """The sweep run into a store (2 blocks), read back, and the same grid in memory."""
    tmp = tmp_path_factory.mktemp("tc")
    spec = parse_config({**CELL_CONFIG, "store": str(tmp / "cell.zarr")})
    result = sweep.run(spec, overwrite=True, progress=False)
    assert result.complete and result.n_blocks == 2
    ds = xr.open_zarr(spec.store)
    return spec, ds, sweep.evaluate_grid(spec), tmp


def _cell_q(u_nka, k_o):
    return {**DEFAULTS, "hco3_i": 1e-6, "u_nka": float(u_nka), "k_o": float(k_o)}


def _cell_reference(q_point, q_before, ts):
    """scipy Radau (rtol 1e-10) from the kernel's before state: (vm, na_i, cl_i, volume)."""
    st = cell.cell_steady_state(
        cell.CellParams.from_inputs({k: jnp.asarray(v) for k, v in q_before.items()})
    )
    assert int(st.status) == 0
    n0 = np.asarray(cell.amounts(st))
    t_pos = np.clip(ts, 0.0, None)
    sol = solve_ivp(
        lambda t, n: cell_rhs(n, q_point)[0], (0.0, float(ts[-1])), n0, method="Radau",
        rtol=1e-10, atol=1e-12, dense_output=True,
    )  # fmt: skip
    assert sol.success
    out = np.array([cell_rhs(sol.sol(t), q_point)[1:] for t in t_pos])
    out[ts < 0] = [float(st.vm), float(st.na_i), float(st.cl_i), float(st.volume)]
    return out


def test_store_has_a_time_coordinate_and_trailing_time_dims(cell_run):
    spec, ds, _, _ = cell_run
    assert ds["time"].attrs["units"] == "s"
    np.testing.assert_array_equal(ds["time"].values, CELL_TIMES)
    assert ds["cl_i_tc"].dims == ("u_nka", "k_o", "time")
    assert ds["mode_ncx_tc"].dtype == np.int8 and ds["n_steps_tc"].dtype == np.int32
    assert ds["cl_i_tc_t_relax"].dims == ("u_nka", "k_o")
    assert ds["cl_i_tc"].attrs["units"] == "mM" and ds["cl_i_tc_t_peak"].attrs["units"] == "s"
    # time is never chunked: a block holds whole trajectories
    assert ds["cl_i_tc"].encoding["chunks"] == (1, 2, len(CELL_TIMES))
    assert (ds["status_tc"].values == 0).all() and (ds["status_tc_before"].values == 0).all()
    assert (ds["n_steps_tc"].values > 0).all()
    tc = ds.attrs["config"]
    assert '"timecourse"' in tc and spec.resolved["timecourse"]["rtol"] == 1e-10


def test_store_equals_the_in_memory_grid_including_reductions(cell_run):
    _, ds, mem, _ = cell_run
    for name in mem.data_vars:
        np.testing.assert_array_equal(ds[name].values, mem[name].values, err_msg=name)
    # a reduction of a series keeps time
    assert ds["cl_i_tc_mean"].dims == ("u_nka", "time")
    np.testing.assert_allclose(
        ds["cl_i_tc_mean"].values, ds["cl_i_tc"].mean("k_o").values, rtol=1e-14
    )
    np.testing.assert_allclose(
        ds["mode_ncx_tc_fraction_reverse"].values, (ds["mode_ncx_tc"] == -1).mean("k_o").values
    )
    np.testing.assert_allclose(
        ds["na_i_tc_end_mean"].values, ds["na_i_tc_end"].mean("u_nka").values, rtol=1e-14
    )


def test_late_value_is_the_after_steady_state_and_rate_is_one_over_tau_cell(cell_run):
    _, ds, _, _ = cell_run
    for name in ("vm", "na_i", "cl_i", "volume"):
        end = ds[f"{name}_tc"].isel(time=-1).values
        np.testing.assert_allclose(ds[f"{name}_tc_end"].values, end, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(end, ds[f"{name}_cell"].values, rtol=1e-7, atol=1e-7)
    # late exponential approach of [Na⁺]ᵢ between 150 s and 200 s after the pump step
    # alone ([K⁺]ₒ unchanged): rate 1/tau_cell. (With the [K⁺]ₒ step as well the slowest
    # mode is barely excited: the local rate stays 1.04–1.2/tau_cell over 100–300 s.)
    pump = ds.sel(k_o=3.5)
    d = np.abs(pump["na_i_tc"] - pump["na_i_cell"])
    rate = np.log(d.sel(time=150.0) / d.sel(time=200.0)).values / 50.0
    np.testing.assert_allclose(rate, 1.0 / pump["tau_cell"].values, rtol=2e-3)


def test_cell_values_match_solve_ivp(cell_run):
    _, ds, _, _ = cell_run
    ts = np.asarray(CELL_TIMES)
    before = _cell_q(137.5, 3.5)
    for u in ds["u_nka"].values:
        for k in ds["k_o"].values:
            ref = _cell_reference(_cell_q(u, k), before, ts)
            got = ds.sel(u_nka=u, k_o=k)
            np.testing.assert_allclose(got["vm_tc"].values, ref[:, 0], rtol=0, atol=1e-6)
            for j, name in ((1, "na_i"), (2, "cl_i"), (3, "volume")):
                np.testing.assert_allclose(got[f"{name}_tc"].values, ref[:, j], rtol=1e-7)


def test_flip_outputs_and_their_status(cell_run):
    _, ds, _, _ = cell_run
    st = ds["status_na_i_tc_t_flip"].values
    t = ds["na_i_tc_t_flip"].values
    rises = ds["na_i_tc_peak"].values > 15.0  # crossed 15 mM at some time
    assert ((st == 0) == rises).all()
    assert np.isnan(t[st == 1]).all() and (t[st == 0] > 0).all()
    assert set(np.unique(ds["status_mode_ncx_tc_t_flip"].values)) <= {0, 1}


def test_shards_write_the_same_store(cell_run):
    spec, _, _, tmp = cell_run
    path = tmp / "sharded.zarr"
    sweep.init(spec, store=path, overwrite=True)
    for i in range(2):
        sweep.run(spec, store=path, shard=(i, 2), progress=False)
    sweep.run(spec, store=path, resume=True, progress=False)  # finalizes
    assert_identical(spec.store, path)
    # the chunk checksums of blocks with a trailing time dimension verify
    report = verify_store(path)
    assert report["checked"] == 2 and not report["bad"] and not report["unverifiable"]


# ------------------------------------------------------------------ the Ca²⁺ system
CA_TIMES = [-1.0, 0.0, 0.5, 2.0, 5.0, 10.0, 20.0]
CA_CONFIG = {
    "name": "tc-engine-calcium",
    "axes": {
        "vm": {"start": "-90 mV", "stop": "-20 mV"},
        "na_i": {"start": "5 mM", "stop": "30 mM"},
    },
    "design": {"method": "random", "n": 6, "seed": 3},
    "timecourse": {
        "system": "calcium",
        "protocol": "pulse",
        "duration": "5 s",
        "before": {"vm": "-70 mV", "na_i": "12 mM"},
        "t_end": "20 s",
        "times": {"values": [f"{t} s" for t in CA_TIMES]},
        "outputs": ["ca_i", "i_ncx", "mode_ncx"],
        "summaries": ["ca_i"],
        "flips": ["mode_ncx"],
    },
}


def _ca_q(**kw):
    return {**DEFAULTS, **kw}


def _ca_reference(q_point, q_before, ts, duration, t_end):
    qj = {k: jnp.asarray(v) for k, v in q_before.items()}
    r = calcium_steady_state(
        qj["vm"], qj["na_i"], qj["na_o"], qj["ca_o"], qj["temperature"],
        NCXParams.from_inputs(qj), qj["ibar_pmca"], qj["k_pmca"], qj["h_pmca"], qj["g_ca_bg"],
    )  # fmt: skip
    assert int(r.status) == 0
    y, sols = [float(r.ca_i)], []
    for t0, t1, q in ((0.0, duration, q_point), (duration, t_end, q_before)):
        sol = solve_ivp(
            lambda t, c, q=q: [ca_rate(c[0], q)[0]], (t0, t1), y, method="Radau",
            rtol=1e-10, atol=1e-16, dense_output=True,
        )  # fmt: skip
        assert sol.success
        sols.append((t0, t1, sol, q))
        y = [sol.y[0, -1]]
    out = []
    for t in ts:
        if t < 0:
            out.append((float(r.ca_i), ca_rate(float(r.ca_i), q_before)[1]))
            continue
        t0, t1, sol, q = sols[0] if t < duration else sols[1]
        c = float(sol.sol(t)[0])
        out.append((c, ca_rate(c, q)[1]))
    return np.array(out), sols


@pytest.fixture(scope="module")
def ca_grids():
    spec64 = parse_config(CA_CONFIG)
    spec32 = parse_config({**CA_CONFIG, "precision": "float32"})
    return sweep.evaluate_grid(spec64), sweep.evaluate_grid(spec32)


def test_calcium_pulse_on_random_points_matches_solve_ivp(ca_grids):
    ds, _ = ca_grids
    assert ds["ca_i_tc"].dims == ("sample", "time")
    before = _ca_q(vm=-70.0, na_i=12.0)
    ts = np.asarray(CA_TIMES)
    for s in range(ds.sizes["sample"]):
        row = ds.isel(sample=s)
        assert int(row["status_tc"]) == 0
        q = _ca_q(vm=float(row["vm"]), na_i=float(row["na_i"]))
        ref, sols = _ca_reference(q, before, ts, 5.0, 20.0)
        np.testing.assert_allclose(row["ca_i_tc"].values, ref[:, 0], rtol=3e-6)
        np.testing.assert_allclose(row["i_ncx_tc"].values, ref[:, 1], rtol=3e-5, atol=1e-9)
        # the end value and the peak (the farthest from the before value) of the reference
        grid = np.concatenate(
            [np.linspace(0, 5.0, 5001)[:-1], np.linspace(5.0, 20.0, 15001)]
        )  # fmt: skip
        ca = np.array([float((sols[0] if t < 5.0 else sols[1])[2].sol(t)[0]) for t in grid])
        assert float(row["ca_i_tc_end"]) == pytest.approx(ca[-1], rel=3e-6)
        i = int(np.argmax(np.abs(ca - ref[0, 0])))
        assert float(row["ca_i_tc_peak"]) == pytest.approx(ca[i], rel=3e-6)
        assert float(row["ca_i_tc_t_peak"]) == pytest.approx(grid[i], abs=2e-3)


def test_float32_agrees_with_float64_within_stated_tolerances(ca_grids):
    d64, d32 = ca_grids
    assert d32["ca_i_tc"].dtype == np.float32
    assert (d32["status_tc"].values == 0).all()
    # docs/timecourses.md: float32 within 2e-4 (values) and 2e-3 (times) of float64
    np.testing.assert_allclose(d32["ca_i_tc"].values, d64["ca_i_tc"].values, rtol=2e-4)
    np.testing.assert_allclose(d32["ca_i_tc_end"].values, d64["ca_i_tc_end"].values, rtol=2e-4)
    ok = np.isfinite(d64["mode_ncx_tc_t_flip"].values)
    np.testing.assert_array_equal(np.isfinite(d32["mode_ncx_tc_t_flip"].values), ok)
    np.testing.assert_allclose(
        d32["mode_ncx_tc_t_flip"].values[ok], d64["mode_ncx_tc_t_flip"].values[ok], rtol=2e-3,
        atol=1e-4,
    )  # fmt: skip


def test_a_tiny_step_budget_is_visible_in_the_store(tmp_path):
    cfg = copy.deepcopy(CA_CONFIG)
    cfg["timecourse"]["max_steps"] = 3
    cfg["store"] = str(tmp_path / "budget.zarr")
    spec = parse_config(cfg)
    sweep.run(spec, progress=False)
    ds = xr.open_zarr(spec.store)
    assert (ds["status_tc"].values == int(Status.MAX_STEPS_REACHED)).all()
    assert (ds["n_steps_tc"].values <= 3).all()
    assert np.isnan(ds["ca_i_tc_end"].values).all()  # summaries NaN unless status 0
    assert (ds["status_mode_ncx_tc_t_flip"].values == int(Status.MAX_STEPS_REACHED)).all()
    # values before t = 0 are the initial state; late ones were never reached: NaN
    assert np.isfinite(ds["ca_i_tc"].sel(time=-1.0).values).all()
    assert np.isnan(ds["ca_i_tc"].sel(time=20.0).values).all()
    assert (ds["mode_ncx_tc"].sel(time=20.0).values == -128).all()


# ------------------------------------------------------------------ the config contract
def test_resolved_config_rebuilds_and_hashes_the_section():
    spec = parse_config(CELL_CONFIG)
    again = spec_from_resolved(spec.resolved)
    assert again.resolved == spec.resolved and again.config_hash == spec.config_hash
    assert again.outputs == spec.outputs and again.timecourse == spec.timecourse
    other = copy.deepcopy(CELL_CONFIG)
    other["timecourse"]["t_end"] = "3001 s"
    assert parse_config(other).config_hash != spec.config_hash
    tc = parse_config(CA_CONFIG).resolved["timecourse"]
    assert tc["rtol"] == 1e-8 and tc["atol"] == 1e-10 and tc["duration"] == 5.0
    tc32 = parse_config({**CA_CONFIG, "precision": "float32"}).resolved["timecourse"]
    assert (tc32["rtol"], tc32["atol"]) == (1e-5, 1e-7)
    # times in minutes are stored in s; a YAML 1.1 '1e-8' (text) is read as a number
    c = copy.deepcopy(CA_CONFIG)
    c["timecourse"].update(times={"start": "0 min", "stop": "0.25 min", "num": 4}, rtol="1e-7")
    tc = parse_config(c).resolved["timecourse"]
    assert tc["times"] == [0.0, 5.0, 10.0, 15.0] and tc["rtol"] == 1e-7


def test_summaries_only_need_no_times_and_store_no_time_dim():
    c = copy.deepcopy(CA_CONFIG)
    del c["timecourse"]["times"]
    c["timecourse"]["outputs"] = []
    spec = parse_config(c)
    assert spec.times is None and "ca_i_tc" not in spec.outputs
    assert "ca_i_tc_t_relax" in spec.outputs and "status_tc" in spec.outputs


def _tc(**kw):
    c = copy.deepcopy(CELL_CONFIG)
    for k, v in kw.items():
        if v is None:
            c["timecourse"].pop(k, None)
        else:
            c["timecourse"][k] = v
    return c


#: docs/timecourses.md "Validation": each rule, its config and the start of its message.
BAD = {
    "unknown key": (_tc(t_ned="1 s"), r"unknown key in timecourse: 't_ned' \(did you mean 't_end'\?\)"),
    "system": (_tc(system="cel"), r"timecourse.system = 'cel' is not allowed \(did you mean 'cell'\?\)"),
    "protocol": (_tc(protocol="ramp"), r"timecourse.protocol = 'ramp' is not allowed"),
    "pulse needs duration": (_tc(protocol="pulse"), r"timecourse.duration is required with protocol pulse"),
    "duration with step": (_tc(duration="1 s"), r"timecourse.duration = '1 s' is not allowed with protocol step"),
    "duration range": (_tc(protocol="pulse", duration="4000 s"), r"timecourse.duration = '4000 s' is not allowed: must be > 0 s and < t_end"),
    "duration unit": (_tc(protocol="pulse", duration="5 mV"), r"timecourse.duration = '5 mV' has the wrong dimension"),
    "t_end missing": (_tc(t_end=None), r"timecourse.t_end is required"),
    "t_end > 0": (_tc(t_end="0 s"), r"timecourse.t_end = '0 s' is not allowed: must be > 0 s"),
    "t_end unit": (_tc(t_end=600), r"timecourse.t_end = 600 has no unit"),
    "before unknown": (_tc(before={"u_nak": "1 mM/s"}), r"timecourse.before: unknown input 'u_nak' \(did you mean 'u_nka'\?\)"),
    "before state": (_tc(before={"cl_i": "10 mM"}), r"timecourse.before.cl_i is not allowed: cl_i is a state of system cell"),
    "before range": (_tc(before={"u_nka": "-1 mM/s"}), r"timecourse.before.u_nka = '-1 mM/s' is not allowed: must be >= 0"),
    "times after t_end": (_tc(times={"values": ["1 s", "4000 s"]}), r"timecourse.times: the last time 4000 s is after t_end"),
    "times order": (_tc(times={"values": ["2 s", "1 s"]}), r"timecourse.times must be strictly increasing"),
    "times missing": (_tc(times=None), r"timecourse.times is required with timecourse.outputs"),
    "times key": (_tc(times={"start": "0 s", "stop": "1 s", "nmu": 3}), r"unknown key in timecourse.times: 'nmu' \(did you mean 'num'\?\)"),
    "output name": (_tc(outputs=["cl"]), r"timecourse.outputs\[0\] = 'cl' is not an output of system 'cell'"),
    "summary code": (_tc(summaries=["mode_ncx"]), r"timecourse.summaries\[0\] = 'mode_ncx' is not allowed: it is a code; summarise its source 'dG_ncx'"),
    "flip needs level": (_tc(flips=["cl_i"]), r"timecourse.flips\[0\] = 'cl_i' is not allowed: a continuous output needs a level"),
    "flip level unit": (_tc(flips=[{"output": "cl_i", "level": "10 mV"}]), r"timecourse.flips\[0\].level = '10 mV' has the wrong dimension"),
    "flip twice": (_tc(flips=["mode_ncx", "mode_ncx"]), r"timecourse.flips\[1\]: 'mode_ncx' is timed twice"),
    "rtol": (_tc(rtol=2), r"timecourse.rtol = 2 is not allowed: must be a number in \(0, 1\)"),
    "max_steps": (_tc(max_steps=0), r"timecourse.max_steps = 0 is not allowed: must be an integer in \[1,"),
    "grid_points": (_tc(grid_points=2), r"timecourse.grid_points = 2 is not allowed: must be an integer in \[3,"),
    "solver": (_tc(solver="kvaerno6"), r"timecourse.solver = 'kvaerno6' is not allowed \(did you mean 'kvaerno5'\?\)"),
    "fixed_steps": (_tc(fixed_steps=10**6), r"timecourse.fixed_steps = 1000000 is not allowed: must be an integer in \[1, 4,096\]"),
    "section type": ({**CELL_CONFIG, "timecourse": ["cell"]}, r"timecourse = \['cell'\] is not allowed: a mapping"),
    "axis is a state": ({**CELL_CONFIG, "axes": {"cl_i": {"values": ["5 mM"]}}, "chunks": {}}, r"axes.cl_i is not allowed with timecourse.system cell: cl_i is a state"),
    "series in outputs": ({**CELL_CONFIG, "outputs": ["cl_i_tc"]}, r"outputs: 'cl_i_tc' is a time-course variable"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(BAD))
def test_bad_timecourse_configs_are_refused_in_one_line(case):
    cfg, pattern = BAD[case]
    with pytest.raises(ConfigError) as err:
        parse_config(cfg)
    msg = str(err.value)
    assert one_line(msg) == msg
    assert re.match(pattern, msg), msg


def test_shipped_timecourse_configs_validate_and_plan(tmp_path):
    for name in ("tc_chloride_recovery", "tc_ischemia"):
        out = subprocess.run(
            [sys.executable, "-m", "sweep.cli", "plan", f"configs/{name}.yaml"],
            capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        assert out.returncode == 0, out.stderr
        assert "timecourse cell:" in out.stdout and "status_tc" in out.stdout
        assert "time=" in out.stdout


# ------------------------------------------------ analyses consume time-course outputs
#: A Ca²⁺ step from (-70 mV, 12 mM) to each grid point, 20 s: the summaries are
#: smooth functions of the inputs, so the engine's analyses apply to them as-is.
CA_GRID_CONFIG = {
    "name": "tc-analysis-calcium",
    "axes": {
        "vm": {"start": "-90 mV", "stop": "-30 mV", "num": 4},
        "na_i": {"values": ["12 mM", "25 mM"]},
    },
    "timecourse": {
        "system": "calcium",
        "before": {"vm": "-70 mV", "na_i": "12 mM"},
        "t_end": "20 s",
        "times": {"values": ["0 s", "20 s"]},
        "summaries": ["ca_i"],
    },
}


def _ca_end(vm: float, na_i: float) -> float:
    """ca_i_tc_end at one point, through the engine (its own single-point sweep)."""
    cfg = copy.deepcopy(CA_GRID_CONFIG)
    cfg["axes"] = {"vm": {"values": [f"{vm!r} mV"]}, "na_i": {"values": [f"{na_i!r} mM"]}}
    ds = sweep.evaluate_grid(parse_config(cfg))
    assert int(ds["status_tc"].values.ravel()[0]) == 0
    return float(ds["ca_i_tc_end"].values.ravel()[0])


def test_local_sensitivity_of_a_time_course_summary_matches_finite_differences():
    """d ln ca_i_tc_end / d vm by autodiff through the integrator equals a central
    difference of the engine's own values (h = 1e-3 mV; agreement to 1e-5 relative:
    the difference's truncation error ~h², the solver's rtol 1e-8 divided by 2h)."""
    spec = parse_config(CA_GRID_CONFIG)
    sens = sweep.local_sensitivity(spec, wrt="vm", outputs=["ca_i_tc_end"])
    d = sens["sens_ca_i_tc_end"].sel(wrt="vm")
    h = 1e-3
    for vm in (-90.0, -50.0):
        for na in (12.0, 25.0):
            fd = (np.log(_ca_end(vm + h, na)) - np.log(_ca_end(vm - h, na))) / (2 * h)
            got = float(d.sel(vm=vm, na_i=na, method="nearest"))
            assert got == pytest.approx(fd, rel=1e-5), (vm, na)
    with pytest.raises(ConfigError, match="reverse mode"):
        sweep.local_sensitivity(spec, wrt="vm", outputs=["ca_i_tc_end"], jacobian="forward")


def test_boundary_along_a_time_course_summary_is_where_the_summary_reaches_the_level():
    """The crossing of ca_i_tc_end = level along vm lies between the grid points where
    the stored summary changes sides, and the summary at the crossing equals the level
    (1e-6 relative: the refinement's tolerance on a smooth output)."""
    spec = parse_config(CA_GRID_CONFIG)
    grid = sweep.evaluate_grid(spec)["ca_i_tc_end"]
    level = float(np.sqrt(grid.min() * grid.max()))  # a level the grid must cross
    res = sweep.boundary_along(spec, "ca_i_tc_end", "vm", level=level)
    ds = res.dataset
    crossings = ds["boundary_vm"]
    found = 0
    for na in (12.0, 25.0):
        col = grid.sel(na_i=na, method="nearest").values
        side = np.sign(col - level)
        xs = crossings.sel(na_i=na, method="nearest").values.ravel()
        xs = xs[np.isfinite(xs)]
        assert len(xs) == int(np.sum(side[1:] != side[:-1])), (na, xs, col)
        for x in xs:
            assert _ca_end(float(x), na) == pytest.approx(level, rel=1e-6)
            found += 1
    assert found >= 1
