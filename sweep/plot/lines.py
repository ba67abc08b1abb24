"""Line plots along one dimension (one line per crossing for boundary stores)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

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
