"""Steady states: chloride (closed form) and calcium (scan + refine), with status.

References:
- chloride: the closed form of physics.md ("Chloride steady state") and its
  NKCC1-off special case (Düsterwald et al. 2018 eLife 7:e39575), written in
  plain ``math`` here;
- calcium: an independent float64 ``scipy.optimize.brentq`` on a plain-``math``
  transcription of the physics.md balance (GPB 2010), bracketing the first
  downward sign change of the same 64-point log scan;
- numbers: the physics.md "Reference values" table.

Every compiled function is built once per module and fed batches (vmap), so
the file runs in a few seconds after compilation.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy.optimize import brentq

import kernels
from kernels import REGISTRY, kinetics, steady_state
from kernels.constants import F, R
from kernels.steady_state import XTOL

SETTINGS = settings(max_examples=60, deadline=None, derandomize=True)

CL_OUTPUTS = ("cl_i_ss", "e_cl_ss", "e_gaba_ss", "df_gaba_ss", "gaba_polarity_ss")
CA_OUTPUTS = ("ca_i_ss", "ca_i_ss_nroots", "i_ncx_ss", "mode_ncx_ss")
CA_KEYS = (
    "vm na_i na_o ca_o temperature ibar_ncx k_dact n_act ibar_pmca k_pmca h_pmca g_ca_bg "
    "f_inact_ncx"
).split()
CL_KEYS = (
    "vm na_i na_o k_i k_o cl_o temperature u_kcc2 u_nkcc1 p_kcc2 p_nkcc1 rho_kcc2 rho_nkcc1 "
    "bumetanide vu0463271 g_cl gamma"
).split()


def _base(dtype=jnp.float64) -> dict:
    return {k: jnp.asarray(v, dtype) for k, v in REGISTRY.defaults().items()}


def _batched(names, dtype=jnp.float64):
    base = _base(dtype)
    names = REGISTRY.resolve_outputs(names)
    return jax.jit(jax.vmap(lambda v: REGISTRY.evaluate({**base, **v}, names)))


def _scalar(names, dtype=jnp.float64):
    base = _base(dtype)
    names = REGISTRY.resolve_outputs(names)
    return jax.jit(lambda v: REGISTRY.evaluate({**base, **v}, names))


def _np(res: dict) -> dict:
    return {k: np.asarray(v) for k, v in res.items()}


ALL_NAMES = REGISTRY.resolve_outputs(
    ["cl_i_ss", "e_cl_ss", "e_gaba_ss", "df_gaba_ss", "gaba_polarity_ss"]
    + ["ca_i_ss", "ca_i_ss_nroots", "i_ncx_ss", "mode_ncx_ss"]
)
_all_points = jax.jit(jax.vmap(lambda p: REGISTRY.evaluate(p, ALL_NAMES)))


def evaluate_batch(batch: dict, dtype=jnp.float64) -> dict:
    """All steady-state outputs over a batch (arrays overriding the defaults), one jitted call.

    Every input is batched, so one compilation (per dtype) serves the whole file.
    """
    n = len(next(iter(batch.values())))
    d = REGISTRY.defaults()
    full = {k: jnp.asarray(np.broadcast_to(batch.get(k, v), (n,)), dtype) for k, v in d.items()}
    return _np(_all_points(full))


def evaluate_points(points: list[dict], dtype=jnp.float64) -> dict:
    """All steady-state outputs at a list of points (overrides of the defaults)."""
    d = REGISTRY.defaults()
    return evaluate_batch({k: [pt.get(k, v) for pt in points] for k, v in d.items()}, dtype)


# --- plain-math references -----------------------------------------------------------------
def _rt_f(t: float) -> float:
    return R * t / F * 1e3


def cl_closed_form(p: dict) -> float:
    """[Cl]_i,ss from physics.md's E_Cl,ss = (γgV + G_K E_K + 2G_N(E_Na + E_K))/(γg + G_K + 4G_N)."""
    phi = _rt_f(p["temperature"])
    u_k = p["u_kcc2"] * ((1 - p["p_kcc2"]) + p["p_kcc2"] * p["rho_kcc2"])
    u_k *= 1 - p["vu0463271"] / (p["vu0463271"] + p["ic50_vu0463271"])
    u_n = p["u_nkcc1"] * (p["rho_nkcc1"] + (1 - p["rho_nkcc1"]) * p["p_nkcc1"])
    u_n *= 1 - p["bumetanide"] / (p["bumetanide"] + p["ic50_bumetanide"])
    e_k = phi * math.log(p["k_o"] / p["k_i"])
    e_na = phi * math.log(p["na_o"] / p["na_i"])
    gk, gn, gc = u_k / phi, u_n / phi, p["gamma"] * p["g_cl"]
    e_cl = (gc * p["vm"] + gk * e_k + 2 * gn * (e_na + e_k)) / (gc + gk + 4 * gn)
    return p["cl_o"] * math.exp(e_cl / phi)


