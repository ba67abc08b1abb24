"""Local sensitivity: elasticities by JAX autodiff at every point of a sweep.

At every point of the config's grid (or sampled design), the derivative of
every requested output with respect to each chosen input, by JAX autodiff of
the registry's kernels: forward mode (``jax.jacfwd``) for few inputs, reverse
mode (``jax.jacrev``) for many (more than ``REVERSE_RATIO`` per output).
Steady states are differentiated implicitly by their solvers (``custom_root``
/ ``custom_jvp`` in :mod:`kernels.steady_state`), never through the solver
iterations. The stored values are normalised elasticities:

``sens_<output>[wrt=x] = ∂Y/∂X`` with ``Y = ln y`` for concentration outputs
(else ``y``) and ``X = ln x`` for concentration inputs (else ``x``).

So ``sens_e_cl[wrt=cl_i] = ∂E_Cl/∂ln[Cl⁻]ᵢ = +RT/F`` (E_Cl = (RT/F) ln([Cl]ᵢ/[Cl]ₒ)
for z = −1: ≈ +26.7 mV per e-fold at 310 K) and ``sens_cl_i_eq_kcc2[wrt=k_o] = 1``.
The engine does the rest: the point function (:func:`sweep.batching.point_function`)
differentiated, batched and blocked as ``sweep run`` (:class:`sweep.execute.BlockRunner`),
dispatched on any dask scheduler, written to its own aligned region of a store
built atomically (:func:`sweep.store.write_dataset`).

References
----------
Griewank A. & Walther A. (2008) *Evaluating Derivatives*, 2nd ed., SIAM
(forward and reverse mode); Bradbury J. et al. (2018) JAX,
http://github.com/google/jax.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from kernels.registry import suggest
from kernels.solvers import NOT_WRITTEN

from ..batching import point_function
from ..execute import BlockRunner
from ..plan import Plan, make_plan
from ..schedulers import check_scheduler, dispatch
from ..spec import ConfigError, SweepSpec, spec_from_canonical
from ..store import RegionWriter, coord_attrs, result_attrs, variable_attrs, write_dataset
from ..units import derivative_unit
from .common import as_spec, check_outputs, parse_names, text_coord
from .common import sensitivity_store as default_store

__all__ = ["local_sensitivity", "split_wrt", "default_store", "JACOBIAN_MODES", "REVERSE_RATIO"]

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


class _LocalRunner(BlockRunner):
    """The engine's block runner with the differentiated point function."""

    def __init__(self, job_text: str) -> None:
        job = json.loads(job_text)
        spec = spec_from_canonical(job["spec"])
        plan = Plan(spec, tuple(job["block_shape"]))
        reg = spec.registry
        dt = spec.dtype
        wrt = tuple(job["wrt"])
        outs = tuple(job["outputs"])
        self.wrt, self.outs = wrt, outs
        self.values = reg.resolve_outputs(outs)
        values = self.values
        vdt = {n: spec.output_dtype(n) for n in values}
        fixed = {k: float(v) for k, v in spec.parameters.items()}
        axis_names = spec.axis_names
        in_log = np.array([reg.inputs[w].concentration for w in wrt])
        out_log = np.array([reg.outputs[o].concentration for o in outs])
        jac = jax.jacfwd if job["jacobian"] == "forward" else jax.jacrev
        at = [values.index(o) for o in outs]

        def point(*xs):
            base = {k: jnp.asarray(v, dt) for k, v in fixed.items()}
            base.update(zip(axis_names, xs, strict=True))
            theta0 = jnp.stack([base[w] for w in wrt])
            at_theta = point_function(reg, base, wrt, values, vdt)

            def g(theta):
                aux = at_theta(*(theta[i] for i in range(len(wrt))))
                return jnp.stack([aux[i] for i in at]), aux

            dy, aux = jac(g, has_aux=True)(theta0)
            y = jnp.stack([aux[i] for i in at])
            # elasticities: ∂ln y = dy / y (concentration outputs); ∂ln x = x ∂x
            scale_in = jnp.where(in_log, theta0, jnp.ones_like(theta0))
            scale_out = jnp.where(out_log, 1.0 / y, jnp.ones_like(y))
            return dy * scale_out[:, None] * scale_in[None, :], aux

        super().__init__(plan, point)

    def compute(self, block: int) -> tuple[tuple[slice, ...], dict[str, np.ndarray]]:
        """``sens_<o>`` (wrt first) and the outputs' values on ``block``'s region."""
        region, (dy, aux) = self.compute_raw(block)
        res: dict[str, np.ndarray] = {}
        for k, o in enumerate(self.outs):
            res[f"sens_{o}"] = np.moveaxis(dy[..., k, :], -1, 0)
        for n, v in zip(self.values, aux, strict=True):
            res[n] = v
        return region, res


