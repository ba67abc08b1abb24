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
import subprocess
import tempfile
import uuid
import warnings
from collections.abc import Iterable, Iterator, Mapping
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
from .spec import ConfigError, SweepSpec

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
]

MANIFEST_DIR = ".sweep"


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
    if spec.design:
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
    if spec.keep_full:
        for o in spec.outputs:
            dt = spec.output_dtype(o)
            fill = np.int8(NOT_WRITTEN) if dt == np.int8 else np.nan
            attrs = {**variable_attrs(spec, o), **extra}
            array(o, plan.shape, dt, plan.block_shape, plan.dims, attrs, fill)
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


def _replace_store(tmp: Path, path: Path) -> None:
    """Move a finished temporary store into place (the old one, checked as ours, goes)."""
    if path.exists():
        shutil.rmtree(path)
    os.replace(tmp, path)


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

    def mark_done(self, block: int) -> None:
        self._atomic_write(self.done_dir, block, "")
        (self.failed_dir / str(block)).unlink(missing_ok=True)

    def mark_failed(self, block: int, message: str) -> None:
        self._atomic_write(self.failed_dir, block, message)


def read_attrs(path: str | Path) -> dict[str, Any]:
    """Store attributes without xarray (fast; works on incomplete stores)."""
    p = Path(path) / "zarr.json"
    if not p.is_file():
        raise StoreError(f"{str(path)!r} is not a transporter-sweep store (no zarr.json)")
    meta = json.loads(p.read_text())
    return meta.get("attributes", {})


def check_compatible(path: str | Path, spec: SweepSpec) -> dict[str, Any]:
    """Raise :class:`StoreError` unless the store at ``path`` was made for ``spec``."""
    attrs = read_attrs(path)
    if attrs.get("config_hash") != spec.config_hash:
        raise StoreError(
            f"store {str(path)!r} was created for a different config (hash "
            f"{str(attrs.get('config_hash'))[:12]} != {spec.config_hash[:12]}); "
            "use --overwrite to start again"
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
        self._encoders = {n: _direct_encoder(a) for n, a in self.arrays.items()}

    def _chunk_file(self, name: str, coords: tuple[int, ...]) -> Path:
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
            if src is None:
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
                if v.shape != tuple(plan.block_shape):  # edge chunk: zarr stores it whole
                    full = np.full(plan.block_shape, fill, dtype=v.dtype)
                    full[tuple(slice(0, n) for n in v.shape)] = v
                    v = full
                dst = self._chunk_file(name, coords)
                dst.parent.mkdir(parents=True, exist_ok=True)
                dst.write_bytes(
                    codec.encode(np.ascontiguousarray(v, dtype=v.dtype.newbyteorder("<")))
                )
            values = rest
        if len(values) <= 1:
            for name, v in values.items():
                self.arrays[name][region] = v
            return
        from zarr.core.sync import sync  # lazy: see _write_template

        async def _all():
            await asyncio.gather(
                *(self.arrays[n].async_array.setitem(region, v) for n, v in values.items())
            )

        sync(_all())

    def write_partials(self, partials: Mapping[str, tuple[tuple[slice, ...], np.ndarray]]) -> None:
        if not partials:
            return
        if self._partials is None:
            self._partials = RegionWriter(self.path / "_partials")
        self._partials.write(partials)


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
    writer.write_partials(partials or {})
    writer.manifest.mark_done(block)


def finalize_store(path: str | Path) -> None:
    """Mark the store complete and consolidate its metadata (once, by the driver)."""
    import zarr  # lazy: see _write_template

    group = zarr.open_group(str(path), mode="r+", zarr_format=3)
    group.attrs["complete"] = True
    group.attrs["completed"] = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    _consolidate(path)


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
