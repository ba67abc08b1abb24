"""Boundary mapping: refined crossings against closed forms, crossing counts, adaptive = dense.

References for the closed forms: physics.md (V_rev = 3E_Na − 2E_Ca and the NCLX/NKA
analogues; equilibrium [Cl⁻]ᵢ of KCC2 and NKCC1; the chloride steady state).
"""

from __future__ import annotations

import json

import jax.numpy as jnp
import numpy as np
import pytest
import xarray as xr

from kernels import evaluate
from kernels.registry import REGISTRY
from kernels.solvers import NOT_WRITTEN, Status
from sweep.analysis.boundary import (
    adaptive_cells,
    boundary_adaptive,
    boundary_along,
    boundary_cells,
    brent_root,
    find_crossings,
)
from sweep.cli import main
from sweep.spec import ConfigError, parse_config

TOL = 1e-9  # the contract: |x − x*| ≤ 1e-9 · max(|x*|, axis span)


def spec_of(axes, outputs=("dG_ncx",), **kw):
    return parse_config({"name": "t", "axes": axes, "outputs": list(outputs), **kw})


def assert_located(roots, exact, span):
    roots, exact = np.asarray(roots), np.asarray(exact)
    assert roots.shape == exact.shape
    err = np.abs(roots - exact) / np.maximum(np.abs(exact), span)
    assert np.all(err <= TOL), float(np.nanmax(err))


# --- closed forms ---------------------------------------------------------------
@pytest.mark.parametrize(
    ("transporter", "voltage", "lo", "hi", "axes"),
    [
        (
            "ncx",
            "vm",
            -120.0,
            60.0,
            {
                "na_i": {"start": "5 mM", "stop": "50 mM", "num": 7, "spacing": "log"},
                "ca_i": {"values": ["50 nM", "100 nM", "1 uM"]},
            },
        ),
        (
            "nclx",
            "v_mito",
            -220.0,
            160.0,
            {"na_m": {"start": "0.5 mM", "stop": "200 mM", "num": 9, "spacing": "log"}},
        ),
        (
            "nka",
            "vm",
            -200.0,
            0.0,
            {"dG_atp": {"start": "-60 kJ/mol", "stop": "-40 kJ/mol", "num": 5}},
        ),
    ],
)
def test_voltage_boundary_is_v_rev(transporter, voltage, lo, hi, axes):
    spec = spec_of(
        {voltage: {"start": f"{lo} mV", "stop": f"{hi} mV", "num": 39}, **axes},
        outputs=[f"dG_{transporter}"],
    )
    ds = boundary_along(spec, f"dG_{transporter}", voltage).dataset
    others = [a.name for a in spec.axes if a.name != voltage]
    grids = np.meshgrid(*[spec.axis(a).values for a in others], indexing="ij")
    v_rev = np.asarray(
        evaluate({a: g for a, g in zip(others, grids, strict=True)}, f"v_rev_{transporter}")[
            f"v_rev_{transporter}"
        ]
    )
    inside = (v_rev > lo) & (v_rev < hi)
    assert inside.any() and (~inside).any()  # both cases are exercised
    b = ds[f"boundary_{voltage}"].values
    assert b.shape == grids[0].shape + (4,)
    assert_located(b[..., 0][inside], v_rev[inside], hi - lo)
    np.testing.assert_array_equal(ds["n_crossings"].values, inside.astype(np.int8))
    assert np.all(np.isnan(b[..., 1:]))
    assert np.all(np.isnan(b[..., 0][~inside]))
    # the side above the crossing: ΔG = qF(V − V_rev), so its sign above V_rev is sign(q)
    q = REGISTRY.transporters[transporter].charge
    assert np.all(ds[f"side_{voltage}"].values[..., 0][inside] == np.sign(q))
    assert ds[f"v_rev_{transporter}"].dims == tuple(others)
    assert ds.attrs["closed_form"] == f"v_rev_{transporter}"
    assert ds.attrs["closed_form_max_rel_deviation"] <= TOL
    assert ds.attrs["closed_form_single_crossing"]
    assert np.all(ds[f"status_boundary_{voltage}"].values[..., 0][inside] == Status.CONVERGED)


