"""Execution: one jitted, nested-``vmap`` call per block, scheduled with dask.

For a grid, the kernel of one point is wrapped in one ``jax.vmap`` per axis
(outermost = first axis), so every operation is batched only over the axes its
inputs depend on: ``log([Na]_i)`` is computed once per [Na]_i value, not once
per grid point. Sampled designs use one flat ``vmap`` over the samples. Every
block has the same shape (edge blocks are padded with their last value and the
result sliced), so each process compiles the kernel once. Blocks take and
return numpy arrays.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .plan import Plan, make_plan
from .spec import ConfigError, SweepSpec, parse_config

__all__ = [
    "configure_jax",
    "BlockRunner",
    "RunResult",
    "execute_blocks",
    "evaluate_grid",
    "evaluate_points",
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

_CONFIGURED: dict[str, Any] = {}


def configure_jax(device: str | None = None) -> None:
    """Configure JAX once per process: float64 available, persistent compile cache, device.

    float64 is enabled globally (``jax_enable_x64``) so every worker thread
    honours it; float32 sweeps pass float32 arrays and outputs are cast and
    checked, so the configured precision is what is computed and stored.
    """
    import jax

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


def _pad(values: np.ndarray, length: int) -> np.ndarray:
    if values.shape[0] == length:
        return values
    return np.concatenate([values, np.repeat(values[-1:], length - values.shape[0])])


def batch_over_axes(point: Callable, n_axes: int, *, sampled: bool = False) -> Callable:
    """Batch a scalar point function: one ``vmap`` per grid axis, or one flat ``vmap``.

    Nested (outermost = first axis), every operation is batched only over the
    axes its inputs depend on. For a sampled design all inputs share one axis.
    """
    import jax

    if sampled:
        return jax.vmap(point)
    fn = point
    for i in reversed(range(n_axes)):
        fn = jax.vmap(fn, in_axes=tuple(0 if j == i else None for j in range(n_axes)))
    return fn


def compute_shape(plan: Plan) -> tuple[int, ...]:
    """The fixed shape every block of ``plan`` is computed at (edge blocks are padded).

    XLA simplifies size-1 dimensions differently (it may reassociate sums of
    broadcasts), which changes the last bit of some outputs; computing with at
    least 2 points per axis keeps results bit-identical whatever the chunking.
    """
    return tuple(
        max(c, 2) if n >= 2 else c for c, n in zip(plan.block_shape, plan.shape, strict=True)
    )


def block_inputs(
    plan: Plan, block: int, shape: tuple[int, ...]
) -> tuple[list[np.ndarray], tuple[slice, ...]]:
    """Axis values of ``block`` padded to ``shape`` in the sweep's dtype, and its region."""
    spec = plan.spec
    region = plan.block_slices(block)
    dt = spec.dtype
    if spec.design:
        (s,) = region
        return [_pad(plan.coords[a][s], shape[0]).astype(dt) for a in spec.axis_names], region
    xs = [
        _pad(plan.coords[a][s], c).astype(dt)
        for a, s, c in zip(spec.axis_names, region, shape, strict=True)
    ]
    return xs, region


class BlockRunner:
    """Compute the outputs of any block of a plan with one compiled function."""

    def __init__(self, plan: Plan) -> None:
        import jax
        import jax.numpy as jnp

        configure_jax()
        self.plan = plan
        spec = plan.spec
        self.names = spec.outputs
        self.dtypes = {n: spec.output_dtype(n) for n in self.names}
        reg = spec.registry
        fixed = {k: float(v) for k, v in spec.parameters.items()}
        axis_names = spec.axis_names
        names = self.names
        dtypes = self.dtypes

        def point(*xs):
            p = dict(fixed)
            p.update(zip(axis_names, xs, strict=True))
            r = reg.evaluate(p, names)
            return tuple(jnp.asarray(r[n]).astype(dtypes[n]) for n in names)

        self._point = point
        self._fn = jax.jit(batch_over_axes(point, len(axis_names), sampled=bool(spec.design)))
        self.compile_seconds = 0.0
        self.compute_shape = compute_shape(plan)

    def dependencies(self) -> dict[str, tuple[int, ...]]:
        """For each output, the axes (by position) its value can depend on.

        Found by walking the point function's jaxpr: an equation's outputs depend
        on everything its inputs depend on (sub-jaxprs conservatively on all of
        their inputs). Sampled designs have one dimension, on which all depend.
        """
        import jax
        from jax.extend.core import Literal

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

    def compute(self, block: int) -> tuple[tuple[slice, ...], dict[str, np.ndarray]]:
        """Outputs of ``block`` (numpy, sliced to the block's region) and the region."""
        xs, region = block_inputs(self.plan, block, self.compute_shape)
        t0 = time.perf_counter()
        outs = self._fn(*xs)
        outs = [np.asarray(o) for o in outs]
        if not self.compile_seconds:
            self.compile_seconds = time.perf_counter() - t0
        trim = tuple(slice(0, s.stop - s.start) for s in region)
        res = {}
        for n, o in zip(self.names, outs, strict=True):
            if o.dtype != self.dtypes[n]:  # precision is a contract, not a hope
                raise RuntimeError(f"{n}: computed as {o.dtype}, expected {self.dtypes[n]}")
            res[n] = o[trim]
        return region, res


