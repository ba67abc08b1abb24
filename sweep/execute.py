"""The engine: one point function, one batching, one dispatcher over dask.

Every computation of the product goes through these pieces; a sweep, the
analyses (boundary, local and global sensitivity) and the in-memory helpers
differ only in what they hand them.

Point function (:func:`point_function`)
    Fixed inputs + the values of the swept inputs → the registry → outputs in
    their dtypes. A scalar function: the kernels take scalars.
Batching (:func:`batch_over_axes`, :func:`pad_rows`, :func:`padded_batches`)
    For a grid, one ``jax.vmap`` per axis (outermost = first axis), so every
    operation is batched only over the axes its inputs depend on:
    ``log([Na]_i)`` is computed once per [Na]_i value, not once per grid point.
    Sampled designs and point lists use one flat ``vmap``. Batches have fixed
    shapes (ragged ends are padded with their last row and the result sliced),
    so each process compiles a kernel once per shape.
Blocks (:class:`BlockRunner`)
    A plan's block is one jitted call on the plan's fixed block shape; blocks
    take and return numpy arrays.
Dispatcher (:func:`dispatch`)
    Runs module-level tasks fed plain data on any dask scheduler: threads,
    processes, synchronous, or ``dask.distributed`` (``local:N``, ``tcp://``).
    A spec crosses to workers only as its canonical text
    (:attr:`~sweep.spec.SweepSpec.canonical`, the resolved config).
"""

from __future__ import annotations

import json
import math
import os
import platform
import shutil
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.extend.core import Literal

from kernels.registry import REGISTRY, Registry

from .plan import Plan, bytes_per_point, fusable, make_plan
from .plan import compute_shape as plan_compute_shape
from .reduce import (
    block_partials,
    partial_kinds,
    partial_name,
    partial_region,
    reduce_in_memory,
    reduction_vars,
    scale_partial,
)
from .spec import ConfigError, SweepSpec, parse_config, spec_from_canonical
from .store import (
    BlockWriter,
    Manifest,
    coord_attrs,
    read_attrs,
    time_attrs,
    variable_attrs,
    write_block,
)
from .units import human_bytes

__all__ = [
    "configure_jax",
    "point_function",
    "batch_over_axes",
    "pad_rows",
    "padded_batches",
    "map_padded",
    "compute_shape",
    "block_inputs",
    "BlockRunner",
    "runner_for",
    "RunResult",
    "check_scheduler",
    "connect_scheduler",
    "active_client",
    "is_client",
    "dispatch",
    "execute_blocks",
    "evaluate_plan",
    "evaluate_grid",
    "evaluate_points",
    "evaluate_function",
    "SCHEDULERS",
]

# Several workers may share one GPU: take device memory as needed rather than
# preallocating most of the card (read when the JAX backend starts).
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")

# Bit-identical results whatever the block shape: XLA:CPU contracts a*b + c into
# fused multiply-adds in some loop shapes and not in others, so the last bit of
# an output would depend on the chunking. Capping the instruction set at AVX (no
# FMA) makes every block shape round alike, for ~10% of compute time (writes
# dominate a sweep). Read when the JAX backend starts; SWEEP_ALLOW_FMA=1 opts out.
if (
    platform.machine().lower() in ("x86_64", "amd64")
    and os.environ.get("SWEEP_ALLOW_FMA", "0") in ("", "0")
    and "xla_cpu_max_isa" not in os.environ.get("XLA_FLAGS", "")
):
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_cpu_max_isa=AVX").strip()

SCHEDULERS = ("threads", "processes", "synchronous", "local:N", "tcp://HOST:PORT")
_LOCAL_SCHEDULERS = ("threads", "processes", "synchronous")

_CONFIGURED: dict[str, Any] = {}


