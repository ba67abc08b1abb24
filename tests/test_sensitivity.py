"""Sensitivity analysis: local autodiff against finite differences and closed forms,
global Sobol'/Morris indices against analytic answers, the CLI end to end.

References: Ishigami & Homma (1990); Saltelli et al. (2010) Comput Phys Commun
181:259 (Sobol' estimators); SALib.test_functions.Ishigami (its analytic indices).
"""

from __future__ import annotations

import math
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import xarray as xr
from helpers import failing_blocks, one_line

from kernels.constants import F, R
from kernels.registry import REGISTRY
from sweep import (
    UnusableOutputError,
    analyze,
    evaluate_function,
    global_problem,
    global_sensitivity,
    local_sensitivity,
    sample,
)
from sweep.analysis.global_sensitivity import check_finite
from sweep.cli import main
from sweep.spec import ConfigError, load_spec, parse_config

ROOT = Path(__file__).resolve().parent.parent
KCC2_CONFIG = ROOT / "configs" / "sensitivity_kcc2.yaml"
LOCAL_CONFIG = ROOT / "configs" / "sensitivity_local.yaml"


def rt_f_mv(temperature: float = 310.0) -> float:
    """RT/F in mV."""
    return R * temperature / F * 1e3


# --- finite differences (the independent reference) ----------------------------
_FD_FNS: dict[tuple[str, ...], object] = {}


def _point_fn(outputs: tuple[str, ...]):
    if outputs not in _FD_FNS:
        _FD_FNS[outputs] = jax.jit(jax.vmap(lambda p: REGISTRY.evaluate(p, outputs)))
    return _FD_FNS[outputs]


def central_differences(spec, outputs, wrt, h: float = 1e-6) -> dict[str, np.ndarray]:
    """Central differences of ``outputs`` at every grid point of ``spec``, as elasticities.

    X = ln x for concentration inputs (step x·e^{±h}), else x ± h·|x| (h at x = 0);
    Y = ln y for concentration outputs. Returns output -> (wrt, n_points).
    """
    grids = np.meshgrid(*[a.values for a in spec.axes], indexing="ij")
    n = grids[0].size
    base = {k: np.full(n, v) for k, v in spec.parameters.items()}
    base.update({a.name: g.ravel() for a, g in zip(spec.axes, grids, strict=True)})
    outs = tuple(outputs)
    f = _point_fn(outs)
    res = {o: np.empty((len(wrt), n)) for o in outs}
    for i, w in enumerate(wrt):
        x = base[w]
        if REGISTRY.inputs[w].concentration:
            up, down, dx = x * math.exp(h), x * math.exp(-h), 2 * h
        else:
            step = h * np.where(x != 0, np.abs(x), 1.0)
            up, down, dx = x + step, x - step, 2 * step
        yu = f({k: jnp.asarray(v) for k, v in {**base, w: up}.items()})
        yd = f({k: jnp.asarray(v) for k, v in {**base, w: down}.items()})
        for o in outs:
            a, b = np.asarray(yu[o]), np.asarray(yd[o])
            if REGISTRY.outputs[o].concentration:
                a, b = np.log(a), np.log(b)
            res[o][i] = (a - b) / dx
    return res


def random_grid(rng: np.random.Generator, axes: dict[str, tuple[float, float, bool]], k: int):
    """Explicit-values axes at ``k`` random points each (log-uniform where asked)."""
    out = {}
    for name, (lo, hi, log) in axes.items():
        u = np.sort(rng.random(k))
        v = np.exp(np.log(lo) + u * np.log(hi / lo)) if log else lo + u * (hi - lo)
        out[name] = {"values": [float(x) for x in v]}
    return out


def assert_matches_fd(ds, spec, outputs, wrt, *, rtol, h=1e-6, mask=None):
    fd = central_differences(spec, outputs, wrt, h=h)
    for o in outputs:
        got = ds[f"sens_{o}"].values.reshape(len(wrt), -1)
        want = fd[o]
        keep = np.ones(got.shape[1], bool) if mask is None else mask
        y = np.abs(ds[o].values.ravel()[keep])
        scale = max(1.0, float(np.max(y))) if not REGISTRY.outputs[o].concentration else 1.0
        for i, w in enumerate(wrt):
            np.testing.assert_allclose(
                got[i, keep],
                want[i, keep],
                rtol=rtol,
                atol=rtol * scale,
                err_msg=f"d {o} / d {w}",
            )


