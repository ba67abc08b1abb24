"""SALib's breadth on the engine's evaluations (issue 17): RBD-FAST on the Sobol' rows,
input distributions, factor groups, eFAST, per-derivative units; design rows per block
(issue 18)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import xarray as xr
from helpers import one_line, write_config

from sweep.analysis.global_sensitivity import analyze, bounds_spec, global_sensitivity
from sweep.analysis.local_sensitivity import local_sensitivity, split_wrt
from sweep.cli import main
from sweep.design import global_problem, sample
from sweep.plan import make_plan
from sweep.spec import ConfigError, parse_config


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


# --- input distributions -------------------------------------------------------------
#: The standard normal's 0.975 quantile, 1.959963984540054 (Abramowitz & Stegun 1964,
#: Table 26.5, to 16 digits as tabulated by NIST DLMF 7.17).
Z975 = 1.959963984540054

DIST_AXES = {
    "vm": {"dist": "normal", "mean": "-60 mV", "sd": "8 mV"},
    "cl_i": {"dist": "lognormal", "median": "10 mM", "sdlog": 0.4},
    "k_o": {"dist": "triangular", "start": "2 mM", "stop": "12 mM", "peak": "4 mM"},
    "temperature": {
        "dist": "truncnormal",
        "mean": "37 degC",
        "sd": "3 degC",
        "start": "305 K",
        "stop": "312 K",
    },
}


def _design(method: str, n: int, **kw) -> dict:
    return {
        "name": "dists",
        "axes": DIST_AXES,
        "outputs": ["e_cl"],
        "design": {"method": method, "n": n, "seed": 5},
        **kw,
    }


def test_inverse_cdf_reference_values():
    """Closed forms, not scipy: normal x = m + z sd; lognormal x = median·exp(z sdlog);
    triangular on [a, b], peak c: x = a + sqrt(u (b − a)(c − a)) below F(c) = (c − a)/(b − a);
    a truncated normal symmetric about its mean has its median at the mean."""
    spec = parse_config(_design("sobol", 8))
    prob = global_problem(spec)
    assert prob.distributions == ("normal", "lognormal", "triangular", "truncnormal")
    assert prob.log == (False, True, False, False)
    u = np.array([[0.975, 0.975, 0.02, 0.5], [0.5, 0.5, 0.2, 0.5]])
    phys = prob.to_physical(prob.from_unit(u))
    np.testing.assert_allclose(phys[0, 0], -60 + 8 * Z975, rtol=1e-14)
    np.testing.assert_allclose(phys[0, 1], 10 * math.exp(0.4 * Z975), rtol=1e-14)
    np.testing.assert_allclose(phys[1, 1], 10.0, rtol=1e-15)
    np.testing.assert_allclose(phys[:, 2], 2 + np.sqrt(u[:, 2] * 10 * 2), rtol=1e-14)
    sym = parse_config(
        {
            "name": "t",
            "axes": {
                "vm": {
                    "dist": "truncnormal",
                    "mean": "-50 mV",
                    "sd": "10 mV",
                    "start": "-60 mV",
                    "stop": "-40 mV",
                }
            },
            "outputs": ["e_cl"],
            "design": {"method": "random", "n": 4},
        }
    )
    p2 = global_problem(sym)
    np.testing.assert_allclose(p2.from_unit(np.array([[0.5]]))[0, 0], -50.0, rtol=1e-14)
    # and against scipy.stats' ppf at the same points
    from scipy import stats

    np.testing.assert_allclose(phys[:, 0], stats.norm.ppf(u[:, 0], -60, 8), rtol=1e-15)
    a, b = (305 - 310.15) / 3, (312 - 310.15) / 3
    np.testing.assert_allclose(
        phys[:, 3], stats.truncnorm.ppf(u[:, 3], a, b, loc=310.15, scale=3), rtol=1e-15
    )
    # unit samples of exactly 0 or 1 stay finite (the 2^-53 quantiles)
    edge = prob.from_unit(np.array([[0.0, 1.0, 0.0, 1.0]]))
    assert np.all(np.isfinite(edge))


@pytest.mark.parametrize("method", ["sobol", "lhs", "random"])
def test_design_sample_moments_match_the_distributions(method):
    """Sample moments of 2^14 rows vs the distributions' (tolerances: 1% of the sd for the
    mean, 2% for the sd; QMC errors are ~1e-3, random ones ~1/√n = 0.8%)."""
    from scipy import integrate, stats

    spec = parse_config(_design(method, 2**14))
    c = make_plan(spec).coords
    v, lnc, k, t = c["vm"], np.log(c["cl_i"]), c["k_o"], c["temperature"]
    assert abs(v.mean() + 60) < 0.01 * 8 * 3 and abs(v.std() - 8) < 0.02 * 8 * 2
    assert abs(lnc.mean() - math.log(10)) < 0.01 * 0.4 * 3
    assert abs(lnc.std() - 0.4) < 0.02 * 0.4 * 2
    a, b, p = 2.0, 12.0, 4.0  # triangular mean and variance (closed form)
    mean = (a + b + p) / 3
    sd = math.sqrt((a * a + b * b + p * p - a * b - a * p - b * p) / 18)
    assert k.min() >= a and k.max() <= b
    assert abs(k.mean() - mean) < 0.01 * sd * 3 and abs(k.std() - sd) < 0.02 * sd * 2
    # truncated normal: its moments by quadrature of the normal density on [305, 312] K
    pdf = lambda x: stats.norm.pdf(x, 310.15, 3.0)  # noqa: E731
    z = integrate.quad(pdf, 305, 312)[0]
    m1 = integrate.quad(lambda x: x * pdf(x), 305, 312)[0] / z
    m2 = integrate.quad(lambda x: (x - m1) ** 2 * pdf(x), 305, 312)[0] / z
    assert t.min() >= 305 and t.max() <= 312
    assert abs(t.mean() - m1) < 0.01 * math.sqrt(m2) * 3
    assert abs(t.std() - math.sqrt(m2)) < 0.02 * math.sqrt(m2) * 2


def test_salib_with_dists_matches_salib_directly():
    """The same problem handed to SALib with its own ``dists`` (physical space): the
    same rows, and the same indices from the same outputs."""
    from SALib.analyze import sobol as sobol_analyze
    from SALib.sample import sobol as sobol_sample

    spec = parse_config(_design("saltelli", 64))
    prob = global_problem(spec)
    native = {
        "num_vars": 4,
        "names": ["vm", "cl_i", "k_o", "temperature"],
        "bounds": [[-60.0, 8.0], [math.log(10.0), 0.4], [2.0, 12.0, 0.2], [305, 312, 310.15, 3]],
        "dists": ["norm", "lognorm", "triang", "truncnorm"],
    }
    X = sample(prob, "sobol", 64, seed=5)
    Xs = sobol_sample.sample(native, 64, calc_second_order=False, seed=5)
    np.testing.assert_array_equal(prob.to_physical(X), Xs)
    y = Xs[:, 0] * 0.1 + np.log(Xs[:, 1]) + Xs[:, 2] ** 2 / 50 + 0.01 * Xs[:, 3] * Xs[:, 0]
    ours = analyze(prob, X, {"y": y}, "sobol", seed=7)
    theirs = sobol_analyze.analyze(
        native, y, calc_second_order=False, seed=np.random.default_rng(7)
    )
    for key in ("S1", "ST", "S1_conf", "ST_conf"):
        np.testing.assert_array_equal(ours[key].sel(output="y").values, theirs[key], key)
    assert list(ours["input_dist"].values) == ["normal", "lognormal", "triangular", "truncnormal"]


def test_dist_stores_and_resumes_as_a_design(tmp_path):
    """A distribution is part of the resolved config: it rebuilds identically (what
    resume and shards compare) and its hash differs from the uniform axis'."""
    from sweep.spec import spec_from_resolved

    spec = parse_config(_design("sobol", 16))
    again = spec_from_resolved(spec.resolved)
    assert again.resolved == spec.resolved and again.config_hash == spec.config_hash
    assert spec.resolved["axes"]["temperature"]["mean"] == pytest.approx(310.15)
    assert spec.resolved["axes"]["temperature"]["sd"] == 3.0  # a difference: 3 degC = 3 K
    uni = parse_config(
        {**_design("sobol", 16), "axes": {"vm": {"start": "-80 mV", "stop": "0 mV"}}}
    )
    assert "dist" not in uni.resolved["axes"]["vm"]  # (log-)uniform axes: as before


