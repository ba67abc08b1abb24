"""Crossings along an axis (``sweep boundary --along``, continuous outputs).

For every point of the other axes, every crossing of ``output = level`` along
the continuous axis: bracketed between adjacent samples of the axis (the
config's grid), then refined on the kernel itself by Brent's method
(:func:`brent_root`: jit + vmap, ``lax.while_loop``). Where a closed form
exists (:func:`closed_form`) it is stored beside the roots with the maximum
deviation as an attribute.

References
----------
Brent R. P. (1973) *Algorithms for Minimization without Derivatives*, ch. 4
(zeroin).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from kernels.registry import suggest
from kernels.solvers import MESSAGES, Status, flag_attrs
from kernels.transporters import species_inputs

from ...batching import batch_over_axes, configure_jax, map_padded
from ...spec import ConfigError, SweepSpec
from ...store import (
    check_store_target,
    coord_attrs,
)
from ._common import (
    BATCH_POINTS,
    BoundaryResult,
    _check_grid,
    _check_output,
    _stored,
    output_function,
)

#: Root tolerance of the refinement, relative to the axis span (linear axes)
#: or in ln x (log axes); the contract asks for ≤ 1e-9 · max(|x*|, span).
XTOL_REL = 1e-12


#: Brent iterations before a bracket is reported as ``Status.NOT_CONVERGED``.
MAXITER = 200


#: Codes of ``status_boundary_<axis>`` (the one vocabulary, :class:`kernels.solvers.Status`):
#: converged; not converged within ``MAXITER``; no crossing in this slot.
BOUNDARY_STATUS = (Status.CONVERGED, Status.NO_ROOT_IN_RANGE, Status.NOT_CONVERGED)


def brent_root(
    f: Callable[..., Any],
    a: Any,
    b: Any,
    fa: Any,
    fb: Any,
    args: tuple = (),
    *,
    xtol: Any,
    maxiter: int = MAXITER,
):
    """Root of ``f(x, *args)`` in the bracket ``[a, b]`` by Brent's method (scalar, pure JAX).

    Safe under ``jit`` and ``vmap`` (``lax.while_loop``; under ``vmap`` the loop
    runs until every lane has converged). Nothing raises: a bracket that does
    not converge in ``maxiter`` iterations returns its best point with
    ``converged = False``.

    Parameters
    ----------
    f : callable
        ``f(x, *args) -> scalar``, pure JAX.
    a, b : float
        Bracket ends (any order), in the units of ``x``.
    fa, fb : float
        ``f(a)`` and ``f(b)``, of opposite signs (or one of them zero).
    args : tuple
        Extra arguments of ``f``.
    xtol : float
        Absolute tolerance on the root, in the units of ``x``.
    maxiter : int
        Iteration limit.

    Returns
    -------
    root, f_root, iterations, converged
        The root is within ``2·(2·eps·|root| + xtol/2)`` of a sign change of ``f``.

    References
    ----------
    Brent R. P. (1973) *Algorithms for Minimization without Derivatives*,
    Prentice-Hall, ch. 4 (the zeroin algorithm).
    """
    a = jnp.asarray(a)
    dt = a.dtype
    b = jnp.asarray(b, dt)
    fa = jnp.asarray(fa, dt)
    fb = jnp.asarray(fb, dt)
    xtol = jnp.asarray(xtol, dt)
    eps = jnp.finfo(dt).eps

    def arrange(s):
        a, b, c, fa, fb, fc, d, e, it = s
        swap = jnp.abs(fc) < jnp.abs(fb)  # keep b the best estimate
        a, b, c = jnp.where(swap, b, a), jnp.where(swap, c, b), jnp.where(swap, b, c)
        fa, fb, fc = jnp.where(swap, fb, fa), jnp.where(swap, fc, fb), jnp.where(swap, fb, fc)
        tol1 = 2.0 * eps * jnp.abs(b) + 0.5 * xtol
        xm = 0.5 * (c - b)
        done = (jnp.abs(xm) <= tol1) | (fb == 0)
        return (a, b, c, fa, fb, fc, d, e, it), tol1, xm, done

    def cond(s):
        _, _, _, done = arrange(s)
        return (~done) & (s[-1] < maxiter)

    def body(s):
        (a, b, c, fa, fb, fc, d, e, it), tol1, xm, _ = arrange(s)
        interp = (jnp.abs(e) >= tol1) & (jnp.abs(fa) > jnp.abs(fb))
        sr = fb / fa
        secant = a == c
        q0 = fa / fc
        r = fb / fc
        p = jnp.where(secant, 2.0 * xm * sr, sr * (2.0 * xm * q0 * (q0 - r) - (b - a) * (r - 1.0)))
        q = jnp.where(secant, 1.0 - sr, (q0 - 1.0) * (r - 1.0) * (sr - 1.0))
        q = jnp.where(p > 0, -q, q)
        p = jnp.abs(p)
        accept = interp & (2.0 * p < 3.0 * xm * q - jnp.abs(tol1 * q)) & (p < jnp.abs(0.5 * e * q))
        e_new = jnp.where(accept, d, xm)
        d_new = jnp.where(accept, p / q, xm)
        a_new, fa_new = b, fb
        b_new = b + jnp.where(jnp.abs(d_new) > tol1, d_new, jnp.copysign(tol1, xm))
        fb_new = jnp.asarray(f(b_new, *args), dt)
        same = ((fb_new > 0) & (fc > 0)) | ((fb_new < 0) & (fc < 0))
        c_new = jnp.where(same, a_new, c)
        fc_new = jnp.where(same, fa_new, fc)
        d_new = jnp.where(same, b_new - a_new, d_new)
        e_new = jnp.where(same, b_new - a_new, e_new)
        return (a_new, b_new, c_new, fa_new, fb_new, fc_new, d_new, e_new, it + 1)

    init = (a, b, a, fa, fb, fa, b - a, b - a, jnp.asarray(0, jnp.int32))
    final = lax.while_loop(cond, body, init)
    (_, b, _, _, fb, _, _, _, it), _, _, done = arrange(final)
    return b, fb, it, done


@dataclass
class Crossings:
    """Crossings of ``f = level`` along one axis, for every point of the other inputs.

    Arrays have the broadcast shape ``S`` of the other inputs, plus a trailing
    ``crossing`` axis of size ``K`` (ascending in x, NaN-padded).

    Attributes
    ----------
    roots : ndarray, float64, ``S + (K,)``
        Refined crossing locations, in the units of x; NaN where there is none.
    side : ndarray, int8, ``S + (K,)``
        Sign of ``f − level`` just above each crossing (+1 / −1; 0 = no crossing).
    n_crossings : ndarray, int64, ``S``
        Number of crossings found between samples (may exceed ``K``).
    status : ndarray, int8, ``S + (K,)``
        :class:`kernels.solvers.Status`: ``CONVERGED``, ``NOT_CONVERGED`` (iteration
        limit reached), ``NO_ROOT_IN_RANGE`` (no crossing in this slot).
    iterations : ndarray, int32, ``S + (K,)``
        Brent iterations (= kernel evaluations) spent on each crossing.
    n_grid_evaluations : int
        Kernel evaluations on the samples (points × samples).
    n_nan : int
        Samples where ``f`` was not finite (no crossing is bracketed across them).
    first_batch_seconds, seconds : float
        Wall time of the first batch (including compilation) and of all batches.
    """

    roots: np.ndarray
    side: np.ndarray
    n_crossings: np.ndarray
    status: np.ndarray
    iterations: np.ndarray
    n_grid_evaluations: int
    n_nan: int = 0
    first_batch_seconds: float = 0.0
    seconds: float = 0.0

    @property
    def max_crossings(self) -> int:
        return int(self.roots.shape[-1])

    @property
    def overflow(self) -> np.ndarray:
        """True where more crossings were found than ``max_crossings`` could hold."""
        return self.n_crossings > self.max_crossings

    @property
    def n_evaluations(self) -> int:
        """Kernel evaluations in all: samples plus root refinement."""
        return int(self.n_grid_evaluations + self.iterations.sum())


def find_crossings(
    f: Callable[..., Any],
    x: Sequence[float] | np.ndarray,
    others: Sequence[Any] = (),
    *,
    level: float = 0.0,
    max_crossings: int = 4,
    log: bool = False,
    xtol: float | None = None,
    maxiter: int = MAXITER,
) -> Crossings:
    """Every crossing of ``f(x, *other) = level`` along ``x``, refined on ``f`` itself.

    A crossing is bracketed where ``f − level`` changes between ``> 0`` and
    ``≤ 0`` from one sample of ``x`` to the next (both finite), then refined by
    :func:`brent_root`. Two crossings within one sample step are not seen: the
    sampling sets what can be found, the refinement sets how precisely.

    Parameters
    ----------
    f : callable
        ``f(x, *other) -> scalar``: a pure JAX function (jitted and vmapped here).
    x : array_like, 1-D
        Samples of the continuous axis (any order; sorted here), at least 2.
    others : sequence of array_like
        Values of the other inputs, broadcastable to a common shape ``S``.
    level : float
        The level whose crossings are sought, in the units of ``f``.
    max_crossings : int
        ``K``: crossings stored per point (the rest are counted only).
    log : bool
        Solve in ln x (x > 0): exact for functions linear in ln x, and the
        tolerance becomes relative.
    xtol : float, optional
        Tolerance: absolute in x (default 1e-12 · span), or in ln x when ``log``
        (default 1e-12).
    maxiter : int
        Brent iteration limit per crossing.

    Returns
    -------
    Crossings
    """
    configure_jax()
    xs = np.sort(np.asarray(x, dtype=np.float64).ravel())
    if xs.size < 2:
        raise ConfigError(f"an axis needs at least 2 samples to bracket a crossing, got {xs.size}")
    if log and not np.all(xs > 0):
        raise ConfigError("log = True needs samples > 0")
    if isinstance(max_crossings, bool) or not isinstance(max_crossings, (int, np.integer)):
        raise ConfigError(f"max_crossings = {max_crossings!r} is not allowed: an integer >= 1")
    K = int(max_crossings)
    if K < 1:
        raise ConfigError(f"max_crossings = {K} is not allowed: must be >= 1")
    us = np.log(xs) if log else xs
    if xtol is None:
        xtol = XTOL_REL if log else XTOL_REL * float(xs[-1] - xs[0])
    level = float(level)
    other = np.broadcast_arrays(*[np.asarray(o, dtype=np.float64) for o in others])
    shape = other[0].shape if other else ()
    flat = [o.ravel() for o in other]
    P = int(np.prod(shape, dtype=np.int64))
    N = xs.size

    def g(u, *o):
        xv = jnp.exp(u) if log else u
        return jnp.asarray(f(xv, *o), jnp.float64) - level

    def one_point(us_, dummy, *o):
        del dummy  # keeps vmap batched when there are no other inputs
        G = jax.vmap(lambda u: g(u, *o))(us_)
        finite = jnp.isfinite(G)
        pos = G > 0
        change = (pos[1:] != pos[:-1]) & finite[1:] & finite[:-1]
        n = jnp.sum(change)
        idx = jnp.nonzero(change, size=K, fill_value=0)[0]
        valid = jnp.arange(K) < n
        a = jnp.where(valid, us_[idx], us_[0])
        b = jnp.where(valid, us_[idx + 1], us_[0])
        ga = jnp.where(valid, G[idx], 0.0)
        gb = jnp.where(valid, G[idx + 1], 0.0)
        side = jnp.where(valid, jnp.where(pos[idx + 1], 1, -1), 0).astype(jnp.int8)

        def refine(a, b, ga, gb):
            return brent_root(g, a, b, ga, gb, o, xtol=xtol, maxiter=maxiter)

        root, _, it, done = jax.vmap(refine)(a, b, ga, gb)
        root = jnp.where(valid, jnp.exp(root) if log else root, jnp.nan)
        status = jnp.where(
            valid,
            jnp.where(done, Status.CONVERGED, Status.NOT_CONVERGED),
            Status.NO_ROOT_IN_RANGE,
        ).astype(jnp.int8)
        it = jnp.where(valid, it, 0)
        return root, side, n, status, it, jnp.sum(~finite)

    B = int(min(P, max(1, BATCH_POINTS // N)))  # one batch shape: one compilation
    # flat over the points; the samples ``us`` are shared by every point (not batched)
    fn = jax.jit(jax.vmap(one_point, in_axes=(None, 0) + (0,) * len(flat)))
    t0 = time.perf_counter()
    dummy = np.arange(P, dtype=np.float64)
    out, compile_s = map_padded(lambda *cols: fn(us, *cols), [dummy, *flat], B)
    roots, side, n_cross, status, its, nan = out
    n_nan = int(nan.sum())
    seconds = time.perf_counter() - t0
    return Crossings(
        roots=roots.reshape(shape + (K,)),
        side=side.reshape(shape + (K,)),
        n_crossings=n_cross.reshape(shape),
        status=status.reshape(shape + (K,)),
        iterations=its.reshape(shape + (K,)),
        n_grid_evaluations=P * N,
        n_nan=n_nan,
        first_batch_seconds=compile_s,
        seconds=seconds,
    )


@dataclass(frozen=True)
class ClosedForm:
    """An exact boundary location: ``fn(p) -> x*`` for a complete input mapping ``p``."""

    name: str
    description: str
    fn: Callable[[Mapping[str, Any]], Any] = field(repr=False, compare=False)
    unit: str = ""


def closed_form(registry, output: str, along: str, level: float = 0.0) -> ClosedForm | None:
    """The closed form of the boundary ``output = level`` along ``along``, if one exists.

    Known forms (level 0 only):

    - ``dG_<t>`` along the transporter's voltage (``vm`` / ``v_mito``, electrogenic
      t): ``v_rev_<t>``; ``i_ncx`` along ``vm``: ``v_rev_ncx`` (GPB 2010 is
      thermodynamically consistent).
    - ``dG_<t>`` along the inside concentration of a species t moves (e.g.
      ``cl_i`` for KCC2/NKCC1): the equilibrium concentration
      (``cl_i_eq_kcc2`` / ``cl_i_eq_nkcc1`` where the registry has it).
    - ``dG_<s>`` along ``vm``: ``e_<s>``; ``df_gaba`` along ``vm``: ``e_gaba``.
    """
    if level != 0.0:
        return None
    outs = registry.outputs

    def from_output(name: str, description: str) -> ClosedForm | None:
        if name not in outs:
            return None

        def fn(p, _name=name):
            return registry.evaluate(p, [_name])[_name]

        return ClosedForm(name, description, fn, outs[name].unit)

    if output.startswith("dG_") and output[3:] in registry.transporters:
        t = registry.transporters[output[3:]]
        if along == t.voltage_input and t.electrogenic:
            return from_output(f"v_rev_{t.name}", f"V_rev of {t.name} (ΔG = qF(V − V_rev))")
        for s, _n in t.stoichiometry:
            if s == "h":
                continue
            inside = species_inputs(s, t.compartment)[0]
            if along != inside:
                continue
            name = f"{inside}_eq_{t.name}"
            if name in outs:
                return from_output(name, f"[{s}] inside at {t.name} equilibrium")

            def fn(p, _t=t, _s=s):
                return _t.equilibrium_inside(p, _s)

            return ClosedForm(
                name, f"[{s}] inside at {t.name} equilibrium", fn, registry.inputs[inside].unit
            )
        return None
    if output == "i_ncx" and along == "vm":
        return from_output("v_rev_ncx", "zero-current potential of GPB 2010 = V_rev of NCX")
    if output.startswith("dG_") and along == "vm" and f"e_{output[3:]}" in outs:
        s = output[3:]
        return from_output(f"e_{s}", f"Nernst potential of {s}")
    if output == "df_gaba" and along == "vm":
        return from_output("e_gaba", "E_GABA (driving force E_GABA − V_m = 0)")
    return None


def _continuous_hint(spec: SweepSpec, output: str) -> str:
    outs = spec.registry.outputs
    cands = []
    if output.startswith("mode_"):
        t = output[5:]
        if t.endswith("_ss"):
            cands.append(f"i_{t[:-3]}_ss")
        cands.append(f"dG_{t}")
    if "polarity" in output:
        cands.append(output.replace("gaba_polarity", "df_gaba"))
    good = [c for c in cands if c in outs]
    return f"use the continuous {good[0]!r} at level 0, or " if good else "use "


def _along_axis_log(spec: SweepSpec, along: str) -> bool:
    ax = spec.axis(along)
    inp = spec.registry.inputs[along]
    return bool(np.all(ax.values > 0) and (ax.spacing == "log" or inp.concentration))


def check_along(spec: SweepSpec, output: str, along: str, level: float, max_crossings: int) -> None:
    """Refuse bad ``--along`` arguments (one-line :class:`ConfigError`) before any compute."""
    _check_grid(spec)
    _check_output(spec, output)
    reg = spec.registry
    o = reg.outputs[output]
    if o.dtype == "int8":
        raise ConfigError(
            f"--output {output!r} is an int8 code: {_continuous_hint(spec, output)}"
            "--adaptive to map where it changes"
        )
    if along not in spec.axis_names:
        raise ConfigError(
            f"--along {along!r} is not an axis of this config{suggest(str(along), spec.axis_names)}; "
            f"axes: {', '.join(spec.axis_names)}"
        )
    ax = spec.axis(along)
    if ax.size < 2:
        raise ConfigError(
            f"--along {along!r} has {ax.size} value: crossings need at least 2 samples along it"
        )
    if isinstance(max_crossings, bool) or not isinstance(max_crossings, (int, np.integer)):
        raise ConfigError(f"--max-crossings {max_crossings!r} is not allowed: an integer 1..127")
    if not 1 <= int(max_crossings) <= 127:
        raise ConfigError(f"--max-crossings {max_crossings} is not allowed: must be 1..127")
    if not math.isfinite(float(level)):
        raise ConfigError(f"--level {level!r} is not allowed: must be a finite number")


def boundary_along(
    spec: SweepSpec,
    output: str,
    along: str,
    *,
    level: float = 0.0,
    max_crossings: int = 4,
    store: str | Path | None = None,
    overwrite: bool = False,
) -> BoundaryResult:
    """Crossings of ``output = level`` along axis ``along`` at every point of the other axes.

    Parameters
    ----------
    spec : SweepSpec
        A grid sweep; its axes give the sampling, its parameters the fixed inputs.
    output : str
        A float output of the registry (e.g. ``dG_ncx``, ``df_gaba_ss``, ``i_ncx_ss``).
    along : str
        One of the spec's axes, with at least 2 values.
    level : float
        Level in the output's units (default 0).
    max_crossings : int
        Crossings stored per point (1 to 127).
    store : path, optional
        Also write the result there (:func:`write_boundary_store`); the path
        is checked before any compute.
    overwrite : bool
        Replace an existing store.

    Returns
    -------
    BoundaryResult
        Dataset with ``boundary_<along>``, ``side_<along>``, ``status_boundary_<along>``,
        ``n_crossings``, ``overflow`` and, where one exists, the closed form.

    Raises
    ------
    ConfigError
        Unknown output or axis, int8 output, axis with one value, bad K or level.
    """
    import xarray as xr  # lazy: xarray takes ~1 s to import; `sweep list` never needs it

    check_along(spec, output, along, level, max_crossings)
    if store is not None:
        check_store_target(store, overwrite=overwrite)
    reg = spec.registry
    o = reg.outputs[output]
    ax = spec.axis(along)
    level = float(level)
    K = int(max_crossings)

    others = [a for a in spec.axes if a.name != along]
    other_names = tuple(a.name for a in others)
    grids = np.meshgrid(*[a.values for a in others], indexing="ij") if others else []
    f = output_function(spec, output, (along, *other_names))
    log = _along_axis_log(spec, along)
    res = find_crossings(f, ax.values, grids, level=level, max_crossings=K, log=log)

    dims = other_names + ("crossing",)
    span = float(ax.values.max() - ax.values.min())
    unit = ax.unit
    long = reg.inputs[along].long_name
    lvl = f"{level:g} {o.unit}".strip()
    tol_text = (
        f"{XTOL_REL:g} relative (solved in ln {along})"
        if log
        else f"{XTOL_REL * span:.3g} {unit} ({XTOL_REL:g} x axis span)"
    )
    battrs: dict[str, Any] = {
        "units": unit,
        "long_name": f"{long} where {output} = {lvl}",
        "description": (
            f"{along} at which {output} crosses {lvl}, bracketed between adjacent samples of "
            f"the {along} axis and refined by Brent's method on the kernel; ascending, NaN-padded"
        ),
        "output": output,
        "level": level,
        "tolerance": tol_text,
        "method": "brent",
    }
    data: dict[str, Any] = {
        f"boundary_{along}": (dims, res.roots, battrs),
        f"side_{along}": (
            dims,
            res.side,
            {
                "units": "",
                "long_name": f"sign of {output} − level above the crossing",
                "description": (
                    f"sign of ({output} − {lvl}) just above each crossing in {along}: "
                    "+1 above, −1 below (or equal), 0 no crossing"
                ),
                "flag_values": [-1, 0, 1],
                "flag_meanings": "below none above",
            },
        ),
        f"status_boundary_{along}": (
            dims,
            res.status,
            {
                "units": "",
                "long_name": "root refinement status",
                "description": "; ".join(
                    f"{int(c)} {MESSAGES[c]}" for c in sorted(BOUNDARY_STATUS)
                ),
                **flag_attrs(BOUNDARY_STATUS),
            },
        ),
        "n_crossings": (
            dims[:-1],
            np.minimum(res.n_crossings, 127).astype(np.int8),
            {
                "units": "",
                "long_name": f"number of crossings of {output} = {lvl} along {along}",
                "description": (
                    "crossings bracketed between samples (clipped at 127); more than "
                    "max_crossings is flagged in 'overflow'"
                ),
                "max_crossings": K,
                "n_overflow": int(res.overflow.sum()),
            },
        ),
        "overflow": (
            dims[:-1],
            res.overflow,
            {
                "units": "",
                "long_name": "more crossings than max_crossings",
                "description": f"true where n_crossings > {K}: only the first {K} are stored",
            },
        ),
    }
    attrs: dict[str, Any] = {
        "boundary_method": "along",
        "boundary_output": output,
        "boundary_along": along,
        "boundary_level": level,
        "boundary_level_units": o.unit,
        "max_crossings": K,
        "n_overflow": int(res.overflow.sum()),
        "n_unconverged": int((res.status == Status.NOT_CONVERGED).sum()),
        "n_nan_samples": res.n_nan,
        "n_evaluations": res.n_evaluations,
        "n_grid_evaluations": res.n_grid_evaluations,
        "tolerance": tol_text,
        "precision": "float64",
        "seconds": round(res.seconds, 4),
        "first_batch_seconds": round(res.first_batch_seconds, 4),
    }
    lines = [
        f"boundary of {output} = {lvl} along {along} ({ax.size} samples, {ax.values.min():g} … "
        f"{ax.values.max():g}{' ' + unit if unit else ''}) at {int(np.prod(res.n_crossings.shape, dtype=np.int64)):,} "
        f"points of {', '.join(other_names) or 'no other axis'}"
    ]
    counts = np.bincount(np.minimum(res.n_crossings, K + 1).ravel(), minlength=K + 2)
    txt = ", ".join(f"{k if k <= K else f'>{K}'}: {c:,}" for k, c in enumerate(counts) if c)
    lines.append(f"  crossings per point   {txt}")
    cf = closed_form(reg, output, along, level)
    if cf is not None:
        fixed = {k: float(v) for k, v in spec.parameters.items()}
        x0 = float(ax.values[0])

        def exact(*xs):
            p = dict(fixed)
            p[along] = jnp.asarray(x0)
            p.update(zip(other_names, xs, strict=True))
            return jnp.asarray(cf.fn(p), jnp.float64)

        if others:
            flat_exact = jax.jit(batch_over_axes(exact, len(others), sampled=True))
            xstar = np.asarray(flat_exact(*[g.ravel() for g in grids]))
            xstar = xstar.reshape(res.n_crossings.shape)
        else:
            xstar = np.asarray(jax.jit(exact)())
        first = res.roots[..., 0]
        ok = (res.n_crossings >= 1) & np.isfinite(first)
        dev = np.abs(first - xstar)
        scale = np.maximum(np.abs(xstar), span)
        max_abs = float(dev[ok].max()) if ok.any() else float("nan")
        max_rel = float((dev / scale)[ok].max()) if ok.any() else float("nan")
        lo, hi = float(ax.values.min()), float(ax.values.max())
        inside = (xstar > lo) & (xstar < hi)
        count_ok = bool(np.all(res.n_crossings[inside] == 1)) if inside.any() else True
        data[cf.name] = (
            dims[:-1],
            xstar,
            {
                "units": cf.unit,
                "long_name": f"closed form: {cf.description}",
                "description": (
                    f"exact location of {output} = {lvl} along {along}, for cross-checking "
                    f"boundary_{along}"
                ),
            },
        )
        for k, v in (
            ("closed_form", cf.name),
            ("closed_form_max_abs_deviation", max_abs),
            ("closed_form_max_rel_deviation", max_rel),
            ("closed_form_single_crossing", count_ok),
        ):
            battrs[k] = v
            attrs[k] = v
        lines.append(
            f"  closed form {cf.name:<10} max |root − exact| = {max_abs:.3g} {unit} "
            f"({max_rel:.2g} of max(|x*|, span)); one crossing wherever it lies inside: "
            f"{'yes' if count_ok else 'NO'}"
        )
    n_unconv = attrs["n_unconverged"]
    lines.append(
        f"  evaluations           {res.n_evaluations:,} ({res.n_grid_evaluations:,} on the grid, "
        f"{res.n_evaluations - res.n_grid_evaluations:,} refining); "
        f"{res.seconds:.2f} s (first batch, with compilation: {res.first_batch_seconds:.2f} s)"
    )
    if attrs["n_overflow"]:
        lines.append(
            f"  overflow              {attrs['n_overflow']:,} points have more than {K} "
            "crossings (raise --max-crossings)"
        )
    if n_unconv:
        lines.append(
            f"  not converged         {n_unconv:,} crossings (status {int(Status.NOT_CONVERGED)}, not_converged)"
        )
    if res.n_nan:
        lines.append(f"  non-finite samples    {res.n_nan:,} (no crossing bracketed across them)")
    coords: dict[str, Any] = {a.name: (a.name, a.values, coord_attrs(spec, a.name)) for a in others}
    coords["crossing"] = (
        "crossing",
        np.arange(K, dtype=np.int64),
        {"units": "", "long_name": "crossing number (ascending in the along axis)"},
    )
    ds = xr.Dataset(data, coords=coords, attrs=attrs)
    return _stored(BoundaryResult(spec, output, "along", ds, "\n".join(lines)), store, overwrite)