@pytest.mark.parametrize("transporter", ["kcc2", "nkcc1"])
@pytest.mark.parametrize("spacing", ["log", "linear"])
def test_chloride_boundary_is_equilibrium_concentration(transporter, spacing):
    spec = spec_of(
        {
            "k_o": {"start": "2 mM", "stop": "12 mM", "num": 6, "spacing": "log"},
            "cl_i": {"start": "1 mM", "stop": "150 mM", "num": 25, "spacing": spacing},
        },
        outputs=[f"dG_{transporter}"],
        parameters={"na_i": "15 mM"},
    )
    ds = boundary_along(spec, f"dG_{transporter}", "cl_i").dataset
    name = f"cl_i_eq_{transporter}"
    k_o = spec.axis("k_o").values
    exact = np.asarray(evaluate({"k_o": k_o, "na_i": 15.0}, name)[name])
    assert np.all((exact > 1) & (exact < 150))
    assert_located(ds["boundary_cl_i"].values[:, 0], exact, 149.0)
    assert np.all(ds["n_crossings"].values == 1)
    assert ds.attrs["closed_form"] == name
    np.testing.assert_allclose(ds[name].values, exact, rtol=1e-13)
    assert ds["boundary_cl_i"].attrs["units"] == "mM"
    assert ds["boundary_cl_i"].attrs["long_name"]


@pytest.mark.parametrize(
    ("output", "exact"), [("i_ncx", "v_rev_ncx"), ("df_gaba", "e_gaba"), ("dG_cl", "e_cl")]
)
def test_other_closed_forms_along_vm(output, exact):
    """I_NCX (GPB 2010) vanishes at V_rev exactly; df_gaba at E_GABA; ΔG_Cl at E_Cl."""
    spec = spec_of(
        {
            "vm": {"start": "-120 mV", "stop": "60 mV", "num": 19},
            "cl_i": {"values": ["4 mM", "8 mM"]},
            "na_i": {"values": ["8 mM", "12 mM", "20 mM"]},
        },
        outputs=[output],
    )
    ds = boundary_along(spec, output, "vm").dataset
    assert ds.attrs["closed_form"] == exact
    assert ds.attrs["closed_form_max_rel_deviation"] <= TOL
    assert np.all(ds["n_crossings"].values == 1)
    assert_located(ds["boundary_vm"].values[..., 0], ds[exact].values, 180.0)


def test_reference_value_v_rev_ncx_chapter():
    """Chapter example: E_Na = 70 mV, E_Ca = 125 mV give V_rev = −40 mV (physics.md)."""
    spec = spec_of(
        {"vm": {"start": "-100 mV", "stop": "0 mV", "num": 11}},
        parameters={"na_i": "10.5525 mM", "ca_i": "172.46 nM"},
    )
    ds = boundary_along(spec, "dG_ncx", "vm").dataset
    assert ds["boundary_vm"].dims == ("crossing",)
    assert ds["boundary_vm"].values[0] == pytest.approx(-40.0, abs=2e-3)
    assert ds["boundary_vm"].values[0] == pytest.approx(float(ds["v_rev_ncx"]), rel=TOL)


