"""Every steady-state branch of the cytosolic Ca²⁺ balance, with stability and fold margin.

``ca_i_ss`` (:mod:`kernels.steady_state`) is the fast answer to "which state
does a resting cell relax to": the lowest stable root from a sign scan. Near
a fold (saddle-node) two roots can merge inside one scan cell, and a sign
scan then misses them. The outputs here use :func:`kernels.roots.all_roots`,
which scans the balance *and* its slope, locates every interior extremum to
rounding and splits a cell whose extremum crosses zero, so both branches of a
bistable map and the unstable branch between them are returned:

* ``ca_i_ss_low``, ``ca_i_ss_high``: the lowest and highest stable roots
  (f′ < 0 in ln[Ca²⁺]ᵢ: a perturbation relaxes back); equal where there is one;
* ``ca_i_ss_mid``: the lowest unstable root (NaN where there is none);
* ``ca_i_ss_count`` and ``ca_i_ss_nstable``: how many roots, how many stable;
* ``ca_fold_margin``: min(−f(x_min), f(x_max)) over the first (local minimum,
  local maximum) pair of the balance, in µA/cm². It is positive where that
  pair straddles zero (three roots: bistable), negative where it does not,
  and zero exactly where two roots merge (f = 0 and f′ = 0 together), so
  ``sweep boundary --output ca_fold_margin --along AXIS`` locates the folds
  (the edges of the bistable region) with the engine's Brent refinement;
  NaN where the balance has no such pair (no fold nearby);
* ``status_ca_branches``: the one status vocabulary — ``converged`` (every
  root found to tolerance and every scan cell's model checked),
  ``roots_not_guaranteed`` (a cell's cubic model has two interior extrema,
  or more roots or extrema than returned), ``not_converged``,
  ``no_root_in_range``, ``invalid_input``.

The root interval is the same as ``ca_i_ss``'s, [1 nM, [Ca²⁺]ₒ] in ln[Ca²⁺]ᵢ.

References
----------
Grandi, Pasqualini & Bers (2010) J Mol Cell Cardiol 48:112 (the balance);
Strogatz (2015) Nonlinear Dynamics and Chaos, ch. 3 (saddle-node bifurcations).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jax.numpy as jnp
from jax import Array

from . import steady_state
from ._spec import OutputSpec, cached
from .roots import Roots, all_roots, fold_margin
from .solvers import Status, flag_attrs

__all__ = ["OUTPUTS", "calcium_roots", "MAX_ROOTS"]

#: Roots returned per point (a fifth would need three interior extremum pairs).
MAX_ROOTS = 5


def calcium_roots(p: Mapping[str, Any]) -> Roots:
    """All roots of the Ca²⁺ balance in ln[Ca²⁺]ᵢ over [1 nM, [Ca²⁺]ₒ] at the inputs ``p``."""
    args = steady_state._ca_args(p)
    pt, s, ln_ca_o = steady_state._ca_setup(*args)
    dtype = jnp.result_type(ln_ca_o)
    lo = jnp.asarray(jnp.log(steady_state.CA_SCAN_LOW), dtype)
    r = all_roots(
        lambda x: steady_state._ca_balance(x, pt, s),
        lo,
        ln_ca_o,
        n=steady_state.CA_SCAN_POINTS,
        max_roots=MAX_ROOTS,
    )
    # An empty interval ([Ca]_o ≤ 1 nM) or an input outside its range is invalid.
    invalid = ~(ln_ca_o > lo) | ~steady_state._ca_valid(*args)
    nan = jnp.asarray(jnp.nan, dtype)
    return r._replace(
        x=jnp.where(invalid, nan, r.x),
        slope=jnp.where(invalid, nan, r.slope),
        ext_f=jnp.where(invalid, nan, r.ext_f),
        status=jnp.where(invalid, jnp.int8(Status.INVALID_INPUT), r.status),
        count=jnp.where(invalid, jnp.int8(0), r.count),
    )


def _roots(p, cache) -> Roots:
    return cached(cache, "ca_branches", lambda: calcium_roots(p))


def _stable(r: Roots) -> Array:
    return jnp.isfinite(r.x) & (r.slope < 0)


def _low(p, cache):
    r = _roots(p, cache)
    st = _stable(r)
    i = jnp.argmax(st)
    return jnp.where(jnp.any(st), jnp.exp(r.x[i]), jnp.nan)


def _high(p, cache):
    r = _roots(p, cache)
    st = _stable(r)
    i = st.shape[0] - 1 - jnp.argmax(st[::-1])
    return jnp.where(jnp.any(st), jnp.exp(r.x[i]), jnp.nan)


def _mid(p, cache):
    r = _roots(p, cache)
    un = jnp.isfinite(r.x) & (r.slope >= 0)
    i = jnp.argmax(un)
    return jnp.where(jnp.any(un), jnp.exp(r.x[i]), jnp.nan)


_COMP = ("status_ca_branches",)
_REF = {"reference": steady_state._GPB + "; Weber et al. 2001 J Gen Physiol 117:119"}
# ca_i_ss's codes but 7: a non-finite balance is invalid input here (kernels.roots)
_CODES = tuple(c for c in steady_state._CODES if c != Status.NON_FINITE)

OUTPUTS: list[OutputSpec] = [
    OutputSpec(
        "ca_i_ss_low",
        "mM",
        "low stable [Ca²⁺]ᵢ branch",
        "lowest stable root of the Ca²⁺ balance in [1 nM, [Ca²⁺]ₒ] (slope and extremum scan)",
        _low,
        companions=_COMP,
        attrs=_REF,
        concentration=True,
    ),
    OutputSpec(
        "ca_i_ss_high",
        "mM",
        "high stable [Ca²⁺]ᵢ branch",
        "highest stable root of the Ca²⁺ balance (equals ca_i_ss_low where only one is stable)",
        _high,
        companions=_COMP,
        attrs=_REF,
        concentration=True,
    ),
    OutputSpec(
        "ca_i_ss_mid",
        "mM",
        "unstable [Ca²⁺]ᵢ branch",
        "lowest unstable root of the Ca²⁺ balance (the threshold between two stable "
        "states); NaN where there is none",
        _mid,
        companions=_COMP,
        attrs=_REF,
        concentration=True,
    ),
    OutputSpec(
        "ca_i_ss_count",
        "",
        "number of Ca²⁺ steady states",
        "roots of the Ca²⁺ balance in [1 nM, [Ca²⁺]ₒ], exact where status_ca_branches is 0",
        lambda p, cache: _roots(p, cache).count,
        dtype="int8",
        companions=_COMP,
    ),
    OutputSpec(
        "ca_i_ss_nstable",
        "",
        "number of stable Ca²⁺ steady states",
        "stable roots of the Ca²⁺ balance (2: bistable)",
        lambda p, cache: jnp.sum(_stable(_roots(p, cache))),
        dtype="int8",
        companions=_COMP,
    ),
    OutputSpec(
        "ca_fold_margin",
        "uA/cm**2",
        "Ca²⁺ fold margin",
        "min(−f(x_min), f(x_max)) over the first local minimum/maximum pair of the Ca²⁺ "
        "balance: > 0 bistable, < 0 monostable, 0 at a fold (saddle-node); NaN without a pair",
        lambda p, cache: fold_margin(_roots(p, cache)),
        companions=_COMP,
        attrs=_REF,
    ),
    OutputSpec(
        "status_ca_branches",
        "",
        "Ca²⁺ branch status",
        "0 converged, 1 no root in range, 2 not converged, 3 invalid input, "
        "5 roots not guaranteed (kernels.solvers.Status)",
        lambda p, cache: _roots(p, cache).status,
        dtype="int8",
        attrs=flag_attrs(_CODES),
    ),
]
