"""Units a reader can read (issue 17): CF attributes, reductions' attributes, per-derivative units."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
import xarray as xr
from helpers import write_config

from kernels.constants import F, R
from sweep.analysis.local_sensitivity import local_sensitivity
from sweep.cli import main
from sweep.execute import evaluate_grid
from sweep.plot import plot_map, select
from sweep.spec import ConfigError, parse_config
from sweep.units import derivative, derivative_unit, ureg

GRID = {
    "name": "cf",
    "axes": {
        "vm": {"start": "-100 mV", "stop": "20 mV", "num": 5},
        "na_i": {"start": "5 mM", "stop": "40 mM", "num": 4, "spacing": "log"},
        "k_o": {"values": ["3 mM", "5 mM"]},
    },
    "outputs": ["mode_ncx", "dG_ncx"],
    "reduce": [
        {"output": "mode_ncx", "stats": ["fraction_reverse"], "over": ["vm"]},
        {"output": "dG_ncx", "stats": ["min", "mean"], "over": ["vm", "k_o"]},
    ],
}


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cf")
    cfg, path = write_config(tmp, GRID, "cf.yaml")
    assert main(["run", str(cfg), "--scheduler", "synchronous"]) == 0
    return xr.open_zarr(path)


def test_cf_flags_conventions_and_spacing(store):
    assert store.attrs["Conventions"] == "CF-1.10"
    mode = store["mode_ncx"]
    assert "units" not in mode.attrs  # CF: flags carry flag_values/meanings, not units
    assert mode.attrs["flag_values"] == [-1, 0, 1]
    assert store["dG_ncx"].attrs["units"] == "kJ/mol"
    assert store["na_i"].attrs["spacing"] == "log"
    assert store["vm"].attrs["spacing"] == "linear"
    assert store["k_o"].attrs["spacing"] == "values"
    np.testing.assert_allclose(np.diff(np.log(store["na_i"].values)), np.log(8) / 3)


def test_evaluate_grid_reductions_carry_the_store_attributes(store):
    ds = evaluate_grid(parse_config(GRID))
    assert ds.attrs["Conventions"] == "CF-1.10"
    for name in ("mode_ncx_fraction_reverse", "dG_ncx_min", "dG_ncx_mean"):
        assert ds[name].attrs == store[name].attrs, name
        np.testing.assert_array_equal(ds[name].values, store[name].values)
    fr = ds["mode_ncx_fraction_reverse"].attrs
    assert fr["units"] == "1" and fr["statistic"] == "fraction_reverse"
    assert "flag_values" not in fr  # a fraction is not a flag
    for v in ("mode_ncx", "dG_ncx", "na_i", "vm"):
        assert ds[v].attrs == store[v].attrs, v


def test_derivative_unit_rule():
    assert derivative_unit("mV", "K") == "mV/K"
    assert derivative_unit("mV", "") == "mV"
    assert derivative_unit("", "mM") == "1/mM"
    assert derivative_unit("", "") == ""


@pytest.fixture(scope="module")
def sens():
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
    return local_sensitivity(spec, "cl_i,temperature")


def test_each_derivative_has_its_own_unit(sens):
    s = sens["sens_e_cl"]
    assert s.attrs["units_by_wrt"] == {"cl_i": "mV", "temperature": "mV/K"}
    dT = derivative(s, "temperature")
    assert dT.attrs["units"] == "mV/K" and dT.attrs["long_name"] == "∂(e_cl)/∂(temperature)"
    dc = derivative(s, "cl_i")
    assert dc.attrs["units"] == "mV" and dc.attrs["long_name"] == "∂(e_cl)/∂(ln cl_i)"
    # the unit is what pint reads: ∂E_Cl/∂T = E_Cl/T, a potential per temperature
    u = ureg()
    q = u.Quantity(dT.values, dT.attrs["units"])
    e_over_t = u.Quantity(sens["e_cl"].values, "mV") / u.Quantity(
        sens["temperature"].values[None, :], "K"
    )
    np.testing.assert_allclose(q.to("V/K").magnitude, e_over_t.to("V/K").magnitude, rtol=1e-12)
    # ∂E_Cl/∂ln Cl_i = RT/F (z = −1), in mV
    rt_f = R * sens["temperature"].values / F * 1e3
    np.testing.assert_allclose(dc.values, np.broadcast_to(rt_f, (5, 2)), rtol=1e-13)
    with pytest.raises(ValueError, match="wrt = 'na_i' is not allowed"):
        derivative(s, "na_i")


def test_plot_of_one_derivative_labels_its_unit(sens, tmp_path):
    da = select(sens, "sens_e_cl", {"wrt": "temperature"})
    assert da.attrs["units"] == "mV/K" and "wrt" not in da.dims
    fig = plot_map(sens, "sens_e_cl", x="cl_i", y="temperature", sel={"wrt": "temperature"})
    labels = [a.get_ylabel() for a in fig.axes]
    assert any("mV/K" in t for t in labels), labels
    fig.savefig(tmp_path / "d.png")
    with pytest.raises(ConfigError, match="--sel wrt='k_o' is not allowed"):
        select(sens, "sens_e_cl", {"wrt": "k_o"})


# --- display units ------------------------------------------------------------------
CA = {
    "name": "ca",
    "description": "",
    "axes": {
        "ca_i": {"start": "50 nM", "stop": "1 uM", "num": 6, "spacing": "log"},
        "vm": {"start": "-80 mV", "stop": "0 mV", "num": 5},
    },
    "outputs": ["dG_ncx", "i_ncx"],
}


def test_display_unit_rule():
    from sweep.units import display_unit, format_quantity, pretty_unit

    assert display_unit("mM", [5e-5, 1e-3]) == (1e3, "µM")
    assert display_unit("mM", [1e-4]) == (1e6, "nM")
    assert display_unit("mM", [2.0, 40.0]) == (1.0, "mM")
    assert display_unit("mV", [1e-4]) == (1.0, "mV")
    assert format_quantity(1e-4, "mM") == "100 nM"
    assert pretty_unit("uA/cm**2") == "µA/cm²"


def test_plan_and_list_show_display_units(tmp_path, capsys):
    cfg, _ = write_config(tmp_path, CA, "ca.yaml")
    assert main(["plan", str(cfg)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "sweep     ca"  # no trailing colon without a description
    assert "ca_i           log     0.05 … 1 µM  (6)" in out
    assert "(1 block of ≤ 30 points)" in out
    assert "µA/cm²" in out and "uA/cm**2" not in out
    assert main(["list"]) == 0
    ca_i = next(ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("  ca_i "))
    assert "100 nM" in ca_i and " mM " in ca_i  # stored unit column, default shown readably


def test_plot_axes_in_display_units_store_in_stored_units(tmp_path):

    ds = evaluate_grid(parse_config(CA))
    assert ds["ca_i"].attrs["units"] == "mM" and ds["ca_i"].values.max() == pytest.approx(1e-3)
    fig = plot_map(ds, "dG_ncx", x="ca_i", y="vm")
    ax = fig.axes[0]
    assert ax.get_xlabel() == "cytosolic free Ca²⁺ (µM)"
    # the data drawn stay in stored units; the tick labels are scaled
    mesh = ax.collections[0]
    xs = np.asarray(mesh.get_coordinates())[0, :, 0]
    assert xs.min() < 1e-4 and xs.max() < 2e-3
    fig.canvas.draw()
    labels = {t.get_text() for t in ax.get_xticklabels() if t.get_text()}
    assert labels & {"0.1", "1"}, labels
    fig.savefig(tmp_path / "ca.png")
    fig = plot_map(ds.sel(vm=-80.0), "dG_ncx", x="ca_i")
    assert fig.axes[0].get_xlabel() == "cytosolic free Ca²⁺ (µM)"