def configure_jax(device: str | None = None) -> None:
    """Configure JAX once per process: float64 available, persistent compile cache, device.

    float64 is enabled globally (``jax_enable_x64``) so every worker thread
    honours it; float32 sweeps pass float32 arrays and outputs are cast and
    checked, so the configured precision is what is computed and stored.
    """
    if not _CONFIGURED.get("done"):
        jax.config.update("jax_enable_x64", True)
        cache = os.environ.get("SWEEP_JAX_CACHE", str(Path.home() / ".cache" / "transporter-sweep"))
        if cache and cache.lower() not in ("0", "off", "none", "false"):
            try:
                Path(cache).mkdir(parents=True, exist_ok=True)
                jax.config.update("jax_compilation_cache_dir", cache)
                jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
                jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
            except OSError:
                pass
        _CONFIGURED["done"] = True
    if device is not None and _CONFIGURED.get("device") != device:
        try:
            devs = jax.devices(device)
        except RuntimeError:
            found = ", ".join(sorted({d.platform for d in jax.devices()}))
            raise ConfigError(
                f"--device {device!r} is not available (JAX sees: {found}); for a GPU install "
                "with: pip install -e '.[gpu]'"
            ) from None
        jax.config.update("jax_default_device", devs[0])
        _CONFIGURED["device"] = device


# --- the point function ------------------------------------------------------------
def point_function(
    registry: Registry,
    fixed: Mapping[str, Any],
    inputs: Sequence[str],
    outputs: Sequence[str],
    dtypes: Mapping[str, Any] | None = None,
) -> Callable[..., tuple]:
    """``point(*values) -> tuple of outputs``: the registry at one point (pure JAX, scalar).

    Parameters
    ----------
    registry : Registry
        Inputs, outputs and kernels (user transporters and model choices included).
    fixed : mapping
        Values of the inputs that are not arguments, in stored units (mM, mV,
        K, kJ/mol, ...); floats or JAX scalars (traced values are fine).
    inputs : sequence of str
        Names of the positional arguments, in stored units.
    outputs : sequence of str
        Outputs to return, in this order.
    dtypes : mapping, optional
        Output name → dtype to cast to (int8 codes, the sweep's precision);
        default: as the kernels return them.
    """
    fixed = dict(fixed)
    inputs = tuple(inputs)
    outputs = tuple(outputs)

    def point(*xs):
        p = dict(fixed)
        p.update(zip(inputs, xs, strict=True))
        r = registry.evaluate(p, outputs)
        if dtypes is None:
            return tuple(jnp.asarray(r[n]) for n in outputs)
        return tuple(jnp.asarray(r[n]).astype(dtypes[n]) for n in outputs)

    return point


def spec_point_function(spec: SweepSpec, names: Sequence[str] | None = None) -> Callable:
    """The point function of a spec's axes: fixed parameters, outputs in their stored dtypes."""
    names = tuple(names or spec.outputs)
    fixed = {k: float(v) for k, v in spec.parameters.items()}
    dtypes = {n: spec.output_dtype(n) for n in names}
    return point_function(spec.registry, fixed, spec.axis_names, names, dtypes)


# --- batching ------------------------------------------------------------------------
def batch_over_axes(point: Callable, n_axes: int, *, sampled: bool = False) -> Callable:
    """Batch a scalar point function: one ``vmap`` per grid axis, or one flat ``vmap``.

    Nested (outermost = first axis), every operation is batched only over the
    axes its inputs depend on. For a sampled design all inputs share one axis.
    """
    if sampled:
        return jax.vmap(point)
    fn = point
    for i in reversed(range(n_axes)):
        fn = jax.vmap(fn, in_axes=tuple(0 if j == i else None for j in range(n_axes)))
    return fn


def pad_rows(values: np.ndarray, length: int) -> np.ndarray:
    """``values`` (rows first) padded to ``length`` rows by repeating its last row."""
    if values.shape[0] == length:
        return values
    return np.concatenate([values, np.repeat(values[-1:], length - values.shape[0], axis=0)])


def padded_batches(n_rows: int, sizes: int | Sequence[int]) -> list[tuple[int, int, int]]:
    """``(start, stop, padded size)`` of the batches that cover ``n_rows`` rows.

    ``sizes`` is one batch size, or ascending bucket sizes: batches hold up to
    the largest, each padded to the smallest bucket that holds it (few shapes,
    so few compilations, and little padding of small batches).
    """
    buckets = (int(sizes),) if isinstance(sizes, (int, np.integer)) else tuple(sizes)
    out = []
    start = 0
    while start < n_rows:
        n = min(n_rows - start, buckets[-1])
        out.append((start, start + n, next(b for b in buckets if b >= n)))
        start += n
    return out