def ca_balance_math(ca: float, p: dict) -> float:
    """physics.md: 2 I_NCX − g_CaBG (V_m − E_Ca) − I_PMCA (µA/cm²), GPB 2010 written out.

    ``ca`` may be a float or an array (mM).
    """
    phi = _rt_f(p["temperature"])
    u = p["vm"] / phi
    na_i, na_o, ca_o = p["na_i"], p["na_o"], p["ca_o"]
    ka = 1.0 / (1.0 + (p["k_dact"] / ca) ** p["n_act"])
    d = (
        p["km_cai"] * na_o**3 * (1 + (na_i / p["km_nai"]) ** 3)
        + p["km_nao"] ** 3 * ca * (1 + ca / p["km_cai"])
        + p["km_cao"] * na_i**3
        + na_i**3 * ca_o
        + na_o**3 * ca
    )
    e1, e2 = np.exp(p["nu_ncx"] * u), np.exp((p["nu_ncx"] - 1) * u)
    # GPB 2010 temperature factors, reference 310 K
    q_ncx = p["q10_ncx"] ** ((p["temperature"] - 310.0) / 10.0)
    q_pmca = p["q10_pmca"] ** ((p["temperature"] - 310.0) / 10.0)
    i_ncx = p["ibar_ncx"] * q_ncx * ka * (e1 * na_i**3 * ca_o - e2 * na_o**3 * ca)
    i_ncx /= d * (1 + p["ksat_ncx"] * e2)
    inact = (1 - p["f_inact_ncx"]) + p["f_inact_ncx"] / (
        1 + (na_i / p["k_inact_ncx"]) ** p["n_inact_ncx"]
    )
    e_ca = phi / 2 * np.log(ca_o / ca)
    pmca = p["ibar_pmca"] * ca ** p["h_pmca"] / (p["k_pmca"] ** p["h_pmca"] + ca ** p["h_pmca"])
    pmca *= q_pmca
    return 2 * inact * i_ncx - p["g_ca_bg"] * (p["vm"] - e_ca) - pmca


def ca_roots_brentq(p: dict, n: int = 64) -> tuple[int, list[tuple[float, bool]]]:
    """Sign changes on an ``n``-point log scan and every bracketed root (value, stable).

    With n = 64 it is the kernel's grid; with n = 20,001 (cells 7e-4 in ln[Ca]ᵢ)
    it is the independent "every root" reference.
    """
    xs = np.linspace(math.log(1e-6), math.log(p["ca_o"]), n)

    def f(x):
        return ca_balance_math(math.exp(x), p)

    fs = ca_balance_math(np.exp(xs), p)
    roots = []
    nchange = 0
    for j in np.flatnonzero((fs[:-1] > 0) != (fs[1:] > 0)):
        nchange += 1
        x = brentq(f, xs[j], xs[j + 1], xtol=1e-15, rtol=1e-15, maxiter=200)
        roots.append((math.exp(x), bool(fs[j] > 0)))
    return nchange, roots


# --- registry entries -------------------------------------------------------------------
def test_outputs_declared_with_companions_and_dtypes():
    units = {
        "cl_i_ss": "mM",
        "e_cl_ss": "mV",
        "e_gaba_ss": "mV",
        "df_gaba_ss": "mV",
        "gaba_polarity_ss": "",
        "status_cl_i_ss": "",
        "residual_cl_i_ss": "mM/s",
        "ca_i_ss": "mM",
        "ca_i_ss_nroots": "",
        "i_ncx_ss": "uA/cm**2",
        "mode_ncx_ss": "",
        "status_ca_i_ss": "",
        "residual_ca_i_ss": "uA/cm**2",
    }
    ints = {"gaba_polarity_ss", "status_cl_i_ss", "ca_i_ss_nroots", "mode_ncx_ss"}
    ints |= {"status_ca_i_ss"}
    for name, unit in units.items():
        spec = REGISTRY.output(name)
        assert spec.unit == unit, name
        assert spec.dtype == ("int8" if name in ints else "float"), name
        assert spec.concentration == (unit == "mM"), name
    for name in CL_OUTPUTS:
        assert set(REGISTRY.output(name).companions) == {"status_cl_i_ss", "residual_cl_i_ss"}
        assert REGISTRY.resolve_outputs([name]) == (name, "status_cl_i_ss", "residual_cl_i_ss")
    for name in CA_OUTPUTS:
        assert set(REGISTRY.output(name).companions) == {"status_ca_i_ss", "residual_ca_i_ss"}
    for name, codes in (
        ("status_cl_i_ss", [0, 1, 2, 3, 7]),
        ("status_ca_i_ss", [0, 1, 2, 3, 5, 7]),
    ):
        attrs = REGISTRY.output(name).attrs
        assert attrs["flag_values"] == codes
        assert attrs["flag_meanings"].split() == [steady_state.STATUS[c] for c in codes]


