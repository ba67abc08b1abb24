"""Whole-cell steady state of the pump–leak neuron (kernels/cell.py).

References written here, independently of the kernel:
- the closed form of Düsterwald et al. 2018 eLife 7:e39575 (their ``zplm``:
  cubic pump, ohmic leaks, KCC2, no NKCC1 or GABA_A), parametrised by the pump
  rate and extended with clamped [HCO₃⁻]ᵢ, in plain numpy;
- ``scipy.optimize.root`` on the five equations of physics.md (three balances,
  electroneutrality, osmotic balance) in ([Na], [K], [Cl], [X], V), in plain numpy;
- ``scipy.integrate.solve_ivp`` of the dynamic system (amounts of Na⁺, K⁺, Cl⁻,
  volume from the osmotic balance, V from zero net current), in plain numpy;
- eigenvalues of a finite-difference Jacobian of that numpy right-hand side.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.integrate import solve_ivp
from scipy.optimize import root

from kernels import REGISTRY, cell, evaluate
from kernels.constants import F, R
from kernels.solvers import Status

NATIVE = (
    "vm_cell na_i_cell k_i_cell cl_i_cell x_i_cell volume_cell j_nka_cell status_cell "
    "residual_cell stable_cell tau_cell"
).split()
STATE = ("vm_cell", "na_i_cell", "k_i_cell", "cl_i_cell", "x_i_cell", "volume_cell")


SATURATING = REGISTRY.with_model({"pump": "saturating"})


def _base(dtype=jnp.float64, registry=REGISTRY) -> dict:
    return {k: jnp.asarray(v, dtype) for k, v in registry.defaults().items()}


@functools.cache
def _compiled(names, dtype, registry):
    names = registry.resolve_outputs(names)
    return jax.jit(jax.vmap(lambda v: registry.evaluate(v, names)))


def _run(names, pts=None, dtype=jnp.float64, registry=REGISTRY, **over) -> dict:
    """Outputs at a batch of points: every input batched (one compile per names/dtype)."""
    pts = {**over, **(pts or {})}
    n = max([np.size(v) for v in pts.values()] + [1])
    full = {
        k: jnp.broadcast_to(jnp.asarray(pts.get(k, d), dtype), (n,))
        for k, d in registry.defaults().items()
    }
    return _np(_compiled(tuple(names), dtype, registry)(full))


def _np(d):
    return {k: np.asarray(v) for k, v in d.items()}


# ------------------------------------------------------------ independent numpy model
def _par(p: dict) -> dict:
    """Plain-float parameters of the numpy reference model from registry inputs."""
    u_k = p["u_kcc2"] * ((1 - p["p_kcc2"]) + p["p_kcc2"] * p["rho_kcc2"])
    u_k *= p["ic50_vu0463271"] / (p["vu0463271"] + p["ic50_vu0463271"])
    u_n = p["u_nkcc1"] * (p["rho_nkcc1"] + (1 - p["rho_nkcc1"]) * p["p_nkcc1"])
    u_n *= p["ic50_bumetanide"] / (p["bumetanide"] + p["ic50_bumetanide"])
    q = {k: float(v) for k, v in p.items()}
    q["u_k"], q["u_n"] = float(u_k), float(u_n)
    q["rt"] = R * q["temperature"] / F * 1e3
    r = q["p_hco3_cl"]
    q["gc"] = q["g_cl"] + q["g_gaba"] / (1 + r)
    q["gh"] = q["g_gaba"] * r / (1 + r)
    return q


def _pump(na, q, law="cubic"):
    if law == "cubic":
        return q["u_nka"] * (na / q["na_o"]) ** 3
    return (
        q["u_nka"]
        * (na / (na + q["km_nka_na"])) ** 3
        * (q["k_o"] / (q["k_o"] + q["km_nka_k"])) ** 2
    )


def _rates(v, na, k, cl, q, law="cubic"):
    rt = q["rt"]
    e_na, e_k = rt * np.log(q["na_o"] / na), rt * np.log(q["k_o"] / k)
    e_cl, e_h = rt * np.log(cl / q["cl_o"]), rt * np.log(q["hco3_i"] / q["hco3_o"])
    j = _pump(na, q, law)
    jk = q["u_k"] * np.log(k * cl / (q["k_o"] * q["cl_o"]))
    jn = q["u_n"] * np.log(q["na_o"] * q["k_o"] * q["cl_o"] ** 2 / (na * k * cl**2))
    g = q["gamma"]
    i_h = q["gh"] * (v - e_h)
    d_na = -g * q["g_na"] * (v - e_na) - 3 * j + jn - g * i_h
    d_k = -g * q["g_k"] * (v - e_k) + 2 * j - jk + jn
    d_cl = g * q["gc"] * (v - e_cl) - jk + 2 * jn
    i_net = q["g_na"] * (v - e_na) + q["g_k"] * (v - e_k) + q["gc"] * (v - e_cl) + i_h + j / g
    return np.array([d_na, d_k, d_cl]), i_net


def _five(y, q, law="cubic"):
    """The five equations in (ln Na, ln K, ln Cl, ln X, V), scaled to O(1)."""
    na, k, cl, x = np.exp(y[:4])
    v = y[4]
    d, _ = _rates(v, na, k, cl, q, law)
    scale = q["gamma"] * (q["g_na"] + q["g_k"] + q["gc"]) * q["rt"] + q["u_k"] + q["u_n"]
    en = (na + k - cl - q["hco3_i"] + q["z_x"] * x) / q["osm_o"]
    osm = (na + k + cl + q["hco3_i"] + x) / q["osm_o"] - 1
    return np.concatenate([d / scale, [en, osm]])


def _scipy_root(q, law="cubic", starts=None):
    starts = starts or [
        (12.0, 125.0, 6.0, 130.0, -70.0),
        (30.0, 100.0, 15.0, 120.0, -50.0),
        (5.0, 140.0, 3.0, 140.0, -90.0),
        (60.0, 60.0, 40.0, 100.0, -20.0),
    ]
    for s in starts:
        y0 = np.array([*np.log(s[:4]), s[4]])
        sol = root(_five, y0, args=(q, law), method="hybr", tol=1e-13)
        # judged by the residual ('hybr' may stop with "xtol too small" at the root)
        if np.all(np.isfinite(sol.x)) and np.max(np.abs(_five(sol.x, q, law))) < 1e-11:
            na, k, cl, x = np.exp(sol.x[:4])
            return {"na": na, "k": k, "cl": cl, "x": x, "vm": sol.x[4]}
    return None


def _ode_rhs(t, n, q, law="cubic"):
    w = (n.sum() + q["x_i_ref"]) / (q["osm_o"] - q["hco3_i"])
    na, k, cl = n / w
    rt = q["rt"]
    e = (
        q["g_na"] * rt * np.log(q["na_o"] / na)
        + q["g_k"] * rt * np.log(q["k_o"] / k)
        + q["gc"] * rt * np.log(cl / q["cl_o"])
        + q["gh"] * rt * np.log(q["hco3_i"] / q["hco3_o"])
    )
    v = (e - _pump(na, q, law) / q["gamma"]) / (q["g_na"] + q["g_k"] + q["gc"] + q["gh"])
    r = np.array(_rates(v, na, k, cl, q, law)[0])
    # [HCO3-]i stays clamped as the volume changes: that HCO3- is made with H+, which
    # NHE1 exchanges for Na+ (dw/dt = sum(dn/dt)/(osm - hco3), solved for dw/dt)
    r[0] += q["hco3_i"] * r.sum() / (q["osm_o"] - 2 * q["hco3_i"])
    return r


def _defaults(**over) -> dict:
    return {**REGISTRY.defaults(), **over}


# ------------------------------------------------------------------------- defaults
def test_default_state_is_a_resting_mature_neuron():
    r = _np(evaluate({}, [*NATIVE, "e_gaba_cell", "df_gaba_cell", "gaba_polarity_cell"]))
    assert r["status_cell"] == 0 and r["stable_cell"] == 1
    assert -80 <= r["vm_cell"] <= -70
    assert 10 <= r["na_i_cell"] <= 15
    assert 120 <= r["k_i_cell"] <= 140
    assert 4 <= r["cl_i_cell"] <= 7
    assert abs(r["volume_cell"] - 1) < 1e-3  # x_i_ref is calibrated to the default state
    # the values the docs quote (physics.md, README)
    assert r["vm_cell"] == pytest.approx(-70.981, abs=1e-3)
    assert r["na_i_cell"] == pytest.approx(12.001, abs=1e-3)
    assert r["gaba_polarity_cell"] == -1  # mature: hyperpolarizing at rest
    assert r["tau_cell"] == pytest.approx(19.60, abs=0.01)


def test_saturating_pump_reaches_the_same_state_with_its_documented_capacity():
    reg = REGISTRY.with_model({"pump": "saturating"})
    assert reg.model["pump"] == "saturating"
    assert reg.outputs["vm_cell"].attrs["pump"] == "saturating"
    r = _np(evaluate({"u_nka": 1.1863}, ["na_i_cell", "vm_cell"], registry=reg))
    assert r["status_cell"] == 0 and r["na_i_cell"] == pytest.approx(12.0, abs=1e-3)
    # and the default registry still uses the cubic law
    assert REGISTRY.outputs["vm_cell"].attrs["pump"] == "cubic"
    cubic = _np(evaluate({"u_nka": 1.1863}, ["na_i_cell"]))
    assert cubic["na_i_cell"] > 30  # a 100x weaker cubic pump: Na⁺ loading


# ---------------------------------------------------------------------- closed form
def _closed_form_np(j, q):
    """Düsterwald et al. 2018 zplm (with clamped HCO₃⁻) in numpy: state for pump rate j."""
    rt, g = q["rt"], q["gamma"]
    gna, gk, gc, gkcc = g * q["g_na"], g * q["g_k"], g * q["g_cl"], q["u_k"] / rt
    beta = 1 / (gk * gc + gk * gkcc + gc * gkcc)
    dk, dc, dn = 2 * j * (gc + gkcc) * beta, 2 * j * gkcc * beta, -3 * j / gna
    z, h, osm = q["z_x"], q["hco3_i"], q["osm_o"]
    a, b = (1 + z) / (1 - z), ((1 + z) * h - z * osm) / (1 - z)
    alpha = q["na_o"] * np.exp(dn / rt) + q["k_o"] * np.exp(dk / rt)
    gcl = q["cl_o"] * np.exp(-dc / rt)
    theta = (b + np.sqrt(b * b + 4 * alpha * a * gcl)) / (2 * alpha)
    na, k, cl = theta * q["na_o"] * np.exp(dn / rt), theta * q["k_o"] * np.exp(dk / rt), gcl / theta
    return {
        "vm": -rt * np.log(theta),
        "na": na,
        "k": k,
        "cl": cl,
        "x": (osm - 2 * cl - 2 * h) / (1 - z),
    }


@pytest.mark.parametrize(
    "over",
    [
        {},
        {"z_x": -0.5},
        {"z_x": -1.0},
        {"z_x": -0.95, "u_kcc2": 0.03},
        {"g_cl": 0.01, "u_kcc2": 1.0, "k_o": 8.0},
        {"hco3_i": 1e-3, "osm_o": 290.0, "g_k": 0.2},
    ],
)
def test_closed_form_kcc2_only_to_1e10(over):
    p = _defaults(u_nkcc1=0.0, g_gaba=0.0, **over)
    q = _par(p)
    # pump rates from a nearly pump-less, Donnan-like cell to Na⁺ depletion ([Na]_i ≥ 1 mM:
    # for z < −1 and absurd pump capacities the two roots of φ merge, see kernels/cell.py)
    js = np.geomspace(1e-3, 0.3, 16)
    js = js[[_closed_form_np(j, q)["na"] > 1.0 for j in js]]
    assert len(js) >= 8
    refs = [_closed_form_np(j, q) for j in js]
    u = np.array([j / (ref["na"] / q["na_o"]) ** 3 for j, ref in zip(js, refs, strict=True)])
    over = {**over, "u_nkcc1": 0.0, "g_gaba": 0.0}
    out = _run(STATE, {"u_nka": u}, **over)
    assert np.all(out["status_cell"] == 0)
    for key, ref_key in [("vm_cell", "vm"), ("na_i_cell", "na"), ("k_i_cell", "k"),
                         ("cl_i_cell", "cl"), ("x_i_cell", "x")]:  # fmt: skip
        ref = np.array([r[ref_key] for r in refs])
        np.testing.assert_allclose(out[key], ref, rtol=1e-10, atol=0, err_msg=key)
    # the kernel's own closed form (used in notebook 07) is the same formula
    qk = cell.CellParams.from_inputs({k: jnp.asarray(v) for k, v in p.items()})
    mine = cell.closed_form_kcc2(jnp.asarray(js), qk)
    np.testing.assert_allclose(np.asarray(mine.cl_i), [r["cl"] for r in refs], rtol=1e-13)


# ------------------------------------------------------------------- scipy reference
def _random_points(n, seed):
    rng = np.random.default_rng(seed)

    def lu(lo, hi, size=n):
        return np.exp(rng.uniform(np.log(lo), np.log(hi), size))

    return {
        "g_na": lu(3e-3, 0.3),
        "g_k": lu(5e-3, 0.5),
        "g_cl": lu(1e-3, 1.0),
        "g_gaba": lu(1e-4, 0.3) * (rng.random(n) < 0.5),
        "u_kcc2": lu(1e-3, 3.0),
        "u_nkcc1": lu(1e-3, 3.0) * (rng.random(n) < 0.7),
        "u_nka": lu(1.0, 3e3),
        "k_o": lu(1.0, 60.0),
        "na_o": lu(60.0, 200.0),
        "cl_o": lu(60.0, 150.0),
        "hco3_i": rng.uniform(1.0, 30.0, n),
        "osm_o": rng.uniform(220.0, 380.0, n),
        "z_x": rng.uniform(-1.0, -0.2, n),
        "p_hco3_cl": rng.uniform(0.0, 0.5, n),
        "temperature": rng.uniform(295.0, 312.0, n),
    }


@pytest.mark.parametrize("law", ["cubic", "saturating"])
def test_matches_scipy_root_on_random_points(law):
    reg = SATURATING if law == "saturating" else REGISTRY
    pts = _random_points(120, seed=1 if law == "cubic" else 2)
    if law == "saturating":
        pts["u_nka"] = pts["u_nka"] / 100
    out = _run(STATE, pts, registry=reg)
    status = out["status_cell"]
    n_ok = n_none = 0
    for i in range(len(status)):
        q = _par(_defaults(**{k: v[i] for k, v in pts.items()}))
        ref = _scipy_root(q, law)
        if status[i] == Status.CONVERGED:
            n_ok += 1
            if ref is None:  # scipy from generic starts failed: start it nearby, it must stay
                ref = _scipy_root(
                    q, law, [tuple(out[k][i] for k in STATE[1:5]) + (out["vm_cell"][i] + 1.0,)]
                )
            assert ref is not None, i
            for key, rk in [("vm_cell", "vm"), ("na_i_cell", "na"), ("k_i_cell", "k"),
                            ("cl_i_cell", "cl"), ("x_i_cell", "x")]:  # fmt: skip
                assert out[key][i] == pytest.approx(ref[rk], rel=1e-8, abs=1e-9), (i, key)
        else:
            assert status[i] in (Status.NO_PHYSICAL_STATE, Status.NO_ROOT_IN_RANGE), i
            assert np.isnan(out["vm_cell"][i])
            n_none += 1
            # no physical root either way: scipy finds none with [X] > 0 (it works in logs)
            assert ref is None, (i, ref)
    assert n_ok >= 60 and n_none >= 3, (n_ok, n_none)


def test_no_physical_state_has_a_meaning():
    # no pump: the Donnan state; with osm_o = 297 mM (which counts extracellular
    # impermeants) a swollen Donnan equilibrium exists, at 270 mM the permeant ions alone
    # exceed it and the cell swells without bound
    r = _np(evaluate({"u_nka": 0.0}, ["vm_cell", "volume_cell"]))
    assert r["status_cell"] == 0 and r["volume_cell"] > 50 and abs(r["vm_cell"]) < 1
    r = _np(evaluate({"u_nka": 0.0, "osm_o": 270.0}, ["vm_cell", "volume_cell"]))
    assert r["status_cell"] == Status.NO_PHYSICAL_STATE and np.isnan(r["volume_cell"])
    # a 20x weaker pump still holds a state: Na⁺-loaded, slightly swollen
    r = _np(evaluate({"u_nka": 137.5 / 20}, ["na_i_cell", "volume_cell"]))
    assert r["status_cell"] == 0 and r["na_i_cell"] > 25 and r["volume_cell"] > 1


def test_status_codes_on_forced_failures():
    cases = {
        "gamma": ({"gamma": 0.0}, Status.INVALID_INPUT),
        "osm": ({"osm_o": 30.0}, Status.INVALID_INPUT),  # ≤ 2 [HCO3]_i
        "nan": ({"g_k": float("nan")}, Status.INVALID_INPUT),
        "p_kcc2": ({"p_kcc2": 1.5}, Status.INVALID_INPUT),
        "z_x": ({"z_x": -1.2}, Status.INVALID_INPUT),
        "no Na path": ({"g_na": 0.0, "u_nkcc1": 0.0}, Status.NO_PHYSICAL_STATE),
        "swelling": ({"u_nka": 1e-3, "osm_o": 270.0}, Status.NO_PHYSICAL_STATE),
        "no Na": ({"u_nka": 1e20}, Status.NO_ROOT_IN_RANGE),
    }
    for name, (over, code) in cases.items():
        r = _run(NATIVE, over)
        assert r["status_cell"][0] == code, (name, r["status_cell"])
        for k in ("vm_cell", "na_i_cell", "tau_cell", "residual_cell"):
            assert np.isnan(r[k][0]), (name, k)
        assert r["stable_cell"][0] == -1
    # the unchecked batched path never raises; the checked single-point path names the field
    with pytest.raises(ValueError, match="gamma"):
        evaluate({"gamma": -1.0}, ["vm_cell"])


def test_not_converged_is_flagged_with_a_finite_estimate(monkeypatch):
    monkeypatch.setattr(cell, "N_ITER", 0)
    monkeypatch.setattr(cell, "_N_FAST", 0)
    pts = _random_points(40, seed=5)
    q = cell.CellParams.from_inputs({**_base(), **{k: jnp.asarray(v) for k, v in pts.items()}})
    s = jax.jit(lambda q: cell.cell_steady_state(q))(q)
    st = np.asarray(s.status)
    assert np.any(st == Status.NOT_CONVERGED)
    assert np.all(np.isfinite(np.asarray(s.vm)[st == Status.NOT_CONVERGED]))


# -------------------------------------------------------------- balances, invariances
def test_balances_net_current_charge_and_osmolarity_hold_at_converged_points():
    pts = _random_points(300, seed=3)
    names = [*STATE, "j_nka_cell"]
    out = _run(names, pts)
    ok = out["status_cell"] == 0
    assert ok.sum() > 150
    for i in np.flatnonzero(ok):
        q = _par(_defaults(**{k: v[i] for k, v in pts.items()}))
        na, k, cl, x, v = (
            out[n][i] for n in ("na_i_cell", "k_i_cell", "cl_i_cell", "x_i_cell", "vm_cell")
        )
        d, i_net = _rates(v, na, k, cl, q)
        scale = q["gamma"] * (q["g_na"] + q["g_k"] + q["gc"]) * (abs(v) + q["rt"])
        assert np.max(np.abs(d)) <= 1e-11 * max(scale, q["u_k"] + q["u_n"] + 1e-3)
        assert abs(i_net) <= 1e-9 * (q["g_na"] + q["g_k"] + q["gc"] + q["gh"]) * (abs(v) + 100)
        tot = na + k + cl + q["hco3_i"]
        assert abs(na + k - cl - q["hco3_i"] + q["z_x"] * x) <= 1e-12 * tot  # charge
        assert abs(na + k + cl + q["hco3_i"] + x - q["osm_o"]) <= 1e-12 * q["osm_o"]  # osmotic
        assert out["residual_cell"][i] <= 1e-10 * max(scale, 1e-3)


def test_x_i_ref_changes_volume_and_tau_only():
    names = [*NATIVE, "e_gaba_cell", "mode_ncx_cell", "ca_i_ss_cell"]
    xs = np.array([50.0, 136.8, 400.0])
    r = _run(names, {"x_i_ref": xs})
    for k in names:
        if k in ("volume_cell", "tau_cell", "residual_cell"):
            continue
        np.testing.assert_array_equal(r[k], r[k][1], err_msg=k)
    np.testing.assert_allclose(
        r["volume_cell"] / r["volume_cell"][1], np.asarray(xs) / 136.8, rtol=1e-14
    )
    # same membrane area, larger volume: relaxation slows in proportion
    np.testing.assert_allclose(r["tau_cell"] / r["tau_cell"][1], np.asarray(xs) / 136.8, rtol=1e-9)


# ------------------------------------------------------------------ dynamics, tau
def _state(over: dict):
    r = _np(evaluate(over, STATE))
    return r, _par(_defaults(**over))


@pytest.mark.parametrize("over", [{}, {"k_o": 9.0, "u_nkcc1": 0.5}, {"g_gaba": 0.05, "z_x": -1.0}])
def test_time_course_relaxes_to_the_steady_state(over):
    r, q = _state(over)
    w = r["volume_cell"]
    n_ss = np.array([r["na_i_cell"], r["k_i_cell"], r["cl_i_cell"]]) * w
    # a perturbation that keeps the conserved charge n_Na + n_K − n_Cl − [HCO₃⁻]ᵢ·w (as any
    # transport must, the clamped HCO₃⁻ bringing its Na⁺): +Na⁺ and +Cl⁻ in the ratio
    # Δn_Cl/Δn_Na = (osm_o − 2[HCO₃⁻]ᵢ)/osm_o
    osm, h = q["osm_o"], q["hco3_i"]
    n0 = n_ss + np.array([4.0, 0.0, 4.0 * (osm - 2 * h) / osm])
    sol = solve_ivp(_ode_rhs, (0, 40 * 60.0), n0, args=(q,), method="LSODA", rtol=1e-10, atol=1e-12)
    assert sol.success
    np.testing.assert_allclose(sol.y[:, -1], n_ss, rtol=1e-6)


@pytest.mark.parametrize("over", [{}, {"k_o": 9.0, "u_nkcc1": 0.5}, {"g_gaba": 0.05, "z_x": -1.0}])
def test_stability_and_tau_match_a_finite_difference_jacobian(over):
    r, q = _state(over)
    out = _np(evaluate(over, ["tau_cell", "stable_cell"]))
    w = r["volume_cell"]
    n_ss = np.array([r["na_i_cell"], r["k_i_cell"], r["cl_i_cell"]]) * w
    jac = np.zeros((3, 3))
    for j in range(3):
        h = 1e-5 * n_ss[j]
        e = np.zeros(3)
        e[j] = h
        jac[:, j] = (_ode_rhs(0, n_ss + e, q) - _ode_rhs(0, n_ss - e, q)) / (2 * h)
    lam = np.linalg.eigvals(jac)
    lam = lam[np.argsort(np.abs(lam))]
    assert abs(lam[0]) < 1e-6 * abs(lam[-1])  # the conserved charge
    lam_max = max(lam[1:].real)
    assert out["stable_cell"] == (1 if lam_max < 0 else 0)
    assert out["tau_cell"] == pytest.approx(-1 / lam_max, rel=1e-6)
    # the kernel's right-hand side is the same dynamic system
    qk = cell.CellParams.from_inputs({k: jnp.asarray(v) for k, v in _defaults(**over).items()})
    np.testing.assert_allclose(
        np.asarray(cell.cell_rhs(jnp.asarray(n_ss + 1.0), qk)),
        _ode_rhs(0, n_ss + 1.0, q),
        rtol=1e-12,
        atol=1e-15,
    )
    st = cell.cell_state(jnp.asarray(n_ss), qk)
    assert float(st.vm) == pytest.approx(r["vm_cell"], abs=1e-9)


def test_stability_under_vmap_in_float32_and_float64():
    pts = {"k_o": jnp.linspace(2.0, 12.0, 16), "u_nka": jnp.linspace(40.0, 400.0, 16)}
    r64 = _run(("tau_cell", "stable_cell"), pts)
    r32 = _run(("tau_cell", "stable_cell"), pts, jnp.float32)
    assert r32["tau_cell"].dtype == np.float32 and np.all(r64["stable_cell"] == 1)
    np.testing.assert_allclose(r32["tau_cell"], r64["tau_cell"], rtol=2e-3)


# ------------------------------------------------------------------------- precision
def test_float32_against_float64():
    pts = _random_points(200, seed=7)
    names = [*STATE, "e_gaba_cell", "j_nka_cell"]
    r64 = _run(names, pts)
    r32 = _run(names, pts, jnp.float32)
    ok = (r64["status_cell"] == 0) & (r32["status_cell"] == 0)
    assert ok.sum() > 100
    # stated tolerances: concentrations 1e-3 relative, potentials 0.05 mV (float32 logs of
    # ratios of ~1e2 mM quantities, XTOL 5e-5 on ln[Na])
    for k in ("na_i_cell", "k_i_cell", "cl_i_cell", "x_i_cell", "j_nka_cell"):
        np.testing.assert_allclose(r32[k][ok], r64[k][ok], rtol=1e-3, err_msg=k)
    for k in ("vm_cell", "e_gaba_cell"):
        np.testing.assert_allclose(r32[k][ok], r64[k][ok], atol=0.05, err_msg=k)
    # statuses agree except at a handful of marginal points
    assert np.mean(r32["status_cell"] == r64["status_cell"]) > 0.97


# ----------------------------------------------------------------------- gradients
GRAD_OUTPUTS = (
    "vm_cell na_i_cell cl_i_cell volume_cell tau_cell df_gaba_cell ca_i_ss_cell dG_ncx_cell"
).split()
GRAD_INPUTS = ["u_nka", "k_o", "g_na", "u_kcc2", "z_x", "g_gaba", "osm_o"]


def test_gradients_match_finite_differences():
    base = _base()

    def f(v):
        r = REGISTRY.evaluate({**base, **v}, GRAD_OUTPUTS)
        return jnp.stack([r[n] for n in GRAD_OUTPUTS])

    x0 = {k: base[k] for k in GRAD_INPUTS}
    x0["g_gaba"] = jnp.asarray(0.02)
    jac = jax.jit(jax.jacfwd(f))(x0)  # forward mode through custom_root: implicit JVPs
    grad_vm = jax.jit(jax.grad(lambda v: f(v)[0]))(x0)  # reverse mode too
    ff = jax.jit(f)
    for k in GRAD_INPUTS:
        h = 1e-6 * max(abs(float(x0[k])), 1e-2)
        up = np.asarray(ff({**x0, k: x0[k] + h}))
        dn = np.asarray(ff({**x0, k: x0[k] - h}))
        fd = (up - dn) / (2 * h)
        for i, name in enumerate(GRAD_OUTPUTS):
            tol = 1e-7 * max(1.0, abs(up[i]))
            assert float(jac[k][i]) == pytest.approx(fd[i], rel=2e-5, abs=tol), (name, k)
        assert float(grad_vm[k]) == pytest.approx(float(jac[k][0]), rel=1e-10, abs=1e-14)


# ---------------------------------------------------------- fixed-state outputs at the cell
def test_state_outputs_are_the_fixed_state_outputs_at_the_cell_state():
    over = {"k_o": 7.0, "g_gaba": 0.0, "p_kcc2": 0.4}
    r = _np(evaluate(over, [*STATE, "e_gaba_cell", "mode_ncx_cell", "dG_kcc2_cell", "v_rev_ncx_cell",
                            "ca_i_ss_cell", "cl_i_ss_cell", "j_kcc2_cell", "j_nkcc1_cell"]))  # fmt: skip
    at = {
        **over,
        "vm": r["vm_cell"],
        "na_i": r["na_i_cell"],
        "k_i": r["k_i_cell"],
        "cl_i": r["cl_i_cell"],
    }
    ref = _np(
        evaluate(
            at,
            [
                "e_gaba",
                "mode_ncx",
                "dG_kcc2",
                "v_rev_ncx",
                "ca_i_ss",
                "cl_i_ss",
                "j_kcc2",
                "j_nkcc1",
            ],
        )
    )
    for k in ("e_gaba", "mode_ncx", "dG_kcc2", "v_rev_ncx", "ca_i_ss", "j_kcc2", "j_nkcc1"):
        assert r[f"{k}_cell"] == pytest.approx(ref[k], rel=1e-12, abs=1e-15), k
    # with g_gaba = 0 the cell's Cl⁻ balance is the fixed-V_m chloride balance
    assert ref["cl_i_ss"] == pytest.approx(r["cl_i_cell"], rel=1e-10)
    assert r["status_cl_i_ss_cell"] == 0 and r["status_ca_i_ss_cell"] == 0
    comp = REGISTRY.resolve_outputs(["ca_i_ss_cell"])
    assert comp == ("ca_i_ss_cell", "status_cell", "residual_cell", "status_ca_i_ss_cell",
                    "residual_ca_i_ss_cell")  # fmt: skip


def test_declared_state_reads_match_a_trace_of_every_output():
    names = list(REGISTRY.inputs)
    for name, spec in REGISTRY.outputs.items():
        if spec.attrs.get("state") == cell.STATE_ATTR:
            continue
        traced = cell.traced_reads(spec, names) & set(cell.STATE_INPUTS)
        assert cell.state_reads(name, spec, REGISTRY.transporters, names) == traced, name
        assert (f"{name}_cell" in REGISTRY.outputs) == bool(traced), name


def test_user_transporters_and_model_choices_rebuild_the_cell_outputs():
    reg = REGISTRY.with_transporters(
        {
            "nacl": {"stoichiometry": {"na": 1, "cl": 1}},
            "nak": {"stoichiometry": {"na": 1, "k": -1, "ca": 1}},
        }
    ).with_model({"pump": "saturating"})
    for n in ("dG_nacl_cell", "mode_nacl_cell", "dG_nak_cell", "v_rev_nak_cell"):
        assert n in reg.outputs and reg.outputs[n].attrs["pump"] == "saturating"
    r = _np(evaluate({"u_nka": 1.1863}, ["dG_nacl_cell", *STATE], registry=reg))
    at = {"na_i": r["na_i_cell"], "cl_i": r["cl_i_cell"], "u_nka": 1.1863}
    assert r["dG_nacl_cell"] == pytest.approx(
        float(evaluate(at, ["dG_nacl"], registry=reg)["dG_nacl"]), rel=1e-12
    )
    back = reg.with_model({"pump": "cubic"})
    assert back.outputs["dG_nacl_cell"].attrs["pump"] == "cubic"
    assert set(back.outputs) == set(reg.outputs)


def test_codes_at_the_cell_are_zero_without_a_state():
    r = _np(
        evaluate(
            {"u_nka": 0.0, "osm_o": 270.0}, ["mode_ncx_cell", "gaba_polarity_cell", "e_gaba_cell"]
        )
    )
    assert r["status_cell"] == Status.NO_PHYSICAL_STATE
    assert r["mode_ncx_cell"] == 0 and r["gaba_polarity_cell"] == 0 and math.isnan(r["e_gaba_cell"])


# ------------------------------------------------------------------------ end to end
def test_sweep_run_of_a_whole_cell_config(tmp_path):
    xr = pytest.importorskip("xarray")
    from sweep import run
    from sweep.spec import parse_config, parse_yaml

    text = """