def map_padded(
    fn: Callable[..., Any],
    columns: Sequence[np.ndarray],
    sizes: int | Sequence[int],
    *,
    compiled: set[int] | None = None,
) -> tuple[Any, float]:
    """``fn(*columns)`` batch by batch in padded fixed shapes, in this process.

    Parameters
    ----------
    fn : callable
        A jitted function of row-batched columns returning a pytree of arrays
        with rows first.
    columns : sequence of numpy.ndarray
        Inputs with rows first (all the same number of rows).
    sizes : int or sequence of int
        Batch size or bucket sizes (:func:`padded_batches`).
    compiled : set of int, optional
        Padded sizes already called (updated here), so that only the first
        call of each shape counts as compilation.

    Returns
    -------
    outputs, first_call_seconds
        The pytree of outputs for every row, and the wall time of the first
        call of each new shape (compilation included), in seconds.
    """
    compiled = set() if compiled is None else compiled
    n_rows = int(columns[0].shape[0])
    parts = []
    first = 0.0
    for start, stop, size in padded_batches(n_rows, sizes):
        cols = [pad_rows(c[start:stop], size) for c in columns]
        t0 = time.perf_counter()
        out = jax.tree_util.tree_map(np.asarray, fn(*cols))
        if size not in compiled:
            compiled.add(size)
            first += time.perf_counter() - t0
        parts.append(jax.tree_util.tree_map(lambda a, n=stop - start: a[:n], out))
    if len(parts) == 1:
        return parts[0], first
    return jax.tree_util.tree_map(lambda *a: np.concatenate(a), *parts), first


def compute_shape(plan: Plan) -> tuple[int, ...]:
    """The fixed shape every block of ``plan`` is computed at (edge blocks are padded).

    XLA simplifies size-1 dimensions differently (it may reassociate sums of
    broadcasts), which changes the last bit of some outputs; computing with at
    least 2 points per axis keeps results bit-identical whatever the chunking.
    """
    return plan_compute_shape(plan.block_shape, plan.shape, bytes_per_point(plan.spec))


def block_inputs(
    plan: Plan, block: int, shape: tuple[int, ...], *, rows_from: str | Path | None = None
) -> tuple[list[np.ndarray], tuple[slice, ...]]:
    """Axis values of ``block`` padded to ``shape`` in the sweep's dtype, and its region.

    ``rows_from``: a store whose sampled coordinates a design's rows are read from
    (:meth:`Plan.sample_rows`): a worker then never builds a whole design.
    """
    spec = plan.spec
    region = plan.block_slices(block)
    dt = spec.dtype
    if spec.design:
        (s,) = region
        rows = plan.sample_rows(s.start, s.stop, rows_from=rows_from)  # this block's rows only
        return [pad_rows(rows[a], shape[0]).astype(dt) for a in spec.axis_names], region
    xs = [
        pad_rows(plan.coords[a][s], c).astype(dt)
        for a, s, c in zip(spec.axis_names, region, shape, strict=True)
    ]
    return xs, region


