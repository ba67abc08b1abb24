"""The one status vocabulary of every per-point solver in the product.

Every kernel that can fail at a point (a root finder, a steady state, a
boundary refinement, an integrator) returns an int8 status drawn from
:class:`Status`, never a silent NaN. A solver that needs a new outcome adds a
member *here*, with its message, so that a code means the same thing in every
store and report (as optimistix's ``RESULTS`` is shared by its solvers).

Store variables carry ``flag_values``/``flag_meanings`` built by
:func:`flag_attrs`; :data:`NOT_WRITTEN` is the fill value of int8 store
variables (status, mode, polarity and class codes) and is none of those codes.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable

__all__ = ["Status", "MESSAGES", "NOT_WRITTEN", "flag_attrs", "describe"]


class Status(enum.IntEnum):
    """Per-point outcome of a solver (stored as int8)."""

    #: The solution meets the solver's documented tolerance.
    CONVERGED = 0
    #: No solution (root, bracket, crossing) exists in the searched range.
    NO_ROOT_IN_RANGE = 1
    #: A solution was bracketed or approached, but the bounded iterations
    #: ended before the tolerance was met; the best estimate is returned.
    NOT_CONVERGED = 2
    #: A non-finite input, or one outside its physical range.
    INVALID_INPUT = 3
    #: The equations have a solution only outside the physical domain (e.g. a
    #: whole-cell state whose implied [K⁺]ᵢ or impermeant-anion concentration
    #: is not positive: the cell would swell without bound or lose its K⁺).
    NO_PHYSICAL_STATE = 4
    #: Roots were found, but the scan cannot guarantee that none was missed
    #: (a scan cell may hide a pair of roots, or there are more than returned).
    ROOTS_NOT_GUARANTEED = 5
    #: A time course: the integrator's step budget (``max_steps``) ran out
    #: before the last output time; values up to the last accepted step are kept.
    MAX_STEPS_REACHED = 6
    #: A time course: the state or its rate became non-finite, or the step
    #: size collapsed below its floor (the solution leaves its domain or blows up).
    #: A steady state: the root was found but its value (e.g. e^x of a root in
    #: log-concentration) or residual is not finite in the float width used.
    NON_FINITE = 7
    #: A time course: its initial condition, the steady state of the
    #: "before" inputs, was not found (that solver's own status says why).
    NO_INITIAL_STATE = 8


#: One sentence per code: reports, ``sweep status`` and store attributes use these.
MESSAGES: dict[Status, str] = {
    Status.CONVERGED: "converged to the solver's tolerance",
    Status.NO_ROOT_IN_RANGE: "no solution in the searched range",
    Status.NOT_CONVERGED: "iteration budget exhausted before the tolerance was met",
    Status.INVALID_INPUT: "non-finite input or input outside its range",
    Status.NO_PHYSICAL_STATE: "the solution lies outside the physical domain",
    Status.ROOTS_NOT_GUARANTEED: "some roots may have been missed (a scan cell is suspect)",
    Status.MAX_STEPS_REACHED: "the integrator's step budget ran out before the last output time",
    Status.NON_FINITE: "the value became non-finite (or a time course's step size collapsed)",
    Status.NO_INITIAL_STATE: "the initial steady state (of the 'before' inputs) was not found",
}

#: Fill value of int8 store variables: "not written yet". Distinct from every
#: status code (≥ 0) and every mode/polarity/class code (−1, 0, +1).
NOT_WRITTEN: int = -128


def flag_attrs(codes: Iterable[Status] | None = None) -> dict[str, object]:
    """CF ``flag_values``/``flag_meanings`` attributes for ``codes`` (default: all)."""
    members = list(Status) if codes is None else sorted(Status(c) for c in codes)
    return {
        "flag_values": [int(m) for m in members],
        "flag_meanings": " ".join(m.name.lower() for m in members),
    }


def describe(code: int) -> str:
    """``'2 not_converged: iteration budget exhausted …'`` for a code (unknown codes say so)."""
    try:
        s = Status(int(code))
    except ValueError:
        return f"{int(code)} (unknown status code)"
    return f"{int(s)} {s.name.lower()}: {MESSAGES[s]}"
