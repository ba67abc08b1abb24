"""What a sweep store records of its progress, read without zarr or xarray.

Each block records completion with one marker file in ``<store>/.sweep/done/``
(:class:`Manifest`), written by temp file + ``os.replace`` (atomic) after its
data is on disk, holding the CRC-32 of each chunk file the block wrote (checked
by :func:`sweep.verify.verify_store`); a block that failed leaves a message in
``.sweep/failed/``. :func:`read_attrs` reads the store's attributes from its
``zarr.json`` (fast; works on incomplete stores) and :func:`store_status`
counts blocks done, missing and failed. :class:`StoreError` is the error of a
store that cannot be used as asked.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = [
    "MANIFEST_DIR",
    "PARTIALS_DIR",
    "StoreError",
    "Manifest",
    "read_attrs",
    "store_status",
]


MANIFEST_DIR = ".sweep"


#: Folder of a store holding the reduction partials of every block (one chunk per block).
PARTIALS_DIR = "_partials"


class StoreError(RuntimeError):
    """A store that cannot be used as asked (exists, config mismatch, incomplete)."""


class Manifest:
    """Completion markers of one store: one file per block."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.done_dir = self.path / MANIFEST_DIR / "done"
        self.failed_dir = self.path / MANIFEST_DIR / "failed"

    def done(self) -> set[int]:
        if not self.done_dir.is_dir():
            return set()
        return {int(n) for n in os.listdir(self.done_dir) if n.isdigit()}

    def failed(self) -> dict[int, str]:
        if not self.failed_dir.is_dir():
            return {}
        out = {}
        for n in os.listdir(self.failed_dir):
            if n.isdigit():
                out[int(n)] = (self.failed_dir / n).read_text(errors="replace").strip()
        return out

    def _atomic_write(self, directory: Path, block: int, text: str) -> None:
        fd, tmp = tempfile.mkstemp(prefix=f".{block}.", dir=directory)
        try:
            with os.fdopen(fd, "w") as f:
                f.write(text)
            # rename is atomic: a marker exists whole or not at all. (No fsync:
            # zarr does not fsync chunks either; durability across power loss
            # is the filesystem's, and resume recomputes whatever is missing.)
            os.replace(tmp, directory / str(block))
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def mark_done(self, block: int, digests: Mapping[str, str | None] | None = None) -> None:
        """Mark ``block`` done, recording the CRC-32 of each chunk file it wrote (None:
        an all-fill chunk zarr does not store) for :func:`verify_store`."""
        text = json.dumps({"crc32": dict(digests)}, sort_keys=True) if digests else ""
        self._atomic_write(self.done_dir, block, text)
        (self.failed_dir / str(block)).unlink(missing_ok=True)

    def mark_failed(self, block: int, message: str) -> None:
        self._atomic_write(self.failed_dir, block, message)


def read_attrs(path: str | Path) -> dict[str, Any]:
    """Store attributes without xarray (fast; works on incomplete stores)."""
    p = Path(path) / "zarr.json"
    if not p.is_file():
        raise StoreError(f"{str(path)!r} is not a transporter-sweep store (no zarr.json)")
    try:
        meta = json.loads(p.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise StoreError(
            f"{str(path)!r}: its zarr.json is empty or not JSON (a damaged store): "
            "start again with --overwrite"
        ) from None
    attrs = meta.get("attributes", {}) if isinstance(meta, dict) else None
    if not isinstance(attrs, dict):
        raise StoreError(f"{str(path)!r}: its zarr.json has no attributes (a damaged store)")
    return attrs


def store_status(path: str | Path) -> dict[str, Any]:
    """Blocks done / missing / failed and whether the store is complete."""
    attrs = read_attrs(path)
    n = int(attrs.get("n_blocks", 0))
    m = Manifest(path)
    done = m.done()
    failed = m.failed()
    missing = sorted(set(range(n)) - done)
    return {
        "store": str(path),
        "name": attrs.get("title"),
        "config_hash": attrs.get("config_hash"),
        "n_blocks": n,
        "done": len(done),
        "missing": missing,
        "failed": {b: failed[b] for b in sorted(failed) if b not in done},
        "complete": bool(attrs.get("complete")) and not missing,
        "created": attrs.get("created"),
    }
