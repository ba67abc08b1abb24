"""The swept inputs of a config (``axes:``): grids, explicit values, input distributions.

An axis is a ``start, stop, num[, spacing]`` range, an explicit ``values`` list
or, for a sampled design or a global analysis, a range or one of the input
distributions of :data:`DISTS`; :func:`_parse_axis` reads one into an
:class:`Axis` (stored units) and its resolved body. :func:`_input_value` (one
input's value, converted and checked against the input's range) and
:func:`_check_float32` serve the fixed ``parameters`` as well.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from kernels.registry import Registry, suggest

from .errors import ConfigError, _unknown
from .units import parse_quantity

__all__ = ["Axis", "DISTS", "DIST_KEYS", "DIST_TAIL", "AXIS_KEYS", "MAX_AXIS_NUM", "n_factors"]


#: Input distributions of sampled designs and global analyses (``axes.<x>.dist``), each
#: with the keys it needs beyond the axis' ``start``/``stop`` (SALib's ``dists``:
#: unif, logunif, norm, truncnorm, lognorm, triang).
DISTS = {
    "uniform": ("start", "stop"),
    "loguniform": ("start", "stop"),
    "normal": ("mean", "sd"),
    "truncnormal": ("mean", "sd", "start", "stop"),
    "lognormal": ("median", "sdlog"),
    "triangular": ("start", "stop", "peak"),
}
DIST_KEYS = ("mean", "sd", "median", "sdlog", "peak")
#: Tail probability at which unit samples are clipped before the inverse CDF of an
#: unbounded distribution (normal, lognormal): a sampled value lies within its
#: 2^-53 and 1 - 2^-53 quantiles (±8.2 sd), never at ±inf (a sample of exactly 0 or 1).
DIST_TAIL = 2.0**-53
AXIS_KEYS = ("start", "stop", "num", "spacing", "values", "dist", *DIST_KEYS, "group")
#: Most values of one axis (an assumption: 2^27 float64 coordinates are 1 GiB, held
#: in memory by the driver and every worker).
MAX_AXIS_NUM = 2**27


@dataclass(frozen=True)
class Axis:
    """One swept input: its name and values in stored units.

    The values of a ``start, stop, num`` axis are generated when first read
    (validation and planning never build them: their work is bounded by the
    number of axes, not by ``num``).
    """

    name: str
    unit: str
    spacing: str  # "linear" | "log" | "values"
    start: float | None = None
    stop: float | None = None
    num: int = 0
    explicit: tuple[float, ...] | None = field(default=None, repr=False)
    #: ``""`` (uniform, log-uniform with ``spacing: log``) or a key of :data:`DISTS`
    #: other than those two; its parameters in stored units (normal, truncnormal:
    #: mean, sd; lognormal: median, sdlog; triangular: peak). ``start``/``stop`` are
    #: the support (of normal/lognormal: the :data:`DIST_TAIL` quantiles).
    dist: str = ""
    dist_params: tuple[float, ...] = ()
    #: Factor group of a global analysis (None: the axis is its own group).
    group: str | None = None

    @functools.cached_property
    def values(self) -> np.ndarray:
        if self.explicit is not None:
            return np.asarray(self.explicit, dtype=np.float64)
        if self.spacing == "log":
            return np.geomspace(self.start, self.stop, self.num)
        return np.linspace(self.start, self.stop, self.num)

    @property
    def size(self) -> int:
        return len(self.explicit) if self.explicit is not None else int(self.num)

    @property
    def bounded(self) -> bool:
        return self.start is not None and self.stop is not None

    @property
    def distribution(self) -> str:
        """The input distribution's name (a key of :data:`DISTS`)."""
        if self.dist:
            return self.dist
        return "loguniform" if self.spacing == "log" else "uniform"


def n_factors(axes: tuple[Axis, ...] | list[Axis]) -> int:
    """Factors of a global analysis: the groups (``axes.<x>.group``), an ungrouped axis
    counting as its own group."""
    return len({a.group if a.group is not None else f"\0{a.name}" for a in axes})


