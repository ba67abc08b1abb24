"""The physics review's corrections (physics.md, "Corrections the physics review asks for").

References, each written here independently of the kernels in plain ``math``
(float64) or with ``scipy.optimize.brentq``:

- GPB 2010 temperature factors: I_NCX × 1.57^((T − 310)/10), I_PMCA × 2.35^((T − 310)/10)
  (Grandi, Pasqualini & Bers 2010 J Mol Cell Cardiol 48:112, their Q10NCX and Q10SLCaP);
- Henderson–Hasselbalch: [HCO₃⁻] = 0.0307·pCO₂·10^(pH − 6.1) mM (pK′ 6.1, α = 0.0307
  mM/mmHg at 37 °C; Severinghaus et al. 1956, Austin et al. 1963);
- ΔG_ATP = ΔG°′ + RT ln([ADP][Pi]/[ATP]) with a 1 M standard state (Alberty & Goldberg 1992);
- AE3 (1 Cl⁻ in, 1 HCO₃⁻ out) and NDCBE (1 Na⁺ + 2 HCO₃⁻ in, 1 Cl⁻ out) stoichiometries
  (Romero et al. 2013 Mol Aspects Med 34:159) with the flux law J = −U ΔG/RT;
- the chapter's numbers (docs/transporters-chapter.md) and physics.md's reference table.
"""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import brentq

import kernels
from kernels import REGISTRY, kinetics, steady_state, thermo
from kernels.constants import F, R

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = settings(max_examples=60, deadline=None, derandomize=True)
D = REGISTRY.defaults()


def _rt_f(t: float) -> float:
    return R * t / F * 1e3


def _log_uniform(lo, hi):
    return st.floats(math.log(lo), math.log(hi)).map(math.exp)


def _ev(inputs: dict, names) -> dict:
    return {k: float(v) for k, v in kernels.evaluate(inputs, names).items()}


# --- plain-math references ----------------------------------------------------------------
def i_ncx_gpb(p: dict) -> float:
    """GPB 2010 I_NCX with its Q10 factor, written out (allosteric Ka as in physics.md)."""
    t = p["temperature"]
    u = p["vm"] / _rt_f(t)
    na_i, na_o, ca_i, ca_o = p["na_i"], p["na_o"], p["ca_i"], p["ca_o"]
    ka = 1.0 / (1.0 + (p["k_dact"] / ca_i) ** p["n_act"])
    d = (
        p["km_cai"] * na_o**3 * (1 + (na_i / p["km_nai"]) ** 3)
        + p["km_nao"] ** 3 * ca_i * (1 + ca_i / p["km_cai"])
        + p["km_cao"] * na_i**3
        + na_i**3 * ca_o
        + na_o**3 * ca_i
    )
    nu = p["nu_ncx"]
    e1, e2 = math.exp(nu * u), math.exp((nu - 1) * u)
    q10 = p["q10_ncx"] ** ((t - 310.0) / 10.0)
    return (
        p["ibar_ncx"]
        * q10
        * ka
        * (e1 * na_i**3 * ca_o - e2 * na_o**3 * ca_i)
        / (d * (1 + p["ksat_ncx"] * e2))
    )


def i_pmca_gpb(ca: float, p: dict) -> float:
    q10 = p["q10_pmca"] ** ((p["temperature"] - 310.0) / 10.0)
    h = p["h_pmca"]
    return p["ibar_pmca"] * q10 * ca**h / (p["k_pmca"] ** h + ca**h)


def ca_balance(ca: float, p: dict) -> float:
    e_ca = _rt_f(p["temperature"]) / 2 * math.log(p["ca_o"] / ca)
    i_ncx = i_ncx_gpb({**p, "ca_i": ca})
    return 2 * i_ncx - p["g_ca_bg"] * (p["vm"] - e_ca) - i_pmca_gpb(ca, p)


# --- 1. GPB temperature factors -------------------------------------------------------------
@pytest.mark.parametrize("t", [288.0, 298.0, 303.0, 310.0, 315.0])
def test_ncx_q10_is_gpb_formula(t):
    p = {**D, "temperature": t, "vm": -40.0, "na_i": 15.0, "ca_i": 4e-4}
    got = _ev(p, "i_ncx")["i_ncx"]
    assert got == pytest.approx(i_ncx_gpb(p), rel=1e-12)
    # the factor alone: the same current with q10 = 1, times 1.57^((T − 310)/10)
    plain = _ev({**p, "q10_ncx": 1.0}, "i_ncx")["i_ncx"]
    assert got == pytest.approx(plain * 1.57 ** ((t - 310.0) / 10.0), rel=1e-13)