_RUNNERS: dict[str, _LocalRunner] = {}
_WRITERS: dict[str, RegionWriter] = {}
_LOCK = threading.Lock()


def _local_block_task(job: str, block: int, path: str | None):
    """Compute one local block; write it to the store at ``path`` or return it.

    Module-level and fed plain data (the spec as canonical text), so any dask
    scheduler can run it. Each block's region is aligned to whole zarr chunks,
    so concurrent writers never share a chunk.
    """
    with _LOCK:
        if job not in _RUNNERS:
            _RUNNERS[job] = _LocalRunner(job)
        runner = _RUNNERS[job]
    region, values = runner.compute(block)
    if path is None:
        return block, region, values
    with _LOCK:
        if path not in _WRITERS:
            _WRITERS[path] = RegionWriter(path)
        writer = _WRITERS[path]
    writer.write(
        {
            name: ((slice(None), *region) if name.startswith("sens_") else region, v)
            for name, v in values.items()
        }
    )
    return block, None, None


def _check_wrt(spec: SweepSpec, wrt: str | Sequence[str] | None) -> tuple[str, ...]:
    names = parse_names(wrt)
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
    """Attributes of ``sens_<o>``: ``units`` only where every derivative along ``wrt``
    has that unit (a stacked variable has one ``units``: a mixed stack has none, so
    pint-xarray and plots never read a wrong one); ``units_by_wrt`` always."""
    out = spec.registry.outputs[o]
    log_y = out.concentration
    y = f"ln {o}" if log_y else o
    unit = "" if log_y else out.unit
    by_wrt = {
        w: derivative_unit(
            unit, "" if spec.registry.inputs[w].concentration else spec.registry.inputs[w].unit
        )
        for w in wrt
    }
    one = set(by_wrt.values())
    attrs: dict[str, Any] = {}
    if len(one) == 1:
        attrs["units"] = one.pop()
    attrs.update(
        {
            "long_name": f"sensitivity of {out.long_name}",
            "description": (
                f"∂({y})/∂X for each input in 'wrt', X = ln x where wrt_scale is 'log' "
                "(concentration inputs), x itself otherwise; each derivative's unit is "
                "in units_by_wrt"
                + ("" if "units" in attrs else " (they differ: no single 'units')")
            ),
            "output": o,
            "output_scale": "log" if log_y else "linear",
            "output_units": out.unit,
            # each derivative's own unit (sweep.units.derivative selects one with it)
            "units_by_wrt": by_wrt,
        }
    )
    return attrs


