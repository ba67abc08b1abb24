"""What every kind of figure shares: labels, display units, scales, colours, dimensions.

Labels carry long names and display units (nM/µM for small concentrations);
log-spaced axes get plain-number ticks; codes (modes, polarities, counts,
masks) become categories with colours; ``_check_dims`` decides which
dimensions a figure draws. matplotlib is imported inside the helpers that
need it (see :mod:`sweep.plot`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from itertools import cycle
from typing import Any

import numpy as np

from kernels.solvers import NOT_WRITTEN

from ..spec import ConfigError
from ..units import display_unit
from .data import _suggest

#: Name prefixes of signed quantities whose sign means something (diverging map at 0).
SIGNED_PREFIXES = ("dG_", "df_", "i_", "j_", "sens_", "residual_")


_MODE = {-1: ("reverse", "#d6604d"), 0: ("equilibrium", "#e0e0e0"), 1: ("forward", "#4393c3")}


#: Sequential colour map whose samples colour the integer classes of a count.
COUNT_CMAP = "viridis"


_POLARITY = {
    -1: ("hyperpolarizing", "#4393c3"),
    0: ("neutral", "#e0e0e0"),
    1: ("depolarizing", "#d6604d"),
}


def _display(obj) -> tuple[float, str]:
    """(factor, unit) in which to show ``obj``'s values (nM/µM for small concentrations)."""
    unit = str(obj.attrs.get("units", "") or "")
    vals = np.asarray(obj.values)
    return display_unit(unit, vals if vals.dtype.kind in "fiu" else [])


def _label(obj, name: str) -> str:
    long = obj.attrs.get("long_name") or name
    unit = _display(obj)[1]
    return f"{long} ({unit})" if unit else str(long)


def _scale_ticks(axis, factor: float, log: bool, values) -> None:
    """Tick labels in display units (``factor`` × stored values); the data stay stored."""
    from matplotlib.ticker import FuncFormatter  # lazy: see module note

    if log:
        _log_scale(axis, values, factor)
    elif factor != 1.0:
        axis.set_major_formatter(FuncFormatter(lambda t, _: f"{t * factor:.6g}"))


def _coord_label(da, dim: str) -> str:
    if dim in da.coords:
        return _label(da.coords[dim], dim)
    return dim


def _config_axes(ds) -> dict[str, Any]:
    try:
        return json.loads(ds.attrs.get("config", "{}")).get("axes", {}) or {}
    except (TypeError, ValueError):
        return {}


def _is_log(ds, da, dim: str) -> bool:
    spacing = _config_axes(ds).get(dim, {}).get("spacing") if ds is not None else None
    if spacing is not None:
        return spacing == "log"
    if dim not in da.coords:
        return False
    v = np.asarray(da.coords[dim].values)
    if v.dtype.kind != "f" or v.size < 3 or not np.all(v > 0):
        return False
    r = np.diff(np.log(np.sort(v)))
    return bool(v.max() / v.min() > 20 and np.allclose(r, r[0], rtol=1e-6))


def _log_scale(axis, values: np.ndarray, factor: float = 1.0) -> None:
    """Log scale with plain-number labels (``20``, ``0.001``), minor labels on short ranges.

    Labels show ``factor`` × the value (display units; a power of ten keeps the ticks)."""
    from matplotlib.ticker import FuncFormatter, NullFormatter  # lazy: see module note

    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v) & (v > 0)]
    axis.set_major_formatter(FuncFormatter(lambda t, _: f"{t * factor:.6g}"))
    if v.size and math.log10(v.max() / v.min()) <= 1.5:

        def minor(t, _):
            m = t / 10 ** math.floor(math.log10(t))
            return f"{t * factor:.6g}" if min(abs(m - k) for k in (2, 3, 5)) < 1e-6 else ""

        axis.set_minor_formatter(FuncFormatter(minor))
    else:
        axis.set_minor_formatter(NullFormatter())


def _categories(da, name: str) -> list[tuple[Any, str, str]] | None:
    """[(value, label, colour)] for a code variable (bool or int), else None."""
    kind = da.dtype.kind
    if kind == "b":
        if name == "boundary_cell":
            return [(False, "interior", "#f0f0f0"), (True, "boundary cell", "#222222")]
        if name == "evaluated":
            return [(False, "not evaluated", "#f0f0f0"), (True, "evaluated", "#2166ac")]
        return [(False, "false", "#f0f0f0"), (True, "true", "#4393c3")]
    if kind not in "iu":
        return None
    vals = np.asarray(da.values)
    present = [int(v) for v in np.unique(vals)]
    table: dict[int, tuple[str, str]] | None = None
    if name.startswith("mode_"):
        table = dict(_MODE)
    elif "polarity" in name:
        table = dict(_POLARITY)
    fv, fm = da.attrs.get("flag_values"), da.attrs.get("flag_meanings")
    if fv is not None and fm:
        meanings = str(fm).split()
        if len(meanings) == len(fv):
            base = table or {}
            table = {}
            cycle = _cycle_colours()
            for i, (v, m) in enumerate(zip(fv, meanings, strict=True)):
                colour = base.get(int(v), (None, None))[1] or next(cycle)
                if int(v) == NOT_WRITTEN:
                    colour = "#ffffff"
                table[int(v)] = (base.get(int(v), (m.replace("_", " "), None))[0], colour)
                del i
    if table is None:
        return _count_classes(present)
    for v in present:
        if v not in table:
            table[v] = ("missing" if v == NOT_WRITTEN else str(v), "#ffffff")
    return [(v, table[v][0], table[v][1]) for v in sorted(table)]