@pytest.mark.parametrize(
    ("axis", "words"),
    [
        ({"dist": "normal", "mean": "-60 mV", "sd": "0 mV"}, "axes.vm.sd = '0 mV' is not allowed"),
        ({"dist": "normal", "mean": "-60 mV", "sd": "-1 mV"}, "finite and > 0"),
        ({"dist": "normal", "mean": "-60 mV"}, "needs 'sd'"),
        ({"dist": "normall", "mean": "-60 mV", "sd": "1 mV"}, "did you mean 'normal'"),
        (
            {"dist": "triangular", "start": "0 mV", "stop": "-10 mV", "peak": "-5 mV"},
            "must be below stop",
        ),
        (
            {"dist": "triangular", "start": "-10 mV", "stop": "0 mV", "peak": "5 mV"},
            "axes.vm.peak = '5 mV' is not allowed: must lie in [start, stop]",
        ),
        (
            {"dist": "truncnormal", "mean": "0 mV", "sd": "1 mV", "start": "5 mV", "stop": "5 mV"},
            "must be below stop",
        ),
        ({"dist": "normal", "mean": "-60 mV", "sd": "1 mM"}, "wrong dimension"),
        ({"dist": "normal", "mean": "-60 mV", "sd": "1 mV", "stop": "1 mV"}, "it takes mean, sd"),
        ({"dist": "uniform", "start": "-60 mV"}, "needs 'stop'"),
    ],
)
def test_bad_distribution_parameters_are_one_line(tmp_path, capsys, axis, words):
    cfg, _ = write_config(tmp_path, {**_design("sobol", 16), "axes": {"vm": axis}})
    assert main(["plan", str(cfg)]) == 2
    assert words in one_line(capsys.readouterr().err)