def _input_value(reg: Registry, key: str, name: str, value: Any) -> float:
    spec = reg.input(name)
    x = parse_quantity(key, value, spec.unit)
    if math.isnan(x) or math.isinf(x):
        raise ConfigError(f"{key} = {value!r} is not allowed: must be a finite number")
    try:
        spec.check(x)
    except ValueError:
        shown = value if isinstance(value, str) else x
        raise ConfigError(f"{key} = {shown!r} is not allowed: {spec.allowed()}") from None
    return x


_F32 = np.finfo(np.float32)


def _check_float32(key: str, x: float, unit: str) -> None:
    """A value float32 cannot hold (overflow to ±inf, or a non-zero value that
    underflows to 0) is refused for ``precision: float32``."""
    if abs(x) > float(_F32.max) or (x != 0 and np.float32(x) == 0):
        u = f" {unit}" if unit else ""
        raise ConfigError(
            f"{key} = {x!r}{u} is not allowed with precision float32: float32 holds "
            f"magnitudes from {float(_F32.smallest_subnormal):.3g} to {float(_F32.max):.3g} "
            "(use precision float64)"
        )


def _parse_axis(reg: Registry, name: str, body: Any, sampled: bool) -> tuple[Axis, dict]:
    key = f"axes.{name}"
    if not isinstance(body, Mapping):
        raise ConfigError(
            f"{key} = {body!r} is not allowed: use {{start, stop, num[, spacing]}} or {{values: [...]}}"
        )
    for k in body:
        if k not in AXIS_KEYS:
            raise _unknown(k, f"in {key}: ", AXIS_KEYS)
    group = body.get("group")
    if group is not None and (not isinstance(group, str) or not re.fullmatch(r"\w+", group)):
        raise ConfigError(f"{key}.group = {group!r} is not allowed: a name (letters, digits, '_')")
    if "dist" in body or any(k in body for k in DIST_KEYS):
        ax, res = _parse_dist(reg, name, body, sampled)
        if group is not None:
            ax = dataclasses.replace(ax, group=group)
            res["group"] = group
        return ax, res
    if group is not None and not sampled:
        raise ConfigError(
            f"{key}.group is allowed only with a sampled design or 'sweep sensitivity --global' "
            "(factor groups of a global analysis)"
        )
    ax, res = _parse_range_axis(reg, name, body, sampled)
    if group is not None:
        ax = dataclasses.replace(ax, group=group)
        res["group"] = group
    return ax, res


def _spread(reg: Registry, key: str, name: str, value: Any) -> float:
    """A spread (sd) in the input's stored unit: a difference (``2 degC`` is 2 K), > 0."""
    unit = reg.input(name).unit
    if isinstance(value, str) and re.search(r"\bdeg[CF]\b", value):
        value = re.sub(r"\bdeg([CF])\b", r"delta_deg\1", value)
    x = parse_quantity(key, value, unit)
    if not math.isfinite(x) or x <= 0:
        raise ConfigError(f"{key} = {value!r} is not allowed: a spread must be finite and > 0")
    return x