def test_inputs_declared():
    expected = {
        "g_cl": (0.1, "mS/cm**2"),
        "gamma": (0.0444, "mM/s/(uA/cm**2)"),
        "ibar_pmca": (0.0673, "uA/cm**2"),
        "k_pmca": (5e-4, "mM"),  # 0.5 µM
        "h_pmca": (1.6, ""),
        "g_ca_bg": (5.513e-4, "mS/cm**2"),
        "q10_pmca": (2.35, ""),  # GPB 2010
    }
    pint = pytest.importorskip("pint")
    ureg = pint.UnitRegistry()
    for name, (default, unit) in expected.items():
        spec = REGISTRY.input(name)
        assert (spec.default, spec.unit) == (default, unit), name
        assert spec.lower == 0.0 and spec.reference
        ureg.Quantity(1.0, unit)
    assert REGISTRY.input("k_pmca").lower_open and REGISTRY.input("k_pmca").concentration


def test_group_is_solved_once_per_evaluation(monkeypatch):
    calls = {"cl": 0, "ca": 0}
    cl_solve, ca_solve = steady_state._cl_solve, steady_state._ca_solve

    def count_cl(*a, **k):
        calls["cl"] += 1
        return cl_solve(*a, **k)

    def count_ca(*a, **k):
        calls["ca"] += 1
        return ca_solve(*a, **k)

    monkeypatch.setattr(steady_state, "_cl_solve", count_cl)
    monkeypatch.setattr(steady_state, "_ca_solve", count_ca)
    p = _base()
    jax.eval_shape(lambda q: REGISTRY.evaluate(q, ALL_NAMES), p)  # traces once
    assert calls == {"cl": 1, "ca": 1}


# --- reference values (physics.md table) --------------------------------------------------
def test_reference_values():
    # One checked, eager call, elementwise over two points: defaults and p_kcc2 = 1.
    names = ["cl_i_ss", "e_gaba_ss", "gaba_polarity_ss", "ca_i_ss"]
    r = kernels.evaluate({"p_kcc2": np.array([0.0, 1.0]), "vm": np.array([-70.0, -70.0])}, names)
    assert r["ca_i_ss"].shape == (2,) and r["status_ca_i_ss"].shape == (2,)
    assert float(r["cl_i_ss"][0]) == pytest.approx(5.6099, abs=5e-5)  # physics.md: 5.6099 mM
    assert float(r["e_gaba_ss"][0]) == pytest.approx(-72.952, abs=5e-4)  # physics.md: −72.952 mV
    assert int(r["gaba_polarity_ss"][0]) == -1  # hyperpolarizing at −70 mV
    assert float(r["ca_i_ss"][0]) == pytest.approx(1.6585e-4, abs=5e-9)  # physics.md: 165.85 nM
    # physics.md: at p_kcc2 = 1, ≈ 10.2 mM and −61.7 mV (depolarizing at −70 mV)
    assert float(r["cl_i_ss"][1]) == pytest.approx(10.2, abs=0.05)
    assert float(r["e_gaba_ss"][1]) == pytest.approx(-61.7, abs=0.05)
    assert int(r["gaba_polarity_ss"][1]) == 1
    assert (np.asarray(r["status_cl_i_ss"]) == 0).all()
    assert (np.asarray(r["status_ca_i_ss"]) == 0).all()
    # phosphorylation of KCC2 does not touch calcium
    assert float(r["ca_i_ss"][1]) == float(r["ca_i_ss"][0])


def test_ncx_at_calcium_steady_state():
    r = {k: v[0] for k, v in evaluate_points([{}]).items()}
    ref = kernels.evaluate({"ca_i": float(r["ca_i_ss"])}, ["i_ncx", "mode_ncx"])
    assert float(r["i_ncx_ss"]) == pytest.approx(float(ref["i_ncx"]), rel=1e-12)
    # +1 forward = Ca²⁺ extrusion = inward current
    assert int(r["mode_ncx_ss"]) == int(ref["mode_ncx"]) == 1
    assert float(r["i_ncx_ss"]) < 0
    assert int(r["ca_i_ss_nroots"]) == 1


# --- chloride ---------------------------------------------------------------------------
_cl_scalar = _scalar(CL_OUTPUTS)


def _log_uniform(lo, hi):
    return st.floats(math.log(lo), math.log(hi)).map(math.exp)


cl_points = st.fixed_dictionaries(
    {
        "vm": st.floats(-120.0, 40.0),
        "na_i": _log_uniform(1.0, 100.0),
        "na_o": _log_uniform(50.0, 300.0),
        "k_i": _log_uniform(50.0, 200.0),
        "k_o": _log_uniform(1.0, 20.0),
        "cl_o": _log_uniform(50.0, 200.0),
        "temperature": st.floats(273.0, 315.0),
        "u_kcc2": st.floats(0.0, 2.0),
        "u_nkcc1": st.floats(0.0, 2.0),
        "p_kcc2": st.floats(0.0, 1.0),
        "p_nkcc1": st.floats(0.0, 1.0),
        "rho_kcc2": st.floats(0.0, 1.0),
        "rho_nkcc1": st.floats(0.0, 1.0),
        "bumetanide": st.floats(0.0, 1e-2),
        "vu0463271": st.floats(0.0, 1e-2),
        "g_cl": st.floats(0.0, 2.0),
        "gamma": _log_uniform(1e-3, 1.0),
    }
)


