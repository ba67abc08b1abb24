"""Inputs of the time-course systems (kept apart from :mod:`kernels.timecourse` so
that the registry lists them without importing the integrator, diffrax).

References
----------
Neher (1995) Neuropharmacology 34:1423 (endogenous Ca²⁺ buffer capacity).
"""

from __future__ import annotations

from ._spec import InputSpec

__all__ = ["INPUTS"]

_BETA_REF = (
    "assumption: endogenous buffer capacity κ_S ≈ 100 (neurons: 20–200, "
    "Neher 1995 Neuropharmacology 34:1423), β = 1/(1 + κ_S)"
)

#: Inputs the time-course systems add to the registry.
INPUTS: list[InputSpec] = [
    InputSpec(
        "beta_ca",
        "",
        0.01,
        "free Ca²⁺ fraction",
        "fraction of Ca²⁺ entering the cytosol that stays free (fast buffering, "
        "β = 1/(1 + κ_S)); scales the rate of [Ca²⁺]ᵢ, not its steady state",
        lower=0.0,
        upper=1.0,
        lower_open=True,
        reference=_BETA_REF,
    ),
]