def _parse_dist(reg: Registry, name: str, body: Mapping[str, Any], sampled: bool):
    """An axis given by an input distribution (``dist:``) → (Axis, resolved body)."""
    key = f"axes.{name}"
    spec = reg.input(name)
    dist = body.get("dist", "uniform")
    if dist not in DISTS:
        raise ConfigError(
            f"{key}.dist = {dist!r} is not allowed{suggest(str(dist), DISTS)}; "
            f"allowed: {', '.join(DISTS)}"
        )
    if not sampled:
        raise ConfigError(
            f"{key}.dist is allowed only with a sampled design (design.method sobol, lhs, "
            "random, saltelli, morris, fast) or 'sweep sensitivity --global'; a grid axis "
            "is start/stop/num"
        )
    need = DISTS[dist]
    for k in body:
        if k not in (*need, "dist", "group"):
            raise ConfigError(
                f"{key}.{k} is not allowed with dist {dist}: it takes {', '.join(need)}"
            )
    for k in need:
        if k not in body:
            raise ConfigError(f"{key} with dist {dist} needs {k!r} (it takes {', '.join(need)})")
    if dist in ("uniform", "loguniform"):  # the axis' own form: start, stop[, spacing]
        plain = {k: v for k, v in body.items() if k in ("start", "stop")}
        plain["spacing"] = "log" if dist == "loguniform" else "linear"
        return _parse_range_axis(reg, name, plain, sampled)
    res: dict[str, Any] = {"dist": dist}
    params: tuple[float, ...]
    if dist in ("normal", "truncnormal"):
        mean = _input_value(reg, f"{key}.mean", name, body["mean"]) if dist == "normal" else None
        if mean is None:  # a truncated normal's mean may lie outside the input's range
            mean = parse_quantity(f"{key}.mean", body["mean"], spec.unit)
            if not math.isfinite(mean):
                raise ConfigError(f"{key}.mean = {body['mean']!r} is not allowed: must be finite")
        sd = _spread(reg, f"{key}.sd", name, body["sd"])
        params = (mean, sd)
        res.update({"mean": mean, "sd": sd})
    elif dist == "lognormal":
        median = _input_value(reg, f"{key}.median", name, body["median"])
        if median <= 0:
            raise ConfigError(f"{key}.median = {body['median']!r} is not allowed: must be > 0")
        sdlog = body["sdlog"]
        if isinstance(sdlog, bool) or not isinstance(sdlog, (int, float)):
            raise ConfigError(
                f"{key}.sdlog = {sdlog!r} is not allowed: a bare number > 0 (the sd of ln x)"
            )
        sdlog = float(sdlog)
        if not math.isfinite(sdlog) or sdlog <= 0:
            raise ConfigError(f"{key}.sdlog = {sdlog!r} is not allowed: must be finite and > 0")
        params = (median, sdlog)
        res.update({"median": median, "sdlog": sdlog})
    else:
        params = ()
    if "start" in need:
        start = _input_value(reg, f"{key}.start", name, body["start"])
        stop = _input_value(reg, f"{key}.stop", name, body["stop"])
        if not start < stop:
            raise ConfigError(
                f"{key}: start = {body['start']!r} must be below stop = {body['stop']!r} "
                f"for dist {dist}"
            )
        if not math.isfinite(stop - start):
            raise ConfigError(f"{key}: the range {body['start']!r} … {body['stop']!r} overflows")
        res.update({"start": start, "stop": stop})
        if dist == "triangular":
            peak = _input_value(reg, f"{key}.peak", name, body["peak"])
            if not start <= peak <= stop:
                raise ConfigError(
                    f"{key}.peak = {body['peak']!r} is not allowed: must lie in "
                    f"[start, stop] = [{body['start']!r}, {body['stop']!r}]"
                )
            params = (peak,)
            res["peak"] = peak
    else:  # unbounded: the support sampled is between the DIST_TAIL quantiles
        from scipy.stats import norm  # lazy: scipy.stats takes ~0.3 s; only dists need it

        lo_q, hi_q = float(norm.ppf(DIST_TAIL)), float(norm.ppf(1.0 - DIST_TAIL))
        if dist == "normal":
            start, stop = params[0] + lo_q * params[1], params[0] + hi_q * params[1]
        else:
            start = params[0] * math.exp(lo_q * params[1])
            stop = params[0] * math.exp(hi_q * params[1])
        if not (math.isfinite(start) and math.isfinite(stop)) or start == stop:
            raise ConfigError(f"{key}: dist {dist} with these parameters overflows float64")
        for x in (start, stop):
            try:
                spec.check(x)
            except ValueError:
                raise ConfigError(
                    f"{key}: dist {dist} reaches {x:.6g} {spec.unit} (its {DIST_TAIL:.3g} "
                    f"quantile), outside {name}'s range ({spec.allowed()}): use truncnormal (start/stop) "
                    "or lognormal"
                ) from None
    res["unit"] = spec.unit
    spacing = "log" if dist == "lognormal" else "linear"
    ax = Axis(name, spec.unit, spacing, start, stop, explicit=(start, stop), dist=dist)
    return dataclasses.replace(ax, dist_params=params), res


