"""The dispatcher: module-level tasks fed plain data on any dask scheduler.

:func:`dispatch` runs them on threads, processes, synchronous, or
``dask.distributed`` (``local:N``, ``tcp://``, a ``distributed.Client``);
:func:`check_scheduler` refuses a scheduler the engine cannot use and
:func:`connect_scheduler` connects to a ``tcp://`` one, both at the edge,
before any I/O. A spec crosses to workers only as its canonical text
(:attr:`~sweep.spec.SweepSpec.canonical`, the resolved config).
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from .spec import ConfigError

__all__ = [
    "SCHEDULERS",
    "check_scheduler",
    "connect_scheduler",
    "active_client",
    "is_client",
    "dispatch",
]


SCHEDULERS = ("threads", "processes", "synchronous", "local:N", "tcp://HOST:PORT")


_LOCAL_SCHEDULERS = ("threads", "processes", "synchronous")


def is_client(scheduler: Any) -> bool:
    """A ``distributed.Client`` (duck-typed: distributed is imported only when one is used)."""
    return not isinstance(scheduler, str) and callable(getattr(scheduler, "submit", None))


def active_client() -> Any:
    """The active ``distributed.Client``, as dask uses it, or None.

    Looked for only when distributed is already imported (a process that made a
    client has imported it), so a plain ``sweep run`` never pays its import.
    """
    if "distributed" not in sys.modules:
        return None
    try:
        from distributed import default_client

        return default_client()
    except ValueError:  # "No clients found"
        return None


def _tcp_address(scheduler: str) -> str:
    """``tcp://HOST:PORT`` checked for shape (``ConfigError`` otherwise)."""
    rest = scheduler[len("tcp://") :]
    host, sep, port = rest.rpartition(":")
    if not sep or not host or "/" in rest or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(
            f"--scheduler {scheduler!r} is not allowed: a distributed scheduler is "
            "tcp://HOST:PORT with PORT an integer in 1..65535"
        )
    return scheduler


def max_local_workers() -> int:
    """Most workers of ``local:N``: 4 per CPU core, at least 8 (an assumption: more
    worker processes than that only contend for the cores and memory)."""
    return max(8, 4 * (os.cpu_count() or 1))


def check_scheduler(scheduler: Any) -> None:
    """Raise ``ConfigError`` for a scheduler the engine cannot use.

    Called once, at the edge (the CLI and the public entry points), before any I/O.
    ``scheduler`` is a name (:data:`SCHEDULERS`), a ``distributed.Client`` or None
    (the active client if one exists, else ``threads``).
    """
    if scheduler is None or is_client(scheduler):
        return
    if not isinstance(scheduler, str):
        raise ConfigError(
            f"--scheduler {scheduler!r} is not allowed: must be one of {', '.join(SCHEDULERS)} "
            "or a distributed.Client"
        )
    if scheduler in _LOCAL_SCHEDULERS:
        return
    if scheduler.startswith("tcp://"):
        host, _, port = scheduler[len("tcp://") :].rpartition(":")
        if host and port.isdigit() and 1 <= int(port) <= 65535:
            return
        raise ConfigError(
            f"--scheduler {scheduler[:80]!r} is not allowed: use tcp://HOST:PORT (PORT 1-65535)"
        )
    if scheduler.startswith("local:"):
        n = scheduler.split(":", 1)[1]
        most = max_local_workers()
        if n.isdigit() and 1 <= int(n) <= most:
            return
        raise ConfigError(
            f"--scheduler {scheduler[:80]!r} is not allowed: local:N needs an integer N >= 1 "
            f"and at most {most} (4 worker processes per CPU core)"
        )
    raise ConfigError(
        f"--scheduler {scheduler!r} is not allowed: must be one of {', '.join(SCHEDULERS)}"
    )


#: Seconds to wait for a ``tcp://`` scheduler before the run is refused (assumption:
#: a reachable scheduler answers within a few seconds, even over a cluster network).
CONNECT_TIMEOUT_S = float(os.environ.get("SWEEP_CONNECT_TIMEOUT", "10"))