class BlockRunner:
    """Compute any block of a plan with one compiled, batched point function.

    Parameters
    ----------
    plan : Plan
        The blocks.
    point : callable, optional
        A scalar function of the axis values returning a pytree (default: the
        spec's outputs, :func:`spec_point_function`).
    fused : bool, optional
        Compute reductions in the kernel (:class:`FusedReductions`). Default: when
        the sweep stores no full field (``keep_full: false``, a grid); otherwise the
        reductions are taken of the computed fields (:func:`~sweep.reduce.block_partials`).
    """

    def __init__(
        self, plan: Plan, point: Callable | None = None, *, fused: bool | None = None
    ) -> None:
        configure_jax()
        self.plan = plan
        spec = plan.spec
        self.names = spec.outputs
        self.dtypes = {n: spec.output_dtype(n) for n in self.names}
        self._point = point or spec_point_function(spec, self.names)
        if spec.timecourse and not spec.design:  # one integrator, not one per axis
            from .timecourse import batch_flat

            self._fn = jax.jit(batch_flat(self._point, len(spec.axes)))
        else:
            self._fn = jax.jit(
                batch_over_axes(self._point, len(spec.axes), sampled=bool(spec.design))
            )
        self.compute_shape = compute_shape(plan)
        can_fuse = fusable(spec) and point is None
        self.fused = can_fuse and (not spec.keep_full if fused is None else bool(fused))
        self._fused: FusedReductions | None = None
        self._fused_lock = threading.Lock()

    def dependencies(self) -> dict[str, tuple[int, ...]]:
        """For each output, the axes (by position) its value can depend on.

        Found by walking the point function's jaxpr: an equation's outputs depend
        on everything its inputs depend on (sub-jaxprs conservatively on all of
        their inputs). Sampled designs have one dimension, on which all depend.
        """
        spec = self.plan.spec
        if spec.design:
            return {n: (0,) for n in self.names}
        k = len(spec.axes)
        closed = jax.make_jaxpr(self._point)(*[np.zeros((), spec.dtype) for _ in range(k)])
        deps: dict[Any, frozenset[int]] = {
            v: frozenset([i]) for i, v in enumerate(closed.jaxpr.invars)
        }

        def of(v) -> frozenset[int]:
            return deps.get(v, frozenset()) if not isinstance(v, Literal) else frozenset()

        for eqn in closed.jaxpr.eqns:
            d = frozenset().union(*(of(v) for v in eqn.invars))
            for o in eqn.outvars:
                deps[o] = d
        return {
            n: tuple(sorted(of(v))) for n, v in zip(self.names, closed.jaxpr.outvars, strict=True)
        }

    def compute_raw(
        self, block: int, *, rows_from: str | Path | None = None
    ) -> tuple[tuple[slice, ...], Any]:
        """The point function's pytree on ``block`` (numpy, rows sliced to the region)."""
        xs, region = block_inputs(self.plan, block, self.compute_shape, rows_from=rows_from)
        trim = tuple(slice(0, s.stop - s.start) for s in region)
        out = jax.tree_util.tree_map(lambda o: np.asarray(o)[trim], self._fn(*xs))
        return region, out

    def compute(
        self, block: int, *, rows_from: str | Path | None = None
    ) -> tuple[tuple[slice, ...], dict[str, np.ndarray]]:
        """Outputs of ``block`` (numpy, sliced to the block's region) and the region."""
        region, outs = self.compute_raw(block, rows_from=rows_from)
        res = {}
        for n, o in zip(self.names, outs, strict=True):
            if o.dtype != self.dtypes[n]:  # precision is a contract, not a hope
                raise RuntimeError(f"{n}: computed as {o.dtype}, expected {self.dtypes[n]}")
            res[n] = o
        return region, res

    def compute_partials(self, block: int) -> dict[str, tuple[tuple[slice, ...], np.ndarray]]:
        """``block``'s reduction partials computed in the kernel, tile by tile (no field)."""
        with self._fused_lock:  # compiled once, whichever thread asks first
            if self._fused is None:
                self._fused = FusedReductions(self)
        return self._fused.compute(block)

    def compute_block(
        self, block: int, *, rows_from: str | Path | None = None
    ) -> tuple[
        tuple[slice, ...], dict[str, np.ndarray], dict[str, tuple[tuple[slice, ...], np.ndarray]]
    ]:
        """What a block stores: its region, the full fields (``{}`` with ``keep_full:
        false``) and its reduction partials (fused in the kernel when :attr:`fused`)."""
        spec = self.plan.spec
        if self.fused:
            try:
                partials = self.compute_partials(block)
            except NotFusable:  # reduced from the fields computed whole, as without fusing
                self.fused = False
                return self.compute_block(block)
            values: dict[str, np.ndarray] = {}
            if spec.keep_full:
                region, values = self.compute(block)
            else:
                region = self.plan.block_slices(block)
            return region, values, partials
        region, values = self.compute(block, rows_from=rows_from)
        partials = block_partials(self.plan, block, values) if spec.reduce else {}
        return region, (values if spec.keep_full else {}), partials


# --- fused, tiled, dependence-aware reductions ------------------------------------
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

    def __init__(self, runner: BlockRunner, tile_points: int = TILE_POINTS) -> None:
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


