"""Reductions fused in the kernel: tiled, dependence-aware, no field materialised.

A sweep that stores no full field (``keep_full: false``) reduces each output
in fixed cache-sized tiles (:data:`TILE_POINTS`) of only the axes it depends
on (:class:`FusedReductions`); an output the fused path cannot reduce (not one
value per point, e.g. a time course) raises :class:`NotFusable` and the block
runner (:class:`sweep.execute.BlockRunner`) reduces the computed fields instead.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import jax
import jax.numpy as jnp
import numpy as np

from .batching import pad_rows, spec_point_function
from .plan import Plan
from .reduce import (
    partial_kinds,
    partial_name,
    partial_region,
    scale_partial,
)

__all__ = ["TILE_POINTS", "tile_shape", "NotFusable", "FusedReductions"]


class _Runner(Protocol):
    """What :class:`FusedReductions` reads of a :class:`~sweep.execute.BlockRunner`."""

    plan: Plan

    def dependencies(self) -> dict[str, tuple[int, ...]]: ...


#: Points of one tile of a fused reduction (one compiled call): cache-sized, so the
#: values of a tile and the kernels' intermediates (a solver's iteration state) stay
#: in the CPU caches. Measured (benchmarks/RESULTS.md, 2026-12-01): the Ca²⁺ steady
#: state runs at 2.6 / 6.8 / 9.8 / 11.1 / 3.5 / 2.1 M points/s per core with tiles of
#: 2^13 / 2^15 / 2^16 / 2^17 / 2^18 / 2^19 points (per-call overhead below, cache
#: misses above); the 6-D mode map's mode_ncx is within 20% from 2^16 to 2^20.
TILE_POINTS = 2**17


def tile_shape(extents: Sequence[int], target: int = TILE_POINTS) -> tuple[int, ...]:
    """A fixed C-order tile of at most ~``target`` points over ``extents`` (last axes first).

    Every axis of two or more points gets at least 2 points per tile (as the
    compute shape of a block, :func:`compute_shape`: XLA treats size-1 dimensions
    differently).
    """
    budget = max(1, int(target))
    t = [1] * len(extents)
    for j in reversed(range(len(extents))):
        e = int(extents[j])
        c = int(min(e, max(1, budget)))
        c = -(-e // -(-e // c))  # even tiles, no sliver at the edge
        t[j] = c
        budget //= c
    return tuple(max(c, 2) if e >= 2 else c for c, e in zip(t, extents, strict=True))


class NotFusable(ValueError):
    """A reduced output the fused path cannot reduce (not one value per point)."""


@dataclass
class _FusedOutput:
    """The reductions of one output: its axes, tile shape and compiled tile function."""

    name: str
    deps: tuple[int, ...]
    reductions: list[tuple[Any, tuple[str, ...], tuple[int, ...]]]
    tile: tuple[int, ...]
    fn: Callable[..., Any]


def _tile_reducer(
    point: Callable,
    n_axes: int,
    deps: tuple[int, ...],
    reductions: Sequence[tuple[Any, tuple[str, ...], tuple[int, ...]]],
) -> Callable:
    """Jitted ``fn(xs, masks) -> [{kind: partial}]`` of one output on one tile.

    ``xs`` holds one value per axis: an array of the tile's values for the axes in
    ``deps``, a scalar for the others (the output does not depend on them).
    ``masks`` (one boolean array per axis in ``deps``) mark the tile's real points
    (its tail may be padding). Each reduction's partials are reduced over its
    axes in ``deps`` and keep the tile's other ``deps`` axes; the caller scales
    them along the reduced axes the output does not depend on.
    """
    fn = lambda *xs: point(*xs)[0]  # noqa: E731
    for j in reversed(deps):
        fn = jax.vmap(fn, in_axes=tuple(0 if i == j else None for i in range(n_axes)))
    m = len(deps)

    def tile_fn(xs, masks):
        v = fn(*xs)
        valid = jnp.ones(v.shape, bool)
        for jj, mk in enumerate(masks):
            valid = valid & mk.reshape(tuple(-1 if k == jj else 1 for k in range(m)))
        isf = v.dtype.kind == "f"
        present = valid & ~jnp.isnan(v) if isf else valid
        out = []
        for _r, kinds, over in reductions:
            red = tuple(jj for jj, d in enumerate(deps) if d in over)
            res = {}
            n_present = jnp.sum(present, axis=red, dtype=jnp.float64)
            for kind in kinds:
                if kind == "count":
                    ok = valid & jnp.isfinite(v) if isf else valid
                    x = jnp.sum(ok, axis=red, dtype=jnp.int32).astype(jnp.float64)
                elif kind == "sum":
                    x = jnp.sum(jnp.where(present, v.astype(jnp.float64), 0.0), axis=red)
                elif kind in ("min", "max"):
                    if kind == "min":
                        big = jnp.inf if isf else jnp.iinfo(v.dtype).max
                        y = jnp.min(jnp.where(present, v, jnp.asarray(big, v.dtype)), axis=red)
                    else:
                        small = -jnp.inf if isf else jnp.iinfo(v.dtype).min
                        y = jnp.max(jnp.where(present, v, jnp.asarray(small, v.dtype)), axis=red)
                    x = jnp.where(n_present > 0, y.astype(jnp.float64), jnp.nan)
                else:
                    code = {"pos": 1, "neg": -1, "zero": 0}[kind]
                    x = jnp.sum(valid & (v == code), axis=red, dtype=jnp.int32).astype(jnp.float64)
                res[kind] = x
            out.append(res)
        return out

    return jax.jit(tile_fn)


class FusedReductions:
    """A block's reduction partials computed in the kernel, tile by tile.

    For every reduced output, only its own axes (:meth:`BlockRunner.dependencies`)
    are evaluated: along a reduced axis it does not depend on, its partials are
    scaled by the number of points (sum × n, counts × n, min and max unchanged),
    and along a kept axis it does not depend on they are repeated. The block is
    walked in fixed tiles (:data:`TILE_POINTS`, C order) with one compiled tile
    function per output; tiles return partials only, so no field of the block is
    ever materialised. Tiles along reduced axes are combined in C order (sums
    added, ``fmin``/``fmax``), so a block's partials depend only on the block
    shape, never on threads or schedulers.
    """

    def __init__(self, runner: _Runner, tile_points: int = TILE_POINTS) -> None:
        plan = runner.plan
        spec = plan.spec
        self.plan = plan
        deps = runner.dependencies()
        axis = {d: i for i, d in enumerate(plan.dims)}
        by_output: dict[str, list] = {}
        for r in spec.reduce:
            over = tuple(axis[d] for d in r.over)
            by_output.setdefault(r.output, []).append((r, partial_kinds(r), over))
        self.outputs: list[_FusedOutput] = []
        k = len(plan.dims)
        scalar = np.zeros((), spec.dtype)
        for name, reds in by_output.items():
            d = deps[name]
            tile = tile_shape([plan.block_shape[i] for i in d], tile_points)
            point = spec_point_function(spec, (name,))
            shape = jax.eval_shape(point, *([scalar] * len(plan.dims)))[0].shape
            if shape != ():  # e.g. a time course: reduced from its computed fields
                raise NotFusable(f"{name} has per-point shape {shape}")
            self.outputs.append(_FusedOutput(name, d, reds, tile, _tile_reducer(point, k, d, reds)))

    def compute(self, block: int) -> dict[str, tuple[tuple[slice, ...], np.ndarray]]:
        """``block``'s partials: name -> (region in the ``_partials`` array, values)."""
        plan = self.plan
        spec = plan.spec
        region = plan.block_slices(block)
        dt = spec.dtype
        vals = [np.asarray(plan.coords[a][s]) for a, s in zip(spec.axis_names, region, strict=True)]
        lengths = [s.stop - s.start for s in region]
        out = {}
        for fo in self.outputs:
            out.update(self._output(block, fo, vals, lengths, dt))
        return out

    def _output(self, block, fo: _FusedOutput, vals, lengths, dt):
        plan = self.plan
        k = len(plan.dims)
        deps = fo.deps
        ext = [lengths[i] for i in deps]
        n_tiles = [-(-e // t) for e, t in zip(ext, fo.tile, strict=True)]
        scalars = [np.asarray(vals[i][0], dtype=dt) for i in range(k)]
        accs: list[dict[str, np.ndarray]] = []
        keeps = []
        for _r, kinds, over in fo.reductions:
            keep = [jj for jj, d in enumerate(deps) if d not in over]
            keeps.append(keep)
            shape = tuple(ext[jj] for jj in keep)
            accs.append(
                {
                    kd: np.full(shape, np.nan) if kd in ("min", "max") else np.zeros(shape)
                    for kd in kinds
                }
            )
        for t_idx in np.ndindex(*n_tiles):
            sl = [
                slice(i * t, min((i + 1) * t, e))
                for i, t, e in zip(t_idx, fo.tile, ext, strict=True)
            ]
            xs = list(scalars)
            masks = []
            for jj, d in enumerate(deps):
                n = sl[jj].stop - sl[jj].start
                xs[d] = pad_rows(vals[d][sl[jj]], fo.tile[jj]).astype(dt)
                masks.append(np.arange(fo.tile[jj]) < n)
            res = fo.fn(xs, masks)
            for (_r, kinds, _over), keep, acc, part in zip(
                fo.reductions, keeps, accs, res, strict=True
            ):
                where = tuple(sl[jj] for jj in keep)
                trim = tuple(slice(0, sl[jj].stop - sl[jj].start) for jj in keep)
                for kd in kinds:
                    x = np.asarray(part[kd])[trim]
                    if kd == "min":
                        acc[kd][where] = np.fmin(acc[kd][where], x)
                    elif kd == "max":
                        acc[kd][where] = np.fmax(acc[kd][where], x)
                    else:
                        acc[kd][where] += x
        out = {}
        for (r, kinds, over), keep, acc in zip(fo.reductions, keeps, accs, strict=True):
            n = math.prod(lengths[i] for i in over if i not in deps)
            kept_axes = [i for i in range(k) if i not in over]
            kept_deps = [deps[jj] for jj in keep]
            target = tuple(lengths[i] for i in kept_axes)
            # the partial's axes in the array order: deps' kept axes, the others repeated
            expand = tuple(1 if i not in kept_deps else lengths[i] for i in kept_axes)
            pr = partial_region(plan, r, block)
            for kd in kinds:
                x = scale_partial(kd, acc[kd], n).reshape(expand)
                x = np.array(np.broadcast_to(np.asarray(x), target))
                out[partial_name(r, kd)] = (pr, x[None, ...])
        return out
