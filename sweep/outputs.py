"""What a config asks to compute and keep: ``outputs:``, ``residuals:``, ``reduce:``.

:func:`_parse_outputs` checks the requested outputs against the registry (an
unknown one with the nearest name, an electroneutral transporter's missing
V_rev explained) and adds their companions (status, residual);
:func:`_parse_reduce` reads the blockwise summaries into :class:`Reduction`
entries, each with the statistics its output's type allows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kernels.registry import Registry, suggest

from .errors import ConfigError, _unknown

__all__ = ["Reduction", "MODE_STATS", "POLARITY_STATS", "FLOAT_STATS"]

#: Statistics of a reduction: of a mode code (``mode_*``), of a polarity code, of any output.
MODE_STATS = ("fraction_forward", "fraction_reverse", "fraction_equilibrium")
POLARITY_STATS = ("fraction_depolarizing", "fraction_hyperpolarizing")
FLOAT_STATS = ("min", "max", "mean")


@dataclass(frozen=True)
class Reduction:
    """A blockwise summary: ``<output>_<stat>`` over some axes."""

    output: str
    stats: tuple[str, ...]
    over: tuple[str, ...]


def _parse_reduce(raw: Any, outputs: tuple[str, ...], axes: tuple[str, ...], reg: Registry):
    if raw is None:
        return ()
    if isinstance(raw, Mapping):  # shorthand: {output: [stats], ...} over all axes
        raw = [{"output": k, "stats": v} for k, v in raw.items()]
    if not isinstance(raw, list):
        raise ConfigError(
            f"reduce = {raw!r} is not allowed: a list of {{output, stats, over}} entries"
        )
    out = []
    for i, item in enumerate(raw):
        key = f"reduce[{i}]"
        if not isinstance(item, Mapping):
            raise ConfigError(f"{key} = {item!r} is not allowed: must be {{output, stats, over}}")
        for k in item:
            if k not in ("output", "stats", "over"):
                raise _unknown(k, f"in {key}: ", ("output", "stats", "over"))
        name = item.get("output")
        if name not in outputs:
            raise ConfigError(
                f"{key}.output = {name!r} is not allowed: must be one of the outputs"
                f"{suggest(str(name), outputs)} ({', '.join(outputs)})"
            )
        o = reg.outputs[name]
        if o.dtype == "int8" and name.startswith("mode_"):
            allowed = MODE_STATS + FLOAT_STATS
        elif o.dtype == "int8" and "polarity" in name:
            allowed = POLARITY_STATS + FLOAT_STATS
        else:
            allowed = FLOAT_STATS
        stats = item.get("stats", [])
        if isinstance(stats, str):
            stats = [stats]
        if not stats:
            raise ConfigError(f"{key}.stats is empty: choose from {', '.join(allowed)}")
        for s in stats:
            if s not in allowed:
                raise ConfigError(
                    f"{key}.stats: {s!r} is not allowed for {name}{suggest(str(s), allowed)}; "
                    f"allowed: {', '.join(allowed)}"
                )
        over = item.get("over", list(axes))
        if isinstance(over, str):
            over = [over]
        if not over:
            raise ConfigError(f"{key}.over is empty: name one or more axes ({', '.join(axes)})")
        for a in over:
            if a not in axes:
                raise ConfigError(
                    f"{key}.over: {a!r} is not an axis{suggest(str(a), axes)}; "
                    f"axes: {', '.join(axes)}"
                )
        out.append(Reduction(name, tuple(stats), tuple(a for a in axes if a in over)))
    seen: dict[str, int] = {}
    for i, r in enumerate(out):
        for s in r.stats:
            var = f"{r.output}_{s}"
            if var in seen:
                raise ConfigError(
                    f"reduce[{i}]: {var!r} is already computed by reduce[{seen[var]}]; "
                    "one reduction per output and statistic"
                )
            if var in outputs:
                raise ConfigError(f"reduce[{i}]: {var!r} would clash with the output of that name")
            seen[var] = i
    return tuple(out)


def _unknown_output(reg: Registry, o: Any) -> str:
    """The message for an output ``o`` the registry does not know."""
    t = reg.transporters.get(str(o).removeprefix("v_rev_")) if isinstance(o, str) else None
    if t is not None and str(o).startswith("v_rev_") and not t.electrogenic:
        return (
            f"unknown output {o!r}: {t.name} is electroneutral (q = 0): no V_rev, its "
            f"ΔG does not depend on V_m; use dG_{t.name} or mode_{t.name}"
        )
    return f"unknown output {o!r}{suggest(str(o), reg.outputs)}; see 'sweep list'"


def _parse_outputs(
    data: Mapping[str, Any], reg: Registry, tc: dict[str, Any] | None, tc_names: tuple[str, ...]
) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], bool]:
    """``outputs:`` and ``residuals:`` → (every output stored: the requested ones, their
    companions and the time-course outputs ``tc_names``; those without the time-course
    outputs; the outputs as listed; whether residuals are stored)."""
    outs_raw = data.get("outputs")
    if isinstance(outs_raw, str):
        outs_raw = [outs_raw]
    if tc and outs_raw is None:
        outs_raw = []
    if not isinstance(outs_raw, list) or (not outs_raw and not tc):
        raise ConfigError("outputs is empty: list the outputs to compute (see 'sweep list')")
    for o in outs_raw:
        if isinstance(o, str) and o in tc_names:
            raise ConfigError(
                f"outputs: {o!r} is a time-course variable: the timecourse section stores it "
                "(list its output under timecourse.outputs, summaries or flips)"
            )
        if not isinstance(o, str) or o not in reg.outputs:
            raise ConfigError(_unknown_output(reg, o))
    outputs = reg.resolve_outputs(outs_raw)
    requested = tuple(dict.fromkeys(outs_raw))
    residuals = data.get("residuals", True)
    if not isinstance(residuals, bool):
        raise ConfigError(f"residuals = {residuals!r} is not allowed: must be true or false")
    if not residuals:  # solvers' residual_* companions left out (status_* stays)
        outputs = tuple(o for o in outputs if not o.startswith("residual_") or o in requested)
    plain_outputs = outputs
    outputs = (*outputs, *tc_names)
    return outputs, plain_outputs, requested, residuals
