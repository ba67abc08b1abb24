"""Argument checks for the single-point Python API.

Only *concrete* values are checked: inside ``jit``/``vmap`` the arguments are
tracers and nothing may raise (batched work reports per-point status instead).
"""

from __future__ import annotations

import jax
import numpy as np


def _first_bad(arr: np.ndarray, bad: np.ndarray) -> float:
    return float(arr[bad].flat[0]) if arr.ndim else float(arr)


def is_concrete(value: object) -> bool:
    """True when ``value`` is not a JAX tracer (so it can be inspected)."""
    return not isinstance(value, jax.core.Tracer)


def check_range(
    name: str,
    value: object,
    *,
    lower: float | None = None,
    upper: float | None = None,
    lower_open: bool = False,
    unit: str = "",
) -> None:
    """Raise ``ValueError`` if a concrete ``value`` is not a finite number inside the range.

    NaN, ±inf and non-numeric values (``None``, strings) are rejected too. The
    message names the argument, the offending value and the allowed range.
    """
    if not is_concrete(value):
        return
    allowed = describe_range(lower, upper, lower_open)
    arr = _as_float_array(name, value, allowed)
    # NaN and ±inf are never valid inputs: they would propagate silently through
    # every log and exp of the kernels (a concentration of inf mM passed "> 0").
    bad = ~np.isfinite(arr)
    if lower is not None:
        bad |= (arr <= lower) if lower_open else (arr < lower)
    if upper is not None:
        bad |= arr > upper
    if bad.any():
        v = _first_bad(arr, bad)
        u = f" {unit}" if unit else ""
        if not np.isfinite(v) and allowed != "must be a finite number":
            allowed = f"must be a finite number and {allowed.removeprefix('must be ')}"
        raise ValueError(f"{name} = {v!r}{u} is not allowed: {allowed}")


def _as_float_array(name: str, value: object, allowed: str) -> np.ndarray:
    """``value`` as a float array, or ``ValueError`` naming ``name`` if it is not numeric."""
    # np.asarray(None, dtype=float) is nan and strings give numpy's own message
    # without the argument's name: reject non-numbers explicitly.
    if value is None or isinstance(value, (str, bytes)):
        raise ValueError(f"{name} = {value!r} is not allowed: not a number; {allowed}")
    try:
        return np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} = {value!r} is not allowed: not a number; {allowed}") from None


def describe_range(lower: float | None, upper: float | None, lower_open: bool = False) -> str:
    """Human-readable allowed range, e.g. ``must be > 0`` or ``must be in [0, 1]``."""
    if lower is not None and upper is not None:
        left = "(" if lower_open else "["
        return f"must be in {left}{lower:g}, {upper:g}]"
    if lower is not None:
        return f"must be {'>' if lower_open else '>='} {lower:g}"
    if upper is not None:
        return f"must be <= {upper:g}"
    return "must be a finite number"


def check_positive(name: str, value: object, unit: str = "mM") -> None:
    """Raise ``ValueError`` unless a concrete ``value`` is > 0 (and not NaN)."""
    check_range(name, value, lower=0.0, lower_open=True, unit=unit)


def check_finite(name: str, value: object, unit: str = "") -> None:
    """Raise ``ValueError`` if a concrete ``value`` is NaN or infinite."""
    if not is_concrete(value):
        return
    arr = _as_float_array(name, value, "must be a finite number")
    bad = ~np.isfinite(arr)
    if bad.any():
        v = _first_bad(arr, bad)
        u = f" {unit}" if unit else ""
        raise ValueError(f"{name} = {v!r}{u} is not allowed: must be a finite number")