def split_wrt(ds: Any) -> Any:
    """A local-sensitivity dataset with one variable per derivative, each with its ``units``.

    ``sens_<output>`` (dims ``wrt``, *axes) becomes ``sens_<output>__<wrt>``
    (dims *axes), with ``units`` the derivative's own (``units_by_wrt``) and
    ``long_name`` ∂Y/∂X, so ``ds.pint.quantify()`` (pint-xarray), cf-xarray and
    plots read every derivative's unit; the other variables are kept as they are.

    Parameters
    ----------
    ds : xarray.Dataset
        As returned by :func:`local_sensitivity` (or opened from its store).

    Returns
    -------
    xarray.Dataset
        Without the ``wrt`` dimension on the derivatives.
    """
    from ..units import derivative

    out = ds.drop_vars([v for v in ds.data_vars if "wrt" in ds[v].dims])
    out = out.drop_vars([c for c in out.coords if "wrt" in out[c].dims])
    for name in ds.data_vars:
        da = ds[name]
        if "wrt" not in da.dims or "units_by_wrt" not in da.attrs:
            continue
        for w in [str(x) for x in da["wrt"].values]:
            one = derivative(da, w).drop_vars([c for c in da.coords if "wrt" in da[c].dims])
            one.attrs.pop("units_by_wrt", None)
            one.attrs["wrt"] = w
            out[f"{name}__{w}"] = one
    return out


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
        Autodiff mode; ``auto`` is forward when ``len(wrt) <= REVERSE_RATIO * len(outputs)``,
        and always reverse for a ``timecourse`` sweep (the integrator's adjoint).
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
        concentration inputs (``wrt_scale`` coordinate); ``wrt_units`` is X's
        unit (``""`` for ln x) and ``units_by_wrt`` each derivative's unit;
        ``units`` is set only when all derivatives share one (see
        :func:`split_wrt` for one variable per derivative). Also every
        differentiated output's value and its companions (status, residual),
        so failed steady states stay visible (their derivatives are NaN).

    Raises
    ------
    ConfigError
        Unknown ``wrt`` input or output, an int8 output, a bad scheduler.
    """
    import xarray as xr  # lazy: xarray takes ~1 s to import; `sweep list` never needs it

    spec = as_spec(spec)
    wrt_t = _check_wrt(spec, wrt)
    outs = check_outputs(spec, outputs)
    _check_differentiable(spec, outs)
    if jacobian not in JACOBIAN_MODES:
        raise ConfigError(
            f"jacobian = {jacobian!r} is not allowed: must be one of {', '.join(JACOBIAN_MODES)}"
        )
    check_scheduler(scheduler)
    if spec.timecourse is not None:
        # diffrax differentiates its integrations in reverse mode only (checkpointed
        # adjoint, a custom_vjp): a time-course sweep's derivatives are jacrev's
        if jacobian == "forward":
            raise ConfigError(
                "jacobian = 'forward' is not allowed for a timecourse sweep: its "
                "integrations are differentiated in reverse mode (use 'auto' or 'reverse')"
            )
        jacobian = "reverse"
    if jacobian == "auto":
        jacobian = "forward" if len(wrt_t) <= REVERSE_RATIO * len(outs) else "reverse"
    reg = spec.registry
    values = reg.resolve_outputs(outs)
    vdtype = {n: spec.output_dtype(n) for n in values}

    # block shape: the engine's chooser (which honours the config's chunks), aimed
    # at block_points points per block for the derivatives
    target = int(block_points or max(2**10, LOCAL_BLOCK_POINTS // len(wrt_t)))
    bpp = sum(spec.output_dtype(o).itemsize for o in spec.outputs)
    plan = make_plan(spec, block_bytes=max(1, target * bpp))
    # a job as JSON text: the cache key, and opaque to dask (a dict would be
    # walked for collections on every task, which costs more than a block)
    job = json.dumps(
        {
            "spec": spec.canonical,
            "wrt": list(wrt_t),
            "outputs": list(outs),
            "jacobian": jacobian,
            "block_shape": list(plan.block_shape),
        }
    )

    wrt_scale = ["log" if reg.inputs[w].concentration else "linear" for w in wrt_t]
    wrt_units = [
        "" if s == "log" else reg.inputs[w].unit for w, s in zip(wrt_t, wrt_scale, strict=True)
    ]
    coords: dict[str, Any] = {
        "wrt": ("wrt", text_coord(wrt_t), {"long_name": "input differentiated against"}),
        "wrt_units": (
            "wrt",
            text_coord(wrt_units),
            {"long_name": "unit of X (empty: dimensionless, X = ln x)"},
        ),
        "wrt_scale": ("wrt", text_coord(wrt_scale), {"long_name": "X = ln x (log) or x (linear)"}),
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
    attrs = result_attrs(spec, f"{spec.name} local sensitivity")
    attrs["sensitivity"] = json.dumps(extra, sort_keys=True)
    attrs["block_shape"] = list(plan.block_shape)
    blocks = range(plan.n_blocks)

    if store is None:
        data = {f"sens_{o}": np.full((nw, *shape), np.nan, spec.dtype) for o in outs}
        data.update({n: np.zeros(shape, vdtype[n]) for n in values})
        for _, region, vals in dispatch(
            _local_block_task, [(job, b, None) for b in blocks], scheduler, name="sens"
        ):
            for name, v in vals.items():
                where = (slice(None), *region) if name.startswith("sens_") else region
                data[name][where] = v
        dvars = {f"sens_{o}": (("wrt", *dims), data[f"sens_{o}"], sens_attrs[o]) for o in outs}
        dvars.update({n: (dims, data[n], variable_attrs(spec, n)) for n in values})
        return xr.Dataset(dvars, coords=coords, attrs=attrs)

    import dask.array as da  # lazy: with xarray above

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
        if vdtype[n] == np.int8:  # as the engine's stores: int8 on reading, unwritten marked
            encoding[n].update({"_FillValue": None, "fill_value": np.int8(NOT_WRITTEN)})

    def fill(tmp: Path) -> None:
        try:
            dispatch(
                _local_block_task, [(job, b, str(tmp)) for b in blocks], scheduler, name="sens"
            )
        finally:
            _WRITERS.pop(str(tmp), None)

    write_dataset(template, store, overwrite=overwrite, encoding=encoding, fill=fill)
    return xr.open_zarr(store)
