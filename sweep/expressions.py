"""Derived outputs: arithmetic over outputs and inputs, from the config's ``derived:``.

::

    derived:
      gaba_drive: e_gaba_ss - e_k                 # short form: the expression
      vm_minus_ek: {expr: vm_cell - e_k_cell, long_name: "V_m − E_K at the cell state"}
      drive_v: {expr: e_gaba - vm, units: V}      # stored in V (converted)

An expression is parsed with :mod:`ast` (never ``eval``) into a small tree of
numbers, names (registry outputs and inputs, in their stored units), ``+ - * /``,
``**`` with a numeric exponent, unary ``-`` and the functions ``log``, ``log10``,
``exp``, ``sqrt``, ``abs``. Units are checked once, with pint, when the config
is read: ``+``/``-`` need operands of one dimensionality (the right one is
converted to the left one's unit), ``log``/``exp`` a dimensionless argument.
The compiled function is pure JAX and runs inside the jitted kernel, sharing
the kernels' cache with the outputs it reads (an output asked for twice is
computed once). A derived output stores the status companions of the outputs
it reads, so a solver's non-convergence stays visible.

References: unit algebra as in pint (https://pint.readthedocs.io), the
quantity calculus of IUPAC's Green Book (Cohen et al. 2007, 3rd ed., §1.1).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Mapping
from typing import Any

import jax.numpy as jnp

from kernels._spec import OutputSpec
from kernels.registry import Registry, suggest

__all__ = ["DerivedError", "derive", "with_derived", "resolve_derived"]

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_FUNCS: dict[str, Callable[[Any], Any]] = {
    "log": jnp.log,
    "log10": jnp.log10,
    "exp": jnp.exp,
    "sqrt": jnp.sqrt,
    "abs": jnp.abs,
}
_KEYS = ("expr", "units", "long_name")
#: Longest expression accepted (assumption: a derived output is a short formula).
MAX_EXPR_CHARS = 500


class DerivedError(ValueError):
    """A derived output that cannot be used (one line: field, value, what is allowed)."""


def _ureg():
    from .units import ureg  # lazy: pint loads only for configs with derived outputs

    return ureg()


def _unit_of(reg: Registry, name: str):
    u = reg.outputs[name].unit if name in reg.outputs else reg.inputs[name].unit
    return _ureg().Unit(u or "dimensionless")


def _compile(node: ast.AST, reg: Registry, key: str, expr: str, used: set[str]):
    """(fn(p, cache), pint unit) of an expression node."""
    u = _ureg()

    def fail(why: str) -> DerivedError:
        return DerivedError(f"{key} = {expr!r}: {why}")

    if isinstance(node, ast.Expression):
        return _compile(node.body, reg, key, expr, used)
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
        if isinstance(node.value, bool):
            raise fail(f"{node.value!r} is not a number")
        c = float(node.value)
        return (lambda p, cache: c), u.dimensionless
    if isinstance(node, ast.Name):
        n = node.id
        if n in reg.outputs:
            used.add(n)
            spec = reg.outputs[n]
            return (lambda p, cache: spec.fn(p, cache)), _unit_of(reg, n)
        if n in reg.inputs:
            return (lambda p, cache: p[n]), _unit_of(reg, n)
        raise fail(
            f"unknown name {n!r}{suggest(n, [*reg.outputs, *reg.inputs])}: use outputs and "
            "inputs of 'sweep list'"
        )
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        f, fu = _compile(node.operand, reg, key, expr, used)
        if isinstance(node.op, ast.USub):
            return (lambda p, cache: -f(p, cache)), fu
        return f, fu
    if isinstance(node, ast.BinOp):
        if isinstance(node.op, ast.Pow):
            if not isinstance(node.right, ast.Constant) or isinstance(node.right.value, bool):
                raise fail("the exponent of ** must be a number")
            k = node.right.value
            if not isinstance(k, (int, float)):
                raise fail("the exponent of ** must be a number")
            f, fu = _compile(node.left, reg, key, expr, used)
            return (lambda p, cache: f(p, cache) ** k), fu**k
        lf, lu = _compile(node.left, reg, key, expr, used)
        rf, ru = _compile(node.right, reg, key, expr, used)
        if isinstance(node.op, (ast.Add, ast.Sub)):
            try:
                factor = float(u.Quantity(1.0, ru).to(lu).magnitude)
            except Exception:  # pint.DimensionalityError
                sym = "+" if isinstance(node.op, ast.Add) else "-"
                raise fail(
                    f"cannot {'add' if sym == '+' else 'subtract'} {ast.unparse(node.right)!r} "
                    f"({ru:~C}) {'to' if sym == '+' else 'from'} {ast.unparse(node.left)!r} "
                    f"({lu:~C}): units of different dimensions"
                ) from None
            if isinstance(node.op, ast.Add):
                return (lambda p, cache: lf(p, cache) + factor * rf(p, cache)), lu
            return (lambda p, cache: lf(p, cache) - factor * rf(p, cache)), lu
        if isinstance(node.op, ast.Mult):
            return (lambda p, cache: lf(p, cache) * rf(p, cache)), lu * ru
        if isinstance(node.op, ast.Div):
            return (lambda p, cache: lf(p, cache) / rf(p, cache)), lu / ru
        raise fail(f"operator {type(node.op).__name__} is not allowed: use + - * / **")
    if isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name) or node.func.id not in _FUNCS:
            what = ast.unparse(node.func)
            raise fail(
                f"function {what!r} is not allowed{suggest(what, _FUNCS)}; "
                f"allowed: {', '.join(_FUNCS)}"
            )
        if len(node.args) != 1 or node.keywords:
            raise fail(f"{node.func.id}() takes one argument")
        fn = _FUNCS[node.func.id]
        a, au = _compile(node.args[0], reg, key, expr, used)
        if node.func.id in ("log", "log10", "exp"):
            try:
                factor = float(u.Quantity(1.0, au).to("dimensionless").magnitude)
            except Exception:
                raise fail(
                    f"{node.func.id}() needs a dimensionless argument, "
                    f"{ast.unparse(node.args[0])!r} is in {au:~C} (divide by a reference)"
                ) from None
            return (lambda p, cache: fn(factor * a(p, cache))), u.dimensionless
        out_u = au**0.5 if node.func.id == "sqrt" else au
        return (lambda p, cache: fn(a(p, cache))), out_u
    raise fail(
        f"{ast.unparse(node)!r} is not allowed: use numbers, output and input names, "
        f"+ - * / **, and {', '.join(_FUNCS)}"
    )


def _unit_text(unit) -> str:
    if unit.dimensionless and str(unit) == "dimensionless":
        return ""
    return f"{unit:~C}"


def resolve_derived(raw: Any) -> dict[str, dict[str, str]]:
    """The config's ``derived:`` in one form: name → {expr, units?, long_name?}."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise DerivedError(
            f"derived = {raw!r} is not allowed: a mapping of name -> expression "
            "(e.g. {gaba_drive: e_gaba_ss - e_k})"
        )
    out: dict[str, dict[str, str]] = {}
    for name, v in raw.items():
        key = f"derived.{name}"
        if not isinstance(name, str) or not _NAME.match(name):
            raise DerivedError(
                f"derived: name {name!r} is not allowed: lower-case letters, digits and '_', "
                "starting with a letter"
            )
        item = {"expr": v} if isinstance(v, str) else v
        if not isinstance(item, Mapping):
            raise DerivedError(
                f"{key} = {v!r} is not allowed: an expression, or {{expr, units, long_name}}"
            )
        for k in item:
            if k not in _KEYS:
                raise DerivedError(
                    f"{key}: unknown key {k!r}{suggest(str(k), _KEYS)}; allowed: {', '.join(_KEYS)}"
                )
        for k in _KEYS:
            if k in item and not isinstance(item[k], str):
                raise DerivedError(f"{key}.{k} = {item[k]!r} is not allowed: must be text")
        if "expr" not in item or not item["expr"].strip():
            raise DerivedError(f"{key}: 'expr' is required (e.g. 'e_gaba_ss - e_k')")
        out[name] = {k: item[k] for k in _KEYS if k in item}
    return out


