"""Reductions computed blockwise, without materialising the grid.

``reduce: [{output: mode_ncx, stats: [fraction_forward], over: [ca_i, k_o]}]``
stores ``mode_ncx_fraction_forward`` over the remaining axes. Each block
reduces its own values over the ``over`` axes into *partials* (min, max, sum,
count, counts of +1/−1/0) and writes them to its own chunk of
``<store>/_partials/``; when every block is done the driver combines the
partials (chunkwise, with dask) into the final variables. Blocks never share a
chunk, so shards and resumes need no coordination, and memory stays bounded by
the block size.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from .plan import STAT_PARTIALS, Plan, counted, partial_kinds
from .spec import Reduction, SweepSpec

__all__ = [
    "reduction_vars",
    "counted",
    "create_partials",
    "block_partials",
    "partial_kinds",
    "partial_name",
    "partial_region",
    "scale_partial",
    "finalize_reductions",
    "reduce_in_memory",
]

_NEEDS = STAT_PARTIALS
_MEANING = {
    "min": "minimum",
    "max": "maximum",
    "mean": "mean",
    "fraction_forward": "fraction of points in forward mode (+1)",
    "fraction_reverse": "fraction of points in reverse mode (−1)",
    "fraction_equilibrium": "fraction of points at equilibrium (0)",
    "fraction_depolarizing": "fraction of points where GABA depolarizes (+1)",
    "fraction_hyperpolarizing": "fraction of points where GABA hyperpolarizes (−1)",
}


def _kept(plan: Plan, r: Reduction):
    return [
        (i, d, n, c)
        for i, (d, n, c) in enumerate(zip(plan.dims, plan.shape, plan.block_shape, strict=True))
        if d not in r.over
    ]


def _over(plan: Plan, r: Reduction):
    return [i for i, d in enumerate(plan.dims) if d in r.over]


def _kinds(r: Reduction) -> tuple[str, ...]:
    return partial_kinds(r)


def reduction_vars(plan: Plan) -> dict[str, tuple[tuple, tuple, tuple, dict[str, Any]]]:
    """Final reduction variables: name -> (dims, shape, chunks, attrs).

    Each min, max or mean of a floating-point output has a companion
    ``<output>_<stat>_count``: the number of valid (finite) points the statistic
    summarises, so a summary over points without a value is never silent
    (0: no valid point, the statistic is NaN).
    """
    out = {}
    spec = plan.spec
    for r in spec.reduce:
        kept = _kept(plan, r)
        o = spec.registry.outputs[r.output]
        tail = spec.trailing_shape(r.output)  # e.g. time: kept whole
        layout = (
            (*(d for _, d, _, _ in kept), *spec.trailing_dims(r.output)),
            (*(n for _, _, n, _ in kept), *tail),
            (*(c for _, _, _, c in kept), *tail),
        )
        for s in r.stats:
            unit = o.unit if s in ("min", "max", "mean") else "1"
            over = ", ".join(r.over)
            out[f"{r.output}_{s}"] = (
                *layout,
                {
                    "units": unit,
                    "long_name": f"{o.long_name}: {_MEANING[s]} over {over}",
                    "reduction_of": r.output,
                    "statistic": s,
                    "over": list(r.over),
                },
            )
            if counted(spec, r, s):
                out[f"{r.output}_{s}_count"] = (
                    *layout,
                    {
                        "units": "1",
                        "long_name": f"{o.long_name}: number of valid (finite) points in the "
                        f"{_MEANING[s]} over {over}",
                        "count_of": f"{r.output}_{s}",
                        "over": list(r.over),
                    },
                )
    return out


def _partial_name(r: Reduction, kind: str) -> str:
    return f"{r.output}__{'-'.join(r.over)}__{kind}"


def partial_name(r: Reduction, kind: str) -> str:
    """Name of the ``_partials`` array of reduction ``r`` and partial ``kind``."""
    return _partial_name(r, kind)


def partial_region(plan: Plan, r: Reduction, block: int) -> tuple[slice, ...]:
    """Region of ``block``'s partials of ``r`` in its ``_partials`` arrays: one row of the
    leading block axis (the block's position along the reduced axes), then the block's
    region along the kept axes."""
    idx = plan.block_index(block)
    region_full = plan.block_slices(block)
    over = _over(plan, r)
    gb = [plan.grid_blocks[i] for i in over]
    ob = int(np.ravel_multi_index([idx[i] for i in over], gb)) if over else 0
    tail = tuple(slice(0, n) for n in plan.spec.trailing_shape(r.output))  # e.g. time, whole
    return (slice(ob, ob + 1), *(region_full[i] for i, _, _, _ in _kept(plan, r)), *tail)


def scale_partial(kind: str, x: np.ndarray, n: int) -> np.ndarray:
    """The partial ``kind`` of ``n`` identical copies of the points that gave ``x``
    (exact for counts, min and max; one rounding of ``sum * n``)."""
    if kind in ("min", "max") or n == 1:
        return x
    return x * float(n)


def _partial_layout(plan: Plan, r: Reduction):
    over_blocks = int(np.prod([plan.grid_blocks[i] for i in _over(plan, r)], dtype=np.int64))
    kept = _kept(plan, r)
    tail = plan.spec.trailing_shape(r.output)
    shape = (over_blocks, *(n for _, _, n, _ in kept), *tail)
    chunks = (1, *(c for _, _, _, c in kept), *tail)
    return shape, chunks


def create_partials(path: str | Path, plan: Plan) -> None:
    """Create the ``_partials`` group (one array per reduction and partial kind)."""
    if not plan.spec.reduce:
        return
    import zarr  # lazy: zarr takes ~0.3 s to import; `sweep plan` never needs it

    group = zarr.open_group(str(Path(path) / "_partials"), mode="w", zarr_format=3)
    for r in plan.spec.reduce:
        shape, chunks = _partial_layout(plan, r)
        for kind in _kinds(r):
            group.create_array(
                _partial_name(r, kind),
                shape=shape,
                chunks=chunks,
                dtype="float64",
                fill_value=np.nan,
            )


def block_partials(
    plan: Plan, block: int, values: dict[str, np.ndarray]
) -> dict[str, tuple[tuple[slice, ...], np.ndarray]]:
    """This block's partials: name -> (region in the partial array, values)."""
    out = {}
    for r in plan.spec.reduce:
        v = values[r.output]
        over = tuple(_over(plan, r))
        region = partial_region(plan, r, block)
        for kind in _kinds(r):
            if kind == "min":
                x = np.fmin.reduce(v, axis=over) if v.dtype.kind == "f" else v.min(axis=over)
            elif kind == "max":
                x = np.fmax.reduce(v, axis=over) if v.dtype.kind == "f" else v.max(axis=over)
            elif kind == "sum":
                x = np.nansum(v, axis=over, dtype=np.float64)
            elif kind == "count":
                ok = np.isfinite(v) if v.dtype.kind == "f" else np.ones(v.shape, bool)
                x = ok.sum(axis=over)
            elif kind == "pos":
                x = (v == 1).sum(axis=over)
            elif kind == "neg":
                x = (v == -1).sum(axis=over)
            else:
                x = (v == 0).sum(axis=over)
            out[_partial_name(r, kind)] = (region, np.asarray(x, dtype=np.float64)[None, ...])
    return out


#: Most bytes of partials a finalize reads at once (assumption: well within a driver's
#: memory, and large enough that a typical store is combined in one read per array).
FINALIZE_READ_BYTES = 64 * 2**20


def _combine_rows(arr: Any, region: tuple[slice, ...], kind: str) -> np.ndarray:
    """The partials of ``arr`` at ``region`` (kept axes) combined over its block rows.

    Rows are read in groups of at most :data:`FINALIZE_READ_BYTES` and combined in
    row order (sums added, ``fmin``/``fmax``), so the result depends only on the
    store's partials, never on threads or read sizes beyond that fixed order.
    """
    n = int(arr.shape[0])
    per_row = 8 * math.prod(s.stop - s.start for s in region)
    step = max(1, FINALIZE_READ_BYTES // max(per_row, 1))
    acc = None
    for lo in range(0, n, step):
        x = np.asarray(arr[(slice(lo, min(n, lo + step)), *region)], dtype=np.float64)
        if kind == "min":
            y = np.fmin.reduce(x, axis=0)
            acc = y if acc is None else np.fmin(acc, y)
        elif kind == "max":
            y = np.fmax.reduce(x, axis=0)
            acc = y if acc is None else np.fmax(acc, y)
        else:
            y = x.sum(axis=0)
            acc = y if acc is None else acc + y
    return acc


def _target_regions(shape: tuple[int, ...], chunks: tuple[int, ...], rows: int):
    """Regions of a final variable to combine one at a time: the whole array when its
    partials fit one read, else chunk by chunk (C order)."""
    if rows * 8 * math.prod(shape) <= FINALIZE_READ_BYTES or not shape:
        return [tuple(slice(0, n) for n in shape)]
    grid = [-(-n // c) for n, c in zip(shape, chunks, strict=True)]
    return [
        tuple(slice(i * c, min((i + 1) * c, n)) for i, c, n in zip(idx, chunks, shape, strict=True))
        for idx in np.ndindex(*grid)
    ]


def finalize_reductions(path: str | Path, plan: Plan) -> None:
    """Combine the partials of every block into the final reduction variables.

    Plain zarr and numpy, region by region (memory bounded by
    :data:`FINALIZE_READ_BYTES` plus one region of the results): no dask, whose
    import alone costs about a second.
    """
    if not plan.spec.reduce:
        return
    import zarr  # lazy: see create_partials

    root = zarr.open_group(str(path), mode="r+", zarr_format=3)
    parts = zarr.open_group(str(Path(path) / "_partials"), mode="r")
    for r in plan.spec.reduce:
        arrays = {k: parts[_partial_name(r, k)] for k in _kinds(r)}
        first = arrays[_kinds(r)[0]]
        kept_shape = tuple(first.shape[1:])
        kept_chunks = tuple(first.chunks[1:])
        for region in _target_regions(kept_shape, kept_chunks, int(first.shape[0])):
            p = {k: _combine_rows(a, region, k) for k, a in arrays.items()}
            count = p["count"]
            for s in r.stats:
                with np.errstate(invalid="ignore", divide="ignore"):
                    if s in ("min", "max"):
                        res = p[s]
                    elif s == "mean":
                        res = p["sum"] / count
                    else:
                        res = p[_NEEDS[s][0]] / count
                results = [(f"{r.output}_{s}", res)]
                if counted(plan.spec, r, s):
                    results.append((f"{r.output}_{s}_count", count))
                for name, x in results:
                    x = np.asarray(x, dtype=np.float64)
                    if x.ndim == 0:
                        root[name][...] = x
                    else:
                        root[name][region] = x


def reduce_in_memory(ds: Any, spec: SweepSpec) -> None:
    """Add the spec's reductions to an in-memory dataset (the store's statistics, at once)."""
    for r in spec.reduce:
        v = ds[r.output]
        for stat in r.stats:
            if stat in ("min", "max", "mean"):
                red = getattr(v, stat)(r.over)
            else:
                code = -1 if stat in ("fraction_reverse", "fraction_hyperpolarizing") else 1
                code = 0 if stat == "fraction_equilibrium" else code
                red = (v == code).mean(r.over)
            ds[f"{r.output}_{stat}"] = red.astype(np.float64)
            if counted(spec, r, stat):
                ds[f"{r.output}_{stat}_count"] = v.notnull().sum(r.over).astype(np.float64)