def _cl_at(pt: dict) -> dict:
    out = _cl_scalar({k: jnp.asarray(v, jnp.float64) for k, v in pt.items()})
    return {k: v.item() for k, v in out.items()}


@SETTINGS
@given(cl_points)
def test_chloride_matches_closed_form(pt):
    p = {**REGISTRY.defaults(), **pt}
    total = p["gamma"] * p["g_cl"] + p["u_kcc2"] + p["u_nkcc1"]
    assume(total > 1e-6)
    ref = cl_closed_form(p)
    assume(math.isfinite(ref))
    r = _cl_at(pt)
    if r["status_cl_i_ss"] == 1:  # balance identically zero: all effective capacities 0
        assert math.isnan(r["cl_i_ss"])
        return
    assert r["status_cl_i_ss"] == 0
    assert r["cl_i_ss"] == pytest.approx(ref, rel=1e-10)
    phi = _rt_f(p["temperature"])
    assert r["e_cl_ss"] == pytest.approx(phi * math.log(ref / p["cl_o"]), rel=1e-9, abs=1e-9)
    e_gaba = phi * math.log((ref + 0.2 * 16.0) / (p["cl_o"] + 0.2 * 26.0))
    assert r["e_gaba_ss"] == pytest.approx(e_gaba, rel=1e-9, abs=1e-9)
    assert r["df_gaba_ss"] == pytest.approx(e_gaba - p["vm"], rel=1e-9, abs=1e-9)


def test_chloride_dusterwald_special_case():
    # NKCC1 off: E_Cl = (g_Cl V + g_KCC E_K)/(g_Cl + g_KCC), g_KCC = U_K F/(γRT)
    # (Düsterwald et al. 2018, eLife 7:e39575, with γ converting current to flux).
    for vm, u_k, g_cl in [(-70.0, 0.3, 0.1), (-50.0, 0.05, 0.3), (-85.0, 1.0, 0.02)]:
        r = kernels.evaluate({"vm": vm, "u_kcc2": u_k, "g_cl": g_cl, "u_nkcc1": 0.0}, "e_cl_ss")
        phi = _rt_f(310.0)
        g_kcc = u_k / (0.0444 * phi)
        e_k = phi * math.log(3.5 / 140.0)
        ref = (g_cl * vm + g_kcc * e_k) / (g_cl + g_kcc)
        assert float(r["e_cl_ss"]) == pytest.approx(ref, rel=1e-12)


def test_bumetanide_approaches_nkcc1_off():
    off = kernels.evaluate({"u_nkcc1": 0.0}, "cl_i_ss")["cl_i_ss"]
    blocked = kernels.evaluate({"bumetanide": 1e3}, "cl_i_ss")["cl_i_ss"]
    base = kernels.evaluate({}, "cl_i_ss")["cl_i_ss"]
    assert float(blocked) == pytest.approx(float(off), rel=1e-6)
    assert float(off) < float(base)


@SETTINGS
@given(cl_points)
def test_phosphorylation_never_moves_the_reversal(pt):
    # Without channel and NKCC1, the steady state is KCC2's equilibrium, for every p and ρ > 0.
    pt = {**pt, "g_cl": 0.0, "u_nkcc1": 0.0, "u_kcc2": 0.3}
    assume(pt["rho_kcc2"] > 1e-3 or pt["p_kcc2"] < 0.999)
    r = _cl_at(pt)
    eq = kernels.evaluate(pt, "cl_i_eq_kcc2")["cl_i_eq_kcc2"]
    assert r["status_cl_i_ss"] == 0
    assert r["cl_i_ss"] == pytest.approx(float(eq), rel=1e-12)
    # ... and NKCC1's equilibrium without channel and KCC2, for every p and ρ > 0.
    pt = {**pt, "u_kcc2": 0.0, "u_nkcc1": 0.3}
    assume(pt["rho_nkcc1"] > 1e-3 or pt["p_nkcc1"] > 1e-3)
    r = _cl_at(pt)
    eq = kernels.evaluate(pt, "cl_i_eq_nkcc1")["cl_i_eq_nkcc1"]
    assert r["cl_i_ss"] == pytest.approx(float(eq), rel=1e-12)


def test_chloride_residual_within_documented_tolerance_and_status():
    rng = np.random.default_rng(3)
    n = 256
    batch = {
        "vm": rng.uniform(-120, 40, n),
        "k_o": np.exp(rng.uniform(0, 3, n)),
        "na_i": np.exp(rng.uniform(0, 4.5, n)),
        "u_kcc2": rng.uniform(0, 2, n),
        "u_nkcc1": rng.uniform(0, 2, n),
        "g_cl": rng.uniform(0, 2, n),
        "p_kcc2": rng.uniform(0, 1, n),
    }
    out = evaluate_batch(batch)
    assert (out["status_cl_i_ss"] == 0).all()
    # |f| ≤ XTOL·|∂f/∂ln[Cl]_i|, ∂f/∂ln[Cl]_i = −(γ g φ + U_K + 4 U_N)
    phi = _rt_f(310.0)
    u_k = batch["u_kcc2"] * ((1 - batch["p_kcc2"]) + 0.2 * batch["p_kcc2"])
    slope = 0.0444 * batch["g_cl"] * phi + u_k + 4 * 0.1 * batch["u_nkcc1"]
    assert (np.abs(out["residual_cl_i_ss"]) <= XTOL[64] * slope).all()


