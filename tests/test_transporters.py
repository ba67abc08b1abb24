"""Transporters as stoichiometries: ΔG per cycle, V_rev, mode, equilibria.

Reference values carry their source: the chapter (docs/transporters-chapter.md),
the "Reference values" table of physics.md, or a hand computation with ``math``
and ``scipy.constants``. The independent reference below sums n_s ΔG_s species by
species from the physics.md table; the kernel uses one generic formula instead.
Property tests evaluate a batch of hypothesis-drawn points per example in one
jitted, vmapped call.
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
from kernels import BUILTIN_TRANSPORTERS, REGISTRY, make_transporter

R_SC = sc.R  # J/(mol K), CODATA 2018 via scipy
F_SC = sc.physical_constants["Faraday constant"][0]  # C/mol
F_KJ_MV = F_SC * 1e-6  # kJ/mol per mV per elementary charge
Z = {"na": 1, "k": 1, "cl": -1, "ca": 2, "hco3": -1, "h": 1, "glu": -1, "gaba": 0}  # physics.md

# physics.md transporter table: (stoichiometry moved in per forward cycle, ATP, compartment, q).
TABLE = {
    "kcc2": ({"k": -1, "cl": -1}, 0, "plasma", 0),
    "nkcc1": ({"na": 1, "k": 1, "cl": 2}, 0, "plasma", 0),
    "ncx": ({"na": 3, "ca": -1}, 0, "plasma", 1),
    "nclx": ({"na": 3, "ca": -1}, 0, "mito", 1),
    "nka": ({"na": -3, "k": 2}, 1, "plasma", -1),
    "eaat3": ({"na": 3, "h": 1, "glu": 1, "k": -1}, 0, "plasma", 2),
    "gat1": ({"na": 2, "cl": 1, "gaba": 1}, 0, "plasma", 1),
    "nhe1": ({"na": 1, "h": -1}, 0, "plasma", 0),
    "ae3": ({"cl": 1, "hco3": -1}, 0, "plasma", 0),
    "ndcbe": ({"na": 1, "hco3": 2, "cl": -1}, 0, "plasma", 0),
}

# User-defined transporters used throughout (physics.md "Users can declare further
# transporters"). my_symporter is physics.md's own example: 2·(+1) + 1·(−1) − 1·(+1)
# = 0, so it is electroneutral and has no V_rev; the others are electrogenic.
USER = {
    "my_symporter": {
        "stoichiometry": {"na": 2, "glu": 1, "k": -1},
        "atp": 0,
        "compartment": "plasma",
    },
    "my_na_glu": {"stoichiometry": {"na": 2, "glu": 1}, "compartment": "plasma"},  # q = +1
    "my_pmca": {"stoichiometry": {"ca": -1, "h": 1}, "atp": 1},  # q = −1, ATP-driven
    "my_mcu": {"stoichiometry": {"ca": 1}, "compartment": "mito"},  # q = +2 into the matrix
}
USER_TABLE = {
    "my_symporter": ({"na": 2, "glu": 1, "k": -1}, 0, "plasma", 0),
    "my_na_glu": ({"na": 2, "glu": 1}, 0, "plasma", 1),
    "my_pmca": ({"ca": -1, "h": 1}, 1, "plasma", -1),
    "my_mcu": ({"ca": 1}, 0, "mito", 2),
}
REG = REGISTRY.with_transporters(USER)
ALL = {**TABLE, **USER_TABLE}
ELECTROGENIC = [t for t, row in ALL.items() if row[3] != 0]
NEUTRAL = [t for t, row in ALL.items() if row[3] == 0]
NAMES = tuple(
    [f"dG_{t}" for t in ALL]
    + [f"mode_{t}" for t in ALL]
    + [f"v_rev_{t}" for t in ELECTROGENIC]
    + ["cl_i_eq_kcc2", "cl_i_eq_nkcc1", "e_cl", "e_k"]
)

N = 16  # points per hypothesis example
PROPS = settings(
    max_examples=25,
    deadline=None,
    # A batch of 16 points x ~28 inputs is a large example by design.
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.large_base_example],
)
_PLASMA_SPECIES = ("na", "k", "cl", "ca", "hco3", "glu", "gaba")
CONC = [f"{s}_{w}" for s in _PLASMA_SPECIES for w in ("i", "o")] + ["na_m", "ca_m"]


def rt_kj(temperature):
    """RT in kJ/mol (scipy constants)."""
    return R_SC * temperature / 1e3


def rt_f_mv(temperature):
    """RT/F in mV (scipy constants)."""
    return R_SC * temperature / F_SC * 1e3


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


# --- independent reference ----------------------------------------------------------
def conc(p, s: str, side: str):
    """[s] in mM on ``side`` ('i', 'o' or 'm'); [H⁺] = 10^(3 − pH) mM."""
    return 10.0 ** (3.0 - p[f"ph_{side}"]) if s == "h" else p[f"{s}_{side}"]


def cycle_terms(p, name: str) -> list:
    """n_s ΔG_s for each species moved, plus n_ATP ΔG_ATP, kJ/mol (physics.md)."""
    stoich, atp, compartment, _ = ALL[name]
    inside, outside, v = ("m", "i", p["v_mito"]) if compartment == "mito" else ("i", "o", p["vm"])
    rt = rt_kj(p["temperature"])
    terms = [
        n * (rt * np.log(conc(p, s, inside) / conc(p, s, outside)) + Z[s] * F_KJ_MV * v)
        for s, n in stoich.items()
    ]
    if atp:
        terms.append(atp * p["dG_atp"])
    return terms


def dG_hand(p, name: str):
    return sum(cycle_terms(p, name))


def dG_scale(p, name: str):
    """Σ |n_s ΔG_s| (+ |n_ATP ΔG_ATP|) + RT: the "exactly zero" scale of physics.md, plus RT.

    physics.md defines "exactly zero" as |ΔG| ≤ 1e-12 Σ|n_s ΔG_s|. That sum itself
    vanishes when every ion is at its own equilibrium ([s]_in ≈ [s]_out, V ≈ 0;
    hypothesis finds such points), while ln[s]_in − ln[s]_out still carries an
    irreducible ~1e-16·|ln c| rounding: RT (≈ 2.5 kJ/mol) is the floor.
    """
    return sum(np.abs(t) for t in cycle_terms(p, name)) + rt_kj(p["temperature"])


def f32_scale(p, name: str):
    """Magnitude of every term the kernel rounds: RT Σ|n|(|ln c_in| + |ln c_out| + 1) + ..."""
    stoich, atp, compartment, q = ALL[name]
    inside, outside, v = ("m", "i", p["v_mito"]) if compartment == "mito" else ("i", "o", p["vm"])
    total = abs(q) * F_KJ_MV * np.abs(v) + abs(atp) * np.abs(p["dG_atp"])
    for s, n in stoich.items():
        if s == "h":  # computed from the pH difference
            lmag = (np.abs(p["ph_i"]) + np.abs(p["ph_o"])) * math.log(10.0)
        else:
            lmag = np.abs(np.log(p[f"{s}_{inside}"])) + np.abs(np.log(p[f"{s}_{outside}"]))
        total = total + abs(n) * rt_kj(p["temperature"]) * (lmag + 1.0)
    return total


# --- batched evaluation -------------------------------------------------------------
_COMPILED: dict = {}


def batch_eval(p: dict, names=NAMES, dtype=np.float64, registry=REG) -> dict[str, np.ndarray]:
    """Evaluate ``names`` at N points: ``p`` overrides the registry defaults (all cast to dtype)."""
    key = (registry, tuple(names), np.dtype(dtype).name)
    if key not in _COMPILED:
        _COMPILED[key] = jax.jit(jax.vmap(lambda q: registry.evaluate(q, names)))
    full = {**registry.defaults(), **p}
    full = {k: jnp.asarray(np.broadcast_to(np.asarray(v, dtype), (N,))) for k, v in full.items()}
    return {k: np.asarray(v) for k, v in _COMPILED[key](full).items()}


def _single_point():
    """The jitted single-point evaluation (compiled once for the whole module)."""
    if "single" not in _COMPILED:
        _COMPILED["single"] = jax.jit(lambda q: REG.evaluate(q, NAMES))
    return _COMPILED["single"]


def _floats(lo: float, hi: float):
    return hnp.arrays(np.float64, N, elements=st.floats(lo, hi), fill=st.nothing())


@st.composite
def points(draw):
    """N random points; concentrations log-uniform over 1e-5..1e3 mM."""
    p = {name: 10.0 ** draw(_floats(-5.0, 3.0)) for name in CONC}
    p["temperature"] = draw(_floats(270.0, 320.0))
    p["vm"] = draw(_floats(-200.0, 200.0))
    p["v_mito"] = draw(_floats(-250.0, 50.0))
    p["ph_i"] = draw(_floats(6.0, 8.5))
    p["ph_o"] = draw(_floats(6.0, 8.5))
    p["dG_atp"] = draw(_floats(-70.0, -20.0))
    p["mode_tolerance"] = draw(_floats(0.0, 1.0))
    return p


# --- the table ------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(TABLE))
def test_builtin_stoichiometries_match_physics_table(name):
    stoich, atp, compartment, q = TABLE[name]
    t = BUILTIN_TRANSPORTERS[name]
    assert dict(t.stoichiometry) == stoich
    assert t.atp == atp
    assert t.compartment == compartment
    assert t.charge == q
    assert t.electrogenic == (q != 0)
    assert t.voltage_input == ("v_mito" if compartment == "mito" else "vm")
    assert t.reference and t.long_name and t.forward
    assert not t.user
    assert REGISTRY.output(f"dG_{name}").attrs["charge"] == q
    assert (f"v_rev_{name}" in REGISTRY.outputs) == (q != 0)
    assert set(BUILTIN_TRANSPORTERS) == set(TABLE)


def test_transporter_inputs():
    assert BUILTIN_TRANSPORTERS["nclx"].inputs() == (
        "temperature",
        "v_mito",
        "na_m",
        "na_i",
        "ca_m",
        "ca_i",
    )
    nka_inputs = BUILTIN_TRANSPORTERS["nka"].inputs()
    assert "dG_atp" in nka_inputs and "vm" in nka_inputs
    assert {"ph_i", "ph_o"} <= set(BUILTIN_TRANSPORTERS["eaat3"].inputs())


# --- reference values -----------------------------------------------------------------
def test_ncx_chapter_reversal_potential():
    # Chapter, "Thermodynamics and Reversal Potential": E_Na ≈ +70, E_Ca ≈ +125 mV give
    # V_rev = 3·70 − 2·125 = −40 mV; V_m ≈ −70 mV < V_rev, so NCX runs forward.
    rtf = rt_f_mv(310.0)
    na_i = 145.0 * math.exp(-70.0 / rtf)  # E_Na = 70 mV exactly (hand)
    ca_i = 2.0 * math.exp(-2.0 * 125.0 / rtf)  # E_Ca = 125 mV exactly (hand)
    res = kernels.evaluate(
        {"na_i": na_i, "ca_i": ca_i, "vm": -70.0}, ["v_rev_ncx", "e_na", "e_ca", "mode_ncx"]
    )
    assert float(res["e_na"]) == pytest.approx(70.0, abs=1e-10)
    assert float(res["e_ca"]) == pytest.approx(125.0, abs=1e-10)
    assert float(res["v_rev_ncx"]) == pytest.approx(-40.0, abs=1e-9)
    assert int(res["mode_ncx"]) == 1
    # physics.md Reference values: na_i = 10.5525 mM, ca_i = 172.46 nM → −40.000 mV.
    # Those inputs are rounded (±5e-5 mM, ±5e-3 nM), which moves V_rev by up to
    # 3·RT/F·5e-5/10.55 + RT/F·5e-3/172.46 ≈ 1.2e-3 mV: hence the 2e-3 tolerance.
    res = kernels.evaluate({"na_i": 10.5525, "ca_i": 172.46e-6}, ["v_rev_ncx"])
    assert float(res["v_rev_ncx"]) == pytest.approx(-40.000, abs=2e-3)
    # Chapter: depolarization past V_rev reverses the exchanger (Ca²⁺ influx).
    res = kernels.evaluate({"na_i": na_i, "ca_i": ca_i, "vm": -30.0}, ["mode_ncx"])
    assert int(res["mode_ncx"]) == -1


def test_ncx_reversal_moves_negative_with_sodium_load():
    # Chapter: raised [Na]_i lowers E_Na and shifts V_rev negative. Hand: V_rev =
    # 3E_Na − 2E_Ca, so dV_rev/d ln[Na]_i = −3RT/F exactly.
    v1 = float(kernels.evaluate({"na_i": 12.0}, "v_rev_ncx")["v_rev_ncx"])
    v2 = float(kernels.evaluate({"na_i": 24.0}, "v_rev_ncx")["v_rev_ncx"])
    assert v2 - v1 == pytest.approx(-3.0 * rt_f_mv(310.0) * math.log(2.0), abs=1e-9)


def test_reference_values_at_defaults():
    names = [f"{k}_{t}" for t in ("ncx", "nclx", "nka") for k in ("dG", "v_rev", "mode")]
    res = kernels.evaluate({}, [*names, "cl_i_eq_kcc2", "cl_i_eq_nkcc1", "e_k"])
    val = {k: float(v) for k, v in res.items()}
    # physics.md Reference values (rounded to the digits shown there).
    assert val["v_rev_ncx"] == pytest.approx(-64.861, abs=5e-4)
    assert val["dG_ncx"] == pytest.approx(-0.49583, abs=5e-6)
    assert val["dG_nclx"] == pytest.approx(-22.207, abs=5e-4)
    assert val["v_rev_nclx"] == pytest.approx(70.161, abs=5e-4)
    assert val["dG_nka"] == pytest.approx(-9.9620, abs=5e-5)
    assert val["v_rev_nka"] == pytest.approx(-173.249, abs=5e-4)
    assert val["cl_i_eq_kcc2"] == pytest.approx(3.25, abs=5e-3)
    assert val["e_k"] == pytest.approx(-98.544, abs=5e-4)
    assert val["cl_i_eq_nkcc1"] == pytest.approx(71.451, abs=5e-4)
    # Chapter: NKCC1 accumulates Cl⁻ "on the order of 60–80 mM".
    assert 60.0 <= val["cl_i_eq_nkcc1"] <= 80.0
    # Chapter ("Thermodynamics and Reversal Potential"): NCLX runs forward at
    # v_mito ≈ −160 mV; physics.md: NKA forward since V_m = −70 > V_rev (q = −1).
    assert int(res["mode_nclx"]) == 1
    assert int(res["mode_nka"]) == 1
    assert int(res["mode_ncx"]) == 1  # V_m = −70 < V_rev = −64.9 mV
    # Hand closed forms (physics.md table): KCC2 [Cl]_i = [K]_o[Cl]_o/[K]_i and
    # NKCC1 [Cl]_i = [Cl]_o √([Na]_o[K]_o/([Na]_i[K]_i)).
    assert val["cl_i_eq_kcc2"] == pytest.approx(3.5 * 130.0 / 140.0, rel=1e-13)
    assert val["cl_i_eq_nkcc1"] == pytest.approx(
        130.0 * math.sqrt(145.0 * 3.5 / (12.0 * 140.0)), rel=1e-13
    )


def test_kcc2_equilibrium_is_e_k_equals_e_cl():
    # Chapter, "KCC2": equilibrium ⇔ [K]_i[Cl]_i = [K]_o[Cl]_o ⇔ E_K = E_Cl.
    cl_eq = float(kernels.evaluate({}, "cl_i_eq_kcc2")["cl_i_eq_kcc2"])
    res = kernels.evaluate({"cl_i": cl_eq}, ["e_cl", "e_k", "dG_kcc2", "mode_kcc2"])
    assert float(res["e_cl"]) == pytest.approx(float(res["e_k"]), abs=1e-11)
    assert float(res["e_cl"]) == pytest.approx(-98.544, abs=5e-4)  # physics.md
    assert abs(float(res["dG_kcc2"])) < 1e-13
    assert int(res["mode_kcc2"]) == 0
    # Above equilibrium KCC2 extrudes (forward); below it would run in reverse.
    assert int(kernels.evaluate({"cl_i": 2 * cl_eq}, "mode_kcc2")["mode_kcc2"]) == 1
    assert int(kernels.evaluate({"cl_i": cl_eq / 2}, "mode_kcc2")["mode_kcc2"]) == -1


@pytest.mark.parametrize("name", list(TABLE))
def test_builtin_dG_at_defaults_equals_hand_sum(name):
    # Hand: Σ n_s [RT ln([s]_in/[s]_out) + z_s F V] + n_ATP ΔG_ATP at the physics.md
    # defaults, with scipy constants (and [H⁺] formed from pH).
    d = REGISTRY.defaults()
    res = kernels.evaluate({}, [f"dG_{name}"])
    hand, scale = dG_hand(d, name), dG_scale(d, name)
    assert float(res[f"dG_{name}"]) == pytest.approx(hand, abs=1e-12 * scale)


def test_nhe1_equilibrium_inside_proton():
    # Regression: equilibrium_inside(p, "h") used ln(pH_o) as ln[H⁺]_o. Hand: NHE1 is
    # at equilibrium when E_Na = E_H, i.e. [H]_i = [H]_o [Na]_i/[Na]_o.
    p = {k: jnp.asarray(v) for k, v in REGISTRY.defaults().items()}
    h_eq = float(BUILTIN_TRANSPORTERS["nhe1"].equilibrium_inside(p, "h"))
    assert h_eq == pytest.approx(10.0 ** (3.0 - 7.4) * 12.0 / 145.0, rel=1e-12)
    ph_eq = 3.0 - math.log10(h_eq)
    res = kernels.evaluate({"ph_i": ph_eq}, ["dG_nhe1", "e_na", "e_h"])
    assert abs(float(res["dG_nhe1"])) < 1e-12
    assert float(res["e_h"]) == pytest.approx(float(res["e_na"]), abs=1e-9)


def test_equilibrium_and_v_rev_errors():
    p = {k: jnp.asarray(v) for k, v in REGISTRY.defaults().items()}
    with pytest.raises(ValueError, match="electroneutral"):
        BUILTIN_TRANSPORTERS["kcc2"].v_rev(p)
    with pytest.raises(ValueError, match="does not move 'ca'"):
        BUILTIN_TRANSPORTERS["kcc2"].equilibrium_inside(p, "ca")


# --- properties -----------------------------------------------------------------------
@PROPS
@given(p=points())
def test_generic_kernel_equals_species_sum(p):
    res = batch_eval(p)
    for t in ALL:
        assert_close(res[f"dG_{t}"], dG_hand(p, t), 1e-12 * dG_scale(p, t), f"dG_{t}")


@PROPS
@given(p=points(), v=_floats(-200.0, 200.0), v_mito=_floats(-250.0, 50.0))
def test_electroneutral_dG_independent_of_voltage(p, v, v_mito):
    a = batch_eval(p)
    b = batch_eval({**p, "vm": v, "v_mito": v_mito})
    for t in NEUTRAL:
        np.testing.assert_array_equal(a[f"dG_{t}"], b[f"dG_{t}"], err_msg=t)
    for t in ELECTROGENIC:  # and V_rev of electrogenic ones does not depend on V either
        scale = f32_scale(p, t) / (abs(ALL[t][3]) * F_KJ_MV)
        assert_close(a[f"v_rev_{t}"], b[f"v_rev_{t}"], 1e-12 * scale, f"v_rev_{t}")


@PROPS
@given(p=points())
def test_electrogenic_dG_is_qF_times_distance_from_v_rev(p):
    res = batch_eval(p)
    for t in ELECTROGENIC:
        q = ALL[t][3]
        v = p["v_mito"] if ALL[t][2] == "mito" else p["vm"]
        expected = q * F_KJ_MV * (v - res[f"v_rev_{t}"])
        assert_close(res[f"dG_{t}"], expected, 1e-12 * dG_scale(p, t), f"dG_{t}")


@PROPS
@given(p=points())
def test_dG_exactly_zero_at_v_rev(p):
    res = batch_eval(p)
    for t in ELECTROGENIC:
        volt = "v_mito" if ALL[t][2] == "mito" else "vm"
        p_eq = {**p, volt: res[f"v_rev_{t}"]}
        at = batch_eval(p_eq)
        # physics.md: "exactly zero" means |ΔG| ≤ 1e-12 Σ|n_s ΔG_s| in float64.
        bound = 1e-12 * dG_scale(p_eq, t)
        assert np.all(np.abs(at[f"dG_{t}"]) <= bound), t
        # ... so the mode is 0 wherever the tolerance exceeds that bound.
        assert np.all(at[f"mode_{t}"][p_eq["mode_tolerance"] > bound] == 0), t


@PROPS
@given(p=points())
def test_dG_exactly_zero_at_chloride_equilibria(p):
    res = batch_eval(p)
    for t, eq in (("kcc2", "cl_i_eq_kcc2"), ("nkcc1", "cl_i_eq_nkcc1")):
        p_eq = {**p, "cl_i": res[eq]}
        at = batch_eval(p_eq)
        assert np.all(np.abs(at[f"dG_{t}"]) <= 1e-12 * dG_scale(p_eq, t)), t
    # KCC2 equilibrium is E_Cl = E_K.
    p_eq = {**p, "cl_i": res["cl_i_eq_kcc2"]}
    at = batch_eval(p_eq)
    lmag = sum(np.abs(np.log(p[n])) for n in ("k_i", "k_o", "cl_o")) + 1.0
    assert_close(at["e_cl"], at["e_k"], 1e-12 * rt_f_mv(p["temperature"]) * lmag, "E_Cl = E_K")
    # Hand closed forms (physics.md table).
    assert_close(res["cl_i_eq_kcc2"], p["k_o"] * p["cl_o"] / p["k_i"], 1e-11 * res["cl_i_eq_kcc2"])
    nkcc1 = p["cl_o"] * np.sqrt(p["na_o"] * p["k_o"] / (p["na_i"] * p["k_i"]))
    assert_close(res["cl_i_eq_nkcc1"], nkcc1, 1e-11 * nkcc1)


@PROPS
@given(p=points())
def test_mode_sign_agrees_with_dG(p):
    res = batch_eval(p)
    tol = p["mode_tolerance"]
    for t in ALL:
        dG, mode = res[f"dG_{t}"], res[f"mode_{t}"]
        assert mode.dtype == np.int8
        edge = 1e-9 * (np.abs(dG) + 1.0)  # one ulp of ΔG may decide a point on the band edge
        out = np.abs(dG) > tol + edge
        np.testing.assert_array_equal(mode[out], -np.sign(dG[out]).astype(np.int8), err_msg=t)
        np.testing.assert_array_equal(mode[np.abs(dG) < tol - edge], 0, err_msg=t)


@settings(max_examples=8, deadline=None, suppress_health_check=list(PROPS.suppress_health_check))
@given(p=points())
def test_vmap_equals_python_loop(p):
    batched = batch_eval(p)
    single = _single_point()
    for i in range(N):
        one = single({k: jnp.asarray(v[i]) for k, v in p.items()})
        for name in NAMES:
            if batched[name].dtype == np.int8:
                assert int(one[name]) == int(batched[name][i]), name
            else:
                np.testing.assert_allclose(
                    float(one[name]), batched[name][i], rtol=1e-13, atol=1e-13, err_msg=name
                )


@PROPS
@given(p=points())
def test_float32_matches_float64(p):
    # float32 inputs stay float32 and agree with float64 on the same float32-rounded
    # inputs within 2e-6 × M, M = the magnitude of the terms the kernel sums
    # (RT Σ|n_s|(|ln c_in| + |ln c_out| + 1) + |q|F|V| + |n_ATP ΔG_ATP|): float32 has
    # 2^-23 ≈ 1.2e-7 relative precision per rounding and ΔG is a sum of logs whose
    # cancellation can leave |ΔG| ≪ M, so only an absolute bound in M is meaningful;
    # 2e-6 leaves room for ~16 roundings (observed ≤ 3e-7 M).
    p32 = {k: np.asarray(v, np.float32) for k, v in p.items()}
    p64 = {k: np.asarray(v, np.float64) for k, v in p32.items()}
    r32 = batch_eval(p32, dtype=np.float32)
    r64 = batch_eval(p64)
    for t in ALL:
        m = f32_scale(p64, t)
        assert r32[f"dG_{t}"].dtype == np.float32
        assert_close(r32[f"dG_{t}"], r64[f"dG_{t}"], 2e-6 * m, f"dG_{t}")
        if t in ELECTROGENIC:
            v_tol = 2e-6 * m / (abs(ALL[t][3]) * F_KJ_MV)
            assert_close(r32[f"v_rev_{t}"], r64[f"v_rev_{t}"], v_tol, f"v_rev_{t}")
        clear = np.abs(np.abs(r64[f"dG_{t}"]) - p64["mode_tolerance"]) > 4e-6 * m
        np.testing.assert_array_equal(r32[f"mode_{t}"][clear], r64[f"mode_{t}"][clear], err_msg=t)
    # [Cl]_i,eq = exp(ln-terms): relative error ≈ absolute error of the exponent,
    # bounded by 2e-6 × Σ|n_s|(|ln c_in| + |ln c_out| + 1) / |n_Cl|.
    for t in ("kcc2", "nkcc1"):
        n_cl = abs(ALL[t][0]["cl"])
        rtol = 2e-6 * f32_scale(p64, t) / (rt_kj(p64["temperature"]) * n_cl)
        eq = f"cl_i_eq_{t}"
        assert r32[eq].dtype == np.float32
        assert_close(r32[eq], r64[eq], rtol * r64[eq], eq)


# --- user-defined transporters ----------------------------------------------------------
def test_user_symporter_outputs_equal_hand_computation():
    # physics.md example {na: 2, glu: 1, k: -1}: q = 2 − 1 − 1 = 0, so dG_ and mode_
    # exist but no v_rev_ (electroneutral). Hand at the defaults (310 K):
    # RT[2 ln(12/145) + ln(10/0.001) − ln(140/3.5)].
    hand = rt_kj(310.0) * (
        2 * math.log(12.0 / 145.0) + math.log(10.0 / 1e-3) - math.log(140.0 / 3.5)
    )
    res = kernels.evaluate({}, ["dG_my_symporter", "mode_my_symporter"], transporters=USER)
    assert float(res["dG_my_symporter"]) == pytest.approx(hand, abs=1e-12)
    assert int(res["mode_my_symporter"]) == (1 if hand < -1e-3 else -1 if hand > 1e-3 else 0)
    assert res["mode_my_symporter"].dtype == jnp.int8
    assert "v_rev_my_symporter" not in REG.outputs
    assert REG.output("dG_my_symporter").attrs["charge"] == 0
    assert REG.transporters["my_symporter"].user


def test_user_electrogenic_outputs_equal_hand_computation():
    d = REGISTRY.defaults()
    names = [f"{k}_{t}" for t in ("my_na_glu", "my_pmca", "my_mcu") for k in ("dG", "v_rev")]
    res = kernels.evaluate({"ca_m": 1e-3}, names, transporters=USER)
    rt, rtf = rt_kj(310.0), rt_f_mv(310.0)
    # {na: 2, glu: 1}: q = +1; V_rev = −RT[2 ln(na_i/na_o) + ln(glu_i/glu_o)]/F.
    chem = rt * (2 * math.log(12.0 / 145.0) + math.log(10.0 / 1e-3))
    assert float(res["v_rev_my_na_glu"]) == pytest.approx(-chem / F_KJ_MV, abs=1e-9)
    assert float(res["dG_my_na_glu"]) == pytest.approx(chem + F_KJ_MV * d["vm"], abs=1e-12)
    # {ca: -1, h: 1} + 1 ATP: q = −2 + 1 = −1.
    chem = -rt * math.log(1e-4 / 2.0) + rt * (7.4 - 7.2) * math.log(10.0) + d["dG_atp"]
    assert float(res["dG_my_pmca"]) == pytest.approx(chem - F_KJ_MV * d["vm"], abs=1e-12)
    assert float(res["v_rev_my_pmca"]) == pytest.approx(chem / F_KJ_MV, abs=1e-9)
    # Mito {ca: 1}: Ca²⁺ cytosol → matrix, q = +2, V = v_mito; V_rev is the matrix
    # E_Ca = (RT/2F) ln([Ca]_i/[Ca]_m).
    assert float(res["v_rev_my_mcu"]) == pytest.approx(rtf / 2 * math.log(1e-4 / 1e-3), abs=1e-9)
    hand = rt * math.log(1e-3 / 1e-4) + 2 * F_KJ_MV * d["v_mito"]
    assert float(res["dG_my_mcu"]) == pytest.approx(hand, abs=1e-12)
    for t, (_, _, _, q) in USER_TABLE.items():
        assert REG.output(f"dG_{t}").attrs["charge"] == q, t
        assert REG.transporters[t].charge == q, t


def test_with_transporters_returns_new_registry():
    assert "dG_my_symporter" not in REGISTRY.outputs
    assert "my_symporter" not in REGISTRY.transporters
    assert set(REGISTRY.outputs) < set(REG.outputs)
    assert REG.inputs.keys() == REGISTRY.inputs.keys()


@pytest.mark.parametrize(
    ("spec", "fragments"),
    [
        # Unknown species, with a suggestion and the allowed list.
        ({"stoichiometry": {"nna": 1}}, ["'nna'", "did you mean 'na'", "allowed:"]),
        # Matrix species are na and ca only.
        ({"stoichiometry": {"k": 1}, "compartment": "mito"}, ["'k'", "'mito'", "na, ca"]),
        ({"stoichiometry": {"h": 1}, "compartment": "mito"}, ["'h'", "'mito'"]),
        ({"stoichiometry": {"na": 1}, "compartment": "golgi"}, ["'golgi'", "plasma, mito"]),
        ({"stoichiometry": {}}, ["stoichiometry"]),
        ({"stoichiometry": {"na": 0, "k": 0}}, ["non-zero"]),
        ({"stoichiometry": {"na": float("nan")}}, ["na = nan", "finite"]),
        ({"stoichiometry": {"na": True}}, ["na = True"]),
        ({"stoichiometry": {"na": "3"}}, ["na = '3'"]),
        ({"stoichiometry": {"na": 1}, "atp": float("inf")}, ["atp = inf"]),
        ({"stoichiometry": {"na": 1}, "stochiometry": {}}, ["'stochiometry'", "did you mean"]),
        ("na: 1", ["must be a mapping"]),
    ],
)
def test_user_transporter_errors(spec, fragments):
    with pytest.raises(ValueError) as info:
        REGISTRY.with_transporters({"bad_one": spec})
    for frag in fragments:
        assert frag in str(info.value), (frag, str(info.value))


@pytest.mark.parametrize("name", ["NCX2", "2ncx", "_x", "x-y", "é", "", 3])
def test_user_transporter_bad_names(name):
    with pytest.raises(ValueError, match="not allowed"):
        make_transporter(name, {"na": 1})


def test_duplicate_transporter_names_raise():
    with pytest.raises(ValueError, match="'ncx' already exists"):
        REGISTRY.with_transporters({"ncx": {"stoichiometry": {"na": 3, "ca": -1}}})
    with pytest.raises(ValueError, match="'my_symporter' already exists"):
        REG.with_transporters({"my_symporter": {"stoichiometry": {"na": 1}}})
    # A name whose outputs would shadow an existing output (dG_na) is refused too.
    with pytest.raises(ValueError, match="dG_na"):
        REGISTRY.with_transporters({"na": {"stoichiometry": {"na": 1}}})


def test_numpy_coefficients_are_accepted():
    # Regression: numpy integers (np.int64 is not an int) were rejected as "not a number".
    t = make_transporter("np_coeffs", {"na": np.int64(3), "ca": np.float32(-1.0)}, atp=np.int64(0))
    assert dict(t.stoichiometry) == {"na": 3.0, "ca": -1.0}
    assert t.charge == 1.0


def test_fractional_cancelling_charge_is_exactly_zero():
    # Regression: 0.1 + 0.2 − 0.3 = 5.6e-17 in floating point made this cycle
    # "electrogenic" with a V_rev of ~1e17 mV.
    t = make_transporter("fractional", {"na": 0.1, "h": 0.2, "cl": 0.3})
    assert t.charge == 0.0
    assert not t.electrogenic
    assert make_transporter("third", {"na": 1 / 3}).charge == pytest.approx(1 / 3, rel=1e-15)