def connect_scheduler(scheduler: Any) -> Any:
    """Resolve ``scheduler`` for a run: connect to a ``tcp://`` address now, at the edge.

    Returns a ``distributed.Client`` for ``tcp://`` (the caller closes it), the
    active client for None when one exists, else the scheduler unchanged (None
    becomes ``threads``). An unreachable scheduler is a ``ConfigError``, raised
    before anything is written.
    """
    check_scheduler(scheduler)
    if scheduler is None:
        return active_client() or "threads"
    if isinstance(scheduler, str) and scheduler.startswith("tcp://"):
        from distributed import Client  # lazy: distributed takes ~1 s to import

        try:
            return Client(scheduler, timeout=f"{CONNECT_TIMEOUT_S}s")
        except (OSError, TimeoutError) as exc:
            why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ConfigError(
                f"--scheduler {scheduler!r}: cannot connect within {CONNECT_TIMEOUT_S:g} s "
                f"({why[:160]}): start the scheduler (dask scheduler) or check the address"
            ) from None
    return scheduler


def _client_for(scheduler: Any):
    """(client, what to close) for a Client object, ``local:N`` or ``tcp://``.

    A client passed in is used, never closed; one made here is closed after the run.
    """
    if is_client(scheduler):
        return scheduler, []
    from distributed import Client, LocalCluster  # lazy: distributed takes ~1 s to import

    if scheduler.startswith("local:"):
        cluster = LocalCluster(
            n_workers=int(scheduler.split(":", 1)[1]),
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",  # a free port: concurrent clusters never clash
            silence_logs=40,
        )
        client = Client(cluster)
        return client, [client, cluster]
    client = Client(scheduler, timeout=f"{CONNECT_TIMEOUT_S}s")
    return client, [client]


def dispatch(
    fn: Callable[..., Any],
    arglist: Sequence[tuple],
    scheduler: Any = "threads",
    *,
    on_result: Callable[[int, Any], None] | None = None,
    name: str = "task",
) -> list[Any]:
    """``fn(*args)`` for every args tuple on a dask scheduler; results in order.

    Parameters
    ----------
    fn : callable
        Module-level and fed plain data when the scheduler runs other processes
        (``processes``, ``local:N``, ``tcp://``).
    arglist : sequence of tuple
        One task per tuple.
    scheduler : str, distributed.Client or None
        ``threads``, ``processes``, ``synchronous``, ``local:N``,
        ``tcp://HOST:PORT`` (checked at the edge: :func:`check_scheduler`), a
        ``distributed.Client`` (used, not closed) or None (the active client if
        one exists, else ``threads``).
    on_result : callable, optional
        ``on_result(i, result)``, called in this process as each task finishes.
    name : str
        Prefix of the task keys.
    """
    results: list[Any] = [None] * len(arglist)
    if not arglist:
        return results
    if scheduler is None:
        scheduler = active_client() or "threads"
    if isinstance(scheduler, str) and scheduler in _LOCAL_SCHEDULERS:
        import dask  # lazy: dask takes ~0.3 s to import; `sweep list`/`plan` never need it
        from dask.callbacks import Callback

        keys = [f"{name}-{i}" for i in range(len(arglist))]
        index = {k: i for i, k in enumerate(keys)}
        tasks = [
            dask.delayed(fn, pure=False)(*args, dask_key_name=k)
            for k, args in zip(keys, arglist, strict=True)
        ]

        class _Done(Callback):
            def _posttask(self, key, result, dsk, state, worker_id):
                if on_result is not None and key in index:
                    on_result(index[key], result)

        kwargs: dict[str, Any] = {"scheduler": scheduler}
        if scheduler == "processes":
            kwargs["num_workers"] = os.cpu_count()
        with _Done():
            return list(dask.compute(*tasks, **kwargs))
    from distributed import as_completed  # lazy: distributed takes ~1 s to import

    client, owned = _client_for(scheduler)
    try:
        run = uuid.uuid4().hex[:8]  # concurrent runs on one cluster never share a key
        futures = [
            client.submit(fn, *args, key=f"{name}-{i}-{run}", pure=False)
            for i, args in enumerate(arglist)
        ]
        position = {f.key: i for i, f in enumerate(futures)}
        for fut in as_completed(futures):
            i = position[fut.key]
            results[i] = fut.result()
            if on_result is not None:
                on_result(i, results[i])
    finally:
        for obj in owned:
            obj.close()
    return results
