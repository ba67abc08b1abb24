"""Integrity of a sweep store: every done block's chunk files against its recorded CRC-32s.

A block's marker (:class:`sweep.manifest.Manifest`) records the CRC-32 of
each chunk file it wrote, its reduction partials in ``_partials/`` included
(:func:`_crc32`, also used by the block writer); :func:`verify_store` reads
them back and reports every block whose chunk was deleted, zeroed or
otherwise changed since it was written (``sweep status --verify``).
"""

from __future__ import annotations

import json
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from .manifest import PARTIALS_DIR, Manifest, read_attrs

__all__ = [
    "verify_store",
]


def _crc32(path: Path) -> str | None:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    return f"{zlib.crc32(data):08x}"


def verify_store(path: str | Path) -> dict[str, Any]:
    """Check every done block's chunk files (its fields and its reduction partials in
    ``_partials/``) against the CRC-32s its marker recorded.

    Returns ``{"checked": n, "unverifiable": [blocks without checksums], "bad": {block:
    message}}``; a chunk that was deleted, zeroed or otherwise changed after its
    block was marked done is ``bad``.
    """
    import zarr  # lazy: see sweep.store._write_template

    path = Path(path)
    attrs = read_attrs(path)
    shape = [int(x) for x in attrs.get("block_shape") or ()]
    group = zarr.open_group(str(path), mode="r", zarr_format=3)
    m = Manifest(path)
    bad: dict[int, str] = {}
    unverifiable: list[int] = []
    checked = 0
    for b in sorted(m.done()):
        try:
            text = (m.done_dir / str(b)).read_text(encoding="utf-8")
            crcs = json.loads(text)["crc32"] if text.strip() else None
        except (OSError, ValueError, KeyError, TypeError):
            crcs = None
        if not crcs:
            unverifiable.append(b)
            continue
        checked += 1
        for name, want in sorted(crcs.items()):
            if name.startswith(PARTIALS_DIR + "/"):  # a reduction partial: its chunk's path
                f = path / name
                what_of = f"the reduction partial {name.split('/')[1]}"
            else:
                arr = group[name]
                grid = [-(-n // c) for n, c in zip(arr.shape[: len(shape)], shape, strict=True)]
                coords = tuple(int(i) for i in np.unravel_index(b, grid))
                coords += (0,) * (len(arr.shape) - len(shape))  # trailing dims: one chunk
                f = path / name / arr.metadata.encode_chunk_key(coords)
                what_of = f"the chunk of {name}"
            got = _crc32(f)
            if got != want:
                what = "is missing" if got is None else "has changed"
                bad[b] = f"{what_of} ({f.relative_to(path)}) {what} since it was written"
                break
    return {"checked": checked, "unverifiable": unverifiable, "bad": bad}
