"""Whole-cell steady state of the pump–leak neuron: V_m, Na⁺, K⁺, Cl⁻, impermeant anions, volume.

The single-compartment pump–leak model of physics.md ("Whole-cell steady
state"; Kay 2017; Düsterwald et al. 2018; Keener & Sneyd ch. 2): the
Na⁺/K⁺-ATPase (cubic or saturating law, a static model choice), ohmic Na⁺,
K⁺, Cl⁻ leaks, GABA_A (Cl⁻ and HCO₃⁻ parts), KCC2 and NKCC1 (the flux laws of
:mod:`kernels.kinetics`, with phosphorylation and drugs), impermeant anions X
of mean charge ``z_x``, clamped [HCO₃⁻]ᵢ, electroneutrality and osmotic
balance. Rates in mM/s per reference volume, currents µA/cm², V in mV.

Solver
------
Every flux except the pump is linear in (V, ln[Na]_i, ln[K]_i, ln[Cl]_i). For a
given a = ln[Na]_i the pump rate J(a) is known, so the three balances are a 3×3
*linear* system in (V, ln[K]_i, ln[Cl]_i) whose matrix depends only on the
parameters: (V, ln K, ln Cl) = y₀ + y_a·a + y_J·J(a), solved once per point by
Cramer's rule. The two constraints (electroneutrality, osmotic balance) then
leave one equation in one unknown,

    φ(a) = ln([Na] + [K]) − ln(A·[Cl] + B) = 0,
    A = (1 + z)/(1 − z),  B = ((1 + z)[HCO₃]ᵢ − z·osm_o)/(1 − z),

(written overflow-free with log-sum-exp). It is solved like the fixed-V_m steady states: a sign scan of φ at
``N_SCAN`` points of a over [ln(1e-6·osm_o), ln osm_o] (every physical state has
[Na]_i < osm_o), regula-falsi start in the highest bracket, then a safeguarded
Newton iteration (at most ``N_ITER`` steps; :func:`kernels.steady_state`'s
bracketed Newton). Derivatives use implicit differentiation
(:func:`jax.lax.custom_root`); the iterations are never differentiated. For
−1 ≤ z ≤ 0 (the allowed range of ``z_x``) φ rose through exactly one root at
every point of a randomised scan over wide ranges. For z < −1 a second,
unphysical root ([X]_i < 0) appears below the physical one and the two can
merge within one scan step, so z < −1 is refused (invalid input).

Status codes (``status_cell``, int8, :class:`kernels.solvers.Status`)
-------------------------------------------------------------------
0 converged
    |φ| ≤ XTOL·|φ'| at the root: relative error of [Na]_i ≲ XTOL (1e-10 in
    float64, 5e-5 in float32); the other outputs follow from explicit formulas.
1 no root in range
    φ > 0 already at [Na]_i = 1e-6·osm_o: the steady state, if any, has a
    vanishing [Na]_i (a pump far stronger than every Na⁺ influx). Values NaN.
2 not converged
    Bracketed, but the bounded iterations ended first; best estimate returned.
3 invalid input
    Non-finite or out-of-range input (γ = 0, osm_o ≤ 2[HCO₃]ᵢ, ...). Values NaN.
4 no physical state
    The balances and constraints have no solution with positive [X]_i and
    [K]_i: the impermeant anions would be diluted to zero (the cell swells
    without bound: [Cl]_i + [HCO₃]_i would have to exceed osm_o/2), or the
    cations cannot balance the anions at any [Na]_i < osm_o (K⁺ depleted), or
    the balances do not determine the state (no Na⁺, K⁺ or Cl⁻ path: the
    linear part is singular). Values NaN.

Dynamics
--------
:func:`cell_rhs` is the dynamic system (state: amounts of Na⁺, K⁺, Cl⁻ per
reference volume; X fixed at ``x_i_ref``; volume from the osmotic balance; V
at each instant from zero net membrane current, pump current included) and
:func:`cell_state` the state → (V, concentrations, volume) map. Zero net
current conserves the charge Q = n_Na + n_K − n_Cl exactly, so the 3×3
Jacobian has one zero eigenvalue (along the family of steady states with
other Q, which no membrane current can reach); ``stable_cell`` and
``tau_cell`` use the other two, from the trace and the sum of principal 2×2
minors (closed form, batched, any float width). ``tau_cell`` = −1/max Re λ
scales with the volume (same membrane area): it is proportional to
``volume_cell``.

References
----------
Kay A. R. (2017) Front Cell Dev Biol 5:41; Düsterwald K. M. et al. (2018)
eLife 7:e39575; Keener J. & Sneyd J., Mathematical Physiology, ch. 2;
Kager H., Wadman W. J. & Somjen G. G. (2000) J Neurophysiol 84:495
(saturating pump); Cressman J. R. et al. (2009) J Comput Neurosci 26:159 and
Wei, Ullah & Schiff (2014) J Neurosci 34:11733 (leak conductances, γ);
Staley & Proctor (1999) J Physiol 519:693 (HCO₃⁻ through GABA_A).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax import Array
from jax.typing import ArrayLike

from . import kinetics
from ._spec import InputSpec, OutputSpec, cached
from .constants import MV_PER_V, F, R
from .roots import all_roots
from .solvers import Status, flag_attrs
from .steady_state import _all, _descending_newton, _finite, _reg_valid, _xtol

__all__ = [
    "PUMP_LAWS",
    "STATE_INPUTS",
    "N_SCAN",
    "N_ITER",
    "CellParams",
    "CellState",
    "CellSteadyState",
    "pump_rate",
    "cell_state",
    "cell_rhs",
    "net_current",
    "balances",
    "amounts",
    "cell_steady_state",
    "stability",
    "closed_form_kcc2",
    "whole_cell_outputs",
    "INPUTS",
]

#: Pump laws (the ``model: pump`` choice; physics.md).
PUMP_LAWS: tuple[str, ...] = ("cubic", "saturating")
#: Inputs replaced by the whole-cell state in ``<name>_cell`` outputs.
STATE_INPUTS: tuple[str, ...] = ("vm", "na_i", "k_i", "cl_i")
#: Points of the sign scan of φ over ln[Na]_i ∈ [ln(1e-6·osm_o), ln osm_o].
N_SCAN: int = 5
#: Safeguarded Newton iterations after the regula-falsi start (first _N_FAST unrolled).
N_ITER: int = 12
_N_FAST = 3
_SCAN_SPAN = math.log(1e6)
#: Store attribute marking the outputs built here (with_model rebuilds them).
STATE_ATTR = "whole-cell steady state (pump–leak neuron)"


# ----------------------------------------------------------------------- parameters
class CellParams(NamedTuple):
    """Parameters of the pump–leak neuron, stored units (a pytree of scalars).

    ``u_k``, ``u_n`` are the effective KCC2/NKCC1 capacities (mM/s, after
    phosphorylation and drugs, :func:`kernels.kinetics.capacities`);
    ``r`` is ``p_hco3_cl``. Build from registry inputs with :meth:`from_inputs`.
    """

    temperature: Any
    na_o: Any
    k_o: Any
    cl_o: Any
    hco3_i: Any
    hco3_o: Any
    r: Any
    g_na: Any
    g_k: Any
    g_cl: Any
    g_gaba: Any
    gamma: Any
    u_nka: Any
    km_nka_na: Any
    km_nka_k: Any
    z_x: Any
    osm_o: Any
    x_i_ref: Any
    u_k: Any
    u_n: Any

    @classmethod
    def from_inputs(cls, p: Mapping[str, Any], cache: dict | None = None) -> CellParams:
        """From a complete registry input mapping (stored units)."""
        u_k, u_n = kinetics.capacities(p, cache)
        return cls(
            temperature=p["temperature"],
            na_o=p["na_o"],
            k_o=p["k_o"],
            cl_o=p["cl_o"],
            hco3_i=p["hco3_i"],
            hco3_o=p["hco3_o"],
            r=p["p_hco3_cl"],
            g_na=p["g_na"],
            g_k=p["g_k"],
            g_cl=p["g_cl"],
            g_gaba=p["g_gaba"],
            gamma=p["gamma"],
            u_nka=p["u_nka"],
            km_nka_na=p["km_nka_na"],
            km_nka_k=p["km_nka_k"],
            z_x=p["z_x"],
            osm_o=p["osm_o"],
            x_i_ref=p["x_i_ref"],
            u_k=u_k,
            u_n=u_n,
        )

    def valid(self) -> Array:
        """True where every parameter is finite and in range (traceable)."""
        q = self
        return _all(
            _finite(*q),
            q.temperature > 0,
            q.na_o > 0,
            q.k_o > 0,
            q.cl_o > 0,
            q.hco3_i > 0,
            q.hco3_o > 0,
            q.r >= 0,
            q.g_na >= 0,
            q.g_k >= 0,
            q.g_cl >= 0,
            q.g_gaba >= 0,
            q.gamma > 0,
            q.u_nka >= 0,
            q.km_nka_na > 0,
            q.km_nka_k > 0,
            q.z_x <= 0,
            q.z_x >= -1,
            q.osm_o > 2.0 * q.hco3_i,
            q.x_i_ref > 0,
            q.u_k >= 0,
            q.u_n >= 0,
            _b_const(q) > 0,
        )


class CellState(NamedTuple):
    """V_m (mV), [Na⁺]ᵢ, [K⁺]ᵢ, [Cl⁻]ᵢ, [X]ᵢ (mM) and volume (relative to the reference)."""

    vm: Array
    na_i: Array
    k_i: Array
    cl_i: Array
    x_i: Array
    volume: Array


class CellSteadyState(NamedTuple):
    """Whole-cell steady state, its pump rate (mM/s), int8 status and residual (mM/s)."""

    vm: Array
    na_i: Array
    k_i: Array
    cl_i: Array
    x_i: Array
    volume: Array
    j_nka: Array
    status: Array
    residual: Array


def _rt_f(temperature: ArrayLike) -> Array:
    return R * jnp.asarray(temperature) / F * MV_PER_V


def _a_const(q: CellParams) -> Array:
    return (1.0 + q.z_x) / (1.0 - q.z_x)


def _b_const(q: CellParams) -> Array:
    return ((1.0 + q.z_x) * q.hco3_i - q.z_x * q.osm_o) / (1.0 - q.z_x)


def _conductances(q: CellParams) -> tuple[Array, Array]:
    """(g_c, g_h): total Cl⁻ conductance and the HCO₃⁻ part of GABA_A, mS/cm²."""
    share = 1.0 / (1.0 + q.r)
    return q.g_cl + q.g_gaba * share, q.g_gaba * q.r * share


# ------------------------------------------------------------------------- the pump
def _pump_log(a: Array, q: CellParams, law: str) -> Array:
    if law == "cubic":
        return q.u_nka * jnp.exp(3.0 * (a - jnp.log(q.na_o)))
    if law == "saturating":
        f_na = jax.nn.sigmoid(a - jnp.log(q.km_nka_na))  # [Na]/([Na] + K_m)
        f_k = q.k_o / (q.k_o + q.km_nka_k)
        return q.u_nka * f_na**3 * f_k**2
    raise ValueError(f"model.pump = {law!r} is not allowed: must be one of {', '.join(PUMP_LAWS)}")


def pump_rate(na_i: ArrayLike, q: CellParams, pump: str = "cubic") -> Array:
    """Na⁺/K⁺-ATPase cycle rate J_NKA (3 Na⁺ out, 2 K⁺ in per cycle), mM/s.

    Parameters
    ----------
    na_i : float
        Cytosolic Na⁺, mM (> 0).
    q : CellParams
        Parameters (``u_nka`` mM/s; ``na_o``, ``k_o``, ``km_nka_na``, ``km_nka_k`` mM).
    pump : {"cubic", "saturating"}
        ``cubic``: u·([Na]_i/[Na]_o)³; ``saturating``:
        u·([Na]_i/([Na]_i + K_Na))³·([K]_o/([K]_o + K_K))².

    Returns
    -------
    float
        Cycle rate, mM/s (also the ATP consumption rate).

    References
    ----------
    Kay (2017) Front Cell Dev Biol 5:41; Düsterwald et al. (2018) eLife 7:e39575
    (cubic); Kager, Wadman & Somjen (2000) J Neurophysiol 84:495 (saturating).
    """
    return _pump_log(jnp.log(na_i), q, pump)


# ----------------------------------------------------------------- fluxes, dynamics
def balances(
    vm: ArrayLike, na_i: ArrayLike, k_i: ArrayLike, cl_i: ArrayLike, q: CellParams, pump: str
) -> Array:
    """(d[Na]/dt, d[K]/dt, d[Cl]/dt) of physics.md at given V and concentrations, mM/s.

    Parameters
    ----------
    vm : float
        Membrane potential, mV.
    na_i, k_i, cl_i : float
        Cytosolic Na⁺, K⁺, Cl⁻, mM (> 0).
    q : CellParams
        Parameters.
    pump : {"cubic", "saturating"}
        Pump law.

    Returns
    -------
    Array
        Shape (3,) (or (..., 3)): rates per reference volume, mM/s.

    References
    ----------
    Düsterwald et al. (2018) eLife 7:e39575; Doyon et al. (2011) PLoS Comput Biol
    7:e1002149 (cotransport flux laws).
    """
    a, k, c = jnp.log(na_i), jnp.log(k_i), jnp.log(cl_i)
    return _balances_log(jnp.asarray(vm), a, k, c, q, pump)


def _balances_log(vm, a, k, c, q: CellParams, pump: str) -> Array:
    rt = _rt_f(q.temperature)
    g_c, g_h = _conductances(q)
    ln_nao, ln_ko, ln_clo = jnp.log(q.na_o), jnp.log(q.k_o), jnp.log(q.cl_o)
    e_na = rt * (ln_nao - a)
    e_k = rt * (ln_ko - k)
    e_cl = rt * (c - ln_clo)
    e_h = rt * (jnp.log(q.hco3_i) - jnp.log(q.hco3_o))
    j = _pump_log(a, q, pump)
    jk = q.u_k * ((k - ln_ko) + (c - ln_clo))
    jn = q.u_n * ((ln_nao - a) + (ln_ko - k) + 2.0 * (ln_clo - c))
    i_h = g_h * (vm - e_h)
    d_na = -q.gamma * q.g_na * (vm - e_na) - 3.0 * j + jn - q.gamma * i_h
    d_k = -q.gamma * q.g_k * (vm - e_k) + 2.0 * j - jk + jn
    d_cl = q.gamma * g_c * (vm - e_cl) - jk + 2.0 * jn
    return jnp.stack([d_na, d_k, d_cl], axis=-1)


def net_current(
    vm: ArrayLike, na_i: ArrayLike, k_i: ArrayLike, cl_i: ArrayLike, q: CellParams, pump: str
) -> Array:
    """Net outward membrane current I_Na + I_K + I_Cl + I_HCO3 + J_NKA/γ, µA/cm².

    Parameters
    ----------
    vm : float
        Membrane potential, mV.
    na_i, k_i, cl_i : float
        Cytosolic Na⁺, K⁺, Cl⁻, mM (> 0).
    q : CellParams
        Parameters (γ > 0).
    pump : {"cubic", "saturating"}
        Pump law.

    Returns
    -------
    float
        Net current, µA/cm² (zero at the steady state and, by construction, in
        the dynamics of :func:`cell_rhs`).

    References
    ----------
    Kay (2017) Front Cell Dev Biol 5:41.
    """
    rt = _rt_f(q.temperature)
    g_c, g_h = _conductances(q)
    e_na = rt * jnp.log(q.na_o / na_i)
    e_k = rt * jnp.log(q.k_o / k_i)
    e_cl = rt * jnp.log(cl_i / q.cl_o)
    e_h = rt * jnp.log(q.hco3_i / q.hco3_o)
    j = pump_rate(na_i, q, pump)
    return (
        q.g_na * (vm - e_na)
        + q.g_k * (vm - e_k)
        + g_c * (vm - e_cl)
        + g_h * (vm - e_h)
        + j / q.gamma
    )


def cell_state(n: ArrayLike, q: CellParams, pump: str = "cubic") -> CellState:
    """The state → (V_m, concentrations, volume) map of the dynamic system.

    Parameters
    ----------
    n : array, shape (3,)
        Amounts of Na⁺, K⁺, Cl⁻ per reference volume, mM (> 0). The impermeant
        amount is ``q.x_i_ref`` (fixed).
    q : CellParams
        Parameters.
    pump : {"cubic", "saturating"}
        Pump law (it enters V through the pump current).

    Returns
    -------
    CellState
        Volume w = (Σ n + x_i_ref)/(osm_o − [HCO₃]ᵢ) (water follows the osmotic
        balance), concentrations n/w, and V_m from zero net membrane current
        (linear in V: every current is ohmic, the pump current does not depend on V).

    References
    ----------
    Kay (2017) Front Cell Dev Biol 5:41; Düsterwald et al. (2018) eLife 7:e39575.
    """
    n = jnp.asarray(n)
    w = (n[..., 0] + n[..., 1] + n[..., 2] + q.x_i_ref) / (q.osm_o - q.hco3_i)
    na, k, cl = n[..., 0] / w, n[..., 1] / w, n[..., 2] / w
    rt = _rt_f(q.temperature)
    g_c, g_h = _conductances(q)
    e_na = rt * jnp.log(q.na_o / na)
    e_k = rt * jnp.log(q.k_o / k)
    e_cl = rt * jnp.log(cl / q.cl_o)
    e_h = rt * jnp.log(q.hco3_i / q.hco3_o)
    j = pump_rate(na, q, pump)
    g_tot = q.g_na + q.g_k + g_c + g_h
    vm = (q.g_na * e_na + q.g_k * e_k + g_c * e_cl + g_h * e_h - j / q.gamma) / g_tot
    return CellState(vm, na, k, cl, q.x_i_ref / w, w)


def cell_rhs(n: ArrayLike, q: CellParams, pump: str = "cubic") -> Array:
    """Right-hand side of the dynamic system: amounts (Na⁺, K⁺, Cl⁻) → d amounts/dt.

    Parameters
    ----------
    n : array, shape (3,)
        Amounts of Na⁺, K⁺, Cl⁻ per reference volume, mM (> 0).
    q : CellParams
        Parameters.
    pump : {"cubic", "saturating"}
        Pump law.

    Returns
    -------
    Array
        Shape (3,): d n/dt in mM/s: the balances r of physics.md at the state of
        :func:`cell_state`, plus the Na⁺ that keeps [HCO₃⁻]ᵢ clamped while the
        volume w changes: carbonic anhydrase makes [HCO₃⁻]ᵢ·dw/dt of HCO₃⁻ and as
        many H⁺, which NHE1 exchanges for Na⁺ (the rule physics.md states for
        the HCO₃⁻ lost through GABA_A). With dw/dt = Σ dn/dt/(osm_o − [HCO₃⁻]ᵢ)
        this gives dw/dt = Σr/(osm_o − 2[HCO₃⁻]ᵢ). The charge
        n_Na + n_K − n_Cl − [HCO₃⁻]ᵢ·w is conserved exactly, so a trajectory ends
        at the steady state of :func:`cell_steady_state` (whose electroneutrality
        counts [HCO₃⁻]ᵢ at the final volume).

    References
    ----------
    Kay (2017) Front Cell Dev Biol 5:41; Düsterwald et al. (2018) eLife 7:e39575.
    """
    s = cell_state(n, q, pump)
    r = balances(s.vm, s.na_i, s.k_i, s.cl_i, q, pump)
    dw = jnp.sum(r, axis=-1) / (q.osm_o - 2.0 * q.hco3_i)
    return r.at[..., 0].add(q.hco3_i * dw)


def amounts(state: CellState | CellSteadyState) -> Array:
    """Amounts per reference volume (Na⁺, K⁺, Cl⁻), mM, of a state: concentrations × volume.

    Parameters
    ----------
    state : CellState or CellSteadyState
        Concentrations (mM) and volume (relative).

    Returns
    -------
    Array
        Shape (..., 3), mM.
    """
    return jnp.stack([state.na_i, state.k_i, state.cl_i], axis=-1) * state.volume[..., None]


# ---------------------------------------------------------------- the linear part
class _Linear(NamedTuple):
    """(V, ln K, ln Cl) = y0 + ya·a + yJ·J, and whether the 3×3 system is singular."""

    y0: tuple
    ya: tuple
    yj: tuple
    singular: Array


def _det3(m):
    return (
        m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
        - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
        + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
    )


def _solve3(m, det, b):
    """Cramer's rule for one right-hand side b (3 scalars)."""
    out = []
    for col in range(3):
        mc = [[b[i] if j == col else m[i][j] for j in range(3)] for i in range(3)]
        out.append(_det3(mc) / det)
    return tuple(out)