# --- local ---------------------------------------------------------------------
def test_analytic_e_cl_elasticity_sign():
    """E_Cl = (RT/zF) ln(Cl_o/Cl_i), z = −1 → ∂E_Cl/∂ln Cl_i = +RT/F, ∂/∂ln Cl_o = −RT/F."""
    spec = parse_config(
        {
            "name": "ecl",
            "axes": {
                "cl_i": {"start": "2 mM", "stop": "40 mM", "num": 5, "spacing": "log"},
                "temperature": {"values": ["300 K", "310 K"]},
            },
            "outputs": ["e_cl", "cl_i_eq_kcc2"],
        }
    )
    ds = local_sensitivity(spec, "cl_i,cl_o,temperature,k_o")
    s = ds["sens_e_cl"]
    assert s.dims == ("wrt", "cl_i", "temperature")
    T = ds["temperature"].values
    expect = np.broadcast_to(R * T / F * 1e3, (5, 2))
    np.testing.assert_allclose(s.sel(wrt="cl_i").values, expect, rtol=1e-13)
    np.testing.assert_allclose(s.sel(wrt="cl_o").values, -expect, rtol=1e-13)
    assert np.all(s.sel(wrt="cl_i").values > 0)  # more Cl⁻ inside: E_Cl depolarises
    # raw derivative along temperature: ∂E_Cl/∂T = E_Cl / T (mV/K)
    np.testing.assert_allclose(
        s.sel(wrt="temperature").values, ds["e_cl"].values / T[None, :], rtol=1e-12
    )
    assert np.all(s.sel(wrt="k_o").values == 0)
    # concentration output: ∂ln(K_o Cl_o/K_i)/∂ln K_o = 1, no dependence on Cl_i
    eq = ds["sens_cl_i_eq_kcc2"]
    np.testing.assert_allclose(eq.sel(wrt="k_o").values, 1.0, rtol=1e-14)
    np.testing.assert_allclose(eq.sel(wrt="cl_o").values, 1.0, rtol=1e-14)
    assert np.all(eq.sel(wrt="cl_i").values == 0)
    assert list(ds["wrt_units"].values) == ["", "", "K", ""]
    assert list(ds["wrt_scale"].values) == ["log", "log", "linear", "log"]
    # one stacked variable, derivatives in mV (per ln x) and mV/K: no single 'units' (a
    # wrong one would be read by pint-xarray and plots); each derivative's is in units_by_wrt
    assert "units" not in s.attrs
    assert s.attrs["units_by_wrt"] == {
        "cl_i": "mV",
        "cl_o": "mV",
        "temperature": "mV/K",
        "k_o": "mV",
    }
    assert "units" not in eq.attrs  # d ln y / d ln x and d ln y / dT: "" and 1/K
    eq_by = eq.attrs["units_by_wrt"]
    assert eq_by == {"cl_i": "", "cl_o": "", "temperature": "1/K", "k_o": ""}
    assert eq.attrs["output_scale"] == "log"
    assert "config" in ds.attrs


def test_local_matches_central_differences_thermodynamics():
    rng = np.random.default_rng(7)
    axes = random_grid(rng, {"vm": (-100.0, 30.0, False), "na_i": (5.0, 40.0, True)}, 3)
    axes["vm"]["values"] = [f"{v} mV" for v in axes["vm"]["values"]]
    axes["na_i"]["values"] = [f"{v} mM" for v in axes["na_i"]["values"]]
    outputs = [
        "dG_ncx",
        "v_rev_ncx",
        "e_gaba",
        "df_gaba",
        "cl_i_eq_nkcc1",
        "dG_nka",
        "i_ncx",
        "j_nkcc1",
    ]
    spec = parse_config(
        {
            "name": "fd-thermo",
            "parameters": {"ca_i": f"{rng.uniform(50, 500):.4f} nM", "p_hco3_cl": 0.3},
            "axes": axes,
            "outputs": outputs,
        }
    )
    wrt = ["vm", "na_i", "ca_i", "cl_i", "temperature", "p_hco3_cl", "k_o", "dG_atp"]
    ds = local_sensitivity(spec, wrt)
    assert '"jacobian": "forward"' in ds.attrs["sensitivity"]  # 8 inputs, 8 outputs
    assert_matches_fd(ds, spec, outputs, wrt, rtol=1e-6)
    # the two autodiff modes agree
    rev = local_sensitivity(spec, wrt, jacobian="reverse")
    for o in outputs:
        np.testing.assert_allclose(rev[f"sens_{o}"], ds[f"sens_{o}"], rtol=1e-12, atol=1e-12)


