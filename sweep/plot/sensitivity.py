"""Figures of sensitivity indices: ranked bars, Sobol' S1/ST pairs, Morris μ*–σ."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..spec import ConfigError
from ._common import _display, _label, _title
from .data import _variable, select
from .figure import _new_axes


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