# --- calcium ----------------------------------------------------------------------------
def _ca_batch(n: int, seed: int, multi: bool) -> dict[str, np.ndarray]:
    """Random points; ``multi`` favours several roots (strong allosteric activation,
    depolarised V_m, high [Na]_i, strong PMCA and a weak leak)."""
    rng = np.random.default_rng(seed)
    if multi:
        b = {
            "vm": rng.uniform(-60, 20, n),
            "na_i": rng.uniform(5, 40, n),
            "k_dact": 10 ** rng.uniform(-4.5, -2, n),
            "n_act": rng.uniform(1, 8, n),
            "ibar_ncx": 10 ** rng.uniform(0, 1.5, n),
            "ibar_pmca": 10 ** rng.uniform(-2, 0, n),
            "g_ca_bg": 10 ** rng.uniform(-5, -3, n),
        }
    else:
        b = {
            "vm": rng.uniform(-100, 30, n),
            "na_i": rng.uniform(3, 60, n),
            "na_o": rng.uniform(100, 160, n),
            "ca_o": 10 ** rng.uniform(-0.5, 1, n),
            "temperature": rng.uniform(290, 312, n),
            "k_dact": 10 ** rng.uniform(-4.5, -3, n),
            "n_act": rng.uniform(0.5, 4, n),
            "ibar_ncx": 10 ** rng.uniform(-0.5, 1, n),
            "ibar_pmca": 10 ** rng.uniform(-2, 0, n),
            "h_pmca": rng.uniform(1, 2.5, n),
            "g_ca_bg": 10 ** rng.uniform(-4.5, -3, n),
            "f_inact_ncx": rng.uniform(0, 0.8, n),
        }
    return b


@pytest.fixture(scope="module")
def ca_cases():
    cases = {}
    for label, multi in (("generic", False), ("multi", True)):
        b = _ca_batch(200, 11 if multi else 5, multi)
        out = evaluate_batch(b)
        cases[label] = (b, out)
    return cases


def _point(b: dict, i: int) -> dict:
    return {**REGISTRY.defaults(), **{k: float(v[i]) for k, v in b.items()}}


@pytest.mark.parametrize("label", ["generic", "multi"])
def test_calcium_matches_brentq(ca_cases, label):
    """Status 0 or 1: every root in range was found (against a 20,001-node scan + brentq)
    and ca_i_ss is the lowest stable one; status 5 only where the certificate is open,
    and then the roots it reports are still roots."""
    b, out = ca_cases[label]
    n_multi = n_checked = n_multi_ok = 0
    for i in range(len(b["vm"])):
        p = _point(b, i)
        _, roots = ca_roots_brentq(p, n=20001)
        stable = [c for c, s in roots if s]
        status = out["status_ca_i_ss"][i]
        assert status in (0, 1, 5), (i, status)
        n_multi += len(roots) >= 3
        if status == 5:  # not guaranteed: the count is a lower bound
            assert out["ca_i_ss_nroots"][i] <= len(roots), i
            continue
        n_checked += 1
        assert out["ca_i_ss_nroots"][i] == len(roots), (i, roots)
        if not stable:
            assert status == 1 and np.isnan(out["ca_i_ss"][i]), i
            continue
        assert status == 0, (i, p)
        # the lowest stable root, to 1e-8 relative
        assert out["ca_i_ss"][i] == pytest.approx(stable[0], rel=1e-8), (i, roots)
        if len(roots) >= 3:
            n_multi_ok += 1
            assert out["ca_i_ss"][i] < max(c for c, _ in roots)
    # measured: 88 % (generic) and 58 % (multi) of the points are certified
    assert n_checked >= (0.8 if label == "generic" else 0.45) * len(b["vm"])
    if label == "multi":
        assert n_multi >= 10  # the batch really exercises several roots
        assert n_multi_ok >= 3  # and some three-root points are certified


def test_calcium_explicit_three_root_point():
    # Strong allosteric activation (n_act 5.6, K_dact 5.2 µM), depolarised and Na⁺-loaded.
    pt = {"vm": 13.52709, "na_i": 33.93889, "k_dact": 5.17e-3, "n_act": 5.62249}
    pt |= {"ibar_ncx": 2.33522, "ibar_pmca": 0.34438, "g_ca_bg": 3e-5}
    r = {k: v[0] for k, v in evaluate_points([pt]).items()}
    nchange, roots = ca_roots_brentq({**REGISTRY.defaults(), **pt})
    assert nchange == 3 and int(r["ca_i_ss_nroots"]) == 3
    assert [s for _, s in roots] == [True, False, True]
    assert float(r["ca_i_ss"]) == pytest.approx(roots[0][0], rel=1e-8)
    assert int(r["status_ca_i_ss"]) == 0