def _linear(q: CellParams) -> _Linear:
    rt = _rt_f(q.temperature)
    g_c, g_h = _conductances(q)
    gam = q.gamma
    uk, un = q.u_k, q.u_n
    ln_nao, ln_ko, ln_clo = jnp.log(q.na_o), jnp.log(q.k_o), jnp.log(q.cl_o)
    e_h = rt * (jnp.log(q.hco3_i) - jnp.log(q.hco3_o))
    big_l = ln_nao + ln_ko + 2.0 * ln_clo
    m = [
        [-gam * (q.g_na + g_h), -un, -2.0 * un],
        [-gam * q.g_k, -gam * q.g_k * rt - uk - un, -uk - 2.0 * un],
        [gam * g_c, -uk - 2.0 * un, -gam * g_c * rt - uk - 4.0 * un],
    ]
    b0 = [
        -gam * q.g_na * rt * ln_nao - un * big_l - gam * g_h * e_h,
        -gam * q.g_k * rt * ln_ko - uk * (ln_ko + ln_clo) - un * big_l,
        -gam * g_c * rt * ln_clo - uk * (ln_ko + ln_clo) - 2.0 * un * big_l,
    ]
    ba = [gam * q.g_na * rt + un, un, 2.0 * un]
    zero = jnp.zeros_like(jnp.asarray(ba[0]))
    bj = [zero + 3.0, zero - 2.0, zero]
    det = _det3(m)
    # Hadamard's bound: |det| ≤ Π ‖column‖; relative to it the system is singular
    scale = 1.0
    for j in range(3):
        scale = scale * jnp.sqrt(m[0][j] ** 2 + m[1][j] ** 2 + m[2][j] ** 2)
    eps = jnp.finfo(jnp.result_type(det)).eps
    singular = ~(jnp.abs(det) > 64.0 * eps * scale)
    det_safe = jnp.where(singular, 1.0, det)
    return _Linear(
        _solve3(m, det_safe, b0), _solve3(m, det_safe, ba), _solve3(m, det_safe, bj), singular
    )


