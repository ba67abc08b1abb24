"""Helpers shared by the sweep-side tests: configs on disk, store comparison, CLI errors,
and fault injection (kept here, out of the production code paths)."""

from __future__ import annotations

import contextlib
import json
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
import yaml

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent


def write_config(tmp_path: Path, data: dict, name: str = "c.yaml", **kw) -> tuple[Path, str]:
    """Write ``data`` (updated with ``kw``) as a YAML config; returns (path, store path).

    The store defaults to ``<tmp_path>/<config name>.zarr``.
    """
    d = json.loads(json.dumps(data))
    d.update(kw)
    d.setdefault("store", str(tmp_path / f"{d['name']}.zarr"))
    p = tmp_path / name
    p.write_text(yaml.safe_dump(d, allow_unicode=True, sort_keys=False))
    return p, d["store"]


def assert_identical(a: xr.Dataset | str | Path, b: xr.Dataset | str | Path) -> None:
    """Identical stores (config.md): every variable ``array_equal``, dtype included."""
    if not isinstance(a, xr.Dataset):
        a = xr.open_zarr(a).load()
    if not isinstance(b, xr.Dataset):
        b = xr.open_zarr(b).load()
    assert set(a.data_vars) == set(b.data_vars)
    assert set(a.variables) == set(b.variables)
    for n in a.variables:
        assert a[n].dtype == b[n].dtype, n
        np.testing.assert_array_equal(a[n].values, b[n].values, err_msg=n)


def one_line(err: str) -> str:
    """The single non-empty line of ``err`` (fails if there are more)."""
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    return lines[0]


def _patch_compute(patch, wrap) -> None:
    from sweep.execute import BlockRunner

    patch.setattr(BlockRunner, "compute", wrap(BlockRunner.compute))


@contextlib.contextmanager
def failing_blocks(blocks: Iterable[int]) -> Iterator[None]:
    """Within the block, computing any of ``blocks`` raises (in this process: threads)."""
    bad = set(blocks)

    def wrap(compute):
        def failing(self, block, **kw):
            if block in bad:
                raise RuntimeError(f"injected failure in block {block}")
            return compute(self, block, **kw)

        return failing

    with pytest.MonkeyPatch.context() as mp:
        _patch_compute(mp, wrap)
        yield


def slow_blocks(seconds: float) -> None:
    """Slow every block of this process down by ``seconds`` (values unchanged)."""

    def wrap(compute):
        def slow(self, block, **kw):
            time.sleep(seconds)
            return compute(self, block, **kw)

        return slow

    _patch_compute(pytest.MonkeyPatch(), wrap)


def fault_at(step: str, action: str = "raise") -> None:
    """At the storage step ``step`` (``sweep.store.fault_hook``), ``raise`` or ``kill``
    (SIGKILL this process: kill -9 at a controlled point)."""
    import os
    import signal

    from sweep import store

    def hook(name: str) -> None:
        if name == step:
            if action == "kill":
                os.kill(os.getpid(), signal.SIGKILL)
            raise RuntimeError(f"injected failure at {name}")

    store.fault_hook = hook


@contextlib.contextmanager
def failing_at(step: str) -> Iterator[None]:
    """Within the block, the storage step ``step`` raises (in this process)."""
    from sweep import store

    old = store.fault_hook
    fault_at(step, "raise")
    try:
        yield
    finally:
        store.fault_hook = old


def cli_code(
    argv: list[str], *, delay: float | None = None, kill_at: str | None = None
) -> list[str]:
    """``python -c`` command running ``sweep argv`` in a fresh interpreter (optionally slowed,
    optionally killed with SIGKILL at the storage step ``kill_at``)."""
    setup = f"import helpers; helpers.slow_blocks({delay!r}); " if delay else ""
    if kill_at:
        setup += f"import helpers; helpers.fault_at({kill_at!r}, 'kill'); "
    code = (
        f"import sys; sys.path.insert(0, {str(TESTS)!r}); {setup}"
        f"from sweep.cli import main; sys.exit(main({list(argv)!r}))"
    )
    return [sys.executable, "-c", code]
