"""Physical quantities in configs ("145 mM", "100 nM", "-70 mV", "37 degC") → stored units.

Also the one formatter of byte counts (plans, disk checks).
"""

from __future__ import annotations

import functools
import re

_NUMBER = r"[-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?|nan|NaN|inf|Inf)"
_QUANTITY = re.compile(rf"^\s*(?P<num>{_NUMBER})\s*(?P<unit>.*?)\s*$")


@functools.lru_cache(maxsize=1)
def ureg():
    """The shared pint registry (created on first use: pint takes ~0.5 s to load)."""
    import pint  # lazy: pint takes ~0.5 s to load; values in their stored unit never need it

    return pint.UnitRegistry()


@functools.lru_cache(maxsize=256)
def _unit(unit: str):
    return ureg().Unit(unit)


def parse_quantity(key: str, value: object, unit: str) -> float:
    """Convert a config value to ``unit`` (the stored unit of the input at ``key``).

    Dimensioned inputs need a string with a unit ("145 mM"); dimensionless ones a
    bare number (or a dimensionless string such as "0.2").

    Raises
    ------
    ValueError
        One line naming ``key``, the value and what is expected.
    """
    if isinstance(value, bool) or value is None:
        raise ValueError(f"{key} = {value!r} is not allowed: expected {_expect(unit)}")
    if isinstance(value, (int, float)):
        if unit:
            raise ValueError(
                f"{key} = {value!r} has no unit: write it with a unit, e.g. '{value} {unit}'"
            )
        return float(value)
    if not isinstance(value, str):
        raise ValueError(f"{key} = {value!r} is not allowed: expected {_expect(unit)}")
    m = _QUANTITY.match(value)
    if not m:
        raise ValueError(f"{key} = {value!r} is not a quantity: expected {_expect(unit)}")
    num = float(m.group("num"))
    u = m.group("unit")
    if not u:
        if unit:
            raise ValueError(
                f"{key} = {value!r} has no unit: write it with a unit, e.g. '{value} {unit}'"
            )
        return num
    if u == unit:  # already in the stored unit: nothing to convert (and no pint to load)
        return num
    import pint  # lazy: see ureg()

    try:
        q = ureg().Quantity(num, u)
        target = _unit(unit) if unit else ureg().dimensionless
        if q.dimensionality != (1 * target).dimensionality:
            raise pint.DimensionalityError(q.units, target)
        out = q.to(target).magnitude
    except pint.UndefinedUnitError:
        raise ValueError(
            f"{key} = {value!r}: unknown unit {u!r}; expected {_expect(unit)}"
        ) from None
    except pint.DimensionalityError:
        hint = ""
        if unit == "K" and u in ("C", "F"):  # '37 C' is 37 coulomb to pint
            deg = "degC" if u == "C" else "degF"
            hint = f" ('{u}' is {'coulomb' if u == 'C' else 'farad'}: write '{num:g} {deg}')"
        raise ValueError(
            f"{key} = {value!r} has the wrong dimension: expected {_expect(unit)}{hint}"
        ) from None
    except Exception as exc:  # pint raises several parse errors
        raise ValueError(f"{key} = {value!r} could not be read as a quantity ({exc})") from None
    # unit factors such as 1e-6/1e-3 leave a last-bit error ("100 nM" ->
    # 1.0000000000000002e-4 mM); config values are decimals, so round to the
    # 15 significant digits a double holds exactly
    return float(f"{float(out):.15g}")


def _expect(unit: str) -> str:
    if not unit:
        return "a bare number (dimensionless)"
    examples = {
        "mM": "a concentration such as '145 mM' or '100 nM'",
        "mV": "a potential such as '-70 mV'",
        "K": "a temperature such as '310 K'",
        "kJ/mol": "a free energy such as '-55 kJ/mol'",
    }
    return examples.get(unit, f"a quantity in units of {unit!r} (or compatible)")