def _y(a, j, lin: _Linear):
    return tuple(y0 + ya * a + yj * j for y0, ya, yj in zip(lin.y0, lin.ya, lin.yj, strict=True))


def _phi(a, q: CellParams, lin: _Linear, law: str) -> Array:
    """ln([Na] + [K]) − ln(A[Cl] + B), written for any sign of A (log-sum-exp)."""
    j = _pump_log(a, q, law)
    _, k, c = _y(a, j, lin)
    big_a = _a_const(q)
    # ln(A)+ln[Cl] on the side where A's sign puts it, −inf (no term) on the other; the
    # logs only see positive arguments so that derivatives stay finite
    pos, neg = big_a > 0, big_a < 0
    ln_abs_a = jnp.log(jnp.where(pos | neg, jnp.abs(big_a), 1.0))
    none = jnp.asarray(-jnp.inf, jnp.result_type(c))
    left = jnp.logaddexp(jnp.logaddexp(a, k), jnp.where(neg, ln_abs_a + c, none))
    right = jnp.logaddexp(jnp.log(_b_const(q)), jnp.where(pos, ln_abs_a + c, none))
    return left - right


# ------------------------------------------------------------------------ the solver
def _scan_bracket(f: Callable[[Array], Array], a_hi: Array, dtype: Any):
    """Highest sign change of f on N_SCAN points of [a_hi − span, a_hi]."""
    step = _SCAN_SPAN / (N_SCAN - 1)
    a0 = a_hi - _SCAN_SPAN
    found = jnp.zeros((), bool)
    lo = a0
    f_lo = jnp.ones((), dtype)
    f_hi = -f_lo
    f_prev = f(a0)
    f_first = f_prev
    for i in range(1, N_SCAN):
        a_i = a0 + step * i
        f_i = f(a_i)
        change = (f_prev > 0) != (f_i > 0)
        change = change & jnp.isfinite(f_prev) & jnp.isfinite(f_i)
        found = found | change
        lo = jnp.where(change, a_i - step, lo)
        f_lo = jnp.where(change, f_prev, f_lo)
        f_hi = jnp.where(change, f_i, f_hi)
        f_prev = f_i
    return found, lo, lo + step, f_lo, f_hi, f_first


