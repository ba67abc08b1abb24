"""Descriptions of inputs and outputs: the registry's entries.

Every physics module declares the inputs it reads and the outputs it computes
with these two classes; :mod:`kernels.registry` collects them. The config,
``sweep list``, the store's attributes and the docs all read these entries, so
names, units, defaults and ranges live in exactly one place.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from jax import Array

from ._checks import check_range, describe_range

#: ``fn(p, cache)``: ``p`` maps every input name to a scalar in stored units;
#: ``cache`` is shared by all outputs of one evaluation so that a group of
#: outputs (e.g. a steady state and its status) is computed once.
OutputFn = Callable[[Mapping[str, Any], dict], Array]


@dataclass(frozen=True)
class InputSpec:
    """One input of the model: a fixed parameter or a sweepable axis.

    Attributes
    ----------
    name : str
        Name used in configs, the store and the API (e.g. ``"na_i"``).
    unit : str
        Stored unit, as a pint-parsable string (``"mM"``, ``"mV"``, ``""`` for
        dimensionless). Kernels take this unit.
    default : float
        Default value in ``unit``.
    long_name, description : str
        Short label (plots, store attributes) and one-sentence meaning.
    lower, upper : float or None
        Allowed range (``lower_open`` makes the lower bound strict).
    reference : str
        Source of the default value.
    """

    name: str
    unit: str
    default: float
    long_name: str
    description: str
    lower: float | None = None
    upper: float | None = None
    lower_open: bool = False
    reference: str = ""
    concentration: bool = False

    def allowed(self) -> str:
        """The allowed range as text, e.g. ``must be > 0``."""
        return describe_range(self.lower, self.upper, self.lower_open)

    def check(self, value: object) -> None:
        """Raise ``ValueError`` (naming input, value and range) if a concrete value is invalid."""
        check_range(
            self.name,
            value,
            lower=self.lower,
            upper=self.upper,
            lower_open=self.lower_open,
            unit=self.unit,
        )


@dataclass(frozen=True)
class OutputSpec:
    """One output the engine can compute and store.

    Attributes
    ----------
    name : str
        Store variable name (e.g. ``"dG_ncx"``).
    unit : str
        Stored unit (``""`` for int8 codes).
    long_name, description : str
        Short label and meaning.
    fn : callable
        ``fn(p, cache) -> scalar``; pure JAX, safe under ``jit``/``vmap``.
    dtype : {"float", "int8"}
        ``"float"`` follows the sweep's precision; codes are int8.
    companions : tuple of str
        Outputs stored alongside whenever this one is requested (status, residual).
    attrs : mapping
        Extra store attributes (e.g. the transporter's ``charge``).
    cell_variant : bool
        False: the registry builds no ``<name>_cell`` variant at the whole-cell
        state, and does not trace the output to find its reads (time courses:
        their state comes from their own before steady state).
    """

    name: str
    unit: str
    long_name: str
    description: str
    fn: OutputFn = field(repr=False, compare=False)
    dtype: str = "float"
    companions: tuple[str, ...] = ()
    attrs: Mapping[str, Any] = field(default_factory=dict)
    concentration: bool = False
    cell_variant: bool = True


def cached(cache: dict, key: str, thunk: Callable[[], Any]) -> Any:
    """Compute ``thunk()`` once per evaluation and memoise it under ``key``."""
    if key not in cache:
        cache[key] = thunk()
    return cache[key]