def test_ncx_q10_at_298_K():
    # The review's number: without the factor the current at 298 K is 1/0.582 = 1.72× GPB's.
    assert 1.57 ** ((298.0 - 310.0) / 10.0) == pytest.approx(0.58200, abs=1e-5)
    p = {**D, "temperature": 298.0}
    ratio = _ev({**p, "q10_ncx": 1.0}, "i_ncx")["i_ncx"] / _ev(p, "i_ncx")["i_ncx"]
    assert ratio == pytest.approx(1.7182, abs=1e-4)


@pytest.mark.parametrize("t", [298.0, 303.0, 315.0])
def test_pmca_q10_is_gpb_formula(t):
    # PMCA alone (no NCX, no leak): the balance is −I_PMCA·2.35^((T − 310)/10).
    p = {**D, "temperature": t, "ibar_ncx": 0.0, "g_ca_bg": 0.0}
    ncx = kinetics.NCXParams.from_inputs(p)
    for ca in (1e-4, 5e-4, 2e-3):
        f = steady_state.calcium_balance(
            ca, p["vm"], p["na_i"], p["na_o"], p["ca_o"], t, ncx,
            p["ibar_pmca"], p["k_pmca"], p["h_pmca"], 0.0, q10_pmca=2.35,
        )  # fmt: skip
        assert float(f) == pytest.approx(-i_pmca_gpb(ca, p), rel=1e-13)


@pytest.mark.parametrize("t", [298.0, 303.0, 315.0])
def test_calcium_steady_state_with_q10_matches_brentq(t):
    p = {**D, "temperature": t}
    xs = np.linspace(math.log(1e-6), math.log(p["ca_o"]), 64)
    fs = [ca_balance(math.exp(x), p) for x in xs]
    k = next(i for i in range(63) if fs[i] > 0 >= fs[i + 1])
    ref = math.exp(brentq(lambda x: ca_balance(math.exp(x), p), xs[k], xs[k + 1], xtol=1e-15))
    r = _ev({"temperature": t}, "ca_i_ss")
    assert r["status_ca_i_ss"] == 0
    assert r["ca_i_ss"] == pytest.approx(ref, rel=1e-9)


def test_ca_i_ss_reference_at_298_K():
    # Cooler: both extruders slow (NCX 0.58×, PMCA 0.36×), so resting Ca²⁺ rises.
    assert _ev({"temperature": 298.0}, "ca_i_ss")["ca_i_ss"] == pytest.approx(197.75e-6, rel=1e-4)
    assert _ev({}, "ca_i_ss")["ca_i_ss"] == pytest.approx(165.85e-6, rel=1e-4)  # physics.md


def test_q10_factor_is_exactly_one_at_310_K():
    # 1.57**0 == 1.0 exactly, so results at 310 K do not depend on the Q10s at all.
    assert float(thermo.q10_factor(1.57, 310.0)) == 1.0
    assert float(thermo.q10_factor(2.35, 310.0)) == 1.0
    names = ["i_ncx", "ca_i_ss", "i_ncx_ss", "residual_ca_i_ss"]
    base = kernels.evaluate({}, names)
    other = kernels.evaluate({"q10_ncx": 3.7, "q10_pmca": 0.4}, names)
    for n in names:
        assert np.asarray(base[n]).tobytes() == np.asarray(other[n]).tobytes(), n
    # and in float32 under vmap, as a sweep computes
    f = jax.jit(jax.vmap(lambda q: REGISTRY.evaluate({**q}, names)))
    pts = {k: jnp.full((3,), v, jnp.float32) for k, v in D.items()}
    pts["q10_ncx"] = jnp.asarray([1.57, 1.0, 9.0], jnp.float32)
    pts["q10_pmca"] = jnp.asarray([2.35, 1.0, 0.1], jnp.float32)
    r = f(pts)
    for n in names:
        v = np.asarray(r[n])
        assert v.dtype == np.float32 and v[0] == v[1] == v[2], n


def test_q10_inputs_declared():
    for name, default in (("q10_ncx", 1.57), ("q10_pmca", 2.35)):
        spec = REGISTRY.input(name)
        assert spec.default == default and spec.unit == ""
        assert spec.lower == 0.0 and spec.lower_open
        assert "Grandi" in spec.reference and "310 K" in spec.reference
    with pytest.raises(ValueError, match="q10_ncx"):
        kernels.evaluate({"q10_ncx": 0.0}, "i_ncx")


# --- 2. which numbers are cardiac ------------------------------------------------------------
def test_cardiac_densities_say_so():
    for name in ("ibar_ncx", "ibar_pmca", "g_ca_bg"):
        ref = REGISTRY.input(name).reference
        assert "cardiac" in ref and "assumption" in ref, name


