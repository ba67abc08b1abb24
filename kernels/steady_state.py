"""Steady states at fixed V_m: cytosolic Cl⁻ (cation–chloride cotransport) and Ca²⁺ (NCX + PMCA).

Both are scalar kernels, safe under ``jit`` and nested ``vmap``, that never
raise: every point returns a value, an int8 status and the balance residual.
Roots are sought in log-concentration x = ln c by a bracketed, safeguarded
Newton iteration with a bounded iteration count (a Newton step that leaves the
current bracket, or meets a non-negative slope, is replaced by bisection; the
bracket shrinks with the sign of the balance). The first steps are unrolled;
the remaining ones (at most 6 in all for calcium, 3 for chloride) run only
while some point of the batch has not met the convergence test. Derivatives with respect to every input (``jax.grad``,
``jax.jvp``) use implicit differentiation (:func:`jax.lax.custom_root`):
dx*/dθ = −(∂f/∂θ)/(∂f/∂x) at the root, so the solver iterations are never
differentiated.

Status codes (int8; store attributes ``flag_values``/``flag_meanings``)
---------------------------------------------------------------------
0 converged
    The a-posteriori Newton correction at the returned root is below ``XTOL``:
    |f(x*)| ≤ XTOL·|∂f/∂x(x*)|, so the relative error of the concentration is
    ≈ |f/f'| ≤ XTOL (1e-10 in float64, 5e-5 in float32). This bound is the
    documented residual tolerance (residual in the units of the balance).
1 no bracket / no root in range
    Chloride: the balance has no sign change over the bracket (all capacities
    and conductances zero: the balance is identically zero). Calcium: no
    downward sign change on the scan (no stable root in [1 nM, [Ca]_o]).
    Value and residual are NaN.
2 not converged
    A bracket was found but the fixed iterations did not reach ``XTOL``; the
    best estimate is returned (finite) with its residual.
3 invalid input
    A non-finite input or one outside its range (concentrations ≤ 0,
    negative capacities or conductances, fractions outside [0, 1], ...).
    Value and residual are NaN.
5 roots not guaranteed (calcium)
    The interval enclosures could not prove that the scan saw every root (a
    super-cell stays open, see below); the value is the lowest stable root
    the scan saw, ``ca_i_ss_nroots`` a lower bound.
7 non-finite
    A root was found, but its concentration e^x overflows or underflows the
    float range (or its residual is not finite), e.g. at V_m = ±1e5 mV.

Chloride (mM/s)
    f(x) = γ g_Cl (V_m − E_Cl) − J_KCC2 + 2 J_NKCC1 + J_AE3 − J_NDCBE with
    x = ln[Cl]_i, built from the flux laws of :mod:`kernels.kinetics` (AE3 and
    NDCBE are off unless their capacities are > 0). The bracket spans the
    "pull" points (E_Cl = V_m, KCC2, NKCC1 and, when on, AE3 and NDCBE
    equilibria) widened by 1 in ln: any root is a weighted mean of them. The
    closed form of physics.md (:func:`e_cl_closed_form`) is the test reference.

Calcium (µA/cm²)
    f(x) = 2 I_NCX − g_CaBG (V_m − E_Ca) − I_PMCA with x = ln[Ca]_i, the net
    Ca²⁺ influx in charge units; I_NCX and I_PMCA carry GPB's temperature
    factors q10^((T − 310 K)/10 K) (1.57 and 2.35; exactly 1 at 310 K).
    ln[Ca]_i is scanned at 64 log-spaced points over [1 nM, [Ca]_o];
    ``ca_i_ss_nroots`` counts the sign changes (0 when the range is empty,
    [Ca]_o ≤ 1 nM, or an input is invalid; a status-1 point with nroots ≥ 1
    has only unstable roots). The kernel returns the *lowest stable root*,
    i.e. the first downward crossing (f > 0 below, f ≤ 0 above: a
    perturbation relaxes back). It is the state a
    resting cell reaches by relaxation from low [Ca]_i; higher stable roots are
    Ca²⁺-overload states reached only across an unstable root. Only that one
    bracket is refined (regula-falsi start from the scan values, then
    safeguarded Newton). A sign scan alone misses two roots inside one cell;
    interval enclosures of f·D and of its slope on the 32 two-cell
    super-cells (:func:`_ca_scan`) prove for status 0 and 1 that no cell hides
    any, and give status 5 where one might.
    The scan grid depends only on [Ca]_o, so under nested ``vmap`` every term
    that depends only on the scan point (allosteric activation, PMCA, the
    [Ca]_i part of the NCX denominator) is computed once per block; the
    per-point work of the scan is a handful of multiply-adds and no
    transcendental function.

References
----------
Doyon et al. (2011) PLoS Comput Biol 7:e1002149; Wei, Ullah & Schiff (2014)
J Neurosci 34:11733; Düsterwald et al. (2018) eLife 7:e39575 (chloride).
Grandi, Pasqualini & Bers (2010) J Mol Cell Cardiol 48:112; Weber et al. (2001)
J Gen Physiol 117:119 (calcium).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax import Array
from jax.typing import ArrayLike

from . import thermo
from ._spec import InputSpec, OutputSpec, cached
from .constants import MV_PER_V, F, R
from .kinetics import (
    NCXParams,
    _i_ncx,
    _j_ae3_log,
    _j_kcc2_log,
    _j_ndcbe_log,
    _j_nkcc1_log,
    _ncx_activation,
    _ncx_inactivation,
    capacities,
)
from .solvers import Status, flag_attrs
from .thermo import _q10_factor
from .transporters import BUILTIN_TRANSPORTERS

__all__ = [
    "STATUS",
    "XTOL",
    "CA_SCAN_POINTS",
    "CA_SCAN_LOW",
    "ClSteadyState",
    "CaSteadyState",
    "chloride_balance",
    "chloride_steady_state",
    "e_cl_closed_form",
    "calcium_balance",
    "calcium_steady_state",
    "INPUTS",
    "OUTPUTS",
]

#: The codes these steady states use, from the product's one vocabulary
#: (:class:`kernels.solvers.Status`): code -> name.
_CODES = (
    Status.CONVERGED,
    Status.NO_ROOT_IN_RANGE,
    Status.NOT_CONVERGED,
    Status.INVALID_INPUT,
    Status.ROOTS_NOT_GUARANTEED,
    Status.NON_FINITE,
)
STATUS: dict[int, str] = {int(c): c.name.lower() for c in _CODES}
_CL_STATUS_ATTRS = flag_attrs(c for c in _CODES if c != Status.ROOTS_NOT_GUARANTEED)
_CA_STATUS_ATTRS = flag_attrs(_CODES)

#: Convergence tolerance on x = ln c (≈ relative error of c), by float width in bits.
XTOL: dict[int, float] = {64: 1e-10, 32: 5e-5}

#: GPB 2010 PMCA temperature coefficient (reference 310 K).
Q10_PMCA: float = 2.35

#: Number of log-spaced points of the [Ca²⁺]ᵢ scan.
CA_SCAN_POINTS: int = 64
#: Lower end of the [Ca²⁺]ᵢ scan, mM (1 nM).
CA_SCAN_LOW: float = 1e-6

#: Safeguarded Newton iterations after the regula-falsi start: at most _N_ITER_*,
#: the first _N_FAST_* unrolled, the rest only while a point of the batch needs them.
_N_ITER_CL = 3
_N_ITER_CA = 6
_N_FAST_CA = 3
#: Scan cells per super-cell of the root certificate (one enclosure per cell
#: was 3.6x slower; two cells per super-cell close every point of the benchmark grid).
_CA_CELL = 2


# --------------------------------------------------------------------------- solver
def _float_dtype(*args: Any) -> Any:
    dt = jnp.result_type(*args)
    return dt if jnp.issubdtype(dt, jnp.floating) else jnp.result_type(float)


def _xtol(dtype: Any) -> float:
    return XTOL.get(jnp.finfo(dtype).bits, 1e-2)


def _rt_f_mv(temperature: ArrayLike) -> Array:
    return R * jnp.asarray(temperature) / F * MV_PER_V


def _value_and_slope(f: Callable[[Array], Array], x: Array) -> tuple[Array, Array]:
    return jax.jvp(f, (x,), (jnp.ones_like(x),))


def _descending_newton(
    f: Callable[[Array], Array], x: Array, lo: Array, hi: Array, n_fast: int, n_iter: int
) -> tuple[Array, Array, Array]:
    """Safeguarded Newton on a descending bracket (f(lo) > 0 ≥ f(hi)), at most ``n_iter`` steps.

    Each step shrinks the bracket with the sign of f at x and takes the Newton
    step if the slope is negative and the step stays in the bracket, else
    bisects (so non-finite steps never leave the bracket). The first
    ``n_fast`` steps are unrolled (XLA fuses them); the remaining ones run in a
    ``lax.while_loop`` that stops as soon as every point of the batch meets
    |f| ≤ XTOL·|f'| (the convergence test of status 0), so easy batches skip
    them. Returns x with f and f' there (|f/f'| estimates the error of x).
    """
    tol = _xtol(jnp.result_type(x))
    x, lo, hi = jnp.broadcast_arrays(x, lo, hi)  # an elementwise call may mix shapes
    fx, dfx = _value_and_slope(f, x)

    def step(state):
        i, x, lo, hi, fx, dfx = state
        up = fx > 0
        lo = jnp.where(up, x, lo)
        hi = jnp.where(up, hi, x)
        newton = x - fx / dfx
        ok = (dfx < 0) & (newton >= lo) & (newton <= hi)  # False for NaN
        x = jnp.where(fx == 0, x, jnp.where(ok, newton, 0.5 * (lo + hi)))
        fx, dfx = _value_and_slope(f, x)
        return i + 1, x, lo, hi, fx, dfx

    def active(state):
        i, _, _, _, fx, dfx = state
        return (i < n_iter) & ~(jnp.abs(fx) <= tol * jnp.abs(dfx))

    def masked_step(state):
        # Points that have stopped keep their state (an elementwise call on
        # arrays runs one loop for all; under vmap JAX masks the same way).
        new = step(state)
        keep = active(state)
        return (new[0],) + tuple(
            jnp.where(keep, a, b) for a, b in zip(new[1:], state[1:], strict=True)
        )

    state = (0, x, lo, hi, fx, dfx)
    for _ in range(n_fast):
        state = step(state)
    state = jax.lax.while_loop(lambda s: jnp.any(active(s)), masked_step, state)
    _, x, _, _, fx, dfx = state
    return x, fx, dfx


def _scalar_tangent_solve(g: Callable[[Array], Array], y: Array) -> Array:
    return y / g(jnp.ones_like(y))


def _status(valid: Array, bracketed: Array, converged: Array) -> Array:
    s = jnp.where(
        valid,
        jnp.where(
            bracketed,
            jnp.where(converged, int(Status.CONVERGED), int(Status.NOT_CONVERGED)),
            int(Status.NO_ROOT_IN_RANGE),
        ),
        int(Status.INVALID_INPUT),
    )
    return s.astype(jnp.int8)


def _finite_or_flag(status: Array, x: Array, fx: Array) -> Array:
    """Status NON_FINITE (7) where a converged point's c = e^x is not finite and > 0, or its
    residual is not finite.

    Extreme finite inputs (e.g. V_m = ±1e5 mV) can put the root beyond the
    float range: x is finite but e^x overflows to inf or underflows to 0. No
    such result keeps status 0.
    """
    c = jnp.exp(x)
    bad = (status == int(Status.CONVERGED)) & ~(jnp.isfinite(c) & (c > 0) & jnp.isfinite(fx))
    return jnp.where(bad, jnp.int8(Status.NON_FINITE), status)


def _all(*conds: Array) -> Array:
    out = jnp.asarray(True)
    for c in conds:
        out = out & c
    return out


def _finite(*xs: ArrayLike) -> Array:
    return _all(*(jnp.isfinite(x) for x in xs))


# ------------------------------------------------------------------------ chloride
class ClSteadyState(NamedTuple):
    """Chloride steady state: ``cl_i`` (mM), ``status`` (int8), ``residual`` (mM/s)."""

    cl_i: Array
    status: Array
    residual: Array


class _ClArgs(NamedTuple):
    vm: Any
    rt_f: Any
    ln_na_i: Any
    ln_na_o: Any
    ln_k_i: Any
    ln_k_o: Any
    ln_cl_o: Any
    u_k: Any
    u_n: Any
    g_cl: Any
    gamma: Any
    ln_hco3_i: Any = 0.0
    ln_hco3_o: Any = 0.0
    u_a: Any = 0.0  # AE3
    u_d: Any = 0.0  # NDCBE


#: Defaults of the optional AE3/NDCBE terms of the public chloride functions.
_HCO3_I, _HCO3_O = 16.0, 26.0


def _cl_balance(x: Array, a: _ClArgs) -> Array:
    e_cl = a.rt_f * (x - a.ln_cl_o)
    channel = a.gamma * a.g_cl * (a.vm - e_cl)
    jk = _j_kcc2_log(a.ln_k_i, a.ln_k_o, x, a.ln_cl_o, a.u_k)
    jn = _j_nkcc1_log(a.ln_na_i, a.ln_na_o, a.ln_k_i, a.ln_k_o, x, a.ln_cl_o, a.u_n)
    ja = _j_ae3_log(x, a.ln_cl_o, a.ln_hco3_i, a.ln_hco3_o, a.u_a)
    jd = _j_ndcbe_log(a.ln_na_i, a.ln_na_o, a.ln_hco3_i, a.ln_hco3_o, x, a.ln_cl_o, a.u_d)
    # with u_a = u_d = 0 the two extra terms are exactly ±0: the sum is unchanged
    return channel - jk + 2.0 * jn + ja - jd


def _cl_args(
    vm,
    na_i,
    na_o,
    k_i,
    k_o,
    cl_o,
    temperature,
    u_k,
    u_n,
    g_cl,
    gamma,
    u_a=0.0,
    u_d=0.0,
    hco3_i=_HCO3_I,
    hco3_o=_HCO3_O,
) -> _ClArgs:
    return _ClArgs(
        vm=vm,
        rt_f=_rt_f_mv(temperature),
        ln_na_i=jnp.log(na_i),
        ln_na_o=jnp.log(na_o),
        ln_k_i=jnp.log(k_i),
        ln_k_o=jnp.log(k_o),
        ln_cl_o=jnp.log(cl_o),
        u_k=u_k,
        u_n=u_n,
        g_cl=g_cl,
        gamma=gamma,
        ln_hco3_i=jnp.log(hco3_i),
        ln_hco3_o=jnp.log(hco3_o),
        u_a=u_a,
        u_d=u_d,
    )


def chloride_balance(
    cl_i: ArrayLike,
    vm: ArrayLike,
    na_i: ArrayLike,
    na_o: ArrayLike,
    k_i: ArrayLike,
    k_o: ArrayLike,
    cl_o: ArrayLike,
    temperature: ArrayLike,
    u_k: ArrayLike,
    u_n: ArrayLike,
    g_cl: ArrayLike,
    gamma: ArrayLike,
    *,
    u_ae3: ArrayLike = 0.0,
    u_ndcbe: ArrayLike = 0.0,
    hco3_i: ArrayLike = _HCO3_I,
    hco3_o: ArrayLike = _HCO3_O,
) -> Array:
    """Net Cl⁻ influx γ g_Cl (V_m − E_Cl) − J_KCC2 + 2 J_NKCC1 + J_AE3 − J_NDCBE at a given [Cl]_i.

    Parameters
    ----------
    cl_i, cl_o : float
        Cl⁻ inside / outside, mM (> 0).
    vm : float
        Membrane potential, mV.
    na_i, na_o, k_i, k_o : float
        Na⁺ and K⁺ inside / outside, mM (> 0).
    temperature : float
        Absolute temperature, K (> 0).
    u_k, u_n : float
        Effective KCC2 and NKCC1 capacities, mM/s (≥ 0).
    g_cl : float
        Cl⁻ conductance, mS/cm² (≥ 0).
    gamma : float
        Current-to-concentration rate, (mM/s)/(µA/cm²) (≥ 0).
    u_ae3, u_ndcbe : float
        AE3 and NDCBE capacities, mM/s (≥ 0); 0 (default) leaves them out.
    hco3_i, hco3_o : float
        HCO₃⁻ inside / outside, mM (> 0); read only by the AE3/NDCBE terms.

    Returns
    -------
    float
        Net Cl⁻ influx, mM/s (zero at the steady state).

    References
    ----------
    Doyon et al. (2011) PLoS Comput Biol 7:e1002149; Wei et al. (2014) J Neurosci 34:11733;
    Romero et al. (2013) Mol Aspects Med 34:159 (AE3, NDCBE).
    """
    core = (vm, na_i, na_o, k_i, k_o, cl_o, temperature, u_k, u_n, g_cl, gamma)
    a = _cl_args(*core, u_ae3, u_ndcbe, hco3_i, hco3_o)
    return _cl_balance(jnp.log(cl_i), a)


def e_cl_closed_form(
    vm: ArrayLike,
    na_i: ArrayLike,
    na_o: ArrayLike,
    k_i: ArrayLike,
    k_o: ArrayLike,
    temperature: ArrayLike,
    u_k: ArrayLike,
    u_n: ArrayLike,
    g_cl: ArrayLike,
    gamma: ArrayLike,
    *,
    u_ae3: ArrayLike = 0.0,
    u_ndcbe: ArrayLike = 0.0,
    hco3_i: ArrayLike = _HCO3_I,
    hco3_o: ArrayLike = _HCO3_O,
) -> Array:
    """Closed-form steady-state E_Cl (physics.md), the reference for the solver.

    E_Cl,ss = (γg_Cl V_m + G_K E_K + 2G_N (E_Na + E_K) + G_A E_HCO3 + G_D (2E_HCO3 − E_Na))
              / (γg_Cl + G_K + 4G_N + G_A + G_D),
    G_X = U_X F/(RT) (A: AE3, D: NDCBE). Every flux is linear in ln[Cl]_i, so
    each term pulls E_Cl towards its own equilibrium with weight G_X.

    Parameters
    ----------
    vm : float
        Membrane potential, mV.
    na_i, na_o, k_i, k_o : float
        Na⁺ and K⁺ inside / outside, mM (> 0).
    temperature : float
        Absolute temperature, K (> 0).
    u_k, u_n : float
        Effective KCC2 / NKCC1 capacities, mM/s (≥ 0).
    g_cl : float
        Cl⁻ conductance, mS/cm² (≥ 0).
    gamma : float
        (mM/s)/(µA/cm²) (≥ 0).
    u_ae3, u_ndcbe : float
        AE3 and NDCBE capacities, mM/s (≥ 0); 0 (default) leaves them out.
    hco3_i, hco3_o : float
        HCO₃⁻ inside / outside, mM (> 0).

    Returns
    -------
    float
        E_Cl at the steady state, mV (NaN if every capacity is zero).

    References
    ----------
    Düsterwald et al. (2018) eLife 7:e39575 (the u_n = 0 case); Wei et al. (2014).
    """
    rt_f = _rt_f_mv(temperature)
    e_k = rt_f * (jnp.log(k_o) - jnp.log(k_i))
    e_na = rt_f * (jnp.log(na_o) - jnp.log(na_i))
    e_hco3 = rt_f * (jnp.log(hco3_i) - jnp.log(hco3_o))  # z = −1
    gk, gn, gc = u_k / rt_f, u_n / rt_f, gamma * g_cl
    ga, gd = u_ae3 / rt_f, u_ndcbe / rt_f
    num = gc * vm + gk * e_k + 2.0 * gn * (e_na + e_k) + ga * e_hco3 + gd * (2.0 * e_hco3 - e_na)
    return num / (gc + gk + 4.0 * gn + ga + gd)


@jax.jit  # one compiled solver for eager single-point calls; inlined under jit
def _cl_solve(
    vm,
    na_i,
    na_o,
    k_i,
    k_o,
    cl_o,
    temperature,
    u_k,
    u_n,
    g_cl,
    gamma,
    valid=True,
    u_a=0.0,
    u_d=0.0,
    hco3_i=_HCO3_I,
    hco3_o=_HCO3_O,
) -> tuple[Array, Array, Array]:
    """(x = ln[Cl]_i, status, residual); x and residual NaN unless a bracket was found.

    ``u_a``, ``u_d`` (AE3, NDCBE capacities, mM/s) and ``hco3_i``, ``hco3_o`` (mM)
    add the optional HCO₃⁻-coupled terms; with u_a = u_d = 0 the result is
    bit-identical to the balance without them.
    """
    dtype = _float_dtype(vm, na_i, na_o, k_i, k_o, cl_o, temperature, u_k, u_n, g_cl, gamma)
    valid = _all(
        jnp.asarray(valid),
        _finite(vm, na_i, na_o, k_i, k_o, cl_o, temperature, u_k, u_n, g_cl, gamma),
        _finite(u_a, u_d, hco3_i, hco3_o),
        u_a >= 0,
        u_d >= 0,
        hco3_i > 0,
        hco3_o > 0,
        na_i > 0,
        na_o > 0,
        k_i > 0,
        k_o > 0,
        cl_o > 0,
        temperature > 0,
        u_k >= 0,
        u_n >= 0,
        g_cl >= 0,
        gamma >= 0,
    )
    a = _cl_args(
        vm, na_i, na_o, k_i, k_o, cl_o, temperature, u_k, u_n, g_cl, gamma, u_a, u_d, hco3_i, hco3_o
    )

    def f(x):
        return _cl_balance(x, a)

    def solve(f, guess):
        # The root is a weighted mean of the points where one term vanishes.
        x_v = a.ln_cl_o + a.vm / a.rt_f
        x_k = a.ln_k_o + a.ln_cl_o - a.ln_k_i
        x_n = a.ln_cl_o + 0.5 * ((a.ln_na_o - a.ln_na_i) + (a.ln_k_o - a.ln_k_i))
        lo = jnp.minimum(jnp.minimum(x_v, x_k), x_n)
        hi = jnp.maximum(jnp.maximum(x_v, x_k), x_n)
        # AE3 / NDCBE equilibria widen the bracket only when those terms are on
        # (so that a balance without them keeps its bracket, bit for bit).
        x_a = a.ln_cl_o + (a.ln_hco3_i - a.ln_hco3_o)
        x_d = a.ln_cl_o - (a.ln_na_o - a.ln_na_i) - 2.0 * (a.ln_hco3_o - a.ln_hco3_i)
        for on, x_t in ((a.u_a > 0, x_a), (a.u_d > 0, x_d)):
            lo = jnp.where(on, jnp.minimum(lo, x_t), lo)
            hi = jnp.where(on, jnp.maximum(hi, x_t), hi)
        lo = lo - 1.0
        hi = hi + 1.0
        f_lo, f_hi = f(lo), f(hi)
        bracketed = (f_lo > 0) & (f_hi < 0)
        x0 = lo + (hi - lo) * (f_lo / (f_lo - f_hi))  # exact for a linear balance
        x0 = jnp.where(bracketed, x0, 0.5 * (lo + hi))
        x, fx, dfx = _descending_newton(f, x0, lo, hi, 1, _N_ITER_CL)
        return x, (fx, dfx, bracketed.astype(dtype))  # float aux: see _ca_solve

    guess = jnp.zeros((), dtype)
    x, (fx, dfx, bracketed) = jax.lax.custom_root(
        f, guess, solve, _scalar_tangent_solve, has_aux=True
    )
    bracketed = (bracketed > 0) & valid
    converged = jnp.isfinite(x) & (jnp.abs(fx) <= _xtol(dtype) * jnp.abs(dfx))
    status = _finite_or_flag(_status(valid, bracketed, converged), x, fx)
    nan = jnp.asarray(jnp.nan, dtype)
    return jnp.where(bracketed, x, nan), status, jnp.where(bracketed, fx, nan)


def chloride_steady_state(
    vm: ArrayLike,
    na_i: ArrayLike,
    na_o: ArrayLike,
    k_i: ArrayLike,
    k_o: ArrayLike,
    cl_o: ArrayLike,
    temperature: ArrayLike,
    u_k: ArrayLike,
    u_n: ArrayLike,
    g_cl: ArrayLike,
    gamma: ArrayLike,
    *,
    u_ae3: ArrayLike = 0.0,
    u_ndcbe: ArrayLike = 0.0,
    hco3_i: ArrayLike = _HCO3_I,
    hco3_o: ArrayLike = _HCO3_O,
) -> ClSteadyState:
    """Steady-state cytosolic Cl⁻ at fixed V_m and cation concentrations.

    Solves γ g_Cl (V_m − E_Cl) − J_KCC2 + 2 J_NKCC1 + J_AE3 − J_NDCBE = 0 for
    [Cl]_i (see the module docstring for the solver and status codes); the
    AE3/NDCBE terms are off unless their capacities are > 0. Never raises.

    Parameters
    ----------
    vm : float
        Membrane potential, mV.
    na_i, na_o, k_i, k_o, cl_o : float
        Na⁺, K⁺ inside / outside and extracellular Cl⁻, mM (> 0).
    temperature : float
        Absolute temperature, K (> 0).
    u_k, u_n : float
        Effective KCC2 / NKCC1 capacities (:func:`kernels.kinetics.kcc2_capacity`,
        :func:`kernels.kinetics.nkcc1_capacity`), mM/s (≥ 0).
    g_cl : float
        Cl⁻ conductance (GABA_A tonic + leak), mS/cm² (≥ 0).
    gamma : float
        Current-to-concentration rate, (mM/s)/(µA/cm²) (≥ 0).
    u_ae3, u_ndcbe : float
        AE3 and NDCBE capacities, mM/s (≥ 0); 0 (default) leaves them out.
    hco3_i, hco3_o : float
        HCO₃⁻ inside / outside, mM (> 0).

    Returns
    -------
    ClSteadyState
        ``cl_i`` in mM, ``status`` int8 (0 converged, 1 no root, 2 not converged,
        3 invalid input) and ``residual`` in mM/s. Differentiable (implicit).

    References
    ----------
    Doyon et al. (2011) PLoS Comput Biol 7:e1002149; Wei, Ullah & Schiff (2014)
    J Neurosci 34:11733; Düsterwald et al. (2018) eLife 7:e39575.
    """
    core = (vm, na_i, na_o, k_i, k_o, cl_o, temperature, u_k, u_n, g_cl, gamma)
    x, status, res = _cl_solve(*core, True, u_ae3, u_ndcbe, hco3_i, hco3_o)
    return ClSteadyState(jnp.exp(x), status, res)


# ------------------------------------------------------------------------- calcium
class CaSteadyState(NamedTuple):
    """Calcium steady state: ``ca_i`` (mM), ``nroots`` (int8), ``status`` (int8),
    ``residual`` (µA/cm²)."""

    ca_i: Array
    nroots: Array
    status: Array
    residual: Array


class _CaPoint(NamedTuple):
    """Terms of the Ca²⁺ balance grouped by what they depend on (for hoisting)."""

    ca_eq: Any  # [Ca]_i at which ΔG_NCX = 0, mM (per V_m and [Na]_i)
    b: Any  # h_Na · e^{(ν−1)u}[Na]_o³/(1 + k_sat e^{(ν−1)u}) (per V_m and [Na]_i)
    d_na: Any  # [Ca]_i-independent part of the NCX denominator (per [Na]_i)
    c_v: Any  # g·V_m − g·(RT/2F)·ln[Ca]_o, µA/cm² (per V_m)


class _CaShared(NamedTuple):
    """Parameters of the [Ca]_i-dependent terms (no V_m or [Na]_i dependence)."""

    two_ibar: Any
    k_dact: Any
    n_act: Any
    km_nao3: Any
    km_cai: Any
    na_o3: Any
    ibar_pmca: Any
    ln_k_pmca: Any
    h_pmca: Any
    g_half_rtf: Any  # g·RT/(2F), µA/cm²


def _ca_terms(x: Array, s: _CaShared) -> tuple[Array, Array, Array, Array]:
    """(ca, w = 2Ī·Ka, d_ca, r) at x = ln[Ca]_i: the parts of f that depend on x only."""
    ca = jnp.exp(x)
    w = s.two_ibar * _ncx_activation(x, s.k_dact, s.n_act)
    d_ca = ca * (s.km_nao3 * (1.0 + ca / s.km_cai) + s.na_o3)
    r = s.ibar_pmca * jax.nn.sigmoid(s.h_pmca * (x - s.ln_k_pmca)) + s.g_half_rtf * x
    return ca, w, d_ca, r


def _ca_balance(x: Array, pt: _CaPoint, s: _CaShared) -> Array:
    ca, w, d_ca, r = _ca_terms(x, s)
    return w * pt.b * (pt.ca_eq - ca) / (pt.d_na + d_ca) - (pt.c_v + r)


def _ca_setup(
    vm, na_i, na_o, ca_o, temperature, ncx: NCXParams, ibar_pmca, k_pmca, h_pmca, g, q10_pmca
):
    rt_f = _rt_f_mv(temperature)
    u = vm / rt_f
    e_out = jnp.exp((ncx.nu - 1.0) * u)
    ln_na_i, ln_na_o, ln_ca_o = jnp.log(na_i), jnp.log(na_o), jnp.log(ca_o)
    na_o3 = na_o**3
    na_i3 = na_i**3
    # V-only and [Na]_i-only factors are formed apart so nested vmap hoists them.
    b_v = e_out * na_o3 / (1.0 + ncx.ksat * e_out)
    h_na = _ncx_inactivation(ln_na_i, ncx.f_inact, ncx.k_inact, ncx.n_inact)
    ln_eq_na = 3.0 * (ln_na_i - ln_na_o) + ln_ca_o
    pt = _CaPoint(
        ca_eq=jnp.exp(u + ln_eq_na),
        b=h_na * b_v,
        d_na=ncx.km_cai * na_o3 * (1.0 + (na_i / ncx.km_nai) ** 3) + (ncx.km_cao + ca_o) * na_i3,
        c_v=g * vm - (0.5 * g * rt_f) * ln_ca_o,
    )
    # GPB temperature factors (exactly 1 at 310 K): I_NCX and I_PMCA scale with T.
    s = _CaShared(
        two_ibar=2.0 * (ncx.ibar * _q10_factor(ncx.q10, temperature)),
        k_dact=ncx.k_dact,
        n_act=ncx.n_act,
        km_nao3=ncx.km_nao**3,
        km_cai=ncx.km_cai,
        na_o3=na_o3,
        ibar_pmca=ibar_pmca * _q10_factor(q10_pmca, temperature),
        ln_k_pmca=jnp.log(k_pmca),
        h_pmca=h_pmca,
        g_half_rtf=0.5 * g * rt_f,
    )
    return pt, s, ln_ca_o


def calcium_balance(
    ca_i: ArrayLike,
    vm: ArrayLike,
    na_i: ArrayLike,
    na_o: ArrayLike,
    ca_o: ArrayLike,
    temperature: ArrayLike,
    ncx: NCXParams,
    ibar_pmca: ArrayLike,
    k_pmca: ArrayLike,
    h_pmca: ArrayLike,
    g_ca_bg: ArrayLike,
    *,
    q10_pmca: ArrayLike = Q10_PMCA,
) -> Array:
    """Net Ca²⁺ influx in charge units, 2 I_NCX − g_CaBG (V_m − E_Ca) − I_PMCA.

    I_NCX carries ``ncx.q10`` and I_PMCA = Ī_PMCA·q10_pmca^((T − 310 K)/10 K)·
    [Ca]_i^h/(K^h + [Ca]_i^h) (GPB 2010's temperature factors).

    Parameters
    ----------
    ca_i, ca_o : float
        Ca²⁺ inside / outside, mM (> 0).
    vm : float
        Membrane potential, mV.
    na_i, na_o : float
        Na⁺ inside / outside, mM (> 0).
    temperature : float
        Absolute temperature, K (> 0).
    ncx : NCXParams
        NCX parameters (:class:`kernels.kinetics.NCXParams`).
    ibar_pmca : float
        Maximal PMCA current, µA/cm² (≥ 0).
    k_pmca : float
        PMCA half-activation [Ca]_i, mM (> 0).
    h_pmca : float
        PMCA Hill coefficient, dimensionless (≥ 0).
    g_ca_bg : float
        Background Ca²⁺ conductance, mS/cm² (≥ 0).
    q10_pmca : float
        PMCA Q10, dimensionless (> 0); 2.35 (GPB 2010), reference 310 K.

    Returns
    -------
    float
        Net Ca²⁺ influx, µA/cm² (> 0: [Ca]_i rises; zero at a steady state).

    References
    ----------
    Grandi, Pasqualini & Bers (2010) J Mol Cell Cardiol 48:112.
    """
    pt, s, _ = _ca_setup(
        vm, na_i, na_o, ca_o, temperature, ncx, ibar_pmca, k_pmca, h_pmca, g_ca_bg, q10_pmca
    )
    return _ca_balance(jnp.log(ca_i), pt, s)


def _ca_scan(pt: _CaPoint, s: _CaShared, ln_ca_o: Array, dtype: Any) -> tuple[Array, Array, Array]:
    """Sign scan of f on the fixed log grid, with enclosures of f and f′ on its cells.

    Returns ``(nroots, u, n_open)``: the number of sign changes, the first
    downward crossing as a fractional grid index, u = k + g_k/(g_k − g_{k+1}) ∈
    (k, k + 1] (the regula-falsi point of f·D in bracket k), or n − 1/2 when
    there is none, and the number of scan cells the enclosures leave *open*.

    Certificate. With ca = e^x, f·D = b·ca_eq·w − b·w·ca − A·D, where
    w = 2Ī·Ka (allosteric activation), A = c_v + r (leak and PMCA) and
    D = d_na + d_ca (the NCX denominator, > 0) are non-decreasing in x and
    b, ca_eq, w, w·ca ≥ 0. On an interval each piece lies between its end
    values, so interval arithmetic on node values encloses f·D there. Its
    slope (f·D)′ = b·ca_eq·w′ − b·(w·ca)′ − r′·D − A·D′ is enclosed the same
    way: w′ and the PMCA part of r′ are t(1 − t) of a logistic t, whose range
    on an interval is known exactly (:func:`_bell_range_ends`), and D′ > 0 is
    increasing. Both enclosures are taken on the 32 super-cells [x_2m, x_2m+2]
    (and [x_62, x_63]) that tile the scan. A super-cell is *closed* when f·D
    cannot vanish on it (no root) or when (f·D)′ cannot (f·D is monotone
    there: exactly the roots its end signs show, 0 or 1). When ``n_open`` is
    0 the sign changes are every root in range, to rounding of the bound
    arithmetic; an open super-cell may hide two roots (near a fold, where f and
    f′ vanish together, no enclosure closes it).

    The loop over nodes is unrolled into elementwise work on the point, which
    XLA fuses into one pass with no (points × nodes) intermediate (a reduction
    over a materialised node axis was ~10x slower on CPU). The walk's three
    integers leave it packed in one number that ends in a division, on
    purpose: XLA does not duplicate an expensive op into several consumers, so
    the walk runs once instead of inside every fusion that reads one of them
    (a second output of the walk cost 30 % more time).
    """
    n = CA_SCAN_POINTS
    x_low = math.log(CA_SCAN_LOW)
    # Scalars under vmap (shape ()); same-shaped arrays in an elementwise call.
    shape = jnp.broadcast_shapes(*(jnp.shape(v) for v in (*pt, *s, ln_ca_o)))

    def column(v):  # (*shape, 1): broadcasts against the node axis
        return jnp.expand_dims(jnp.broadcast_to(v, shape), -1)

    nodes = jnp.arange(n, dtype=dtype).reshape((1,) * len(shape) + (n,))
    step = (ln_ca_o - x_low) / (n - 1)
    xs = x_low + column(step) * nodes
    # Grid-only terms: under nested vmap they do not depend on the point and
    # are computed once for the whole block.
    sc = _CaShared(*(column(v) for v in s))
    ca, w, d_ca, r = _ca_terms(xs, sc)
    w_ca = w * ca
    bc = pt.b * pt.ca_eq

    def node(i):
        # f·D has the sign of f (D > 0) and needs no division; the factors are
        # per node, per (V_m, node) and per ([Na]_i, node), so only five
        # multiply-adds per point and node remain.
        a = pt.c_v + r[..., i]
        g = pt.b * (w[..., i] * pt.ca_eq - w_ca[..., i]) - a * (pt.d_na + d_ca[..., i])
        return g, a

    # Enclosures of the slope pieces on the super-cells (grid-only)
    bounds = _super_bounds(n)
    lo_n, hi_n = jnp.asarray(bounds[:-1]), jnp.asarray(bounds[1:])
    ka = _ncx_activation(xs, sc.k_dact, sc.n_act)
    sp = jax.nn.sigmoid(sc.h_pmca * (xs - sc.ln_k_pmca))
    dp = ca * (sc.km_nao3 * (1.0 + 2.0 * ca / sc.km_cai) + sc.na_o3)  # D′ > 0, increasing

    def cells(v):  # values at the super-cells' lower and upper bounds
        return v[..., lo_n], v[..., hi_n]

    kl, kh = _bell_range_ends(*cells(ka))
    wpl, wph = sc.two_ibar * sc.n_act * kl, sc.two_ibar * sc.n_act * kh  # w′
    ca_l, ca_h = cells(ca)
    wca_l, wca_h = cells(w_ca)
    wcpl, wcph = wpl * ca_l + wca_l, wph * ca_h + wca_h  # (w·ca)′ = w′·ca + w·ca
    pl, ph = _bell_range_ends(*cells(sp))
    rpl = sc.ibar_pmca * sc.h_pmca * pl + sc.g_half_rtf  # r′
    rph = sc.ibar_pmca * sc.h_pmca * ph + sc.g_half_rtf
    d_l, d_h = cells(d_ca)
    rpd_l, rpd_h = rpl * d_l, rph * d_h

    # Walk the nodes downwards and overwrite at every downward crossing: the
    # last write is the lowest crossing, with no "already found" bookkeeping.
    # The enclosures are taken on the super-cells [x_2m, x_2m+2] (and the last
    # cell [x_62, x_63]): half the work of one per cell.
    k = jnp.asarray(n - 1, dtype)  # sentinel: no crossing
    nroots = jnp.zeros((), dtype)
    n_open = jnp.zeros((), dtype)  # super-cells neither enclosure closes
    g_hi, a_hi = node(n - 1)
    hi_node, m = n - 1, len(bounds) - 2
    g_next, pos_next = g_hi, g_hi > 0
    for i in range(n - 2, -1, -1):
        g_i, a_i = node(i)
        pos = g_i > 0
        nroots = nroots + (pos != pos_next).astype(dtype)
        k = jnp.where(pos & ~pos_next, float(i), k)
        if i == bounds[m]:
            h = hi_node
            # f·D on [x_i, x_h] lies in [g_h − e, g_i + e]: the increasing piece
            # b·ca_eq·w moves by b·ca_eq·Δw, A·D by at most max(−A_i, 0)·ΔD
            # beyond its end values (A_h ≥ A_i)
            e = bc * (w[..., h] - w[..., i]) + jnp.maximum(-a_i, 0.0) * (d_h[..., m] - d_l[..., m])
            ddp = dp[..., h] - dp[..., i]
            # (f·D)′ on [x_i, x_h]: bounds of its four pieces
            s_hi = (
                bc * wph[..., m]
                - pt.b * wcpl[..., m]
                - (rpl[..., m] * pt.d_na + rpd_l[..., m])
                - (a_i * dp[..., i] + jnp.minimum(a_i, 0.0) * ddp)
            )
            s_lo = (
                bc * wpl[..., m]
                - pt.b * wcph[..., m]
                - (rph[..., m] * pt.d_na + rpd_h[..., m])
                - (a_hi * dp[..., h] - jnp.minimum(a_hi, 0.0) * ddp)
            )
            closed = (jnp.maximum(g_hi, -g_i) > e) | (s_hi < 0) | (s_lo > 0)
            n_open = n_open + ~closed
            g_hi, a_hi, hi_node, m = g_i, a_i, i, m - 1
        g_next, pos_next = g_i, pos
    # Three integers < 64 packed exactly in one number (< 2^18, exact in
    # float32 too). The divisor depends on the walk, so the division cannot be
    # folded away.
    q = 1.0 + jnp.abs(g_next)
    packed = jnp.round((k + 64.0 * (nroots + 64.0 * jnp.minimum(n_open, 63.0))) * q / q)
    n_open = jnp.floor(packed / 4096.0)
    nroots = jnp.floor((packed - 4096.0 * n_open) / 64.0)
    k = packed - 4096.0 * n_open - 64.0 * nroots
    # the regula-falsi point of the crossing cell [x_k, x_k+1], from its node values
    table = jnp.stack([w, w_ca, d_ca, r], axis=-1)  # (..., n, 4), grid-only
    two = _row_block(table, jnp.minimum(k, n - 2.0).astype(jnp.int32), 2, shape)
    b, c_v, d_na, ca_eq = (column(v) for v in (pt.b, pt.c_v, pt.d_na, pt.ca_eq))
    gk = b * (two[..., 0] * ca_eq - two[..., 1]) - (c_v + two[..., 3]) * (d_na + two[..., 2])
    u = jnp.where(k < n - 1, k + gk[..., 0] / (gk[..., 0] - gk[..., 1]), n - 0.5)
    return nroots.astype(jnp.int32), u, n_open


def _bell_range_ends(t_lo: Array, t_hi: Array) -> tuple[Array, Array]:
    """Range of t(1 − t) for t in [t_lo, t_hi] ⊂ [0, 1]: an exact enclosure from the ends.

    t(1 − t) is concave with its peak ¼ at t = ½, so on the interval it lies
    between the smaller end value and either ¼ (the interval holds ½) or the
    larger end value.
    """
    a, b = t_lo * (1.0 - t_lo), t_hi * (1.0 - t_hi)
    peak = (t_lo <= 0.5) & (t_hi >= 0.5)
    return jnp.minimum(a, b), jnp.where(peak, 0.25, jnp.maximum(a, b))


def _super_bounds(n: int) -> tuple[int, ...]:
    """Nodes bounding the scan's super-cells: 0, 2, 4, … and the last node."""
    return tuple(range(0, n - 1, _CA_CELL)) + (n - 1,)


def _row_block(table: Array, start: Array, size: int, shape: tuple) -> Array:
    """Rows ``start .. start + size − 1`` of a (…, rows, cols) table, per point."""
    if shape == ():  # under vmap: one contiguous block per point
        return jax.lax.dynamic_slice_in_dim(table, start, size, axis=-2)
    idx = jnp.expand_dims(start, -1) + jnp.arange(size, dtype=jnp.int32).reshape(
        (1,) * len(shape) + (size,)
    )
    table = jnp.broadcast_to(table, shape + table.shape[-2:])
    return jnp.take_along_axis(table, idx[..., None], axis=-2)


def _ca_valid(vm, na_i, na_o, ca_o, temperature, ncx, ibar_pmca, k_pmca, h_pmca, g, q10_pmca):
    """Inputs of the Ca²⁺ balance finite and in range (status INVALID_INPUT otherwise)."""
    return _all(
        _finite(vm, na_i, na_o, ca_o, temperature, ibar_pmca, k_pmca, h_pmca, g, q10_pmca),
        q10_pmca > 0,
        ncx.valid(),
        na_i > 0,
        na_o > 0,
        ca_o > 0,
        temperature > 0,
        ibar_pmca >= 0,
        k_pmca > 0,
        h_pmca >= 0,
        g >= 0,
    )


@jax.jit  # one compiled solver for eager single-point calls; inlined under jit
def _ca_solve(
    vm,
    na_i,
    na_o,
    ca_o,
    temperature,
    ncx: NCXParams,
    ibar_pmca,
    k_pmca,
    h_pmca,
    g,
    valid=True,
    q10_pmca=Q10_PMCA,
) -> tuple[Array, Array, Array, Array]:
    """(x = ln[Ca]_i, nroots, status, residual); I_PMCA × q10_pmca^((T − 310 K)/10 K)."""
    dtype = _float_dtype(vm, na_i, na_o, ca_o, temperature, *ncx, ibar_pmca, k_pmca, h_pmca, g)
    valid = jnp.asarray(valid) & _ca_valid(
        vm, na_i, na_o, ca_o, temperature, ncx, ibar_pmca, k_pmca, h_pmca, g, q10_pmca
    )
    pt, s, ln_ca_o = _ca_setup(
        vm, na_i, na_o, ca_o, temperature, ncx, ibar_pmca, k_pmca, h_pmca, g, q10_pmca
    )
    scanned = ln_ca_o > math.log(CA_SCAN_LOW)  # [1 nM, [Ca]_o] is not empty

    def f(x):
        return _ca_balance(x, pt, s)

    def solve(f, guess):
        n = CA_SCAN_POINTS
        x_low = math.log(CA_SCAN_LOW)
        nroots, u, n_open = _ca_scan(pt, s, ln_ca_o, dtype)
        found = (u < n - 1) & scanned
        step = (ln_ca_o - x_low) / (n - 1)
        # the bracket [x_k, x_k+1]; if u rounds onto a node, the root is at that
        # node to rounding and the start (clipped to the bracket) is already there
        k = jnp.clip(jnp.ceil(u) - 1.0, 0.0, n - 2.0)
        x_lo = x_low + k * step
        x_hi = x_lo + step
        x0 = jnp.clip(x_low + u * step, x_lo, x_hi)
        x, fx, dfx = _descending_newton(f, x0, x_lo, x_hi, _N_FAST_CA, _N_ITER_CA)
        # custom_root's JVP gives aux outputs zero tangents of their own dtype,
        # which JAX rejects for bool/int (they need float0): pass floats.
        return x, (fx, dfx, found.astype(dtype), nroots.astype(dtype), n_open.astype(dtype))

    guess = jnp.zeros((), dtype)
    x, (fx, dfx, found, nroots, n_open) = jax.lax.custom_root(
        f, guess, solve, _scalar_tangent_solve, has_aux=True
    )
    found = (found > 0) & valid
    converged = jnp.isfinite(x) & (jnp.abs(fx) <= _xtol(dtype) * jnp.abs(dfx))
    status = _status(valid, found, converged)
    # an open super-cell may hide a pair of roots below or around the one found
    status = jnp.where(
        valid & scanned & (n_open > 0), jnp.int8(Status.ROOTS_NOT_GUARANTEED), status
    )
    status = _finite_or_flag(status, x, fx)
    nan = jnp.asarray(jnp.nan, dtype)
    # no range searched (invalid input, or [Ca]_o ≤ 1 nM): no roots found
    nroots = jnp.where(valid & scanned, nroots, 0).astype(jnp.int8)  # ≤ 63
    return jnp.where(found, x, nan), nroots, status, jnp.where(found, fx, nan)


def calcium_steady_state(
    vm: ArrayLike,
    na_i: ArrayLike,
    na_o: ArrayLike,
    ca_o: ArrayLike,
    temperature: ArrayLike,
    ncx: NCXParams,
    ibar_pmca: ArrayLike,
    k_pmca: ArrayLike,
    h_pmca: ArrayLike,
    g_ca_bg: ArrayLike,
    *,
    q10_pmca: ArrayLike = Q10_PMCA,
) -> CaSteadyState:
    """Steady-state cytosolic Ca²⁺ at fixed V_m and [Na⁺]: the lowest stable root.

    Solves 2 I_NCX − g_CaBG (V_m − E_Ca) − I_PMCA = 0 for [Ca]_i in
    [1 nM, [Ca]_o] (see the module docstring for the scan, the root choice and
    the status codes). Never raises.

    Parameters
    ----------
    vm : float
        Membrane potential, mV.
    na_i, na_o, ca_o : float
        Na⁺ inside / outside and extracellular Ca²⁺, mM (> 0).
    temperature : float
        Absolute temperature, K (> 0).
    ncx : NCXParams
        NCX parameters (:class:`kernels.kinetics.NCXParams`).
    ibar_pmca : float
        Maximal PMCA current, µA/cm² (≥ 0).
    k_pmca : float
        PMCA half-activation [Ca]_i, mM (> 0).
    h_pmca : float
        PMCA Hill coefficient, dimensionless (≥ 0).
    g_ca_bg : float
        Background Ca²⁺ conductance, mS/cm² (≥ 0).
    q10_pmca : float
        PMCA Q10, dimensionless (> 0); default 2.35 (GPB 2010), reference 310 K.
        The NCX Q10 is ``ncx.q10``.

    Returns
    -------
    CaSteadyState
        ``ca_i`` in mM, ``nroots`` (sign changes found by the scan, int8),
        ``status`` (int8) and ``residual`` in µA/cm². Differentiable (implicit).

    References
    ----------
    Grandi, Pasqualini & Bers (2010) J Mol Cell Cardiol 48:112; Weber et al.
    (2001) J Gen Physiol 117:119.
    """
    x, nroots, status, res = _ca_solve(
        vm, na_i, na_o, ca_o, temperature, ncx, ibar_pmca, k_pmca, h_pmca, g_ca_bg, True, q10_pmca
    )
    return CaSteadyState(jnp.exp(x), nroots, status, res)


# ------------------------------------------------------------------- registry
_WEI = "Wei, Ullah & Schiff 2014 J Neurosci 34:11733"
_GPB = "Grandi, Pasqualini & Bers 2010 J Mol Cell Cardiol 48:112"
_CARDIAC = (
    " — cardiac (ventricular myocyte); assumption for neurons: no neuronal value in "
    "these units (per membrane area, C_m = 1 µF/cm²) is established, see physics.md"
)

INPUTS: list[InputSpec] = [
    InputSpec(
        "g_cl",
        "mS/cm**2",
        0.1,
        "Cl⁻ conductance",
        "Cl⁻ conductance of the membrane (GABA_A tonic + leak)",
        lower=0.0,
        reference=_WEI,
    ),
    InputSpec(
        "gamma",
        "mM/s/(uA/cm**2)",
        0.0444,
        "current → concentration rate",
        "converts a membrane current density into a cytosolic concentration rate "
        "(sphere of radius 7 µm)",
        lower=0.0,
        reference=_WEI + " (= 3/(F·r) for a sphere of radius r = 7 µm)",
    ),
    InputSpec(
        "ibar_pmca",
        "uA/cm**2",
        0.0673,
        "PMCA Ī",
        "maximal plasma-membrane Ca²⁺-ATPase current at 310 K",
        lower=0.0,
        reference=_GPB + _CARDIAC,
    ),
    InputSpec(
        "q10_pmca",
        "",
        Q10_PMCA,
        "PMCA Q10",
        "temperature coefficient of I_PMCA: I × q10_pmca^((T − 310 K)/10 K) (1 at 310 K)",
        lower=0.0,
        lower_open=True,
        reference=_GPB + " (Q10 = 2.35, reference 310 K)",
    ),
    InputSpec(
        "k_pmca",
        "mM",
        5e-4,
        "PMCA K_m",
        "[Ca²⁺]ᵢ of half-maximal PMCA current",
        lower=0.0,
        lower_open=True,
        reference=_GPB + " (0.5 µM; neuronal PMCA isoforms 2 and 3 have K ≈ 0.1–0.5 µM "
        "with calmodulin: Strehler & Zacharias 2001 Physiol Rev 81:21)",
        concentration=True,
    ),
    InputSpec(
        "h_pmca",
        "",
        1.6,
        "PMCA Hill coefficient",
        "Hill coefficient of the PMCA current in [Ca²⁺]ᵢ",
        lower=0.0,
        reference=_GPB + " (cardiac; kept for neurons: assumption)",
    ),
    InputSpec(
        "g_ca_bg",
        "mS/cm**2",
        5.513e-4,
        "background Ca²⁺ conductance",
        "background (leak) Ca²⁺ conductance",
        lower=0.0,
        reference=_GPB + _CARDIAC,
    ),
]


def _reg_valid(p: Mapping[str, Any]) -> Array:
    """Range checks of the regulation inputs that the capacities hide."""
    conds = []
    for name in ("p_kcc2", "p_nkcc1", "rho_kcc2", "rho_nkcc1"):
        conds += [p[name] >= 0, p[name] <= 1]
    for name in ("bumetanide", "vu0463271"):
        conds.append(p[name] >= 0)
    for name in ("ic50_bumetanide", "ic50_vu0463271"):
        conds.append(p[name] > 0)
    conds += [p["u_kcc2"] >= 0, p["u_nkcc1"] >= 0]
    conds += [p["ko_gate_nkcc1"] >= 0, p["ko_gate_nkcc1"] <= 1]
    names = (
        "p_kcc2 p_nkcc1 rho_kcc2 rho_nkcc1 bumetanide vu0463271 "
        "ic50_bumetanide ic50_vu0463271 u_kcc2 u_nkcc1 ko_gate_nkcc1"
    ).split()
    return _all(*conds, _finite(*(p[n] for n in names)))


def _cl(p: Mapping[str, Any], cache: dict) -> tuple[Array, Array, Array]:
    def run():
        u_k, u_n = capacities(p, cache)
        return _cl_solve(
            p["vm"],
            p["na_i"],
            p["na_o"],
            p["k_i"],
            p["k_o"],
            p["cl_o"],
            p["temperature"],
            u_k,
            u_n,
            p["g_cl"],
            p["gamma"],
            _reg_valid(p),
            p["u_ae3"],
            p["u_ndcbe"],
            p["hco3_i"],
            p["hco3_o"],
        )

    return cached(cache, "cl_i_ss", run)


def _ca_args(p: Mapping[str, Any]) -> tuple:
    """The Ca²⁺ balance's arguments (``_ca_setup``/``_ca_valid`` order) from registry inputs."""
    return (
        p["vm"],
        p["na_i"],
        p["na_o"],
        p["ca_o"],
        p["temperature"],
        NCXParams.from_inputs(p),
        p["ibar_pmca"],
        p["k_pmca"],
        p["h_pmca"],
        p["g_ca_bg"],
        p["q10_pmca"],
    )


def _ca(p: Mapping[str, Any], cache: dict) -> tuple[Array, Array, Array, Array]:
    def run():
        *args, q10_pmca = _ca_args(p)
        return _ca_solve(*args, True, q10_pmca)

    return cached(cache, "ca_i_ss", run)


def _e_cl_ss(p, cache):
    return cached(
        cache,
        "e_cl_ss",
        lambda: _rt_f_mv(p["temperature"]) * (_cl(p, cache)[0] - jnp.log(p["cl_o"])),
    )


def _e_gaba_ss(p, cache):
    def run():
        # Same GHK formula as thermo.e_gaba, which checks concrete inputs and
        # would raise on the NaN of a failed point in an eager evaluation.
        cl = jnp.exp(_cl(p, cache)[0])
        r = p["p_hco3_cl"]
        return _rt_f_mv(p["temperature"]) * (
            jnp.log(cl + r * p["hco3_i"]) - jnp.log(p["cl_o"] + r * p["hco3_o"])
        )

    return cached(cache, "e_gaba_ss", run)


def _df_gaba_ss(p, cache):
    return _e_gaba_ss(p, cache) - p["vm"]


def _ca_ss_value(p, cache):
    return jnp.exp(_ca(p, cache)[0])


def _mode_ncx_ss(p, cache):
    dG = BUILTIN_TRANSPORTERS["ncx"].dG({**p, "ca_i": _ca_ss_value(p, cache)})
    return thermo.sign_mode(dG, p["mode_tolerance"])


def _i_ncx_ss(p, cache):
    return _i_ncx(
        p["vm"],
        p["na_i"],
        p["na_o"],
        _ca_ss_value(p, cache),
        p["ca_o"],
        p["temperature"],
        NCXParams.from_inputs(p),
    )


_CL_COMP = ("status_cl_i_ss", "residual_cl_i_ss")
_CA_COMP = ("status_ca_i_ss", "residual_ca_i_ss")
_CL_REF = {"reference": "Doyon et al. 2011; " + _WEI + "; Düsterwald et al. 2018 eLife 7:e39575"}
_CA_REF = {"reference": _GPB + "; Weber et al. 2001 J Gen Physiol 117:119"}
_POL_ATTRS = {"flag_values": [-1, 0, 1], "flag_meanings": "hyperpolarizing neutral depolarizing"}
_MODE_ATTRS = {"flag_values": [-1, 0, 1], "flag_meanings": "reverse equilibrium forward"}

OUTPUTS: list[OutputSpec] = [
    OutputSpec(
        "cl_i_ss",
        "mM",
        "steady-state [Cl⁻]ᵢ",
        "[Cl⁻]ᵢ at which γg_Cl(V_m − E_Cl) − J_KCC2 + 2J_NKCC1 + J_AE3 − J_NDCBE = 0 "
        "at fixed V_m (AE3/NDCBE off unless u_ae3, u_ndcbe > 0)",
        lambda p, cache: jnp.exp(_cl(p, cache)[0]),
        companions=_CL_COMP,
        attrs=_CL_REF,
        concentration=True,
    ),
    OutputSpec(
        "e_cl_ss",
        "mV",
        "steady-state E_Cl",
        "Nernst potential of Cl⁻ at the chloride steady state",
        _e_cl_ss,
        companions=_CL_COMP,
        attrs=_CL_REF,
    ),
    OutputSpec(
        "e_gaba_ss",
        "mV",
        "steady-state E_GABA",
        "GABA_A reversal potential (GHK, Cl⁻ and HCO₃⁻) at the chloride steady state",
        _e_gaba_ss,
        companions=_CL_COMP,
        attrs=_CL_REF,
    ),
    OutputSpec(
        "df_gaba_ss",
        "mV",
        "steady-state E_GABA − V_m",
        "GABA_A driving force at the chloride steady state",
        _df_gaba_ss,
        companions=_CL_COMP,
        attrs=_CL_REF,
    ),
    OutputSpec(
        "gaba_polarity_ss",
        "",
        "steady-state GABA polarity",
        "+1 depolarizing, −1 hyperpolarizing, 0 within tolerance, at the chloride steady state",
        lambda p, cache: thermo.polarity(
            _df_gaba_ss(p, cache), thermo.tolerance_mv(p["mode_tolerance"])
        ),
        dtype="int8",
        companions=_CL_COMP,
        attrs=_POL_ATTRS,
    ),
    OutputSpec(
        "status_cl_i_ss",
        "",
        "chloride steady-state status",
        "0 converged, 1 no root in range, 2 not converged, 3 invalid input, 7 non-finite value",
        lambda p, cache: _cl(p, cache)[1],
        dtype="int8",
        attrs=_CL_STATUS_ATTRS,
    ),
    OutputSpec(
        "residual_cl_i_ss",
        "mM/s",
        "chloride balance residual",
        "net Cl⁻ influx γg_Cl(V_m − E_Cl) − J_KCC2 + 2J_NKCC1 + J_AE3 − J_NDCBE at the "
        "returned [Cl⁻]ᵢ",
        lambda p, cache: _cl(p, cache)[2],
    ),
    OutputSpec(
        "ca_i_ss",
        "mM",
        "steady-state [Ca²⁺]ᵢ",
        "lowest stable [Ca²⁺]ᵢ in [1 nM, [Ca²⁺]ₒ] at which 2I_NCX − g_CaBG(V_m − E_Ca) − "
        "I_PMCA = 0 at fixed V_m, from a sign scan whose interval enclosures prove every "
        "root found (status 0); where they cannot (status 5: near a fold, often in a "
        "bistable region) ca_i_ss_low resolves every root",
        _ca_ss_value,
        companions=_CA_COMP,
        attrs=_CA_REF,
        concentration=True,
    ),
    OutputSpec(
        "ca_i_ss_nroots",
        "",
        "number of calcium steady states",
        "roots of the Ca²⁺ balance in [1 nM, [Ca²⁺]ₒ]: exact where status_ca_i_ss is 0 or 1, "
        "0 when there is none, the range is empty or an input is invalid; a lower bound "
        "where status is 5 (ca_i_ss_count resolves pairs near a fold)",
        lambda p, cache: _ca(p, cache)[1],
        dtype="int8",
        companions=_CA_COMP,
    ),
    OutputSpec(
        "i_ncx_ss",
        "uA/cm**2",
        "steady-state I_NCX",
        "NCX current at the calcium steady state, outward positive",
        _i_ncx_ss,
        companions=_CA_COMP,
        attrs=_CA_REF,
    ),
    OutputSpec(
        "mode_ncx_ss",
        "",
        "steady-state NCX mode",
        "NCX at the calcium steady state: +1 forward (Ca²⁺ extrusion, inward current), "
        "−1 reverse, 0 at equilibrium",
        _mode_ncx_ss,
        dtype="int8",
        companions=_CA_COMP,
        attrs=_MODE_ATTRS,
    ),
    OutputSpec(
        "status_ca_i_ss",
        "",
        "calcium steady-state status",
        "0 converged (every root in range found), 1 no stable root in range, "
        "2 not converged, 3 invalid input, 5 roots not guaranteed (a scan cell the "
        "enclosures cannot close, e.g. near a fold: see ca_i_ss_low), 7 non-finite value",
        lambda p, cache: _ca(p, cache)[2],
        dtype="int8",
        attrs=_CA_STATUS_ATTRS,
    ),
    OutputSpec(
        "residual_ca_i_ss",
        "uA/cm**2",
        "calcium balance residual",
        "net Ca²⁺ influx 2I_NCX − g_CaBG(V_m − E_Ca) − I_PMCA at the returned [Ca²⁺]ᵢ",
        lambda p, cache: _ca(p, cache)[3],
    ),
]