# --- crossings of synthetic functions -------------------------------------------
def test_zero_one_two_crossings():
    def f(x, a, c):  # a = 0: one crossing at x = c; a = 1: c − (x − 0.5)², two or none
        return jnp.where(a > 0.5, c - (x - 0.5) ** 2, x - c)

    x = np.linspace(0.0, 1.0, 21)
    a = np.array([0.0, 1.0, 1.0, 0.0])
    c = np.array([0.337, 0.04, -0.01, 1.5])
    r = find_crossings(f, x, [a, c], max_crossings=3)
    np.testing.assert_array_equal(r.n_crossings, [1, 2, 0, 0])
    assert_located(r.roots[0, :1], [0.337], 1.0)
    assert_located(r.roots[1, :2], [0.3, 0.7], 1.0)
    assert (
        np.isnan(r.roots[0, 1:]).all() and np.isnan(r.roots[1, 2]) and np.isnan(r.roots[2:]).all()
    )
    np.testing.assert_array_equal(r.side[:2], [[1, 0, 0], [1, -1, 0]])
    np.testing.assert_array_equal(
        r.status[1], [Status.CONVERGED, Status.CONVERGED, Status.NO_ROOT_IN_RANGE]
    )
    assert not r.overflow.any()
    assert r.n_evaluations == r.n_grid_evaluations + r.iterations.sum()


def test_plain_function_without_other_inputs_and_exact_sample_root():
    r = find_crossings(lambda x: x**3 - 2.0 * x - 5.0, np.linspace(0, 4, 9))
    assert r.roots.shape == (4,)
    assert r.n_crossings == 1
    assert r.roots[0] == pytest.approx(2.0945514815423265, rel=1e-12)  # Newton's cubic
    # a root exactly on a sample is one crossing, not two
    r = find_crossings(lambda x: x - 0.5, np.linspace(0, 1, 5))
    assert r.n_crossings == 1 and r.roots[0] == 0.5


def test_overflow_keeps_the_first_k_in_order():
    x = np.linspace(0.1, 10.0, 397)
    r = find_crossings(lambda x, w: jnp.sin(w * x), x, [np.array([3.0])], max_crossings=2)
    exact = np.arange(1, 10) * np.pi / 3.0
    assert r.n_crossings[0] == exact.size and r.overflow[0]
    assert_located(r.roots[0], exact[:2], 10.0)


def test_log_axis_and_unsorted_samples():
    x = np.array([50.0, 1.0, 7.0, 3.0, 20.0])
    r = find_crossings(lambda x: jnp.log(x) - np.log(4.2), x, log=True)
    assert r.n_crossings == 1
    assert r.roots[0] == pytest.approx(4.2, rel=1e-12)
    assert r.side[0] == 1


def test_nan_samples_do_not_bracket():
    f = lambda x: jnp.where(x > 0.65, jnp.nan, x - 0.3)  # noqa: E731
    r = find_crossings(f, np.linspace(0, 1, 11))
    assert r.n_crossings == 1 and r.n_nan == 4
    assert r.roots[0] == pytest.approx(0.3, abs=1e-12)


def test_brent_root_scalar_and_iteration_limit():
    g = lambda x: jnp.exp(x) - 3.0  # noqa: E731
    root, froot, it, ok = brent_root(g, 0.0, 2.0, g(0.0), g(2.0), xtol=1e-14)
    assert bool(ok) and float(root) == pytest.approx(np.log(3.0), rel=1e-14) and int(it) < 15
    _, _, it, ok = brent_root(g, 0.0, 2.0, g(0.0), g(2.0), xtol=1e-14, maxiter=2)
    assert not bool(ok) and int(it) == 2


def test_input_errors_are_one_line():
    spec = spec_of(
        {"vm": {"start": "-90 mV", "stop": "0 mV", "num": 4}, "na_i": {"values": ["10 mM"]}}
    )
    cases = [
        (dict(output="dG_ncxx", along="vm"), "did you mean 'dG_ncx'"),
        (dict(output="mode_ncx", along="vm"), "dG_ncx"),
        (dict(output="dG_ncx", along="k_o"), "axes: vm, na_i"),
        (dict(output="dG_ncx", along="na_i"), "at least 2"),
        (dict(output="dG_ncx", along="vm", max_crossings=0), "1..127"),
        (dict(output="dG_ncx", along="vm", level=float("nan")), "finite"),
    ]
    for kw, needle in cases:
        with pytest.raises(ConfigError) as ei:
            boundary_along(spec, **kw)
        assert needle in str(ei.value) and "\n" not in str(ei.value)
    with pytest.raises(ConfigError, match="design"):
        boundary_along(
            parse_config(
                {
                    "name": "s",
                    "design": {"method": "random", "n": 8},
                    "axes": {"vm": {"start": "-90 mV", "stop": "0 mV"}},
                    "outputs": ["dG_ncx"],
                }
            ),
            "dG_ncx",
            "vm",
        )


