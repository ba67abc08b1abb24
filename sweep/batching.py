"""The point function and its batching, and the JAX set-up of a process.

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
Block inputs (:func:`compute_shape`, :func:`block_inputs`)
    The fixed shape every block of a plan is computed at and a block's axis
    values padded to it.

Importing this module sets the XLA flags of the engine (no FMA contraction on
x86-64, device memory on demand) before the JAX backend starts;
:func:`configure_jax` enables float64 and the persistent compile cache.
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from kernels.registry import Registry

from .plan import Plan, bytes_per_point
from .plan import compute_shape as plan_compute_shape
from .spec import ConfigError, SweepSpec

__all__ = [
    "configure_jax",
    "point_function",
    "spec_point_function",
    "batch_over_axes",
    "pad_rows",
    "padded_batches",
    "map_padded",
    "compute_shape",
    "block_inputs",
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