def derive(reg: Registry, name: str, item: Mapping[str, str]) -> OutputSpec:
    """The :class:`OutputSpec` of one derived output over ``reg`` (checked, compiled)."""
    key = f"derived.{name}"
    expr = item["expr"]
    if len(expr) > MAX_EXPR_CHARS:
        raise DerivedError(
            f"{key}: the expression has {len(expr)} characters; at most {MAX_EXPR_CHARS}"
        )
    if name in reg.outputs or name in reg.inputs:
        raise DerivedError(
            f"{key}: {name!r} is already an {'output' if name in reg.outputs else 'input'}; "
            "choose another name"
        )
    try:
        tree = ast.parse(expr.strip(), mode="eval")
    except SyntaxError as exc:
        raise DerivedError(f"{key} = {expr!r} is not an expression: {exc.msg}") from None
    used: set[str] = set()
    fn, unit = _compile(tree, reg, key, expr, used)
    factor = 1.0
    text = _unit_text(unit)
    if "units" in item:
        u = _ureg()
        try:
            target = u.Unit(item["units"] or "dimensionless")
            factor = float(u.Quantity(1.0, unit).to(target).magnitude)
        except Exception:
            raise DerivedError(
                f"{key}.units = {item['units']!r} is not allowed: the expression is in "
                f"{text or 'dimensionless'}; give a unit of that dimension"
            ) from None
        text = item["units"]
    base = fn if factor == 1.0 else (lambda p, cache: factor * fn(p, cache))

    def out_fn(p, cache):
        return jnp.asarray(base(p, cache))

    companions = tuple(dict.fromkeys(c for n in sorted(used) for c in reg.outputs[n].companions))
    return OutputSpec(
        name=name,
        unit=text,
        long_name=item.get("long_name") or expr,
        description=f"derived output: {expr}" + (f" (in {text})" if text else ""),
        fn=out_fn,
        companions=companions,
        attrs={"expression": expr},
    )


def with_derived(reg: Registry, derived: Mapping[str, Mapping[str, str]]) -> Registry:
    """A registry that also knows the derived outputs (each may use the earlier ones)."""
    for name, item in derived.items():
        o = derive(reg, name, item)
        reg = Registry(reg.inputs.values(), [*reg.outputs.values(), o], reg.transporters, reg.model)
    return reg