def _scalar_tangent_solve(g, y):
    return y / g(jnp.ones_like(y))


def _solve(q: CellParams, law: str, valid: ArrayLike = True) -> tuple:
    """(a = ln[Na]_i, status, |φ/φ'|, X_i, linear map) at one point; a NaN unless bracketed."""
    dtype = jnp.result_type(*q, float)
    valid = q.valid() & jnp.asarray(valid)
    lin = _linear(q)

    def f(a):
        return _phi(a, q, lin, law)

    def solve(f, guess):
        a_hi = jnp.log(q.osm_o)
        found, lo, hi, f_lo, f_hi, f_first = _scan_bracket(f, a_hi, dtype)
        s = jnp.where(f_lo > 0, 1.0, -1.0).astype(dtype)  # make the bracket descending
        x0 = lo + (hi - lo) * (f_lo / (f_lo - f_hi))
        x0 = jnp.where(found & jnp.isfinite(x0), jnp.clip(x0, lo, hi), 0.5 * (lo + hi))
        x, fx, dfx = _descending_newton(lambda x: s * f(x), x0, lo, hi, _N_FAST, N_ITER)
        # apply the last Newton correction too (its size is the convergence test): the
        # error of a converged point drops from ≤ XTOL to rounding
        polished = x - fx / dfx
        x = jnp.where(jnp.isfinite(polished) & (dfx < 0), jnp.clip(polished, lo, hi), x)
        return x, (fx, dfx, found.astype(dtype), f_first)

    guess = jnp.zeros((), dtype)
    a, (fx, dfx, found, f_first) = jax.lax.custom_root(
        f, guess, solve, _scalar_tangent_solve, has_aux=True
    )
    found = (found > 0) & valid & ~lin.singular
    converged = jnp.isfinite(a) & (jnp.abs(fx) <= _xtol(dtype) * jnp.abs(dfx))
    j = _pump_log(a, q, law)
    _, _, c = _y(a, j, lin)
    x_i = (q.osm_o - 2.0 * jnp.exp(c) - 2.0 * q.hco3_i) / (1.0 - q.z_x)
    physical = found & (x_i > 0) & jnp.isfinite(x_i)
    no_root = (~found) & (f_first > 0) & valid & ~lin.singular
    status = jnp.where(
        ~valid,
        int(Status.INVALID_INPUT),
        jnp.where(
            physical,
            jnp.where(converged, int(Status.CONVERGED), int(Status.NOT_CONVERGED)),
            jnp.where(no_root, int(Status.NO_ROOT_IN_RANGE), int(Status.NO_PHYSICAL_STATE)),
        ),
    ).astype(jnp.int8)
    return a, status, physical, x_i, lin


