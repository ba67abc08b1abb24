"""The zarr (format 3) stores: sweep template, aligned region writes, manifest, small stores.

Protocol of a sweep store (architecture.md, decision 4):

1. The driver writes the template with zarr directly, in xarray's
   conventions (what ``xarray.Dataset.to_zarr(compute=False)`` would write):
   coordinates, variable metadata (units, long_name), store attributes
   (resolved config, its hash, versions, backend, creation time), no data.
   It is built in a temporary directory and moved into place
   (:func:`atomic_store`).
2. Each block writes its own region, aligned to whole zarr chunks (block =
   chunk), then records completion with one marker file in
   ``<store>/.sweep/done/`` written by temp file + ``os.replace`` (atomic), so
   a block is never marked done before its data is on disk.
3. When every block is done, the driver sets ``complete = true`` and
   consolidates metadata once.

Resume and shards skip blocks whose marker exists; a crash loses at most the
blocks in flight. The results of analyses (boundaries, sensitivities) are
small stores written whole by :func:`write_dataset`, through the same
:func:`atomic_store`. int8 variables are filled with
:data:`kernels.solvers.NOT_WRITTEN` until written.
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import uuid
import warnings
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

import jax
import numpy as np

from kernels.solvers import NOT_WRITTEN

from .plan import Plan
from .reduce import create_partials, reduction_vars
from .spec import ConfigError, SweepSpec, shorten

__all__ = [
    "StoreError",
    "create_store",
    "atomic_store",
    "write_dataset",
    "result_attrs",
    "Manifest",
    "BlockWriter",
    "RegionWriter",
    "write_block",
    "finalize_store",
    "store_status",
    "verify_store",
    "StoreLock",
    "lock_path",
    "check_unlocked",
    "aside_stores",
]

MANIFEST_DIR = ".sweep"
#: Folder of a store holding the reduction partials of every block (one chunk per block).
PARTIALS_DIR = "_partials"

#: The one debug hook of the storage protocol: ``fault_hook(step)`` is called at
#: each step of a store replacement (``"replace:aside"``, ``"replace:swapped"``)
#: and of finalization (``"finalize:consolidated"``, ``"finalize:complete"``),
#: so that tests (``tests/helpers.py``) can raise or end the process exactly
#: there. None (nothing happens) unless a test sets it.
fault_hook: Callable[[str], None] | None = None


def _step(name: str) -> None:
    if fault_hook is not None:
        fault_hook(name)


class StoreError(RuntimeError):
    """A store that cannot be used as asked (exists, config mismatch, incomplete)."""


@lru_cache(maxsize=1)
def _versions() -> dict[str, str]:
    out = {}
    for pkg in ("transporter-sweep", "jax", "jaxlib", "numpy", "xarray", "zarr", "dask", "pint"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            continue
    return out


@lru_cache(maxsize=1)
def _git_revision() -> str | None:
    try:
        here = Path(__file__).resolve().parent.parent
        out = subprocess.run(
            ["git", "-C", str(here), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def _jax_device() -> dict[str, str]:
    dev = jax.devices()[0]
    return {"jax_backend": jax.default_backend(), "jax_device": f"{dev.platform}:{dev.device_kind}"}


def variable_attrs(spec: SweepSpec, name: str) -> dict[str, Any]:
    o = spec.registry.outputs[name]
    attrs: dict[str, Any] = {
        "units": o.unit,
        "long_name": o.long_name,
        "description": o.description,
    }
    for k, v in o.attrs.items():
        attrs[k] = json.loads(json.dumps(v))
    if "flag_values" in attrs:  # CF: a flag variable has flag_values/meanings, no units
        del attrs["units"]
    return attrs


def coord_attrs(spec: SweepSpec, name: str) -> dict[str, Any]:
    i = spec.registry.inputs[name]
    attrs = {"units": i.unit, "long_name": i.long_name, "description": i.description}
    axis = next((a for a in spec.axes if a.name == name), None)
    if axis is not None:  # how the axis was laid out (log: evenly spaced in ln x)
        attrs["spacing"] = axis.spacing
    return attrs


#: Rows per chunk of a large sobol/random design's coordinates (2^20 rows: 8 MiB per input).
SAMPLE_COORD_CHUNK = 2**20


def time_attrs() -> dict[str, Any]:
    """Attributes of the ``time`` coordinate of time-course variables (CF)."""
    return {
        "units": "s",
        "long_name": "time",
        "description": "time since the inputs switched (t = 0); t < 0: the initial state",
        "axis": "T",
    }


def _fill(dt: np.dtype) -> Any:
    """Fill value of a variable of dtype ``dt`` ("not written")."""
    if dt == np.int8:
        return np.int8(NOT_WRITTEN)
    if dt.kind == "i":
        return dt.type(-1)  # a count (steps taken) is never negative
    return np.nan


def _write_template(path: Path, plan: Plan) -> None:
    """Write what ``xarray.Dataset.to_zarr(compute=False)`` would: metadata, coordinates, no data.

    Written with zarr directly, in xarray's conventions (``dimension_names``,
    attributes, a ``coordinates`` attribute naming non-index coordinates), so
    ``xarray.open_zarr`` reads it as the same dataset; this keeps xarray and
    dask.array out of the run path (about a second of imports per run).
    """
    import zarr  # lazy: zarr takes ~0.3 s to import; `sweep list`/`plan` never need it

    spec = plan.spec
    root = zarr.open_group(str(path), mode="w", zarr_format=3, attributes=store_attrs(spec, plan))

    def array(name, data_or_shape, dtype, chunks, dims, attrs, fill):
        shape = data_or_shape.shape if isinstance(data_or_shape, np.ndarray) else data_or_shape
        arr = root.create_array(
            name,
            shape=shape,
            chunks=chunks,
            dtype=dtype,
            fill_value=fill,
            dimension_names=dims,
            attributes=attrs,
        )
        if isinstance(data_or_shape, np.ndarray):
            arr[...] = data_or_shape

    extra: dict[str, str] = {}
    if spec.design and spec.n_points > SAMPLE_COORD_CHUNK:
        # a large design: its coordinates written chunk by chunk (sobol/random: generated
        # per chunk, memory follows the chunk; the others sliced from the driver's one
        # sample), so a worker reads only its block's rows (Plan.sample_rows)
        n, c = spec.n_points, SAMPLE_COORD_CHUNK
        array("sample", (n,), "int64", (c,), ("sample",), {}, 0)
        for a in spec.axes:
            array(a.name, (n,), "float64", (c,), ("sample",), coord_attrs(spec, a.name), np.nan)
        for lo in range(0, n, c):
            hi = min(lo + c, n)
            root["sample"][lo:hi] = np.arange(lo, hi, dtype=np.int64)
            for name, vals in plan.sample_rows(lo, hi).items():
                root[name][lo:hi] = vals
        extra = {"coordinates": " ".join(spec.axis_names)}
    elif spec.design:
        n = spec.n_points
        array("sample", np.arange(n, dtype=np.int64), "int64", (n,), ("sample",), {}, 0)
        for a in spec.axes:
            vals = np.asarray(plan.coords[a.name], dtype=np.float64)
            array(a.name, vals, "float64", (n,), ("sample",), coord_attrs(spec, a.name), np.nan)
        extra = {"coordinates": " ".join(spec.axis_names)}
    else:
        for a in spec.axes:
            vals = np.asarray(a.values, dtype=np.float64)
            array(a.name, vals, "float64", (a.size,), (a.name,), coord_attrs(spec, a.name), np.nan)
    if spec.times is not None:  # time courses: a trailing dimension, never chunked
        t = spec.times
        array("time", t, "float64", (t.size,), ("time",), time_attrs(), np.nan)
    if spec.keep_full:
        for o in spec.outputs:
            dt = spec.output_dtype(o)
            attrs = {**variable_attrs(spec, o), **extra}
            tail = spec.trailing_shape(o)
            array(
                o,
                (*plan.shape, *tail),
                dt,
                (*plan.block_shape, *tail),
                (*plan.dims, *spec.trailing_dims(o)),
                attrs,
                _fill(dt),
            )
    for name, (dims, shape, chunks, attrs) in reduction_vars(plan).items():
        array(name, shape, "float64", chunks, dims, attrs, np.nan)


def store_attrs(spec: SweepSpec, plan: Plan | None) -> dict[str, Any]:
    """Provenance attributes of a store (and its blocks, given the plan)."""
    attrs = {
        "Conventions": "CF-1.10",
        "title": spec.name,
        "description": spec.description,
        "config": json.dumps(spec.resolved, sort_keys=True),
        "config_hash": spec.config_hash,
        "axis_order": list(spec.axis_names),
        "versions": json.dumps(_versions(), sort_keys=True),
        "python": platform.python_version(),
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "complete": False,
        "store_token": uuid.uuid4().hex,
        **_jax_device(),
    }
    if plan is not None:
        attrs["n_blocks"] = plan.n_blocks
        attrs["block_shape"] = list(plan.block_shape)
    rev = _git_revision()
    if rev:
        attrs["git_revision"] = rev
    return attrs


def check_parent(path: Path) -> None:
    """The store's directory must be creatable and writable (checked before any compute)."""
    parent = path.resolve().parent
    p = parent
    while not p.exists():
        p = p.parent
    try:
        name_max = int(os.pathconf(p, "PC_NAME_MAX"))
    except (OSError, ValueError):
        name_max = 255
    # beside the store go its temporary, set-aside and lock entries (".<name>.replaced-1234abcd")
    most = name_max - len(f".{ASIDE_TAG}12345678")
    for part in path.parts:
        if len(os.fsencode(part)) > most:
            raise ConfigError(
                f"store = {shorten(str(path), 120)!r}: the name {shorten(part, 60)!r} is "
                f"{len(os.fsencode(part))} bytes; at most {most} are allowed here"
            )
    if not p.is_dir():
        raise ConfigError(f"store = {str(path)!r}: {str(p)!r} is a file, not a directory")
    if not os.access(p, os.W_OK):
        raise ConfigError(f"store = {str(path)!r}: directory {str(p)!r} is not writable")


