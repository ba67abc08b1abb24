"""The driver: spec → plan → store template → blocks → finalize, with progress and resume."""

from __future__ import annotations

import os
import sys
import time
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

from .batching import configure_jax
from .execute import RunResult, check_disk, execute_blocks
from .locks import StoreLock, check_unlocked, lock_path
from .manifest import MANIFEST_DIR, Manifest, StoreError, read_attrs
from .plan import BLOCK_BYTES_TARGET, Plan, make_plan, parse_shard
from .reduce import finalize_reductions
from .schedulers import connect_scheduler, is_client
from .spec import ConfigError, SweepSpec, load_spec
from .store import check_compatible, check_parent, create_store, finalize_store

__all__ = ["run", "init", "Progress", "plan_for_shards", "shard_warning"]


#: Seconds between two log lines of a run off a terminal (assumption: a batch log
#: line every half minute is frequent enough to follow and small enough to read).
LOG_EVERY_S = 30.0


def _clock(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


class Progress:
    """Progress of a run: a rich bar on a terminal, log lines off it.

    The bar (blocks, points/s, ``ETA`` time remaining) is shown when ``enabled``
    (default: stderr is a terminal). Otherwise (``--no-progress``, batch jobs)
    a line goes to stderr at most every ``every`` seconds (default
    :data:`LOG_EVERY_S`, or ``SWEEP_LOG_EVERY``) and after the last block:
    UTC time, blocks done/total, points/s and the ETA.
    """

    def __init__(
        self,
        total_blocks: int,
        enabled: bool | None,
        *,
        every: float | None = None,
        stream=None,
    ) -> None:
        if enabled is None:
            enabled = sys.stderr.isatty()
        self.enabled = enabled
        self.total = total_blocks
        self.t0 = time.perf_counter()
        self.n = 0
        self.blocks = 0
        self.every = (
            float(os.environ.get("SWEEP_LOG_EVERY", LOG_EVERY_S)) if every is None else every
        )
        self._stream = stream
        self._last = self.t0
        self._logged = False
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
                TextColumn("ETA"),
                TimeRemainingColumn(),
                console=Console(stderr=True) if stream is None else Console(file=stream),
                transient=False,
            )
            self._task = self._bar.add_task("sweep", total=total_blocks, rate="")
            self._bar.start()

    def line(self) -> str:
        """The log line of the progress so far."""
        dt = max(time.perf_counter() - self.t0, 1e-9)
        rate = self.n / dt
        left = self.total - self.blocks
        eta = _clock(dt / self.blocks * left) if self.blocks else "unknown"
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        pct = 100.0 * self.blocks / self.total if self.total else 100.0
        return (
            f"{stamp} sweep: {self.blocks:,}/{self.total:,} blocks ({pct:.0f}%), "
            f"{rate:,.0f} points/s, elapsed {_clock(dt)}, ETA {eta}"
        )

    def advance(self, points: int) -> None:
        self.n += points
        self.blocks += 1
        if self._bar is not None:
            dt = max(time.perf_counter() - self.t0, 1e-9)
            self._bar.update(self._task, advance=1, rate=f"{self.n / dt:,.0f} points/s")
            return
        now = time.perf_counter()
        if now - self._last >= self.every or (self._logged and self.blocks == self.total):
            self._last = now
            self._logged = True
            print(self.line(), file=self._stream or sys.stderr, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()


def _store_plan(plan: Plan, attrs: dict[str, Any]) -> Plan:
    """``plan`` with the block shape the existing store was made with (``init --shards``)."""
    shape = attrs.get("block_shape")
    if shape and tuple(shape) != plan.block_shape and len(shape) == len(plan.block_shape):
        return Plan(plan.spec, tuple(int(c) for c in shape))
    return plan


def _region_points(plan: Plan, block: int) -> int:
    n = 1
    for s in plan.block_slices(block):
        n *= s.stop - s.start
    return n


def plan_for_shards(spec: SweepSpec, shards: int | None) -> Plan:
    """The plan of ``spec`` with blocks small enough for ``shards`` shards to share.

    The config's ``chunks`` are kept; the automatic block size is halved until
    there are at least ``shards`` blocks (or the blocks cannot shrink further).
    The store records the block shape, so ``--shard``/``--resume`` runs follow it.
    """
    plan = make_plan(spec)
    if not shards or shards <= plan.n_blocks:
        return plan
    block_bytes = BLOCK_BYTES_TARGET
    while plan.n_blocks < shards and block_bytes > 1:
        block_bytes //= 2
        plan = make_plan(spec, block_bytes)
    return plan


def shard_warning(plan: Plan, shards: int) -> str | None:
    """A warning when ``shards`` exceed the plan's blocks (some shards would idle)."""
    if shards <= plan.n_blocks:
        return None
    idle = shards - plan.n_blocks
    return (
        f"{shards} shards but only {plural(plan.n_blocks, 'block')}: {idle} shard(s) will "
        "have nothing to do (make the grid larger, the config's chunks smaller, or use fewer "
        "shards)"
    )


def plural(n: int, word: str) -> str:
    """``1 block``, ``2 blocks``."""
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def init(
    spec: SweepSpec | str | Path | None,
    *,
    store: str | Path | None = None,
    overwrite: bool = False,
    shards: int | None = None,
) -> Path:
    """Create the store (template and empty manifest) for sharded batch jobs.

    Parameters
    ----------
    spec : SweepSpec, path or None
        The sweep.
    store : path, optional
        Store path (default: the config's ``store``).
    overwrite : bool
        Replace an existing store.
    shards : int, optional
        Number of shards (array tasks) that will fill it: blocks are sized so
        that each has work (:func:`plan_for_shards`).
    """
    if not isinstance(spec, SweepSpec):
        spec = load_spec(spec)
    if shards is not None and (isinstance(shards, bool) or int(shards) != shards or shards < 1):
        raise ConfigError(f"--shards {shards!r} is not allowed: an integer >= 1")
    plan = plan_for_shards(spec, shards)
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
    scheduler: Any = None,
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
    scheduler : str, distributed.Client or None
        ``threads``, ``processes``, ``synchronous``, ``local:N``,
        ``tcp://host:port`` (connected to before the store is touched) or a
        ``distributed.Client``. None (default): the active client when one
        exists (as dask does), else ``threads``.
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
    plan = make_plan(spec)
    path = Path(store or spec.store)
    given = scheduler
    scheduler = connect_scheduler(scheduler)  # a tcp:// scheduler is reached before any write
    try:
        return _run(plan, path, overwrite, resume, shard_t, scheduler, device, progress)
    finally:
        if isinstance(given, str) and is_client(scheduler):
            scheduler.close()  # the client made here for a tcp:// address


def _run(
    plan: Plan,
    path: Path,
    overwrite: bool,
    resume: bool,
    shard_t: tuple[int, int] | None,
    scheduler: Any,
    device: str | None,
    progress: bool | None,
) -> RunResult:
    spec = plan.spec
    configure_jax(device)

    if shard_t is not None:
        check_unlocked(path)  # shards write concurrently, never beside a whole-store writer
        if not path.exists():
            raise StoreError(
                f"--shard needs an initialised store: run 'sweep init CONFIG' first "
                f"({str(path)!r} does not exist)"
            )
        plan = _store_plan(plan, check_compatible(path, spec))
        check_compatible(path, spec, plan)
        check_writable(path)
        return _run_blocks(plan, path, shard_t, scheduler, progress)
    check_parent(path)  # before the lock file beside it is written
    command = "sweep run" + (" --overwrite" if overwrite else " --resume" if resume else "")
    with StoreLock(lock_path(path), command, what=f"store {str(path)!r}"):
        exists = path.exists()
        if exists and resume:
            plan = _store_plan(plan, check_compatible(path, spec))
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
