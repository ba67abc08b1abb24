"""A sampled design's output against its inputs (scatter panels)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..spec import ConfigError
from ._common import _categories, _coord_label, _display, _is_log, _label, _scale_ticks, _title
from .data import _suggest, select


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
