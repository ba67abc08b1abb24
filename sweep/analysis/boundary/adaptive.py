"""Adaptive boundary cells (``sweep boundary --adaptive``, mode maps).

Quadtree/octree refinement generalised to N-D (:func:`adaptive_cells`): start
from a coarse lattice, split only cells whose corners disagree, stop at the
config's grid resolution; a disagreeing point on the face of a cell judged
uniform re-opens it. :func:`boundary_cells` finds the same cells on a dense
map (the reference of ``--check-dense``).

References
----------
Samet H. (1984) ACM Comput Surv 16:187 (quadtrees).
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from kernels.solvers import NOT_WRITTEN

from ...batching import batch_over_axes, configure_jax, map_padded
from ...spec import ConfigError, SweepSpec
from ...store import (
    check_store_target,
    coord_attrs,
    variable_attrs,
)
from ._common import (
    BATCH_POINTS,
    BoundaryResult,
    _check_grid,
    _check_output,
    _stored,
    output_function,
)

#: Padded batch sizes of the adaptive evaluations: at most three compilations per
#: kernel, at most 8x padding on the (cheap) small batches.
EVAL_BUCKETS = (512, 4096, 32768)


def boundary_cells(values: np.ndarray) -> np.ndarray:
    """Boundary cells of a dense map: cells whose corners do not all have the same value.

    Parameters
    ----------
    values : ndarray
        A map of classes (ints; compare floats with :func:`numpy.sign` first).

    Returns
    -------
    ndarray of bool, same shape as ``values``
        True at the lower corner of every cell (one grid step along each axis
        of size ≥ 2) whose corners disagree; the last index along such axes is
        always False (no cell starts there).
    """
    v = np.asarray(values)
    act = [a for a in range(v.ndim) if v.shape[a] >= 2]
    base = tuple(slice(0, v.shape[a] - 1) if a in act else slice(None) for a in range(v.ndim))
    lo = v[base].copy()
    hi = v[base].copy()
    for bits in range(1, 1 << len(act)):
        sl = list(base)
        for j, a in enumerate(act):
            if bits >> j & 1:
                sl[a] = slice(1, v.shape[a])
        w = v[tuple(sl)]
        np.minimum(lo, w, out=lo)
        np.maximum(hi, w, out=hi)
    out = np.zeros(v.shape, dtype=bool)
    out[base] = lo != hi
    return out


@dataclass
class AdaptiveResult:
    """What :func:`adaptive_cells` found.

    Attributes
    ----------
    boundary_cell : ndarray of bool, grid shape
        Final-resolution boundary cells (lower-corner convention of :func:`boundary_cells`).
    values : ndarray, grid shape
        The map reconstructed from the evaluated points (uniform cells filled
        with their corner value).
    evaluated : ndarray of bool, grid shape
        Grid points where the kernel was evaluated.
    n_evaluations, n_dense : int
        Kernel evaluations used, and those of the dense grid.
    levels : int
        Refinement levels (coarse stride 2**levels grid steps).
    per_level : list of int
        Evaluations per level (level 0 = coarse grid; repairs counted where they happen).
    n_reopened : int
        Cells judged uniform, then re-opened by a disagreeing point on their face.
    first_batch_seconds, seconds : float
        Wall time of the first call of each batch shape (including compilation), and in all.
    """

    boundary_cell: np.ndarray
    values: np.ndarray
    evaluated: np.ndarray
    n_evaluations: int
    n_dense: int
    levels: int
    per_level: list[int]
    n_reopened: int = 0
    first_batch_seconds: float = 0.0
    seconds: float = 0.0

    @property
    def ratio(self) -> float:
        """Dense evaluations per adaptive evaluation (> 1: the adaptive map is cheaper)."""
        return self.n_dense / max(1, self.n_evaluations)


def default_levels(shape: Sequence[int]) -> int:
    """Levels so that the coarse grid has about 8 steps along the longest axis."""
    longest = max((n - 1 for n in shape), default=0)
    if longest <= 8:
        return 0
    return int(math.ceil(math.log2(longest / 8)))


@functools.lru_cache(maxsize=64)
def _jit_vmap(f: Callable[..., Any]) -> Callable[..., Any]:
    """One jitted, vmapped wrapper per function, so repeated maps reuse its compilations."""
    return jax.jit(batch_over_axes(f, 0, sampled=True))


class _Evaluator:
    """Evaluates a scalar JAX function at grid multi-indices, in padded vmapped batches."""

    def __init__(self, f: Callable[..., Any], axes: Sequence[np.ndarray], dtype) -> None:
        self.axes = [np.asarray(a, dtype=np.float64) for a in axes]
        self.dtype = dtype
        self._fn = _jit_vmap(f)
        self._compiled: set[int] = set()
        self.first_batch_seconds = 0.0

    def __call__(self, idx: np.ndarray) -> np.ndarray:
        cols = [ax[idx[:, a]] for a, ax in enumerate(self.axes)]
        out, first = map_padded(self._fn, cols, EVAL_BUCKETS, compiled=self._compiled)
        self.first_batch_seconds += first
        return np.asarray(out).astype(self.dtype, copy=False)


def adaptive_cells(
    f: Callable[..., Any],
    axes: Sequence[Sequence[float] | np.ndarray],
    *,
    levels: int | None = None,
    dtype: Any = np.int8,
) -> AdaptiveResult:
    """Boundary cells of the map ``f(*x)`` by N-D quadtree/octree refinement.

    Parameters
    ----------
    f : callable
        ``f(x_0, ..., x_{d-1}) -> class``: a pure JAX scalar function whose
        value is compared for equality (an int8 mode, or a sign code).
    axes : sequence of 1-D arrays
        Grid values of each axis (the final resolution).
    levels : int, optional
        Refinement levels L: the coarse grid takes every 2**L-th grid point
        (clipped at the top edge). Default: :func:`default_levels`.
    dtype : numpy dtype
        dtype of the classes ``f`` returns.

    Returns
    -------
    AdaptiveResult
        Evaluations and boundary cells; the boundary cells equal
        :func:`boundary_cells` of the dense map whenever every feature of the
        map touches the coarse grid (see the module notes).
    """
    configure_jax()
    t_start = time.perf_counter()
    axes = [np.asarray(a, dtype=np.float64).ravel() for a in axes]
    shape = tuple(a.size for a in axes)
    d = len(shape)
    if d == 0 or min(shape) < 1:
        raise ConfigError("adaptive refinement needs at least one axis with values")
    if levels is None:
        levels = default_levels(shape)
    if isinstance(levels, bool) or not isinstance(levels, (int, np.integer)) or levels < 0:
        raise ConfigError(f"levels = {levels!r} is not allowed: an integer >= 0")
    L = int(levels)
    if L > 62:
        raise ConfigError(f"levels = {levels!r} is not allowed: at most 62 (a stride of 2^L)")
    act = np.array([n >= 2 for n in shape])
    D = int(act.sum())
    top = np.array(shape, dtype=np.int64) - 1
    n_dense = int(np.prod(shape, dtype=np.int64))
    evaluate = _Evaluator(f, axes, dtype)
    # corner / child offsets over the active axes, as 0/1 bit patterns
    bits = np.array(
        [[(k >> j) & 1 for j in range(D)] for k in range(1 << D)], dtype=np.int64
    ).reshape(1 << D, D)
    bitmask = np.zeros((1 << D, d), dtype=np.int64)
    bitmask[:, act] = bits

    def stride(level: int) -> int:
        return 1 << (L - level)

    mult = np.array([int(np.prod(shape[a + 1 :], dtype=np.int64)) for a in range(d)], np.int64)

    def ravel(ix: np.ndarray) -> np.ndarray:  # C-order linear index of grid multi-indices
        return ix @ mult if ix.size else np.empty(0, np.int64)

    def corner_keys(lowers: np.ndarray, s: int) -> np.ndarray:  # (C, 2^D) linear indices
        ext = np.minimum(lowers + s, top) - lowers
        return ravel(lowers)[:, None] + (ext * mult) @ bitmask.T

    def children(lowers: np.ndarray, s: int) -> np.ndarray:  # stride s → s/2
        h = s // 2
        kids = (lowers[:, None, :] + h * bitmask[None, :, :]).reshape(-1, d)
        ok = np.all((kids < top) | ~act, axis=1)
        return kids[ok]

    def subcells(lowers: np.ndarray, s_from: int, s_to: int) -> np.ndarray:
        k = s_from // s_to
        grids = np.meshgrid(*[np.arange(k) if a else np.zeros(1, np.int64) for a in act])
        offs = np.stack([g.ravel() for g in grids], axis=1) * s_to
        subs = (lowers[:, None, :] + offs[None, :, :]).reshape(-1, d)
        ok = np.all((subs < top) | ~act, axis=1)
        return subs[ok]

    known_key = np.empty(0, np.int64)
    known_val = np.empty(0, dtype)

    def lookup(keys: np.ndarray) -> np.ndarray:
        pos = np.searchsorted(known_key, keys)
        return known_val[pos]

    per_level: list[int] = []

    def evaluate_missing(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        nonlocal known_key, known_val
        keys = np.unique(points)
        if known_key.size:
            pos = np.minimum(np.searchsorted(known_key, keys), known_key.size - 1)
            keys = keys[known_key[pos] != keys]
        if keys.size == 0:
            return keys, np.empty(0, dtype)
        idx = np.stack(np.unravel_index(keys, shape), axis=1).astype(np.int64)
        vals = evaluate(idx)
        allk = np.concatenate([known_key, keys])
        allv = np.concatenate([known_val, vals])
        order = np.argsort(allk, kind="stable")
        known_key, known_val = allk[order], allv[order]
        per_level[-1] += int(keys.size)
        return keys, vals

    # uniform cells ("leaves") per level: sorted lower-corner keys and their value
    leaves: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def reopen(keys: np.ndarray, vals: np.ndarray) -> list[tuple[int, np.ndarray]]:
        """Leaves whose closed box holds a new point of another value (removed here)."""
        found = []
        if keys.size == 0:
            return found
        ix = np.stack(np.unravel_index(keys, shape), axis=1).astype(np.int64)
        for lev, (lk, lv) in list(leaves.items()):
            if lk.size == 0:
                continue
            s = stride(lev)
            base = (ix // s) * s
            base_key = base @ mult
            # per axis: may the cell start at base (below the top), or one stride lower
            # (the point lies on a lattice line of this level)?
            at_base = [(base[:, a] < top[a]) | (not act[a]) for a in range(d)]
            below = [(ix[:, a] % s == 0) & (ix[:, a] > 0) for a in range(d)]
            hit = np.zeros(lk.size, dtype=bool)
            for row in bitmask:
                ok = np.ones(keys.size, dtype=bool)
                for a in range(d):
                    ok &= below[a] if row[a] else at_base[a]
                if not ok.any():
                    continue
                cand = base_key[ok] - s * int(row @ mult)
                pos = np.minimum(np.searchsorted(lk, cand), lk.size - 1)
                match = (lk[pos] == cand) & (lv[pos] != vals[ok])
                hit[pos[match]] = True
            if hit.any():
                found.append((lev, np.stack(np.unravel_index(lk[hit], shape), axis=1)))
                leaves[lev] = (lk[~hit], lv[~hit])
        return found

    # level 0: the coarse lattice
    s0 = stride(0)
    grids = np.meshgrid(
        *[
            np.arange(0, max(1, n - 1), s0) if a else np.zeros(1, np.int64)
            for n, a in zip(shape, act, strict=True)
        ],
        indexing="ij",
    )
    active = np.stack([g.ravel() for g in grids], axis=1).astype(np.int64)
    per_level.append(0)
    evaluate_missing(corner_keys(active, s0))
    n_reopened = 0
    boundary = np.empty((0, d), np.int64)
    for lev in range(L + 1):
        s = stride(lev)
        cv = lookup(corner_keys(active, s))
        uniform = np.all(cv == cv[:, :1], axis=1)
        keys = ravel(active[uniform])
        order = np.argsort(keys)
        leaves[lev] = (keys[order], cv[uniform, 0][order])
        split = active[~uniform]
        if lev == L:
            boundary = split
            break
        per_level.append(0)
        active = children(split, s)
        pending = corner_keys(active, s // 2)
        while True:
            new_k, new_v = evaluate_missing(pending)
            opened = reopen(new_k, new_v)
            if not opened:
                break
            subs = [subcells(low, stride(lv), s // 2) for lv, low in opened]
            n_reopened += sum(len(low) for _, low in opened)
            sub = np.concatenate(subs)
            active = np.concatenate([active, sub])
            pending = corner_keys(sub, s // 2)

    # the map, reconstructed: uniform cells painted coarse to fine, then the evaluated points
    values = np.zeros(shape, dtype=dtype)
    for lev in sorted(leaves):
        lk, lv = leaves[lev]
        if lk.size == 0:
            continue
        s = stride(lev)
        low = np.stack(np.unravel_index(lk, shape), axis=1)
        if (s + 1) ** D >= 64:  # few, big boxes: slices
            up = np.minimum(low + s, top) + 1
            for lo_i, up_i, v in zip(low, up, lv, strict=True):
                values[tuple(slice(a, b) for a, b in zip(lo_i, up_i, strict=True))] = v
            continue
        grids = np.meshgrid(
            *[np.arange(s + 1) if a else np.zeros(1, np.int64) for a in act], indexing="ij"
        )
        offs = np.stack([g.ravel() for g in grids], axis=1)
        per = max(1, 2**22 // offs.shape[0])
        for i in range(0, low.shape[0], per):
            pts = np.minimum(low[i : i + per, None, :] + offs[None, :, :], top)
            vv = np.broadcast_to(lv[i : i + per, None], pts.shape[:2])
            values.reshape(-1)[ravel(pts.reshape(-1, d))] = vv.reshape(-1)
    values.reshape(-1)[known_key] = known_val
    evaluated = np.zeros(shape, dtype=bool)
    evaluated.reshape(-1)[known_key] = True
    cells = np.zeros(shape, dtype=bool)
    if boundary.size:
        cells.reshape(-1)[ravel(boundary)] = True
    return AdaptiveResult(
        boundary_cell=cells,
        values=values,
        evaluated=evaluated,
        n_evaluations=int(known_key.size),
        n_dense=n_dense,
        levels=L,
        per_level=per_level,
        n_reopened=n_reopened,
        first_batch_seconds=evaluate.first_batch_seconds,
        seconds=time.perf_counter() - t_start,
    )


def check_adaptive(spec: SweepSpec, output: str, levels: int | None, level: float | None) -> None:
    """Refuse bad ``--adaptive`` arguments (one-line :class:`ConfigError`) before any compute."""
    _check_grid(spec)
    _check_output(spec, output)
    if spec.registry.outputs[output].dtype == "int8" and level is not None:
        raise ConfigError(
            f"--level does not apply to the int8 output {output!r}: its values are compared directly"
        )
    if levels is not None and (
        isinstance(levels, bool) or not isinstance(levels, (int, np.integer)) or levels < 0
    ):
        raise ConfigError(f"--levels {levels!r} is not allowed: an integer >= 0")
    longest = max(spec.shape) - 1
    most = max(0, math.ceil(math.log2(longest))) if longest > 1 else 0
    if levels is not None and levels > most:
        raise ConfigError(
            f"--levels {levels!r} is not allowed: an integer from 0 to {most} (the coarse "
            f"stride 2^L cannot exceed the longest axis, {longest + 1} points)"
        )
    if level is not None and not math.isfinite(float(level)):
        raise ConfigError(f"--level {level!r} is not allowed: must be a finite number")


def boundary_adaptive(
    spec: SweepSpec,
    output: str,
    *,
    levels: int | None = None,
    level: float | None = None,
    check_dense: bool = False,
    store: str | Path | None = None,
    overwrite: bool = False,
) -> BoundaryResult:
    """Boundary cells of ``output`` over the spec's grid by adaptive (N-D quadtree) refinement.

    Parameters
    ----------
    spec : SweepSpec
        A grid sweep; the final resolution is its grid.
    output : str
        Any output: int8 codes are compared as they are; float outputs by the
        sign of ``output − level`` (NaN is a class of its own).
    levels : int, optional
        Refinement levels (coarse stride 2**levels); default :func:`default_levels`.
    level : float, optional
        Level for float outputs (default 0); not allowed for int8 outputs.
    check_dense : bool
        Also evaluate the dense grid and record whether the boundary cells agree
        (attributes ``dense_mismatch_cells``, ``dense_match``).
    store : path, optional
        Also write the result there (:func:`write_boundary_store`); the path
        is checked before any compute.
    overwrite : bool
        Replace an existing store.

    Returns
    -------
    BoundaryResult
        Dataset with ``boundary_cell`` (bool), the reconstructed map and ``evaluated``.
    """
    import xarray as xr  # lazy: xarray takes ~1 s to import; `sweep list` never needs it

    check_adaptive(spec, output, levels, level)
    if store is not None:
        check_store_target(store, overwrite=overwrite)
    reg = spec.registry
    o = reg.outputs[output]
    is_int = o.dtype == "int8"
    lvl = 0.0 if level is None else float(level)
    base = output_function(spec, output, spec.axis_names)
    if is_int:
        f = base
        name = output
        vattrs = variable_attrs(spec, output)
    else:

        def f(*xs):
            v = jnp.asarray(base(*xs), jnp.float64) - lvl
            return jnp.where(jnp.isnan(v), NOT_WRITTEN, jnp.sign(v)).astype(jnp.int8)

        name = f"sign_{output}"
        vattrs = {
            "units": "",
            "long_name": f"sign of {output} − {lvl:g}",
            "description": (
                f"sign of ({output} − {lvl:g} {o.unit}); {NOT_WRITTEN} (no value) where not finite"
            ),
            "flag_values": [NOT_WRITTEN, -1, 0, 1],
            "flag_meanings": "undefined negative zero positive",
        }
    vattrs = {**vattrs, "reconstructed": "uniform cells filled with their corner value"}
    res = adaptive_cells(f, [a.values for a in spec.axes], levels=levels, dtype=np.int8)
    dims = spec.axis_names
    attrs: dict[str, Any] = {
        "boundary_method": "adaptive",
        "boundary_output": output,
        "levels": res.levels,
        "coarse_stride": 2**res.levels,
        "n_evaluations": res.n_evaluations,
        "n_dense": res.n_dense,
        "evaluation_ratio": round(res.ratio, 4),
        "evaluations_per_level": list(res.per_level),
        "n_reopened": res.n_reopened,
        "n_boundary_cells": int(res.boundary_cell.sum()),
        "seconds": round(res.seconds, 4),
        "first_batch_seconds": round(res.first_batch_seconds, 4),
    }
    if not is_int:
        attrs["boundary_level"] = lvl
        attrs["boundary_level_units"] = o.unit
    lines = [
        f"adaptive boundary of {output} over {' × '.join(f'{a.name}={a.size}' for a in spec.axes)}"
        f" ({res.levels} levels, coarse stride {2**res.levels})",
        f"  evaluations           {res.n_evaluations:,} vs {res.n_dense:,} for the dense grid "
        f"({res.ratio:.1f}× fewer); per level {', '.join(f'{n:,}' for n in res.per_level)}",
        f"  boundary cells        {attrs['n_boundary_cells']:,}; re-opened cells {res.n_reopened:,}; "
        f"{res.seconds:.2f} s (first batches, with compilation: {res.first_batch_seconds:.2f} s)",
    ]
    if check_dense:
        t0 = time.perf_counter()
        dense = _dense_classes(spec, output, f)
        dcells = boundary_cells(dense)
        mism = int((dcells != res.boundary_cell).sum())
        attrs["dense_mismatch_cells"] = mism
        attrs["dense_boundary_cells"] = int(dcells.sum())
        attrs["dense_match"] = mism == 0
        attrs["dense_seconds"] = round(time.perf_counter() - t0, 4)
        lines.append(
            f"  dense check           {int(dcells.sum()):,} boundary cells on the dense grid; "
            f"{mism} differ ({'match' if mism == 0 else 'MISMATCH'})"
        )
    data = {
        "boundary_cell": (
            dims,
            res.boundary_cell,
            {
                "units": "",
                "long_name": f"{output} boundary cell",
                "description": (
                    "true at the lower corner of each grid cell (one step along every axis) "
                    f"whose corners disagree in {name}; the last index along each axis is false"
                ),
            },
        ),
        name: (dims, res.values, vattrs),
        "evaluated": (
            dims,
            res.evaluated,
            {
                "units": "",
                "long_name": "kernel evaluated here",
                "description": "grid points where the adaptive refinement evaluated the kernel",
            },
        ),
    }
    coords = {a.name: (a.name, a.values, coord_attrs(spec, a.name)) for a in spec.axes}
    ds = xr.Dataset(data, coords=coords, attrs=attrs)
    result = BoundaryResult(spec, output, "adaptive", ds, "\n".join(lines))
    return _stored(result, store, overwrite)


def _dense_classes(spec: SweepSpec, output: str, f: Callable[..., Any]) -> np.ndarray:
    """The class map of ``f`` on the full grid (nested vmap, in slabs of the first axis)."""
    fn = jax.jit(batch_over_axes(f, len(spec.axes)))
    vals = [a.values.astype(np.float64) for a in spec.axes]
    rest = int(np.prod([v.size for v in vals[1:]], dtype=np.int64))
    step = int(min(vals[0].size, max(1, BATCH_POINTS // max(1, rest))))
    out, _ = map_padded(lambda first: fn(first, *vals[1:]), [vals[0]], step)
    return np.asarray(out).astype(np.int8, copy=False)