def test_cardiac_config_is_the_gpb_set():
    from sweep.spec import load_spec

    spec = load_spec(ROOT / "configs" / "cardiac_calcium.yaml")
    gpb = {
        "ibar_ncx": 4.5,
        "ibar_pmca": 0.0673,
        "g_ca_bg": 5.513e-4,
        "k_pmca": 5e-4,
        "h_pmca": 1.6,
        "q10_ncx": 1.57,
        "q10_pmca": 2.35,
        "km_cai": 3.59e-3,
        "km_cao": 1.3,
        "km_nai": 12.29,
        "km_nao": 87.5,
        "ksat_ncx": 0.32,
        "nu_ncx": 0.27,
        "k_dact": 1.5e-4,
    }
    for name, value in gpb.items():
        assert spec.parameters[name] == pytest.approx(value, rel=1e-12), name


def test_extrusion_shares_at_the_defaults():
    # physics.md: at the (cardiac) defaults NCX carries ~91 % of Ca²⁺ extrusion at the
    # steady state, and the background influx at 100 nM exceeds the PMCA maximum.
    p = dict(D)
    ca = _ev({}, "ca_i_ss")["ca_i_ss"]
    ncx = -2 * i_ncx_gpb({**p, "ca_i": ca})
    pmca = i_pmca_gpb(ca, p)
    assert ncx / (ncx + pmca) == pytest.approx(0.91, abs=0.01)
    leak_100nM = -p["g_ca_bg"] * (p["vm"] - _rt_f(310.0) / 2 * math.log(p["ca_o"] / 1e-4))
    assert leak_100nM > p["ibar_pmca"]


# --- 3. u_nkcc1's basis and Wei's [K]o gate -------------------------------------------------
def test_u_nkcc1_is_a_calibration_and_says_so():
    ref = REGISTRY.input("u_nkcc1").reference
    assert "calibration" in ref and "5.61 mM" in ref
    # what the calibration delivers (physics.md reference values)
    assert _ev({}, "cl_i_ss")["cl_i_ss"] == pytest.approx(5.6099, abs=1e-4)
    immature = _ev({"u_kcc2": 0.0, "p_nkcc1": 1.0}, "cl_i_ss")["cl_i_ss"]
    assert immature == pytest.approx(44.997, abs=1e-3)


def test_wei_ko_gate():
    f = 1.0 / (1.0 + math.exp(16.0 - 3.5))  # Wei et al. 2014 f([K]o) at 3.5 mM
    assert f == pytest.approx(3.7267e-6, rel=1e-4)
    assert float(kinetics.nkcc1_ko_factor(3.5, 1.0)) == pytest.approx(f, rel=1e-12)
    assert float(kinetics.nkcc1_ko_factor(16.0, 1.0)) == pytest.approx(0.5, rel=1e-15)
    assert float(kinetics.nkcc1_ko_factor(3.5, 0.0)) == 1.0
    off, on = _ev({}, "j_nkcc1"), _ev({"ko_gate_nkcc1": 1.0}, "j_nkcc1")
    assert on["j_nkcc1"] == pytest.approx(off["j_nkcc1"] * f, rel=1e-12)
    # and the steady state follows the closed form with the gated capacity
    rt_f = _rt_f(310.0)
    e_k, e_na = rt_f * math.log(3.5 / 140.0), rt_f * math.log(145.0 / 12.0)
    gk, gn, gc = 0.3 / rt_f, 0.01 * f / rt_f, 0.0444 * 0.1
    e_cl = (gc * -70.0 + gk * e_k + 2 * gn * (e_na + e_k)) / (gc + gk + 4 * gn)
    got = _ev({"ko_gate_nkcc1": 1.0}, "cl_i_ss")["cl_i_ss"]
    assert got == pytest.approx(130.0 * math.exp(e_cl / rt_f), rel=1e-10)
    with pytest.raises(ValueError, match="ko_gate_nkcc1"):
        kernels.evaluate({"ko_gate_nkcc1": 1.5}, "j_nkcc1")


