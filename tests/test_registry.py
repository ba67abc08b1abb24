"""The registry: names, units, defaults, ranges and the checked ``evaluate`` API.

Expected names, units and defaults are copied from physics.md ("Inputs" and
"Outputs (store variable names)" tables); the registry is the code's single
source of them, so these tests are where the two are held together.
"""

from __future__ import annotations

import doctest
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import kernels
import kernels.registry
from kernels import REGISTRY

SPECIES = ("na", "k", "cl", "ca", "hco3", "h")
TRANSPORTERS = ("kcc2", "nkcc1", "ncx", "nclx", "nka", "eaat3", "gat1", "nhe1", "ae3", "ndcbe")
ELECTROGENIC = ("ncx", "nclx", "nka", "eaat3", "gat1")  # physics.md table: q ≠ 0

# physics.md "Outputs" table, thermodynamic part: name -> (unit, dtype).
THERMO_OUTPUTS: dict[str, tuple[str, str]] = {
    **{f"e_{s}": ("mV", "float") for s in SPECIES},
    **{f"dG_{s}": ("kJ/mol", "float") for s in SPECIES},
    **{f"dG_{t}": ("kJ/mol", "float") for t in TRANSPORTERS},
    **{f"mode_{t}": ("", "int8") for t in TRANSPORTERS},
    **{f"v_rev_{t}": ("mV", "float") for t in ELECTROGENIC},
    "e_gaba": ("mV", "float"),
    "df_gaba": ("mV", "float"),
    "gaba_polarity": ("", "int8"),
    "cl_i_eq_kcc2": ("mM", "float"),
    "cl_i_eq_nkcc1": ("mM", "float"),
}

# physics.md "Inputs" table: name -> (default in stored units, stored unit).
# ca_i 100 nM = 1e-4 mM; glu_o, gaba_o 1 µM = 1e-3 mM; ca_m 100 nM = 1e-4 mM.
PHYSICS_INPUTS: dict[str, tuple[float, str]] = {
    "temperature": (310.0, "K"),
    "vm": (-70.0, "mV"),
    "na_i": (12.0, "mM"),
    "na_o": (145.0, "mM"),
    "k_i": (140.0, "mM"),
    "k_o": (3.5, "mM"),
    "cl_i": (5.0, "mM"),
    "cl_o": (130.0, "mM"),
    "ca_i": (1e-4, "mM"),
    "ca_o": (2.0, "mM"),
    "hco3_i": (16.0, "mM"),
    "hco3_o": (26.0, "mM"),
    "ph_i": (7.2, ""),
    "ph_o": (7.4, ""),
    "glu_i": (10.0, "mM"),
    "glu_o": (1e-3, "mM"),
    "gaba_i": (2.0, "mM"),
    "gaba_o": (1e-3, "mM"),
    "na_m": (5.0, "mM"),
    "ca_m": (1e-4, "mM"),
    "v_mito": (-160.0, "mV"),
    "dG_atp": (-55.0, "kJ/mol"),
    "p_hco3_cl": (0.2, ""),
}


# --- outputs --------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(THERMO_OUTPUTS))
def test_thermo_output_exists_with_metadata(name):
    unit, dtype = THERMO_OUTPUTS[name]
    spec = REGISTRY.output(name)
    assert spec.name == name
    assert spec.unit == unit
    assert spec.dtype == dtype
    assert spec.long_name.strip() and spec.description.strip()


def test_v_rev_only_for_electrogenic_transporters():
    for t in TRANSPORTERS:
        assert (f"v_rev_{t}" in REGISTRY.outputs) == (t in ELECTROGENIC), t


def test_every_output_has_metadata():
    # Holds for every output, kinetic and steady-state ones included.
    for name, spec in REGISTRY.outputs.items():
        assert spec.dtype in ("float", "int8"), name
        assert spec.long_name.strip() and spec.description.strip(), name
        if spec.dtype == "float":
            assert spec.unit.strip(), name
        else:
            assert spec.unit == "", name
        for c in spec.companions:
            assert c in REGISTRY.outputs, (name, c)


def test_transporter_attrs():
    # physics.md: the charge q is stored as the `charge` attribute of dG_<t>.
    q = {"kcc2": 0, "nkcc1": 0, "ncx": 1, "nclx": 1, "nka": -1, "eaat3": 2, "gat1": 1}
    q |= {"nhe1": 0, "ae3": 0, "ndcbe": 0}
    for t in TRANSPORTERS:
        attrs = REGISTRY.output(f"dG_{t}").attrs
        assert attrs["charge"] == q[t], t
        assert attrs["compartment"] == ("mito" if t == "nclx" else "plasma")
        assert attrs["forward"]
        assert REGISTRY.output(f"mode_{t}").attrs["flag_values"] == [-1, 0, 1]
    for t in ELECTROGENIC:
        assert REGISTRY.output(f"v_rev_{t}").attrs["charge"] == q[t]


def test_outputs_evaluate_with_declared_dtypes():
    res = kernels.evaluate({}, list(THERMO_OUTPUTS))
    assert set(res) == set(THERMO_OUTPUTS)
    for name, (_, dtype) in THERMO_OUTPUTS.items():
        v = res[name]
        assert v.shape == (), name
        if dtype == "int8":
            assert v.dtype == jnp.int8, name
            assert int(v) in (-1, 0, 1), name
        else:
            assert v.dtype == jnp.float64, name
            assert np.isfinite(float(v)), name