# --- per-process caches (a worker compiles once, opens the store once) -----------
_RUNNERS: dict[tuple[str, tuple[int, ...]], BlockRunner] = {}
_WRITERS: dict[tuple[str, str, str], BlockWriter] = {}
_LOCK = threading.Lock()


def runner_for(canonical: str, block_shape: Sequence[int]) -> BlockRunner:
    """The process's :class:`BlockRunner` of a spec's canonical text and block shape."""
    key = (canonical, tuple(block_shape))
    with _LOCK:
        if key not in _RUNNERS:
            _RUNNERS[key] = BlockRunner(Plan(spec_from_canonical(canonical), key[1]))
        return _RUNNERS[key]


def _writer_for(path: str, runner: BlockRunner, token: str) -> BlockWriter:
    plan = runner.plan
    # keyed by the store's creation token: a store overwritten in the same
    # process is a new store, and chunk copies must never refer to the old one
    key = (path, plan.spec.config_hash, token)
    with _LOCK:
        if key not in _WRITERS:
            names = plan.spec.outputs if plan.spec.keep_full else ()
            deps = runner.dependencies() if names else {}
            _WRITERS[key] = BlockWriter(path, names, plan=plan, dependencies=deps)
        return _WRITERS[key]


def run_block_task(
    canonical: str,
    block_shape: tuple[int, ...],
    path: str,
    block: int,
    token: str = "",
    retries: int = 1,
) -> tuple[int, str | None]:
    """Compute and write one block; retried ``retries`` times, then reported, never raised.

    Module-level and fed only plain data (the spec as canonical text), so any
    dask scheduler (threads, processes, distributed) can run it.
    """
    err = None
    for _attempt in range(retries + 1):
        try:
            runner = runner_for(canonical, block_shape)
            # a design's rows come from the store's coordinates, never a whole resample
            region, values, partials = runner.compute_block(block, rows_from=path)
            writer = _writer_for(path, runner, token)
            write_block(writer, block, region, values, partials)
            return block, None
        except Exception as exc:  # reported per block; the sweep goes on
            err = f"{type(exc).__name__}: {exc}"
    try:
        Manifest(path).mark_failed(block, err or "unknown error")
    except OSError:
        pass
    return block, err


def compute_block_task(
    canonical: str, block_shape: tuple[int, ...], block: int
) -> tuple[tuple[slice, ...], dict[str, np.ndarray]]:
    """Compute one block in memory (module-level: any dask scheduler)."""
    return runner_for(canonical, block_shape).compute(block)


@dataclass
class RunResult:
    """What a run did."""

    store: Path
    n_blocks: int
    computed: list[int] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)
    skipped: int = 0
    seconds: float = 0.0
    points: int = 0
    complete: bool = False

    @property
    def points_per_second(self) -> float:
        return self.points / self.seconds if self.seconds > 0 else float("nan")


# --- the dispatcher ----------------------------------------------------------------
def is_client(scheduler: Any) -> bool:
    """A ``distributed.Client`` (duck-typed: distributed is imported only when one is used)."""
    return not isinstance(scheduler, str) and callable(getattr(scheduler, "submit", None))


def active_client() -> Any:
    """The active ``distributed.Client``, as dask uses it, or None.

    Looked for only when distributed is already imported (a process that made a
    client has imported it), so a plain ``sweep run`` never pays its import.
    """
    if "distributed" not in sys.modules:
        return None
    try:
        from distributed import default_client

        return default_client()
    except ValueError:  # "No clients found"
        return None


def _tcp_address(scheduler: str) -> str:
    """``tcp://HOST:PORT`` checked for shape (``ConfigError`` otherwise)."""
    rest = scheduler[len("tcp://") :]
    host, sep, port = rest.rpartition(":")
    if not sep or not host or "/" in rest or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(
            f"--scheduler {scheduler!r} is not allowed: a distributed scheduler is "
            "tcp://HOST:PORT with PORT an integer in 1..65535"
        )
    return scheduler


def max_local_workers() -> int:
    """Most workers of ``local:N``: 4 per CPU core, at least 8 (an assumption: more
    worker processes than that only contend for the cores and memory)."""
    return max(8, 4 * (os.cpu_count() or 1))