# --- 4. ΔG_ATP from concentrations ------------------------------------------------------------
def test_dG_atp_derived_reference_value():
    # −30.5 kJ/mol + RT ln(50e-6 M · 3e-3 M / 2e-3 M) at 310 K
    ref = -30.5 + R * 310.0 * 1e-3 * math.log(50e-6 * 3e-3 / 2e-3)
    assert ref == pytest.approx(-54.981, abs=1e-3)
    got = _ev({}, "dG_atp_derived")["dG_atp_derived"]
    assert got == pytest.approx(ref, rel=1e-14)
    assert abs(got - D["dG_atp"]) < 0.05  # the default dG_atp is this derived value
    # a tenfold ADP rise costs RT ln 10 = 5.94 kJ/mol of driving force
    up = _ev({"adp_i": 0.5}, "dG_atp_derived")["dG_atp_derived"]
    assert up - got == pytest.approx(R * 310.0e-3 * math.log(10.0), rel=1e-12)
    assert float(kernels.dG_atp_hydrolysis(2.0, 0.05, 3.0)) == pytest.approx(ref, rel=1e-14)


def test_dG_atp_stays_the_nka_input():
    # dG_nka reads dG_atp (not the derived value): its reference value is unchanged.
    r = _ev({"adp_i": 1.0}, ["dG_nka", "v_rev_nka"])
    assert r["dG_nka"] == pytest.approx(-9.9620, abs=1e-4)
    assert r["v_rev_nka"] == pytest.approx(-173.249, abs=1e-3)


# --- 5. every default has a source ----------------------------------------------------------
def test_every_registry_input_has_a_reference_or_a_stated_assumption():
    for name, spec in REGISTRY.inputs.items():
        ref = spec.reference.strip()
        assert ref, f"{name}: no reference"
        if ref.lower().startswith("assumption"):
            # "assumption" must say why (more than the word itself)
            assert len(ref) > len("assumption") + 10, f"{name}: assumption without a reason"
        assert not re.search(r"\bcheck\b", ref, re.I), f"{name}: {ref!r}"


def test_no_to_check_left_in_kernels():
    for path in (ROOT / "kernels").glob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"to check|\(check\)|, check\b", text, re.I), path.name


def test_ic50_references_are_primary():
    assert "Delpire" in REGISTRY.input("ic50_vu0463271").reference
    assert "61 nM" in REGISTRY.input("ic50_vu0463271").reference
    assert "Isenring" in REGISTRY.input("ic50_bumetanide").reference
    # block = c/(c + IC50): half block at the IC50 (0.2 µM, 61 nM)
    assert float(kinetics.block(2e-4, D["ic50_bumetanide"])) == 0.5
    assert float(kinetics.block(6.1e-5, D["ic50_vu0463271"])) == 0.5


# --- 6. CO₂ equilibrium ---------------------------------------------------------------------
def test_henderson_hasselbalch_reference_values():
    for ph, pco2 in ((7.4, 40.0), (7.2, 40.0), (7.0, 60.0), (6.8, 25.0)):
        ref = 0.0307 * pco2 * 10 ** (ph - 6.1)
        assert float(kernels.hco3_from_co2(ph, pco2)) == pytest.approx(ref, rel=1e-14)
    assert float(kernels.hco3_from_co2(7.4, 40.0)) == pytest.approx(24.502, abs=1e-3)
    r = _ev({}, ["hco3_i_co2", "hco3_o_co2"])
    assert r["hco3_o_co2"] == pytest.approx(0.0307 * 40 * 10**1.3, rel=1e-14)
    assert r["hco3_i_co2"] == pytest.approx(0.0307 * 40 * 10**1.1, rel=1e-14)
    with pytest.raises(ValueError, match="pco2"):
        kernels.hco3_from_co2(7.4, 0.0)


def test_co2_equilibrium_is_off_by_default_and_changes_nothing_then():
    spec = REGISTRY.input("co2_equilibrium")
    assert spec.default == 0.0 and (spec.lower, spec.upper) == (0.0, 1.0)
    assert REGISTRY.input("pco2").default == 40.0 and REGISTRY.input("pco2").unit == "mmHg"
    names = ["e_hco3", "dG_ae3", "dG_ndcbe", "e_gaba", "e_gaba_ss", "cl_i_ss"]
    base = kernels.evaluate({}, names)
    other = kernels.evaluate({"pco2": 80.0, "ph_i": 6.9}, names)  # pco2 unread when off
    for n in ("e_hco3", "dG_ae3", "e_gaba", "e_gaba_ss", "cl_i_ss"):
        assert np.asarray(base[n]).tobytes() == np.asarray(other[n]).tobytes(), n