def count_states(q: CellParams, law: str, valid: ArrayLike = True) -> tuple[Array, Array]:
    """(physical steady states, status): every root of φ by the slope-and-extremum scan.

    :func:`_solve` refines the highest sign change of a 5-node scan of φ (the
    state ``*_cell`` returns). Here φ is scanned on 64 nodes with its slope
    (:func:`kernels.roots.all_roots`), so a second state — including a pair of
    roots inside one scan cell — is found; a root counts as a physical state
    when its [X]ᵢ is positive. The status is ``all_roots``'s (0: the count is
    exact under its stated condition), or INVALID_INPUT.
    """
    lin = _linear(q)
    a_hi = jnp.log(q.osm_o)
    r = all_roots(lambda a: _phi(a, q, lin, law), a_hi - _SCAN_SPAN, a_hi, n=64, max_roots=5)
    j = _pump_log(r.x, q, law)
    _, _, c = _y(r.x, j, lin)
    x_i = (q.osm_o - 2.0 * jnp.exp(c) - 2.0 * q.hco3_i) / (1.0 - q.z_x)
    physical = jnp.isfinite(r.x) & jnp.isfinite(x_i) & (x_i > 0)
    ok = q.valid() & jnp.asarray(valid) & ~lin.singular
    count = jnp.where(ok, jnp.sum(physical), 0).astype(jnp.int8)
    status = jnp.where(ok, r.status, jnp.int8(Status.INVALID_INPUT)).astype(jnp.int8)
    return count, status


def _steady(q: CellParams, law: str, valid: ArrayLike = True) -> CellSteadyState:
    a, status, physical, x_i, lin = _solve(q, law, valid)
    nan = jnp.asarray(jnp.nan, jnp.result_type(a))
    j = _pump_log(a, q, law)
    vm, k, c = _y(a, j, lin)
    na_i, k_i, cl_i = jnp.exp(a), jnp.exp(k), jnp.exp(c)
    volume = q.x_i_ref / x_i
    # residual: the balances at ([Na], [Cl], V) with [K] from the two constraints
    k_con = _a_const(q) * cl_i + _b_const(q) - na_i
    res = _balances_log(vm, a, jnp.log(jnp.where(k_con > 0, k_con, k_i)), c, q, law)
    residual = jnp.max(jnp.abs(res), axis=-1)
    residual = jnp.where(k_con > 0, residual, jnp.inf)

    def out(v):
        return jnp.where(physical, v, nan)

    return CellSteadyState(
        out(vm),
        out(na_i),
        out(k_i),
        out(cl_i),
        out(x_i),
        out(volume),
        out(j),
        status,
        out(residual),
    )


def cell_steady_state(q: CellParams, pump: str = "cubic") -> CellSteadyState:
    """Whole-cell steady state of the pump–leak neuron at one point (or elementwise).

    Solves the three balances of physics.md with electroneutrality and osmotic
    balance for V_m, [Na]_i, [K]_i, [Cl]_i, [X]_i (see the module docstring for
    the method and the status codes). Never raises; jit/vmap-safe;
    differentiable by implicit differentiation.

    Parameters
    ----------
    q : CellParams
        Parameters in stored units (mM, mV, K, mS/cm², mM/s, (mM/s)/(µA/cm²)).
    pump : {"cubic", "saturating"}
        Pump law (a static choice).

    Returns
    -------
    CellSteadyState
        vm (mV), na_i, k_i, cl_i, x_i (mM), volume (relative to the volume at
        which [X]_i = x_i_ref), j_nka (mM/s), status (int8), residual (mM/s:
        the largest balance rate at the returned state with [K]_i from the
        constraints). NaN values where status is 1, 3 or 4.

    References
    ----------
    Kay (2017) Front Cell Dev Biol 5:41; Düsterwald et al. (2018) eLife 7:e39575.
    """
    return _steady(q, pump)


def stability(
    ss: CellSteadyState, q: CellParams, pump: str = "cubic"
) -> tuple[Array, Array, Array]:
    """(stable, tau, lambda_max) from the Jacobian of :func:`cell_rhs` at a steady state.

    Parameters
    ----------
    ss : CellSteadyState
        The steady state (:func:`cell_steady_state`).
    q : CellParams
        Parameters.
    pump : {"cubic", "saturating"}
        Pump law.

    Returns
    -------
    tuple
        ``stable`` (int8: 1 both non-zero eigenvalues have negative real part,
        0 otherwise, −1 no steady state), ``tau`` = −1/max Re λ (s; NaN without a
        state) and max Re λ (1/s). The zero eigenvalue of the conserved charge
        is factored out: λ² − tr·λ + m₂ = 0 with tr the trace and m₂ the sum of
        principal 2×2 minors of the 3×3 Jacobian.

    References
    ----------
    Keener & Sneyd, Mathematical Physiology, ch. 2 (linear stability).
    """
    n = amounts(ss)
    n = jnp.where(jnp.isfinite(n), n, 1.0)  # no state: any finite point, masked below
    jac = jax.jacfwd(lambda x: cell_rhs(x, q, pump))(n)
    tr = jac[..., 0, 0] + jac[..., 1, 1] + jac[..., 2, 2]
    m2 = (
        jac[..., 0, 0] * jac[..., 1, 1]
        - jac[..., 0, 1] * jac[..., 1, 0]
        + jac[..., 0, 0] * jac[..., 2, 2]
        - jac[..., 0, 2] * jac[..., 2, 0]
        + jac[..., 1, 1] * jac[..., 2, 2]
        - jac[..., 1, 2] * jac[..., 2, 1]
    )
    disc = tr * tr - 4.0 * m2
    real = disc >= 0
    sq = jnp.sqrt(jnp.where(real, disc, 0.0))
    # roots of λ² − tr λ + m2 without cancellation: big = (tr ± √disc)/2, small = m2/big
    big = 0.5 * (tr + jnp.where(tr >= 0, sq, -sq))
    small = m2 / jnp.where(big == 0, 1.0, big)
    lam = jnp.where(real, jnp.maximum(big, jnp.where(big == 0, 0.0, small)), 0.5 * tr)
    has = jnp.isfinite(ss.vm)
    stable = jnp.where(has, jnp.where((tr < 0) & (m2 > 0), 1, 0), -1).astype(jnp.int8)
    nan = jnp.asarray(jnp.nan, jnp.result_type(lam))
    tau = jnp.where(has, -1.0 / lam, nan)
    return stable, tau, jnp.where(has, lam, nan)


