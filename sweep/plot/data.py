"""Reading stores for figures: open a store, parse and apply ``--sel`` selections.

Selections take the nearest coordinate value for float coordinates (values
may carry units: ``ca_i=100nM``); errors are one line naming the flag, the
value and what is allowed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from kernels.registry import suggest

from ..spec import ConfigError
from ..units import derivative, parse_quantity, pretty_unit


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


def _pretty_unit(unit: str) -> str:
    return pretty_unit(unit)
