"""Phase maps over two dimensions, the grid boundary and a refined boundary overlaid."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from kernels.registry import REGISTRY

from ..spec import ConfigError
from ._common import (
    _categories,
    _check_dims,
    _coord_label,
    _display,
    _is_log,
    _is_signed,
    _label,
    _positions,
    _scale_ticks,
    _title,
)
from .data import select
from .figure import _new_axes
from .lines import plot_line


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