def is_sweep_store(path: str | Path) -> bool:
    """True for a directory written by this package (a zarr group carrying ``config_hash``)."""
    p = Path(path)
    if not (p / "zarr.json").is_file():
        return False
    try:
        return "config_hash" in read_attrs(p)
    except (OSError, ValueError, StoreError):
        return False


def check_store_target(path: str | Path, *, overwrite: bool, hint: str = "") -> Path:
    """Validate a store path before compute: writable, and replaceable only if it is ours.

    ``--overwrite`` deletes the old store, so it must never delete anything
    else: a directory that is not a transporter-sweep store, a file, or the
    working directory (or one of its parents) is refused.
    """
    path = Path(path)
    check_parent(path)
    if not path.exists() and not path.is_symlink():
        return path
    if not overwrite:
        raise StoreError(f"store {str(path)!r} already exists: use --overwrite to replace it{hint}")
    if path.is_symlink():
        raise StoreError(
            f"--overwrite refused: {str(path)!r} is a symbolic link; give the store's real path "
            f"({str(path.resolve())!r})"
        )
    resolved = path.resolve()
    cwd = Path.cwd().resolve()
    if resolved == cwd or resolved in cwd.parents:
        raise StoreError(f"--overwrite refused: {str(path)!r} is the working directory or above it")
    if not is_sweep_store(path):
        raise StoreError(
            f"--overwrite refused: {str(path)!r} exists and is not a transporter-sweep store; "
            "remove it yourself or choose another store path"
        )
    return path


