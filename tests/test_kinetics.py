"""Kinetic flux laws: KCC2, NKCC1 (linear-thermodynamic) and NCX (GPB 2010).

References are plain-``math`` transcriptions of the formulas in physics.md
("Chloride steady state", "NCX kinetics"), written independently of the JAX
kernels; the thermodynamic ΔG values come from the registry's transporter
table, so the sign tests tie kinetics to thermodynamics.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import kernels
from kernels import REGISTRY, kinetics
from kernels.constants import F, R

SETTINGS = settings(max_examples=80, deadline=None, derandomize=True)

# Brief / physics.md defaults in stored units (µM and nM converted to mM).
EXPECTED_INPUTS: dict[str, tuple[float, str]] = {
    "u_kcc2": (0.3, "mM/s"),
    "u_nkcc1": (0.1, "mM/s"),
    "p_kcc2": (0.0, ""),
    "p_nkcc1": (0.0, ""),
    "rho_kcc2": (0.2, ""),
    "rho_nkcc1": (0.1, ""),
    "bumetanide": (0.0, "mM"),
    "vu0463271": (0.0, "mM"),
    "ic50_bumetanide": (2e-4, "mM"),  # 0.2 µM
    "ic50_vu0463271": (6.1e-5, "mM"),  # 61 nM
    "ibar_ncx": (4.5, "uA/cm**2"),
    "nu_ncx": (0.27, ""),
    "ksat_ncx": (0.32, ""),
    "km_cai": (3.59e-3, "mM"),  # 3.59 µM
    "km_cao": (1.3, "mM"),
    "km_nai": (12.29, "mM"),
    "km_nao": (87.5, "mM"),
    "k_dact": (1.5e-4, "mM"),  # 0.15 µM
    "n_act": (2.0, ""),
    "q10_ncx": (1.57, ""),  # GPB 2010
    "ko_gate_nkcc1": (0.0, ""),  # Wei et al.'s f([K]_o) gate: off
    "u_ae3": (0.0, "mM/s"),
    "u_ndcbe": (0.0, "mM/s"),
}
INACTIVATION = ("f_inact_ncx", "k_inact_ncx", "n_inact_ncx")


def _base(dtype=jnp.float64) -> dict:
    return {k: jnp.asarray(v, dtype) for k, v in REGISTRY.defaults().items()}


def _jit_outputs(names, keys, dtype=jnp.float64):
    """One jitted scalar function of ``keys`` -> registry outputs (compiled once)."""
    base = _base(dtype)
    names = REGISTRY.resolve_outputs(names)

    @jax.jit
    def f(vals):
        return REGISTRY.evaluate({**base, **vals}, names)

    def call(**kw):
        assert set(kw) <= set(keys)
        vals = {k: jnp.asarray(kw.get(k, REGISTRY.defaults()[k]), dtype) for k in keys}
        return {k: float(v) if v.dtype != jnp.int8 else int(v) for k, v in f(vals).items()}

    return call


# --- plain-math references (physics.md) --------------------------------------------------
def _rt_f(t: float) -> float:
    return R * t / F * 1e3


def i_ncx_math(
    vm, na_i, na_o, ca_i, ca_o, t, ibar, nu, ksat, km_cai, km_cao, km_nai, km_nao, kd, n, q10=1.57
) -> float:
    """physics.md "NCX kinetics", written out term by term (GPB 2010, with its Q10 factor)."""
    ibar = ibar * q10 ** ((t - 310.0) / 10.0)  # GPB: I_NCX × Q10NCX^((T − 310)/10)
    u = vm / _rt_f(t)
    ka = 1.0 / (1.0 + (kd / ca_i) ** n)
    d = (
        km_cai * na_o**3 * (1 + (na_i / km_nai) ** 3)
        + km_nao**3 * ca_i * (1 + ca_i / km_cai)
        + km_cao * na_i**3
        + na_i**3 * ca_o
        + na_o**3 * ca_i
    )
    num = math.exp(nu * u) * na_i**3 * ca_o - math.exp((nu - 1) * u) * na_o**3 * ca_i
    return ibar * ka * num / (d * (1 + ksat * math.exp((nu - 1) * u)))


def _ncx_args(p: dict) -> tuple:
    keys = ("vm", "na_i", "na_o", "ca_i", "ca_o", "temperature", "ibar_ncx", "nu_ncx")
    keys += ("ksat_ncx", "km_cai", "km_cao", "km_nai", "km_nao", "k_dact", "n_act")
    return tuple(float(p[k]) for k in keys)


# --- registry entries -------------------------------------------------------------------
@pytest.mark.parametrize("name", list(EXPECTED_INPUTS))
def test_inputs_declared_with_units_defaults_ranges(name):
    default, unit = EXPECTED_INPUTS[name]
    spec = REGISTRY.input(name)
    assert spec.unit == unit
    assert spec.default == pytest.approx(default, rel=1e-12)
    assert spec.long_name and spec.description
    assert spec.lower == 0.0
    if name.startswith(("p_", "rho_")) or name in ("nu_ncx", "ko_gate_nkcc1"):
        assert spec.upper == 1.0
    if unit == "mM":
        assert spec.concentration
        # drugs may be 0; affinities and IC50s must be > 0
        assert spec.lower_open == (name not in ("bumetanide", "vu0463271"))
    assert spec.reference, name


def test_inputs_units_parse_with_pint():
    pint = pytest.importorskip("pint")
    ureg = pint.UnitRegistry()
    for spec in kinetics.INPUTS:
        ureg.Quantity(1.0, spec.unit)  # raises on an unparsable unit


def test_inactivation_inputs_default_off():
    f = REGISTRY.input("f_inact_ncx")
    assert f.default == 0.0 and (f.lower, f.upper) == (0.0, 1.0)
    assert REGISTRY.input("k_inact_ncx").unit == "mM"
    assert REGISTRY.input("n_inact_ncx").unit == ""


def test_outputs_declared():
    units = {"j_kcc2": "mM/s", "j_nkcc1": "mM/s", "i_ncx": "uA/cm**2"}
    for name, unit in units.items():
        spec = REGISTRY.output(name)
        assert spec.unit == unit and spec.dtype == "float"
        assert spec.companions == ()


# --- reference values -------------------------------------------------------------------
def test_reference_values_at_defaults():
    res = kernels.evaluate({}, ["j_kcc2", "j_nkcc1", "i_ncx"])
    p = REGISTRY.defaults()
    # physics.md flux laws; U_K = 0.3·[(1 − 0) + 0]·1, U_N = 0.1·[0.1 + 0.9·0]·1.
    j_k = 0.3 * math.log(140.0 * 5.0 / (3.5 * 130.0))
    j_n = 0.01 * math.log(145.0 * 3.5 * 130.0**2 / (12.0 * 140.0 * 5.0**2))
    assert float(res["j_kcc2"]) == pytest.approx(j_k, rel=1e-13)
    assert float(res["j_nkcc1"]) == pytest.approx(j_n, rel=1e-13)
    assert float(res["i_ncx"]) == pytest.approx(i_ncx_math(*_ncx_args(p)), rel=1e-12)
    # At the defaults NCX runs forward (dG_ncx = −0.49583 kJ/mol, physics.md): inward current.
    assert float(res["i_ncx"]) < 0


def test_allosteric_activation_reference_points():
    assert float(kinetics.ncx_activation(1.5e-4, 1.5e-4, 2.0)) == pytest.approx(0.5, abs=1e-15)
    # (K/Ca)^n = (0.15/0.3)^2 = 1/4 -> Ka = 0.8
    assert float(kinetics.ncx_activation(3e-4, 1.5e-4, 2.0)) == pytest.approx(0.8, rel=1e-14)
    assert float(kinetics.ncx_activation(1e-6, 1.5e-4, 0.0)) == pytest.approx(0.5, rel=1e-15)
    # tiny Ca with a steep Hill coefficient: 0, never NaN
    assert float(kinetics.ncx_activation(1e-12, 1.5e-4, 50.0)) == 0.0


def test_inactivation_factor():
    assert float(kinetics.ncx_inactivation(12.0, 0.0, 20.0, 2.0)) == 1.0
    assert float(kinetics.ncx_inactivation(20.0, 1.0, 20.0, 2.0)) == pytest.approx(0.5, rel=1e-15)
    assert float(kinetics.ncx_inactivation(20.0, 0.4, 20.0, 3.0)) == pytest.approx(0.8, rel=1e-15)


def test_default_inactivation_leaves_current_unchanged():
    p = REGISTRY.defaults()
    on = kernels.evaluate({"f_inact_ncx": 0.5, "k_inact_ncx": 12.0}, "i_ncx")["i_ncx"]
    off = kernels.evaluate({}, "i_ncx")["i_ncx"]
    assert float(off) == pytest.approx(i_ncx_math(*_ncx_args(p)), rel=1e-12)
    # f = 0.5 at [Na]_i = K: factor 0.5 + 0.5·0.5 = 0.75
    assert float(on) == pytest.approx(0.75 * float(off), rel=1e-13)


def test_regulation_formulas():
    # physics.md "Regulation": U_K = u[(1 − p) + pρ](1 − block), U_N = u[ρ + (1 − ρ)p](1 − block)
    assert float(kinetics.kcc2_capacity(0.3, 1.0, 0.2)) == pytest.approx(0.06, rel=1e-14)
    assert float(kinetics.kcc2_capacity(0.3, 0.5, 0.2, 6.1e-5, 6.1e-5)) == pytest.approx(
        0.3 * 0.6 * 0.5, rel=1e-14
    )
    assert float(kinetics.nkcc1_capacity(0.1, 0.0, 0.1)) == pytest.approx(0.01, rel=1e-14)
    assert float(kinetics.nkcc1_capacity(0.1, 1.0, 0.1, 6e-4, 2e-4)) == pytest.approx(
        0.1 * 0.25, rel=1e-14
    )
    assert float(kinetics.block(2e-4, 2e-4)) == 0.5


def test_public_functions_check_concrete_arguments():
    with pytest.raises(ValueError, match="cl_i"):
        kinetics.j_kcc2(140.0, 3.5, -1.0, 130.0, 0.3)
    with pytest.raises(ValueError, match="p_kcc2"):
        kinetics.kcc2_capacity(0.3, 1.5, 0.2)
    params = kinetics.NCXParams.from_inputs(REGISTRY.defaults())
    with pytest.raises(ValueError, match="nu"):
        kinetics.i_ncx(-70.0, 12.0, 145.0, 1e-4, 2.0, 310.0, params._replace(nu=1.5))
    # ...but not traced ones: inside jit nothing raises.
    out = jax.jit(kinetics.j_kcc2)(140.0, 3.5, -1.0, 130.0, 0.3)
    assert np.isnan(float(out))


def test_public_i_ncx_matches_registry_output():
    p = REGISTRY.defaults()
    params = kinetics.NCXParams.from_inputs(p)
    direct = kinetics.i_ncx(-40.0, 20.0, 145.0, 3e-4, 2.0, 300.0, params)
    via = kernels.evaluate(
        {"vm": -40.0, "na_i": 20.0, "ca_i": 3e-4, "temperature": 300.0}, "i_ncx"
    )["i_ncx"]
    assert float(direct) == float(via)


# --- properties -------------------------------------------------------------------------
_NCX_KEYS = (
    "vm na_i na_o ca_i ca_o temperature ibar_ncx nu_ncx ksat_ncx km_cai km_cao km_nai "
    "km_nao k_dact n_act f_inact_ncx k_inact_ncx n_inact_ncx"
).split()
_ncx_eval = _jit_outputs(["i_ncx", "dG_ncx", "v_rev_ncx"], _NCX_KEYS)


def _log_uniform(lo, hi):
    return st.floats(math.log(lo), math.log(hi)).map(math.exp)


ncx_points = st.fixed_dictionaries(
    {
        "vm": st.floats(-150.0, 80.0),
        "na_i": _log_uniform(1.0, 100.0),
        "na_o": _log_uniform(50.0, 300.0),
        "ca_i": _log_uniform(1e-6, 1.0),
        "ca_o": _log_uniform(0.1, 10.0),
        "temperature": st.floats(273.0, 315.0),
        "ibar_ncx": _log_uniform(0.1, 50.0),
        "nu_ncx": st.floats(0.0, 1.0),
        "ksat_ncx": st.floats(0.0, 2.0),
        "km_cai": _log_uniform(1e-4, 1e-1),
        "km_cao": _log_uniform(0.1, 10.0),
        "km_nai": _log_uniform(1.0, 100.0),
        "km_nao": _log_uniform(10.0, 300.0),
        "k_dact": _log_uniform(1e-5, 1e-2),
        "n_act": st.floats(0.0, 6.0),
        "f_inact_ncx": st.floats(0.0, 0.99),
        "k_inact_ncx": _log_uniform(1.0, 100.0),
        "n_inact_ncx": st.floats(0.0, 4.0),
    }
)


@SETTINGS
@given(ncx_points)
def test_ncx_current_sign_is_sign_of_dG(pt):
    # physics.md: sign(I_NCX) == sign(ΔG_NCX) (outward = reverse = ΔG > 0).
    res = _ncx_eval(**pt)
    dg = res["dG_ncx"]
    assume(abs(dg) > REGISTRY.defaults()["mode_tolerance"])
    assert np.sign(res["i_ncx"]) == np.sign(dg), (res, pt)
    # and it is the physics.md formula (where that formula is well conditioned)
    ref = i_ncx_math(*(pt[k] for k in _NCX_KEYS[:15]))
    fac = (1 - pt["f_inact_ncx"]) + pt["f_inact_ncx"] / (
        1 + (pt["na_i"] / pt["k_inact_ncx"]) ** pt["n_inact_ncx"]
    )
    assert res["i_ncx"] == pytest.approx(ref * fac, rel=1e-9, abs=1e-300)


@SETTINGS
@given(ncx_points)
def test_ncx_current_is_zero_at_reversal_potential(pt):
    v_rev = _ncx_eval(**pt)["v_rev_ncx"]
    assume(abs(v_rev) < 1e4)
    at = _ncx_eval(**{**pt, "vm": v_rev})
    # |I| relative to the size of its two opposing terms (physics.md "exactly zero")
    u = v_rev / _rt_f(pt["temperature"])
    scale = (
        pt["ibar_ncx"]
        * (
            math.exp(pt["nu_ncx"] * u) * pt["na_i"] ** 3 * pt["ca_o"]
            + math.exp((pt["nu_ncx"] - 1) * u) * pt["na_o"] ** 3 * pt["ca_i"]
        )
        / (pt["na_o"] ** 3 * pt["ca_i"])  # D > [Na]_o³[Ca]_i
    )
    assert abs(at["i_ncx"]) <= 1e-12 * scale


def test_ncx_current_exactly_zero_when_dG_is_zero():
    # Chapter example: E_Na = 70 mV, E_Ca = 125 mV -> V_rev = −40 mV (physics.md).
    res = kernels.evaluate({"na_i": 10.5525, "ca_i": 1.7246e-4, "vm": -40.0}, ["i_ncx", "dG_ncx"])
    # the chapter's rounded values leave ΔG ≈ 6e-5 kJ/mol: a tiny current of the same sign
    assert np.sign(float(res["i_ncx"])) == np.sign(float(res["dG_ncx"]))
    assert abs(float(res["i_ncx"])) < 1e-5
    # exactly 0 where ΔG/RT evaluates to 0: ln terms cancel with vm = 0 at the equilibrium
    na_i, na_o, ca_o = 12.0, 145.0, 2.0
    ca_eq = ca_o * (na_i / na_o) ** 3  # ΔG = 0 at V_m = 0 (3 ln(Na_i/Na_o) = ln(Ca_i/Ca_o))
    params = kinetics.NCXParams.from_inputs(REGISTRY.defaults())
    i = kinetics.i_ncx(0.0, na_i, na_o, ca_eq, ca_o, 310.0, params)
    dg_rt = 3 * (math.log(na_i) - math.log(na_o)) - (math.log(ca_eq) - math.log(ca_o))
    if dg_rt == 0.0:
        assert float(i) == 0.0
    else:
        assert np.sign(float(i)) == np.sign(dg_rt)


_cc_keys = (
    "vm na_i na_o k_i k_o cl_i cl_o temperature u_kcc2 u_nkcc1 p_kcc2 p_nkcc1 rho_kcc2 "
    "rho_nkcc1 bumetanide vu0463271"
).split()
_cc_eval = _jit_outputs(
    ["j_kcc2", "j_nkcc1", "dG_kcc2", "dG_nkcc1", "mode_kcc2", "mode_nkcc1"], _cc_keys
)
cc_points = st.fixed_dictionaries(
    {
        "vm": st.floats(-120.0, 40.0),
        "na_i": _log_uniform(1.0, 100.0),
        "na_o": _log_uniform(50.0, 300.0),
        "k_i": _log_uniform(50.0, 200.0),
        "k_o": _log_uniform(1.0, 20.0),
        "cl_i": _log_uniform(1.0, 100.0),
        "cl_o": _log_uniform(50.0, 200.0),
        "temperature": st.floats(273.0, 315.0),
        "u_kcc2": st.floats(0.01, 2.0),
        "u_nkcc1": st.floats(0.01, 2.0),
        "p_kcc2": st.floats(0.0, 1.0),
        "p_nkcc1": st.floats(0.0, 1.0),
        "rho_kcc2": st.floats(0.01, 1.0),
        "rho_nkcc1": st.floats(0.01, 1.0),
        "bumetanide": st.floats(0.0, 1e-2),
        "vu0463271": st.floats(0.0, 1e-2),
    }
)


@SETTINGS
@given(cc_points)
def test_cotransporter_flux_is_minus_capacity_times_dG_over_RT(pt):
    res = _cc_eval(**pt)
    rt = R * pt["temperature"] * 1e-3
    u_k = float(
        kinetics.kcc2_capacity(pt["u_kcc2"], pt["p_kcc2"], pt["rho_kcc2"], pt["vu0463271"], 6.1e-5)
    )
    u_n = float(
        kinetics.nkcc1_capacity(
            pt["u_nkcc1"], pt["p_nkcc1"], pt["rho_nkcc1"], pt["bumetanide"], 2e-4
        )
    )
    # forward KCC2 = extrusion = J_KCC2 > 0; forward NKCC1 = uptake = J_NKCC1 > 0
    assert res["j_kcc2"] == pytest.approx(-u_k * res["dG_kcc2"] / rt, rel=1e-10, abs=1e-13)
    assert res["j_nkcc1"] == pytest.approx(-u_n * res["dG_nkcc1"] / rt, rel=1e-10, abs=1e-13)
    tol = REGISTRY.defaults()["mode_tolerance"]
    if abs(res["dG_kcc2"]) > tol:
        assert np.sign(res["j_kcc2"]) == res["mode_kcc2"]
    if abs(res["dG_nkcc1"]) > tol:
        assert np.sign(res["j_nkcc1"]) == res["mode_nkcc1"]


_eq_eval = _jit_outputs(["j_kcc2", "j_nkcc1", "cl_i_eq_kcc2", "cl_i_eq_nkcc1"], _cc_keys)


@SETTINGS
@given(cc_points)
def test_phosphorylation_and_drugs_never_move_the_reversal(pt):
    # The flux vanishes at the thermodynamic equilibrium [Cl]_i whatever p, ρ and drugs are.
    eq = _eq_eval(**pt)
    at_k = _eq_eval(**{**pt, "cl_i": eq["cl_i_eq_kcc2"]})
    at_n = _eq_eval(**{**pt, "cl_i": eq["cl_i_eq_nkcc1"]})
    lnk = abs(math.log(pt["k_i"])) + abs(math.log(pt["k_o"])) + abs(math.log(pt["cl_o"]))
    assert abs(at_k["j_kcc2"]) <= 1e-13 * pt["u_kcc2"] * (lnk + 10)
    lnn = lnk + abs(math.log(pt["na_i"])) + abs(math.log(pt["na_o"])) + abs(math.log(pt["cl_o"]))
    assert abs(at_n["j_nkcc1"]) <= 1e-13 * pt["u_nkcc1"] * (lnn + 10)
    # and the direction does not depend on regulation
    plain = {**pt, "p_kcc2": 0.0, "p_nkcc1": 0.0, "bumetanide": 0.0, "vu0463271": 0.0}
    ref = _eq_eval(**plain)
    assert np.sign(eq["j_kcc2"]) == np.sign(ref["j_kcc2"])
    assert np.sign(eq["j_nkcc1"]) == np.sign(ref["j_nkcc1"])


# --- batching and precision -------------------------------------------------------------
def _batch(dtype):
    rng = np.random.default_rng(7)
    n = 64
    vals = {
        "vm": rng.uniform(-120, 40, n),
        "na_i": np.exp(rng.uniform(np.log(2), np.log(80), n)),
        "ca_i": np.exp(rng.uniform(np.log(1e-6), np.log(1e-1), n)),
        "cl_i": np.exp(rng.uniform(np.log(2), np.log(80), n)),
        "p_kcc2": rng.uniform(0, 1, n),
        "n_act": rng.uniform(0, 5, n),
    }
    return {k: jnp.asarray(v, dtype) for k, v in vals.items()}


def _batched(dtype):
    base = _base(dtype)
    names = ("j_kcc2", "j_nkcc1", "i_ncx")
    return jax.jit(jax.vmap(lambda v: REGISTRY.evaluate({**base, **v}, names)))


def test_vmap_matches_python_loop_and_float32_matches_float64():
    b64 = _batch(jnp.float64)
    f64 = _batched(jnp.float64)(b64)
    base = _base(jnp.float64)
    one = jax.jit(lambda v: REGISTRY.evaluate({**base, **v}, ("j_kcc2", "j_nkcc1", "i_ncx")))
    for i in range(0, 64, 8):
        r = one({k: v[i] for k, v in b64.items()})
        for k in r:
            np.testing.assert_allclose(float(r[k]), float(f64[k][i]), rtol=1e-13, atol=0)
    f32 = _batched(jnp.float32)(_batch(jnp.float32))
    for k in f64:
        assert f32[k].dtype == jnp.float32
        # float32: ~1e-6 relative (log differences of O(1) terms)
        np.testing.assert_allclose(
            np.asarray(f32[k], float), np.asarray(f64[k]), rtol=2e-5, atol=1e-6
        )
