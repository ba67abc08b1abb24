"""Phase maps, line plots and sensitivity bars from sweep stores (``sweep plot``).

What is drawn follows from the variable and the dimensions left after ``sel``:

- two dimensions: a phase map (``pcolormesh``). Mode and polarity codes (int8)
  get a categorical colour map with labelled ticks (reverse / equilibrium /
  forward; hyperpolarizing / neutral / depolarizing); counts (int, no flags:
  ``ca_i_ss_count``, ``*_nroots``, ``n_states_cell``) one colour of a
  sequential map per integer with a tick at each; ΔG, driving forces,
  currents and fluxes a diverging map centred on 0; other quantities a
  sequential map. The boundary is overlaid: the 0 contour of a signed
  quantity, or the mode change of a code, as a labelled line ("(grid)") that
  later ``ax.legend()`` calls keep and the legend avoids. A boundary store
  (``sweep boundary --along``) can be overlaid as the refined boundary line
  (below the grid line) with ``side_*`` markers.
- one dimension: a line plot (one line per crossing for boundary variables,
  with the closed form when the store has it).
- an ``input`` dimension (global sensitivity indices S1 / ST / mu_star with
  dims (output, input)): a ranked bar plot, error bars from ``<VAR>_conf``.

Selections (``sel``) take the nearest coordinate value for float coordinates
(values may carry units: ``ca_i=100nM``). Matplotlib's Agg backend is used
through :class:`matplotlib.figure.Figure` (no pyplot state), so plotting is
safe in threads and headless. matplotlib is imported inside the functions
that draw: it takes ~0.5 s to load, which the other commands should not pay.
Text reports live in :mod:`sweep.report`, the command in :mod:`sweep.cli.plot`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from itertools import cycle
from pathlib import Path
from typing import Any

import numpy as np

from kernels.registry import REGISTRY, suggest
from kernels.solvers import NOT_WRITTEN

from .spec import ConfigError
from .units import derivative, display_unit, parse_quantity, pretty_unit

__all__ = [
    "open_store",
    "parse_sel",
    "select",
    "plot",
    "plot_map",
    "plot_line",
    "plot_bars",
    "save_figure",
]

FIGSIZE = (6.4, 4.8)
DEFAULT_DPI = 150
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


# --- data access ----------------------------------------------------------------
def open_store(path: str | Path):
    """Open a store with xarray (``ConfigError`` if it is not there or not a store)."""
    import xarray as xr  # lazy: xarray takes ~1 s to import; `sweep list` never needs it

    p = Path(path)
    if not p.exists():
        raise ConfigError(f"store {str(path)!r} does not exist")
    try:
        try:
            return xr.open_zarr(p, consolidated=True)
        except (KeyError, FileNotFoundError, ValueError):  # no consolidated metadata
            return xr.open_zarr(p, consolidated=False)
    except Exception as exc:  # zarr/xarray raise several kinds for a non-store
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError(f"store {str(path)!r} cannot be opened as a zarr store: {msg}") from None


def parse_sel(items: Sequence[str] | None) -> dict[str, str]:
    """``["ca_i=100nM", "crossing=0"]`` → ``{"ca_i": "100nM", "crossing": "0"}``."""
    out: dict[str, str] = {}
    for item in items or ():
        for part in str(item).split(","):
            if not part.strip():
                continue
            if "=" not in part:
                raise ConfigError(f"--sel {part!r} is not allowed: use AXIS=VALUE, e.g. ca_i=100nM")
            k, v = (s.strip() for s in part.split("=", 1))
            if not k or not v:
                raise ConfigError(f"--sel {part!r} is not allowed: use AXIS=VALUE, e.g. ca_i=100nM")
            if k in out:
                raise ConfigError(f"--sel {k!r} is given twice")
            out[k] = v
    return out


def _suggest(name: str, choices) -> str:
    return suggest(str(name), list(choices))


def _variable(ds, var: str):
    if var not in ds.data_vars:
        names = sorted(ds.data_vars)
        raise ConfigError(
            f"unknown variable {var!r}{_suggest(var, names)}; variables: {', '.join(names)}"
        )
    return ds[var]


def _sel_value(da, dim: str, text: Any) -> Any:
    """The coordinate value of ``dim`` that ``text`` selects (nearest for numbers)."""
    if dim not in da.coords:
        try:
            i = int(str(text))
        except ValueError:
            raise ConfigError(
                f"--sel {dim}={text!r}: {dim} has no coordinate; give an index"
            ) from None
        if not 0 <= i < da.sizes[dim]:
            raise ConfigError(f"--sel {dim}={i} is out of range: 0..{da.sizes[dim] - 1}")
        return ("index", i)
    coord = da.coords[dim]
    vals = coord.values
    if vals.dtype.kind in "USOT":
        choices = [str(v) for v in vals]
        if str(text) not in choices:
            raise ConfigError(
                f"--sel {dim}={text!r} is not allowed{_suggest(str(text), choices)}; "
                f"{dim}: {', '.join(choices)}"
            )
        return ("value", vals[choices.index(str(text))])
    if isinstance(text, (int, float, np.number)) and not isinstance(text, bool):
        x = float(text)
    else:
        unit = str(coord.attrs.get("units", "") or "")
        s = str(text).strip()
        try:
            x = float(s)
        except ValueError:
            try:
                x = parse_quantity(f"--sel {dim}", s, unit)
            except ValueError as exc:
                raise ConfigError(str(exc)) from None
    if not math.isfinite(x):
        raise ConfigError(f"--sel {dim}={text!r} is not allowed: must be a finite number")
    if vals.size > 1 and vals.dtype.kind in "fiu":
        lo, hi = float(np.nanmin(vals)), float(np.nanmax(vals))
        sv = np.sort(vals)
        step_lo, step_hi = float(sv[1] - sv[0]), float(sv[-1] - sv[-2])
        if x < lo - step_lo or x > hi + step_hi:
            u = coord.attrs.get("units", "")
            raise ConfigError(
                f"--sel {dim}={text!r} is outside the coordinate range {lo:.6g} … {hi:.6g} {u}".rstrip()
            )
    return ("nearest", x)


def select(ds, var: str, sel: Mapping[str, Any] | None = None):
    """``ds[var]`` with ``sel`` applied (nearest neighbour for float coordinates).

    Parameters
    ----------
    ds : xarray.Dataset
        A sweep, boundary or sensitivity store.
    var : str
        Variable name.
    sel : mapping, optional
        Dimension -> value (number in the coordinate's units, a string with a
        unit such as ``"100 nM"``, or a label for string coordinates).

    Returns
    -------
    xarray.DataArray
        The selected variable, loaded, with a ``_sel_text`` attribute describing the selection.
    """
    da = _variable(ds, var)
    text = []
    sel = dict(sel or {})
    if "wrt" in sel and "units_by_wrt" in da.attrs:  # one derivative, with its own unit
        w = str(sel.pop("wrt"))
        if w not in da.attrs["units_by_wrt"]:
            raise ConfigError(
                f"--sel wrt={w!r} is not allowed{_suggest(w, list(da.attrs['units_by_wrt']))}; "
                f"wrt: {', '.join(da.attrs['units_by_wrt'])}"
            )
        da = derivative(da, w)
        text.append(f"wrt = {w}")
    for dim, v in sel.items():
        if dim not in da.dims:
            dims = ", ".join(da.dims) or "none"
            raise ConfigError(
                f"--sel {dim!r} is not a dimension of {var}{_suggest(dim, da.dims)}; dims: {dims}"
            )
        kind, value = _sel_value(da, dim, v)
        if kind == "index":
            da = da.isel({dim: value})
            text.append(f"{dim} = {value}")
        elif kind == "value":
            da = da.sel({dim: value})
            text.append(f"{dim} = {value}")
        else:
            da = da.sel({dim: value}, method="nearest")
            got = float(da.coords[dim].values)
            unit = da.coords[dim].attrs.get("units", "")
            text.append(f"{dim} = {got:.4g} {_pretty_unit(unit)}".rstrip())
    da = da.load()
    da.attrs = {**da.attrs, "_sel_text": ", ".join(text)}
    return da


# --- styling helpers -----------------------------------------------------------------
def _pretty_unit(unit: str) -> str:
    return pretty_unit(unit)


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


def _new_axes(ax):
    from matplotlib.figure import Figure  # lazy: see module note

    if ax is not None:
        return ax.figure, ax
    fig = Figure(figsize=FIGSIZE, layout="constrained")
    return fig, fig.add_subplot()


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


# --- plots -------------------------------------------------------------------------
def plot(
    ds,
    var: str,
    *,
    x: str | None = None,
    y: str | None = None,
    sel: Mapping[str, Any] | None = None,
    ax=None,
    boundary=None,
    title: str | None = None,
):
    """Plot ``var`` the way its dimensions and type call for (map, line or bars).

    Parameters
    ----------
    ds : xarray.Dataset
        A store opened with :func:`open_store` / ``xarray.open_zarr``.
    var : str
        Variable to plot.
    x, y : str, optional
        Dimensions on the horizontal / vertical axis (``y`` → a map).
    sel : mapping, optional
        Dimension -> value for the other dimensions (see :func:`select`).
    ax : matplotlib Axes, optional
        Draw into these axes (default: a new figure).
    boundary : xarray.Dataset, optional
        A ``sweep boundary --along`` store to overlay on a map.
    title : str, optional
        Title (default: the variable's long name and the selection).

    Returns
    -------
    matplotlib.figure.Figure
    """
    if var in ("sobol", "morris") and var not in ds.variables:
        fn = plot_sobol if var == "sobol" else plot_morris
        return fn(ds, sel=sel, ax=ax, title=title)
    da = _variable(ds, var)
    if "input" in da.dims:
        return plot_bars(ds, var, x=x, sel=sel, ax=ax, title=title)
    if "sample" in da.dims and y is None and x != "sample":
        return plot_samples(ds, var, x=x, sel=sel, title=title)
    if y is None:
        return plot_line(ds, var, x=x, sel=sel, ax=ax, title=title)
    return plot_map(ds, var, x=x, y=y, sel=sel, ax=ax, boundary=boundary, title=title)


def plot_map(
    ds,
    var: str,
    x: str | None = None,
    y: str | None = None,
    sel: Mapping[str, Any] | None = None,
    ax=None,
    *,
    boundary=None,
    title: str | None = None,
):
    """Phase map of ``var`` over ``x`` × ``y`` (a line plot when ``y`` is None).

    Codes get a categorical colour map with labelled ticks and their change
    outlined; signed quantities a diverging map centred on 0 with the 0
    contour; others a sequential map. Axis labels and the colour bar carry
    long names and units from the attributes; log-spaced axes are drawn on a
    log scale. ``boundary`` overlays the refined boundary of a
    ``sweep boundary --along`` store whose axis is ``x`` or ``y``.

    Returns
    -------
    matplotlib.figure.Figure
    """
    if y is None:
        return plot_line(ds, var, x=x, sel=sel, ax=ax, title=title)
    da = select(ds, var, sel)
    x, y = _check_dims(da, var, x, y)
    da2 = da.transpose(y, x)
    xs, xlab = _positions(da2, x)
    ys, ylab = _positions(da2, y)
    data = np.asarray(da2.values)
    fig, ax = _new_axes(ax)
    cats = _categories(da2, var)
    handles = []
    # lazy: see module note
    from matplotlib.colors import BoundaryNorm, CenteredNorm, ListedColormap
    from matplotlib.lines import Line2D  # lazy: see module note

    if cats is not None:
        values = np.array([c[0] for c in cats], dtype=np.float64)
        cmap = ListedColormap([c[2] for c in cats])
        edges = np.concatenate(
            [[values[0] - 0.5], (values[1:] + values[:-1]) / 2.0, [values[-1] + 0.5]]
        )
        norm = BoundaryNorm(edges, cmap.N)
        z = data.astype(np.float64)
        mesh = ax.pcolormesh(xs, ys, z, cmap=cmap, norm=norm, shading="nearest")
        cb = fig.colorbar(mesh, ax=ax, ticks=values)
        cb.ax.set_yticklabels([c[1] for c in cats])
        cb.set_label(_label(da2, var))
        # outline region changes of codes (not of masks such as 'evaluated')
        if da2.dtype.kind != "b" and len(np.unique(z)) > 1 and min(z.shape) >= 2:
            if set(values) >= {-1.0, 1.0} and (var.startswith("mode_") or "polarity" in var):
                levels = [0.0]
            else:
                present = np.unique(z)
                levels = list((present[1:] + present[:-1]) / 2.0)
            if var.startswith("mode_"):
                what = "mode change"
            elif "polarity" in var:
                what = "polarity change"
            elif "flag_values" not in da2.attrs:  # a count: legends by long name
                what = f"change in {da2.attrs.get('long_name') or var}"
            else:
                what = "boundary"
            handles.append(_grid_line(ax, xs, ys, z, levels, f"{what} (grid)"))
    else:
        z = data.astype(np.float64)
        signed = _is_signed(da2, var)
        finite = z[np.isfinite(z)]
        if signed:
            mesh = ax.pcolormesh(
                xs, ys, z, cmap="RdBu_r", norm=CenteredNorm(vcenter=0.0), shading="nearest"
            )
        else:
            mesh = ax.pcolormesh(xs, ys, z, cmap="viridis", shading="nearest")
        cb = fig.colorbar(mesh, ax=ax)
        cb.set_label(_label(da2, var))
        _scale_ticks(cb.ax.yaxis, _display(da2)[0], False, None)
        if finite.size < z.size:
            what = "no crossing (NaN)" if var.startswith("boundary_") else "no value (NaN)"
            handles.append(
                Line2D([], [], ls="none", marker="s", ms=9, mfc="white", mec="0.4", label=what)
            )
        if signed and finite.size and finite.min() < 0 < finite.max() and min(z.shape) >= 2:
            long = da2.attrs.get("long_name") or var  # legends by long name
            handles.append(_grid_line(ax, xs, ys, z, [0.0], f"{long} = 0 (grid)"))
    if boundary is not None:
        handles += _overlay_boundary(ax, boundary, da, x, y, sel)
    ax.set_xlabel(_coord_label(da2, x))
    ax.set_ylabel(_coord_label(da2, y))
    if xlab is not None:
        ax.set_xticks(xs, xlab, rotation=45, ha="right")
    else:
        logx = _is_log(ds, da2, x)
        if logx:
            ax.set_xscale("log")
        _scale_ticks(ax.xaxis, _display(da2.coords[x])[0] if x in da2.coords else 1.0, logx, xs)
    if ylab is not None:
        ax.set_yticks(ys, ylab)
    else:
        logy = _is_log(ds, da2, y)
        if logy:
            ax.set_yscale("log")
        _scale_ticks(ax.yaxis, _display(da2.coords[y])[0] if y in da2.coords else 1.0, logy, ys)
    _legend(ax, handles)
    ax.set_title(title if title is not None else _title(da, var), fontsize="medium")
    return fig


#: zorder of the lines over a map: the refined boundary's white halo, the grid
#: boundary above it (never hidden where the two coincide), the refined dashes on top.
Z_HALO, Z_GRID, Z_REFINED, Z_SIDE = 3.0, 3.5, 4.0, 5.0


def _grid_line(ax, xs: np.ndarray, ys: np.ndarray, z: np.ndarray, levels, label: str):
    """The grid boundary (``levels`` contours of ``z`` on the grid) as one labelled line.

    A :class:`~matplotlib.lines.Line2D` rather than a contour set: it is in
    the legend of any later ``ax.legend()`` call, the legend's ``"best"``
    placement avoids it (contour sets are ignored there) and it draws above
    the white halo of a refined boundary overlay. Segments are joined with NaN.
    """
    import contourpy  # lazy: matplotlib's contouring library, loaded with it

    gen = contourpy.contour_generator(
        np.asarray(xs, np.float64), np.asarray(ys, np.float64), np.ma.masked_invalid(z)
    )
    px: list[float] = []
    py: list[float] = []
    for level in levels:
        for seg in gen.lines(float(level)):
            px += [*seg[:, 0], np.nan]
            py += [*seg[:, 1], np.nan]
    (line,) = ax.plot(px, py, color="k", lw=1.0, zorder=Z_GRID, label=label)
    return line


def _legend(ax, handles: list) -> None:
    """Draw the legend of ``handles``; proxies (no data) join the axes so a later
    ``ax.legend()`` keeps them."""
    if not handles:
        return
    for h in handles:
        if h.axes is None:
            ax.add_line(h)
    ax.legend(handles=handles, loc="best", fontsize="small", framealpha=0.85)


def _overlay_boundary(ax, bds, da, x: str, y: str, sel) -> list:
    """Draw ``boundary_<x or y>`` from a boundary store; returns legend handles."""
    from matplotlib.lines import Line2D  # lazy: see module note

    along = bds.attrs.get("boundary_along")
    if along not in (x, y):
        raise ConfigError(
            f"--boundary store locates crossings along {along!r}, which is neither --x {x!r} "
            f"nor --y {y!r}"
        )
    other = y if along == x else x
    name = f"boundary_{along}"
    if name not in bds.data_vars:
        raise ConfigError(f"--boundary store has no variable {name!r}")
    bsel = {k: v for k, v in (sel or {}).items() if k in bds[name].dims}
    b = select(bds, name, bsel)
    left = [d for d in b.dims if d not in (other, "crossing")]
    if left or other not in b.dims:
        raise ConfigError(
            f"--boundary variable {name} has dims {', '.join(b.dims)} after --sel: it must "
            f"vary along {other!r} (and crossing) only; select the others with --sel"
        )
    b = b.transpose(other, "crossing")
    pos, _ = _positions(b, other)
    vals = np.asarray(b.values)
    first = True
    for k in range(vals.shape[1]):
        col = vals[:, k]
        if not np.isfinite(col).any():
            continue
        xy = (col, pos) if along == x else (pos, col)
        ax.plot(*xy, color="w", lw=2.2, ls="-", zorder=Z_HALO, label="_halo")
        ax.plot(*xy, color="k", lw=1.0, ls="--", zorder=Z_REFINED, label="_refined")
        first = False
    if first:
        return []
    out = bds.attrs.get("boundary_output", "output")
    known = REGISTRY.outputs.get(out)
    out = known.long_name if known is not None else out  # legends by long name
    lvl = bds.attrs.get("boundary_level", 0.0)
    cf = bds.attrs.get("closed_form")
    label = f"{out} = {lvl:g}, refined" + (f" (= {cf})" if cf else "")
    handles = [Line2D([], [], color="k", lw=1.0, ls="--", label=label)]
    side = f"side_{along}"
    if side in bds.data_vars:  # which side of each crossing lies above the level
        sd = select(bds, side, bsel).transpose(other, "crossing")
        sv = np.asarray(sd.values).astype(np.int64)
        up, down = (">", "<") if along == x else ("^", "v")
        for code, marker in ((1, up), (-1, down)):
            m = (sv == code) & np.isfinite(vals)
            if not m.any():
                continue
            where = np.broadcast_to(np.asarray(pos)[:, None], vals.shape)[m]
            xy = (vals[m], where) if along == x else (where, vals[m])
            ax.plot(
                *xy,
                ls="none",
                marker=marker,
                ms=5,
                mfc="w",
                mec="k",
                mew=0.8,
                zorder=Z_SIDE,
                label=f"_side{code}",
            )
        arrow = "▶" if along == x else "▲"
        handles.append(
            Line2D(
                [],
                [],
                ls="none",
                marker=up,
                ms=5,
                mfc="w",
                mec="k",
                mew=0.8,
                label=f"{out} > {lvl:g} on the {arrow} side",
            )
        )
    return handles


def plot_line(
    ds,
    var: str,
    x: str | None = None,
    sel: Mapping[str, Any] | None = None,
    ax=None,
    *,
    title: str | None = None,
):
    """Line plot of ``var`` along ``x``: codes as labelled steps, signed quantities with 0 marked.

    A leftover ``crossing`` dimension (boundary stores) draws one line per
    crossing, and the store's closed form, when present, as a dashed line.

    Returns
    -------
    matplotlib.figure.Figure
    """
    da = select(ds, var, sel)
    x, _ = _check_dims(da, var, x, None)
    fig, ax = _new_axes(ax)
    xs, xlab = _positions(da, x)
    cats = _categories(da, var) if "crossing" not in da.dims else None
    if "crossing" in da.dims and x != "crossing":
        d2 = da.transpose(x, "crossing")
        vals = np.asarray(d2.values, dtype=np.float64)
        for k in range(vals.shape[1]):
            if np.isfinite(vals[:, k]).any():
                ax.plot(xs, vals[:, k], marker=".", ms=3, lw=1.2, label=f"crossing {k}")
        cf = ds.attrs.get("closed_form")
        if cf and cf in ds.data_vars and set(ds[cf].dims) <= set(da.coords) | {x}:
            csel = {k: v for k, v in (sel or {}).items() if k in ds[cf].dims}
            c = select(ds, cf, csel)
            if c.dims == (x,):
                long = str(c.attrs.get("long_name") or cf)  # legends by long name
                long = long.removeprefix("closed form: ")
                ax.plot(
                    xs, np.asarray(c.values), "k--", lw=1.0, label=f"closed form: {long} ({cf})"
                )
        ax.legend(fontsize="small")
    elif cats is not None:
        v = np.asarray(da.values).astype(np.float64)
        ax.step(xs, v, where="mid", color="k", lw=1.2)
        ax.set_yticks([c[0] for c in cats], [c[1] for c in cats])
        ax.set_ylim(min(c[0] for c in cats) - 0.5, max(c[0] for c in cats) + 0.5)
    else:
        v = np.asarray(da.values).astype(np.float64)
        ax.plot(xs, v, lw=1.5)
        if _is_signed(da, var):
            ax.axhline(0.0, color="0.5", lw=0.8, ls="--")
    ax.set_xlabel(_coord_label(da, x))
    ax.set_ylabel(_label(da, var))
    if xlab is not None:
        ax.set_xticks(xs, xlab, rotation=45, ha="right")
    else:
        logx = _is_log(ds, da, x)
        if logx:
            ax.set_xscale("log")
        _scale_ticks(ax.xaxis, _display(da.coords[x])[0] if x in da.coords else 1.0, logx, xs)
    if cats is None:
        _scale_ticks(ax.yaxis, _display(da)[0], False, None)
    ax.grid(True, alpha=0.3)
    ax.set_title(title if title is not None else _title(da, var), fontsize="medium")
    return fig


def plot_bars(
    ds,
    var: str,
    x: str | None = None,
    sel: Mapping[str, Any] | None = None,
    ax=None,
    *,
    title: str | None = None,
):
    """Ranked bar plot of a sensitivity index over its ``input`` dimension.

    Select one output with ``sel={"output": NAME}`` (automatic when there is
    one); error bars come from ``<var>_conf`` when the store has it.

    Returns
    -------
    matplotlib.figure.Figure
    """
    da = _variable(ds, var)
    sel = dict(sel or {})
    if "output" in da.dims and "output" not in sel:
        if da.sizes["output"] == 1:
            sel["output"] = str(da.coords["output"].values[0]) if "output" in da.coords else 0
        else:
            outs = [str(v) for v in da.coords["output"].values] if "output" in da.coords else []
            raise ConfigError(
                f"{var} has an 'output' dimension: select one with --sel output=NAME "
                f"({', '.join(outs)})"
            )
    if x is not None and x != "input":
        raise ConfigError(f"--x {x!r} is not allowed for {var}: bars are drawn over 'input'")
    d = select(ds, var, sel)
    if d.dims != ("input",):
        rest = [k for k in d.dims if k != "input"]
        raise ConfigError(
            f"{var} has dims {', '.join(d.dims)} left after --sel: select {', '.join(rest)} "
            "with --sel AXIS=VALUE (bars show one index per input)"
        )
    vals = np.asarray(d.values, dtype=np.float64)
    names = [str(v) for v in d.coords["input"].values] if "input" in d.coords else []
    if not names:
        names = [str(i) for i in range(vals.size)]
    err = None
    conf = f"{var}_conf"
    if conf in ds.data_vars:
        csel = {k: v for k, v in sel.items() if k in ds[conf].dims}
        err = np.asarray(select(ds, conf, csel).values, dtype=np.float64)
    order = np.argsort(np.where(np.isfinite(vals), -vals, np.inf), kind="stable")
    fig, ax = _new_axes(ax)
    pos = np.arange(vals.size)
    ax.barh(
        pos,
        vals[order],
        xerr=None if err is None else np.abs(err[order]),
        color="#4c72b0",
        ecolor="k",
        capsize=3,
    )
    ax.set_yticks(pos, [names[i] for i in order])
    ax.invert_yaxis()
    ax.axvline(0.0, color="0.5", lw=0.8)
    ax.set_xlabel(_label(d, var))
    ax.set_ylabel("input (ranked)")
    ax.grid(True, axis="x", alpha=0.3)
    ax.set_title(title if title is not None else _title(d, var), fontsize="medium")
    return fig


def _one_output(ds, var: str, sel: Mapping[str, Any] | None) -> dict[str, Any]:
    sel = dict(sel or {})
    da = _variable(ds, var)
    if "output" in da.dims and "output" not in sel:
        outs = [str(v) for v in da.coords["output"].values]
        if len(outs) != 1:
            raise ConfigError(
                f"{var} has an 'output' dimension: select one with --sel output=NAME "
                f"({', '.join(outs)})"
            )
        sel["output"] = outs[0]
    return sel


def _conf(ds, name: str, sel: Mapping[str, Any]) -> np.ndarray | None:
    if name not in ds.data_vars:
        return None
    csel = {k: v for k, v in sel.items() if k in ds[name].dims}
    return np.abs(np.asarray(select(ds, name, csel).values, dtype=np.float64))


def plot_sobol(ds, sel: Mapping[str, Any] | None = None, ax=None, *, title: str | None = None):
    """Sobol' first-order (S1) and total (ST) indices side by side per input, ranked by ST.

    Error bars are SALib's confidence intervals (``S1_conf``, ``ST_conf``).

    Returns
    -------
    matplotlib.figure.Figure
    """
    for v in ("S1", "ST"):
        if v not in ds.data_vars:
            raise ConfigError("'sobol' needs S1 and ST in the store (a --global sobol result)")
    sel = _one_output(ds, "S1", sel)
    s1 = select(ds, "S1", sel)
    st = select(ds, "ST", sel)
    names = [str(v) for v in s1.coords["input"].values]
    a, b = (np.asarray(d.values, dtype=np.float64) for d in (s1, st))
    ea, eb = _conf(ds, "S1_conf", sel), _conf(ds, "ST_conf", sel)
    order = np.argsort(np.where(np.isfinite(b), -b, np.inf), kind="stable")
    fig, ax = _new_axes(ax)
    pos = np.arange(len(names))
    h = 0.38
    kw = {"ecolor": "k", "capsize": 3}
    ax.barh(
        pos - h / 2,
        a[order],
        h,
        xerr=None if ea is None else ea[order],
        color="#4c72b0",
        label="S1 (first order)",
        **kw,
    )
    ax.barh(
        pos + h / 2,
        b[order],
        h,
        xerr=None if eb is None else eb[order],
        color="#dd8452",
        label="ST (total)",
        **kw,
    )
    ax.set_yticks(pos, [names[i] for i in order])
    ax.invert_yaxis()
    ax.axvline(0.0, color="0.5", lw=0.8)
    ax.set_xlabel("Sobol' index (fraction of output variance)")
    ax.set_ylabel("input (ranked by ST)")
    ax.legend(fontsize="small", loc="lower right")
    ax.grid(True, axis="x", alpha=0.3)
    out = sel.get("output", "")
    ax.set_title(title if title is not None else f"Sobol' indices of {out}", fontsize="medium")
    return fig


def plot_morris(ds, sel: Mapping[str, Any] | None = None, ax=None, *, title: str | None = None):
    """Morris screening: μ* against σ per input, μ* with its confidence interval.

    Inputs far right are influential; high σ/μ* means non-linear or interacting
    (Campolongo et al. 2007 Environ Model Softw 22:1509).

    Returns
    -------
    matplotlib.figure.Figure
    """
    for v in ("mu_star", "sigma"):
        if v not in ds.data_vars:
            raise ConfigError(
                "'morris' needs mu_star and sigma in the store (a --global morris result)"
            )
    sel = _one_output(ds, "mu_star", sel)
    mu = select(ds, "mu_star", sel)
    sg = select(ds, "sigma", sel)
    names = [str(v) for v in mu.coords["input"].values]
    m, s_ = (np.asarray(d.values, dtype=np.float64) for d in (mu, sg))
    conf = _conf(ds, "mu_star_conf", sel)
    fig, ax = _new_axes(ax)
    ax.errorbar(
        m, s_, xerr=conf, fmt="o", color="#4c72b0", ecolor="k", capsize=3, label="μ* ± confidence"
    )
    for xi, yi, n in zip(m, s_, names, strict=True):
        ax.annotate(n, (xi, yi), textcoords="offset points", xytext=(4, 4), fontsize="small")
    top = float(np.nanmax(np.concatenate([m, s_]))) if m.size else 1.0
    ax.plot([0, top], [0, top], color="0.5", lw=0.8, ls="--", label="σ = μ*")
    unit = _display(mu)[1]
    ax.set_xlabel("μ* (mean |elementary effect|)" + (f" ({unit})" if unit else ""))
    ax.set_ylabel("σ (spread of elementary effects)" + (f" ({unit})" if unit else ""))
    ax.set_xlim(left=0)
    ax.set_ylim(bottom=0)
    ax.legend(fontsize="small", loc="upper left")
    ax.grid(True, alpha=0.3)
    out = sel.get("output", "")
    ax.set_title(title if title is not None else f"Morris screening of {out}", fontsize="medium")
    return fig


def plot_samples(
    ds,
    var: str,
    x: str | None = None,
    sel: Mapping[str, Any] | None = None,
    *,
    title: str | None = None,
):
    """A sampled design's output against its inputs: one scatter panel per input.

    ``x`` (an input coordinate along ``sample``) draws that panel only. Code
    outputs are coloured by class.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.figure import Figure  # lazy: see module note

    da = select(ds, var, sel)
    if da.dims != ("sample",):
        raise ConfigError(
            f"{var} has dims {', '.join(da.dims)} after --sel: a sampled design plots along "
            "'sample' (select the others with --sel)"
        )
    inputs = [c for c in da.coords if c != "sample" and da.coords[c].dims == ("sample",)]
    if x is not None:
        if x not in inputs:
            raise ConfigError(
                f"--x {x!r} is not an input of the design{_suggest(x, inputs)}; "
                f"inputs: {', '.join(inputs)}"
            )
        inputs = [x]
    n = len(inputs)
    cols = min(n, 3)
    rows = math.ceil(n / cols)
    fig = Figure(figsize=(4.2 * cols, 3.4 * rows), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    y = np.asarray(da.values)
    cats = _categories(da, var)
    for ax, name in zip(axes, inputs, strict=False):
        xs = np.asarray(da.coords[name].values, dtype=np.float64)
        if cats is not None:
            for v, lab, colour in cats:
                m = y == v
                if m.any():
                    ax.scatter(
                        xs[m], y[m].astype(float), s=8, color=colour, label=lab, edgecolors="none"
                    )
            ax.set_yticks([c[0] for c in cats], [c[1] for c in cats])
        else:
            ax.scatter(xs, y.astype(float), s=6, alpha=0.6, color="#4c72b0", edgecolors="none")
            _scale_ticks(ax.yaxis, _display(da)[0], False, None)
        log = _is_log(ds, da, name)
        if log:
            ax.set_xscale("log")
        _scale_ticks(ax.xaxis, _display(da.coords[name])[0], log, xs)
        ax.set_xlabel(_coord_label(da, name))
        ax.set_ylabel(_label(da, var))
        ax.grid(True, alpha=0.3)
    for ax in axes[n:]:
        ax.set_visible(False)
    if cats is not None and n:
        axes[0].legend(fontsize="small", markerscale=2)
    fig.suptitle(title if title is not None else _title(da, var), fontsize="medium")
    return fig


def _break_jumps(y: np.ndarray, classes: np.ndarray | None, factor: float = 1.2) -> np.ndarray:
    """NaN between samples where a branch output jumps to another branch (no line across a fold)."""
    y = np.array(y, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.abs(np.log(y[1:] / y[:-1]))
    jump = ratio > np.log(factor)
    if classes is not None:
        jump &= classes[1:] != classes[:-1]
    out = y.copy()
    out[1:][jump] = np.nan
    return out


def plot_bifurcation(
    ds,
    x: str,
    sel: Mapping[str, Any] | None = None,
    ax=None,
    *,
    stable: Sequence[str] = ("ca_i_ss_low", "ca_i_ss_high"),
    unstable: Sequence[str] = ("ca_i_ss_mid",),
    count: str | None = "ca_i_ss_nstable",
    folds=None,
    title: str | None = None,
):
    """Bifurcation diagram along ``x``: stable branches solid, unstable dashed, folds marked.

    ``ds`` is a sweep store with the branch outputs (``ca_i_ss_low``,
    ``ca_i_ss_high``, ``ca_i_ss_mid``; kernels.branches) over axis ``x``;
    ``sel`` picks one point of every other axis. ``folds`` is a boundary
    dataset of ``ca_fold_margin`` along ``x`` (``sweep.boundary_along``):
    its crossings are drawn as vertical dotted lines. Lines never join two
    branches across a fold (a jump where the number of stable states changes
    breaks the line).

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, ax = _new_axes(ax)
    first = select(ds, stable[0], sel)
    x, _ = _check_dims(first, stable[0], x, None)
    xs, _ = _positions(first, x)
    classes = None
    if count and count in ds.data_vars:
        classes = np.asarray(select(ds, count, sel).values)
    drawn = []
    for names, style, label in ((stable, "-", "stable"), (unstable, "--", "unstable")):
        for k, name in enumerate(names):
            if name not in ds.data_vars:
                raise ConfigError(
                    f"plot_bifurcation: {name!r} is not in the store{_suggest(name, ds.data_vars)}"
                )
            y = _break_jumps(np.asarray(select(ds, name, sel).values), classes)
            colour = "k" if style == "-" else "C3"
            (line,) = ax.plot(
                xs, y, style, color=colour, lw=2.0 if style == "-" else 1.5,
                label=label if k == 0 else None,
            )  # fmt: skip
            drawn.append(line)
    if folds is not None:
        var = f"boundary_{x}"
        fsel = {k: v for k, v in (sel or {}).items() if k in folds[var].dims}
        f = np.asarray(select(folds, var, fsel).values, dtype=np.float64).ravel()
        for i, t in enumerate(f[np.isfinite(f)]):
            ax.axvline(
                t, color="C0", ls=":", lw=1.2, label="fold (saddle-node)" if i == 0 else None
            )
    ax.set_xlabel(_coord_label(first, x))
    ax.set_ylabel(_label(first, stable[0]).replace("low stable ", "").replace(" branch", ""))
    ax.set_yscale("log")  # concentrations span decades across a fold
    # tick labels in the unit the label names (the data stay in stored units)
    ys = np.concatenate([np.ravel(ln.get_ydata()) for ln in drawn]).astype(np.float64)
    _log_scale(ax.yaxis, ys, _display(first)[0])
    if _is_log(ds, first, x):
        ax.set_xscale("log")
        _log_scale(ax.xaxis, xs)
    ax.grid(True, alpha=0.3, which="both")
    ax.legend(fontsize="small")
    if title is None:
        where = ", ".join(f"{k} = {v}" for k, v in (sel or {}).items())
        title = f"Steady states along {_coord_label(first, x)}" + (f" ({where})" if where else "")
    ax.set_title(title, fontsize="medium")
    return fig


def save_figure(fig, path: str | Path, dpi: int = DEFAULT_DPI) -> Path:
    """Save ``fig`` (Agg) at ``dpi``; the format follows the file extension."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # lazy: see module note

    path = Path(path)
    if not isinstance(dpi, int) or isinstance(dpi, bool) or not 10 <= dpi <= 2400:
        raise ConfigError(f"--dpi {dpi!r} is not allowed: an integer 10..2400")
    canvas = FigureCanvasAgg(fig)
    ext = path.suffix.lower().lstrip(".")
    formats = canvas.get_supported_filetypes()
    if ext not in formats:
        raise ConfigError(
            f"-o {str(path)!r}: unknown image format {ext or '(none)'!r}; use one of "
            f"{', '.join(sorted(formats))}"
        )
    if path.parent and not path.parent.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    return path