def check_scheduler(scheduler: Any) -> None:
    """Raise ``ConfigError`` for a scheduler the engine cannot use.

    Called once, at the edge (the CLI and the public entry points), before any I/O.
    ``scheduler`` is a name (:data:`SCHEDULERS`), a ``distributed.Client`` or None
    (the active client if one exists, else ``threads``).
    """
    if scheduler is None or is_client(scheduler):
        return
    if not isinstance(scheduler, str):
        raise ConfigError(
            f"--scheduler {scheduler!r} is not allowed: must be one of {', '.join(SCHEDULERS)} "
            "or a distributed.Client"
        )
    if scheduler in _LOCAL_SCHEDULERS:
        return
    if scheduler.startswith("tcp://"):
        host, _, port = scheduler[len("tcp://") :].rpartition(":")
        if host and port.isdigit() and 1 <= int(port) <= 65535:
            return
        raise ConfigError(
            f"--scheduler {scheduler[:80]!r} is not allowed: use tcp://HOST:PORT (PORT 1-65535)"
        )
    if scheduler.startswith("local:"):
        n = scheduler.split(":", 1)[1]
        most = max_local_workers()
        if n.isdigit() and 1 <= int(n) <= most:
            return
        raise ConfigError(
            f"--scheduler {scheduler[:80]!r} is not allowed: local:N needs an integer N >= 1 "
            f"and at most {most} (4 worker processes per CPU core)"
        )
    raise ConfigError(
        f"--scheduler {scheduler!r} is not allowed: must be one of {', '.join(SCHEDULERS)}"
    )


#: Seconds to wait for a ``tcp://`` scheduler before the run is refused (assumption:
#: a reachable scheduler answers within a few seconds, even over a cluster network).
CONNECT_TIMEOUT_S = float(os.environ.get("SWEEP_CONNECT_TIMEOUT", "10"))


def connect_scheduler(scheduler: Any) -> Any:
    """Resolve ``scheduler`` for a run: connect to a ``tcp://`` address now, at the edge.

    Returns a ``distributed.Client`` for ``tcp://`` (the caller closes it), the
    active client for None when one exists, else the scheduler unchanged (None
    becomes ``threads``). An unreachable scheduler is a ``ConfigError``, raised
    before anything is written.
    """
    check_scheduler(scheduler)
    if scheduler is None:
        return active_client() or "threads"
    if isinstance(scheduler, str) and scheduler.startswith("tcp://"):
        from distributed import Client  # lazy: distributed takes ~1 s to import

        try:
            return Client(scheduler, timeout=f"{CONNECT_TIMEOUT_S}s")
        except (OSError, TimeoutError) as exc:
            why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ConfigError(
                f"--scheduler {scheduler!r}: cannot connect within {CONNECT_TIMEOUT_S:g} s "
                f"({why[:160]}): start the scheduler (dask scheduler) or check the address"
            ) from None
    return scheduler


def _client_for(scheduler: Any):
    """(client, what to close) for a Client object, ``local:N`` or ``tcp://``.

    A client passed in is used, never closed; one made here is closed after the run.
    """
    if is_client(scheduler):
        return scheduler, []
    from distributed import Client, LocalCluster  # lazy: distributed takes ~1 s to import

    if scheduler.startswith("local:"):
        cluster = LocalCluster(
            n_workers=int(scheduler.split(":", 1)[1]),
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",  # a free port: concurrent clusters never clash
            silence_logs=40,
        )
        client = Client(cluster)
        return client, [client, cluster]
    client = Client(scheduler, timeout=f"{CONNECT_TIMEOUT_S}s")
    return client, [client]