def closed_form_kcc2(j_nka: ArrayLike, q: CellParams) -> CellState:
    """Düsterwald et al. 2018 closed form (cubic pump, NKCC1 and GABA_A off), by pump rate.

    With ohmic leaks and a KCC2 flux linear in E_Cl − E_K, every concentration is
    a known factor times θ = e^{−V F/RT} (or 1/θ for Cl⁻) once the pump rate J is
    given; the two constraints give α θ² − B θ − A γ_Cl = 0 (their ``zplm``,
    extended with clamped [HCO₃⁻]ᵢ). The pump capacity that produces J is
    u_nka = J/([Na]_i/[Na]_o)³.

    Parameters
    ----------
    j_nka : float
        Pump cycle rate, mM/s (> 0).
    q : CellParams
        Parameters (``u_n`` and ``g_gaba`` are ignored: taken as 0).

    Returns
    -------
    CellState
        The steady state with that pump rate.

    References
    ----------
    Düsterwald et al. (2018) eLife 7:e39575 (code ``plm_singlecomp_withkcc2.py``, ``zplm``).
    """
    rt = _rt_f(q.temperature)
    g_na, g_k, g_c = q.gamma * q.g_na, q.gamma * q.g_k, q.gamma * q.g_cl
    g_kcc = q.u_k / rt
    beta = 1.0 / (g_k * g_c + g_k * g_kcc + g_c * g_kcc)
    d_k = 2.0 * j_nka * (g_c + g_kcc) * beta  # V − E_K, mV
    d_c = 2.0 * j_nka * g_kcc * beta  # V − E_Cl, mV
    d_n = -3.0 * j_nka / g_na  # V − E_Na, mV
    alpha = q.na_o * jnp.exp(d_n / rt) + q.k_o * jnp.exp(d_k / rt)
    gam_c = q.cl_o * jnp.exp(-d_c / rt)
    big_a, big_b = _a_const(q), _b_const(q)
    theta = (big_b + jnp.sqrt(big_b**2 + 4.0 * alpha * big_a * gam_c)) / (2.0 * alpha)
    vm = -rt * jnp.log(theta)
    na = theta * q.na_o * jnp.exp(d_n / rt)
    k = theta * q.k_o * jnp.exp(d_k / rt)
    cl = gam_c / theta
    x = (q.osm_o - 2.0 * cl - 2.0 * q.hco3_i) / (1.0 - q.z_x)
    return CellState(vm, na, k, cl, x, q.x_i_ref / x)


# ------------------------------------------------------------------- registry
_DUS = "Düsterwald et al. 2018 eLife 7:e39575"
_KAY = "Kay 2017 Front Cell Dev Biol 5:41"
_LEAK = (
    "Cressman et al. 2009 J Comput Neurosci 26:159; Wei, Ullah & Schiff 2014 J Neurosci 34:11733"
)
_KAGER = "Kager, Wadman & Somjen 2000 J Neurophysiol 84:495"

#: Calibrated defaults (physics.md asks for a resting mature neuron): see INPUTS.
U_NKA_DEFAULT = 137.5
X_I_REF_DEFAULT = 136.8

INPUTS: list[InputSpec] = [
    InputSpec(
        "g_na",
        "mS/cm**2",
        0.03,
        "Na⁺ leak conductance",
        "Na⁺ leak conductance of the whole-cell model",
        lower=0.0,
        reference="calibrated: V_m ≈ −71 mV at the defaults, on the leak scale of "
        + _LEAK
        + " (their g_NaL = 0.0175 gives −79.5 mV and depolarizing GABA at rest)",
    ),
    InputSpec(
        "g_k",
        "mS/cm**2",
        0.05,
        "K⁺ leak conductance",
        "K⁺ leak conductance of the whole-cell model",
        lower=0.0,
        reference=_LEAK + " (leak g_KL)",
    ),
    InputSpec(
        "g_gaba",
        "mS/cm**2",
        0.0,
        "GABA_A conductance (activity)",
        "mean GABA_A conductance added by activity (synaptic rate × conductance integral), "
        "split into Cl⁻ and HCO₃⁻ parts by p_hco3_cl; the tonic part is in g_cl",
        lower=0.0,
        reference="assumption: 0 at rest (the resting GABA_A conductance is part of g_cl)",
    ),
    InputSpec(
        "u_nka",
        "mM/s",
        U_NKA_DEFAULT,
        "NKA capacity",
        "Na⁺/K⁺-ATPase rate scale: J_NKA = u_nka·([Na]_i/[Na]_o)³ (cubic) or "
        "u_nka·([Na]_i/([Na]_i + km_nka_na))³·([K]_o/([K]_o + km_nka_k))² (saturating)",
        lower=0.0,
        reference="calibrated: [Na⁺]ᵢ = 12.0 mM at the defaults with the cubic law (form: "
        + _KAY
        + "; "
        + _DUS
        + "); about 1.19 mM/s gives the same state with the saturating law",
    ),
    InputSpec(
        "km_nka_na",
        "mM",
        10.0,
        "NKA K_m for Na⁺ᵢ",
        "[Na⁺]ᵢ of half-saturation per site of the saturating pump law",
        lower=0.0,
        lower_open=True,
        reference=_KAGER + " form (Luo & Rudy 1994 Circ Res 74:1071 value)",
        concentration=True,
    ),
    InputSpec(
        "km_nka_k",
        "mM",
        2.0,
        "NKA K_m for K⁺ₒ",
        "[K⁺]ₒ of half-saturation per site of the saturating pump law",
        lower=0.0,
        lower_open=True,
        reference=_KAGER,
        concentration=True,
    ),
    InputSpec(
        "z_x",
        "",
        -0.85,
        "impermeant anion charge",
        "mean charge of the impermeant intracellular anions X (−1 ≤ z_x ≤ 0)",
        lower=-1.0,
        upper=0.0,
        reference=_DUS,
    ),
    InputSpec(
        "osm_o",
        "mM",
        297.0,
        "extracellular osmolarity",
        "osmolarity the cytosol equilibrates with (water moves freely)",
        lower=0.0,
        lower_open=True,
        reference=_DUS + " (their extracellular Na⁺ + K⁺ + Cl⁻ + X)",
        concentration=True,
    ),
    InputSpec(
        "x_i_ref",
        "mM",
        X_I_REF_DEFAULT,
        "reference [X]ᵢ",
        "amount of impermeant anion per reference volume: volume_cell = x_i_ref/[X]ᵢ",
        lower=0.0,
        lower_open=True,
        reference="calibrated: volume_cell ≈ 1 at the defaults",
        concentration=True,
    ),
]