def test_co2_equilibrium_makes_hco3_follow_ph():
    on = {"co2_equilibrium": 1.0}
    # E_HCO3 = E_H when both sides share one pCO₂: [HCO₃]_i/[HCO₃]_o = [H]_o/[H]_i
    r = _ev(on, ["e_hco3", "e_h", "hco3_i_co2"])
    assert r["e_hco3"] == pytest.approx(r["e_h"], abs=1e-12)
    assert r["e_hco3"] == pytest.approx(-0.2 * math.log(10) * _rt_f(310.0), rel=1e-12)
    # a pH_i sweep moves ΔG_AE3 with ΔG_NHE1 only when the option is on
    phs = np.array([6.8, 7.0, 7.2, 7.4])
    off = kernels.evaluate({"ph_i": phs}, ["dG_ae3", "dG_nhe1"])
    onr = kernels.evaluate({"ph_i": phs, **on}, ["dG_ae3", "dG_nhe1", "e_hco3"])
    assert np.ptp(np.asarray(off["dG_ae3"])) == 0.0 and np.ptp(np.asarray(off["dG_nhe1"])) > 1
    # AE3 (Cl⁻ in, HCO₃⁻ out): ΔG = RT ln([Cl]i/[Cl]o) − RT ln([HCO3]i/[HCO3]o)
    rt = R * 310.0e-3
    hco3_i = 0.0307 * 40 * 10 ** (phs - 6.1)
    hco3_o = 0.0307 * 40 * 10 ** (7.4 - 6.1)
    ref = rt * math.log(5.0 / 130.0) - rt * np.log(hco3_i / hco3_o)
    np.testing.assert_allclose(np.asarray(onr["dG_ae3"]), ref, rtol=1e-12)
    # the equilibrium CO₂ state has E_HCO3 = E_H at every pH_i
    e_h = _rt_f(310.0) * (phs - 7.4) * math.log(10)
    np.testing.assert_allclose(np.asarray(onr["e_hco3"]), e_h, rtol=1e-12, atol=1e-12)


@SETTINGS
@given(st.floats(6.5, 7.8), st.floats(6.8, 7.8), _log_uniform(5.0, 120.0), st.floats(280.0, 315.0))
def test_co2_equilibrium_property(ph_i, ph_o, pco2, t):
    r = _ev(
        {"ph_i": ph_i, "ph_o": ph_o, "pco2": pco2, "temperature": t, "co2_equilibrium": 1.0},
        ["e_hco3", "e_h", "dG_nhe1", "dG_ae3", "hco3_i_co2"],
    )
    assert r["e_hco3"] == pytest.approx(r["e_h"], rel=1e-11, abs=1e-11)
    assert r["hco3_i_co2"] == pytest.approx(0.0307 * pco2 * 10 ** (ph_i - 6.1), rel=1e-13)


# --- 7. AE3 and NDCBE in the chloride balance -----------------------------------------------
cl_points = st.fixed_dictionaries(
    {
        "cl_i": _log_uniform(1.0, 100.0),
        "cl_o": _log_uniform(80.0, 160.0),
        "hco3_i": _log_uniform(5.0, 40.0),
        "hco3_o": _log_uniform(10.0, 40.0),
        "na_i": _log_uniform(3.0, 60.0),
        "na_o": _log_uniform(100.0, 160.0),
        "temperature": st.floats(280.0, 315.0),
        "u_ae3": _log_uniform(1e-3, 2.0),
        "u_ndcbe": _log_uniform(1e-3, 2.0),
    }
)


@SETTINGS
@given(cl_points)
def test_ae3_ndcbe_fluxes_are_minus_capacity_dG_over_rt_and_zero_at_equilibrium(pt):
    r = _ev(pt, ["j_ae3", "j_ndcbe", "dG_ae3", "dG_ndcbe", "mode_ae3", "mode_ndcbe"])
    rt = R * pt["temperature"] * 1e-3
    assert r["j_ae3"] == pytest.approx(-pt["u_ae3"] * r["dG_ae3"] / rt, rel=1e-10, abs=1e-14)
    assert r["j_ndcbe"] == pytest.approx(-pt["u_ndcbe"] * r["dG_ndcbe"] / rt, rel=1e-10, abs=1e-14)
    tol = D["mode_tolerance"]
    if abs(r["dG_ae3"]) > tol:
        assert np.sign(r["j_ae3"]) == r["mode_ae3"]
    if abs(r["dG_ndcbe"]) > tol:
        assert np.sign(r["j_ndcbe"]) == r["mode_ndcbe"]
    # equilibria: E_Cl = E_HCO3 (AE3); E_Cl = 2E_HCO3 − E_Na (NDCBE)
    cl_a = pt["cl_o"] * pt["hco3_i"] / pt["hco3_o"]
    cl_d = pt["cl_o"] * (pt["na_i"] / pt["na_o"]) * (pt["hco3_i"] / pt["hco3_o"]) ** 2
    j_a = float(kinetics.j_ae3(cl_a, pt["cl_o"], pt["hco3_i"], pt["hco3_o"], pt["u_ae3"]))
    j_d = float(
        kinetics.j_ndcbe(
            pt["na_i"], pt["na_o"], pt["hco3_i"], pt["hco3_o"], cl_d, pt["cl_o"], pt["u_ndcbe"]
        )
    )
    assert abs(j_a) <= 1e-13 * pt["u_ae3"] * 10
    assert abs(j_d) <= 1e-13 * pt["u_ndcbe"] * 30
    at = _ev({**pt, "cl_i": cl_a}, "dG_ae3")["dG_ae3"]
    assert abs(at) <= 1e-12 * rt * 10


