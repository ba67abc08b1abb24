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

from pathlib import Path
from typing import Any

import numpy as np

from .plan import Plan
from .spec import Reduction, SweepSpec

__all__ = [
    "reduction_vars",
    "counted",
    "create_partials",
    "block_partials",
    "finalize_reductions",
    "reduce_in_memory",
]

_NEEDS = {
    "min": ("min", "count"),
    "max": ("max", "count"),
    "mean": ("sum", "count"),
    "fraction_forward": ("pos", "count"),
    "fraction_depolarizing": ("pos", "count"),
    "fraction_reverse": ("neg", "count"),
    "fraction_hyperpolarizing": ("neg", "count"),
    "fraction_equilibrium": ("zero", "count"),
}
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
    return tuple(dict.fromkeys(k for s in r.stats for k in _NEEDS[s]))


def counted(spec: SweepSpec, r: Reduction, stat: str) -> bool:
    """True when ``<output>_<stat>`` comes with ``<output>_<stat>_count``: every min, max
    and mean of a floating-point output (whose points can be NaN where a solver failed)."""
    return stat in ("min", "max", "mean") and spec.registry.outputs[r.output].dtype != "int8"


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
    idx = plan.block_index(block)
    region_full = plan.block_slices(block)
    for r in plan.spec.reduce:
        v = values[r.output]
        over = tuple(_over(plan, r))
        kept = _kept(plan, r)
        gb = [plan.grid_blocks[i] for i in over]
        ob = int(np.ravel_multi_index([idx[i] for i in over], gb)) if over else 0
        region = (slice(ob, ob + 1), *(region_full[i] for i, _, _, _ in kept))
        region += tuple(slice(0, n) for n in plan.spec.trailing_shape(r.output))
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


def finalize_reductions(path: str | Path, plan: Plan) -> None:
    """Combine the partials of every block into the final reduction variables."""
    if not plan.spec.reduce:
        return
    import dask.array as da  # lazy: dask.array takes ~0.5 s to import; only finalizing needs it
    import zarr  # lazy: see create_partials

    root = zarr.open_group(str(path), mode="r+", zarr_format=3)
    parts = zarr.open_group(str(Path(path) / "_partials"), mode="r")
    for r in plan.spec.reduce:
        p = {k: da.from_zarr(parts[_partial_name(r, k)]) for k in _kinds(r)}
        for s in r.stats:
            if s == "min":
                res = da.nanmin(p["min"], axis=0)
            elif s == "max":
                res = da.nanmax(p["max"], axis=0)
            elif s == "mean":
                res = p["sum"].sum(axis=0) / p["count"].sum(axis=0)
            else:
                key = _NEEDS[s][0]
                res = p[key].sum(axis=0) / p["count"].sum(axis=0)
            results = [(f"{r.output}_{s}", res)]
            if counted(plan.spec, r, s):
                results.append((f"{r.output}_{s}_count", p["count"].sum(axis=0)))
            for name, x in results:
                target = root[name]
                if x.ndim == 0:
                    target[...] = np.asarray(x.compute(scheduler="synchronous"))
                else:
                    da.store(x.rechunk(target.chunks), target, lock=False, scheduler="threads")


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
