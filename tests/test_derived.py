"""Derived outputs (config ``derived:``): parsed with ast, units checked with pint, run in the kernel."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from helpers import one_line, write_config
from hypothesis import given, settings
from hypothesis import strategies as st

from kernels.constants import F, R
from sweep.cli import main
from sweep.execute import evaluate_grid
from sweep.spec import ConfigError, parse_config, spec_from_canonical

BASE = {
    "name": "derived",
    "axes": {
        "vm": {"start": "-100 mV", "stop": "20 mV", "num": 5},
        "cl_i": {"start": "4 mM", "stop": "30 mM", "num": 3, "spacing": "log"},
    },
    "derived": {
        "gaba_drive": "e_gaba - e_k",
        "drive_v": {"expr": "e_gaba - vm", "units": "V", "long_name": "GABA driving force"},
        "cl_ratio_ln": "log(cl_i / cl_o)",
        "twice": "2 * gaba_drive",  # a derived output may use an earlier one
    },
    "outputs": ["e_gaba", "e_k", "gaba_drive", "drive_v", "cl_ratio_ln", "twice"],
}


def test_values_units_and_attributes(tmp_path):
    cfg, store = write_config(tmp_path, BASE)
    assert main(["run", str(cfg), "--scheduler", "processes"]) == 0  # rebuilt on workers
    ds = xr.open_zarr(store).load()
    np.testing.assert_array_equal(ds["gaba_drive"].values, ds["e_gaba"].values - ds["e_k"].values)
    np.testing.assert_allclose(
        ds["drive_v"].values, (ds["e_gaba"] - ds["vm"]).values / 1e3, rtol=1e-14
    )
    # ln(Cl_i/Cl_o) from the coordinates and the default Cl_o (independent of the kernel)
    cl_o = parse_config(BASE).parameters["cl_o"]
    want = np.log(ds["cl_i"].values / cl_o)
    np.testing.assert_allclose(ds["cl_ratio_ln"].values, np.broadcast_to(want, (5, 3)), rtol=1e-14)
    np.testing.assert_array_equal(ds["twice"].values, 2 * ds["gaba_drive"].values)
    assert ds["gaba_drive"].attrs["units"] == "mV"
    assert ds["drive_v"].attrs["units"] == "V"
    assert ds["drive_v"].attrs["long_name"] == "GABA driving force"
    assert ds["cl_ratio_ln"].attrs["units"] == ""
    assert ds["gaba_drive"].attrs["expression"] == "e_gaba - e_k"


def test_derived_of_a_steady_state_keeps_its_status():
    spec = parse_config(
        {
            "name": "ss",
            "axes": {"vm": {"values": ["-70 mV", "-60 mV"]}},
            "derived": {"drive_ss": "e_gaba_ss - vm"},
            "outputs": ["drive_ss", "e_gaba_ss"],
        }
    )
    assert "status_cl_i_ss" in spec.outputs
    ds = evaluate_grid(spec)
    np.testing.assert_allclose(
        ds["drive_ss"].values, ds["e_gaba_ss"].values - ds["vm"].values, rtol=1e-14
    )


def test_canonical_rebuild_is_identical():
    spec = parse_config(BASE)
    again = spec_from_canonical(spec.canonical)
    assert again.config_hash == spec.config_hash and again.outputs == spec.outputs
    # configs without derived outputs keep their resolved form (and hash)
    plain = {k: v for k, v in BASE.items() if k != "derived"}
    plain["outputs"] = ["e_gaba"]
    assert "derived" not in parse_config(plain).resolved


@settings(max_examples=8, deadline=None)
@given(
    a=st.floats(-5, 5, allow_nan=False, width=32),
    b=st.floats(-50, 50, allow_nan=False, width=32),
)
def test_linear_expressions_property(a, b):
    spec = parse_config(
        {
            "name": "lin",
            "axes": {"temperature": {"values": ["300 K", "310 K"]}},
            "derived": {"y": f"({a!r}) * e_k + ({b!r}) * e_na * (k_o / k_o) ** 2"},
            "outputs": ["y", "e_k", "e_na"],
        }
    )
    ds = evaluate_grid(spec)
    want = a * ds["e_k"].values + b * ds["e_na"].values
    np.testing.assert_allclose(ds["y"].values, want, rtol=1e-12, atol=1e-9)


def test_nernst_reference_through_an_expression():
    """E_K - (RT/F) ln(K_o/K_i) = 0: the Nernst potential rebuilt from inputs (Hille 2001, ch. 1)."""
    spec = parse_config(
        {
            "name": "nernst",
            "axes": {"k_o": {"values": ["3 mM", "10 mM"]}},
            "derived": {"nernst_k": "temperature * log(k_o / k_i)"},
            "outputs": ["e_k", "nernst_k"],
        }
    )
    ds = evaluate_grid(spec)
    np.testing.assert_allclose(ds["e_k"].values, ds["nernst_k"].values * R / F * 1e3, rtol=1e-12)
    assert ds["nernst_k"].attrs["units"] == "K"


@pytest.mark.parametrize(
    ("derived", "needles"),
    [
        ({"x": "e_gaba - e_kk"}, ["derived.x", "unknown name 'e_kk'", "did you mean 'e_k'"]),
        ({"x": "e_gaba - cl_i"}, ["derived.x", "cannot subtract 'cl_i' (mM)", "(mV)"]),
        ({"x": "log(cl_i)"}, ["log() needs a dimensionless argument", "mM"]),
        ({"x": "__import__('os').system('true')"}, ["derived.x", "is not allowed"]),
        ({"x": "e_k.real"}, ["derived.x", "is not allowed"]),
        ({"x": "e_k +"}, ["derived.x", "is not an expression"]),
        ({"x": "e_k ** vm"}, ["exponent of ** must be a number"]),
        ({"x": {"expr": "e_k", "units": "mM"}}, ["derived.x.units = 'mM'", "mV"]),
        ({"x": {"expr": "e_k", "unit": "mV"}}, ["derived.x: unknown key 'unit'", "units"]),
        ({"e_k": "e_gaba"}, ["derived.e_k", "already an output"]),
        ({"X": "e_k"}, ["derived: name 'X' is not allowed"]),
        ({"x": "sin(e_k)"}, ["function 'sin' is not allowed"]),
    ],
)
def test_bad_expressions_one_line(tmp_path, capsys, derived, needles):
    cfg, store = write_config(tmp_path, {**BASE, "derived": derived, "outputs": ["e_k"]})
    assert main(["plan", str(cfg)]) == 2
    line = one_line(capsys.readouterr().err)
    for n in needles:
        assert n in line, line
    with pytest.raises(ConfigError):
        parse_config({**BASE, "derived": derived, "outputs": ["e_k"]})
