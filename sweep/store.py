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
blocks in flight. The markers and the store's attributes are read by
:mod:`sweep.manifest`, checked by :mod:`sweep.verify`; one writer per store is
:mod:`sweep.locks`. The results of analyses (boundaries, sensitivities) are
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
import subprocess
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

from .manifest import MANIFEST_DIR, PARTIALS_DIR, Manifest, StoreError, read_attrs
from .plan import Plan
from .reduce import create_partials, reduction_vars
from .spec import ConfigError, SweepSpec, shorten
from .verify import _crc32
from .verify import verify_store as verify_store  # also sweep.store.verify_store

__all__ = [
    "create_store",
    "atomic_store",
    "write_dataset",
    "result_attrs",
    "BlockWriter",
    "RegionWriter",
    "write_block",
    "finalize_store",
    "aside_stores",
]


#: The one debug hook of the storage protocol: ``fault_hook(step)`` is called at
#: each step of a store replacement (``"replace:aside"``, ``"replace:swapped"``)
#: and of finalization (``"finalize:consolidated"``, ``"finalize:complete"``),
#: so that tests (``tests/helpers.py``) can raise or end the process exactly
#: there. None (nothing happens) unless a test sets it.
fault_hook: Callable[[str], None] | None = None


def _step(name: str) -> None:
    if fault_hook is not None:
        fault_hook(name)


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