name: whole-cell-e2e
precision: float64
axes:
  k_o:    {start: 2 mM, stop: 12 mM, num: 5, spacing: log}
  p_kcc2: {start: 0, stop: 1, num: 3}
outputs: [df_gaba_cell, vm_cell, mode_ncx_cell, volume_cell]
"""
    spec = parse_config(parse_yaml(text))
    run(spec, store=tmp_path / "wc.zarr")
    ds = xr.open_zarr(tmp_path / "wc.zarr")
    for n in (
        "df_gaba_cell",
        "vm_cell",
        "mode_ncx_cell",
        "volume_cell",
        "status_cell",
        "residual_cell",
    ):
        assert n in ds, n
    assert ds["status_cell"].dtype == np.int8 and int((ds["status_cell"] != 0).sum()) == 0
    assert ds["mode_ncx_cell"].dtype == np.int8
    assert ds["vm_cell"].attrs["units"] == "mV"
    ref = _run(("df_gaba_cell",), {"k_o": float(ds.k_o[2]), "p_kcc2": float(ds.p_kcc2[1])})
    assert float(ds["df_gaba_cell"][2, 1]) == pytest.approx(
        float(ref["df_gaba_cell"][0]), rel=1e-12
    )


@pytest.mark.parametrize(
    "name",
    [
        "whole_cell_mature",
        "whole_cell_immature",
        "whole_cell_gaba_switch",
        "whole_cell_ischemia",
        "whole_cell_chloride_load",
        "whole_cell_impermeants",
    ],
)
def test_whole_cell_configs_parse(name):
    from pathlib import Path

    from sweep import load_spec

    spec = load_spec(Path(__file__).resolve().parent.parent / "configs" / f"{name}.yaml")
    assert any(o.endswith("_cell") for o in spec.outputs)
    assert "status_cell" in spec.outputs


@pytest.mark.parametrize("law", ["cubic", "saturating"])
def test_every_steady_state_is_counted(law):
    """n_states_cell against scipy root started from a 4 × 3 grid of (Na⁺, V) starts:
    the distinct physical solutions scipy finds are exactly the ones counted, and the
    returned *_cell state is one of them."""
    reg = SATURATING if law == "saturating" else REGISTRY
    pts = _random_points(40, seed=7 if law == "cubic" else 8)
    if law == "saturating":
        pts["u_nka"] = pts["u_nka"] / 100
    names = [*STATE, "n_states_cell"]
    out = _run(names, pts, registry=reg)
    starts = [
        (na, 140.0 - na, 6.0, 130.0, vm)
        for na in (2.0, 10.0, 40.0, 120.0)
        for vm in (-100, -60, -10)
    ]
    checked = n_equal = 0
    for i in range(len(out["status_cell"])):
        if out["status_states_cell"][i] != Status.CONVERGED:
            continue
        q = _par(_defaults(**{k: v[i] for k, v in pts.items()}))
        found = []
        for s in starts:
            ref = _scipy_root(q, law, [s])
            if ref is not None and not any(abs(ref["na"] / f - 1) < 1e-6 for f in found):
                found.append(ref["na"])
        n = int(out["n_states_cell"][i])
        assert n >= len(found), (i, found)  # scipy can only miss states, never add them
        n_equal += n == len(found)
        if out["status_cell"][i] == Status.CONVERGED:
            assert n >= 1
            assert any(abs(out["na_i_cell"][i] / f - 1) < 1e-6 for f in found) or not found
        else:
            assert n == 0, i
        checked += 1
    assert checked >= 30 and n_equal >= 0.9 * checked, (checked, n_equal)


def test_config_model_choice_reaches_the_cell_outputs():
    """`model: {pump: saturating}` in a config: the store's resolved config records it and
    the cell state is the saturating law's (equal to REGISTRY.with_model in Python)."""
    from sweep import evaluate_grid, parse_config

    base = {
        "name": "sat",
        "parameters": {"u_nka": "1.19 mM/s"},
        "axes": {"k_o": {"values": ["3.5 mM", "8 mM"]}},
        "outputs": ["vm_cell", "na_i_cell"],
    }
    spec = parse_config({**base, "model": {"pump": "saturating"}})
    assert spec.registry.model["pump"] == "saturating"
    ds = evaluate_grid(spec)
    assert '"pump": "saturating"' in ds.attrs["config"]
    ref = _run(["vm_cell", "na_i_cell"], {"k_o": np.array([3.5, 8.0])}, registry=SATURATING,
               u_nka=1.19)  # fmt: skip
    np.testing.assert_allclose(ds["vm_cell"].values, ref["vm_cell"], rtol=1e-13)
    cubic = evaluate_grid(parse_config(base))
    assert not np.allclose(cubic["na_i_cell"].values, ds["na_i_cell"].values)