def test_distributions_out_of_an_inputs_range_or_on_a_grid_are_refused():
    with pytest.raises(ConfigError, match="reaches .* outside cl_i's range .*lognormal"):
        parse_config(
            {
                **_design("sobol", 8),
                "axes": {"cl_i": {"dist": "normal", "mean": "5 mM", "sd": "2 mM"}},
            }
        )
    with pytest.raises(ConfigError, match="median .* must be > 0|median = .* not allowed"):
        parse_config(
            {
                **_design("sobol", 8),
                "axes": {"cl_i": {"dist": "lognormal", "median": "0 mM", "sdlog": 1}},
            }
        )
    with pytest.raises(ConfigError, match="sdlog = '0.3 mM' is not allowed: a bare number"):
        parse_config(
            {
                **_design("sobol", 8),
                "axes": {"cl_i": {"dist": "lognormal", "median": "5 mM", "sdlog": "0.3 mM"}},
            }
        )
    grid = {"name": "g", "axes": {"vm": {**DIST_AXES["vm"]}}, "outputs": ["e_cl"]}
    with pytest.raises(ConfigError, match="dist is allowed only with a sampled design"):
        parse_config(grid)


def test_global_with_lognormal_inputs_dgsm_bound_is_st():
    """ΔG_KCC2 = RT Σ ± ln x_i: with ln x_i normal (sd s_i), ST_i = s_i² / Σ s² exactly, and
    the Gaussian Poincaré constant s_i² makes the DGSM bound exact for this linear model
    (Lamboni et al. 2013): ν_i = (RT)², dgsm_i = (RT)² s_i², dgsm_bound = ST."""
    from kernels.constants import R

    spec = {
        "name": "lgn",
        "parameters": {"temperature": "310 K", "vm": "-70 mV"},
        "axes": {
            "k_o": {"dist": "lognormal", "median": "4 mM", "sdlog": 0.2},
            "cl_i": {"dist": "lognormal", "median": "8 mM", "sdlog": 0.4},
        },
        "outputs": ["dG_kcc2"],
    }
    ds = global_sensitivity(spec, "sobol", n=1024, seed=0, scheduler="synchronous")
    exact = np.array([0.04, 0.16]) / 0.2
    np.testing.assert_allclose(ds["ST"].sel(output="dG_kcc2").values, exact, atol=0.03)
    np.testing.assert_allclose(ds["S1"].sel(output="dG_kcc2").values, exact, atol=0.03)
    rt = R * 310.0 / 1e3
    np.testing.assert_allclose(ds["dgsm_nu"].sel(output="dG_kcc2").values, rt**2, rtol=1e-10)
    np.testing.assert_allclose(
        ds["dgsm"].sel(output="dG_kcc2").values, rt**2 * np.array([0.04, 0.16]), rtol=1e-10
    )
    # Var(y) estimated from the rows: the bound agrees with ST to the variance's error
    np.testing.assert_allclose(ds["dgsm_bound"].sel(output="dG_kcc2").values, exact, rtol=0.03)
    assert list(ds["input_dist"].values) == ["lognormal", "lognormal"]


