"""The sweep config: YAML → validated, unit-converted, frozen :class:`SweepSpec`.

Everything a user can get wrong is caught here, before any compute or any file
is written, with a one-line :class:`ConfigError` naming the key, the value and
what is allowed. The contract is ``docs/config.md`` (config version 1).

This module holds :class:`SweepSpec`, the top-level checks (:func:`parse_config`:
name, precision, transporters, model, design, parameters, chunks, store, keep_full,
and the order the sections are read in) and the canonical resolved config with its
rebuild (:func:`spec_from_resolved`). The sections have modules of their own:
:mod:`sweep.config_io` reads the file (hardened YAML), :mod:`sweep.axes` the axes
and input distributions, :mod:`sweep.outputs` the outputs, residuals and reduce
entries, :mod:`sweep.timecourse` the time-course section; :mod:`sweep.errors`
holds :class:`ConfigError`. Their public names are importable from here as well.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from kernels.registry import REGISTRY, Registry, suggest

from .axes import AXIS_KEYS as AXIS_KEYS
from .axes import DIST_TAIL as DIST_TAIL
from .axes import DISTS, Axis, _check_float32, _input_value, _parse_axis, n_factors
from .config_io import load_config
from .config_io import parse_yaml as parse_yaml
from .errors import ConfigError, _unknown
from .errors import shorten as shorten
from .outputs import FLOAT_STATS as FLOAT_STATS
from .outputs import MODE_STATS as MODE_STATS
from .outputs import POLARITY_STATS as POLARITY_STATS
from .outputs import Reduction, _parse_outputs, _parse_reduce

__all__ = [
    "ConfigError",
    "Axis",
    "Design",
    "Reduction",
    "SweepSpec",
    "load_config",
    "parse_config",
    "load_spec",
    "spec_from_resolved",
    "spec_from_canonical",
    "config_from_resolved",
    "DEFAULT_CONFIG",
    "DISTS",
    "n_factors",
]

TOP_KEYS = (
    "name",
    "description",
    "precision",
    "parameters",
    "axes",
    "outputs",
    "transporters",
    "mode_tolerance",
    "chunks",
    "store",
    "reduce",
    "keep_full",
    "design",
    "model",
    "derived",
    "residuals",
    "timecourse",
)
DESIGN_METHODS = ("grid", "sobol", "lhs", "random", "saltelli", "morris", "fast")
#: Harmonics M of eFAST (SALib's default; Saltelli, Tarantola & Chan 1999 Technometrics
#: 41:39 use M = 4), fixed so a design's rows and its analysis agree.
FAST_HARMONICS = 4
#: Designs whose rows follow factor groups (``axes.<x>.group``), as SALib's samplers.
GROUP_METHODS = ("saltelli", "morris")
PRECISIONS = ("float32", "float64")

#: Most points of a sweep (grid or design): indices are int64 (2^62 leaves headroom).
MAX_POINTS = 2**62

#: The built-in quickstart (``sweep run`` without a config): NCX mode map.
DEFAULT_CONFIG = Path(__file__).with_name("quickstart.yaml")


@dataclass(frozen=True)
class Design:
    """A sampled design (instead of the full grid).

    ``sobol | lhs | random``: ``n`` points. ``saltelli | morris | fast``: the
    sample matrices of SALib's Sobol' (Saltelli), Morris and eFAST analyses,
    ``n`` base samples / trajectories / samples per search curve (rows:
    n·(k + 2), n·(2k + 2) with ``second_order``, n·(k + 1) for Morris, with k
    the factors, groups counted once; n·k for eFAST); ``sweep sensitivity
    --global`` runs these.
    """

    method: str
    n: int
    seed: int
    second_order: bool = False
    levels: int = 4

    def size(self, k: int) -> int:
        """Number of sample rows for ``k`` factors (inputs, or groups of inputs: :func:`n_factors`)."""
        if self.method == "fast":
            return self.n * k
        if self.method == "saltelli":
            return self.n * (2 * k + 2 if self.second_order else k + 2)
        if self.method == "morris":
            return self.n * (k + 1)
        return self.n


@dataclass(frozen=True)
class SweepSpec:
    """A validated sweep: what to compute, over what, stored where.

    Attributes
    ----------
    parameters : dict
        Every input *not* swept, in stored units (registry defaults filled in).
    axes : tuple of Axis
        Swept inputs in config order (= store dimension order). For a sampled
        design they hold the bounds; the sample points come from :mod:`sweep.plan`.
    outputs : tuple of str
        Requested outputs plus their companions (status, residual).
    model : dict
        The static model choices (config ``model:``), every default filled in.
    requested : tuple of str
        The outputs as the config lists them (companions not added); empty for a
        spec rebuilt from its resolved config.
    resolved : dict
        The fully resolved config (JSON-able), stored in the store's attributes;
        :attr:`canonical` is its serialised form, the only form of a spec that
        crosses to workers (:func:`spec_from_resolved` rebuilds it).
    """

    name: str
    description: str
    precision: str
    parameters: dict[str, float]
    axes: tuple[Axis, ...]
    outputs: tuple[str, ...]
    transporters: dict[str, Any]
    chunks: dict[str, int]
    store: str
    reduce: tuple[Reduction, ...]
    keep_full: bool
    design: Design | None
    model: dict[str, str]
    registry: Registry = field(repr=False, compare=False)
    resolved: dict[str, Any] = field(repr=False, compare=False)
    requested: tuple[str, ...] = field(repr=False, compare=False, default=())
    #: The resolved ``timecourse:`` section (sweep/timecourse.py), or None.
    timecourse: dict[str, Any] | None = field(repr=False, compare=False, default=None)

    @property
    def config_hash(self) -> str:
        """SHA-256 of the resolved config: identifies a sweep across shards and resumes."""
        return config_hash(self.resolved)

    @property
    def canonical(self) -> str:
        """The resolved config as JSON text: what crosses to workers (a string: dask never
        walks it), rebuilt there by :func:`spec_from_canonical`. Key order is kept: the
        order of the axes is the order of the dimensions."""
        return json.dumps(self.resolved)

    @property
    def axis_names(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.axes)

    @property
    def dims(self) -> tuple[str, ...]:
        return ("sample",) if self.design else self.axis_names

    @property
    def shape(self) -> tuple[int, ...]:
        if self.design:
            return (self.design.size(n_factors(self.axes)),)
        return tuple(a.size for a in self.axes)

    @property
    def n_points(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(self.precision)

    def axis(self, name: str) -> Axis:
        for a in self.axes:
            if a.name == name:
                return a
        raise ConfigError(
            f"unknown axis {name!r}{suggest(name, self.axis_names)}; axes: "
            f"{', '.join(self.axis_names)}"
        )

    def output_dtype(self, name: str) -> np.dtype:
        kind = self.registry.outputs[name].dtype
        return np.dtype(kind) if kind in ("int8", "int32") else self.dtype

    @functools.cached_property
    def _series(self) -> frozenset[str]:
        if not self.timecourse:
            return frozenset()
        from .timecourse import series_names

        return series_names(self.timecourse)

    @property
    def times(self) -> np.ndarray | None:
        """Output times of a time-course sweep, s (the ``time`` coordinate), or None."""
        if not self.timecourse or not self.timecourse["times"]:
            return None
        return np.asarray(self.timecourse["times"], dtype=np.float64)

    def trailing_dims(self, name: str) -> tuple[str, ...]:
        """Dimensions of output ``name`` after the sweep's own (``("time",)`` for
        ``<output>_tc``, else none): never chunked, a block holds them whole."""
        return ("time",) if name in self._series else ()

    def trailing_shape(self, name: str) -> tuple[int, ...]:
        """Sizes of :meth:`trailing_dims`."""
        return (len(self.timecourse["times"]),) if name in self._series else ()

    def values_per_point(self, name: str) -> int:
        """Numbers output ``name`` stores per point (the product of its trailing sizes)."""
        return math.prod(self.trailing_shape(name))


def config_hash(resolved: Mapping[str, Any]) -> str:
    """SHA-256 of the resolved config, the order of its axes included.

    Keys are sorted for a stable text, which would lose the order of ``axes``
    (the order of the store's dimensions): it is hashed as well, so the same
    axes listed in another order are another sweep.
    """
    text = json.dumps(resolved, sort_keys=True)
    order = json.dumps(list(resolved.get("axes") or ()))
    return hashlib.sha256(f"{text}\naxis order: {order}".encode()).hexdigest()


def load_spec(config: str | Path | Mapping[str, Any] | None = None, **overrides: Any) -> SweepSpec:
    """Load and validate a config file (or mapping); ``None`` = the built-in quickstart."""
    if config is None:
        config = DEFAULT_CONFIG
    data = dict(config) if isinstance(config, Mapping) else load_config(config)
    data.update({k: v for k, v in overrides.items() if v is not None})
    return parse_config(data)


def parse_config(data: Mapping[str, Any], *, ranges: bool = False) -> SweepSpec:
    """Validate a config mapping and return a :class:`SweepSpec` (raises :class:`ConfigError`).

    ``ranges``: the axes are the inputs of a global analysis (``sweep sensitivity
    --global``), read as for a sampled design (start/stop or ``dist``, no ``num``)
    although the config has no ``design:``.
    """
    try:
        return _parse_config(data, ranges)
    except ConfigError:
        raise
    except ValueError as exc:  # from kernels (registry, transporters) or units
        raise ConfigError(str(exc)) from None


def _parse_config(data: Mapping[str, Any], ranges: bool = False) -> SweepSpec:
    for k in data:
        if k not in TOP_KEYS:
            raise _unknown(k, "", TOP_KEYS)
    name = data.get("name")
    if not isinstance(name, str) or not re.fullmatch(r"[a-z0-9_-]+", name):
        raise ConfigError(
            f"name = {name!r} is not allowed: required, lower-case letters, digits, '_' and '-'"
        )
    description = data.get("description", "")
    if not isinstance(description, str):
        raise ConfigError(f"description = {description!r} is not allowed: must be text")
    precision = data.get("precision", "float64")
    if precision not in PRECISIONS:
        raise ConfigError(
            f"precision = {precision!r} is not allowed: must be one of {', '.join(PRECISIONS)}"
        )

    transporters = data.get("transporters") or {}
    if not isinstance(transporters, Mapping):
        raise ConfigError(f"transporters = {transporters!r} is not allowed: must be a mapping")
    reg = REGISTRY.with_transporters(transporters) if transporters else REGISTRY
    model_raw = data.get("model")
    if model_raw is None:
        model_raw = {}
    if not isinstance(model_raw, Mapping):
        raise ConfigError(
            f"model = {model_raw!r} is not allowed: a mapping of choices, e.g. {{pump: cubic}}"
        )
    reg = reg.with_model(model_raw)  # unknown keys or values: one-line ValueError (below)
    derived = None
    if data.get("derived") is not None:  # expressions over outputs and inputs (lazy: pint)
        from .expressions import resolve_derived, with_derived

        derived = resolve_derived(data["derived"])
        reg = with_derived(reg, derived)

    design = None
    draw = data.get("design")
    if draw is not None:
        if not isinstance(draw, Mapping):
            raise ConfigError(f"design = {draw!r} is not allowed: use {{method, n, seed}}")
        design_keys = ("method", "n", "seed", "second_order", "levels")
        for k in draw:
            if k not in design_keys:
                raise _unknown(k, "in design: ", design_keys)
        method = draw.get("method", "grid")
        if method not in DESIGN_METHODS:
            raise ConfigError(
                f"design.method = {method!r} is not allowed{suggest(str(method), DESIGN_METHODS)}; "
                f"allowed: {', '.join(DESIGN_METHODS)}"
            )
        if method == "grid":
            extra = sorted(set(draw) - {"method"})
            if extra:
                raise ConfigError(
                    f"design.{extra[0]} is not allowed with method grid (the axes set the grid)"
                )
        if method != "grid":
            n = draw.get("n")
            if isinstance(n, bool) or not isinstance(n, int) or n < 1:
                raise ConfigError(f"design.n = {n!r} is not allowed: must be an integer >= 1")
            seed = draw.get("seed", 0)
            if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
                raise ConfigError(f"design.seed = {seed!r} is not allowed: must be an integer >= 0")
            second_order = draw.get("second_order", False)
            if not isinstance(second_order, bool) or (second_order and method != "saltelli"):
                raise ConfigError(
                    f"design.second_order = {second_order!r} is not allowed: true/false, "
                    "and only with method saltelli"
                )
            levels = draw.get("levels", 4)
            if isinstance(levels, bool) or not isinstance(levels, int) or levels < 2 or levels % 2:
                raise ConfigError(
                    f"design.levels = {levels!r} is not allowed: an even integer >= 2 (Morris)"
                )
            if method == "fast" and n <= 4 * FAST_HARMONICS**2:
                raise ConfigError(
                    f"design.n = {n} is not allowed for fast: eFAST needs more than "
                    f"4·M² = {4 * FAST_HARMONICS**2} samples per input (M = {FAST_HARMONICS})"
                )
            if method == "saltelli" and n & (n - 1):
                raise ConfigError(
                    f"design.n = {n} is not allowed for saltelli: base samples must be a power of 2"
                )
            design = Design(method, n, seed, second_order, levels)

    axes_raw = data.get("axes") or {}
    if not isinstance(axes_raw, Mapping) or not axes_raw:
        raise ConfigError("axes is empty: a sweep needs at least one swept input under 'axes'")
    axes: list[Axis] = []
    axes_resolved: dict[str, Any] = {}
    for aname, body in axes_raw.items():
        if aname not in reg.inputs:
            raise ConfigError(
                f"unknown axis {aname!r}{suggest(str(aname), reg.inputs)}: axes must be inputs "
                "(see 'sweep list')"
            )
        ax, res = _parse_axis(reg, aname, body, design is not None or ranges)
        axes.append(ax)
        axes_resolved[aname] = res
    unbounded = [a for a in axes if a.dist in ("normal", "lognormal")]
    if unbounded and design is not None and design.method == "morris":
        a = unbounded[0]
        raise ConfigError(
            f"axes.{a.name}: dist {a.dist} is not allowed with Morris: its grid includes the "
            "quantiles 0 and 1, where an unbounded distribution is at ±8.2 sd; use "
            "truncnormal (start/stop) or triangular"
        )
    grouped = [a.name for a in axes if a.group is not None]
    for a in axes:
        if a.group is not None and a.group in axes_resolved and a.group != a.name:
            other = next(b for b in axes if b.name == a.group)
            if other.group != a.group:
                raise ConfigError(
                    f"axes.{a.name}.group = {a.group!r} is not allowed: it names the axis "
                    f"{a.group!r}, which is not in that group (choose another group name)"
                )
    if grouped and design is not None and design.method not in GROUP_METHODS:
        raise ConfigError(
            f"axes.{grouped[0]}.group is not allowed with design.method {design.method}: "
            f"factor groups apply to {', '.join(GROUP_METHODS)} (and --global sobol|morris; not fast)"
        )
    points = design.size(n_factors(axes)) if design else math.prod(a.size for a in axes)
    if points > MAX_POINTS:
        what = f"design.n = {design.n} gives" if design else "the axes give"
        raise ConfigError(
            f"{what} {points:.3g} points: more than a sweep can index (at most 2^62 = "
            f"{MAX_POINTS:.3g})"
        )

    params_raw = data.get("parameters") or {}
    if precision == "float32":
        for a in axes:
            ends = a.explicit if a.explicit is not None else (a.start, a.stop)
            for x in ends:
                _check_float32(f"axes.{a.name}", x, a.unit)
    if not isinstance(params_raw, Mapping):
        raise ConfigError(f"parameters = {params_raw!r} is not allowed: must be a mapping")
    if "mode_tolerance" in data:
        if "mode_tolerance" in params_raw or "mode_tolerance" in axes_raw:
            raise ConfigError("mode_tolerance is given twice: top level and parameters/axes")
        params_raw = {**params_raw, "mode_tolerance": data["mode_tolerance"]}
    params = reg.defaults()
    for pname, v in params_raw.items():
        if pname not in reg.inputs:
            raise ConfigError(
                f"unknown parameter {pname!r}{suggest(str(pname), reg.inputs)}; see 'sweep list'"
            )
        if pname in axes_raw:
            raise ConfigError(
                f"{pname!r} is both a parameter and an axis: give it in one place only"
            )
        params[pname] = _input_value(reg, f"parameters.{pname}", pname, v)
    for a in axes:
        params.pop(a.name)
    if precision == "float32":
        for pname in params_raw:
            _check_float32(f"parameters.{pname}", params[pname], reg.inputs[pname].unit)

    tc = None
    if data.get("timecourse") is not None:  # lazy: the integrator is imported only here
        from .timecourse import output_names, parse_timecourse, with_timecourse

        tc = parse_timecourse(
            data["timecourse"], reg, [a.name for a in axes], precision, reg.model, _input_value
        )
        reg = with_timecourse(reg, tc, precision, reg.model)
    tc_names = output_names(tc) if tc else ()

    outputs, plain_outputs, requested, residuals = _parse_outputs(data, reg, tc, tc_names)

    axis_names = tuple(a.name for a in axes)
    dims = ("sample",) if design else axis_names
    chunks_raw = data.get("chunks") or {}
    if not isinstance(chunks_raw, Mapping):
        raise ConfigError(f"chunks = {chunks_raw!r} is not allowed: a mapping of dim -> size")
    chunks: dict[str, int] = {}
    for d, c in chunks_raw.items():
        if d not in dims:
            raise ConfigError(
                f"chunks: {d!r} is not a dimension{suggest(str(d), dims)}; dims: {', '.join(dims)}"
            )
        if isinstance(c, bool) or not isinstance(c, int) or c < 1:
            raise ConfigError(f"chunks.{d} = {c!r} is not allowed: must be an integer >= 1")
        chunks[d] = c

    store = data.get("store") or f"results/{name}.zarr"
    if not isinstance(store, str):
        raise ConfigError(f"store = {store!r} is not allowed: must be a path")

    reduce = _parse_reduce(data.get("reduce"), outputs, dims if design else axis_names, reg)
    if design and reduce:
        raise ConfigError("reduce is not available with a sampled design (one 'sample' dimension)")
    keep_full = data.get("keep_full", True)
    if not isinstance(keep_full, bool):
        raise ConfigError(f"keep_full = {keep_full!r} is not allowed: must be true or false")
    if not keep_full and not reduce:
        raise ConfigError("keep_full = false needs at least one 'reduce' entry: nothing to store")

    resolved = {
        "version": 1,
        "name": name,
        "description": description,
        "precision": precision,
        "parameters": {k: params[k] for k in sorted(params)},
        "units": {k: reg.inputs[k].unit for k in sorted(reg.inputs)},
        "axes": axes_resolved,
        "outputs": list(plain_outputs),
        "transporters": json.loads(json.dumps(transporters)),
        "chunks": chunks,
        "store": store,
        "reduce": [
            {"output": r.output, "stats": list(r.stats), "over": list(r.over)} for r in reduce
        ],
        "keep_full": keep_full,
        "design": (
            {
                "method": design.method,
                "n": design.n,
                "seed": design.seed,
                "second_order": design.second_order,
                "levels": design.levels,
            }
            if design
            else None
        ),
        "model": dict(reg.model),
    }
    if derived:
        resolved["derived"] = derived
    if not residuals:
        resolved["residuals"] = False
    if tc:
        resolved["timecourse"] = tc
    return SweepSpec(
        name=name,
        description=description,
        precision=precision,
        parameters=params,
        axes=tuple(axes),
        outputs=outputs,
        transporters=dict(transporters),
        chunks=chunks,
        store=store,
        reduce=reduce,
        keep_full=keep_full,
        design=design,
        model=dict(reg.model),
        registry=reg,
        resolved=resolved,
        requested=requested,
        timecourse=tc,
    )


def _quantity(value: float, unit: str) -> float | str:
    """A stored-unit value as config text that reads back as exactly ``value``."""
    return float(value) if not unit else f"{float(value)!r} {unit}"


def config_from_resolved(resolved: Mapping[str, Any]) -> dict[str, Any]:
    """A config mapping (values with units) that :func:`parse_config` reads as ``resolved``.

    Values are written in their stored units with ``repr`` precision, so they
    read back bit for bit (no unit conversion happens).
    """
    if resolved.get("version") != 1:
        raise ConfigError(
            f"version = {resolved.get('version')!r} is not allowed: a resolved config of version 1"
        )
    units = resolved["units"]
    axes: dict[str, Any] = {}
    for name, body in resolved["axes"].items():
        unit = body["unit"]
        if "values" in body:
            axes[name] = {"values": [_quantity(v, unit) for v in body["values"]]}
            continue
        if "dist" in body:
            axes[name] = {"dist": body["dist"]}
            for k in ("mean", "median", "start", "stop", "peak", "sd"):
                if k in body:
                    axes[name][k] = _quantity(body[k], unit)
            if "sdlog" in body:
                axes[name]["sdlog"] = float(body["sdlog"])
        else:
            axes[name] = {k: v for k, v in body.items() if k in ("num", "spacing")}
            axes[name]["start"] = _quantity(body["start"], unit)
            axes[name]["stop"] = _quantity(body["stop"], unit)
        if "group" in body:
            axes[name]["group"] = body["group"]
    config: dict[str, Any] = {
        "name": resolved["name"],
        "description": resolved["description"],
        "precision": resolved["precision"],
        "parameters": {k: _quantity(v, units[k]) for k, v in resolved["parameters"].items()},
        "axes": axes,
        "outputs": list(resolved["outputs"]),
        "chunks": dict(resolved["chunks"]),
        "store": resolved["store"],
        "reduce": [dict(r) for r in resolved["reduce"]] or None,
        "keep_full": resolved["keep_full"],
        "model": dict(resolved.get("model") or {}),
    }
    if resolved["transporters"]:
        config["transporters"] = resolved["transporters"]
    if resolved.get("derived"):
        config["derived"] = resolved["derived"]
    if resolved.get("residuals") is False:
        config["residuals"] = False
    if resolved["design"] is not None:
        config["design"] = dict(resolved["design"])
    if resolved.get("timecourse"):
        from .timecourse import config_section

        config["timecourse"] = config_section(resolved["timecourse"], units)
    return config


def spec_from_resolved(resolved: Mapping[str, Any]) -> SweepSpec:
    """Rebuild the :class:`SweepSpec` whose :attr:`~SweepSpec.resolved` is ``resolved``.

    Raises
    ------
    ConfigError
        ``resolved`` is not a resolved config this version reads back identically.
    """
    spec = parse_config(config_from_resolved(resolved))
    if spec.resolved != resolved:
        raise ConfigError("the resolved config does not rebuild identically (another version?)")
    # the resolved outputs include the companions (status, residual); which of them the
    # user listed is not part of the resolved config, so none is taken as requested
    return dataclasses.replace(spec, requested=())


@functools.lru_cache(maxsize=64)
def spec_from_canonical(text: str) -> SweepSpec:
    """:func:`spec_from_resolved` of :attr:`SweepSpec.canonical` text (cached per process)."""
    return spec_from_resolved(json.loads(text))
