"""What the analyses share: reading their spec argument, output and name lists, labels."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from kernels.registry import suggest

from ..spec import ConfigError, SweepSpec, load_spec, parse_config

__all__ = [
    "as_spec",
    "requested_outputs",
    "check_outputs",
    "parse_names",
    "text_coord",
    "sensitivity_store",
]


def as_spec(spec: SweepSpec | str | Path | Mapping[str, Any] | None) -> SweepSpec:
    """A :class:`SweepSpec` from a spec, a config mapping or a config file."""
    if isinstance(spec, SweepSpec):
        return spec
    if isinstance(spec, Mapping):
        return parse_config(spec)
    return load_spec(spec)


def requested_outputs(spec: SweepSpec) -> tuple[str, ...]:
    """The outputs the config asked for (their companions, status and residual, left out)."""
    if spec.requested:
        return tuple(o for o in spec.requested if o in spec.outputs)
    companions = {c for o in spec.outputs for c in spec.registry.outputs[o].companions}
    return tuple(o for o in spec.outputs if o not in companions)


def check_outputs(spec: SweepSpec, outputs: str | Sequence[str] | None) -> tuple[str, ...]:
    """``outputs`` validated against the registry (default: :func:`requested_outputs`)."""
    if outputs is None:
        return requested_outputs(spec)
    if isinstance(outputs, str):
        outputs = [o for o in outputs.split(",") if o]
    if not outputs:
        raise ConfigError("--outputs is empty: name one or more outputs (see 'sweep list')")
    for o in outputs:
        if o not in spec.registry.outputs:
            raise ConfigError(
                f"unknown output {o!r}{suggest(o, spec.registry.outputs)}; see 'sweep list'"
            )
    return tuple(dict.fromkeys(outputs))


def parse_names(text: str | Sequence[str] | None) -> list[str]:
    """``"a, b"`` or ``["a", "b"]`` → ``["a", "b"]``."""
    if text is None:
        return []
    if isinstance(text, str):
        return [t.strip() for t in text.split(",") if t.strip()]
    return [str(t) for t in text]


def text_coord(items: Sequence[str]) -> np.ndarray:
    """Labels as fixed-width numpy unicode: what xarray, pandas and matplotlib expect, and
    read back from zarr with the same dtype (zarr-python warns on writing that the type
    has no v3 specification yet; the warning is silenced where stores are written)."""
    return np.array([str(x) for x in items], dtype=np.str_)


def sensitivity_store(spec: SweepSpec, method: str = "local") -> str:
    """``results/<name>.<method>.zarr`` (method: local, sobol, morris): the default result store.

    The method is in the name, so a Sobol' and a Morris analysis of one config never collide.
    """
    return f"results/{spec.name}.{method}.zarr"
