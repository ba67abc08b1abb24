"""Bifurcation diagrams: stable and unstable branches along an axis, folds marked."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..spec import ConfigError
from ._common import _check_dims, _coord_label, _display, _is_log, _label, _log_scale, _positions
from .data import _suggest, select
from .figure import _new_axes


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