ASIDE_TAG = ".replaced-"


def aside_stores(path: str | Path) -> list[Path]:
    """Old stores an interrupted ``--overwrite`` left moved aside beside ``path``."""
    path = Path(path)
    try:
        return sorted(path.parent.glob(f".{path.name}{ASIDE_TAG}*"))
    except OSError:
        return []


def _replace_store(tmp: Path, path: Path) -> None:
    """Move a finished temporary store into place, crash-safely.

    The old store (checked as ours) is first renamed aside (atomic), the new
    one renamed into place (atomic), and only then is the old one deleted. A
    crash at any moment leaves at ``path`` either the old store, whole, or the
    new one, whole, or nothing (the old one then lies whole beside it, see
    :func:`aside_stores`): never a half-deleted store.
    """
    if not path.exists():
        os.replace(tmp, path)
        return
    aside = path.with_name(f".{path.name}{ASIDE_TAG}{uuid.uuid4().hex[:8]}")
    os.rename(path, aside)
    try:
        _step("replace:aside")
        os.replace(tmp, path)
    except BaseException:
        if not path.exists():
            os.rename(aside, path)  # put the old store back
        raise
    _step("replace:swapped")
    _delete_later(aside)


#: Name tag of an old store being deleted after an ``--overwrite`` (never reported as
#: a whole store moved aside: its deletion may have been cut short).
DELETING_TAG = ".deleting-"


