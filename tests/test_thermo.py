"""Equilibrium electrochemistry: Nernst, ΔG of one ion, E_GABA, sign codes.

Reference values carry their source: the chapter (docs/transporters-chapter.md),
the "Reference values" table of physics.md, or a hand computation below with
``math`` and ``scipy.constants`` (independent of ``kernels.constants``).
Property tests evaluate a batch of hypothesis-drawn points with one jitted,
vmapped call, so each example costs one kernel launch rather than one compile.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.constants as sc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import kernels
from kernels import REGISTRY, constants

# Independent constants (CODATA 2018 via scipy), not kernels.constants.
R_SC = sc.R  # J/(mol K)
F_SC = sc.physical_constants["Faraday constant"][0]  # C/mol
Z = {"na": 1, "k": 1, "cl": -1, "ca": 2, "hco3": -1, "h": 1}  # physics.md species valences

N = 16  # points per hypothesis example (one vmapped call each)
PROPS = settings(
    max_examples=25,
    deadline=None,
    # A batch of 16 points x ~24 inputs is a large example by design.
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.large_base_example],
)

CONC = [
    "na_i",
    "na_o",
    "k_i",
    "k_o",
    "cl_i",
    "cl_o",
    "ca_i",
    "ca_o",
    "hco3_i",
    "hco3_o",
]
THERMO_OUTPUTS = tuple(
    [f"e_{s}" for s in Z] + [f"dG_{s}" for s in Z] + ["e_gaba", "df_gaba", "gaba_polarity"]
)


def rt_f_mv(temperature: float | np.ndarray) -> float | np.ndarray:
    """RT/F in mV, from scipy constants."""
    return R_SC * temperature / F_SC * 1e3


def rt_kj(temperature: float | np.ndarray) -> float | np.ndarray:
    """RT in kJ/mol, from scipy constants."""
    return R_SC * temperature / 1e3


def assert_close(actual, desired, atol, msg: str = "") -> None:
    """|actual − desired| ≤ atol elementwise (atol may be an array: a per-point scale)."""
    actual, desired = np.asarray(actual, np.float64), np.asarray(desired, np.float64)
    err = np.abs(actual - desired)
    atol = np.broadcast_to(atol, err.shape)
    bad = ~(err <= atol)
    if bad.any():
        i = np.unravel_index(np.argmax(bad), err.shape)
        raise AssertionError(
            f"{msg} not close at {i}: {actual[i]!r} vs {np.broadcast_to(desired, err.shape)[i]!r}"
            f", |err| = {err[i]:.3g} > atol = {atol[i]:.3g}"
        )


# --- batched evaluation helpers ----------------------------------------------------
_COMPILED: dict = {}


def batch_eval(p: dict, names=THERMO_OUTPUTS, dtype=np.float64) -> dict[str, np.ndarray]:
    """Evaluate ``names`` at N points: ``p`` overrides the registry defaults (all cast to dtype)."""
    key = (tuple(names), np.dtype(dtype).name)
    if key not in _COMPILED:
        _COMPILED[key] = jax.jit(jax.vmap(lambda q: REGISTRY.evaluate(q, names)))
    full = {**REGISTRY.defaults(), **p}
    full = {k: jnp.asarray(np.broadcast_to(np.asarray(v, dtype), (N,))) for k, v in full.items()}
    return {k: np.asarray(v) for k, v in _COMPILED[key](full).items()}


def _single_point():
    """The jitted single-point evaluation (compiled once for the whole module)."""
    if "single" not in _COMPILED:
        _COMPILED["single"] = jax.jit(lambda q: REGISTRY.evaluate(q, THERMO_OUTPUTS))
    return _COMPILED["single"]


def _floats(lo: float, hi: float):
    return hnp.arrays(np.float64, N, elements=st.floats(lo, hi), fill=st.nothing())


@st.composite
def points(draw, p_hco3_cl=None):
    """A batch of N random input points (concentrations log-uniform over 1e-5..1e3 mM)."""
    p = {name: 10.0 ** draw(_floats(-5.0, 3.0)) for name in CONC}
    p["temperature"] = draw(_floats(270.0, 320.0))
    p["vm"] = draw(_floats(-200.0, 200.0))
    p["ph_i"] = draw(_floats(6.0, 8.5))
    p["ph_o"] = draw(_floats(6.0, 8.5))
    p["p_hco3_cl"] = draw(_floats(0.0, 2.0)) if p_hco3_cl is None else np.full(N, p_hco3_cl)
    p["mode_tolerance"] = draw(_floats(0.0, 1.0))
    return p


def conc(p: dict, s: str, where: str):
    """Concentration of s (mM) on side ``where`` ('i' or 'o'); [H⁺] = 10^(3 − pH) mM."""
    return 10.0 ** (3.0 - p[f"ph_{where}"]) if s == "h" else p[f"{s}_{where}"]


# --- constants ----------------------------------------------------------------------
def test_constants_match_scipy():
    # CODATA 2018 exact values (physics.md "Constants and units"); scipy.constants agrees.
    assert constants.R == sc.R == sc.N_A * sc.k
    assert math.isclose(constants.F, F_SC, rel_tol=1e-15)
    assert math.isclose(constants.F, sc.N_A * sc.e, rel_tol=1e-15)
    # F · 1 mV in kJ/mol: 96485.33 C/mol × 1e-3 V / 1e3 J/kJ.
    assert math.isclose(constants.KJ_PER_MOL_PER_MV, F_SC * 1e-6, rel_tol=1e-15)
    # RT/F = 26.71 mV and RT = 2.5775 kJ/mol at 310 K (constants.py docstrings).
    assert math.isclose(constants.rt_over_f_mv(310.0), rt_f_mv(310.0), rel_tol=1e-15)
    assert round(constants.rt_over_f_mv(310.0), 2) == 26.71
    assert math.isclose(constants.rt_kj(310.0), rt_kj(310.0), rel_tol=1e-15)
    assert round(constants.rt_kj(310.0), 4) == 2.5775
    assert constants.T_DEFAULT == 310.0
    assert constants.LN10 == math.log(10.0)


# --- reference values ---------------------------------------------------------------
def test_dG_na_chapter_worked_example():
    # Chapter, "The Electrochemical Driving Force": Na⁺ influx at 310 K, 145/12 mM,
    # −65 mV is approximately −12.7 kJ/mol; physics.md Reference values: −12.6942.
    hand = rt_kj(310.0) * math.log(12.0 / 145.0) + F_SC * (-65e-3) / 1e3
    direct = float(kernels.dG_ion(c_in=12.0, c_out=145.0, z=1, vm=-65.0, temperature=310.0))
    via_registry = float(kernels.evaluate({"vm": -65.0}, ["dG_na"])["dG_na"])
    assert direct == pytest.approx(hand, abs=1e-12)
    assert via_registry == pytest.approx(hand, abs=1e-12)
    assert direct == pytest.approx(-12.6942, abs=5e-5)
    assert round(direct, 1) == -12.7


@pytest.mark.parametrize(
    ("cl_i", "e_cl_ref"),
    # physics.md Reference values; chapter ("Regulation ... by Phosphorylation"): −87 → −58 mV.
    [(5.0, -87.0359), (15.0, -57.6879)],
)
def test_e_cl_chapter_shift(cl_i, e_cl_ref):
    hand = rt_f_mv(310.0) * math.log(cl_i / 130.0)  # E_Cl = (RT/F) ln([Cl]_i/[Cl]_o)
    e_cl = float(kernels.nernst(c_in=cl_i, c_out=130.0, z=-1, temperature=310.0))
    assert e_cl == pytest.approx(hand, abs=1e-10)
    assert e_cl == pytest.approx(e_cl_ref, abs=5e-5)
    assert round(e_cl) == {5.0: -87, 15.0: -58}[cl_i]
    res = kernels.evaluate({"cl_i": cl_i, "p_hco3_cl": 0.0}, ["e_cl", "e_gaba"])
    assert float(res["e_cl"]) == pytest.approx(hand, abs=1e-10)
    # physics.md "E_GABA": with r = 0, E_GABA = E_Cl.
    assert float(res["e_gaba"]) == pytest.approx(hand, abs=1e-10)


@pytest.mark.parametrize(("cl_i", "polarity"), [(5.0, -1), (15.0, 1)])
def test_gaba_polarity_switch_at_rest(cl_i, polarity):
    # Chapter: at 5 mM [Cl]_i GABA hyperpolarizes (E_GABA −87 < V_m = −70 mV); at
    # 15 mM (E_GABA −58 mV) it depolarizes. p_hco3_cl = 0 so E_GABA = E_Cl.
    res = kernels.evaluate(
        {"cl_i": cl_i, "vm": -70.0, "p_hco3_cl": 0.0}, ["gaba_polarity", "df_gaba", "e_gaba"]
    )
    assert res["gaba_polarity"].dtype == jnp.int8
    assert int(res["gaba_polarity"]) == polarity
    hand_df = rt_f_mv(310.0) * math.log(cl_i / 130.0) + 70.0
    assert float(res["df_gaba"]) == pytest.approx(hand_df, abs=1e-10)


def test_e_gaba_ghk_default_hand():
    # Hand GHK at the defaults: (RT/F) ln((5 + 0.2·16)/(130 + 0.2·26)) at 310 K.
    hand = rt_f_mv(310.0) * math.log((5.0 + 0.2 * 16.0) / (130.0 + 0.2 * 26.0))
    assert float(kernels.e_gaba(5.0, 130.0, 16.0, 26.0, 0.2, 310.0)) == pytest.approx(
        hand, abs=1e-10
    )
    assert float(kernels.evaluate({}, "e_gaba")["e_gaba"]) == pytest.approx(hand, abs=1e-10)
    assert hand == pytest.approx(-74.8685, abs=1e-4)


def test_default_nernst_potentials_hand():
    # Hand Nernst potentials at the physics.md defaults (310 K); e_k is also the
    # physics.md reference −98.544 mV (KCC2 row).
    d = REGISTRY.defaults()
    res = kernels.evaluate({}, [f"e_{s}" for s in Z] + [f"dG_{s}" for s in Z])
    for s, z in Z.items():
        ratio = conc(d, s, "o") / conc(d, s, "i")
        e_hand = rt_f_mv(310.0) / z * math.log(ratio)
        dG_hand = -rt_kj(310.0) * math.log(ratio) + z * F_SC * d["vm"] * 1e-6
        assert float(res[f"e_{s}"]) == pytest.approx(e_hand, abs=1e-10), s
        assert float(res[f"dG_{s}"]) == pytest.approx(dG_hand, abs=1e-10), s
    assert float(res["e_k"]) == pytest.approx(-98.544, abs=5e-4)


def test_h_from_ph():
    # [H⁺] = 10^(3 − pH) mM (physics.md "Constants and units").
    assert float(kernels.h_from_ph(7.2)) == pytest.approx(10.0**-4.2, rel=1e-14)
    assert float(kernels.h_from_ph(3.0)) == pytest.approx(1.0, rel=1e-15)
    # e_h from pH equals the Nernst potential of the concentrations.
    e_h = float(kernels.evaluate({}, "e_h")["e_h"])
    ref = float(kernels.nernst(c_in=kernels.h_from_ph(7.2), c_out=kernels.h_from_ph(7.4), z=1))
    assert e_h == pytest.approx(ref, abs=1e-10)
    assert e_h == pytest.approx(rt_f_mv(310.0) * -0.2 * math.log(10.0), abs=1e-10)


def test_sign_mode_and_polarity_codes():
    # physics.md: mode +1 if ΔG < −tol, −1 if ΔG > tol, 0 otherwise (strict inequalities).
    dG = jnp.array([-1.0, -1e-3, -1e-4, 0.0, 1e-4, 1e-3, 1.0, jnp.nan])
    mode = kernels.sign_mode(dG, 1e-3)
    assert mode.dtype == jnp.int8
    np.testing.assert_array_equal(mode, [1, 0, 0, 0, 0, 0, -1, 0])
    # Polarity: +1 depolarizing (df > tol), −1 hyperpolarizing (df < −tol).
    pol = kernels.polarity(dG, 1e-3)
    assert pol.dtype == jnp.int8
    np.testing.assert_array_equal(pol, [-1, 0, 0, 0, 0, 0, 1, 0])


def test_polarity_tolerance_is_mode_tolerance_over_f():
    # physics.md: polarity tol = mode_tolerance / F. For 1e-3 kJ/mol that is
    # 1 J/mol / 96485.33 C/mol = 1.0364e-5 V = 0.010364 mV (physics.md's
    # "1e-5 mV" is a units slip: the formula gives 1e-5 V). We test the formula.
    tol_mv = 1e-3 * 1e3 / F_SC * 1e3
    assert float(kernels.thermo.tolerance_mv(1e-3)) == pytest.approx(tol_mv, rel=1e-14)
    assert tol_mv == pytest.approx(0.010364, abs=1e-6)
    e_gaba = float(kernels.evaluate({}, "e_gaba")["e_gaba"])
    # df = e_gaba − vm; inside the band → 0, just outside → ±1.
    for shift, expected in [(0.9, 0), (-0.9, 0), (1.1, 1), (-1.1, -1)]:
        vm = e_gaba - shift * tol_mv
        pol = kernels.evaluate({"vm": vm}, "gaba_polarity")["gaba_polarity"]
        assert int(pol) == expected, shift
    # A wider tolerance widens the band proportionally.
    vm = e_gaba - 5 * tol_mv
    assert int(kernels.evaluate({"vm": vm}, "gaba_polarity")["gaba_polarity"]) == 1
    res = kernels.evaluate({"vm": vm, "mode_tolerance": 1e-2}, "gaba_polarity")
    assert int(res["gaba_polarity"]) == 0


# --- properties ---------------------------------------------------------------------
@PROPS
@given(
    c=hnp.arrays(np.float64, N, elements=st.floats(1e-5, 1e3), fill=st.nothing()),
    d=hnp.arrays(np.float64, N, elements=st.floats(1e-5, 1e3), fill=st.nothing()),
    k=st.floats(1e-3, 1e3),
    z=st.sampled_from([1, -1, 2, -2, 3]),
    t=st.floats(250.0, 350.0),
)
def test_nernst_antisymmetry_and_scaling(c, d, k, z, t):
    e = np.asarray(kernels.nernst(c_in=d, c_out=c, z=z, temperature=t))
    scale = rt_f_mv(t) * (np.abs(np.log(c)) + np.abs(np.log(d)) + abs(math.log(k)) + 1.0)
    tol = 1e-13 * scale
    # Swapping the sides, or the sign of z, flips the sign.
    assert_close(np.asarray(kernels.nernst(c_in=c, c_out=d, z=z, temperature=t)), -e, tol)
    assert_close(np.asarray(kernels.nernst(c_in=d, c_out=c, z=-z, temperature=t)), -e, tol)
    # E ∝ 1/z and ∝ T; invariant under scaling both concentrations.
    assert_close(z * e, np.asarray(kernels.nernst(c_in=d, c_out=c, z=1, temperature=t)), tol * 3)
    e2t = np.asarray(kernels.nernst(c_in=d, c_out=c, z=z, temperature=2 * t))
    assert_close(e2t, 2 * e, 2 * tol)
    assert_close(np.asarray(kernels.nernst(c_in=k * d, c_out=k * c, z=z, temperature=t)), e, tol)
    # Against the hand formula (RT/zF) ln(c_o/c_i).
    assert_close(e, rt_f_mv(t) / z * np.log(c / d), tol)


@PROPS
@given(
    c_in=hnp.arrays(np.float64, N, elements=st.floats(1e-5, 1e3), fill=st.nothing()),
    c_out=hnp.arrays(np.float64, N, elements=st.floats(1e-5, 1e3), fill=st.nothing()),
    vm=hnp.arrays(np.float64, N, elements=st.floats(-200.0, 200.0), fill=st.nothing()),
    z=st.sampled_from([1, -1, 2]),
)
def test_dG_ion_is_zF_times_distance_from_nernst(c_in, c_out, vm, z):
    # ΔG_X = zF(V_m − E_X): the ion is at equilibrium exactly at its Nernst potential.
    dG = np.asarray(kernels.dG_ion(c_in=c_in, c_out=c_out, z=z, vm=vm, temperature=310.0))
    e = np.asarray(kernels.nernst(c_in=c_in, c_out=c_out, z=z, temperature=310.0))
    fkj = F_SC * 1e-6  # kJ/mol per mV
    lmag = np.abs(np.log(c_in)) + np.abs(np.log(c_out))
    scale = rt_kj(310.0) * lmag + abs(z) * fkj * np.abs(vm)
    assert_close(dG, z * fkj * (vm - e), 1e-13 * scale + 1e-15)
    at_eq = np.asarray(kernels.dG_ion(c_in=c_in, c_out=c_out, z=z, vm=e, temperature=310.0))
    assert np.all(np.abs(at_eq) <= 1e-12 * scale + 1e-15)


@PROPS
@given(p=points())
def test_registry_potentials_match_kernels_and_hand(p):
    res = batch_eval(p)
    t = p["temperature"]
    for s, z in Z.items():
        ci, co = conc(p, s, "i"), conc(p, s, "o")
        lscale = np.abs(np.log(ci)) + np.abs(np.log(co)) + 1.0
        e_hand = rt_f_mv(t) / z * np.log(co / ci)
        assert_close(res[f"e_{s}"], e_hand, 1e-12 * rt_f_mv(t) * lscale, f"e_{s}")
        dG_hand = rt_kj(t) * np.log(ci / co) + z * F_SC * 1e-6 * p["vm"]
        atol = 1e-12 * (rt_kj(t) * lscale + F_SC * 1e-6 * np.abs(p["vm"]) * abs(z))
        assert_close(res[f"dG_{s}"], dG_hand, atol, f"dG_{s}")
        if s != "h":  # the single-point kernels take concentrations, not pH
            e_k = np.asarray(kernels.nernst(c_in=ci, c_out=co, z=z, temperature=t))
            assert_close(res[f"e_{s}"], e_k, 1e-12 * rt_f_mv(t) * lscale, f"e_{s}")


@PROPS
@given(p=points(p_hco3_cl=0.0))
def test_e_gaba_equals_e_cl_without_bicarbonate(p):
    res = batch_eval(p)
    scale = rt_f_mv(p["temperature"]) * (np.abs(np.log(p["cl_i"])) + np.abs(np.log(p["cl_o"])))
    assert_close(res["e_gaba"], res["e_cl"], 1e-12 * scale)


@PROPS
@given(p=points())
def test_e_gaba_lies_between_e_cl_and_e_hco3(p):
    # GHK with two anions: (a + r b)/(c + r d) lies between a/c and b/d, so E_GABA
    # lies between E_Cl and E_HCO3 for every r ≥ 0.
    res = batch_eval(p)
    lo = np.minimum(res["e_cl"], res["e_hco3"])
    hi = np.maximum(res["e_cl"], res["e_hco3"])
    slack = 1e-12 * (np.abs(lo) + np.abs(hi) + 1.0)
    assert np.all(res["e_gaba"] >= lo - slack)
    assert np.all(res["e_gaba"] <= hi + slack)
    # And equals the hand GHK formula.
    r = p["p_hco3_cl"]
    num, den = p["cl_i"] + r * p["hco3_i"], p["cl_o"] + r * p["hco3_o"]
    hand = rt_f_mv(p["temperature"]) * np.log(num / den)
    scale = rt_f_mv(p["temperature"]) * (np.abs(np.log(num)) + np.abs(np.log(den)) + 1.0)
    assert_close(res["e_gaba"], hand, 1e-12 * scale)


@PROPS
@given(p=points())
def test_gaba_polarity_sign_follows_driving_force(p):
    res = batch_eval(p)
    df = res["df_gaba"]
    assert_close(df, res["e_gaba"] - p["vm"], 1e-12 * (np.abs(df) + 300))
    tol = p["mode_tolerance"] * 1e6 / F_SC  # mV (physics.md: mode_tolerance / F)
    pol = res["gaba_polarity"]
    assert pol.dtype == np.int8
    # Skip points within a hair of the band edge (one ulp of df can decide them).
    edge = 1e-9 * (np.abs(df) + 1.0)
    out = np.abs(df) > tol + edge
    inside = np.abs(df) < tol - edge
    np.testing.assert_array_equal(pol[out], np.sign(df[out]).astype(np.int8))
    np.testing.assert_array_equal(pol[inside], 0)


@settings(max_examples=10, deadline=None, suppress_health_check=list(PROPS.suppress_health_check))
@given(p=points())
def test_vmap_equals_python_loop(p):
    batched = batch_eval(p)
    single = _single_point()
    full = {**REGISTRY.defaults(), **p}
    for i in range(N):
        q = {k: jnp.asarray(np.broadcast_to(v, (N,))[i]) for k, v in full.items()}
        one = single(q)
        for name in THERMO_OUTPUTS:
            b = batched[name][i]
            if batched[name].dtype == np.int8:
                assert int(one[name]) == int(b), name
            else:
                np.testing.assert_allclose(
                    float(one[name]), b, rtol=1e-13, atol=1e-13, err_msg=name
                )


@PROPS
@given(p=points())
def test_float32_matches_float64(p):
    # float32 inputs stay float32 (no silent promotion) and agree with float64 run on
    # the same float32-rounded inputs within 2e-6 × the magnitude of the terms summed:
    # float32 keeps 2^-23 ≈ 1.2e-7 relative precision per rounding, and a potential
    # is a difference of logs, so its absolute error scales with |ln c_i| + |ln c_o|
    # (not with |E|, which cancellation can make arbitrarily small); 2e-6 leaves
    # room for ~16 roundings.
    p32 = {k: np.asarray(v, np.float32) for k, v in p.items()}
    p64 = {k: np.asarray(v, np.float64) for k, v in p32.items()}
    r32 = batch_eval(p32, dtype=np.float32)
    r64 = batch_eval(p64)
    t = p64["temperature"]
    for name in THERMO_OUTPUTS:
        if r64[name].dtype != np.int8:
            assert r32[name].dtype == np.float32, name
    for s, z in Z.items():
        if s == "h":  # computed from pH differences: scale with |pH|·ln 10
            lmag = (np.abs(p64["ph_i"]) + np.abs(p64["ph_o"])) * math.log(10.0)
        else:
            lmag = np.abs(np.log(p64[f"{s}_i"])) + np.abs(np.log(p64[f"{s}_o"]))
        e_scale = rt_f_mv(t) / abs(z) * (lmag + 1.0)
        assert_close(r32[f"e_{s}"], r64[f"e_{s}"], 2e-6 * e_scale, f"e_{s}")
        dG_scale = rt_kj(t) * (lmag + 1.0) + abs(z) * F_SC * 1e-6 * np.abs(p64["vm"])
        assert_close(r32[f"dG_{s}"], r64[f"dG_{s}"], 2e-6 * dG_scale, f"dG_{s}")
    r = p64["p_hco3_cl"]
    num, den = p64["cl_i"] + r * p64["hco3_i"], p64["cl_o"] + r * p64["hco3_o"]
    g_scale = rt_f_mv(t) * (np.abs(np.log(num)) + np.abs(np.log(den)) + 1.0)
    assert_close(r32["e_gaba"], r64["e_gaba"], 2e-6 * g_scale)
    df_scale = g_scale + np.abs(p64["vm"])
    assert_close(r32["df_gaba"], r64["df_gaba"], 2e-6 * df_scale)
    tol = p64["mode_tolerance"] * 1e6 / F_SC
    clear = np.abs(np.abs(r64["df_gaba"]) - tol) > 4e-6 * df_scale
    np.testing.assert_array_equal(r32["gaba_polarity"][clear], r64["gaba_polarity"][clear])


# --- bad arguments --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("call", "fragments"),
    [
        (lambda: kernels.nernst(c_in=5.0, c_out=-1.0, z=1), ["c_out", "-1.0", "> 0"]),
        (lambda: kernels.nernst(c_in=0.0, c_out=5.0, z=1), ["c_in", "0.0", "> 0"]),
        (lambda: kernels.nernst(c_in=5.0, c_out=float("nan"), z=1), ["c_out", "nan", "> 0"]),
        (lambda: kernels.nernst(c_in=5.0, c_out=float("inf"), z=1), ["c_out", "inf", "finite"]),
        (lambda: kernels.nernst(c_in=5.0, c_out=np.array([1.0, -2.0]), z=1), ["c_out", "-2.0"]),
        (lambda: kernels.nernst(c_in=5.0, c_out=5.0, z=0), ["z = 0"]),
        (
            lambda: kernels.nernst(c_in=5.0, c_out=5.0, z=1, temperature=0.0),
            ["temperature", "0.0", "> 0"],
        ),
        (lambda: kernels.nernst(c_in=5.0, c_out="5", z=1), ["c_out", "'5'", "not a number"]),
        (lambda: kernels.nernst(c_in=5.0, c_out=None, z=1), ["c_out", "None"]),
        (
            lambda: kernels.dG_ion(c_in=5.0, c_out=5.0, z=1, vm=float("nan")),
            ["vm", "nan", "finite"],
        ),
        (lambda: kernels.dG_ion(c_in=-5.0, c_out=5.0, z=1, vm=-70.0), ["c_in", "-5.0"]),
        (
            lambda: kernels.dG_ion(c_in=5.0, c_out=5.0, z=1, vm=-70.0, temperature=-1.0),
            ["temperature", "-1.0"],
        ),
        (lambda: kernels.e_gaba(5.0, 130.0, 16.0, 26.0, -0.1), ["p_hco3_cl", "-0.1", ">= 0"]),
        (lambda: kernels.e_gaba(5.0, 130.0, 0.0, 26.0), ["hco3_i", "0.0", "> 0"]),
        (lambda: kernels.e_gaba(5.0, 130.0, 16.0, 26.0, 0.2, 0.0), ["temperature", "0.0"]),
        (lambda: kernels.h_from_ph(float("nan")), ["ph", "nan"]),
    ],
)
def test_bad_arguments_raise_with_value_and_range(call, fragments):
    with pytest.raises(ValueError) as info:
        call()
    for frag in fragments:
        assert frag in str(info.value), (frag, str(info.value))


def test_nernst_and_dG_ion_are_keyword_only():
    # One argument order for both, and no silent inside/outside swap: positional calls fail.
    with pytest.raises(TypeError):
        kernels.nernst(130.0, 5.0, -1)
    with pytest.raises(TypeError):
        kernels.dG_ion(12.0, 145.0, 1, -65.0)
    # E_Cl at 5/130 mM and ΔG_Na at 12/145 mM, −65 mV (physics.md reference values)
    assert float(kernels.nernst(c_in=5.0, c_out=130.0, z=-1)) == pytest.approx(-87.0359, abs=1e-4)
    dg = kernels.dG_ion(c_in=12.0, c_out=145.0, z=1, vm=-65.0)
    assert float(dg) == pytest.approx(-12.6942, abs=1e-4)
    assert dg.dtype == jnp.float64  # importing kernels enables float64


def test_traced_calls_do_not_raise():
    # Inside jit/vmap nothing raises: invalid points come back as NaN.
    e = jax.jit(kernels.nernst, static_argnames="z")(c_in=5.0, c_out=-1.0, z=1)
    assert np.isnan(float(e))
    e = jax.vmap(lambda c: kernels.nernst(c_in=5.0, c_out=c, z=1))(jnp.array([-1.0, 5.0]))
    assert np.isnan(float(e[0])) and float(e[1]) == 0.0