def test_local_matches_central_differences_chloride_steady_state():
    if "cl_i_ss" not in REGISTRY.outputs:
        pytest.skip("cl_i_ss is not in the registry yet (kernels/steady_state.py in progress)")
    rng = np.random.default_rng(11)
    axes = random_grid(rng, {"k_o": (2.5, 10.0, True), "p_kcc2": (0.05, 0.95, False)}, 3)
    axes["k_o"]["values"] = [f"{v} mM" for v in axes["k_o"]["values"]]
    outputs = ["cl_i_ss", "e_gaba_ss"]
    spec = parse_config(
        {
            "name": "fd-cl",
            "parameters": {"vm": "-65 mV", "p_nkcc1": 0.3},
            "axes": axes,
            "outputs": outputs,
        }
    )
    wrt = ["k_o", "p_kcc2", "vm", "na_i", "cl_o", "g_cl", "u_nkcc1", "p_hco3_cl"]
    ds = local_sensitivity(spec, wrt)
    assert np.all(ds["status_cl_i_ss"].values == 0)
    assert_matches_fd(ds, spec, outputs, wrt, rtol=1e-5, h=1e-5)
    # reverse mode through the solver's implicit derivative agrees with forward mode
    rev = local_sensitivity(spec, wrt, jacobian="reverse")
    for o in outputs:
        np.testing.assert_allclose(rev[f"sens_{o}"], ds[f"sens_{o}"], rtol=1e-10, atol=1e-12)
    # the closed form of physics.md: ∂ln Cl_i,ss / ∂ln Cl_o = 1 (E_Cl,ss is independent of Cl_o)
    np.testing.assert_allclose(ds["sens_cl_i_ss"].sel(wrt="cl_o"), 1.0, rtol=1e-9)


def test_local_matches_central_differences_calcium_steady_state():
    if "ca_i_ss" not in REGISTRY.outputs:
        pytest.skip("ca_i_ss is not in the registry yet (kernels/steady_state.py in progress)")
    rng = np.random.default_rng(5)
    axes = random_grid(rng, {"vm": (-85.0, -55.0, False), "na_i": (6.0, 14.0, True)}, 2)
    axes["vm"]["values"] = [f"{v} mV" for v in axes["vm"]["values"]]
    axes["na_i"]["values"] = [f"{v} mM" for v in axes["na_i"]["values"]]
    spec = parse_config({"name": "fd-ca", "axes": axes, "outputs": ["ca_i_ss"]})
    wrt = ["vm", "na_i", "ca_o", "ibar_pmca", "k_pmca", "g_ca_bg"]
    ds = local_sensitivity(spec, wrt)
    assert np.all(ds["status_ca_i_ss"].values == 0)
    assert_matches_fd(ds, spec, ["ca_i_ss"], wrt, rtol=1e-5, h=1e-5)


def test_local_store_chunking_and_schedulers_identical(tmp_path):
    spec = load_spec(LOCAL_CONFIG)
    wrt = "k_o,p_kcc2,vm"
    mem = local_sensitivity(spec, wrt, outputs=["e_cl", "dG_ncx"], block_points=2**20)
    stored = local_sensitivity(
        spec,
        wrt,
        outputs=["e_cl", "dG_ncx"],
        store=tmp_path / "s.zarr",
        block_points=20,
        scheduler="synchronous",
    )
    assert stored.attrs["block_shape"] != mem.attrs["block_shape"]
    for name in mem.variables:
        a, b = mem[name].values, stored[name].values
        assert a.dtype == b.dtype, name
        assert np.array_equal(a, b), name
    assert xr.open_zarr(tmp_path / "s.zarr")["sens_e_cl"].dims == ("wrt", "k_o", "p_kcc2")


def test_local_on_a_sampled_design():
    spec = load_spec(KCC2_CONFIG, design={"method": "random", "n": 50, "seed": 3})
    ds = local_sensitivity(spec, outputs=["dG_kcc2"])  # wrt defaults to the axes
    s = ds["sens_dG_kcc2"]
    assert s.dims == ("wrt", "sample")
    rt = R * 310.0 * 1e-3  # kJ/mol: ΔG = RT[ln K_o + ln Cl_o − ln K_i − ln Cl_i]
    expect = {"k_o": rt, "k_i": -rt, "cl_o": rt, "cl_i": -rt}
    for w, v in expect.items():
        np.testing.assert_allclose(s.sel(wrt=w).values, v, rtol=1e-13)