def _closed_form_cl(p: dict) -> float:
    """[Cl]_i,ss from physics.md's closed form with the AE3 and NDCBE terms."""
    phi = _rt_f(p["temperature"])
    u_k = p["u_kcc2"] * ((1 - p["p_kcc2"]) + p["p_kcc2"] * p["rho_kcc2"])
    u_n = p["u_nkcc1"] * (p["rho_nkcc1"] + (1 - p["rho_nkcc1"]) * p["p_nkcc1"])
    e_k = phi * math.log(p["k_o"] / p["k_i"])
    e_na = phi * math.log(p["na_o"] / p["na_i"])
    e_hco3 = -phi * math.log(p["hco3_o"] / p["hco3_i"])
    gk, gn, gc = u_k / phi, u_n / phi, p["gamma"] * p["g_cl"]
    ga, gd = p["u_ae3"] / phi, p["u_ndcbe"] / phi
    num = gc * p["vm"] + gk * e_k + 2 * gn * (e_na + e_k) + ga * e_hco3 + gd * (2 * e_hco3 - e_na)
    e_cl = num / (gc + gk + 4 * gn + ga + gd)
    return p["cl_o"] * math.exp(e_cl / phi)


_CL_NAMES = REGISTRY.resolve_outputs(["cl_i_ss", "e_cl_ss"])
_cl_batch = jax.jit(jax.vmap(lambda p: REGISTRY.evaluate(p, _CL_NAMES)))


def test_chloride_solver_matches_extended_closed_form():
    rng = np.random.default_rng(3)
    n = 300
    b = {
        "vm": rng.uniform(-100, -30, n),
        "u_kcc2": 10 ** rng.uniform(-3, 0.5, n),
        "u_nkcc1": 10 ** rng.uniform(-3, 0, n),
        "p_nkcc1": rng.uniform(0, 1, n),
        "u_ae3": np.where(rng.uniform(size=n) < 0.2, 0.0, 10 ** rng.uniform(-3, 0.5, n)),
        "u_ndcbe": np.where(rng.uniform(size=n) < 0.2, 0.0, 10 ** rng.uniform(-3, 0.5, n)),
        "hco3_i": rng.uniform(5, 30, n),
        "hco3_o": rng.uniform(15, 35, n),
        "na_i": rng.uniform(5, 40, n),
        "k_o": rng.uniform(2, 10, n),
        "g_cl": 10 ** rng.uniform(-3, 0, n),
        "temperature": rng.uniform(290, 312, n),
    }
    full = {k: jnp.asarray(np.broadcast_to(b.get(k, v), (n,)), jnp.float64) for k, v in D.items()}
    out = {k: np.asarray(v) for k, v in _cl_batch(full).items()}
    assert (out["status_cl_i_ss"] == 0).all()
    for i in range(n):
        p = {**D, **{k: float(v[i]) for k, v in b.items()}}
        assert out["cl_i_ss"][i] == pytest.approx(_closed_form_cl(p), rel=1e-9), i
    # the kernel's closed form is the same formula
    e_cl = steady_state.e_cl_closed_form(
        b["vm"], b["na_i"], D["na_o"], D["k_i"], b["k_o"], b["temperature"],
        b["u_kcc2"], b["u_nkcc1"] * (0.1 + 0.9 * b["p_nkcc1"]), b["g_cl"], D["gamma"],
        u_ae3=b["u_ae3"], u_ndcbe=b["u_ndcbe"], hco3_i=b["hco3_i"], hco3_o=b["hco3_o"],
    )  # fmt: skip
    np.testing.assert_allclose(np.asarray(e_cl), out["e_cl_ss"], rtol=1e-9, atol=1e-9)


def test_ae3_alone_sets_e_cl_to_e_hco3_and_ndcbe_alone_to_its_equilibrium():
    only = {"u_kcc2": 0.0, "u_nkcc1": 0.0, "g_cl": 0.0}
    a = _ev({**only, "u_ae3": 0.1}, ["cl_i_ss", "e_cl_ss", "e_hco3"])
    assert a["cl_i_ss"] == pytest.approx(130.0 * 16.0 / 26.0, rel=1e-12)  # 80.0 mM
    assert a["e_cl_ss"] == pytest.approx(a["e_hco3"], abs=1e-9)
    d = _ev({**only, "u_ndcbe": 0.1}, ["cl_i_ss"])
    assert d["cl_i_ss"] == pytest.approx(130.0 * (12 / 145) * (16 / 26) ** 2, rel=1e-12)


