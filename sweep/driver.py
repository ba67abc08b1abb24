"""The driver: spec → plan → store template → blocks → finalize, with progress and resume."""

from __future__ import annotations

import os
import socket
import sys
import time
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from .execute import RunResult, check_disk, check_scheduler, configure_jax, execute_blocks
from .plan import Plan, make_plan, parse_shard
from .reduce import finalize_reductions
from .spec import ConfigError, SweepSpec, load_spec
from .store import (
    MANIFEST_DIR,
    Manifest,
    StoreError,
    StoreLock,
    check_compatible,
    check_parent,
    check_unlocked,
    create_store,
    finalize_store,
    lock_path,
    read_attrs,
)

__all__ = ["run", "init", "Progress"]


class Progress:
    """A rich progress bar (blocks, points/s, ETA) on a terminal; silent otherwise."""

    def __init__(self, total_blocks: int, enabled: bool | None) -> None:
        if enabled is None:
            enabled = sys.stderr.isatty()
        self.enabled = enabled
        self.t0 = time.perf_counter()
        self.n = 0
        self._bar = None
        if enabled and total_blocks:
            # lazy: rich takes ~0.1 s to import and is only needed on a terminal
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                TextColumn,
                TimeRemainingColumn,
            )
            from rich.progress import (
                Progress as RichProgress,
            )

            self._bar = RichProgress(
                TextColumn("[bold]sweep[/]"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("blocks"),
                TextColumn("{task.fields[rate]}"),
                TimeRemainingColumn(),
                console=Console(stderr=True),
                transient=False,
            )
            self._task = self._bar.add_task("sweep", total=total_blocks, rate="")
            self._bar.start()

    def advance(self, points: int) -> None:
        self.n += points
        if self._bar is not None:
            dt = max(time.perf_counter() - self.t0, 1e-9)
            self._bar.update(self._task, advance=1, rate=f"{self.n / dt:,.0f} points/s")

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()


def check_reachable(scheduler: str, timeout: float = 5.0) -> None:
    """A ``tcp://HOST:PORT`` scheduler must accept a connection before anything is written."""
    if not scheduler.startswith("tcp://"):
        return
    host, _, port = scheduler[len("tcp://") :].rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
            pass
    except (OSError, ValueError) as exc:
        raise ConfigError(
            f"--scheduler {scheduler!r}: cannot reach the dask scheduler ({exc.strerror or exc})"
        ) from None


def _region_points(plan: Plan, block: int) -> int:
    n = 1
    for s in plan.block_slices(block):
        n *= s.stop - s.start
    return n


def init(
    spec: SweepSpec | str | Path | None,
    *,
    store: str | Path | None = None,
    overwrite: bool = False,
) -> Path:
    """Create the store (template and empty manifest) for sharded batch jobs."""
    if not isinstance(spec, SweepSpec):
        spec = load_spec(spec)
    plan = make_plan(spec)
    path = Path(store or spec.store)
    check_disk(plan, path)
    configure_jax()
    check_parent(path)
    with StoreLock(lock_path(path), "sweep init", what=f"store {str(path)!r}"):
        return create_store(plan, path, overwrite=overwrite)


def run(
    spec: SweepSpec | str | Path | None = None,
    *,
    store: str | Path | None = None,
    overwrite: bool = False,
    resume: bool = False,
    shard: str | tuple[int, int] | None = None,
    scheduler: str = "threads",
    device: str | None = None,
    progress: bool | None = None,
) -> RunResult:
    """Run a sweep into a zarr store; the Python twin of ``sweep run``.

    Parameters
    ----------
    spec : SweepSpec, path or None
        The sweep (``None``: the built-in quickstart).
    store : path, optional
        Store path (default: the config's ``store``).
    overwrite, resume : bool
        Replace an existing store / complete an interrupted one.
    shard : "I/N" or (I, N), optional
        Compute only this shard's blocks into an initialised store.
    scheduler : str
        ``threads`` (default), ``processes``, ``synchronous``, ``local:N`` or ``tcp://host:port``.
    device : {"cpu", "gpu"}, optional
        JAX device (default: what JAX finds).
    progress : bool, optional
        Progress bar (default: only on a terminal).
    """
    if not isinstance(spec, SweepSpec):
        spec = load_spec(spec)
    if overwrite and resume:
        raise ConfigError("--overwrite and --resume cannot be combined: choose one")
    shard_t = parse_shard(shard) if isinstance(shard, str) or shard is None else shard
    check_scheduler(scheduler)
    check_reachable(scheduler)
    plan = make_plan(spec)
    path = Path(store or spec.store)
    configure_jax(device)

    if shard_t is not None:
        check_unlocked(path)  # shards write concurrently, never beside a whole-store writer
        if not path.exists():
            raise StoreError(
                f"--shard needs an initialised store: run 'sweep init CONFIG' first "
                f"({str(path)!r} does not exist)"
            )
        check_compatible(path, spec, plan)
        check_writable(path)
        return _run_blocks(plan, path, shard_t, scheduler, progress)
    check_parent(path)  # before the lock file beside it is written
    command = "sweep run" + (" --overwrite" if overwrite else " --resume" if resume else "")
    with StoreLock(lock_path(path), command, what=f"store {str(path)!r}"):
        exists = path.exists()
        if exists and resume:
            check_compatible(path, spec, plan)
            check_writable(path)
        elif exists and not overwrite:
            raise StoreError(
                f"store {str(path)!r} already exists: use --overwrite to replace it "
                "or --resume to complete it"
            )
        else:
            check_disk(plan, path)
            create_store(plan, path, overwrite=overwrite)
        return _run_blocks(plan, path, None, scheduler, progress)


def check_writable(path: Path) -> None:
    """An existing store to complete must be writable (checked before any compute)."""
    for d in (path, path / MANIFEST_DIR, path / MANIFEST_DIR / "done"):
        if d.is_dir() and not os.access(d, os.W_OK):
            raise StoreError(
                f"store {str(path)!r} is read-only ({str(d)!r} is not writable): "
                "it cannot be completed here"
            )


def _run_blocks(
    plan: Plan, path: Path, shard_t: tuple[int, int] | None, scheduler: str, progress: bool | None
) -> RunResult:
    manifest = Manifest(path)
    for d in (manifest.done_dir, manifest.failed_dir):
        # a store copied without its hidden manifest: its blocks are recomputed
        d.mkdir(parents=True, exist_ok=True)
    done = manifest.done()
    mine = plan.shard_blocks(shard_t)
    todo = [b for b in mine if b not in done]
    result = RunResult(store=path, n_blocks=plan.n_blocks, skipped=len(mine) - len(todo))
    bar = Progress(len(todo), progress)

    def on_done(b: int, err: str | None) -> None:
        if err is None:
            result.computed.append(b)
            pts = _region_points(plan, b)
            result.points += pts
            bar.advance(pts)
        else:
            result.failed[b] = err

    t0 = time.perf_counter()
    try:
        execute_blocks(plan, path, todo, scheduler=scheduler, on_done=on_done)
    except BrokenProcessPool as exc:  # a worker process died (killed, out of memory)
        finished = manifest.done()
        for b in todo:
            if b not in finished and b not in result.failed:
                result.failed[b] = f"a worker process died ({type(exc).__name__}: {exc})"
    finally:
        result.seconds = time.perf_counter() - t0
        bar.close()
    if not manifest.done() >= set(range(plan.n_blocks)):
        return result
    result.complete = finalize(plan, path, exclusive=shard_t is not None)
    return result


def finalize(plan: Plan, path: Path, *, exclusive: bool = False) -> bool:
    """Combine reductions, mark complete and consolidate (idempotent).

    Concurrent shards that finish together race here: with ``exclusive`` only
    the one that takes the finalize lock (``.sweep/finalizing``: pid, host,
    time) finalizes; the others report the store as theirs-but-not-yet-complete.
    A lock left by a driver that died while finalizing is stale (its process is
    gone): it is reported and taken over by the next shard run or ``--resume``.
    """
    attrs = read_attrs(path)
    if attrs.get("complete"):
        return True
    lock = StoreLock(
        path / MANIFEST_DIR / "finalizing", "finalize", what=f"finalizing of {str(path)!r}"
    )
    if not lock.try_acquire():
        if exclusive:
            return False
        raise StoreError(
            f"store {str(path)!r} is being finalized by {lock.holder()} (if that process is "
            f"gone, delete {str(lock.lock)!r})"
        )
    try:
        finalize_reductions(path, plan)
        finalize_store(path)
    finally:
        lock.release()
    return True