def _delete_later(old: Path) -> None:
    """Delete a replaced store in a background thread (the run goes on meanwhile).

    Removing a store's directories costs milliseconds each on some filesystems
    (seconds for a large store, measured in benchmarks/RESULTS.md), time the new
    run need not wait for. The store is first renamed to a ``.deleting-`` name
    (atomic), so an interrupted deletion never passes as a whole old store; the
    thread is not a daemon, so the process finishes the deletion before it exits.
    """
    doomed = old.with_name(old.name.replace(ASIDE_TAG, DELETING_TAG, 1))
    try:
        os.rename(old, doomed)
    except OSError:
        doomed = old
    threading.Thread(
        target=shutil.rmtree, args=(doomed,), kwargs={"ignore_errors": True}, name="sweep-rm"
    ).start()


@contextmanager
def atomic_store(path: str | Path, *, overwrite: bool = False, hint: str = "") -> Iterator[Path]:
    """Build a store in a temporary directory beside ``path``; move it into place on success.

    The target is checked first (:func:`check_store_target`); on any failure
    the temporary directory is removed and an existing store is left as it was.
    """
    path = check_store_target(path, overwrite=overwrite, hint=hint)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        yield tmp
        _replace_store(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _consolidate(path: str | Path) -> None:
    import zarr  # lazy: see _write_template

    with warnings.catch_warnings():
        # the manifest folder is not a zarr node, and consolidated metadata is a
        # zarr-python extension to format 3: both expected, neither actionable
        warnings.simplefilter("ignore")
        zarr.consolidate_metadata(str(path), zarr_format=3)


def create_store(plan: Plan, path: str | Path, *, overwrite: bool = False) -> Path:
    """Write the template (metadata, coordinates, attributes) and an empty manifest.

    The template is built in a temporary directory beside ``path`` and moved
    into place, so a failure never leaves a half-written store.
    """
    hint = " (or 'sweep run --resume' to complete it)"
    with atomic_store(path, overwrite=overwrite, hint=hint) as tmp:
        _write_template(tmp, plan)
        create_partials(tmp, plan)
        (tmp / MANIFEST_DIR / "done").mkdir(parents=True)
        (tmp / MANIFEST_DIR / "failed").mkdir(parents=True)
    return Path(path)


def result_attrs(spec: SweepSpec, title: str) -> dict[str, Any]:
    """Attributes of an analysis' result store: the sweep's provenance, complete, titled."""
    attrs = store_attrs(spec, None)
    attrs["complete"] = True
    attrs["title"] = title
    return attrs


def write_dataset(
    ds: Any,
    path: str | Path,
    *,
    overwrite: bool = False,
    encoding: Mapping[str, Any] | None = None,
    fill: Any = None,
) -> Path:
    """Write a small dataset as a zarr (format 3) store, atomically (temp dir + rename).

    Parameters
    ----------
    ds : xarray.Dataset
        The dataset (its attributes become the store's).
    path : path
        The store; an existing one is replaced only with ``overwrite`` and only
        if it is a transporter-sweep store.
    encoding : mapping, optional
        xarray encodings per variable.
    fill : callable, optional
        ``fill(tmp_path)``: when given, ``ds`` is written as a template
        (``compute=False``) and ``fill`` writes the data into it before the
        store is consolidated and moved into place.
    """
    with atomic_store(path, overwrite=overwrite) as tmp:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # text coordinates: no zarr v3 spec for strings yet
            ds.to_zarr(
                tmp,
                mode="w",
                zarr_format=3,
                consolidated=False,
                compute=fill is None,
                encoding=dict(encoding or {}),
            )
        if fill is not None:
            fill(tmp)
        _consolidate(tmp)
    return Path(path)


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


def check_compatible(path: str | Path, spec: SweepSpec, plan: Plan | None = None) -> dict[str, Any]:
    """Raise :class:`StoreError` unless the store at ``path`` was made for ``spec`` (and,
    given, cut into the blocks of ``plan``): same config, same order of axes, same blocks."""
    attrs = read_attrs(path)
    if "n_blocks" not in attrs:
        raise StoreError(
            f"store {str(path)!r} holds the result of an analysis ({attrs.get('title')!r}), "
            "not a sweep: --resume and --shard need a store made by 'sweep run' or 'sweep init'"
        )
    if attrs.get("config_hash") != spec.config_hash:
        mine = list(spec.axis_names)
        theirs = [str(a) for a in attrs.get("axis_order") or ()]
        if theirs != mine and sorted(theirs) == sorted(mine):
            raise StoreError(
                f"store {str(path)!r} has its axes in another order ({', '.join(theirs)}; this "
                f"config: {', '.join(mine)}): list the axes in the store's order, or use "
                "--overwrite to start again"
            )
        raise StoreError(
            f"store {str(path)!r} was created for a different config (hash "
            f"{str(attrs.get('config_hash'))[:12]} != {spec.config_hash[:12]}); "
            "use --overwrite to start again"
        )
    if plan is not None:
        stored_blocks = [int(x) for x in attrs.get("block_shape") or ()]
        if stored_blocks != list(plan.block_shape) or attrs.get("n_blocks") != plan.n_blocks:
            raise StoreError(
                f"store {str(path)!r} is cut into blocks of {tuple(stored_blocks)} but this run "
                f"plans {tuple(plan.block_shape)} (another version or memory target): resume it "
                "with the version that created it, or use --overwrite to start again"
            )
    return attrs


class BlockWriter:
    """Open zarr arrays of one store, reused for every block a process writes.

    An output that does not depend on some axes repeats along them: blocks
    that differ only along those axes hold identical chunks. Given each
    output's ``dependencies`` (axis positions), the writer encodes such a chunk
    once and copies the encoded bytes for the repeats (same bytes as encoding
    again, without the compression work).
    """

    def __init__(
        self,
        path: str | Path,
        names: Iterable[str],
        *,
        plan: Plan | None = None,
        dependencies: Mapping[str, tuple[int, ...]] | None = None,
    ) -> None:
        import zarr  # lazy: see _write_template

        self.path = Path(path)
        group = zarr.open_group(str(self.path), mode="r+", zarr_format=3)
        self.arrays = {n: group[n] for n in names}
        self.manifest = Manifest(self.path)
        self.plan = plan
        self.deps = dict(dependencies or {})
        self._written: dict[tuple, Path] = {}
        self._partials: RegionWriter | None = None
        self._partial_arrays: dict[str, tuple[Any, Any]] = {}
        self._encoders = {n: _direct_encoder(a) for n, a in self.arrays.items()}
        # dimensions after the sweep's own (a time course's time), held whole by a block
        k = len(plan.block_shape) if plan is not None else None
        self._tail = {
            n: tuple(a.shape[k:]) if k is not None else () for n, a in self.arrays.items()
        }

    def _chunk_file(self, name: str, coords: tuple[int, ...]) -> Path:
        coords = (*coords, *(0 for _ in self._tail.get(name, ())))
        return self.path / name / self.arrays[name].metadata.encode_chunk_key(coords)

    def write(self, region: tuple[slice, ...], values: Mapping[str, np.ndarray]) -> None:
        plan = self.plan
        coords = (
            tuple(s.start // c for s, c in zip(region, plan.block_shape, strict=True))
            if plan is not None
            else None
        )
        fresh: dict[str, np.ndarray] = {}
        encoded: dict[tuple, Path] = {}
        for name, v in values.items():
            dep = self.deps.get(name)
            if coords is None or dep is None or len(dep) == len(coords):
                fresh[name] = v
                continue
            shape = tuple(s.stop - s.start for s in region)
            key = (name, tuple(coords[i] for i in dep), shape)
            src = self._written.get(key)
            dst = self._chunk_file(name, coords)
            if src is None or src == dst:  # (a retry of the block that wrote it: write again)
                fresh[name] = v
                encoded[key] = dst
            elif src.exists():
                dst.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(src, dst)
            else:  # an all-fill chunk is not stored by zarr: neither is its repeat
                dst.unlink(missing_ok=True)
        self._write_concurrently(region, fresh)
        # only now may other blocks (other threads) copy these chunks
        self._written.update(encoded)

    def digests(self, region: tuple[slice, ...], names: Iterable[str]) -> dict[str, str | None]:
        """CRC-32 (hex) of the chunk file of each array in ``names`` at ``region``."""
        if self.plan is None:
            return {}
        coords = tuple(s.start // c for s, c in zip(region, self.plan.block_shape, strict=True))
        out: dict[str, str | None] = {}
        for name in names:
            out[name] = _crc32(self._chunk_file(name, coords))
        return out

    def _write_concurrently(self, region: tuple[slice, ...], values: Mapping[str, np.ndarray]):
        """Encode and write one block's chunks.

        Arrays whose codecs are the plain ``bytes + zstd`` pipeline are encoded
        here (numcodecs releases the GIL, so worker threads encode in parallel)
        and written as chunk files, byte-identical to what zarr writes; the rest
        go through zarr in one trip to its event loop.
        """
        plan = self.plan
        if plan is not None:
            coords = tuple(s.start // c for s, c in zip(region, plan.block_shape, strict=True))
            rest = {}
            for name, v in values.items():
                enc = self._encoders.get(name)
                if enc is None:
                    rest[name] = v
                    continue
                codec, fill = enc
                chunk = (*plan.block_shape, *self._tail.get(name, ()))
                if v.shape != chunk:  # edge chunk: zarr stores it whole
                    full = np.full(chunk, fill, dtype=v.dtype)
                    full[tuple(slice(0, n) for n in v.shape)] = v
                    v = full
                dst = self._chunk_file(name, coords)
                dst.parent.mkdir(parents=True, exist_ok=True)
                dst.write_bytes(
                    codec.encode(np.ascontiguousarray(v, dtype=v.dtype.newbyteorder("<")))
                )
            values = rest

        def at(name: str) -> tuple[slice, ...]:
            return (*region, *(slice(0, n) for n in self._tail.get(name, ())))

        if len(values) <= 1:
            for name, v in values.items():
                self.arrays[name][at(name)] = v
            return
        from zarr.core.sync import sync  # lazy: see _write_template

        async def _all():
            await asyncio.gather(
                *(self.arrays[n].async_array.setitem(at(n), v) for n, v in values.items())
            )

        sync(_all())

    def write_partials(
        self, partials: Mapping[str, tuple[tuple[slice, ...], np.ndarray]]
    ) -> dict[str, str | None]:
        """Write a block's reduction partials (each fills its own chunk) and return the
        CRC-32 of each chunk file, keyed by its path in the store
        (``_partials/<name>/c/...``) for the block's marker.

        Chunks of the plain ``bytes + zstd`` pipeline are encoded here and written as
        files (as :meth:`_write_concurrently`: byte-identical to zarr's, without its
        per-call overhead of milliseconds); others go through zarr.
        """
        if not partials:
            return {}
        if self._partials is None:
            self._partials = RegionWriter(self.path / PARTIALS_DIR)
        group = self._partials.group
        out: dict[str, str | None] = {}
        for name, (region, v) in partials.items():
            arr, enc = self._partial_arrays.get(name, (None, None))
            if arr is None:
                arr = group[name]
                enc = _direct_encoder(arr)
                self._partial_arrays[name] = (arr, enc)
            chunks = tuple(arr.chunks)
            coords = tuple(s.start // c for s, c in zip(region, chunks, strict=True))
            key = f"{PARTIALS_DIR}/{name}/{arr.metadata.encode_chunk_key(coords)}"
            if enc is None:
                arr[region] = v
                out[key] = _crc32(self.path / key)
                continue
            codec, fill = enc
            if v.shape != chunks:  # edge chunk: stored whole, filled
                full = np.full(chunks, fill, dtype=v.dtype)
                full[tuple(slice(0, n) for n in v.shape)] = v
                v = full
            data = codec.encode(np.ascontiguousarray(v, dtype=v.dtype.newbyteorder("<")))
            dst = self.path / key
            dst.parent.mkdir(parents=True, exist_ok=True)
            dst.write_bytes(data)
            out[key] = f"{zlib.crc32(data):08x}"
        return out


class RegionWriter:
    """Writes regions of the arrays of one zarr group (opened once, reused by every block)."""

    def __init__(self, path: str | Path) -> None:
        import zarr  # lazy: see _write_template

        self.group = zarr.open_group(str(path), mode="r+", zarr_format=3)

    def write(self, items: Mapping[str, tuple[tuple[slice, ...], np.ndarray]]) -> None:
        """``{name: (region, values)}``: each region aligned to whole chunks of its array."""
        for name, (region, v) in items.items():
            self.group[name][region] = v


def _direct_encoder(array) -> tuple[Any, Any] | None:
    """(numcodecs codec, fill value) when ``array`` uses exactly bytes(little) + zstd, else None."""
    try:
        import numcodecs  # lazy: see _write_template
        from zarr.codecs import BytesCodec, ZstdCodec

        meta = array.metadata
        codecs = tuple(meta.codecs)
        if (
            len(codecs) != 2
            or not isinstance(codecs[0], BytesCodec)
            or (codecs[0].endian is not None and codecs[0].endian.value != "little")
            or not isinstance(codecs[1], ZstdCodec)
            or meta.chunk_key_encoding.to_dict().get("name") != "default"
        ):
            return None
        fill = np.asarray(meta.fill_value, dtype=array.dtype)
        return numcodecs.Zstd(level=codecs[1].level, checksum=codecs[1].checksum), fill
    except Exception:  # any surprise: let zarr write it
        return None


def write_block(
    writer: BlockWriter,
    block: int,
    region: tuple[slice, ...],
    values: Mapping[str, np.ndarray],
    partials: Mapping[str, tuple[tuple[slice, ...], np.ndarray]] | None = None,
) -> None:
    """Write one block's region (and reduction partials), then mark it done, in that order."""
    writer.write(region, values)
    part_crcs = writer.write_partials(partials or {})
    writer.manifest.mark_done(block, {**writer.digests(region, values), **part_crcs})


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
    import zarr  # lazy: see _write_template

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


def finalize_store(path: str | Path) -> None:
    """Mark the store complete and consolidate its metadata (once, by the driver)."""
    import zarr  # lazy: see _write_template

    # consolidate first, then mark complete (one attribute write, which keeps the
    # consolidated metadata): a crash in between leaves a store that is not yet
    # complete, which --resume finalizes again; never a complete, unconsolidated one
    _consolidate(path)
    _step("finalize:consolidated")
    group = zarr.open_group(str(path), mode="r+", zarr_format=3)
    group.attrs.update(
        {
            "complete": True,
            "completed": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        }
    )
    _step("finalize:complete")


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


# --- one writer per store ----------------------------------------------------------
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