def test_ae3_ndcbe_default_off_leaves_chloride_bit_identical():
    names = ["cl_i_ss", "e_gaba_ss", "residual_cl_i_ss"]
    base = kernels.evaluate({}, names)
    moved = kernels.evaluate({"hco3_i": 3.0, "hco3_o": 50.0, "p_hco3_cl": 0.2}, ["cl_i_ss"])
    assert np.asarray(base["cl_i_ss"]).tobytes() == np.asarray(moved["cl_i_ss"]).tobytes()
    assert float(base["cl_i_ss"]) == pytest.approx(5.6099, abs=1e-4)  # physics.md
    # AE3 loads Cl⁻ (pulls E_Cl to E_HCO3 ≈ −13 mV), NDCBE extrudes it
    assert _ev({"u_ae3": 0.05}, "cl_i_ss")["cl_i_ss"] > float(base["cl_i_ss"])
    assert _ev({"u_ndcbe": 0.05}, "cl_i_ss")["cl_i_ss"] < float(base["cl_i_ss"])


# --- 8. the chapter's approximate claims ----------------------------------------------------
def test_chapter_kcc2_about_5_mM_at_e_k_minus_90():
    rt_f = _rt_f(310.0)
    k_o = 140.0 * math.exp(-90.0 / rt_f)  # E_K = −90 mV
    assert k_o == pytest.approx(4.8191, abs=1e-4)
    r = _ev({"k_o": k_o}, ["cl_i_eq_kcc2", "e_k", "cl_i_ss"])
    assert r["e_k"] == pytest.approx(-90.0, abs=1e-12)
    assert r["cl_i_eq_kcc2"] == pytest.approx(4.4749, abs=1e-4)  # "~5 mM": holds to ~10 %
    assert r["cl_i_ss"] == pytest.approx(7.0126, abs=1e-4)  # with the Cl⁻ leak and NKCC1
    d = _ev({}, ["cl_i_eq_kcc2", "e_k", "cl_i_ss"])
    assert d["cl_i_eq_kcc2"] == pytest.approx(3.25, abs=1e-12)  # defaults: E_K = −98.5 mV
    assert d["e_k"] == pytest.approx(-98.544, abs=1e-3)
    assert d["cl_i_ss"] == pytest.approx(5.6099, abs=1e-4)


def test_chapter_nkcc1_60_80_mM_and_minus_40_mV_are_inconsistent():
    rt_f = _rt_f(310.0)
    eq = _ev({}, "cl_i_eq_nkcc1")["cl_i_eq_nkcc1"]
    assert eq == pytest.approx(71.451, abs=1e-3) and 60 <= eq <= 80  # holds
    e_cl_eq = _ev({"cl_i": eq}, "e_cl")["e_cl"]
    assert e_cl_eq == pytest.approx(-15.99, abs=0.01)  # not −40 mV
    for cl, e in ((60.0, -20.65), (80.0, -12.97)):
        assert _ev({"cl_i": cl}, "e_cl")["e_cl"] == pytest.approx(e, abs=0.01)
    cl_40 = 130.0 * math.exp(-40.0 / rt_f)
    assert cl_40 == pytest.approx(29.08, abs=0.01)  # E_Cl = −40 mV needs ≈ 29 mM
    # the kinetic immature steady state (NKCC1 on, KCC2 off, with the Cl⁻ leak) lies between
    imm = _ev({"u_kcc2": 0.0, "p_nkcc1": 1.0}, ["cl_i_ss", "e_cl_ss"])
    assert imm["cl_i_ss"] == pytest.approx(44.997, abs=1e-3)
    assert imm["e_cl_ss"] == pytest.approx(-28.34, abs=0.01)


# --- 9. claims vs numbers ---------------------------------------------------------------------
ncx_points = st.fixed_dictionaries(
    {
        "v_off": st.floats(-1e-6, 1e-6),
        "na_i": _log_uniform(2.0, 80.0),
        "ca_i": _log_uniform(1e-6, 1e-1),
        "temperature": st.floats(280.0, 315.0),
        "nu_ncx": st.floats(0.0, 1.0),
        "n_act": st.floats(0.0, 4.0),
    }
)