def test_int8_output_refused():
    spec = load_spec(LOCAL_CONFIG)
    with pytest.raises(ConfigError, match="mode_ncx.*int8"):
        local_sensitivity(spec, "vm", outputs=["mode_ncx"])
    with pytest.raises(ConfigError, match="unknown input 'k_0'.*k_o"):
        local_sensitivity(spec, "k_0")


# --- global --------------------------------------------------------------------
def _log_widths(spec) -> dict[str, float]:
    return {a.name: math.log(a.stop / a.start) for a in spec.axes}


def test_sobol_additive_in_log_inputs_is_analytic():
    """ΔG_KCC2 = RT[ln K_o + ln Cl_o − ln K_i − ln Cl_i]: S1 = ST = w_i² / Σ w²."""
    spec = load_spec(KCC2_CONFIG)
    ds = global_sensitivity(spec, "sobol", n=1024, seed=0, outputs=["dG_kcc2"])
    w = _log_widths(spec)
    total = sum(v**2 for v in w.values())
    exact = np.array([w[str(i)] ** 2 / total for i in ds["input"].values])
    for key in ("S1", "ST"):
        est = ds[key].sel(output="dG_kcc2").values
        conf = ds[f"{key}_conf"].sel(output="dG_kcc2").values
        # inside the bootstrap interval, or within 0.01 where the interval is tiny
        assert np.all(np.abs(est - exact) <= np.maximum(conf, 0.01)), (key, est, exact, conf)
    assert ds.attrs["method"] == "sobol" and ds.attrs["n_evaluations"] == 1024 * 6
    assert list(ds["input_scale"].values) == ["log"] * 4
    # same seed, same answer (bootstrap included, seed 0 included)
    again = global_sensitivity(spec, "sobol", n=1024, seed=0, outputs=["dG_kcc2"])
    assert np.array_equal(again["S1_conf"].values, ds["S1_conf"].values)


def test_morris_additive_in_log_inputs_is_analytic():
    """Linear in ln x: every elementary effect is RT·(±1)·width, so μ* = RT·w_i, σ = 0."""
    spec = load_spec(KCC2_CONFIG)
    ds = global_sensitivity(spec, "morris", n=16, seed=2, outputs=["dG_kcc2"])
    w = _log_widths(spec)
    rt = R * 310.0 * 1e-3
    got = ds["mu_star"].sel(output="dG_kcc2")
    for name in w:
        assert float(got.sel(input=name)) == pytest.approx(rt * w[name], rel=1e-9)
    assert np.all(np.abs(ds["sigma"].values) < 1e-9)
    sign = {"k_o": 1, "cl_o": 1, "k_i": -1, "cl_i": -1}
    for name, s in sign.items():
        assert np.sign(float(ds["mu"].sel(output="dG_kcc2", input=name))) == s


def test_ishigami_through_the_same_analysis_path():
    from SALib.test_functions import Ishigami

    problem = {"num_vars": 3, "names": ["x1", "x2", "x3"], "bounds": [[-math.pi, math.pi]] * 3}

    def ishigami(x1, x2, x3, a=7.0, b=0.1):
        return jnp.sin(x1) + a * jnp.sin(x2) ** 2 + b * x3**4 * jnp.sin(x1)

    X = sample(problem, "sobol", 2**12, seed=1)
    Y = evaluate_function(ishigami, X, chunk=5000)
    np.testing.assert_allclose(Y, Ishigami.evaluate(X), rtol=1e-12, atol=1e-12)
    ds = analyze(problem, X, {"ishigami": Y}, "sobol", seed=1)
    s1 = ds["S1"].sel(output="ishigami").values
    st = ds["ST"].sel(output="ishigami").values
    # analytic (A = 7, B = 0.1): S1 = 0.3139, 0.4424, 0; ST = 0.5576, 0.4424, 0.2437
    np.testing.assert_allclose(s1, [0.3139, 0.4424, 0.0], atol=0.03)
    np.testing.assert_allclose(st, [0.5576, 0.4424, 0.2437], atol=0.03)