# --- per-process caches (a worker compiles once, opens the store once) -----------
_RUNNERS: dict[tuple[str, tuple[int, ...]], tuple[Plan, BlockRunner]] = {}
_WRITERS: dict[tuple[str, str], Any] = {}


def _runner_for(
    raw: dict[str, Any] | str, block_shape: tuple[int, ...]
) -> tuple[Plan, BlockRunner]:
    text = raw if isinstance(raw, str) else json.dumps(raw)  # key order = axis order
    key = (text, tuple(block_shape))
    if key not in _RUNNERS:
        plan = Plan(parse_config(json.loads(text)), tuple(block_shape))
        _RUNNERS[key] = (plan, BlockRunner(plan))
    return _RUNNERS[key]


def _writer_for(path: str, plan: Plan, token: str):
    from .store import BlockWriter

    # keyed by the store's creation token: a store overwritten in the same
    # process is a new store, and chunk copies must never refer to the old one
    key = (path, plan.spec.config_hash, token)
    if key not in _WRITERS:
        names = plan.spec.outputs if plan.spec.keep_full else ()
        deps = _runner_for(plan.spec.raw, plan.block_shape)[1].dependencies() if names else {}
        _WRITERS[key] = BlockWriter(path, names, plan=plan, dependencies=deps)
    return _WRITERS[key]


def run_block_task(
    raw: dict[str, Any] | str,
    block_shape: tuple[int, ...],
    path: str,
    block: int,
    token: str = "",
    retries: int = 1,
) -> tuple[int, str | None]:
    """Compute and write one block; retried ``retries`` times, then reported, never raised.

    Module-level and fed only plain data, so any dask scheduler (threads,
    processes, distributed) can run it.
    """
    from .reduce import block_partials
    from .store import write_block

    err = None
    for _attempt in range(retries + 1):
        try:
            if os.environ.get("SWEEP_BLOCK_DELAY"):  # slows blocks down for kill tests
                time.sleep(float(os.environ["SWEEP_BLOCK_DELAY"]))
            if os.environ.get("SWEEP_FAIL_BLOCKS"):  # fault injection for tests
                bad = {int(b) for b in os.environ["SWEEP_FAIL_BLOCKS"].split(",") if b}
                if block in bad:
                    raise RuntimeError(f"injected failure in block {block}")
            plan, runner = _runner_for(raw, block_shape)
            region, values = runner.compute(block)
            partials = block_partials(plan, block, values) if plan.spec.reduce else {}
            writer = _writer_for(path, plan, token)
            write_block(writer, block, region, values if plan.spec.keep_full else {}, partials)
            return block, None
        except Exception as exc:  # reported per block; the sweep goes on
            err = f"{type(exc).__name__}: {exc}"
    from .store import Manifest

    try:
        Manifest(path).mark_failed(block, err or "unknown error")
    except OSError:
        pass
    return block, err


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


def client_for(scheduler: str):
    """A distributed ``Client`` (and the LocalCluster it owns, if any) for ``local:N`` / ``tcp://``."""
    from distributed import Client, LocalCluster

    if scheduler.startswith("local:"):
        try:
            n = int(scheduler.split(":", 1)[1])
            assert n >= 1
        except (ValueError, AssertionError):
            raise ConfigError(
                f"--scheduler {scheduler!r} is not allowed: local:N needs N >= 1"
            ) from None
        cluster = LocalCluster(
            n_workers=n,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",  # a free port: concurrent clusters never clash
            silence_logs=40,
        )
        return Client(cluster), cluster
    return Client(scheduler, timeout="20s"), None


def check_scheduler(scheduler: str) -> None:
    """Raise ``ConfigError`` for a scheduler name the engine cannot use (before any I/O)."""
    if scheduler in ("threads", "processes", "synchronous") or scheduler.startswith("tcp://"):
        return
    if scheduler.startswith("local:"):
        n = scheduler.split(":", 1)[1]
        if n.isdigit() and int(n) >= 1:
            return
        raise ConfigError(
            f"--scheduler {scheduler!r} is not allowed: local:N needs an integer N >= 1"
        )
    raise ConfigError(
        f"--scheduler {scheduler!r} is not allowed: must be one of {', '.join(SCHEDULERS)}"
    )


