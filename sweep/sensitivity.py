"""Sensitivity analysis: local elasticities by autodiff, global indices with SALib.

Two questions, one command (``sweep sensitivity``, contract: docs/config.md):

Local (``--local --wrt IN1,IN2``)
    At every point of the config's grid (or sampled design), the derivative of
    every requested output with respect to each chosen input, by JAX autodiff
    of the registry's kernels: forward mode (``jax.jacfwd``) for few inputs,
    reverse mode (``jax.jacrev``) for many (more than ``REVERSE_RATIO`` per
    output). Steady
    states are differentiated implicitly by their solvers (``custom_root`` /
    ``custom_jvp`` in :mod:`kernels.steady_state`), never through the solver
    iterations. The stored values are normalised elasticities:

    ``sens_<output>[wrt=x] = ∂Y/∂X`` with ``Y = ln y`` for concentration
    outputs (else ``y``) and ``X = ln x`` for concentration inputs (else ``x``).

    So ``sens_e_cl[wrt=cl_i] = ∂E_Cl/∂ln[Cl⁻]ᵢ = +RT/F`` (E_Cl = (RT/F) ln([Cl]ᵢ/[Cl]ₒ)
    for z = −1: ≈ +26.7 mV per e-fold at 310 K) and ``sens_cl_i_eq_kcc2[wrt=k_o] = 1``.
    Each dask block is one jitted call on a fixed block shape with one
    ``jax.vmap`` per axis (as ``sweep run``), written to its own aligned region.

Global (``--global sobol|morris``)
    Bounds from the axes' start/stop (``spacing: log`` means log-uniform: the
    sampler works in ln x), ``design:`` ignored. SALib's shape, each step a
    function: :func:`global_problem` → :func:`sample` (Saltelli/Sobol' or Morris
    trajectories) → :func:`evaluate` (chunked, jitted flat ``vmap`` over the
    sample rows, scheduled with dask) → :func:`analyze` (SALib, bootstrap
    confidence intervals). A model output that is not finite, or a steady state
    whose status is not "converged", stops the analysis with a count: SALib is
    never fed NaN or an unconverged value.

References
----------
Saltelli A. et al. (2010) Comput Phys Commun 181:259, doi:10.1016/j.cpc.2009.09.018
(Sobol' indices, Saltelli sampling); Morris M. D. (1991) Technometrics 33:161,
doi:10.1080/00401706.1991.10484804; Campolongo F., Cariboni J., Saltelli A. (2007)
Environ Model Softw 22:1509 (μ*); Herman J. & Usher W. (2017) J Open Source Softw
2:97, doi:10.21105/joss.00097 (SALib); Ishigami T. & Homma T. (1990) Proc ISUMA
p. 398 (Ishigami function).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import sys
import tempfile
import threading
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .spec import ConfigError, SweepSpec

__all__ = [
    "GLOBAL_METHODS",
    "GlobalProblem",
    "NonFiniteOutputError",
    "local_sensitivity",
    "global_problem",
    "sample",
    "evaluate",
    "evaluate_function",
    "check_finite",
    "analyze",
    "global_sensitivity",
    "ranked_table",
    "local_summary",
    "default_store",
    "write_dataset",
    "add_parser",
]

GLOBAL_METHODS = ("sobol", "morris")
JACOBIAN_MODES = ("auto", "forward", "reverse")

#: Points per local block when the config gives no ``chunks``, divided by the
#: number of inputs differentiated against: a few MiB of derivatives per block
#: (on 2 CPU cores blocks of 4k–64k points ran within 1.5× of each other).
LOCAL_BLOCK_POINTS = 2**16
#: ``auto`` switches to reverse mode above this many inputs per output. Under
#: ``vmap`` a forward pass costs about one primal evaluation per input and a
#: reverse pass 3–4 per output; measured on 2 CPU cores (chloride steady state,
#: 256² grid, 1–4 outputs, 8–51 inputs) the two stay within 1.5× of each other
#: and cross over near 4 inputs per output.
REVERSE_RATIO = 4
#: Sample rows per jitted call of the global evaluation (one compile per run).
GLOBAL_CHUNK = 2**16
#: SALib's bootstrap defaults.
NUM_RESAMPLES = 100
CONF_LEVEL = 0.95
MORRIS_LEVELS = 4

_STATUS_MEANINGS = {1: "no root in range", 2: "not converged", 3: "invalid input"}


class NonFiniteOutputError(ConfigError):
    """Model outputs that cannot be fed to SALib (non-finite or unconverged), with counts."""


# --- shared helpers -------------------------------------------------------------
def default_store(spec: SweepSpec) -> str:
    """``results/<name>.sensitivity.zarr``."""
    return f"results/{spec.name}.sensitivity.zarr"


def _requested_outputs(spec: SweepSpec) -> tuple[str, ...]:
    """The outputs the config asked for (its companions, status and residual, left out)."""
    raw = spec.raw.get("outputs") if spec.raw else None
    if isinstance(raw, str):
        raw = [raw]
    if isinstance(raw, list) and raw:
        return tuple(dict.fromkeys(o for o in raw if o in spec.outputs))
    companions = {c for o in spec.outputs for c in spec.registry.outputs[o].companions}
    return tuple(o for o in spec.outputs if o not in companions)


def _check_outputs(spec: SweepSpec, outputs: Sequence[str] | None) -> tuple[str, ...]:
    if outputs is None:
        return _requested_outputs(spec)
    if isinstance(outputs, str):
        outputs = [o for o in outputs.split(",") if o]
    if not outputs:
        raise ConfigError("--outputs is empty: name one or more outputs (see 'sweep list')")
    from kernels.registry import suggest

    for o in outputs:
        if o not in spec.registry.outputs:
            raise ConfigError(
                f"unknown output {o!r}{suggest(o, spec.registry.outputs)}; see 'sweep list'"
            )
    return tuple(dict.fromkeys(outputs))


def _parse_names(text: str | Sequence[str] | None) -> list[str]:
    if text is None:
        return []
    if isinstance(text, str):
        return [t.strip() for t in text.split(",") if t.strip()]
    return [str(t) for t in text]


def _scheduler_check(scheduler: str) -> None:
    from .execute import check_scheduler

    check_scheduler(scheduler)


def _run_tasks(fn: Callable[..., Any], arglist: Sequence[tuple], scheduler: str) -> list[Any]:
    """Run ``fn(*args)`` for every args tuple with a dask scheduler; results in order."""
    import dask

    _scheduler_check(scheduler)
    if not arglist:
        return []
    if scheduler in ("threads", "processes", "synchronous"):
        tasks = [
            dask.delayed(fn, pure=False)(*args, dask_key_name=f"sens-{i}")
            for i, args in enumerate(arglist)
        ]
        kwargs: dict[str, Any] = {"scheduler": scheduler}
        if scheduler == "processes":
            kwargs["num_workers"] = os.cpu_count()
        return list(dask.compute(*tasks, **kwargs))
    from .execute import client_for

    client, cluster = client_for(scheduler)
    try:
        futures = [client.submit(fn, *args, pure=False) for args in arglist]
        return client.gather(futures)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _job_text(job: Mapping[str, Any]) -> str:
    """A job as JSON text: the cache key, and opaque to dask (a dict would be walked
    for collections on every task, which costs more than a block of compute)."""
    # key order kept: the config's axes order is the dimension order
    return json.dumps(job, default=str)


def _store_attrs(spec: SweepSpec, title: str, extra: Mapping[str, Any]) -> dict[str, Any]:
    from .plan import make_plan
    from .store import store_attrs

    attrs = store_attrs(spec, make_plan(spec))
    for k in ("n_blocks", "block_shape"):
        attrs.pop(k, None)
    attrs["complete"] = True
    attrs["title"] = title
    attrs["sensitivity"] = json.dumps(dict(extra), sort_keys=True)
    return attrs


def _check_store_path(path: Path, overwrite: bool) -> None:
    from .store import check_store_target

    check_store_target(path, overwrite=overwrite)


def _consolidate(path: Path) -> None:
    import zarr

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # consolidated metadata is a zarr-python extension
        zarr.consolidate_metadata(str(path), zarr_format=3)


def _text(items: Sequence[str]) -> np.ndarray:
    """Labels as fixed-width numpy unicode: what xarray, pandas and matplotlib expect, and
    read back from zarr with the same dtype (zarr-python warns on writing that the type
    has no v3 specification yet; the warning is silenced where we write)."""
    return np.array([str(x) for x in items], dtype=np.str_)


def _replace(tmp: Path, path: Path) -> None:
    from .store import replace_store

    replace_store(tmp, path)


def write_dataset(ds: Any, path: str | Path, *, overwrite: bool = False) -> Path:
    """Write a small dataset as a zarr (format 3) store, atomically (temp dir + rename)."""
    path = Path(path)
    _check_store_path(path, overwrite)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # text coordinates: no zarr v3 spec for strings yet
            ds.to_zarr(tmp, mode="w", zarr_format=3, consolidated=False)
        _consolidate(tmp)
        _replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


# --- local: autodiff on the grid ------------------------------------------------
@dataclass(frozen=True)
class _LocalJob:
    """Everything a worker needs to compute local blocks (plain data: any scheduler)."""

    raw: dict[str, Any]
    wrt: tuple[str, ...]
    outputs: tuple[str, ...]
    jacobian: str  # "forward" | "reverse"
    block_shape: tuple[int, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "raw": self.raw,
            "wrt": list(self.wrt),
            "outputs": list(self.outputs),
            "jacobian": self.jacobian,
            "block_shape": list(self.block_shape),
        }


class _LocalRunner:
    """One compiled function per (job, process): derivatives and values of a block."""

    def __init__(self, job_text: str) -> None:
        import jax
        import jax.numpy as jnp

        from .execute import batch_over_axes, compute_shape, configure_jax
        from .plan import Plan
        from .spec import parse_config

        configure_jax()
        job = json.loads(job_text)
        spec = parse_config(job["raw"])
        self.plan = Plan(spec, tuple(job["block_shape"]))
        reg = spec.registry
        dt = spec.dtype
        wrt = tuple(job["wrt"])
        outs = tuple(job["outputs"])
        self.wrt, self.outs = wrt, outs
        self.values = reg.resolve_outputs(outs)
        values = self.values
        self.dtypes = {
            n: np.dtype("int8") if reg.outputs[n].dtype == "int8" else dt for n in values
        }
        vdt = self.dtypes
        fixed = {k: float(v) for k, v in spec.parameters.items()}
        axis_names = spec.axis_names
        in_log = np.array([reg.inputs[w].concentration for w in wrt])
        out_log = np.array([reg.outputs[o].concentration for o in outs])
        jac = jax.jacfwd if job["jacobian"] == "forward" else jax.jacrev

        def point(*xs):
            base = {k: jnp.asarray(v, dt) for k, v in fixed.items()}
            base.update(zip(axis_names, xs, strict=True))
            theta0 = jnp.stack([base[w] for w in wrt])

            def g(theta):
                p = dict(base)
                p.update({w: theta[i] for i, w in enumerate(wrt)})
                r = reg.evaluate(p, values)
                y = jnp.stack([jnp.asarray(r[o]).astype(dt) for o in outs])
                return y, tuple(jnp.asarray(r[n]).astype(vdt[n]) for n in values)

            dy, aux = jac(g, has_aux=True)(theta0)
            y = jnp.stack([aux[values.index(o)] for o in outs])
            # elasticities: ∂ln y = dy / y (concentration outputs); ∂ln x = x ∂x
            scale_in = jnp.where(in_log, theta0, jnp.ones_like(theta0))
            scale_out = jnp.where(out_log, 1.0 / y, jnp.ones_like(y))
            return dy * scale_out[:, None] * scale_in[None, :], aux

        self._fn = jax.jit(batch_over_axes(point, len(axis_names), sampled=bool(spec.design)))
        self.compute_shape = compute_shape(self.plan)

    def compute(self, block: int) -> tuple[tuple[slice, ...], dict[str, np.ndarray]]:
        """``sens_<o>`` (wrt first) and the outputs' values on ``block``'s region."""
        from .execute import block_inputs

        plan = self.plan
        xs, region = block_inputs(plan, block, self.compute_shape)
        dy, aux = self._fn(*xs)
        dy = np.asarray(dy)
        trim = tuple(slice(0, s.stop - s.start) for s in region)
        res: dict[str, np.ndarray] = {}
        for k, o in enumerate(self.outs):
            res[f"sens_{o}"] = np.moveaxis(dy[..., k, :], -1, 0)[(slice(None), *trim)]
        for n, v in zip(self.values, aux, strict=True):
            res[n] = np.asarray(v)[trim]
        return region, res


_LOCAL_RUNNERS: dict[str, _LocalRunner] = {}
_LOCAL_GROUPS: dict[str, Any] = {}
_LOCK = threading.Lock()


def _local_runner(job: str) -> _LocalRunner:
    with _LOCK:
        if job not in _LOCAL_RUNNERS:
            _LOCAL_RUNNERS[job] = _LocalRunner(job)
        return _LOCAL_RUNNERS[job]


def _local_block_task(job: str, block: int, path: str | None):
    """Compute one local block; write it to the store at ``path`` or return it.

    Module-level and fed plain data, so any dask scheduler can run it. Each
    block's region is aligned to whole zarr chunks, so concurrent writers never
    share a chunk.
    """
    runner = _local_runner(job)
    region, values = runner.compute(block)
    if path is None:
        return block, region, values
    import zarr

    with _LOCK:
        if path not in _LOCAL_GROUPS:
            _LOCAL_GROUPS[path] = zarr.open_group(path, mode="r+", zarr_format=3)
        group = _LOCAL_GROUPS[path]
    for name, v in values.items():
        where = (slice(None), *region) if name.startswith("sens_") else region
        group[name][where] = v
    return block, None, None


def _check_wrt(spec: SweepSpec, wrt: str | Sequence[str] | None) -> tuple[str, ...]:
    from kernels.registry import suggest

    names = _parse_names(wrt)
    if not names:
        names = list(spec.axis_names)
    seen = set()
    for w in names:
        if w not in spec.registry.inputs:
            raise ConfigError(
                f"--wrt: unknown input {w!r}{suggest(w, spec.registry.inputs)}; "
                "name axes or parameters (see 'sweep list')"
            )
        if w in seen:
            raise ConfigError(f"--wrt: {w!r} is given twice")
        seen.add(w)
    return tuple(names)


def _check_differentiable(spec: SweepSpec, outputs: Sequence[str]) -> None:
    for o in outputs:
        if spec.registry.outputs[o].dtype == "int8":
            raise ConfigError(
                f"output {o!r} is int8 (a sign/status code) and has no derivative: drop it from "
                "outputs or choose outputs with --outputs (e.g. the ΔG or driving force behind it)"
            )


def _local_attrs(spec: SweepSpec, o: str, wrt: Sequence[str]) -> dict[str, Any]:
    out = spec.registry.outputs[o]
    log_y = out.concentration
    y = f"ln {o}" if log_y else o
    unit = "" if log_y else out.unit
    return {
        "units": unit,
        "long_name": f"sensitivity of {out.long_name}",
        "description": (
            f"∂({y})/∂X for each input in 'wrt', X = ln x where wrt_scale is 'log' "
            "(concentration inputs), x itself otherwise; units: "
            f"{unit or 'dimensionless'} per wrt_units"
        ),
        "output": o,
        "output_scale": "log" if log_y else "linear",
        "output_units": out.unit,
    }


def local_sensitivity(
    spec: SweepSpec | str | Path | Mapping[str, Any],
    wrt: str | Sequence[str] | None = None,
    *,
    outputs: Sequence[str] | None = None,
    store: str | Path | None = None,
    overwrite: bool = False,
    jacobian: str = "auto",
    scheduler: str = "threads",
    block_points: int | None = None,
) -> Any:
    """Local sensitivities (normalised elasticities) at every point of a sweep's grid.

    Parameters
    ----------
    spec : SweepSpec, path or mapping
        The sweep; its grid (or sampled design) gives the points.
    wrt : str or sequence of str, optional
        Inputs to differentiate with respect to (comma-separated text or a
        list): axes or fixed parameters, in stored units. Default: the axes.
    outputs : sequence of str, optional
        Outputs to differentiate (default: the config's outputs). int8 outputs
        (modes, polarities, statuses) are refused.
    store : path, optional
        Write a zarr (format 3) store there and return it opened lazily;
        default: compute in memory.
    overwrite : bool
        Replace an existing store.
    jacobian : {"auto", "forward", "reverse"}
        Autodiff mode; ``auto`` is forward when ``len(wrt) <= REVERSE_RATIO * len(outputs)``.
    scheduler : str
        dask scheduler: ``threads``, ``processes``, ``synchronous``, ``local:N``,
        ``tcp://HOST:PORT``.
    block_points : int, optional
        Target points per block when the config gives no ``chunks``.

    Returns
    -------
    xarray.Dataset
        ``sens_<output>`` with dims (``wrt``, *axes) — ∂Y/∂X with Y = ln y for
        concentration outputs (``output_scale`` attribute) and X = ln x for
        concentration inputs (``wrt_scale`` coordinate); ``units`` is Y's unit
        (``""`` for ln y), ``wrt_units`` X's unit (``""`` for ln x). Also every
        differentiated output's value and its companions (status, residual),
        so failed steady states stay visible (their derivatives are NaN).

    Raises
    ------
    ConfigError
        Unknown ``wrt`` input or output, an int8 output, a bad scheduler.
    """
    import xarray as xr

    from .plan import make_plan
    from .spec import load_spec, parse_config
    from .store import coord_attrs, variable_attrs

    if isinstance(spec, Mapping):
        spec = parse_config(spec)
    elif not isinstance(spec, SweepSpec):
        spec = load_spec(spec)
    wrt_t = _check_wrt(spec, wrt)
    outs = _check_outputs(spec, outputs)
    _check_differentiable(spec, outs)
    if jacobian not in JACOBIAN_MODES:
        raise ConfigError(
            f"jacobian = {jacobian!r} is not allowed: must be one of {', '.join(JACOBIAN_MODES)}"
        )
    _scheduler_check(scheduler)
    if jacobian == "auto":
        jacobian = "forward" if len(wrt_t) <= REVERSE_RATIO * len(outs) else "reverse"
    reg = spec.registry
    values = reg.resolve_outputs(outs)
    vdtype = {n: np.dtype("int8") if reg.outputs[n].dtype == "int8" else spec.dtype for n in values}

    # block shape: the engine's chooser (which honours the config's chunks), aimed
    # at block_points points per block for the derivatives
    target = int(block_points or max(2**10, LOCAL_BLOCK_POINTS // len(wrt_t)))
    bpp = sum(spec.output_dtype(o).itemsize for o in spec.outputs)
    plan = make_plan(spec, block_bytes=max(1, target * bpp))
    job = _LocalJob(dict(spec.raw), wrt_t, outs, jacobian, plan.block_shape)
    jd = _job_text(job.as_dict())

    wrt_scale = ["log" if reg.inputs[w].concentration else "linear" for w in wrt_t]
    wrt_units = [
        "" if s == "log" else reg.inputs[w].unit for w, s in zip(wrt_t, wrt_scale, strict=True)
    ]
    coords: dict[str, Any] = {
        "wrt": ("wrt", _text(wrt_t), {"long_name": "input differentiated against"}),
        "wrt_units": (
            "wrt",
            _text(wrt_units),
            {"long_name": "unit of X (empty: dimensionless, X = ln x)"},
        ),
        "wrt_scale": ("wrt", _text(wrt_scale), {"long_name": "X = ln x (log) or x (linear)"}),
    }
    if spec.design:
        coords["sample"] = np.arange(spec.n_points)
        for a in spec.axis_names:
            coords[a] = ("sample", plan.coords[a], coord_attrs(spec, a))
    else:
        for a in spec.axes:
            coords[a.name] = (a.name, a.values, coord_attrs(spec, a.name))
    dims, shape = plan.dims, plan.shape
    nw = len(wrt_t)
    sens_attrs = {o: _local_attrs(spec, o, wrt_t) for o in outs}
    extra = {
        "kind": "local",
        "wrt": list(wrt_t),
        "outputs": list(outs),
        "jacobian": jacobian,
        "wrt_scale": dict(zip(wrt_t, wrt_scale, strict=True)),
    }
    attrs = _store_attrs(spec, f"{spec.name} local sensitivity", extra)
    attrs["block_shape"] = list(plan.block_shape)
    arglist = [(jd, b) for b in range(plan.n_blocks)]

    if store is None:
        data = {f"sens_{o}": np.full((nw, *shape), np.nan, spec.dtype) for o in outs}
        data.update({n: np.zeros(shape, vdtype[n]) for n in values})
        for _, region, vals in _run_tasks(
            _local_block_task, [(*a, None) for a in arglist], scheduler
        ):
            for name, v in vals.items():
                where = (slice(None), *region) if name.startswith("sens_") else region
                data[name][where] = v
        dvars = {f"sens_{o}": (("wrt", *dims), data[f"sens_{o}"], sens_attrs[o]) for o in outs}
        dvars.update({n: (dims, data[n], variable_attrs(spec, n)) for n in values})
        return xr.Dataset(dvars, coords=coords, attrs=attrs)

    import dask.array as da

    path = Path(store)
    _check_store_path(path, overwrite)
    path.parent.mkdir(parents=True, exist_ok=True)
    block = plan.block_shape
    dvars = {
        f"sens_{o}": (
            ("wrt", *dims),
            da.empty((nw, *shape), chunks=(nw, *block), dtype=spec.dtype),
            sens_attrs[o],
        )
        for o in outs
    }
    dvars.update(
        {
            n: (dims, da.empty(shape, chunks=block, dtype=vdtype[n]), variable_attrs(spec, n))
            for n in values
        }
    )
    template = xr.Dataset(dvars, coords=coords, attrs=attrs)
    encoding = {n: {"chunks": tuple(template[n].data.chunksize)} for n in dvars}
    for n in values:
        if vdtype[n] == np.int8:  # as the engine's stores: int8 on reading, -128 unwritten
            encoding[n].update({"_FillValue": None, "fill_value": np.int8(-128)})
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # text coordinates: no zarr v3 spec for strings yet
            template.to_zarr(
                tmp, mode="w", zarr_format=3, consolidated=False, compute=False, encoding=encoding
            )
        _run_tasks(_local_block_task, [(*a, str(tmp)) for a in arglist], scheduler)
        _LOCAL_GROUPS.pop(str(tmp), None)
        _consolidate(tmp)
        _replace(tmp, path)
    except BaseException:
        _LOCAL_GROUPS.pop(str(tmp), None)
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return xr.open_zarr(path)


def local_summary(ds: Any, max_points: int = 10_000_000) -> str:
    """Per output and input: the range of the local sensitivities over the grid (text).

    Skipped (one line) above ``max_points`` grid points, where reading the
    store back would cost more than computing it.
    """
    npts = int(np.prod([n for d, n in ds.sizes.items() if d != "wrt"], dtype=np.int64))
    if npts > max_points:
        return f"{npts:,} points: summary skipped (open the store with xarray)"
    lines = []
    wrt = [str(w) for w in ds["wrt"].values]
    units = [str(u) for u in ds["wrt_units"].values]
    scale = [str(s) for s in ds["wrt_scale"].values]
    try:
        order = json.loads(ds.attrs.get("sensitivity", "{}")).get("outputs", [])
    except (TypeError, ValueError):
        order = []
    names = [f"sens_{o}" for o in order if f"sens_{o}" in ds.data_vars]
    names += [str(v) for v in ds.data_vars if str(v).startswith("sens_") and v not in names]
    for name in names:
        v = ds[name]
        o = v.attrs.get("output", str(name)[5:])
        num = f"ln {o}" if v.attrs.get("output_scale") == "log" else o
        nu = v.attrs.get("units", "")
        lines.append(f"{name}: ∂({num})/∂X over {int(np.prod(v.shape[1:]))} points")
        lines.append(f"  {'X':<18} {'min':>12} {'median':>12} {'max':>12}  unit         non-finite")
        a = np.asarray(v.values, dtype=np.float64)
        for i, w in enumerate(wrt):
            x = f"ln {w}" if scale[i] == "log" else w
            unit = _ratio_unit(nu, units[i])
            row = a[i].ravel()
            ok = np.isfinite(row)
            bad = int(row.size - ok.sum())
            if ok.any():
                lo, med, hi = np.min(row[ok]), np.median(row[ok]), np.max(row[ok])
                lines.append(f"  {x:<18} {lo:12.5g} {med:12.5g} {hi:12.5g}  {unit:<12} {bad or ''}")
            else:
                lines.append(f"  {x:<18} {'all non-finite':>38}  {unit:<12} {bad}")
    return "\n".join(lines)


def _ratio_unit(num: str, den: str) -> str:
    if not num and not den:
        return "1"
    if not den:
        return num
    if any(c in den for c in "/* "):
        den = f"({den})"
    return f"{num or '1'}/{den}"


# --- global: SALib's sample → evaluate → analyze --------------------------------
@dataclass(frozen=True)
class GlobalProblem:
    """The inputs of a global analysis: names, physical bounds, log-uniform or uniform.

    SALib samples the *sampling space*: ``[ln lower, ln upper]`` for log-uniform
    inputs, ``[lower, upper]`` otherwise; :meth:`to_physical` maps rows back to
    stored units.
    """

    names: tuple[str, ...]
    lower: tuple[float, ...]
    upper: tuple[float, ...]
    log: tuple[bool, ...]
    units: tuple[str, ...]

    @property
    def num_vars(self) -> int:
        return len(self.names)

    def salib(self) -> dict[str, Any]:
        """SALib's problem dict (bounds in the sampling space)."""
        bounds = [
            [math.log(lo), math.log(hi)] if lg else [lo, hi]
            for lo, hi, lg in zip(self.lower, self.upper, self.log, strict=True)
        ]
        return {"num_vars": self.num_vars, "names": list(self.names), "bounds": bounds}

    def to_physical(self, X: np.ndarray) -> np.ndarray:
        """Sample rows in the sampling space → input values in stored units."""
        X = np.asarray(X, dtype=np.float64)
        out = X.copy()
        for j, lg in enumerate(self.log):
            if lg:
                out[:, j] = np.exp(X[:, j])
        return out


def global_problem(spec: SweepSpec) -> GlobalProblem:
    """The inputs of a global analysis from a config's axes (``design:`` is ignored).

    Raises
    ------
    ConfigError
        An axis with explicit ``values`` or an empty range (start = stop).
    """
    names, lo, hi, lg, units = [], [], [], [], []
    for a in spec.axes:
        if not a.bounded:
            raise ConfigError(
                f"axes.{a.name} has explicit values: global sensitivity needs a range "
                "(start and stop; spacing log for log-uniform)"
            )
        if a.start == a.stop:
            raise ConfigError(f"axes.{a.name}: start and stop are equal: empty range")
        names.append(a.name)
        lo.append(float(min(a.start, a.stop)))
        hi.append(float(max(a.start, a.stop)))
        lg.append(a.spacing == "log")
        units.append(a.unit)
    return GlobalProblem(tuple(names), tuple(lo), tuple(hi), tuple(lg), tuple(units))


def _as_salib(problem: GlobalProblem | Mapping[str, Any]) -> dict[str, Any]:
    return problem.salib() if isinstance(problem, GlobalProblem) else dict(problem)


def _check_n(method: str, n: Any) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise ConfigError(f"--n {n!r} is not allowed: an integer (base samples)")
    n = int(n)
    if method == "sobol" and (n < 2 or n & (n - 1)):
        raise ConfigError(
            f"--n {n} is not allowed: Sobol' base samples must be a power of 2 >= 2 "
            f"(e.g. {2 ** max(1, round(math.log2(max(n, 2))))})"
        )
    if method == "morris" and n < 2:
        raise ConfigError(f"--n {n} is not allowed: Morris needs >= 2 trajectories")
    return n


def _check_method(method: str) -> None:
    if method not in GLOBAL_METHODS:
        from kernels.registry import suggest

        raise ConfigError(
            f"--global {method!r} is not allowed{suggest(str(method), GLOBAL_METHODS)}; "
            f"allowed: {', '.join(GLOBAL_METHODS)}"
        )


def _check_seed(seed: Any) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ConfigError(f"--seed {seed!r} is not allowed: an integer >= 0")
    return int(seed)


def sample(
    problem: GlobalProblem | Mapping[str, Any],
    method: str = "sobol",
    n: int = 1024,
    *,
    seed: int = 0,
    second_order: bool = False,
    num_levels: int = MORRIS_LEVELS,
) -> np.ndarray:
    """Sample rows for ``method`` with SALib's samplers (in the sampling space).

    Parameters
    ----------
    problem : GlobalProblem or SALib problem dict
        The inputs and their bounds.
    method : {"sobol", "morris"}
        Saltelli's scheme for Sobol' indices (``SALib.sample.sobol``, scrambled
        Sobol' sequence) or Morris trajectories (``SALib.sample.morris``).
    n : int
        Base samples (Sobol': a power of 2; rows = n·(D + 2), or n·(2D + 2)
        with ``second_order``) or trajectories (Morris: rows = n·(D + 1)).
    seed : int
        Seed of the scrambling / trajectories (reproducible, 0 included).
    second_order : bool
        Sobol' only: add the rows for second-order indices.
    num_levels : int
        Morris grid levels.

    Returns
    -------
    numpy.ndarray
        Rows × inputs, float64; log-uniform inputs are in ln x (see
        :meth:`GlobalProblem.to_physical`).
    """
    _check_method(method)
    n = _check_n(method, n)
    seed = _check_seed(seed)
    prob = _as_salib(problem)
    if method == "sobol":
        from SALib.sample import sobol as sobol_sample

        return np.asarray(
            sobol_sample.sample(prob, n, calc_second_order=second_order, seed=seed),
            dtype=np.float64,
        )
    if second_order:
        raise ConfigError("--second-order applies to --global sobol, not to morris")
    from SALib.sample import morris as morris_sample

    return np.asarray(
        morris_sample.sample(prob, n, num_levels=num_levels, seed=seed), dtype=np.float64
    )


# evaluation ----------------------------------------------------------------------
_GLOBAL_FNS: dict[str, Any] = {}


def _spec_point_fn(key: str):
    """jit(vmap(point)) of a spec's outputs over sample rows (cached per process)."""
    with _LOCK:
        if key in _GLOBAL_FNS:
            return _GLOBAL_FNS[key]
        import jax
        import jax.numpy as jnp

        from .execute import configure_jax
        from .spec import parse_config

        configure_jax()
        job = json.loads(key)
        spec = parse_config(job["raw"])
        reg = spec.registry
        inputs = tuple(job["inputs"])
        names = tuple(job["names"])
        fixed = {k: float(v) for k, v in spec.parameters.items() if k not in inputs}
        dtypes = {n: spec.output_dtype(n) for n in names}

        def point(*xs):
            p = dict(fixed)
            p.update(zip(inputs, xs, strict=True))
            r = reg.evaluate(p, names)
            return tuple(jnp.asarray(r[n]).astype(dtypes[n]) for n in names)

        fn = jax.jit(jax.vmap(point))
        _GLOBAL_FNS[key] = fn
        return fn


def _spec_chunk_task(job: str, cols: list[np.ndarray]) -> list[np.ndarray]:
    """Evaluate one padded chunk of sample rows (module-level: any dask scheduler)."""
    fn = _spec_point_fn(job)
    return [np.asarray(o) for o in fn(*cols)]


def _chunks(n_rows: int, chunk: int) -> list[tuple[int, int]]:
    return [(i, min(i + chunk, n_rows)) for i in range(0, n_rows, chunk)]


def _padded_cols(X: np.ndarray, lo: int, hi: int, chunk: int, dtype) -> list[np.ndarray]:
    part = X[lo:hi]
    if hi - lo < chunk:  # pad with the last row: one block shape, one compile
        part = np.concatenate([part, np.repeat(part[-1:], chunk - (hi - lo), axis=0)])
    return [np.ascontiguousarray(part[:, j], dtype=dtype) for j in range(X.shape[1])]


def evaluate(
    spec: SweepSpec,
    problem: GlobalProblem,
    X: np.ndarray,
    *,
    outputs: Sequence[str] | None = None,
    scheduler: str = "threads",
    chunk: int = GLOBAL_CHUNK,
) -> dict[str, np.ndarray]:
    """Evaluate a sweep's outputs at sample rows: chunked jitted flat ``vmap`` on dask.

    Parameters
    ----------
    spec : SweepSpec
        The sweep (fixed parameters, precision, user transporters).
    problem : GlobalProblem
        From :func:`global_problem` (maps rows to stored units).
    X : numpy.ndarray
        Rows × inputs in the sampling space (from :func:`sample`).
    outputs : sequence of str, optional
        Default: the config's outputs.
    scheduler : str
        dask scheduler (``threads``, ``processes``, ``synchronous``, ``local:N``,
        ``tcp://HOST:PORT``).
    chunk : int
        Rows per jitted call (the last chunk is padded: one compile).

    Returns
    -------
    dict
        Output name → values per row (companions such as ``status_*`` included),
        in the sweep's precision (int8 for codes).
    """
    _scheduler_check(scheduler)
    outs = _check_outputs(spec, outputs)
    names = spec.registry.resolve_outputs(outs)
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != problem.num_vars or X.shape[0] == 0:
        raise ConfigError(
            f"sample rows have shape {X.shape}: expected (rows, {problem.num_vars}) for "
            f"inputs {', '.join(problem.names)}"
        )
    phys = problem.to_physical(X)
    for j, name in enumerate(problem.names):
        try:
            spec.registry.input(name).check(phys[:, j])
        except ValueError as exc:
            raise ConfigError(f"sampled {name}: {exc}") from None
    chunk = max(2, min(int(chunk), X.shape[0]))
    job = _job_text({"raw": dict(spec.raw), "inputs": list(problem.names), "names": list(names)})
    parts = _chunks(X.shape[0], chunk)
    res = _run_tasks(
        _spec_chunk_task,
        [(job, _padded_cols(phys, lo, hi, chunk, spec.dtype)) for lo, hi in parts],
        scheduler,
    )
    out = {}
    for k, n in enumerate(names):
        out[n] = np.concatenate([r[k][: hi - lo] for r, (lo, hi) in zip(res, parts, strict=True)])
    return out


def evaluate_function(
    fn: Callable[..., Any],
    X: np.ndarray,
    *,
    chunk: int = GLOBAL_CHUNK,
    scheduler: str = "threads",
    dtype: Any = np.float64,
) -> Any:
    """Evaluate a scalar JAX function at sample rows: ``jit(vmap(fn))`` over chunks on dask.

    Parameters
    ----------
    fn : callable
        ``fn(x1, ..., xD)`` of scalars, returning a scalar or a dict of scalars
        (pure JAX).
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
    import jax

    from .execute import configure_jax

    if scheduler not in ("threads", "synchronous"):
        raise ConfigError(
            f"--scheduler {scheduler!r} is not allowed for a Python function: threads or synchronous"
        )
    configure_jax()
    X = np.asarray(X)
    chunk = max(2, min(int(chunk), X.shape[0]))
    f = jax.jit(jax.vmap(fn))
    parts = _chunks(X.shape[0], chunk)

    def task(cols):
        return jax.tree_util.tree_map(np.asarray, f(*cols))

    res = _run_tasks(
        task, [(_padded_cols(X, lo, hi, chunk, dtype),) for lo, hi in parts], scheduler
    )
    return jax.tree_util.tree_map(
        lambda *a: np.concatenate([x[: hi - lo] for x, (lo, hi) in zip(a, parts, strict=True)]),
        *res,
    )


# analysis ------------------------------------------------------------------------
def check_finite(
    Y: Mapping[str, np.ndarray], status: Mapping[str, np.ndarray] | None = None
) -> None:
    """Raise :class:`NonFiniteOutputError` naming how many rows are unusable.

    A row is unusable when an output is not finite, or when its steady state's
    ``status`` (``status`` maps output → int8 codes) is not 0 (converged).
    """
    problems = []
    for name, y in Y.items():
        y = np.asarray(y)
        bad = ~np.isfinite(y) if y.dtype.kind == "f" else np.zeros(y.shape, bool)
        txt = ""
        if status and name in status:
            st = np.asarray(status[name])
            bad |= st != 0
            codes = {
                int(c): int(k)
                for c, k in zip(*np.unique(st[st != 0], return_counts=True), strict=True)
            }
            if codes:
                txt = (
                    " ("
                    + ", ".join(
                        f"{k} {_STATUS_MEANINGS.get(c, f'status {c}')}"
                        for c, k in sorted(codes.items())
                    )
                    + ")"
                )
        if bad.any():
            problems.append(f"{name} at {int(bad.sum()):,} of {y.size:,}{txt}")
    if problems:
        raise NonFiniteOutputError(
            "model outputs not finite or not converged: "
            + "; ".join(problems)
            + " sample points; SALib needs every value: narrow the axes' ranges (start/stop) to "
            "where the model is defined, or drop that output"
        )


def analyze(
    problem: GlobalProblem | Mapping[str, Any],
    X: np.ndarray,
    Y: Mapping[str, np.ndarray] | np.ndarray,
    method: str = "sobol",
    *,
    seed: int = 0,
    second_order: bool = False,
    num_resamples: int = NUM_RESAMPLES,
    conf_level: float = CONF_LEVEL,
    num_levels: int = MORRIS_LEVELS,
    output_units: Mapping[str, str] | None = None,
) -> Any:
    """SALib's analysis of sampled outputs, as an ``xarray.Dataset`` (dims output, input).

    Parameters
    ----------
    problem : GlobalProblem or SALib problem dict
        As given to :func:`sample`.
    X : numpy.ndarray
        The sample rows (sampling space), as returned by :func:`sample`.
    Y : mapping or numpy.ndarray
        Output name → values per row (an array is named ``y``). Every value
        must be finite (:class:`NonFiniteOutputError` otherwise).
    method : {"sobol", "morris"}
    seed : int
        Seed of the bootstrap resampling (reproducible, 0 included).
    second_order : bool
        Sobol' only; must match the sampling.
    num_resamples : int
        Bootstrap resamples of the confidence intervals.
    conf_level : float
        Confidence level of the ``*_conf`` half-widths, in (0, 1).
    num_levels : int
        Morris grid levels (must match the sampling).
    output_units : mapping, optional
        Output name → unit (``mu_star`` and ``sigma`` carry the output's unit).

    Returns
    -------
    xarray.Dataset
        Sobol': ``S1``, ``S1_conf``, ``ST``, ``ST_conf`` (output, input) and, with
        ``second_order``, ``S2``, ``S2_conf`` (output, input, input_2). Morris:
        ``mu``, ``mu_star``, ``mu_star_conf``, ``sigma`` (output, input), in the
        output's units per full range of the input (SALib's normalisation).
    """
    import xarray as xr

    _check_method(method)
    seed = _check_seed(seed)
    if not 0.0 < float(conf_level) < 1.0:
        raise ConfigError(f"conf_level = {conf_level!r} is not allowed: must be in (0, 1)")
    if isinstance(num_resamples, bool) or int(num_resamples) < 2:
        raise ConfigError(f"num_resamples = {num_resamples!r} is not allowed: an integer >= 2")
    prob = _as_salib(problem)
    names = list(prob["names"])
    Ys = {"y": np.asarray(Y)} if isinstance(Y, np.ndarray) else dict(Y)
    Ys = {k: np.asarray(v, dtype=np.float64).ravel() for k, v in Ys.items()}
    check_finite(Ys)
    X = np.asarray(X, dtype=np.float64)
    outs = list(Ys)
    D = len(names)
    if method == "sobol":
        from SALib.analyze import sobol as sobol_analyze

        keys = ["S1", "S1_conf", "ST", "ST_conf"]
        arr = {k: np.full((len(outs), D), np.nan) for k in keys}
        arr2 = {k: np.full((len(outs), D, D), np.nan) for k in ("S2", "S2_conf")}
        constant = []
        for i, o in enumerate(outs):
            y = Ys[o]
            if np.ptp(y) == 0:  # no variance: the indices are 0/0, left NaN
                constant.append(o)
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                si = sobol_analyze.analyze(
                    prob,
                    y,
                    calc_second_order=second_order,
                    num_resamples=int(num_resamples),
                    conf_level=float(conf_level),
                    # a Generator, not an int: SALib 1.6 treats seed 0 as "unseeded"
                    seed=np.random.default_rng(seed),
                )
            for k in keys:
                arr[k][i] = si[k]
            if second_order:
                for k in arr2:
                    arr2[k][i] = si[k]
        dvars = {k: (("output", "input"), v, _index_attrs(k, conf_level)) for k, v in arr.items()}
        if second_order:
            dvars.update(
                {
                    k: (("output", "input", "input_2"), v, _index_attrs(k, conf_level))
                    for k, v in arr2.items()
                }
            )
        extra_attrs = {"constant_outputs": constant} if constant else {}
    else:
        if second_order:
            raise ConfigError("--second-order applies to --global sobol, not to morris")
        from SALib.analyze import morris as morris_analyze

        keys = ["mu", "mu_star", "mu_star_conf", "sigma"]
        arr = {k: np.full((len(outs), D), np.nan) for k in keys}
        for i, o in enumerate(outs):
            si = morris_analyze.analyze(
                prob,
                X,
                Ys[o],
                num_resamples=int(num_resamples),
                conf_level=float(conf_level),
                num_levels=num_levels,
                seed=np.random.default_rng(seed),
            )
            for k in keys:
                arr[k][i] = np.asarray(si[k], dtype=np.float64)
        dvars = {k: (("output", "input"), v, _index_attrs(k, conf_level)) for k, v in arr.items()}
        extra_attrs = {}
    units = dict(output_units or {})
    coords: dict[str, Any] = {
        "output": ("output", _text(outs)),
        "output_units": ("output", _text([units.get(o, "") for o in outs])),
        "input": ("input", _text(names)),
    }
    if isinstance(problem, GlobalProblem):
        coords["input_units"] = ("input", _text(problem.units))
        coords["input_scale"] = ("input", _text(["log" if g else "linear" for g in problem.log]))
        coords["input_lower"] = ("input", np.array(problem.lower), {"long_name": "lower bound"})
        coords["input_upper"] = ("input", np.array(problem.upper), {"long_name": "upper bound"})
    if method == "sobol" and second_order:
        coords["input_2"] = ("input_2", _text(names))
    attrs = {
        "method": method,
        "n_evaluations": int(X.shape[0]),
        "seed": seed,
        "num_resamples": int(num_resamples),
        "conf_level": float(conf_level),
        "second_order": bool(second_order),
        **extra_attrs,
    }
    if method == "morris":
        attrs["num_levels"] = int(num_levels)
    return xr.Dataset(dvars, coords=coords, attrs=attrs)


_INDEX_MEANING = {
    "S1": "first-order Sobol' index (variance share of the input alone)",
    "ST": "total-order Sobol' index (variance share with all its interactions)",
    "S2": "second-order Sobol' index (variance share of the pair's interaction)",
    "mu": "mean elementary effect (output units per full input range)",
    "mu_star": "mean absolute elementary effect (output units per full input range)",
    "sigma": "standard deviation of the elementary effects (interactions, non-linearity)",
}


def _index_attrs(key: str, conf_level: float) -> dict[str, Any]:
    base = key.removesuffix("_conf")
    meaning = _INDEX_MEANING[base]
    if key.endswith("_conf"):
        return {
            "long_name": f"{base} confidence half-width",
            "description": f"{conf_level:.0%} bootstrap confidence half-width of {base}: {meaning}",
        }
    if base.startswith("S"):
        return {"long_name": base, "description": meaning, "units": ""}
    return {"long_name": base, "description": f"{meaning}; unit: the output's (output_units)"}


def global_sensitivity(
    spec: SweepSpec | str | Path | Mapping[str, Any],
    method: str = "sobol",
    n: int = 1024,
    seed: int = 0,
    *,
    second_order: bool = False,
    outputs: Sequence[str] | None = None,
    scheduler: str = "threads",
    num_resamples: int = NUM_RESAMPLES,
    conf_level: float = CONF_LEVEL,
    num_levels: int = MORRIS_LEVELS,
    store: str | Path | None = None,
    overwrite: bool = False,
    samples_store: str | Path | None = None,
    resume: bool = False,
    progress: bool | None = None,
) -> Any:
    """Global sensitivity indices of a sweep's outputs over its axes' ranges.

    :func:`global_problem` → :func:`sample` → :func:`evaluate` → :func:`analyze`.

    Parameters
    ----------
    spec : SweepSpec, path or mapping
        The sweep; each axis is an input, uniform on [start, stop] (log-uniform
        for ``spacing: log``); the other inputs stay at their parameter values.
        ``design:`` is ignored.
    method : {"sobol", "morris"}
    n : int
        Base samples (Sobol', a power of 2) or trajectories (Morris).
    seed : int
        Seed of the sampler and of the bootstrap.
    second_order : bool
        Sobol' second-order indices ``S2`` (doubles the evaluations).
    outputs : sequence of str, optional
        Default: the config's outputs (companions left out).
    scheduler : str
        dask scheduler of the evaluation.
    num_resamples, conf_level : int, float
        Bootstrap confidence intervals.
    num_levels : int
        Morris grid levels.
    store : path, optional
        Also write the dataset as a zarr (format 3) store.
    overwrite : bool
        Replace an existing store (and samples store).
    samples_store : path, optional
        Evaluate through the engine into this sweep store (a ``saltelli`` or
        ``morris`` design: blocks, manifest, any scheduler), so an interrupted
        analysis can be completed with ``resume``; the indices are then
        computed from the stored outputs. Default with ``resume``:
        ``results/<name>.<method>-samples.zarr``.
    resume : bool
        Complete an interrupted samples store instead of starting again.
    progress : bool, optional
        Progress bar of the samples run (default: only on a terminal).

    Returns
    -------
    xarray.Dataset
        As :func:`analyze`, with the resolved config in the attributes.

    Raises
    ------
    NonFiniteOutputError
        Some model outputs are not finite or their steady state did not converge
        (the message counts them).
    """
    from .spec import load_spec, parse_config

    if isinstance(spec, Mapping):
        spec = parse_config(spec)
    elif not isinstance(spec, SweepSpec):
        spec = load_spec(spec)
    _check_method(method)
    n = _check_n(method, n)
    seed = _check_seed(seed)
    if second_order and method != "sobol":
        raise ConfigError("--second-order applies to --global sobol, not to morris")
    outs = _check_outputs(spec, outputs)
    if store is not None:
        _check_store_path(Path(store), overwrite)
    problem = global_problem(spec)
    X = sample(problem, method, n, seed=seed, second_order=second_order, num_levels=num_levels)
    if samples_store is not None or resume:
        values = _evaluate_resumable(
            spec,
            outs,
            method,
            n,
            seed,
            second_order,
            num_levels,
            samples_store,
            resume=resume,
            overwrite=overwrite,
            scheduler=scheduler,
            progress=progress,
        )
    else:
        values = evaluate(spec, problem, X, outputs=outs, scheduler=scheduler)
    reg = spec.registry
    status = {}
    for o in outs:
        st = [c for c in reg.outputs[o].companions if c.startswith("status_")]
        if st:
            status[o] = values[st[0]]
    check_finite({o: values[o] for o in outs}, status)
    ds = analyze(
        problem,
        X,
        {o: values[o] for o in outs},
        method,
        seed=seed,
        second_order=second_order,
        num_resamples=num_resamples,
        conf_level=conf_level,
        num_levels=num_levels,
        output_units={o: reg.outputs[o].unit for o in outs},
    )
    extra = {
        "kind": "global",
        "method": method,
        "n": n,
        "seed": seed,
        "second_order": second_order,
        "outputs": list(outs),
        "inputs": list(problem.names),
        "log_uniform": [bool(g) for g in problem.log],
        "num_resamples": int(num_resamples),
        "conf_level": float(conf_level),
    }
    attrs = _store_attrs(spec, f"{spec.name} {method} sensitivity", extra)
    attrs.update({k: (json.dumps(v) if isinstance(v, list) else v) for k, v in ds.attrs.items()})
    attrs["n"] = n
    ds.attrs = attrs
    if store is not None:
        write_dataset(ds, store, overwrite=overwrite)
    return ds


def default_samples_store(spec: SweepSpec, method: str) -> str:
    """``results/<name>.<method>-samples.zarr``: where resumable global runs keep outputs."""
    return str(Path(spec.store).with_name(f"{spec.name}.{method}-samples.zarr"))


def samples_config(
    spec: SweepSpec,
    outputs: Sequence[str],
    method: str,
    n: int,
    seed: int,
    second_order: bool,
    num_levels: int,
    store: str | Path,
) -> dict[str, Any]:
    """The sweep config whose design is exactly this analysis' sample rows."""
    raw = {
        k: v
        for k, v in spec.raw.items()
        if k not in ("design", "reduce", "keep_full", "chunks", "store", "outputs", "axes")
    }
    raw["axes"] = {}
    for name, body in spec.raw["axes"].items():
        if not isinstance(body, Mapping) or "values" in body:
            raise ConfigError(
                f"axes.{name} has explicit values: global sensitivity needs a range "
                "(start and stop; spacing log for log-uniform)"
            )
        raw["axes"][name] = {k: v for k, v in body.items() if k != "num"}
    raw["outputs"] = list(outputs)
    raw["store"] = str(store)
    raw["chunks"] = {"sample": int(GLOBAL_CHUNK)}
    raw["design"] = {
        "method": "saltelli" if method == "sobol" else "morris",
        "n": int(n),
        "seed": int(seed),
        "second_order": bool(second_order),
        "levels": int(num_levels),
    }
    return raw


def _evaluate_resumable(
    spec: SweepSpec,
    outs: Sequence[str],
    method: str,
    n: int,
    seed: int,
    second_order: bool,
    num_levels: int,
    samples_store: str | Path | None,
    *,
    resume: bool,
    overwrite: bool,
    scheduler: str,
    progress: bool | None,
) -> dict[str, np.ndarray]:
    """Run the sample rows as a sweep store (resumable), then read the outputs back."""
    import zarr

    from .driver import run
    from .spec import parse_config

    path = Path(samples_store or default_samples_store(spec, method))
    sspec = parse_config(
        samples_config(spec, outs, method, n, seed, second_order, num_levels, path)
    )
    res = run(
        sspec,
        resume=resume,
        overwrite=overwrite and not resume,
        scheduler=scheduler,
        progress=progress,
    )
    if not res.complete:
        raise ConfigError(
            f"{len(res.failed)} block(s) of the samples store {str(path)!r} failed: "
            "complete it with --resume"
        )
    group = zarr.open_group(str(path), mode="r")
    return {name: np.asarray(group[name][...]) for name in sspec.outputs}


def ranked_table(ds: Any) -> str:
    """Per output, the inputs ranked by ST (Sobol') or μ* (Morris), as plain text."""
    method = ds.attrs.get("method", "sobol" if "ST" in ds else "morris")
    conf = float(ds.attrs.get("conf_level", CONF_LEVEL))
    scale = [str(s) for s in ds["input_scale"].values] if "input_scale" in ds.coords else None
    n_eval = ds.attrs.get("n_evaluations")
    evals = f", {int(n_eval):,} model evaluations" if n_eval is not None else ""
    lines = [f"{method} indices{evals}; ± = {conf:.0%} bootstrap half-width"]
    inputs = [str(x) for x in ds["input"].values]
    for i, o in enumerate(str(x) for x in ds["output"].values):
        unit = str(ds["output_units"].values[i]) if "output_units" in ds.coords else ""
        lines.append("")
        lines.append(f"{o}" + (f" ({unit})" if unit else ""))
        if method == "sobol":
            st = ds["ST"].values[i]
            if not np.isfinite(st).any():
                lines.append("  constant over the ranges: indices undefined")
                continue
            order = np.argsort(-np.nan_to_num(st, nan=-np.inf), kind="stable")
            lines.append(f"  {'rank':<5} {'input':<16} {'scale':<7} {'S1':>17} {'ST':>17}")
            for r, j in enumerate(order, 1):
                s1 = f"{ds['S1'].values[i, j]:.3f} ± {ds['S1_conf'].values[i, j]:.3f}"
                stt = f"{st[j]:.3f} ± {ds['ST_conf'].values[i, j]:.3f}"
                sc = scale[j] if scale else ""
                lines.append(f"  {r:<5} {inputs[j]:<16} {sc:<7} {s1:>17} {stt:>17}")
        else:
            ms = ds["mu_star"].values[i]
            order = np.argsort(-np.nan_to_num(ms, nan=-np.inf), kind="stable")
            lines.append(
                f"  {'rank':<5} {'input':<16} {'scale':<7} {'mu_star':>22} {'sigma':>11} {'mu':>11}"
            )
            for r, j in enumerate(order, 1):
                m = f"{ms[j]:.4g} ± {ds['mu_star_conf'].values[i, j]:.2g}"
                sc = scale[j] if scale else ""
                lines.append(
                    f"  {r:<5} {inputs[j]:<16} {sc:<7} {m:>22} {ds['sigma'].values[i, j]:>11.4g} "
                    f"{ds['mu'].values[i, j]:>11.4g}"
                )
    return "\n".join(lines)


# --- CLI ------------------------------------------------------------------------
def add_parser(sub) -> None:
    """Add ``sweep sensitivity`` to the CLI's sub-parsers."""
    p = sub.add_parser(
        "sensitivity",
        help="local (autodiff) or global (Sobol'/Morris) sensitivity of a sweep's outputs",
        description=(
            "--local: at every grid point, d(output)/d(input) by JAX autodiff (implicit through "
            "steady states), as elasticities: d ln y for concentration outputs, d ln x for "
            "concentration inputs, raw otherwise. --global sobol|morris: SALib indices over the "
            "axes' ranges (spacing log = log-uniform; design: is ignored), with bootstrap "
            "confidence intervals, printed as a ranked table."
        ),
    )
    p.add_argument("config", help="YAML config (its axes give the grid or the ranges)")
    p.add_argument("--local", action="store_true", help="local derivatives on the grid")
    p.add_argument(
        "--wrt", metavar="IN1,IN2", help="--local: inputs to differentiate by (default: the axes)"
    )
    p.add_argument(
        "--global",
        dest="method",
        metavar="sobol|morris",
        help="global indices with SALib: sobol (S1, ST[, S2]) or morris (mu_star, sigma)",
    )
    p.add_argument(
        "--n",
        metavar="N",
        help="--global: base samples (sobol, a power of 2) or trajectories (morris); default 1024",
    )
    p.add_argument(
        "--seed", metavar="S", help="--global: seed of sampling and bootstrap (default 0)"
    )
    p.add_argument(
        "--second-order", action="store_true", help="--global sobol: also S2 (more evaluations)"
    )
    p.add_argument(
        "--resamples",
        metavar="R",
        help=f"--global: bootstrap resamples of the confidence intervals (default {NUM_RESAMPLES})",
    )
    p.add_argument(
        "--outputs", metavar="O1,O2", help="outputs to analyse (default: the config's outputs)"
    )
    p.add_argument("--store", help="store path (default results/<name>.sensitivity.zarr)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing store")
    p.add_argument(
        "--samples-store",
        metavar="PATH",
        help="--global: evaluate through a resumable sweep store at PATH "
        "(default with --resume: results/<name>.<method>-samples.zarr)",
    )
    p.add_argument(
        "--resume",
        action="store_true",
        help="--global: complete an interrupted samples store, then analyse",
    )
    p.add_argument(
        "--scheduler",
        default="threads",
        help="threads (default) | processes | synchronous | local:N | tcp://HOST:PORT",
    )
    p.set_defaults(func=cmd_sensitivity)


def _int_flag(flag: str, text: str | None, default: int) -> int:
    if text is None:
        return default
    try:
        return int(str(text))
    except ValueError:
        raise ConfigError(f"{flag} {text!r} is not allowed: an integer") from None


def cmd_sensitivity(args) -> int:
    """``sweep sensitivity``: validate, compute, store, print; returns the exit code."""
    from .spec import load_spec
    from .store import StoreError

    if args.local == (args.method is not None):
        raise ConfigError(
            "give exactly one of --local (derivatives on the grid) or --global sobol|morris "
            "(indices over the axes' ranges)"
        )
    outputs = _parse_names(args.outputs) if args.outputs is not None else None
    if args.local:
        for flag, given in (
            ("--n", args.n is not None),
            ("--seed", args.seed is not None),
            ("--second-order", args.second_order),
            ("--resamples", args.resamples is not None),
            ("--samples-store", args.samples_store is not None),
            ("--resume", args.resume),
        ):
            if given:
                raise ConfigError(f"{flag} applies to --global, not to --local")
    else:
        _check_method(args.method)
        if args.wrt is not None:
            raise ConfigError("--wrt applies to --local; --global uses every axis as an input")
    spec = load_spec(args.config)
    path = Path(args.store or default_store(spec))
    if path.exists() and not (args.overwrite or args.resume):
        raise StoreError(f"store {str(path)!r} already exists: use --overwrite to replace it")
    _scheduler_check(args.scheduler)
    if args.local:
        ds = local_sensitivity(
            spec,
            args.wrt,
            outputs=outputs,
            store=path,
            overwrite=args.overwrite,
            scheduler=args.scheduler,
        )
        print(local_summary(ds))
    else:
        n = _int_flag("--n", args.n, 1024)
        seed = _int_flag("--seed", args.seed, 0)
        resamples = _int_flag("--resamples", args.resamples, NUM_RESAMPLES)
        ds = global_sensitivity(
            spec,
            args.method,
            n,
            seed,
            second_order=args.second_order,
            outputs=outputs,
            scheduler=args.scheduler,
            num_resamples=resamples,
            store=path,
            overwrite=args.overwrite or args.resume,
            samples_store=args.samples_store,
            resume=args.resume,
        )
        print(ranked_table(ds))
    print(f"store     {path}: open with xarray.open_zarr({str(path)!r})")
    sys.stdout.flush()
    return 0
