"""What both boundary methods share: the kernel of one output as a function of the
spec's inputs (:func:`output_function`), the checks of a spec and an output,
the result (:class:`BoundaryResult`) and its store (:func:`write_boundary_store`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kernels.registry import suggest

from ...batching import point_function
from ...spec import ConfigError, SweepSpec
from ...store import (
    result_attrs,
    write_dataset,
)

#: Kernel evaluations per jitted call (memory bound of one batch).
BATCH_POINTS = 2**20


def output_function(spec: SweepSpec, output: str, inputs: Sequence[str]) -> Callable[..., Any]:
    """``f(*values) -> output``: the registry kernel of ``output`` as a function of ``inputs``.

    Every other input is fixed at the spec's ``parameters`` (stored units).
    Pure JAX, for ``jit``/``vmap``.
    """
    fixed = {k: float(v) for k, v in spec.parameters.items()}
    point = point_function(spec.registry, fixed, inputs, (output,))

    def f(*xs):
        return point(*xs)[0]

    return f


def _check_output(spec: SweepSpec, output: str) -> None:
    if not isinstance(output, str) or output not in spec.registry.outputs:
        raise ConfigError(
            f"--output {output!r} is not an output{suggest(str(output), spec.registry.outputs)}; "
            "see 'sweep list'"
        )


def _check_grid(spec: SweepSpec) -> None:
    if spec.design is not None:
        raise ConfigError(
            f"sweep boundary needs a grid config; this one has design.method = "
            f"{spec.design.method!r} (remove 'design:' to use the axes as a grid)"
        )


@dataclass
class BoundaryResult:
    """A boundary computed for a spec, ready to store (:func:`write_boundary_store`)."""

    spec: SweepSpec
    output: str
    method: str  # "along" | "adaptive"
    dataset: Any  # xarray.Dataset
    summary: str


def default_store(spec: SweepSpec) -> str:
    """``results/<name>.boundary.zarr``."""
    return f"results/{spec.name}.boundary.zarr"


def _stored(result: BoundaryResult, store: str | Path | None, overwrite: bool) -> BoundaryResult:
    if store is not None:
        write_boundary_store(result, store, overwrite=overwrite)
    return result


def write_boundary_store(
    result: BoundaryResult, path: str | Path, *, overwrite: bool = False
) -> Path:
    """Write a boundary dataset as a zarr (format 3) store, atomically (temp dir + rename).

    The store attributes hold the resolved config, its hash, versions, JAX
    backend and creation time (as a sweep store), plus the boundary's own.
    """
    spec = result.spec
    ds = result.dataset.copy()
    attrs = result_attrs(spec, f"{spec.name} boundary")
    attrs.update(ds.attrs)
    ds.attrs = {k: (json.dumps(v) if isinstance(v, dict) else v) for k, v in attrs.items()}
    return write_dataset(ds, path, overwrite=overwrite)