def test_non_finite_outputs_are_counted_not_fed_to_salib():
    # KCC2 the only Cl⁻ path and fully phosphorylated-dead at p_kcc2 = 1: the balance
    # is identically zero there (status 1, NaN). Morris levels hit p_kcc2 = 1 exactly.
    if "cl_i_ss" not in REGISTRY.outputs:
        pytest.skip("cl_i_ss is not in the registry yet")
    cfg = {
        "name": "bad-range",
        "parameters": {"rho_kcc2": 0.0, "g_cl": "0 mS/cm**2", "u_nkcc1": "0 mM/s"},
        "axes": {
            "p_kcc2": {"start": 0, "stop": 1, "num": 3},
            "k_o": {"start": "2 mM", "stop": "8 mM", "num": 3, "spacing": "log"},
        },
        "outputs": ["cl_i_ss"],
    }
    with pytest.raises(UnusableOutputError, match=r"cl_i_ss at [\d,]+ of [\d,]+ \(\d+ no root"):
        global_sensitivity(cfg, "morris", n=8, seed=0)
    with pytest.raises(UnusableOutputError, match="y at 1 of 3"):
        check_finite({"y": np.array([1.0, np.nan, 2.0])})
    problem = {"num_vars": 1, "names": ["a"], "bounds": [[0.0, 1.0]]}
    X = sample(problem, "sobol", 8, seed=0)
    Y = X[:, 0].copy()
    Y[3] = np.inf
    with pytest.raises(UnusableOutputError, match="y at 1 of 24"):
        analyze(problem, X, Y, "sobol")


def test_global_problem_bounds_and_log_uniform_samples():
    spec = load_spec(KCC2_CONFIG)
    problem = global_problem(spec)
    assert problem.names == ("k_o", "k_i", "cl_o", "cl_i") and all(problem.log)
    X = sample(problem, "sobol", 64, seed=4)
    phys = problem.to_physical(X)
    assert np.all(phys >= np.array(problem.lower)) and np.all(phys <= np.array(problem.upper))
    # log-uniform: ln k_o is uniform on [ln 2, ln 12], so half the mass lies below √24
    assert abs(np.mean(phys[:, 0] < math.sqrt(24.0)) - 0.5) < 0.05
    with pytest.raises(ConfigError, match="power of 2"):
        sample(problem, "sobol", 1000)
    grid = load_spec(
        {"name": "v", "axes": {"ca_i": {"values": ["50 nM", "1 uM"]}}, "outputs": ["e_ca"]}
    )
    with pytest.raises(ConfigError, match="explicit values"):
        global_problem(grid)


# --- CLI -----------------------------------------------------------------------
def test_cli_global_end_to_end(tmp_path, capsys):
    store = tmp_path / "g.zarr"
    args = ["sensitivity", str(KCC2_CONFIG), "--global", "sobol", "--n", "256", "--seed", "3"]
    assert main([*args, "--store", str(store)]) == 0
    out = capsys.readouterr().out
    assert "dG_kcc2 (kJ/mol)" in out and "rank" in out
    first = [ln.split() for ln in out.splitlines() if ln.strip().startswith("1 ")]
    assert first[0][1] == "cl_i"  # the widest ln-range ranks first
    ds = xr.open_zarr(store)
    for v in ("S1", "S1_conf", "ST", "ST_conf"):
        assert ds[v].dims == ("output", "input")
    assert "S2" not in ds
    assert '"method": "sobol"' in ds.attrs["sensitivity"] and "config" in ds.attrs
    # existing store: refused with one line
    assert main([*args, "--store", str(store)]) == 2
    assert "already exists" in one_line(capsys.readouterr().err)
    assert main([*args, "--store", str(store), "--overwrite", "--second-order"]) == 0
    capsys.readouterr()
    ds = xr.open_zarr(store)
    assert ds["S2"].dims == ("output", "input", "input_2")


