"""Steady states (chloride, calcium). Filled in by the steady-state work."""

from __future__ import annotations

from ._spec import InputSpec, OutputSpec

INPUTS: list[InputSpec] = []
OUTPUTS: list[OutputSpec] = []