def dispatch(
    fn: Callable[..., Any],
    arglist: Sequence[tuple],
    scheduler: Any = "threads",
    *,
    on_result: Callable[[int, Any], None] | None = None,
    name: str = "task",
) -> list[Any]:
    """``fn(*args)`` for every args tuple on a dask scheduler; results in order.

    Parameters
    ----------
    fn : callable
        Module-level and fed plain data when the scheduler runs other processes
        (``processes``, ``local:N``, ``tcp://``).
    arglist : sequence of tuple
        One task per tuple.
    scheduler : str, distributed.Client or None
        ``threads``, ``processes``, ``synchronous``, ``local:N``,
        ``tcp://HOST:PORT`` (checked at the edge: :func:`check_scheduler`), a
        ``distributed.Client`` (used, not closed) or None (the active client if
        one exists, else ``threads``).
    on_result : callable, optional
        ``on_result(i, result)``, called in this process as each task finishes.
    name : str
        Prefix of the task keys.
    """
    results: list[Any] = [None] * len(arglist)
    if not arglist:
        return results
    if scheduler is None:
        scheduler = active_client() or "threads"
    if isinstance(scheduler, str) and scheduler in _LOCAL_SCHEDULERS:
        import dask  # lazy: dask takes ~0.3 s to import; `sweep list`/`plan` never need it
        from dask.callbacks import Callback

        keys = [f"{name}-{i}" for i in range(len(arglist))]
        index = {k: i for i, k in enumerate(keys)}
        tasks = [
            dask.delayed(fn, pure=False)(*args, dask_key_name=k)
            for k, args in zip(keys, arglist, strict=True)
        ]

        class _Done(Callback):
            def _posttask(self, key, result, dsk, state, worker_id):
                if on_result is not None and key in index:
                    on_result(index[key], result)

        kwargs: dict[str, Any] = {"scheduler": scheduler}
        if scheduler == "processes":
            kwargs["num_workers"] = os.cpu_count()
        with _Done():
            return list(dask.compute(*tasks, **kwargs))
    from distributed import as_completed  # lazy: distributed takes ~1 s to import

    client, owned = _client_for(scheduler)
    try:
        run = uuid.uuid4().hex[:8]  # concurrent runs on one cluster never share a key
        futures = [
            client.submit(fn, *args, key=f"{name}-{i}-{run}", pure=False)
            for i, args in enumerate(arglist)
        ]
        position = {f.key: i for i, f in enumerate(futures)}
        for fut in as_completed(futures):
            i = position[fut.key]
            results[i] = fut.result()
            if on_result is not None:
                on_result(i, results[i])
    finally:
        for obj in owned:
            obj.close()
    return results


def execute_blocks(
    plan: Plan,
    path: str | Path,
    blocks: Sequence[int],
    *,
    scheduler: Any = "threads",
    on_done: Callable[[int, str | None], None] | None = None,
) -> dict[int, str | None]:
    """Run ``blocks`` of ``plan`` into the store at ``path`` with a dask scheduler.

    Returns block -> error message (None when it succeeded).
    """
    token = str(read_attrs(path).get("store_token", ""))
    args = [(plan.spec.canonical, tuple(plan.block_shape), str(path), b, token) for b in blocks]

    def done(_i: int, result: tuple[int, str | None]) -> None:
        if on_done is not None:
            on_done(*result)

    return dict(dispatch(run_block_task, args, scheduler, on_result=done, name="block"))


def evaluate_plan(plan: Plan, *, scheduler: str = "synchronous") -> dict[str, np.ndarray]:
    """Every output of ``plan`` in memory (no store), block by block on ``scheduler``."""
    spec = plan.spec
    out = {
        n: np.empty((*plan.shape, *spec.trailing_shape(n)), dtype=spec.output_dtype(n))
        for n in spec.outputs
    }
    args = [(spec.canonical, tuple(plan.block_shape), b) for b in range(plan.n_blocks)]
    for region, vals in dispatch(compute_block_task, args, scheduler, name="block"):
        for n, v in vals.items():
            out[n][region] = v
    return out


def free_disk(path: Path) -> int:
    p = path.resolve()
    while not p.exists():
        p = p.parent
    return shutil.disk_usage(p).free


def check_disk(plan: Plan, path: Path) -> None:
    """Refuse (``ConfigError``) a store that would not fit on its disk (uncompressed)."""
    need = plan.output_bytes()
    free = free_disk(path)
    if need > free:
        raise ConfigError(
            f"the store would need {human_bytes(need)} (uncompressed) but only "
            f"{human_bytes(free)} is free at {str(path)!r}: shrink the grid, use reduce with "
            "keep_full: false, or pick another store path"
        )