def _parse_range_axis(reg: Registry, name: str, body: Any, sampled: bool) -> tuple[Axis, dict]:
    key = f"axes.{name}"
    spec = reg.input(name)
    if "values" in body:
        if sampled:
            raise ConfigError(
                f"{key}.values is not allowed with a sampled design: give start and stop"
            )
        extra = [k for k in ("start", "stop", "num", "spacing") if k in body]
        if extra:
            raise ConfigError(f"{key}: give either values or start/stop/num, not both ({extra[0]})")
        vals = body["values"]
        if not isinstance(vals, list) or not vals:
            raise ConfigError(f"{key}.values = {vals!r} is not allowed: must be a non-empty list")
        xs = [_input_value(reg, f"{key}.values[{i}]", name, v) for i, v in enumerate(vals)]
        if len(set(xs)) != len(xs):
            raise ConfigError(f"{key}.values = {vals!r} is not allowed: values must be distinct")
        return Axis(name, spec.unit, "values", explicit=tuple(xs)), {
            "values": xs,
            "unit": spec.unit,
        }
    for k in ("start", "stop"):
        if k not in body:
            raise ConfigError(f"{key} needs {k!r} (or an explicit 'values' list)")
    spacing = body.get("spacing", "linear")
    if spacing not in ("linear", "log"):
        raise ConfigError(f"{key}.spacing = {spacing!r} is not allowed: must be linear or log")
    start = _input_value(reg, f"{key}.start", name, body["start"])
    stop = _input_value(reg, f"{key}.stop", name, body["stop"])
    if spacing == "log" and (start <= 0 or stop <= 0):
        raise ConfigError(
            f"{key}: a log range from {body['start']!r} to {body['stop']!r} passes through zero; "
            "log spacing needs start and stop > 0"
        )
    if spacing == "linear" and not math.isfinite(stop - start):
        raise ConfigError(
            f"{key}: the range {body['start']!r} … {body['stop']!r} is wider than float64 "
            "can hold (its span overflows)"
        )
    if sampled:
        if "num" in body:
            raise ConfigError(f"{key}.num is not allowed with a sampled design (design.n sets it)")
        if start == stop:
            raise ConfigError(f"{key}: start and stop are equal ({body['start']!r}): empty range")
        return Axis(name, spec.unit, spacing, start, stop, explicit=(start, stop)), {
            "start": start,
            "stop": stop,
            "spacing": spacing,
            "unit": spec.unit,
        }
    if "num" not in body:
        raise ConfigError(f"{key} needs 'num' (number of points)")
    num = body["num"]
    if isinstance(num, bool) or not isinstance(num, int) or num < 1:
        raise ConfigError(f"{key}.num = {num!r} is not allowed: must be an integer >= 1")
    if num > 1 and start == stop:
        raise ConfigError(f"{key}: start = stop = {body['start']!r} with num = {num}: empty range")
    if num > MAX_AXIS_NUM:
        raise ConfigError(
            f"{key}.num = {num} is not allowed: at most {MAX_AXIS_NUM:,} values per axis "
            "(its coordinates are held in memory)"
        )
    # start and stop were checked against the input's range; every point of a linear or
    # geometric range lies between them, so the range is valid without building it
    return Axis(name, spec.unit, spacing, start, stop, num), {
        "start": start,
        "stop": stop,
        "num": num,
        "spacing": spacing,
        "unit": spec.unit,
    }