# --- steady-state outputs (kernels/steady_state.py) ------------------------------
needs_cl_ss = pytest.mark.skipif(
    "df_gaba_ss" not in REGISTRY.outputs,
    reason="df_gaba_ss (chloride steady state) is not in the registry yet",
)


@needs_cl_ss
def test_gaba_switch_at_steady_state_matches_closed_form():
    """With P_HCO3/P_Cl = 0, E_GABA,ss = E_Cl,ss (physics.md closed form) equals V_m where
    U_K (E_K − V) + 2 U_N (E_Na + E_K − 2V) = 0; γ g_Cl drops out, so p_kcc2* is explicit."""
    spec = spec_of(
        {
            "p_kcc2": {"start": 0, "stop": 1, "num": 11},
            "k_o": {"values": ["3 mM", "3.5 mM", "5 mM"]},
        },
        outputs=["df_gaba_ss"],
        parameters={"p_hco3_cl": 0, "vm": "-70 mV"},
    )
    ds = boundary_along(spec, "df_gaba_ss", "p_kcc2").dataset
    p = spec.parameters
    u_n = p["u_nkcc1"] * (p["rho_nkcc1"] + (1 - p["rho_nkcc1"]) * p["p_nkcc1"])
    for k_o in spec.axis("k_o").values:
        e = evaluate({"k_o": k_o}, ["e_k", "e_na"])
        e_k, e_na, v = float(e["e_k"]), float(e["e_na"]), -70.0
        u_k = 2 * u_n * (e_na + e_k - 2 * v) / (v - e_k)
        p_star = (1 - u_k / p["u_kcc2"]) / (1 - p["rho_kcc2"])
        got = ds["boundary_p_kcc2"].sel(k_o=k_o).values
        assert 0 < p_star < 1 and int(ds["n_crossings"].sel(k_o=k_o)) == 1
        assert got[0] == pytest.approx(p_star, abs=TOL)
        assert int(ds["side_p_kcc2"].sel(k_o=k_o)[0]) == 1  # depolarizing above the switch


@pytest.mark.skipif(
    "i_ncx_ss" not in REGISTRY.outputs,
    reason="i_ncx_ss (calcium steady state) is not in the registry yet",
)
def test_ncx_mode_boundary_at_steady_state_is_a_sign_change_of_i_ncx_ss():
    spec = spec_of(
        {
            "vm": {"start": "-120 mV", "stop": "60 mV", "num": 19},
            "na_i": {"values": ["8 mM", "15 mM"]},
        },
        outputs=["i_ncx_ss"],
    )
    ds = boundary_along(spec, "i_ncx_ss", "vm").dataset
    roots = ds["boundary_vm"].values[:, 0]
    assert np.all(ds["n_crossings"].values >= 1) and np.all(np.isfinite(roots))
    assert np.all(ds["status_boundary_vm"].values[:, 0] == Status.CONVERGED)
    from sweep.execute import evaluate_points

    h = 1e-9 * 180.0
    na = np.repeat(spec.axis("na_i").values, 2)
    vm = np.ravel(np.stack([roots - h, roots + h], axis=1))
    i = evaluate_points({"vm": vm, "na_i": na}, ["i_ncx_ss"])["i_ncx_ss"].reshape(-1, 2)
    side = ds["side_vm"].values[:, 0]
    assert np.all(np.sign(i[:, 1]) == side) and np.all(np.sign(i[:, 0]) == -side)


