""":func:`plot`: the kind of figure a variable's dimensions and type call for."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .data import _variable
from .lines import plot_line
from .maps import plot_map
from .samples import plot_samples
from .sensitivity import plot_bars, plot_morris, plot_sobol


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
