"""SALib's breadth on the engine's evaluations (issue 17): RBD-FAST on the Sobol' rows."""

from __future__ import annotations

import numpy as np

from sweep.analysis.global_sensitivity import analyze, global_sensitivity
from sweep.design import sample


def test_rbd_fast_on_the_sobol_rows_matches_the_analytic_indices():
    """y = 2 x1 + x2, x ~ U[0,1]²: S1 = (4/5, 1/5) (variance shares of an additive model)."""
    prob = {"num_vars": 2, "names": ["x1", "x2"], "bounds": [[0.0, 1.0], [0.0, 1.0]]}
    X = sample(prob, "sobol", 1024, seed=3)
    y = 2 * X[:, 0] + X[:, 1]
    ds = analyze(prob, X, {"y": y}, "sobol", seed=3)
    np.testing.assert_allclose(ds["S1_rbd_fast"].sel(output="y").values, [0.8, 0.2], atol=0.03)
    np.testing.assert_allclose(ds["S1"].sel(output="y").values, [0.8, 0.2], atol=0.05)
    assert np.all(ds["S1_rbd_fast_conf"].values > 0)
    assert ds["S1_rbd_fast"].attrs["long_name"]


def test_rbd_fast_in_a_global_result():
    spec = {
        "name": "rbd",
        "axes": {
            "vm": {"start": "-100 mV", "stop": "20 mV"},
            "na_i": {"start": "5 mM", "stop": "40 mM", "spacing": "log"},
        },
        "outputs": ["dG_ncx"],
    }
    ds = global_sensitivity(spec, "sobol", n=256, seed=0, scheduler="synchronous")
    s1 = ds["S1"].sel(output="dG_ncx").values
    rbd = ds["S1_rbd_fast"].sel(output="dG_ncx").values
    # ΔG_NCX is additive in V_m and ln [Na⁺]ᵢ (the sampling space): both estimate one S1
    np.testing.assert_allclose(rbd, s1, atol=0.08)
    np.testing.assert_allclose(rbd.sum(), 1.0, atol=0.08)


def test_convergence_over_n_from_one_design():
    """ΔG_KCC2 is additive in ln K_o, ln K_i, ln Cl_o, ln Cl_i: ST_i = w_i² / Σ w² exactly,
    w_i the width of input i's ln-range (configs/sensitivity_kcc2.yaml's header)."""
    from sweep.report import convergence_report

    spec = {
        "name": "conv",
        "parameters": {"temperature": "310 K", "vm": "-70 mV"},
        "axes": {
            "k_o": {"start": "2 mM", "stop": "12 mM", "spacing": "log"},
            "cl_i": {"start": "3 mM", "stop": "30 mM", "spacing": "log"},
        },
        "outputs": ["dG_kcc2"],
    }
    ds = global_sensitivity(spec, "sobol", n=512, seed=0, scheduler="synchronous")
    w2 = np.log([6.0, 10.0]) ** 2
    exact = w2 / w2.sum()
    ns = ds["n_base"].values
    assert list(ns) == [8, 16, 32, 64, 128, 256, 512]
    st = ds["ST_by_n"].sel(output="dG_kcc2").values
    np.testing.assert_array_equal(st[-1], ds["ST"].sel(output="dG_kcc2").values)
    err = np.abs(st - exact).max(axis=1)
    assert err[-1] < 0.03 and err[-1] < err[0]
    conf = ds["ST_conf_by_n"].sel(output="dG_kcc2").values
    assert conf[-1].max() < conf[0].max()  # intervals shrink with N
    text = convergence_report(ds)
    assert "convergence of ST" in text and "    512 " in text


def test_dgsm_from_autodiff_bounds_st():
    """ΔG_KCC2 = RT(ln K_o + ln Cl_o − ln K_i − ln Cl_i): ∂y/∂ln x = ±RT exactly, so
    ν = (RT)², DGSM = (RT)² w² / π² and DGSM/Var(y) = (12/π²) ST (Sobol' & Kucherenko 2009)."""
    from kernels.constants import R

    spec = {
        "name": "dgsm",
        "parameters": {"temperature": "310 K", "vm": "-70 mV"},
        "axes": {
            "k_o": {"start": "2 mM", "stop": "12 mM", "spacing": "log"},
            "cl_i": {"start": "3 mM", "stop": "30 mM", "spacing": "log"},
        },
        "outputs": ["dG_kcc2"],
    }
    for method, n in (("sobol", 128), ("morris", 16)):
        ds = global_sensitivity(spec, method, n=n, seed=0, scheduler="synchronous")
        rt = R * 310.0 / 1e3  # kJ/mol
        nu = ds["dgsm_nu"].sel(output="dG_kcc2").values
        np.testing.assert_allclose(nu, [rt**2, rt**2], rtol=1e-10)
        w2 = np.log([6.0, 10.0]) ** 2
        np.testing.assert_allclose(
            ds["dgsm"].sel(output="dG_kcc2").values, rt**2 * w2 / np.pi**2, rtol=1e-10
        )
        np.testing.assert_allclose(ds["dgsm_conf"].values, 0.0, atol=1e-9)  # constant derivative
    bound = ds["dgsm_bound"].sel(output="dG_kcc2").values
    assert np.all(np.isfinite(bound))
    sob = global_sensitivity(spec, "sobol", n=512, seed=0, scheduler="synchronous")
    b = sob["dgsm_bound"].sel(output="dG_kcc2").values
    st = sob["ST"].sel(output="dG_kcc2").values
    assert np.all(b >= st - 0.02)
    np.testing.assert_allclose(b, 12 / np.pi**2 * w2 / w2.sum(), rtol=0.05)