@needs_cl_ss
def test_gaba_polarity_ss_adaptive_equals_dense():
    spec = spec_of(
        {
            "p_kcc2": {"start": 0, "stop": 1, "num": 41},
            "k_o": {"start": "2 mM", "stop": "12 mM", "num": 33, "spacing": "log"},
        },
        outputs=["gaba_polarity_ss"],
    )
    res = boundary_adaptive(spec, "gaba_polarity_ss", check_dense=True)
    assert res.dataset.attrs["dense_match"]
    assert res.dataset.attrs["n_evaluations"] < res.dataset.attrs["n_dense"] / 2


# --- adaptive refinement --------------------------------------------------------
def test_boundary_cells_of_a_small_map():
    v = np.array([[1, 1, -1], [1, 1, 1], [1, 1, 1]], dtype=np.int8)
    cells = boundary_cells(v)
    np.testing.assert_array_equal(
        cells, [[False, True, False], [False, False, False], [False, False, False]]
    )
    assert not boundary_cells(np.ones((4, 1, 3))).any()
    line = boundary_cells(np.array([[0, 0, 1, 1]]))  # a size-1 axis is not a cell axis
    np.testing.assert_array_equal(line, [[False, True, False, False]])


def _dense(fn, axes):
    grids = np.meshgrid(*axes, indexing="ij")
    return np.asarray(fn(*[jnp.asarray(g) for g in grids]))


MAPS_2D = {
    "disc": lambda a, b: jnp.sign(a**2 + b**2 - 0.4).astype(jnp.int8),
    "three modes": lambda a, b: (
        jnp.where(b > 0.4 * jnp.sin(3 * a), 1, -1) * (jnp.abs(a - b) > 0.05)
    ).astype(jnp.int8),
    # a narrow bump pokes through faces of coarse cells between their corners
    "bump": lambda a, b: jnp.sign(b + 0.4 - 0.6 * jnp.exp(-(((a - 0.31) / 0.02) ** 2))).astype(
        jnp.int8
    ),
}


@pytest.mark.parametrize("name", list(MAPS_2D))
def test_adaptive_equals_dense_2d(name):
    fn = MAPS_2D[name]
    axes = [np.linspace(-1, 1, 129), np.linspace(-1, 1, 101)]
    res = adaptive_cells(fn, axes)
    dense = _dense(fn, axes)
    np.testing.assert_array_equal(res.boundary_cell, boundary_cells(dense))
    np.testing.assert_array_equal(res.values, dense)
    assert res.boundary_cell.any()
    assert res.n_evaluations < res.n_dense / 4, (res.n_evaluations, res.n_dense)
    assert res.evaluated.sum() == res.n_evaluations
    if name == "bump":
        assert res.n_reopened > 0  # the repair of faces was needed and worked


def test_adaptive_equals_dense_3d_synthetic():
    fn = lambda a, b, c: jnp.sign(c - 0.5 - 0.3 * jnp.sin(3 * a) * jnp.cos(2 * b)).astype(  # noqa: E731
        jnp.int8
    )
    axes = [np.linspace(-1, 1, 65), np.linspace(-1, 1, 50), np.linspace(0, 1, 33)]
    res = adaptive_cells(fn, axes)
    np.testing.assert_array_equal(res.boundary_cell, boundary_cells(_dense(fn, axes)))
    assert res.n_evaluations < res.n_dense / 4