def execute_blocks(
    plan: Plan,
    path: str | Path,
    blocks: Sequence[int],
    *,
    scheduler: str = "threads",
    on_done: Callable[[int, str | None], None] | None = None,
) -> dict[int, str | None]:
    """Run ``blocks`` of ``plan`` into the store at ``path`` with a dask scheduler.

    Returns block -> error message (None when it succeeded).
    """
    import dask
    from dask.callbacks import Callback

    from .store import read_attrs

    check_scheduler(scheduler)
    raw = json.dumps(plan.spec.raw)  # a string: dask need not traverse it
    shape = tuple(plan.block_shape)
    spath = str(path)
    token = str(read_attrs(path).get("store_token", ""))
    results: dict[int, str | None] = {}

    def done(b: int, err: str | None) -> None:
        results[b] = err
        if on_done:
            on_done(b, err)

    if not blocks:
        return results
    if scheduler in ("threads", "processes", "synchronous"):
        tasks = [
            dask.delayed(run_block_task, pure=False)(
                raw, shape, spath, b, token, dask_key_name=f"block-{b}"
            )
            for b in blocks
        ]

        class _Cb(Callback):
            def _posttask(self, key, result, dsk, state, worker_id):
                if isinstance(key, str) and key.startswith("block-"):
                    done(*result)

        kwargs: dict[str, Any] = {"scheduler": scheduler}
        if scheduler == "processes":
            import multiprocessing

            kwargs["pool"] = None
            kwargs["num_workers"] = multiprocessing.cpu_count()
        with _Cb():
            dask.compute(*tasks, **kwargs)
        return results
    from distributed import as_completed

    client, cluster = client_for(scheduler)
    try:
        futures = [
            client.submit(
                run_block_task,
                raw,
                shape,
                spath,
                b,
                token,
                key=f"block-{b}-{token[:8] or plan.spec.config_hash[:8]}",
                pure=False,
            )
            for b in blocks
        ]
        for fut in as_completed(futures):
            done(*fut.result())
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    return results


def free_disk(path: Path) -> int:
    p = path.resolve()
    while not p.exists():
        p = p.parent
    return shutil.disk_usage(p).free


def check_disk(plan: Plan, path: Path) -> None:
    need = plan.output_bytes()
    free = free_disk(path)
    if need > free:
        raise ConfigError(
            f"the store would need {_human(need)} (uncompressed) but only {_human(free)} is free "
            f"at {str(path)!r}: shrink the grid, use reduce with keep_full: false, or pick "
            "another store path"
        )


def _human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024 or unit == "PiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return f"{n:.1f} PiB"


def evaluate_grid(spec: SweepSpec | dict, *, block_bytes: int | None = None):
    """Evaluate a (small) sweep in memory and return an ``xarray.Dataset`` (no store)."""
    import xarray as xr

    from .store import coord_attrs, variable_attrs

    if isinstance(spec, dict):
        spec = parse_config(spec)
    plan = make_plan(spec) if block_bytes is None else make_plan(spec, block_bytes)
    runner = BlockRunner(plan)
    out = {n: np.empty(plan.shape, dtype=spec.output_dtype(n)) for n in spec.outputs}
    for b in range(plan.n_blocks):
        region, vals = runner.compute(b)
        for n, v in vals.items():
            out[n][region] = v
    if spec.design:
        coords = {"sample": np.arange(spec.n_points)}
        coords.update(
            {a: ("sample", plan.coords[a], coord_attrs(spec, a)) for a in spec.axis_names}
        )
    else:
        coords = {a.name: (a.name, a.values, coord_attrs(spec, a.name)) for a in spec.axes}
    ds = xr.Dataset(
        {n: (plan.dims, out[n], variable_attrs(spec, n)) for n in spec.outputs},
        coords=coords,
        attrs={"title": spec.name, "config": json.dumps(spec.resolved, sort_keys=True)},
    )
    for r in spec.reduce:  # the same statistics the store's blockwise reductions give
        v = ds[r.output]
        for stat in r.stats:
            if stat in ("min", "max", "mean"):
                red = getattr(v, stat)(r.over)
            else:
                code = -1 if stat in ("fraction_reverse", "fraction_hyperpolarizing") else 1
                code = 0 if stat == "fraction_equilibrium" else code
                red = (v == code).mean(r.over)
            ds[f"{r.output}_{stat}"] = red.astype(np.float64)
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
    import jax
    import jax.numpy as jnp

    from kernels.registry import REGISTRY

    configure_jax()
    reg = REGISTRY.with_transporters(transporters) if transporters else REGISTRY
    names = reg.resolve_outputs(outputs)
    fixed = {**reg.defaults(), **(parameters or {})}
    reg.check_inputs(parameters or {})
    keys = list(points)
    arrays = [np.asarray(points[k], dtype=precision) for k in keys]
    for k, a in zip(keys, arrays, strict=True):
        reg.check_inputs({k: a})

    def point(*xs):
        p = dict(fixed)
        p.update(zip(keys, xs, strict=True))
        r = reg.evaluate(p, names)
        return {n: jnp.asarray(r[n]) for n in names}

    res = jax.jit(jax.vmap(point))(*arrays)
    return {n: np.asarray(v) for n, v in res.items()}
