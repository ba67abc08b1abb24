"""One writer per store: an exclusive lock file beside the store (``.<name>.lock``).

Taken by every writer of a whole store (:class:`StoreLock`: pid, host, time,
command; stale locks are reported and taken over); shards of an initialised
store write concurrently but wait for a whole-store writer
(:func:`check_unlocked`).
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import socket
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .manifest import StoreError

__all__ = [
    "StoreLock",
    "lock_path",
    "check_unlocked",
]


def lock_path(path: str | Path) -> Path:
    """The lock file of the store at ``path``: beside it (``.<name>.lock``), so that it
    also guards the store's creation and replacement."""
    path = Path(path)
    return path.parent / f".{path.name}.lock"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    except (OSError, OverflowError, ValueError):
        return False
    return True


def _read_lock(lock: Path) -> dict[str, Any] | None:
    try:
        info = json.loads(lock.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, UnicodeDecodeError):
        return {}
    return info if isinstance(info, dict) else {}


def _holder(info: Mapping[str, Any]) -> str:
    return (
        f"pid {info.get('pid', '?')} on host {info.get('host', '?')} since "
        f"{info.get('time', '?')} ({info.get('command', '?')})"
    )


class StoreLock:
    """An exclusive lock of one store: a file holding pid, host, time and command.

    Taken by every writer of a whole store (``sweep run``, ``--resume``,
    ``--overwrite``, ``sweep init``) for as long as it writes; shards of one
    initialised store do not take it (they write disjoint blocks concurrently),
    but refuse to start while a whole-store writer holds it. The lock is created
    whole (written to a temporary file, then hard-linked into place, which fails
    if it exists). A lock whose process is gone (same host, pid not running) is
    stale: it is reported on stderr and taken over. A lock held from another
    host cannot be checked: it is refused with the file to delete.
    """

    def __init__(self, lock: str | Path, command: str, *, what: str = "store") -> None:
        self.lock = Path(lock)
        self.command = command
        self.what = what
        self.held = False

    def _info(self) -> dict[str, Any]:
        return {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "time": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "command": self.command,
        }

    def stale(self, info: Mapping[str, Any] | None) -> bool:
        """True when the holder described by ``info`` is certainly gone."""
        if info is None:
            return False
        if not info:  # unreadable: written by no version of this package
            return True
        pid = info.get("pid")
        if info.get("host") != socket.gethostname() or not isinstance(pid, int):
            return False
        return not _pid_alive(pid)

    def try_acquire(self) -> bool:
        """Take the lock (True), or leave it to its live holder (False)."""
        self.lock.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(3):
            fd, tmp = tempfile.mkstemp(prefix=f"{self.lock.name}.", dir=self.lock.parent)
            try:
                with os.fdopen(fd, "w") as f:
                    json.dump(self._info(), f)
                os.link(tmp, self.lock)
                self.held = True
                return True
            except FileExistsError:
                info = _read_lock(self.lock)
                if info is None:
                    continue  # released meanwhile: try again
                if not self.stale(info):
                    return False
                print(
                    f"sweep: warning: removed a stale lock of {self.what} "
                    f"{str(self.lock)!r}: {_holder(info)} is no longer running",
                    file=sys.stderr,
                )
                self.lock.unlink(missing_ok=True)
            finally:
                Path(tmp).unlink(missing_ok=True)
        return False

    def holder(self) -> str:
        info = _read_lock(self.lock)
        return _holder(info) if info else "an unknown process"

    def acquire(self) -> StoreLock:
        """Take the lock or raise :class:`StoreError` naming its holder."""
        if not self.try_acquire():
            raise StoreError(
                f"{self.what} is being written by {self.holder()}: one writer per store "
                f"(if that process is gone, delete {str(self.lock)!r})"
            )
        return self

    def release(self) -> None:
        if self.held:
            info = _read_lock(self.lock)
            if info and info.get("pid") == os.getpid():
                self.lock.unlink(missing_ok=True)
            self.held = False

    def __enter__(self) -> StoreLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def check_unlocked(path: str | Path) -> None:
    """Raise :class:`StoreError` while a live whole-store writer holds the store's lock
    (a stale lock is reported and removed). Reads only: shards never block each other."""
    lk = StoreLock(lock_path(path), "check", what=f"store {str(path)!r}")
    info = _read_lock(lk.lock)
    if info is None:
        return
    if lk.stale(info):
        print(
            f"sweep: warning: removed a stale lock of store {str(path)!r}: "
            f"{_holder(info)} is no longer running",
            file=sys.stderr,
        )
        lk.lock.unlink(missing_ok=True)
        return
    raise StoreError(
        f"store {str(path)!r} is being written by {_holder(info)}: shards wait for it to "
        f"finish (if that process is gone, delete {str(lk.lock)!r})"
    )
