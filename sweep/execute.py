"""The engine: one point function, one batching, one dispatcher over dask.

Every computation of the product goes through these pieces; a sweep, the
analyses (boundary, local and global sensitivity) and the in-memory helpers
differ only in what they hand them.

Point function and batching (:mod:`sweep.batching`)
    The registry at one point (a scalar function), one ``jax.vmap`` per grid
    axis or one flat ``vmap``, fixed padded shapes.
Blocks (:class:`BlockRunner`, here)
    A plan's block is one jitted call on the plan's fixed block shape; blocks
    take and return numpy arrays. Reductions of a sweep without full fields
    are fused in the kernel (:mod:`sweep.fused`).
Dispatcher (:mod:`sweep.schedulers`)
    Runs module-level tasks fed plain data on any dask scheduler: threads,
    processes, synchronous, or ``dask.distributed`` (``local:N``, ``tcp://``).
    A spec crosses to workers only as its canonical text
    (:attr:`~sweep.spec.SweepSpec.canonical`, the resolved config).
Runs and in-memory evaluation (here)
    Block tasks that compute and write a block, the run of a plan's blocks
    into a store, and evaluation of a plan, a grid, points or a Python
    function in memory.
"""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jax
import numpy as np
from jax.extend.core import Literal

from kernels.registry import REGISTRY

from .batching import (
    batch_over_axes,
    block_inputs,
    compute_shape,
    configure_jax,
    pad_rows,
    padded_batches,
    point_function,
    spec_point_function,
)
from .fused import FusedReductions, NotFusable
from .manifest import Manifest, read_attrs
from .plan import Plan, fusable, make_plan
from .reduce import (
    block_partials,
    reduce_in_memory,
    reduction_vars,
)
from .schedulers import dispatch
from .spec import ConfigError, SweepSpec, parse_config, spec_from_canonical
from .store import (
    BlockWriter,
    coord_attrs,
    time_attrs,
    variable_attrs,
    write_block,
)
from .units import human_bytes

__all__ = [
    "BlockRunner",
    "runner_for",
    "RunResult",
    "execute_blocks",
    "evaluate_plan",
    "evaluate_grid",
    "evaluate_points",
    "evaluate_function",
]


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