def test_cli_local_end_to_end(tmp_path, capsys):
    store = tmp_path / "l.zarr"
    rc = main(
        [
            "sensitivity",
            str(LOCAL_CONFIG),
            "--local",
            "--wrt",
            "k_o,p_kcc2,cl_i",
            "--outputs",
            "e_cl,dG_ncx",
            "--store",
            str(store),
        ]
    )
    assert rc == 0
    out = capsys.readouterr().out
    assert "sens_e_cl" in out and "ln cl_i" in out
    ds = xr.open_zarr(store)
    assert ds["sens_e_cl"].dims == ("wrt", "k_o", "p_kcc2")
    assert list(ds["wrt_units"].values) == ["", "", ""]
    np.testing.assert_allclose(ds["sens_e_cl"].sel(wrt="cl_i"), rt_f_mv(), rtol=1e-13)
    assert ds["sens_e_cl"].attrs["units"] == "mV" and ds["k_o"].attrs["units"] == "mM"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--local", "--global", "sobol"], "exactly one of --local"),
        ([], "exactly one of --local"),
        (["--global", "sobel"], "did you mean 'sobol'"),
        (["--global", "sobol", "--n", "1000"], "power of 2"),
        (["--global", "sobol", "--n", "ten"], "--n 'ten'"),
        (["--global", "morris", "--second-order"], "--second-order applies to --global sobol"),
        (["--global", "sobol", "--wrt", "k_o"], "--wrt applies to --local"),
        (["--local", "--n", "64"], "--n applies to --global"),
        (["--local", "--wrt", "k_0"], "did you mean 'k_o'"),
        (["--local", "--outputs", "mode_ncx"], "int8"),
        (["--global", "sobol", "--scheduler", "magic"], "--scheduler 'magic'"),
    ],
)
def test_cli_bad_input_exits_2_withone_line(tmp_path, capsys, extra, message):
    store = tmp_path / "x.zarr"
    rc = main(["sensitivity", str(LOCAL_CONFIG), *extra, "--store", str(store)])
    assert rc == 2
    assert message in one_line(capsys.readouterr().err)
    assert not store.exists()


def test_global_resumes_an_interrupted_samples_store(tmp_path, monkeypatch, capsys):
    """--global through a samples store: a failed block is completed by --resume."""
    import sweep.analysis.global_sensitivity as sens

    monkeypatch.setattr(sens, "GLOBAL_CHUNK", 1000)  # several blocks for 256·(4+2) rows
    cfg = str(Path(__file__).resolve().parent.parent / "configs" / "sensitivity_kcc2.yaml")
    samples, out = str(tmp_path / "s.zarr"), str(tmp_path / "idx.zarr")
    argv = ["sensitivity", cfg, "--global", "sobol", "--n", "256", "--store", out]
    with failing_blocks({1}):
        assert main([*argv, "--samples-store", samples]) == 2
    assert "--resume" in capsys.readouterr().err
    assert main(["status", samples]) == 3
    assert main([*argv, "--samples-store", samples, "--resume"]) == 0
    resumed = xr.open_zarr(out).load()
    ref = sens.global_sensitivity(cfg, "sobol", 256, 0)
    np.testing.assert_array_equal(resumed["ST"].values, ref["ST"].values)


def test_unusable_model_outputs_are_a_runtime_failure_not_a_usage_error(tmp_path, capsys):
    """Non-finite or unconverged outputs stop the analysis with exit 1 (not 2) and one line."""
    import yaml

    assert not issubclass(UnusableOutputError, ConfigError)
    cfg = tmp_path / "nan.yaml"
    cfg.write_text(
        yaml.safe_dump(
            {
                "name": "nan-range",
                "axes": {
                    "cl_i": {"start": "1 mM", "stop": "60 mM", "num": 3, "spacing": "log"},
                    "cl_o": {"start": "100 mM", "stop": "140 mM", "num": 3},
                },
                "outputs": ["e_cl"],
            }
        )
    )
    store = tmp_path / "x.zarr"
    with pytest.MonkeyPatch.context() as mp:
        import sweep.analysis.global_sensitivity as gs

        real = gs.evaluate_plan

        def with_a_nan(plan, **kw):
            out = real(plan, **kw)
            out["e_cl"][3] = np.nan  # a model value SALib cannot use
            return out

        mp.setattr(gs, "evaluate_plan", with_a_nan)
        rc = main(["sensitivity", str(cfg), "--global", "sobol", "--n", "8", "--store", str(store)])
    assert rc == 1
    err = one_line(capsys.readouterr().err)
    assert err.startswith("sweep: failed:") and "e_cl at 1 of" in err
    assert not store.exists()


def test_global_rows_are_sampled_once_and_read_back_from_the_plan(tmp_path, monkeypatch):
    """The analysis, the samples store and its workers share one sampling of the rows."""
    import sweep.design as design

    calls = []
    real = design.sample

    def counted(*a, **k):
        calls.append(a[1] if len(a) > 1 else k.get("method"))
        return real(*a, **k)

    monkeypatch.setattr(design, "sample", counted)
    stored = global_sensitivity(
        KCC2_CONFIG, "morris", 8, 5, samples_store=tmp_path / "rows.zarr", scheduler="threads"
    )
    assert calls == ["morris"]
    in_memory = global_sensitivity(KCC2_CONFIG, "morris", 8, 5)
    for v in ("mu", "mu_star", "sigma"):
        np.testing.assert_array_equal(stored[v].values, in_memory[v].values)