def _ncx_sign_eval(dtype):
    names = ("i_ncx", "dG_ncx", "v_rev_ncx")
    f = jax.jit(lambda p: REGISTRY.evaluate(p, names))

    def call(**kw):
        p = {k: jnp.asarray(kw.get(k, v), dtype) for k, v in D.items()}
        return {k: np.asarray(v) for k, v in f(p).items()}

    return call


_sign64, _sign32 = _ncx_sign_eval(jnp.float64), _ncx_sign_eval(jnp.float32)


@SETTINGS
@given(ncx_points)
def test_i_ncx_sign_is_exactly_the_sign_of_dG_ncx_even_at_reversal(pt):
    # Right at V_rev (± 1 µV), where ΔG is a few ulps: no tolerance, float64 and float32.
    for call in (_sign64, _sign32):
        base = {k: v for k, v in pt.items() if k != "v_off"}
        v_rev = float(call(**base)["v_rev_ncx"])
        r = call(**{**base, "vm": v_rev + pt["v_off"]})
        assert np.sign(r["i_ncx"]) == np.sign(r["dG_ncx"]), r
        if r["dG_ncx"] == 0:
            assert r["i_ncx"] == 0


def test_i_ncx_float32_stays_finite_past_expm1_overflow():
    # ΔG/RT = 3 ln(100/100) − ln(1e-12/10) + V F/RT ≈ 89.8 > 88.72 = ln(float32 max)
    pt = {"vm": 1600.0, "na_i": 100.0, "na_o": 100.0, "ca_i": 1e-12, "ca_o": 10.0}
    p64 = {**D, **pt}
    x = (R * 310.0e-3) ** -1 * _ev(pt, "dG_ncx")["dG_ncx"]
    with np.errstate(over="ignore"):
        assert 88.8 < x < 90.0 and np.isinf(np.expm1(np.float32(x)))  # the old form overflowed
    ref = i_ncx_gpb(p64)  # the published two-exponential form, float64
    assert math.isfinite(ref) and ref > 0
    r32 = _sign32(**pt)
    assert np.isfinite(r32["i_ncx"]) and r32["i_ncx"].dtype == np.float32
    assert float(r32["i_ncx"]) == pytest.approx(ref, rel=2e-3)
    assert float(_sign64(**pt)["i_ncx"]) == pytest.approx(ref, rel=1e-10)
    # well past the overflow point, and its gradient, stay finite too
    g = jax.grad(lambda v: REGISTRY.evaluate({**_f32(D), **_f32(pt), "vm": v}, ["i_ncx"])["i_ncx"])
    assert np.isfinite(float(g(jnp.float32(1600.0))))
    assert np.isfinite(float(_sign32(**{**pt, "vm": 2500.0})["i_ncx"]))


def _f32(d: dict) -> dict:
    return {k: jnp.asarray(v, jnp.float32) for k, v in d.items()}


@pytest.mark.parametrize("vm", [-200.0, -70.0, 0.0, 26.0, 27.0, 60.0, 200.0])
def test_i_ncx_both_branches_match_the_published_form(vm):
    # ΔG/RT crosses 1 between these points: the two forms of the drive agree with GPB.
    pt = {"vm": vm, "ca_i": 1e-5}
    assert _ev(pt, "i_ncx")["i_ncx"] == pytest.approx(i_ncx_gpb({**D, **pt}), rel=1e-11)


def test_nroots_is_zero_when_the_scan_range_is_empty():
    for ca_o in (5e-7, 1e-9, 1e-12):
        r = _ev({"ca_o": ca_o}, ["ca_i_ss", "ca_i_ss_nroots"])
        assert r["status_ca_i_ss"] == 1 and r["ca_i_ss_nroots"] == 0, ca_o
        assert math.isnan(r["ca_i_ss"])


def test_evaluate_is_float64_even_with_x64_disabled():
    code = (
        "import jax, kernels\n"
        "jax.config.update('jax_enable_x64', False)\n"
        "r = kernels.evaluate({'vm': -65.0}, ['dG_na', 'cl_i_ss', 'mode_ncx'])\n"
        "assert r['dG_na'].dtype == 'float64' and r['cl_i_ss'].dtype == 'float64', r\n"
        "assert r['mode_ncx'].dtype == 'int8'\n"
        "assert abs(float(r['dG_na']) + 12.6941896) < 1e-6\n"
        "jax.config.update('jax_enable_x64', True)\n"
        "import jax.numpy as jnp\n"
        "print(kernels.nernst(c_in=5.0, c_out=130.0, z=-1).dtype)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "float64"


def test_importing_kernels_enables_float64():
    code = "import kernels, jax.numpy as jnp\nprint(jnp.asarray(1.0).dtype)\n"
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "float64"