def test_calcium_residual_within_documented_tolerance(ca_cases):
    # status 0 ⇔ |f| ≤ XTOL·|∂f/∂ln[Ca]_i| at the returned root; the slope is < 0 (stable).
    for b, out in ca_cases.values():
        for i in np.nonzero(out["status_ca_i_ss"] == 0)[0]:
            p = _point(b, i)
            ca = float(out["ca_i_ss"][i])
            h = 1e-6
            slope = ca_balance_math(ca * math.exp(h), p) - ca_balance_math(ca * math.exp(-h), p)
            slope /= 2 * h
            assert slope < 0
            assert abs(out["residual_ca_i_ss"][i]) <= XTOL[64] * abs(slope) * (1 + 1e-4)
            assert abs(out["residual_ca_i_ss"][i] - ca_balance_math(ca, p)) <= 1e-12 * (
                abs(slope) + 1
            )


def test_status_never_hides_a_nan(ca_cases):
    for _, out in ca_cases.values():
        nan = np.isnan(out["ca_i_ss"])
        assert (out["status_ca_i_ss"][nan] != 0).all()
        ok = out["status_ca_i_ss"] == 0
        assert np.isfinite(out["ca_i_ss"][ok]).all()
        assert np.isfinite(out["i_ncx_ss"][ok]).all()
        assert np.isfinite(out["residual_ca_i_ss"][ok]).all()


# --- forced failures --------------------------------------------------------------------
def test_forced_failures_give_status_codes():
    cases = [
        {"ca_o": 5e-7},  # [Ca]_o below the 1 nM scan floor: empty range
        {"ibar_pmca": 0.0, "ibar_ncx": 0.0},  # no extrusion: net influx > 0 everywhere
        {"u_kcc2": 0.0, "u_nkcc1": 0.0, "g_cl": 0.0},  # chloride balance ≡ 0
    ]
    r = evaluate_points(cases)
    assert list(r["status_ca_i_ss"]) == [1, 1, 0]
    assert np.isnan(r["ca_i_ss"][:2]).all() and list(r["ca_i_ss_nroots"][:2]) == [0, 0]
    assert np.isnan(r["residual_ca_i_ss"][:2]).all()
    assert list(r["status_cl_i_ss"]) == [0, 0, 1]
    assert np.isnan(r["cl_i_ss"][2]) and r["gaba_polarity_ss"][2] == 0


def test_invalid_inputs_give_status_3_inside_jit():
    # The checked API rejects these; traced inputs (a sweep) get status 3 and NaN instead.
    bad_ca = [{"na_i": -1.0}, {"vm": math.nan}, {"k_pmca": 0.0}, {"nu_ncx": 1.5}]
    bad_cl = [{"k_o": 0.0}, {"u_kcc2": -0.1}, {"p_kcc2": 1.5}, {"ic50_bumetanide": 0.0}]
    r = evaluate_points(bad_ca + bad_cl)
    assert (r["status_ca_i_ss"][:4] == 3).all()
    assert np.isnan(r["ca_i_ss"][:4]).all() and (r["ca_i_ss_nroots"][:4] == 0).all()
    assert (r["status_cl_i_ss"][[0, 1, 4, 5, 6, 7]] == 3).all()
    assert np.isnan(r["cl_i_ss"][[0, 1, 4, 5, 6, 7]]).all()
    assert (r["status_ca_i_ss"][4:] == 0).all()  # chloride inputs do not touch calcium
    with pytest.raises(ValueError, match="na_i"):
        kernels.evaluate({"na_i": -1.0}, "ca_i_ss")


def test_not_converged_is_status_2_with_finite_estimate(monkeypatch):
    monkeypatch.setattr(steady_state, "_N_ITER_CA", 0)  # regula falsi start only
    monkeypatch.setattr(steady_state, "_N_FAST_CA", 0)
    # a new function object: jit's trace cache would otherwise reuse the unpatched counts
    solve = steady_state._ca_solve.__wrapped__
    monkeypatch.setattr(steady_state, "_ca_solve", lambda *a, **k: solve(*a, **k))
    b = _ca_batch(32, 5, False)
    out = _np(_batched(["ca_i_ss"])({k: jnp.asarray(v) for k, v in b.items()}))
    two = out["status_ca_i_ss"] == 2
    assert two.any()
    assert np.isfinite(out["ca_i_ss"][two]).all()
    assert np.isfinite(out["residual_ca_i_ss"][two]).all()