def test_adaptive_mode_ncx_3d_from_spec():
    spec = spec_of(
        {
            "vm": {"start": "-120 mV", "stop": "60 mV", "num": 65},
            "na_i": {"start": "5 mM", "stop": "50 mM", "num": 33, "spacing": "log"},
            "ca_i": {"start": "50 nM", "stop": "10 uM", "num": 17, "spacing": "log"},
        },
        outputs=["mode_ncx"],
    )
    res = boundary_adaptive(spec, "mode_ncx", check_dense=True)
    ds = res.dataset
    assert ds.attrs["dense_match"] and ds.attrs["dense_mismatch_cells"] == 0
    assert ds.attrs["n_evaluations"] < ds.attrs["n_dense"] / 3
    assert ds["boundary_cell"].dtype == bool and ds["boundary_cell"].dims == spec.axis_names
    assert ds["mode_ncx"].attrs["flag_meanings"] == "reverse equilibrium forward"
    assert "fewer" in res.summary


def test_adaptive_float_output_uses_sign_and_levels_zero_is_dense():
    spec = spec_of(
        {
            "vm": {"start": "-120 mV", "stop": "60 mV", "num": 37},
            "na_i": {"start": "5 mM", "stop": "50 mM", "num": 20, "spacing": "log"},
        }
    )
    ds = boundary_adaptive(spec, "dG_ncx", level=1.0, check_dense=True).dataset
    assert ds.attrs["dense_match"] and "sign_dG_ncx" in ds
    ds0 = boundary_adaptive(spec, "dG_ncx", levels=0).dataset
    assert ds0.attrs["n_evaluations"] == ds0.attrs["n_dense"] == 37 * 20
    res = adaptive_cells(
        lambda a: jnp.where(a > 0.55, NOT_WRITTEN, 1).astype(jnp.int8), [np.linspace(0, 1, 11)]
    )
    assert res.boundary_cell.sum() == 1 and res.boundary_cell[5]


def test_adaptive_input_errors():
    spec = spec_of({"vm": {"start": "-90 mV", "stop": "0 mV", "num": 9}}, outputs=["mode_ncx"])
    with pytest.raises(ConfigError, match="does not apply"):
        boundary_adaptive(spec, "mode_ncx", level=1.0)
    with pytest.raises(ConfigError, match=">= 0"):
        boundary_adaptive(spec, "mode_ncx", levels=-1)


# --- CLI end to end --------------------------------------------------------------
CONFIG = """
name: tiny
parameters: {ca_i: 100 nM}
axes:
  vm:   {start: -120 mV, stop: 60 mV, num: 31}
  na_i: {start: 5 mM, stop: 50 mM, num: 9, spacing: log}
outputs: [dG_ncx, mode_ncx]
"""


@pytest.fixture
def config(tmp_path):
    p = tmp_path / "tiny.yaml"
    p.write_text(CONFIG)
    return p