# --- factor groups -------------------------------------------------------------------
def test_sobol_and_morris_groups_are_salibs_grouped_indices():
    """y = x1 + x2 + 2 x3, x ~ U[0,1]³, groups a = {x1, x2}, b = {x3}: S1 = ST =
    (2/12, 4/12) / (6/12) = (1/3, 2/3) (variance shares of an additive model)."""
    prob = {
        "num_vars": 3,
        "names": ["x1", "x2", "x3"],
        "bounds": [[0.0, 1.0]] * 3,
        "groups": ["a", "a", "b"],
    }
    X = sample(prob, "sobol", 1024, seed=1)
    assert X.shape == (1024 * 4, 3)  # n (G + 2) rows, G = 2 groups
    y = X[:, 0] + X[:, 1] + 2 * X[:, 2]
    ds = analyze(prob, X, {"y": y}, "sobol", seed=1)
    assert list(ds["input"].values) == ["a", "b"]
    assert list(ds["input_members"].values) == ["x1,x2", "x3"]
    np.testing.assert_allclose(ds["ST"].sel(output="y").values, [1 / 3, 2 / 3], atol=0.03)
    np.testing.assert_allclose(ds["S1"].sel(output="y").values, [1 / 3, 2 / 3], atol=0.03)
    assert "S1_rbd_fast" not in ds and "no factor groups" in ds.attrs["rbd_fast"]
    Xm = sample(prob, "morris", 64, seed=1)
    assert Xm.shape == (64 * 3, 3)
    dm = analyze(prob, Xm, {"y": Xm[:, 0] + Xm[:, 1] + 2 * Xm[:, 2]}, "morris", seed=1)
    assert list(dm["input"].values) == ["a", "b"]
    # x3 alone: every elementary effect is 2; a step of group a moves x1 and x2 by ±Δ each
    # (each its own direction, SALib's grouped trajectories): effects 0 or 2
    mu_star = dm["mu_star"].sel(output="y").values
    np.testing.assert_allclose(mu_star[1], 2.0, rtol=1e-12)
    assert 0.0 <= mu_star[0] <= 2.0 + 1e-12
    assert np.isnan(dm["sigma"].sel(output="y").values[0])  # SALib: no sigma for a group