# --- public kernels ---------------------------------------------------------------------
def test_public_kernels_match_registry():
    p = REGISTRY.defaults()
    u_k, u_n = kinetics.capacities(p)
    cl = steady_state.chloride_steady_state(
        p["vm"], p["na_i"], p["na_o"], p["k_i"], p["k_o"], p["cl_o"], p["temperature"],
        u_k, u_n, p["g_cl"], p["gamma"],
    )  # fmt: skip
    ca = steady_state.calcium_steady_state(
        p["vm"], p["na_i"], p["na_o"], p["ca_o"], p["temperature"],
        kinetics.NCXParams.from_inputs(p), p["ibar_pmca"], p["k_pmca"], p["h_pmca"],
        p["g_ca_bg"],
    )  # fmt: skip
    r = {k: v[0] for k, v in evaluate_points([{}]).items()}
    assert float(cl.cl_i) == pytest.approx(float(r["cl_i_ss"]), rel=1e-14)
    assert float(ca.ca_i) == pytest.approx(float(r["ca_i_ss"]), rel=1e-14)
    assert int(cl.status) == 0 and int(ca.status) == 0 and int(ca.nroots) == 1
    e_cl = steady_state.e_cl_closed_form(
        p["vm"], p["na_i"], p["na_o"], p["k_i"], p["k_o"], p["temperature"],
        u_k, u_n, p["g_cl"], p["gamma"],
    )  # fmt: skip
    assert float(e_cl) == pytest.approx(float(r["e_cl_ss"]), rel=1e-13)
    assert abs(float(steady_state.chloride_balance(
        cl.cl_i, p["vm"], p["na_i"], p["na_o"], p["k_i"], p["k_o"], p["cl_o"],
        p["temperature"], u_k, u_n, p["g_cl"], p["gamma"],
    ))) < 1e-15  # fmt: skip
    res = steady_state.calcium_balance(
        ca.ca_i, p["vm"], p["na_i"], p["na_o"], p["ca_o"], p["temperature"],
        kinetics.NCXParams.from_inputs(p), p["ibar_pmca"], p["k_pmca"], p["h_pmca"],
        p["g_ca_bg"],
    )  # fmt: skip
    assert float(res) == pytest.approx(float(ca.residual), abs=1e-15)


# --- derivatives ------------------------------------------------------------------------
GRAD_CASES = [
    ("cl_i_ss", "vm", 1e-4),
    ("cl_i_ss", "u_kcc2", 1e-6),
    ("cl_i_ss", "p_kcc2", 1e-6),  # at p_kcc2 = 0.3 (0 is the range's edge)
    ("cl_i_ss", "k_o", 1e-5),
    ("e_gaba_ss", "g_cl", 1e-6),
    ("ca_i_ss", "vm", 1e-4),
    ("ca_i_ss", "na_i", 1e-5),
    ("ca_i_ss", "k_dact", 1e-9),
    ("ca_i_ss", "ibar_pmca", 1e-7),
    ("i_ncx_ss", "na_i", 1e-5),
]


def test_grad_matches_central_differences():
    names = sorted({o for o, _, _ in GRAD_CASES})
    base = {**_base(), "p_kcc2": jnp.asarray(0.3)}
    p0 = {k: base[k] for k in sorted({w for _, w, _ in GRAD_CASES})}

    def f(q):
        r = REGISTRY.evaluate({**base, **q}, names)
        return jnp.stack([r[n] for n in names])

    jac = jax.jit(jax.jacfwd(f))(p0)  # implicit differentiation through both solvers
    points = []
    for _, wrt, h in GRAD_CASES:
        points += [{"p_kcc2": 0.3, wrt: float(p0[wrt]) + s * h} for s in (1, -1)]
    r = evaluate_points(points)
    for i, (out, wrt, h) in enumerate(GRAD_CASES):
        fd = (r[out][2 * i] - r[out][2 * i + 1]) / (2 * h)
        g = float(jac[wrt][names.index(out)])
        assert g == pytest.approx(fd, rel=1e-6), (out, wrt)


def test_grad_of_a_batch_is_finite_where_converged(ca_cases):
    b, out = ca_cases["generic"]
    base = _base()
    grad_vm = jax.jit(
        jax.vmap(
            jax.grad(lambda v, na: REGISTRY.evaluate({**base, "vm": v, "na_i": na}, ["ca_i_ss"])[
                "ca_i_ss"
            ])
        )
    )  # fmt: skip
    g = np.asarray(grad_vm(jnp.asarray(b["vm"][:32]), jnp.asarray(b["na_i"][:32])))
    ok = out["status_ca_i_ss"][:32] == 0
    assert np.isfinite(g[ok]).all()


# --- batching and precision -------------------------------------------------------------
def test_vmap_matches_python_loop(ca_cases):
    b, out = ca_cases["multi"]
    one = _scalar(CA_OUTPUTS)
    for i in range(0, 200, 25):
        r = one({k: jnp.asarray(v[i]) for k, v in b.items()})
        for k in r:
            atol = 1e-15 if k.startswith("residual") else 0.0  # rounding-level residuals
            np.testing.assert_allclose(np.asarray(r[k]), out[k][i], rtol=1e-12, atol=atol)