def test_local_and_global_sensitivity_of_cell_outputs():
    """`sweep sensitivity` works on *_cell outputs unchanged: local elasticities equal
    central finite differences of the kernel; Sobol indices are finite and ranked."""
    from sweep import global_sensitivity, local_sensitivity, parse_config

    spec = parse_config(
        {
            "name": "cell-sens",
            "axes": {
                "k_o": {"start": "2 mM", "stop": "12 mM", "num": 3},
                "g_na": {"start": "0.01 mS/cm**2", "stop": "0.06 mS/cm**2", "num": 2},
            },
            "outputs": ["vm_cell", "cl_i_cell"],
        }
    )
    ds = local_sensitivity(spec, ["g_k", "u_kcc2"])
    s = ds["sens_vm_cell"].sel(wrt="g_k")  # raw derivative: mV per mS/cm²
    for ko in (2.0, 12.0):
        for gna in (0.01, 0.06):
            h = 1e-5
            up = _run(["vm_cell"], None, k_o=ko, g_na=gna, g_k=0.05 * np.exp(h))["vm_cell"]
            dn = _run(["vm_cell"], None, k_o=ko, g_na=gna, g_k=0.05 * np.exp(-h))["vm_cell"]
            fd = float(((up - dn) / (0.05 * (np.exp(h) - np.exp(-h))))[0])
            got = float(s.sel(k_o=ko, g_na=gna, method="nearest"))
            assert got == pytest.approx(fd, rel=1e-5), (ko, gna)
    res = global_sensitivity(spec, "sobol", n=256, seed=0, outputs=["vm_cell"])
    st = res["ST"].sel(output="vm_cell").values
    assert np.isfinite(st).all() and st.max() > 0.1