def evaluate_grid(spec: SweepSpec | dict, *, block_bytes: int | None = None) -> Any:
    """Evaluate a (small) sweep in memory and return an ``xarray.Dataset`` (no store)."""
    import xarray as xr  # lazy: xarray takes ~1 s to import; `sweep run` never needs it

    if isinstance(spec, dict):
        spec = parse_config(spec)
    plan = make_plan(spec) if block_bytes is None else make_plan(spec, block_bytes)
    out = evaluate_plan(plan)
    if spec.design:
        coords = {"sample": np.arange(spec.n_points)}
        coords.update(
            {a: ("sample", plan.coords[a], coord_attrs(spec, a)) for a in spec.axis_names}
        )
    else:
        coords = {a.name: (a.name, a.values, coord_attrs(spec, a.name)) for a in spec.axes}
    if spec.times is not None:  # time courses: the trailing time dimension
        coords["time"] = ("time", spec.times, time_attrs())
    ds = xr.Dataset(
        {
            n: ((*plan.dims, *spec.trailing_dims(n)), out[n], variable_attrs(spec, n))
            for n in spec.outputs
        },
        coords=coords,
        attrs={
            "Conventions": "CF-1.10",
            "title": spec.name,
            "config": json.dumps(spec.resolved, sort_keys=True),
        },
    )
    reduce_in_memory(ds, spec)
    for name, (*_, attrs) in reduction_vars(plan).items():  # the store's attributes
        ds[name].attrs = dict(attrs)
    if not spec.keep_full:
        ds = ds.drop_vars(list(spec.outputs))
    return ds


def evaluate_points(
    points: dict[str, Iterable[float]],
    outputs: Sequence[str],
    *,
    parameters: dict[str, float] | None = None,
    precision: str = "float64",
    transporters: dict | None = None,
) -> dict[str, np.ndarray]:
    """Evaluate outputs at arbitrary points (flat ``vmap``); inputs in stored units."""
    configure_jax()
    reg = REGISTRY.with_transporters(transporters) if transporters else REGISTRY
    names = reg.resolve_outputs(outputs)
    fixed = {**reg.defaults(), **(parameters or {})}
    reg.check_inputs(parameters or {})
    keys = list(points)
    arrays = [np.asarray(points[k], dtype=precision) for k in keys]
    for k, a in zip(keys, arrays, strict=True):
        reg.check_inputs({k: a})
    point = point_function(reg, fixed, keys, names)
    res = jax.jit(batch_over_axes(point, len(keys), sampled=True))(*arrays)
    return {n: np.asarray(v) for n, v in zip(names, res, strict=True)}


def evaluate_function(
    fn: Callable[..., Any],
    X: np.ndarray,
    *,
    chunk: int = 2**16,
    scheduler: str = "threads",
    dtype: Any = np.float64,
) -> Any:
    """Evaluate a scalar JAX function at sample rows: ``jit(vmap(fn))`` over chunks on dask.

    Parameters
    ----------
    fn : callable
        ``fn(x1, ..., xD)`` of scalars (units as ``fn`` defines them),
        returning a scalar or a dict of scalars (pure JAX).
    X : numpy.ndarray
        Rows × D.
    chunk : int
        Rows per jitted call (the last chunk is padded).
    scheduler : {"threads", "synchronous"}
        In-process dask schedulers (a closure cannot be shipped to other processes).
    dtype : numpy dtype
        Precision of the inputs.

    Returns
    -------
    numpy.ndarray or dict of numpy.ndarray
        As ``fn`` returns, one value per row.
    """
    if scheduler not in ("threads", "synchronous"):
        raise ConfigError(
            f"--scheduler {scheduler!r} is not allowed for a Python function: threads or synchronous"
        )
    configure_jax()
    X = np.asarray(X)
    chunk = max(2, min(int(chunk), X.shape[0]))
    f = jax.jit(batch_over_axes(fn, X.shape[1], sampled=True))
    cols = [np.ascontiguousarray(X[:, j], dtype=dtype) for j in range(X.shape[1])]
    parts = padded_batches(X.shape[0], chunk)

    def task(lo: int, hi: int, size: int):
        return jax.tree_util.tree_map(np.asarray, f(*(pad_rows(c[lo:hi], size) for c in cols)))

    res = dispatch(task, parts, scheduler)
    return jax.tree_util.tree_map(
        lambda *a: np.concatenate([x[: hi - lo] for x, (lo, hi, _) in zip(a, parts, strict=True)]),
        *res,
    )
