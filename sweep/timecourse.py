"""The ``timecourse:`` config section: validation, resolution and the engine's outputs.

A time-course sweep integrates one trajectory per point (``kernels.timecourse``)
and stores its values at chosen output times (a trailing ``time`` dimension)
and the summaries experimenters report. This module turns the config section
into its resolved form (stored units, every default filled in, part of the
config hash) and builds the registry outputs that compute it, so the point
function, blocks, stores, reductions, resume and shards handle time courses
like any other output. The contract is ``docs/timecourses.md``.

Everything a user can get wrong is refused here, before compute, with a
one-line ``ValueError`` that :func:`sweep.spec.parse_config` raises as its
:class:`~sweep.spec.ConfigError`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from kernels._spec import OutputSpec, cached
from kernels.registry import Registry, suggest
from kernels.solvers import Status, flag_attrs

__all__ = [
    "TC_KEYS",
    "SYSTEM_NAMES",
    "STATE_INPUTS",
    "TIME_DIM",
    "parse_timecourse",
    "config_section",
    "output_names",
    "series_names",
    "with_timecourse",
]

#: Keys of the ``timecourse:`` section.
TC_KEYS = (
    "system",
    "protocol",
    "duration",
    "before",
    "t_end",
    "times",
    "outputs",
    "summaries",
    "flips",
    "rtol",
    "atol",
    "max_steps",
    "grid_points",
    "solver",
    "fixed_steps",
)
#: Systems by config name (``kernels.timecourse.SYSTEMS``; listed here so that a
#: config is checked without importing the integrator).
SYSTEM_NAMES = ("calcium", "cell")
#: Inputs that are states of a system: their values come from the before steady
#: state, so an axis or a ``before`` entry of them would be ignored (refused).
STATE_INPUTS: dict[str, tuple[str, ...]] = {
    "calcium": ("ca_i",),
    "cell": ("vm", "na_i", "k_i", "cl_i"),
}
#: Name of the trailing dimension of the ``<output>_tc`` variables.
TIME_DIM = "time"
#: Most output times of one trajectory (an assumption: a block holds whole
#: trajectories, and 10⁵ times of float64 are 0.8 MB per point).
MAX_TIMES = 100_000
#: Largest step budget (an assumption: diffrax keeps no per-step storage here, but
#: a budget above this is a runaway rather than a need).
MAX_STEPS = 10_000_000
#: Largest summary grid per input segment (the grid is held per trajectory).
MAX_GRID_POINTS = 100_000
_STATUS_KEYS = (0, 1, 3, 6, 7, 8)


def _error(message: str) -> Exception:
    # a one-line ValueError: sweep.spec.parse_config re-raises it as its ConfigError
    # (this module never imports sweep.spec, which imports it)
    return ValueError(message)


def _time(key: str, value: Any) -> float:
    from .units import parse_quantity

    try:
        x = parse_quantity(key, value, "s")
    except ValueError as exc:
        raise _error(str(exc)) from None
    if not math.isfinite(x):
        raise _error(f"{key} = {value!r} is not allowed: must be a finite time (e.g. '10 s')")
    return x


def _number(key: str, value: Any, lo: float = 0.0, hi: float = 1.0) -> float:
    if isinstance(value, str):  # YAML 1.1 reads 1e-8 (no dot) as text
        try:
            value = float(value)
        except ValueError:
            pass
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not lo < value < hi:
        raise _error(
            f"timecourse.{key} = {value!r} is not allowed: must be a number in ({lo:g}, {hi:g})"
        )
    return float(value)


def _integer(key: str, value: Any, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise _error(
            f"timecourse.{key} = {value!r} is not allowed: must be an integer in [{lo}, {hi:,}]"
        )
    return int(value)


def _names(key: str, raw: Any) -> list:
    if raw is None:
        return []
    if isinstance(raw, (str, Mapping)):
        raw = [raw]
    if not isinstance(raw, list):
        raise _error(f"timecourse.{key} = {raw!r} is not allowed: must be a list")
    return raw


def _system(name: str, model: Mapping[str, str]):
    from kernels.timecourse import SYSTEMS, whole_cell_system  # lazy: diffrax takes ~0.5 s

    return whole_cell_system(model.get("pump", "cubic")) if name == "cell" else SYSTEMS[name]


def _output(system, key: str, name: Any):
    names = [o.name for o in system.outputs]
    if not isinstance(name, str) or name not in names:
        raise _error(
            f"{key} = {name!r} is not an output of system {system.name!r}"
            f"{suggest(str(name), names)}; allowed: {', '.join(names)}"
        )
    return system.output(name)


def parse_timecourse(
    raw: Any,
    reg: Registry,
    axis_names: Sequence[str],
    precision: str,
    model: Mapping[str, str],
    input_value: Callable[[Registry, str, str, Any], float],
) -> dict[str, Any]:
    """Validate the ``timecourse:`` section and return it resolved (stored units, defaults).

    Parameters
    ----------
    raw : mapping
        The config section as read from YAML (times with units: ``'600 s'``).
    reg : Registry
        The sweep's registry (inputs of ``before``, their units and ranges).
    axis_names : sequence of str
        The sweep's axes (an axis that is a state of the system is refused).
    precision : {"float32", "float64"}
        Picks the default tolerances.
    model : mapping
        The resolved static model choices (``pump`` for the ``cell`` system).
    input_value : callable
        ``input_value(reg, key, name, value) -> float`` in stored units (the
        config's own converter, so ``before`` reads like ``parameters``).

    Returns
    -------
    dict
        JSON-able: ``system, protocol, duration (s or None), before {input: value},
        t_end (s), times [s], outputs, summaries, flips [{output, level}], rtol,
        atol, max_steps, grid_points, solver, fixed_steps``.

    Raises
    ------
    ValueError
        One line naming the key, the value and what is allowed (raised by
        :func:`sweep.spec.parse_config` as its ``ConfigError``).
    """
    from kernels.timecourse import DEFAULT_TOLERANCES, SOLVERS, IntegratorOptions

    default = IntegratorOptions()  # the kernel's defaults, the one source of them

    if not isinstance(raw, Mapping):
        raise _error(
            f"timecourse = {raw!r} is not allowed: a mapping with system, t_end, before, ..."
        )
    for k in raw:
        if k not in TC_KEYS:
            raise _error(
                f"unknown key in timecourse: {k!r}{suggest(str(k), TC_KEYS)}; "
                f"allowed: {', '.join(TC_KEYS)}"
            )
    name = raw.get("system")
    if name not in SYSTEM_NAMES:
        raise _error(
            f"timecourse.system = {name!r} is not allowed{suggest(str(name), SYSTEM_NAMES)}; "
            f"must be one of {', '.join(SYSTEM_NAMES)}"
        )
    system = _system(name, model)
    states = STATE_INPUTS[name]
    for a in axis_names:
        if a in states:
            raise _error(
                f"axes.{a} is not allowed with timecourse.system {name}: {a} is a state of the "
                f"system (its value comes from the before steady state); states: {', '.join(states)}"
            )
    protocol = raw.get("protocol", "step")
    if protocol not in ("step", "pulse"):
        raise _error(
            f"timecourse.protocol = {protocol!r} is not allowed{suggest(str(protocol), ('step', 'pulse'))}; "
            "must be step or pulse"
        )
    if "t_end" not in raw:
        raise _error("timecourse.t_end is required: the end of the integration, e.g. '600 s'")
    t_end = _time("timecourse.t_end", raw["t_end"])
    if t_end <= 0:
        raise _error(f"timecourse.t_end = {raw['t_end']!r} is not allowed: must be > 0 s")
    duration = None
    if protocol == "pulse":
        if "duration" not in raw:
            raise _error("timecourse.duration is required with protocol pulse (e.g. '30 s')")
        duration = _time("timecourse.duration", raw["duration"])
        if not 0 < duration < t_end:
            raise _error(
                f"timecourse.duration = {raw['duration']!r} is not allowed: must be > 0 s and "
                f"< t_end = {t_end:g} s"
            )
    elif "duration" in raw:
        raise _error(
            f"timecourse.duration = {raw['duration']!r} is not allowed with protocol step "
            "(use protocol: pulse)"
        )

    before_raw = raw.get("before") or {}
    if not isinstance(before_raw, Mapping):
        raise _error(
            f"timecourse.before = {before_raw!r} is not allowed: a mapping of input -> value"
        )
    before: dict[str, float] = {}
    for k, v in before_raw.items():
        if k not in reg.inputs:
            raise _error(
                f"timecourse.before: unknown input {k!r}{suggest(str(k), reg.inputs)}; "
                "see 'sweep list'"
            )
        if k in states:
            raise _error(
                f"timecourse.before.{k} is not allowed: {k} is a state of system {name} (its "
                f"value comes from the before steady state); states: {', '.join(states)}"
            )
        before[k] = input_value(reg, f"timecourse.before.{k}", k, v)

    outputs = []
    for i, o in enumerate(_names("outputs", raw.get("outputs"))):
        spec = _output(system, f"timecourse.outputs[{i}]", o)
        if spec.name in outputs:
            raise _error(f"timecourse.outputs[{i}] = {o!r} is listed twice")
        outputs.append(spec.name)
    if "summaries" in raw:
        summaries = []
        for i, s in enumerate(_names("summaries", raw.get("summaries"))):
            spec = _output(system, f"timecourse.summaries[{i}]", s)
            if spec.code:
                raise _error(
                    f"timecourse.summaries[{i}] = {s!r} is not allowed: it is a code; summarise "
                    f"its source {spec.source!r} or time its flip (flips: [{s}])"
                )
            if spec.name not in summaries:
                summaries.append(spec.name)
    else:
        summaries = [o for o in outputs if not system.output(o).code]
    flips: list[dict[str, Any]] = []
    for i, f in enumerate(_names("flips", raw.get("flips"))):
        key = f"timecourse.flips[{i}]"
        if isinstance(f, Mapping):
            extra = sorted(set(f) - {"output", "level"})
            if extra:
                raise _error(f"unknown key in {key}: {extra[0]!r}; allowed: output, level")
            spec = _output(system, f"{key}.output", f.get("output"))
            if spec.code:
                if "level" in f:
                    raise _error(
                        f"{key}.level is not allowed for {spec.name!r}: a code flips where its "
                        f"source {spec.source!r} crosses 0 (give it by name only)"
                    )
                level = 0.0
            else:
                if "level" not in f:
                    raise _error(
                        f"{key}: {spec.name!r} needs a level, e.g. {{output: {spec.name}, level: ...}}"
                    )
                from .units import parse_quantity

                try:
                    level = parse_quantity(f"{key}.level", f["level"], spec.unit)
                except ValueError as exc:
                    raise _error(str(exc)) from None
                if not math.isfinite(level):
                    raise _error(f"{key}.level = {f['level']!r} is not allowed: must be finite")
        else:
            spec = _output(system, key, f)
            if not spec.code:
                raise _error(
                    f"{key} = {f!r} is not allowed: a continuous output needs a level "
                    f"({{output: {f}, level: ...}}); by name: mode/polarity outputs "
                    f"({', '.join(o.name for o in system.outputs if o.code)})"
                )
            level = 0.0
        if any(x["output"] == spec.name for x in flips):
            raise _error(f"{key}: {spec.name!r} is timed twice (one flip per output)")
        flips.append({"output": spec.name, "level": float(level)})

    times: list[float] = []
    if "times" in raw or outputs:
        if "times" not in raw:
            raise _error(
                "timecourse.times is required with timecourse.outputs: e.g. "
                "{start: 0 s, stop: 600 s, num: 61}"
            )
        times = _parse_times(raw["times"], t_end)

    bits = 32 if precision == "float32" else 64
    rtol0, atol0 = DEFAULT_TOLERANCES[bits]
    rtol = _number("rtol", raw["rtol"]) if "rtol" in raw else rtol0
    atol = _number("atol", raw["atol"]) if "atol" in raw else atol0
    max_steps = _integer("max_steps", raw.get("max_steps", default.max_steps), 1, MAX_STEPS)
    grid_points = _integer(
        "grid_points", raw.get("grid_points", default.grid_points), 3, MAX_GRID_POINTS
    )
    solver = raw.get("solver", default.solver)
    if solver not in SOLVERS:
        raise _error(
            f"timecourse.solver = {solver!r} is not allowed{suggest(str(solver), SOLVERS)}; "
            f"must be one of {', '.join(SOLVERS)}"
        )
    fixed = raw.get("fixed_steps")
    if fixed is not None:
        fixed = _integer("fixed_steps", fixed, 1, max_steps)
    resolved = {
        "system": name,
        "protocol": protocol,
        "duration": duration,
        "before": {k: before[k] for k in sorted(before)},
        "t_end": t_end,
        "times": times,
        "outputs": outputs,
        "summaries": summaries,
        "flips": flips,
        "rtol": rtol,
        "atol": atol,
        "max_steps": max_steps,
        "grid_points": grid_points,
        "solver": solver,
        "fixed_steps": fixed,
    }
    # the kernel's own checks (names, levels) as the last word, still before compute
    try:
        _kernel_options(resolved)
    except ValueError as exc:
        raise _error(f"timecourse: {exc}") from None
    return resolved


def _parse_times(body: Any, t_end: float) -> list[float]:
    key = "timecourse.times"
    if isinstance(body, list):
        body = {"values": body}
    if not isinstance(body, Mapping):
        raise _error(
            f"{key} = {body!r} is not allowed: use {{start, stop, num}} or {{values: [...]}}"
        )
    for k in body:
        if k not in ("start", "stop", "num", "values"):
            raise _error(
                f"unknown key in {key}: {k!r}{suggest(str(k), ('start', 'stop', 'num', 'values'))}; "
                "allowed: start, stop, num, values"
            )
    if "values" in body:
        if set(body) != {"values"}:
            raise _error(f"{key}: give either values or start/stop/num, not both")
        vals = body["values"]
        if not isinstance(vals, list) or not vals:
            raise _error(f"{key}.values = {vals!r} is not allowed: must be a non-empty list")
        if len(vals) > MAX_TIMES:
            raise _error(f"{key}.values has {len(vals):,} times: at most {MAX_TIMES:,}")
        ts = [_time(f"{key}.values[{i}]", v) for i, v in enumerate(vals)]
    else:
        for k in ("start", "stop", "num"):
            if k not in body:
                raise _error(f"{key} needs {k!r} (or an explicit 'values' list)")
        num = body["num"]
        if isinstance(num, bool) or not isinstance(num, int) or not 1 <= num <= MAX_TIMES:
            raise _error(
                f"{key}.num = {num!r} is not allowed: must be an integer in [1, {MAX_TIMES:,}]"
            )
        start = _time(f"{key}.start", body["start"])
        stop = _time(f"{key}.stop", body["stop"])
        if num > 1 and not stop > start:
            raise _error(f"{key}: stop = {body['stop']!r} must be > start = {body['start']!r}")
        ts = [float(x) for x in np.linspace(start, stop, num)]
    if any(b <= a for a, b in zip(ts, ts[1:], strict=False)):
        raise _error(f"{key} must be strictly increasing")
    if ts[-1] > t_end:
        raise _error(
            f"{key}: the last time {ts[-1]:g} s is after t_end = {t_end:g} s (times must be <= t_end)"
        )
    return ts


def config_section(tc: Mapping[str, Any], units: Mapping[str, str]) -> dict[str, Any]:
    """The config section (values with units, repr precision) that reads back as ``tc``."""

    def q(v: float, unit: str) -> float | str:
        return float(v) if not unit else f"{float(v)!r} {unit}"

    system = _system(tc["system"], {})
    out: dict[str, Any] = {
        "system": tc["system"],
        "protocol": tc["protocol"],
        "before": {k: q(v, units[k]) for k, v in tc["before"].items()},
        "t_end": q(tc["t_end"], "s"),
        "outputs": list(tc["outputs"]),
        "summaries": list(tc["summaries"]),
        "flips": [
            f["output"]
            if system.output(f["output"]).code
            else {"output": f["output"], "level": q(f["level"], system.output(f["output"]).unit)}
            for f in tc["flips"]
        ],
        "rtol": tc["rtol"],
        "atol": tc["atol"],
        "max_steps": tc["max_steps"],
        "grid_points": tc["grid_points"],
        "solver": tc["solver"],
    }
    if tc["duration"] is not None:
        out["duration"] = q(tc["duration"], "s")
    if tc["times"]:
        out["times"] = {"values": [q(t, "s") for t in tc["times"]]}
    if tc["fixed_steps"] is not None:
        out["fixed_steps"] = tc["fixed_steps"]
    return out


def output_names(tc: Mapping[str, Any]) -> tuple[str, ...]:
    """Store variables of a resolved section, in store order."""
    names = [f"{o}_tc" for o in tc["outputs"]]
    for s in tc["summaries"]:
        names += [f"{s}_tc_end", f"{s}_tc_peak", f"{s}_tc_t_peak", f"{s}_tc_t_relax"]
    for f in tc["flips"]:
        names += [f"{f['output']}_tc_t_flip", f"status_{f['output']}_tc_t_flip"]
    return (*names, "status_tc", "status_tc_before", "n_steps_tc")


def series_names(tc: Mapping[str, Any] | None) -> frozenset[str]:
    """The variables with a trailing ``time`` dimension (``<output>_tc``)."""
    return frozenset(f"{o}_tc" for o in tc["outputs"]) if tc else frozenset()


def _kernel_options(tc: Mapping[str, Any]):
    from kernels.timecourse import IntegratorOptions

    return IntegratorOptions(
        rtol=tc["rtol"],
        atol=tc["atol"],
        max_steps=tc["max_steps"],
        grid_points=tc["grid_points"],
        solver=tc["solver"],
        fixed_steps=tc["fixed_steps"],
    )


def with_timecourse(
    reg: Registry, tc: Mapping[str, Any], precision: str, model: Mapping[str, str]
) -> Registry:
    """A registry that also knows the time-course outputs of ``tc`` (resolved section).

    Each output's function reads one shared evaluation of
    :func:`kernels.timecourse.time_course` per point (the evaluation cache), so
    all time-course variables of a point come from one trajectory.

    Parameters
    ----------
    reg : Registry
        The sweep's registry.
    tc : mapping
        A resolved section (:func:`parse_timecourse`); times in s.
    precision : {"float32", "float64"}
        The sweep's precision: inputs, times and the integration use it.
    model : mapping
        Static model choices (``pump``).

    Returns
    -------
    Registry
        ``reg`` plus the variables of :func:`output_names`.

    References
    ----------
    Kværnø (2004) BIT Numer Math 44:489 (ESDIRK); Kidger (2021) On Neural
    Differential Equations (diffrax); see :mod:`kernels.timecourse`.
    """
    import jax.numpy as jnp

    from kernels.timecourse import CODES, time_course

    system = _system(tc["system"], model)
    dtype = jnp.dtype(precision)
    options = _kernel_options(tc)
    before_vals = dict(tc["before"])
    times = np.asarray(tc["times"] or [tc["t_end"]], dtype=np.float64)
    flips = [
        f["output"] if system.output(f["output"]).code else (f["output"], f["level"])
        for f in tc["flips"]
    ]
    outputs, summaries = tuple(tc["outputs"]), tuple(tc["summaries"])
    protocol, t_end, duration = tc["protocol"], tc["t_end"], tc["duration"]

    def run(p: Mapping[str, Any]) -> dict[str, Any]:
        q = {k: jnp.asarray(v, dtype) for k, v in p.items()}
        return time_course(
            system,
            q,
            {k: jnp.asarray(v, dtype) for k, v in before_vals.items()},
            jnp.asarray(times, dtype),
            jnp.asarray(t_end, dtype),
            protocol=protocol,
            duration=None if duration is None else jnp.asarray(duration, dtype),
            outputs=outputs,
            summaries=summaries,
            flips=flips,
            options=options,
        )

    def fn(key: str):
        return lambda p, cache: cached(cache, "__timecourse__", lambda: run(p))[key]

    ref = {
        "reference": f"kernels.timecourse (solver {tc['solver']} under diffrax.diffeqsolve); "
        "docs/timecourses.md"
    }
    new: list[OutputSpec] = []
    for o in outputs:
        s = system.output(o)
        if s.code:
            attrs = (
                {"flag_values": [-1, 0, 1], "flag_meanings": "reverse equilibrium forward"}
                if s.code == "mode"
                else {
                    "flag_values": [-1, 0, 1],
                    "flag_meanings": "hyperpolarizing neutral depolarizing",
                }
            )
            new.append(
                OutputSpec(f"{o}_tc", "", f"{s.long_name} (time course)",
                           f"{s.description}, at the output times", fn(f"{o}_tc"),
                           dtype="int8", attrs=attrs)
            )  # fmt: skip
        else:
            new.append(
                OutputSpec(f"{o}_tc", s.unit, f"{s.long_name} (time course)",
                           f"{s.description}, at the output times", fn(f"{o}_tc"), attrs=ref,
                           concentration=s.unit == "mM")
            )  # fmt: skip
    for o in summaries:
        s = system.output(o)
        for suffix, unit, what in (
            ("end", s.unit, "value at t_end"),
            ("peak", s.unit, "value farthest from its value before t = 0"),
            ("t_peak", "s", "time of the peak"),
            ("t_relax", "s", "time after the last switch to within 1/e of the value at t_end"),
        ):
            new.append(
                OutputSpec(f"{o}_tc_{suffix}", unit, f"{s.long_name}: {what}",
                           f"time-course summary of {s.description}: {what}",
                           fn(f"{o}_tc_{suffix}"), attrs=ref,
                           # a concentration's value (elasticities, display units)
                           concentration=unit == "mM")
            )  # fmt: skip
    for f in tc["flips"]:
        o = f["output"]
        s = system.output(o)
        src = f"{s.source} crosses 0" if s.code else f"{o} crosses {f['level']:g} {s.unit}"
        new.append(
            OutputSpec(f"{o}_tc_t_flip", "s", f"{s.long_name}: first flip time",
                       f"first time {src} (leaves its side before t = 0); NaN when it never does",
                       fn(f"{o}_tc_t_flip"), attrs=ref)
        )  # fmt: skip
        new.append(
            OutputSpec(f"status_{o}_tc_t_flip", "", f"{s.long_name}: flip status",
                       "0 flipped, 1 never flipped in [0, t_end], else the trajectory's status",
                       fn(f"status_{o}_tc_t_flip"), dtype="int8",
                       attrs=flag_attrs(Status(c) for c in _STATUS_KEYS))
        )  # fmt: skip
    new += [
        OutputSpec("status_tc", "", "time-course status",
                   "0 integrated to t_end, 3 invalid input or protocol, 6 step budget ran out, "
                   "7 non-finite state or step-size collapse, 8 no initial (before) state",
                   fn("status_tc"), dtype="int8", attrs=flag_attrs(CODES)),
        OutputSpec("status_tc_before", "", "time-course initial-state status",
                   "status of the before steady state (the vocabulary of "
                   + ("status_cell" if tc["system"] == "cell" else "status_ca_i_ss") + ")",
                   fn("status_tc_before"), dtype="int8", attrs=flag_attrs()),
        OutputSpec("n_steps_tc", "1", "integrator steps",
                   "steps taken by the integrator (accepted and rejected)",
                   fn("n_steps_tc"), dtype="int32"),
    ]  # fmt: skip
    new = [dataclasses.replace(o, cell_variant=False) for o in new]
    for o in new:
        if o.name in reg.outputs or o.name in reg.inputs:
            raise _error(f"timecourse: its output {o.name!r} would clash with an existing name")
    return Registry(reg.inputs.values(), [*reg.outputs.values(), *new], reg.transporters, reg.model)


def batch_flat(point: Callable[..., Any], n_axes: int) -> Callable[..., Any]:
    """Batch a scalar point function over a grid block with one flat ``vmap``.

    The block's axis values are broadcast to every grid point, the points are
    flattened into one batch, and the outputs are reshaped back to (*grid,
    *trailing). For time courses this compiles one integrator instead of one
    nested in a ``vmap`` per axis: measured 15 s instead of 24 s of XLA compile
    for a 2-axis whole-cell grid (the per-axis batching of
    :func:`sweep.execute.batch_over_axes` saves nothing when every trajectory
    depends on every axis).

    Parameters
    ----------
    point : callable
        ``point(*axis_values) -> tuple`` of arrays (scalars, or trailing dims).
    n_axes : int
        Number of grid axes (positional arguments, 1-D each).

    Returns
    -------
    callable
        ``fn(*axis_arrays) -> tuple`` with outputs of shape (*grid, *trailing).
    """
    import jax
    import jax.numpy as jnp

    vpoint = jax.vmap(point)

    def fn(*xs):
        grids = jnp.meshgrid(*xs, indexing="ij")
        shape = grids[0].shape
        out = vpoint(*(g.reshape(-1) for g in grids))
        return jax.tree_util.tree_map(lambda o: o.reshape(*shape, *o.shape[1:]), out)

    return fn