def test_groups_from_the_config_through_the_engine(tmp_path, capsys):
    """ΔG_KCC2 additive in ln K_o, ln K_i, ln Cl_o, ln Cl_i (log-uniform): a group's ST is
    the sum of its members' w² shares, w the width of the ln range."""
    spec = {
        "name": "grp",
        "parameters": {"temperature": "310 K", "vm": "-70 mV"},
        "axes": {
            "k_o": {"start": "2 mM", "stop": "12 mM", "spacing": "log", "group": "potassium"},
            "k_i": {"start": "100 mM", "stop": "150 mM", "spacing": "log", "group": "potassium"},
            "cl_i": {"start": "3 mM", "stop": "30 mM", "spacing": "log"},
        },
        "outputs": ["dG_kcc2"],
    }
    w2 = np.log([6.0, 1.5, 10.0]) ** 2
    exact = np.array([w2[0] + w2[1], w2[2]]) / w2.sum()
    ds = global_sensitivity(spec, "sobol", n=512, seed=0, scheduler="synchronous")
    assert list(ds["input"].values) == ["potassium", "cl_i"]
    assert ds.attrs["n_evaluations"] == 512 * 4
    np.testing.assert_allclose(ds["ST"].sel(output="dG_kcc2").values, exact, atol=0.03)
    np.testing.assert_allclose(  # DGSM of a group: the sum of its members'
        ds["dgsm_bound"].sel(output="dG_kcc2").values, 12 / np.pi**2 * exact, rtol=0.05
    )
    cfg, _ = write_config(tmp_path, spec)
    store = tmp_path / "g.zarr"
    argv = ["sensitivity", str(cfg), "--global", "morris", "--n", "16", "--store", str(store)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "potassium" in out
    got = xr.open_zarr(store)
    assert list(got["input"].values) == ["potassium", "cl_i"]
    assert list(got["input_members"].values) == ["k_o,k_i", "cl_i"]
    # groups with eFAST, or on a sobol design, are refused in one line
    assert main(["sensitivity", str(cfg), "--global", "fast", "--n", "65"]) == 2
    assert "group is not allowed with --global fast" in one_line(capsys.readouterr().err)
    with pytest.raises(ConfigError, match="names the axis 'cl_i'"):
        bounds_spec(
            {**spec, "axes": {**spec["axes"], "k_o": {**spec["axes"]["k_o"], "group": "cl_i"}}}
        )


# --- eFAST ---------------------------------------------------------------------------
def test_efast_additive_model_is_analytic():
    """y = 2 x1 + x2 on U[0,1]²: S1 = ST = (4/5, 1/5); seeded bootstrap reproducible and
    numpy's global random state untouched."""
    prob = {"num_vars": 2, "names": ["x1", "x2"], "bounds": [[0.0, 1.0], [0.0, 1.0]]}
    X = sample(prob, "fast", 513, seed=2)
    assert X.shape == (513 * 2, 2)
    y = 2 * X[:, 0] + X[:, 1]
    state = np.random.get_state()[1].copy()  # noqa: NPY002
    a = analyze(prob, X, {"y": y}, "fast", seed=4)
    b = analyze(prob, X, {"y": y}, "fast", seed=4)
    np.testing.assert_array_equal(np.random.get_state()[1], state)  # noqa: NPY002
    np.testing.assert_allclose(a["S1"].sel(output="y").values, [0.8, 0.2], atol=0.02)
    np.testing.assert_allclose(a["ST"].sel(output="y").values, [0.8, 0.2], atol=0.02)
    np.testing.assert_array_equal(a["S1_conf"].values, b["S1_conf"].values)
    with pytest.raises(ConfigError, match="more than 4·M² = 64"):
        sample(prob, "fast", 64)


def test_efast_on_the_engine_and_cli(tmp_path, capsys):
    spec = {
        "name": "efast",
        "parameters": {"temperature": "310 K", "vm": "-70 mV"},
        "axes": {
            "k_o": {"start": "2 mM", "stop": "12 mM", "spacing": "log", "num": 7},
            "cl_i": {"start": "3 mM", "stop": "30 mM", "spacing": "log"},
        },
        "outputs": ["dG_kcc2"],
    }
    w2 = np.log([6.0, 10.0]) ** 2
    ds = global_sensitivity(spec, "fast", n=257, seed=0, scheduler="synchronous")
    assert ds.attrs["method"] == "fast" and ds.attrs["n_evaluations"] == 257 * 2
    np.testing.assert_allclose(ds["S1"].sel(output="dG_kcc2").values, w2 / w2.sum(), atol=0.03)
    np.testing.assert_allclose(ds["ST"].sel(output="dG_kcc2").values, w2 / w2.sum(), atol=0.03)
    cfg, _ = write_config(tmp_path, spec)
    store = tmp_path / "f.zarr"
    assert (
        main(["sensitivity", str(cfg), "--global", "fast", "--n", "100", "--store", str(store)])
        == 0
    )
    out = capsys.readouterr().out
    assert "fast indices, 200 model evaluations" in out and "cl_i" in out
    assert xr.open_zarr(store).attrs["method"] == "fast"
    assert main(["sensitivity", str(cfg), "--global", "fast", "--n", "50"]) == 2
    assert "more than 4·M² = 64" in one_line(capsys.readouterr().err)


# --- --global needs no num -----------------------------------------------------------
def test_global_does_not_need_num_and_ignores_it(tmp_path, capsys):
    base = {
        "name": "nonum",
        "parameters": {"temperature": "310 K", "vm": "-70 mV"},
        "axes": {
            "k_o": {"start": "2 mM", "stop": "12 mM", "spacing": "log"},
            "cl_i": {"start": "3 mM", "stop": "30 mM"},
        },
        "outputs": ["dG_kcc2"],
    }
    with_num = json.loads(json.dumps(base))
    with_num["axes"]["k_o"]["num"] = 5
    with_num["axes"]["cl_i"]["num"] = 3
    stores = []
    for i, d in enumerate((base, with_num)):
        cfg, _ = write_config(tmp_path, d, f"c{i}.yaml")
        stores.append(tmp_path / f"s{i}.zarr")
        argv = ["sensitivity", str(cfg), "--global", "sobol", "--n", "64"]
        assert main([*argv, "--store", str(stores[-1])]) == 0, capsys.readouterr().err
    capsys.readouterr()
    a, b = (xr.open_zarr(s).load() for s in stores)
    for v in ("S1", "ST", "S1_conf", "dgsm"):
        np.testing.assert_array_equal(a[v].values, b[v].values, err_msg=v)
    # `sweep run` of the same num-less config still asks for num (a grid needs it)
    cfg, _ = write_config(tmp_path, base, "grid.yaml")
    assert main(["plan", str(cfg)]) == 2
    assert "needs 'num'" in one_line(capsys.readouterr().err)


# --- per-derivative units ------------------------------------------------------------
@pytest.fixture(scope="module")
def ecl_sens():
    spec = parse_config(
        {
            "name": "ecl",
            "axes": {
                "cl_i": {"start": "2 mM", "stop": "40 mM", "num": 5, "spacing": "log"},
                "temperature": {"values": ["300 K", "310 K"]},
            },
            "outputs": ["e_cl"],
        }
    )
    return local_sensitivity(spec, "cl_i,temperature"), local_sensitivity(spec, "temperature")


def test_sens_units_are_each_derivatives_own(ecl_sens, tmp_path):
    """∂E_Cl/∂T = E_Cl/T in mV/K and ∂E_Cl/∂ln Cl_i = RT/F in mV (Nernst)."""
    from kernels.constants import F, R

    mixed, one = ecl_sens
    assert "units" not in mixed["sens_e_cl"].attrs  # mV and mV/K: no single unit to give
    assert mixed["sens_e_cl"].attrs["units_by_wrt"] == {"cl_i": "mV", "temperature": "mV/K"}
    assert one["sens_e_cl"].attrs["units"] == "mV/K"  # one wrt: its unit, where pint looks
    split = split_wrt(mixed)
    assert split["sens_e_cl__temperature"].attrs["units"] == "mV/K"
    assert split["sens_e_cl__cl_i"].attrs["units"] == "mV"
    assert split["sens_e_cl__cl_i"].dims == ("cl_i", "temperature")
    assert "wrt" not in split.dims and "e_cl" in split
    # the store round trip keeps them
    mixed.to_zarr(tmp_path / "m.zarr", zarr_format=3)
    back = xr.open_zarr(tmp_path / "m.zarr")
    assert split_wrt(back)["sens_e_cl__temperature"].attrs["units"] == "mV/K"
    pint_xarray = pytest.importorskip("pint_xarray")
    assert pint_xarray
    q = split.pint.quantify()
    dT = q["sens_e_cl__temperature"].data
    e_over_t = q["e_cl"].data / q["temperature"].data[None, :]
    np.testing.assert_allclose(dT.to("V/K").magnitude, e_over_t.to("V/K").magnitude, rtol=1e-12)
    dc = q["sens_e_cl__cl_i"].data
    rt_f = R * mixed["temperature"].values / F  # V per e-fold
    np.testing.assert_allclose(dc.to("V").magnitude, np.broadcast_to(rt_f, (5, 2)), rtol=1e-13)
    q1 = one.pint.quantify()
    assert str(q1["sens_e_cl"].data.units) == "millivolt / kelvin"
    qm = mixed.pint.quantify()  # the mixed stack is left unquantified, not mislabelled
    assert not hasattr(qm["sens_e_cl"].data, "units")


# --- design rows per block -------------------------------------------------------------
@pytest.mark.parametrize("method", ["sobol", "random", "lhs"])
def test_design_rows_bit_identical_whatever_the_block_size(method):
    d = _design(method, 3000)
    whole = make_plan(parse_config(d)).coords
    for c in (1, 7, 256, 2999, 3000):
        plan = make_plan(parse_config({**d, "chunks": {"sample": c}}))
        got = {k: [] for k in whole}
        for b in range(plan.n_blocks):
            (s,) = plan.block_slices(b)
            for k, v in plan.sample_rows(s.start, s.stop).items():
                got[k].append(v)
        for k in whole:
            np.testing.assert_array_equal(np.concatenate(got[k]), whole[k], err_msg=f"{c} {k}")


def test_sobol_and_random_rows_are_the_whole_designs_rows():
    """Per-range rows equal scipy's whole sequence and numpy's whole stream."""
    import warnings

    from scipy.stats import qmc

    from sweep.design import unit_rows

    for method in ("sobol", "random"):
        spec = parse_config(
            {**_design(method, 1000), "axes": {"vm": DIST_AXES["vm"], "k_o": DIST_AXES["k_o"]}}
        )
        if method == "sobol":
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ref = qmc.Sobol(2, scramble=True, seed=5).random(1000)
        else:
            ref = np.random.default_rng(5).random((1000, 2))
        for lo, hi in ((0, 1), (1, 333), (333, 1000), (999, 1000)):
            np.testing.assert_array_equal(unit_rows(spec, lo, hi), ref[lo:hi])


def test_a_large_designs_block_needs_memory_of_the_block_only():
    """n = 5·10⁷ (issue 18: 3.8 GB when built whole): one block's inputs, measured with
        tracemalloc, stay within a few blocks of float64 inputs (unit rows, inverse CDF, padding,
    cast), under a third of the whole design's."""
    import tracemalloc

    from sweep.batching import block_inputs, compute_shape

    spec = parse_config(
        {
            "name": "big",
            "axes": {
                "k_o": {"start": "2 mM", "stop": "12 mM"},
                "vm": {"dist": "normal", "mean": "-60 mV", "sd": "5 mV"},
                "cl_i": {"start": "2 mM", "stop": "12 mM"},
            },
            "outputs": ["e_k"],
            "design": {"method": "sobol", "n": 5 * 10**7},
        }
    )
    plan = make_plan(spec)
    tracemalloc.start()
    try:
        xs, region = block_inputs(plan, plan.n_blocks - 1, compute_shape(plan))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    block_bytes = plan.points_per_block * 3 * 8
    whole = 5 * 10**7 * 3 * 8  # the inputs of the whole design, float64
    assert plan.n_blocks > 1 and peak < 6 * block_bytes < whole / 3
    assert all(np.all(np.isfinite(x)) for x in xs)
    np.testing.assert_array_equal(
        xs[0][: region[0].stop - region[0].start],
        plan.sample_rows(region[0].start, region[0].stop)["k_o"],
    )


def test_morris_refuses_unbounded_distributions_and_values_axes(tmp_path, capsys):
    spec = {
        "name": "mo",
        "axes": {"vm": {"dist": "normal", "mean": "-60 mV", "sd": "5 mV"}},
        "outputs": ["dG_ncx"],
    }
    cfg, _ = write_config(tmp_path, spec)
    assert main(["sensitivity", str(cfg), "--global", "morris", "--n", "4"]) == 2
    assert "not allowed with Morris" in one_line(capsys.readouterr().err)
    spec["axes"] = {"vm": {"values": ["-60 mV", "-50 mV"]}}
    cfg, _ = write_config(tmp_path, spec)
    assert main(["sensitivity", str(cfg), "--global", "sobol", "--n", "4"]) == 2
    assert "axes.vm has explicit values" in one_line(capsys.readouterr().err)


def test_a_fast_design_runs_as_a_sweep(tmp_path):
    """design.method fast: SALib's eFAST rows (n·k) through `sweep run`, analysable later."""
    spec = {
        "name": "fd",
        "parameters": {"temperature": "310 K", "vm": "-70 mV"},
        "axes": {
            "k_o": {"start": "2 mM", "stop": "12 mM", "spacing": "log"},
            "cl_i": {"dist": "triangular", "start": "3 mM", "stop": "30 mM", "peak": "8 mM"},
        },
        "outputs": ["dG_kcc2"],
        "design": {"method": "fast", "n": 80, "seed": 1},
    }
    cfg, store = write_config(tmp_path, spec)
    assert main(["run", str(cfg), "--no-progress"]) == 0
    ds = xr.open_zarr(store)
    assert ds.sizes["sample"] == 160
    plan = make_plan(parse_config(spec))
    np.testing.assert_array_equal(ds["cl_i"].values, plan.coords["cl_i"])
    assert ds["cl_i"].values.min() >= 3 and ds["cl_i"].values.max() <= 30
    res = analyze(global_problem(plan.spec), plan.rows, {"y": ds["dG_kcc2"].values}, "fast")
    assert np.all(np.isfinite(res["S1"].values)) and res["S1"].values.sum() <= 1.0 + 0.05


def test_morris_with_bounded_dists_matches_salib_directly():
    from SALib.analyze import morris as morris_analyze
    from SALib.sample import morris as morris_sample

    spec = parse_config(
        {
            **_design("morris", 16),
            "axes": {"k_o": DIST_AXES["k_o"], "temperature": DIST_AXES["temperature"]},
        }
    )
    prob = global_problem(spec)
    native = {
        "num_vars": 2,
        "names": ["k_o", "temperature"],
        "bounds": [[2.0, 12.0, 0.2], [305, 312, 310.15, 3]],
        "dists": ["triang", "truncnorm"],
    }
    X = sample(prob, "morris", 16, seed=5)
    Xs = morris_sample.sample(native, 16, num_levels=4, seed=5)
    np.testing.assert_array_equal(X, Xs)
    assert X[:, 1].min() == 305 and X[:, 1].max() == 312  # quantiles 0 and 1: the bounds
    y = Xs[:, 0] ** 2 + 0.5 * Xs[:, 1]
    ours = analyze(prob, X, {"y": y}, "morris", seed=3)
    theirs = morris_analyze.analyze(native, Xs, y, num_levels=4, seed=np.random.default_rng(3))
    for key in ("mu", "mu_star", "sigma", "mu_star_conf"):
        np.testing.assert_array_equal(ours[key].sel(output="y").values, theirs[key], key)


def test_large_design_coordinates_written_chunk_by_chunk_are_the_same(tmp_path, monkeypatch):
    """The store template of a large sobol/random design writes its coordinates chunk by
    chunk (generated per chunk); the store is identical to one written whole."""
    from helpers import assert_identical

    import sweep.store

    d = {**_design("random", 1000), "axes": {"vm": DIST_AXES["vm"], "k_o": DIST_AXES["k_o"]}}
    d["chunks"] = {"sample": 128}
    cfg, whole = write_config(tmp_path, d, "a.yaml", store=str(tmp_path / "a.zarr"))
    assert main(["run", str(cfg), "--no-progress"]) == 0
    monkeypatch.setattr(sweep.store, "SAMPLE_COORD_CHUNK", 300)
    cfg, chunked = write_config(tmp_path, d, "b.yaml", store=str(tmp_path / "b.zarr"))
    assert main(["run", str(cfg), "--no-progress"]) == 0
    import zarr

    assert zarr.open_group(chunked, mode="r")["vm"].chunks == (300,)
    assert_identical(whole, chunked)


@pytest.mark.parametrize("scheduler", ["synchronous", "threads"])
def test_workers_read_a_whole_sampled_design_from_the_store(tmp_path, monkeypatch, scheduler):
    """An lhs design (sampled whole, not per block) is sampled once by the driver and
    written to the store in chunks; the blocks read their rows from there instead of
    sampling the whole design again. The store equals one whose blocks resample."""
    from helpers import assert_identical

    import sweep.plan
    import sweep.store

    d = {**_design("lhs", 1000), "axes": {"vm": DIST_AXES["vm"], "k_o": DIST_AXES["k_o"]}}
    d["chunks"] = {"sample": 128}
    cfg, whole = write_config(tmp_path, d, "a.yaml", store=str(tmp_path / "a.zarr"))
    assert main(["run", str(cfg), "--no-progress", "--scheduler", scheduler]) == 0

    calls = []
    real = sweep.plan._design_rows

    def counted(spec):
        calls.append(spec.name)
        return real(spec)

    monkeypatch.setattr(sweep.plan, "_design_rows", counted)
    monkeypatch.setattr(sweep.store, "SAMPLE_COORD_CHUNK", 300)
    cfg, chunked = write_config(tmp_path, d, "b.yaml", store=str(tmp_path / "b.zarr"))
    assert main(["run", str(cfg), "--no-progress", "--scheduler", scheduler]) == 0
    import zarr

    assert zarr.open_group(chunked, mode="r")["vm"].chunks == (300,)
    assert len(calls) == 1  # the driver's one sample; 8 blocks read theirs from the store
    assert_identical(whole, chunked)