def test_registry_evaluate_is_jittable_and_matches_checked_evaluate():
    names = list(THERMO_OUTPUTS)
    p = {k: jnp.asarray(v) for k, v in REGISTRY.defaults().items()}
    jitted = jax.jit(lambda q: REGISTRY.evaluate(q, names))(p)
    eager = kernels.evaluate({}, names)
    for n in names:
        assert jitted[n].dtype == eager[n].dtype, n
        np.testing.assert_allclose(float(jitted[n]), float(eager[n]), rtol=1e-13, atol=1e-13)


def test_evaluate_elementwise_over_arrays():
    # The checked API also works elementwise on same-shaped arrays.
    vm = np.array([-65.0, -70.0])
    res = kernels.evaluate({"vm": vm}, "dG_na")
    assert res["dG_na"].shape == (2,)
    assert float(res["dG_na"][0]) == pytest.approx(-12.6942, abs=5e-5)  # physics.md


def test_resolve_outputs_keeps_order_and_dedupes():
    assert REGISTRY.resolve_outputs(["e_na", "dG_na", "e_na"]) == ("e_na", "dG_na")


def test_module_docstring_example():
    # The registry's docstring example (dG_na at −65 mV = −12.6942, physics.md) runs.
    result = doctest.testmod(kernels.registry, verbose=False)
    assert result.failed == 0 and result.attempted >= 1


# --- inputs ---------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(PHYSICS_INPUTS))
def test_defaults_equal_physics_table(name):
    default, unit = PHYSICS_INPUTS[name]
    spec = REGISTRY.input(name)
    assert spec.default == pytest.approx(default, rel=1e-15)
    assert spec.unit == unit
    assert REGISTRY.defaults()[name] == spec.default


def test_every_input_has_finite_default_inside_its_range():
    for name, spec in REGISTRY.inputs.items():
        assert math.isfinite(spec.default), name
        spec.check(spec.default)  # raises if outside the declared range
        assert spec.long_name.strip() and spec.description.strip(), name
        if spec.lower is not None:
            assert spec.default > spec.lower if spec.lower_open else spec.default >= spec.lower
        if spec.upper is not None:
            assert spec.default <= spec.upper, name


def test_input_ranges_follow_physics_md():
    # physics.md "Valid ranges": concentrations > 0, temperature > 0, p_hco3_cl ≥ 0.
    for name, (_, unit) in PHYSICS_INPUTS.items():
        spec = REGISTRY.input(name)
        if unit == "mM":
            assert spec.concentration, name
            assert spec.lower == 0.0 and spec.lower_open, name
            assert spec.allowed() == "must be > 0"
    t = REGISTRY.input("temperature")
    assert t.lower == 0.0 and t.lower_open
    r = REGISTRY.input("p_hco3_cl")
    assert r.lower == 0.0 and not r.lower_open and r.upper is None
    r.check(0.0)
    with pytest.raises(ValueError, match=">= 0"):
        r.check(-1e-9)
    # "p_*, rho_* in [0, 1]" (p_hco3_cl, a ratio, excepted).
    for name, spec in REGISTRY.inputs.items():
        if name.startswith(("p_", "rho_")) and name != "p_hco3_cl":
            assert (spec.lower, spec.upper) == (0.0, 1.0), name


# --- the checked API -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("inputs", "outputs", "fragments"),
    [
        ({"na_i": -3.0}, ["dG_na"], ["na_i", "-3.0", "> 0"]),
        ({"na_i": 0.0}, ["dG_na"], ["na_i", "0.0", "> 0"]),
        ({"na_i": float("nan")}, ["dG_na"], ["na_i", "nan"]),
        ({"na_i": float("inf")}, ["dG_na"], ["na_i", "inf", "finite"]),
        ({"vm": float("-inf")}, ["dG_na"], ["vm", "-inf", "finite"]),
        ({"na_i": np.array([12.0, -1.0])}, ["dG_na"], ["na_i", "-1.0"]),
        ({"na_i": "12 mM"}, ["dG_na"], ["na_i", "'12 mM'", "not a number"]),
        ({"temperature": 0.0}, ["e_na"], ["temperature", "0.0", "> 0"]),
        ({"p_hco3_cl": -0.2}, ["e_gaba"], ["p_hco3_cl", "-0.2", ">= 0"]),
        ({}, ["dG_nxc"], ["'dG_nxc'", "did you mean 'dG_ncx'"]),
        ({"na_ii": 12.0}, ["dG_na"], ["'na_ii'", "did you mean 'na_i'"]),
        ({"Vm": -70.0}, ["dG_na"], ["unknown input 'Vm'"]),
        ({}, ["v_rev_kcc2"], ["'v_rev_kcc2'"]),
    ],
)
def test_evaluate_bad_arguments(inputs, outputs, fragments):
    with pytest.raises(ValueError) as info:
        kernels.evaluate(inputs, outputs)
    for frag in fragments:
        assert frag in str(info.value), (frag, str(info.value))


def test_lookup_errors_suggest():
    with pytest.raises(ValueError, match="did you mean 'cl_o'"):
        REGISTRY.input("cl_0")
    with pytest.raises(ValueError, match="did you mean 'e_gaba'"):
        REGISTRY.output("e_gab")