# Which of STATE_INPUTS each built-in non-transporter output reads (a test checks
# this table against a trace of every output). Outputs not listed here (added
# later, or by a registry built elsewhere) are traced once when a registry is
# built; transporter outputs follow from their stoichiometry.
_READS: dict[str, tuple[str, ...]] = {
    "e_na": ("na_i",),
    "dG_na": ("na_i", "vm"),
    "e_k": ("k_i",),
    "dG_k": ("k_i", "vm"),
    "e_cl": ("cl_i",),
    "dG_cl": ("cl_i", "vm"),
    "e_ca": (),
    "dG_ca": ("vm",),
    "e_hco3": (),
    "dG_hco3": ("vm",),
    "e_h": (),
    "dG_h": ("vm",),
    "e_gaba": ("cl_i",),
    "df_gaba": ("cl_i", "vm"),
    "gaba_polarity": ("cl_i", "vm"),
    "cl_i_eq_kcc2": ("cl_i", "k_i"),
    "cl_i_eq_nkcc1": ("cl_i", "k_i", "na_i"),
    "j_kcc2": ("cl_i", "k_i"),
    "j_nkcc1": ("cl_i", "k_i", "na_i"),
    "i_ncx": ("na_i", "vm"),
    "j_ae3": ("cl_i",),
    "j_ndcbe": ("cl_i", "na_i"),
    "dG_atp_derived": (),
    "hco3_i_co2": (),
    "hco3_o_co2": (),
    **{
        n: ("k_i", "na_i", "vm")
        for n in (
            "cl_i_ss e_cl_ss e_gaba_ss df_gaba_ss gaba_polarity_ss status_cl_i_ss residual_cl_i_ss"
        ).split()
    },
    **{
        n: ("na_i", "vm")
        for n in (
            "ca_i_ss ca_i_ss_nroots i_ncx_ss mode_ncx_ss status_ca_i_ss residual_ca_i_ss "
            # the branches (kernels.branches): tracing all_roots costs ~0.2 s each at import
            "ca_i_ss_low ca_i_ss_high ca_i_ss_mid ca_i_ss_count ca_i_ss_nstable "
            "ca_fold_margin status_ca_branches"
        ).split()
    },
}
_TRACED: dict[tuple[str, int], frozenset[str]] = {}


class _Reads(dict):
    """A mapping that records which keys are read."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.read: set[str] = set()

    def __getitem__(self, key: str) -> Any:
        self.read.add(key)
        return super().__getitem__(key)


def traced_reads(spec: OutputSpec, input_names: list[str]) -> frozenset[str]:
    """The inputs an output's function reads, found by tracing it once (abstractly)."""
    key = (spec.name, id(spec.fn))
    if key not in _TRACED:
        box: dict[str, set[str]] = {}

        def run(*xs):
            p = _Reads(zip(input_names, xs, strict=True))
            spec.fn(p, {})
            box["read"] = p.read
            return jnp.zeros(())

        jax.eval_shape(run, *[jax.ShapeDtypeStruct((), jnp.float32) for _ in input_names])
        _TRACED[key] = frozenset(box["read"])
    return _TRACED[key]


def _transporter_reads(t: Any, kind: str) -> frozenset[str]:
    species = {s for s, n in t.stoichiometry if n != 0}
    reads = {f"{s}_i" for s in species if s in ("na", "k", "cl")}
    if kind != "v_rev" and t.compartment == "plasma" and t.electrogenic:
        reads.add("vm")
    return frozenset(reads)


def state_reads(
    name: str, spec: OutputSpec, transporters: Mapping[str, Any], input_names: list[str]
) -> frozenset[str]:
    """Which of :data:`STATE_INPUTS` output ``name`` reads (declared, structural or traced)."""
    for kind in ("dG", "mode", "v_rev"):
        prefix = kind + "_"
        if name.startswith(prefix) and name[len(prefix) :] in transporters:
            return _transporter_reads(transporters[name[len(prefix) :]], kind)
    if name in _READS:
        return frozenset(_READS[name])
    return traced_reads(spec, input_names) & frozenset(STATE_INPUTS)


_COMP = ("status_cell", "residual_cell")
_CELL_REF = _KAY + "; " + _DUS
_STATE_FLAGS = flag_attrs()
_STABLE_ATTRS = {"flag_values": [-1, 0, 1], "flag_meanings": "no_state unstable stable"}


def _cell_fns(law: str):
    """Output functions of the native ``*_cell`` outputs for one pump law."""

    def params(p, cache):
        return cached(cache, "cell_params", lambda: CellParams.from_inputs(p, cache))

    def ss(p, cache) -> CellSteadyState:
        return cached(cache, "cell_ss", lambda: _steady(params(p, cache), law, _reg_valid(p)))

    def stab(p, cache):
        return cached(
            cache, "cell_stability", lambda: stability(ss(p, cache), params(p, cache), law)
        )

    def at_state(p, cache):
        """Inputs with V_m and the cytosolic ions replaced by the cell state, and its cache."""

        def run():
            # without a state, evaluate at the inputs' own values and mask the result:
            # no NaN reaches the checked eager path or the solvers of other outputs
            s = ss(p, cache)
            has = jnp.isfinite(s.vm)
            vals = {"vm": s.vm, "na_i": s.na_i, "k_i": s.k_i, "cl_i": s.cl_i}
            q = {**p, **{n: jnp.where(has, v, p[n]) for n, v in vals.items()}}
            return q, {}, has

        return cached(cache, "cell_inputs", run)

    return ss, stab, at_state