def test_nested_vmap_matches_flat_vmap():
    # The engine's dense-grid plan (one vmap per axis, hoisting) vs a flat vmap over points.
    vm = jnp.linspace(-90.0, 0.0, 7)
    na = jnp.linspace(5.0, 30.0, 5)
    base = _base()

    def point(v, n):
        return REGISTRY.evaluate({**base, "vm": v, "na_i": n}, ALL_NAMES)

    nested = jax.jit(jax.vmap(jax.vmap(point, (None, 0)), (0, None)))(vm, na)
    grid = [np.asarray(a).ravel() for a in jnp.meshgrid(vm, na, indexing="ij")]
    flat = evaluate_batch({"vm": grid[0], "na_i": grid[1]})
    for k in ALL_NAMES:
        atol = 1e-15 if k.startswith("residual") else 0.0  # rounding-level residuals
        np.testing.assert_allclose(np.asarray(nested[k]).ravel(), flat[k], rtol=1e-12, atol=atol)


def test_float32_matches_float64(ca_cases):
    # Stated tolerances: ca_i_ss 1e-4 relative (XTOL float32 = 5e-5 in ln), cl_i_ss 1e-5.
    for b, out in ca_cases.values():
        o32 = evaluate_batch(b, jnp.float32)
        assert o32["ca_i_ss"].dtype == np.float32
        assert o32["status_ca_i_ss"].dtype == np.int8
        both = (o32["status_ca_i_ss"] == 0) & (out["status_ca_i_ss"] == 0)
        assert both.mean() > 0.5  # status 5 (not certified) is the rest
        np.testing.assert_allclose(o32["ca_i_ss"][both], out["ca_i_ss"][both], rtol=1e-4)
        assert (o32["ca_i_ss_nroots"] == out["ca_i_ss_nroots"]).mean() > 0.97
    b = {"vm": np.linspace(-120, 40, 16), "p_kcc2": np.linspace(0, 1, 16)}
    cl32, cl64 = evaluate_batch(b, jnp.float32), evaluate_batch(b)
    assert cl32["cl_i_ss"].dtype == np.float32
    assert (cl32["status_cl_i_ss"] == 0).all()
    np.testing.assert_allclose(cl32["cl_i_ss"], cl64["cl_i_ss"], rtol=1e-5)


# --- non-finite results never keep status 0 (issue 18 item 8) ------------------------
_SS_OUTPUTS = REGISTRY.resolve_outputs(["cl_i_ss", "e_cl_ss", "ca_i_ss", "i_ncx_ss"])
_EXTREME = st.sampled_from([0.0, 1e-300, 1e-30, 1e-8, 1.0, 1e8, 1e30, 1e300])


def _extreme_eval(dtype):
    keys = ("vm", "na_i", "cl_o", "k_o", "u_kcc2", "g_cl", "ca_o", "ibar_pmca", "ibar_ncx")

    def point(*xs):
        p = {k: jnp.asarray(v, dtype) for k, v in REGISTRY.defaults().items()}
        p.update(dict(zip(keys, xs, strict=True)))
        return REGISTRY.evaluate(p, _SS_OUTPUTS)

    return keys, jax.jit(point)


_EXTREME_FNS = {dt: _extreme_eval(dt) for dt in (jnp.float64, jnp.float32)}


@settings(max_examples=60, deadline=None)
@given(
    vm=st.sampled_from([-1e5, -1e4, -3e3, -200.0, 0.0, 40.0, 3e3, 1e4, 1e5]),
    mags=st.lists(_EXTREME, min_size=8, max_size=8),
    f32=st.booleans(),
)
def test_non_finite_results_carry_a_nonzero_status(vm, mags, f32):
    """Over extreme inputs (V_m up to ±1e5 mV, concentrations and capacities over 600
    decades, float32 and float64): a value that is not finite and > 0 never has status 0."""
    dtype = jnp.float32 if f32 else jnp.float64
    keys, fn = _EXTREME_FNS[dtype]
    out = {k: np.asarray(v) for k, v in fn(vm, *mags).items()}
    for value, status in (("cl_i_ss", "status_cl_i_ss"), ("ca_i_ss", "status_ca_i_ss")):
        v, s = out[value], int(out[status])
        if s == 0:
            assert np.isfinite(v) and v > 0, (value, v, dict(zip(keys, [vm, *mags], strict=True)))
            assert np.isfinite(out["residual_" + value])
    if int(out["status_cl_i_ss"]) == 0:
        assert np.isfinite(out["e_cl_ss"])


@pytest.mark.parametrize(
    ("dtype", "vm"), [(jnp.float64, 1e5), (jnp.float32, 1e4), (jnp.float64, -1e5)]
)
def test_chloride_overflow_is_flagged(dtype, vm):
    """The reported case: cl_i_ss = inf with status 0 at V_m = 1e5 mV (1e4 in float32)."""
    p = {k: jnp.asarray(v, dtype) for k, v in REGISTRY.defaults().items()}
    p["vm"] = jnp.asarray(vm, dtype)
    r = REGISTRY.evaluate(p, REGISTRY.resolve_outputs(["cl_i_ss"]))
    assert not (np.isfinite(float(r["cl_i_ss"])) and float(r["cl_i_ss"]) > 0)
    assert int(r["status_cl_i_ss"]) == kernels.solvers.Status.NON_FINITE