def human_bytes(n: float) -> str:
    """``1536`` → ``'1.5 KiB'`` (binary prefixes)."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024 or unit == "PiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return f"{n:.1f} PiB"


def derivative_unit(output_unit: str, wrt_unit: str) -> str:
    """The unit of ∂y/∂X from y's and X's units (``""``: dimensionless, e.g. X = ln x).

    >>> derivative_unit("mV", "K"), derivative_unit("mV", ""), derivative_unit("", "mM")
    ('mV/K', 'mV', '1/mM')
    """
    if not wrt_unit:
        return output_unit
    if not output_unit:
        return f"1/{wrt_unit}"
    return f"{output_unit}/{wrt_unit}"


def derivative(da, wrt: str):
    """One derivative of a ``sens_<output>`` variable, with its own ``units``.

    ``sens_<output>`` stacks ∂y/∂X for every input along ``wrt``; their units
    differ (mV per ln x, mV/K, ...) and are listed in its ``units_by_wrt``
    attribute. This selects one and sets ``units`` (and ``long_name``) to that
    derivative's, where ``pint-xarray`` (``.pint.quantify()``), cf-xarray and
    ``sweep.plot`` read them.

    Parameters
    ----------
    da : xarray.DataArray
        A ``sens_<output>`` variable with a ``wrt`` dimension.
    wrt : str
        The input (one of ``da.wrt``).

    Returns
    -------
    xarray.DataArray
        ``da.sel(wrt=wrt)`` with ``units`` the derivative's unit.
    """
    by = da.attrs.get("units_by_wrt") or {}
    if wrt not in by:
        raise ValueError(f"wrt = {wrt!r} is not allowed: one of {', '.join(by) or 'none'}")
    out = da.sel(wrt=wrt)
    y = da.attrs.get("output", da.name)
    x = f"ln {wrt}" if _is_log_wrt(da, wrt) else wrt
    if da.attrs.get("output_scale") == "log":
        y = f"ln {y}"
    out.attrs = {**da.attrs, "units": by[wrt], "long_name": f"∂({y})/∂({x})"}
    return out


def _is_log_wrt(da, wrt: str) -> bool:
    if "wrt_scale" not in da.coords:
        return False
    return str(da.coords["wrt_scale"].sel(wrt=wrt).values) == "log"


#: Concentration units by their factor to mM (display only: stores keep stored units).
_CONCENTRATIONS = (("M", 1e3), ("mM", 1.0), ("µM", 1e-3), ("nM", 1e-6), ("pM", 1e-9))
_PRETTY = (("**2", "²"), ("**3", "³"), ("**-1", "⁻¹"), ("uA", "µA"), ("uM", "µM"), ("umol", "µmol"))


def pretty_unit(unit: str) -> str:
    """A stored unit as a reader writes it: ``uA/cm**2`` → ``µA/cm²`` (``1`` → ``""``)."""
    u = str(unit or "")
    for a, b in _PRETTY:
        u = u.replace(a, b)
    return "" if u in ("1", "dimensionless") else u


def display_unit(unit: str, values) -> tuple[float, str]:
    """(factor, unit) to show ``values`` (in ``unit``) with readable numbers.

    Concentrations in mM whose largest magnitude is under 1 mM are shown in µM
    or nM (pint's compact form restricted to the molar prefixes: the largest
    value between 1 and 1000), e.g. a [Ca²⁺]ᵢ axis of 50 nM … 1 µM as
    ``0.05 … 1 µM``, a resting 100 nM as ``100 nM``; other units are shown
    unchanged (factor 1, the pretty unit). Display only: stores keep stored units.

    >>> display_unit("mM", [5e-5, 1e-3])
    (1000.0, 'µM')
    >>> display_unit("mM", [1e-4])
    (1000000.0, 'nM')
    >>> display_unit("mM", [5.0, 40.0])
    (1.0, 'mM')
    """
    if unit != "mM":
        return 1.0, pretty_unit(unit)
    import numpy as np

    v = np.abs(np.asarray(values, dtype=np.float64))
    v = v[np.isfinite(v) & (v > 0)]
    if not v.size or v.max() >= 1.0:
        return 1.0, unit
    top = float(v.max())
    for name, to_mm in _CONCENTRATIONS[2:]:
        if top / to_mm >= 1.0 - 1e-9:
            return 1.0 / to_mm, name
    return 1.0 / _CONCENTRATIONS[-1][1], _CONCENTRATIONS[-1][0]


def format_quantity(value: float, unit: str) -> str:
    """``0.0001 mM`` → ``100 nM`` (display units, 4 significant digits)."""
    f, u = display_unit(unit, [value])
    return f"{value * f:.4g} {u}".rstrip()