def whole_cell_outputs(
    outputs: Mapping[str, OutputSpec],
    transporters: Mapping[str, Any],
    model: Mapping[str, str],
    input_names: list[str],
) -> list[OutputSpec]:
    """The ``*_cell`` outputs of a registry: the cell state and every state-reading output at it.

    Parameters
    ----------
    outputs : mapping
        The registry's other outputs (name → :class:`OutputSpec`).
    transporters : mapping
        Its transporters (name → :class:`kernels.transporters.Transporter`).
    model : mapping
        Resolved static model choices; ``model["pump"]`` is the pump law.
    input_names : list of str
        Every input name (for tracing outputs whose reads are not declared).

    Returns
    -------
    list of OutputSpec
        The native outputs (``vm_cell`` … ``tau_cell``) and, for every output
        that reads V_m, [Na⁺]ᵢ, [K⁺]ᵢ or [Cl⁻]ᵢ, ``<name>_cell``: the same
        function evaluated with those inputs replaced by the whole-cell steady
        state (companions ``status_cell``, ``residual_cell`` and the base
        output's own, suffixed). Codes (int8) are 0 where the cell has no state.

    References
    ----------
    Kay (2017) Front Cell Dev Biol 5:41; Düsterwald et al. (2018) eLife 7:e39575.
    """
    law = model.get("pump", PUMP_LAWS[0])
    if law not in PUMP_LAWS:
        raise ValueError(
            f"model.pump = {law!r} is not allowed: must be one of {', '.join(PUMP_LAWS)}"
        )
    ss, stab, at_state = _cell_fns(law)
    attrs = {"reference": _CELL_REF, "state": STATE_ATTR, "pump": law}

    def states(p, cache):
        def run():
            q = cached(cache, "cell_params", lambda: CellParams.from_inputs(p, cache))
            return count_states(q, law, _reg_valid(p))

        return cached(cache, "cell_states", run)

    def native(name, unit, long_name, description, fn, dtype="float", extra=None, conc=False):
        a = {**attrs, **(extra or {})}
        comp = () if name in _COMP else _COMP
        return OutputSpec(name, unit, long_name, description, fn, dtype, comp, a, conc)

    outs = [
        native(
            "vm_cell",
            "mV",
            "V_m (whole cell)",
            "membrane potential at the whole-cell steady state",
            lambda p, c: ss(p, c).vm,
        ),
        native(
            "na_i_cell",
            "mM",
            "[Na⁺]ᵢ (whole cell)",
            "cytosolic Na⁺ at the whole-cell steady state",
            lambda p, c: ss(p, c).na_i,
            conc=True,
        ),
        native(
            "k_i_cell",
            "mM",
            "[K⁺]ᵢ (whole cell)",
            "cytosolic K⁺ at the whole-cell steady state",
            lambda p, c: ss(p, c).k_i,
            conc=True,
        ),
        native(
            "cl_i_cell",
            "mM",
            "[Cl⁻]ᵢ (whole cell)",
            "cytosolic Cl⁻ at the whole-cell steady state",
            lambda p, c: ss(p, c).cl_i,
            conc=True,
        ),
        native(
            "x_i_cell",
            "mM",
            "[X]ᵢ (whole cell)",
            "impermeant anion concentration at the whole-cell steady state",
            lambda p, c: ss(p, c).x_i,
            conc=True,
        ),
        native(
            "volume_cell",
            "1",
            "cell volume",
            "cell volume relative to the volume at which [X]ᵢ = x_i_ref",
            lambda p, c: ss(p, c).volume,
        ),
        native(
            "j_nka_cell",
            "mM/s",
            "J_NKA (whole cell)",
            "Na⁺/K⁺-ATPase cycle rate (= ATP consumption) at the whole-cell steady state",
            lambda p, c: ss(p, c).j_nka,
        ),
        native(
            "status_cell",
            "",
            "whole-cell status",
            "0 converged, 1 no root in range ([Na⁺]ᵢ "
            "< 1e-6 osm_o), 2 not converged, 3 invalid input, 4 no physical state ([X]ᵢ or "
            "[K⁺]ᵢ not positive)",
            lambda p, c: ss(p, c).status,
            "int8",
            _STATE_FLAGS,
        ),
        native(
            "residual_cell",
            "mM/s",
            "whole-cell residual",
            "largest |rate| of the Na⁺, K⁺, "
            "Cl⁻ balances at the returned state with [K⁺]ᵢ from the constraints",
            lambda p, c: ss(p, c).residual,
        ),
        native(
            "stable_cell",
            "",
            "whole-cell stability",
            "1 stable (both non-zero Jacobian "
            "eigenvalues have negative real part), 0 unstable, −1 no steady state",
            lambda p, c: stab(p, c)[0],
            "int8",
            _STABLE_ATTRS,
        ),
        native(
            "n_states_cell",
            "",
            "number of whole-cell steady states",
            "physical steady states of the pump–leak cell ([X]ᵢ > 0) found by a 64-node "
            "slope-and-extremum scan of the reduced equation in ln[Na⁺]ᵢ; *_cell is the "
            "one with the highest [Na⁺]ᵢ; exact where status_states_cell is 0",
            lambda p, c: states(p, c)[0],
            "int8",
        ),
        native(
            "status_states_cell",
            "",
            "whole-cell state count status",
            "0 converged, 1 no root, 2 not converged, 3 invalid input, 5 roots not "
            "guaranteed (kernels.solvers.Status)",
            lambda p, c: states(p, c)[1],
            "int8",
            flag_attrs(
                (
                    Status.CONVERGED,
                    Status.NO_ROOT_IN_RANGE,
                    Status.NOT_CONVERGED,
                    Status.INVALID_INPUT,
                    Status.ROOTS_NOT_GUARANTEED,
                )
            ),
        ),
        native(
            "tau_cell",
            "s",
            "relaxation time",
            "slowest relaxation time −1/max Re λ of the "
            "Jacobian at the whole-cell steady state (∝ volume_cell)",
            lambda p, c: stab(p, c)[1],
        ),
    ]
    # the count brings its own status along
    outs = [
        replace(o, companions=(*o.companions, "status_states_cell"))
        if o.name == "n_states_cell"
        else o
        for o in outs
    ]
    taken = set(outputs) | {o.name for o in outs}
    for name, spec in outputs.items():
        if spec.attrs.get("state") == STATE_ATTR or not spec.cell_variant:
            continue
        if not state_reads(name, spec, transporters, input_names):
            continue
        new = f"{name}_cell"
        if new in taken:
            continue
        outs.append(_at_cell(spec, new, ss, at_state, attrs))
        taken.add(new)
    return outs


def _at_cell(spec: OutputSpec, name: str, ss, at_state, attrs) -> OutputSpec:
    def fn(p, cache):
        q, sub, has = at_state(p, cache)
        v = spec.fn(q, sub)
        if spec.dtype == "int8":
            return jnp.where(has, v, 0)
        return jnp.where(has, v, jnp.asarray(jnp.nan, jnp.result_type(v, float)))

    comps = _COMP + tuple(f"{c}_cell" for c in spec.companions)
    return OutputSpec(
        name,
        spec.unit,
        f"{spec.long_name} (whole cell)",
        f"{spec.description}; at the whole-cell steady state (V_m, [Na⁺]ᵢ, [K⁺]ᵢ, [Cl⁻]ᵢ "
        "of the pump–leak neuron)",
        fn,
        spec.dtype,
        comps,
        {**spec.attrs, **attrs},
        spec.concentration,
    )