def test_cli_along_end_to_end(config, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["boundary", str(config), "--output", "dG_ncx", "--along", "vm"]) == 0
    out = capsys.readouterr().out
    assert "closed form v_rev_ncx" in out
    store = tmp_path / "results" / "tiny.boundary.zarr"  # the default path
    ds = xr.open_zarr(store)
    assert ds["boundary_vm"].dims == ("na_i", "crossing") and ds.sizes["crossing"] == 4
    assert ds["n_crossings"].dtype == np.int8
    for v in list(ds.data_vars) + list(ds.coords):
        assert "units" in ds[v].attrs and "long_name" in ds[v].attrs, v
    cfg = json.loads(ds.attrs["config"])
    assert cfg["name"] == "tiny" and ds.attrs["config_hash"]
    assert ds.attrs["closed_form_max_rel_deviation"] <= TOL
    np.testing.assert_allclose(ds["na_i"].values, np.geomspace(5, 50, 9), rtol=1e-14)
    # refuses to overwrite without --overwrite; one line on stderr
    assert main(["boundary", str(config), "--output", "dG_ncx", "--along", "vm"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--overwrite" in err
    assert (
        main(
            ["boundary", str(config), "--output", "dG_ncx", "--along", "vm", "--overwrite"]
            + ["--max-crossings", "2", "--level", "1.5"]
        )
        == 0
    )
    ds = xr.open_zarr(store)
    assert ds.sizes["crossing"] == 2 and ds.attrs["boundary_level"] == 1.5
    assert "closed_form" not in ds.attrs  # level ≠ 0: no closed form claimed


def test_cli_adaptive_end_to_end(config, tmp_path, capsys):
    store = tmp_path / "a.zarr"
    rc = main(
        ["boundary", str(config), "--output", "mode_ncx", "--adaptive", "--levels", "2"]
        + ["--check-dense", "--store", str(store)]
    )
    assert rc == 0
    out = capsys.readouterr().out
    assert "fewer" in out and "match" in out
    ds = xr.open_zarr(store)
    assert ds.attrs["levels"] == 2 and ds.attrs["dense_match"]
    assert ds.attrs["n_evaluations"] < ds.attrs["n_dense"]
    assert set(ds.data_vars) == {"boundary_cell", "mode_ncx", "evaluated"}


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--output", "dG_ncx"], "exactly one of --along"),
        (["--output", "dG_ncx", "--along", "vm", "--adaptive"], "exactly one of"),
        (["--along", "vm"], "--output"),
        (["--output", "dG_nxc", "--along", "vm"], "did you mean 'dG_ncx'"),
        (["--output", "dG_ncx", "--along", "ca_i"], "axes: vm, na_i"),
        (["--output", "mode_ncx", "--along", "vm"], "--adaptive"),
        (["--output", "dG_ncx", "--along", "vm", "--max-crossings", "0"], "1..127"),
        (["--output", "dG_ncx", "--along", "vm", "--max-crossings", "x"], "1..127"),
        (["--output", "dG_ncx", "--along", "vm", "--level", "abc"], "--level"),
        (["--output", "dG_ncx", "--along", "vm", "--levels", "2"], "--adaptive"),
        (["--output", "mode_ncx", "--adaptive", "--levels", "-1"], ">= 0"),
        (["--output", "mode_ncx", "--adaptive", "--max-crossings", "2"], "--along"),
    ],
)
def test_cli_bad_arguments_exit_2_with_one_line(config, tmp_path, capsys, args, needle):
    rc = main(["boundary", str(config), "--store", str(tmp_path / "x.zarr"), *args])
    err = capsys.readouterr().err
    assert rc == 2
    assert err.count("\n") == 1 and needle in err, err
    assert not (tmp_path / "x.zarr").exists()


def test_cli_missing_config(tmp_path, capsys):
    rc = main(["boundary", str(tmp_path / "nope.yaml"), "--output", "dG_ncx", "--along", "vm"])
    assert rc == 2 and capsys.readouterr().err.count("\n") == 1


def test_boundary_status_speaks_the_one_vocabulary():
    """Refinement status codes are kernels.solvers.Status (no re-typed table)."""
    from kernels.solvers import MESSAGES, flag_attrs

    spec = spec_of({"vm": {"start": "-120 mV", "stop": "60 mV", "num": 7}})
    res = boundary_along(spec, "dG_ncx", "vm", max_crossings=3)
    st = res.dataset["status_boundary_vm"]
    codes = [Status.CONVERGED, Status.NO_ROOT_IN_RANGE, Status.NOT_CONVERGED]
    assert {k: st.attrs[k] for k in ("flag_values", "flag_meanings")} == flag_attrs(codes)
    assert MESSAGES[Status.NOT_CONVERGED] in st.attrs["description"]
    # one crossing (V_rev) in slot 0, the other slots hold no crossing
    np.testing.assert_array_equal(
        st.values, [Status.CONVERGED, Status.NO_ROOT_IN_RANGE, Status.NO_ROOT_IN_RANGE]
    )
    # the iteration limit is NOT_CONVERGED
    c = find_crossings(lambda x: x**3 - 0.3, np.linspace(0, 1, 3), maxiter=1)
    assert c.status[0] == Status.NOT_CONVERGED