def _count_classes(present: Sequence[int]) -> list[tuple[Any, str, str]] | None:
    """One class per integer from the smallest to the largest count present (ordinal colours).

    A count (``ca_i_ss_count``, ``*_nroots``, ``n_states_cell``) is drawn as
    discrete classes, one colour of a sequential map per integer value, also
    for values in between that no point takes (``1`` and ``3`` present: ``2``
    keeps its colour and its tick); the fill value of unwritten points is
    "missing" (white). More than 20 integers read better as a number (None).
    """
    from matplotlib import colormaps  # lazy: see module note
    from matplotlib.colors import to_hex

    counts = [v for v in present if v != NOT_WRITTEN]
    out: list[tuple[Any, str, str]] = []
    if NOT_WRITTEN in present:
        out.append((NOT_WRITTEN, "missing", "#ffffff"))
    if counts:
        lo, hi = min(counts), max(counts)
        n = hi - lo + 1
        if n > 20:
            return None
        cmap = colormaps[COUNT_CMAP]
        # sample the map away from its ends (viridis' last yellow is hard to see on white)
        where = [0.5] if n == 1 else list(np.linspace(0.1, 0.9, n))
        out += [(lo + k, str(lo + k), to_hex(cmap(w))) for k, w in enumerate(where)]
    return out


def _cycle_colours():

    return cycle(
        [
            "#4c72b0",
            "#dd8452",
            "#55a868",
            "#c44e52",
            "#8172b3",
            "#937860",
            "#da8bc3",
            "#8c8c8c",
            "#ccb974",
            "#64b5cd",
        ]
    )


def _is_signed(da, name: str) -> bool:
    return name.startswith(SIGNED_PREFIXES) or da.attrs.get("units") == "kJ/mol"


def _positions(da, dim: str) -> tuple[np.ndarray, list[str] | None]:
    """Numeric positions of a dimension and tick labels for non-numeric coordinates."""
    if dim in da.coords:
        v = np.asarray(da.coords[dim].values)
        if v.dtype.kind in "fiu":
            return v.astype(np.float64), None
        return np.arange(v.size, dtype=np.float64), [str(s) for s in v]
    return np.arange(da.sizes[dim], dtype=np.float64), None


def _title(da, var: str, extra: str = "") -> str:
    t = da.attrs.get("long_name") or var
    sel = da.attrs.get("_sel_text", "")
    parts = [str(t)]
    if extra:
        parts.append(extra)
    if sel:
        parts.append(sel)
    return " — ".join(parts)


def _check_dims(da, var: str, x: str | None, y: str | None) -> tuple[str, str | None]:
    dims = list(da.dims)
    for flag, d in (("--x", x), ("--y", y)):
        if d is not None and d not in dims:
            raise ConfigError(
                f"{flag} {d!r} is not a dimension of {var} after --sel{_suggest(d, dims)}; "
                f"dims left: {', '.join(dims) or 'none'}"
            )
    if x is not None and x == y:
        raise ConfigError(f"--x and --y are both {x!r}: choose two different dimensions")
    if not dims:
        raise ConfigError(f"{var} has no dimension left after --sel: nothing to plot along")
    if x is None:
        if len(dims) == 1:
            x = dims[0]
        else:
            raise ConfigError(f"give --x: {var} has dims {', '.join(dims)} left after --sel")
    rest = [d for d in dims if d not in (x, y)]
    if y is None and rest:
        if len(rest) == 1 and rest[0] != "crossing":
            raise ConfigError(
                f"{var} has 2 dimensions left after --sel ({', '.join(dims)}): give --y "
                f"{rest[0]} for a map, or select it with --sel {rest[0]}=VALUE for a line"
            )
        if rest != ["crossing"]:
            raise ConfigError(
                f"{var} has {len(dims)} dimensions left after --sel ({', '.join(dims)}): "
                f"select {', '.join(rest)} with --sel AXIS=VALUE (plots show 1 or 2 dims)"
            )
    if y is not None and rest:
        raise ConfigError(
            f"{var} has {len(dims)} dimensions left after --sel ({', '.join(dims)}): "
            f"select {', '.join(rest)} with --sel AXIS=VALUE (a map shows 2 dims)"
        )
    return x, y
