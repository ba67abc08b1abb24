"""Grid or design → coordinates, blocks (= zarr chunks) and shards. Pure: no I/O.

A block is the unit of compute, of writing and of completion: one jitted call
on a fixed block shape, one aligned region write, one marker file. Blocks are
numbered in C order over the block grid; a shard ``i/N`` owns a contiguous run
of block numbers, so concurrent shard processes never share a chunk.
"""

from __future__ import annotations

import math
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from .design import BLOCKWISE_METHODS, design_rows, physical_rows, unit_rows
from .spec import ConfigError, Reduction, SweepSpec

__all__ = [
    "Plan",
    "make_plan",
    "parse_shard",
    "compute_shape",
    "partial_bytes",
    "BLOCK_BYTES_TARGET",
    "FUSED_BLOCK_POINTS",
    "TIMECOURSE_BLOCK_POINTS",
    "fusable",
]

#: Default memory target of one block's outputs, bytes (blocks this size fit
#: comfortably in a worker; measured in benchmarks/RESULTS.md).
BLOCK_BYTES_TARGET = 16 * 2**20

#: Most grid points of one block of a reductions-only sweep (``keep_full: false``).
#: Its reductions are computed in cache-sized tiles and no field is materialised, so
#: memory follows the block's partials (kept at most :data:`BLOCK_BYTES_TARGET`),
#: not its points; the bound only keeps a block's run time short (assumption: a few
#: seconds at the slowest outputs, so progress, retries and resumes stay fine-grained).
FUSED_BLOCK_POINTS = 2**28
#: Blocks a reductions-only sweep is cut into at least, where its grid allows
#: (assumption: enough tasks to keep every core of a node busy and balanced).
FUSED_MIN_BLOCKS = 64
#: Fewest grid points of a reductions-only block (below, per-block overhead dominates).
FUSED_MIN_POINTS = 2**16
#: Most trajectories of one block of a time-course sweep. A trajectory costs ~0.1 ms
#: (whole cell, RODAS4), so the memory target alone would make a 10⁴-point grid one
#: block on one core; and under ``vmap`` a block's steps run to its slowest
#: trajectory. Measured (benchmarks/RESULTS.md, whole-cell KCC2 block × [K⁺]ₒ, 10⁴
#: trajectories end to end on 2 cores): 13.0k trajectories/s with blocks of 512,
#: 13.7k with 1,024, 13.0k with 2,048; one block of 10⁴ leaves a core idle.
TIMECOURSE_BLOCK_POINTS = 1024


_ROWS: OrderedDict[str, tuple[np.ndarray | None, dict[str, np.ndarray]]] = OrderedDict()
_ROWS_LOCK = threading.Lock()
#: Sampled designs whose rows a process keeps (each plan of one spec reads them once).
_ROWS_KEPT = 8


def _design_rows(spec: SweepSpec) -> tuple[np.ndarray | None, dict[str, np.ndarray]]:
    """:func:`~sweep.design.design_rows`, sampled once per spec and process (read-only)."""
    key = spec.canonical
    with _ROWS_LOCK:
        if key not in _ROWS:
            X, coords = design_rows(spec)
            for a in (X, *coords.values()):
                if a is not None:
                    a.setflags(write=False)
            _ROWS[key] = (X, coords)
            while len(_ROWS) > _ROWS_KEPT:
                _ROWS.popitem(last=False)
        return _ROWS[key]


def _auto_chunks(shape: tuple[int, ...], bytes_per_point: int, target: int) -> tuple[int, ...]:
    """Largest C-contiguous block under ``target`` bytes: fill the last axes first."""
    budget = max(1, target // max(1, bytes_per_point))
    chunks = [1] * len(shape)
    for i in reversed(range(len(shape))):
        c = int(min(shape[i], max(1, budget)))
        c = math.ceil(shape[i] / math.ceil(shape[i] / c))  # even blocks, no sliver at the edge
        chunks[i] = c
        budget //= c
        if budget < 2:
            break
    # blocks are computed with >= 2 points per axis (see compute_shape), so a chunk of 1
    # on a longer axis would waste half the work; unless that breaks the memory target
    # (many small axes: 26 axes of 2 values would make the whole grid one block)
    two = tuple(max(c, 2) if n >= 2 else c for c, n in zip(chunks, shape, strict=True))
    padded = sum(1 for c, n in zip(chunks, shape, strict=True) if c == 1 and n >= 2)
    # one padded axis at most doubles the block (as always: measured fastest, since the
    # compute shape would pad it anyway); more may not break the target
    if padded <= 1 or math.prod(two) * max(1, bytes_per_point) <= max(target, bytes_per_point):
        return two
    return tuple(chunks)


def compute_shape(
    block_shape: tuple[int, ...], shape: tuple[int, ...], bytes_per_point: int = 1
) -> tuple[int, ...]:
    """The fixed shape every block is computed at (edge blocks are padded).

    XLA simplifies size-1 dimensions differently (it may reassociate sums of
    broadcasts), which changes the last bit of some outputs; computing with at
    least 2 points per axis keeps results bit-identical whatever the chunking.
    Where that padding would take the block past :data:`BLOCK_BYTES_TARGET`
    (many small axes, each chunked by 1), the block is computed at its own
    shape: memory follows the target for any grid, and such grids are
    bit-identical for one chunking (not across chunkings).
    """
    two = tuple(max(c, 2) if n >= 2 else c for c, n in zip(block_shape, shape, strict=True))
    bpp = max(1, bytes_per_point)
    if math.prod(two) * bpp <= max(2 * math.prod(block_shape) * bpp, BLOCK_BYTES_TARGET):
        return two
    return tuple(block_shape)


def bytes_per_point(spec: SweepSpec) -> int:
    """Bytes of one point's outputs (what the memory target counts)."""
    return sum(spec.output_dtype(o).itemsize * spec.values_per_point(o) for o in spec.outputs)


def parse_shard(text: str | None) -> tuple[int, int] | None:
    """``"I/N"`` → ``(I, N)`` with 0 ≤ I < N (``ConfigError`` otherwise)."""
    if text is None:
        return None
    try:
        i, n = (int(x) for x in str(text).split("/"))
    except ValueError:
        raise ConfigError(f"--shard {text!r} is not allowed: use I/N, e.g. 0/4") from None
    if n < 1 or not 0 <= i < n:
        raise ConfigError(f"--shard {text!r} is not allowed: need 0 <= I < N")
    return i, n


@dataclass(frozen=True)
class Plan:
    """How a sweep is cut into blocks."""

    spec: SweepSpec = field(repr=False)
    block_shape: tuple[int, ...]

    @property
    def dims(self) -> tuple[str, ...]:
        return self.spec.dims

    @property
    def shape(self) -> tuple[int, ...]:
        return self.spec.shape

    @cached_property
    def _rows(self) -> tuple[np.ndarray | None, dict[str, np.ndarray]]:
        if self.blockwise:  # whole only when asked for (kept by this plan, not by the process)
            return None, physical_rows(self.spec, unit_rows(self.spec, 0, self.spec.n_points))
        if self.spec.design:
            return _design_rows(self.spec)
        return None, {a.name: a.values for a in self.spec.axes}

    @property
    def coords(self) -> dict[str, np.ndarray]:
        """Axis values (grid) or sampled inputs (design), in stored units, float64."""
        return self._rows[1]

    @property
    def rows(self) -> np.ndarray | None:
        """A ``saltelli | morris | fast`` design's rows in SALib's sampling space (``ln x``
        for log-uniform and lognormal inputs), as its analysis reads them; None for other
        plans."""
        if self.spec.design and self.spec.design.method in BLOCKWISE_METHODS:
            return None
        return self._rows[0]

    @property
    def blockwise(self) -> bool:
        """A design whose rows are generated per range (:func:`~sweep.design.unit_rows`):
        memory follows the rows asked for, never ``design.n``."""
        return bool(self.spec.design) and self.spec.design.method in BLOCKWISE_METHODS

    def sample_rows(
        self, start: int, stop: int, *, rows_from: str | Path | None = None
    ) -> dict[str, np.ndarray]:
        """Inputs of a sampled design's rows ``start:stop``, in stored units, float64.

        Bit-identical to ``coords[name][start:stop]`` whatever the split: ``sobol |
        random`` rows are generated for that range alone; the others (``lhs`` and
        SALib's designs, which are sampled whole) are read from the coordinates of
        the store ``rows_from`` when given (a worker of ``sweep run``: the driver
        sampled the design once and wrote it, in chunks of
        ``store.SAMPLE_COORD_CHUNK`` rows), else sliced from the whole design
        (sampled once per process).
        """
        if not self.spec.design:
            raise ValueError(f"{self.spec.name}: a grid has no sample rows")
        start, stop = max(0, int(start)), min(int(stop), self.spec.n_points)
        if self.blockwise and "_rows" not in self.__dict__:
            return physical_rows(self.spec, unit_rows(self.spec, start, stop))
        if rows_from is not None and "_rows" not in self.__dict__:
            import zarr  # lazy, as in the store

            root = zarr.open_group(str(rows_from), mode="r", zarr_format=3)
            return {
                a: np.asarray(root[a][start:stop], dtype=np.float64) for a in self.spec.axis_names
            }
        return {k: v[start:stop] for k, v in self._rows[1].items()}

    @property
    def grid_blocks(self) -> tuple[int, ...]:
        return tuple(math.ceil(n / c) for n, c in zip(self.shape, self.block_shape, strict=True))

    @property
    def n_blocks(self) -> int:
        return int(np.prod(self.grid_blocks, dtype=np.int64))

    @property
    def points_per_block(self) -> int:
        return int(np.prod(self.block_shape, dtype=np.int64))

    def block_index(self, block: int) -> tuple[int, ...]:
        return tuple(int(i) for i in np.unravel_index(block, self.grid_blocks))

    def block_slices(self, block: int) -> tuple[slice, ...]:
        """The region of the full grid that ``block`` covers (edge blocks are smaller)."""
        idx = self.block_index(block)
        return tuple(
            slice(i * c, min((i + 1) * c, n))
            for i, c, n in zip(idx, self.block_shape, self.shape, strict=True)
        )

    def shard_blocks(self, shard: tuple[int, int] | None) -> range:
        """Block numbers owned by shard ``(i, n)``: a contiguous, balanced run."""
        if shard is None:
            return range(self.n_blocks)
        i, n = shard
        lo = self.n_blocks * i // n
        hi = self.n_blocks * (i + 1) // n
        return range(lo, hi)

    def output_bytes(self) -> int:
        """Bytes of the full fields (if kept), the reductions (with their ``_count``
        companions and the blocks' partials) and the coordinates, uncompressed."""
        total = 0
        if self.spec.keep_full:
            for o in self.spec.outputs:
                per = self.spec.output_dtype(o).itemsize * self.spec.values_per_point(o)
                total += self.spec.n_points * per
        for r in self.spec.reduce:
            keep = [n for d, n in zip(self.dims, self.shape, strict=True) if d not in r.over]
            keep += list(self.spec.trailing_shape(r.output))
            kept = int(np.prod(keep, dtype=np.int64))
            stats = len(r.stats) + sum(counted(self.spec, r, s) for s in r.stats)
            rows = math.prod(
                g for d, g in zip(self.dims, self.grid_blocks, strict=True) if d in r.over
            )
            # the variables (with their _count companions) and the blocks' partials
            total += (stats + len(partial_kinds(r)) * rows) * kept * 8
        if self.spec.design:  # sampled coordinates, counted without sampling them
            total += self.spec.n_points * len(self.spec.axes) * 8
        return total


def _memory_bytes() -> int | None:
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return None


def plan_memory_check(spec: SweepSpec) -> None:
    """Refuse (``ConfigError``) a sampled design whose rows cannot fit in memory.

    ``lhs`` and SALib's designs are built whole (once in the driver, once in
    each worker process); more than half of this machine's memory would end
    in an out-of-memory kill after minutes, so it is refused at once.
    ``sobol | random`` rows are generated per block (memory follows the block)
    and are not limited here (the disk check of the store still applies).
    """
    if not spec.design or spec.design.method in BLOCKWISE_METHODS:
        return
    need = 2 * spec.n_points * len(spec.axes) * 8
    mem = _memory_bytes()
    if mem is not None and need > mem // 2:
        raise ConfigError(
            f"design.n = {spec.design.n} is not allowed here: its {spec.n_points:,} rows take "
            f"{need / 2**30:.3g} GiB, more than half of this machine's memory "
            f"({mem / 2**30:.3g} GiB); lower design.n (sobol and random designs are "
            "generated per block and have no such limit)"
        )


#: The partials each statistic needs from every block (combined when all are done).
STAT_PARTIALS = {
    "min": ("min", "count"),
    "max": ("max", "count"),
    "mean": ("sum", "count"),
    "fraction_forward": ("pos", "count"),
    "fraction_depolarizing": ("pos", "count"),
    "fraction_reverse": ("neg", "count"),
    "fraction_hyperpolarizing": ("neg", "count"),
    "fraction_equilibrium": ("zero", "count"),
}


def partial_kinds(r: Reduction) -> tuple[str, ...]:
    """The partial kinds reduction ``r`` needs (``min``, ``max``, ``sum``, ``count``,
    ``pos``, ``neg``, ``zero``), in a fixed order."""
    return tuple(dict.fromkeys(k for s in r.stats for k in STAT_PARTIALS[s]))


def counted(spec: SweepSpec, r: Reduction, stat: str) -> bool:
    """True when ``<output>_<stat>`` comes with ``<output>_<stat>_count``: every min, max
    and mean of a floating-point output (whose points can be NaN where a solver failed)."""
    return stat in ("min", "max", "mean") and spec.registry.outputs[r.output].dtype != "int8"


def partial_bytes(spec: SweepSpec, block_shape: tuple[int, ...]) -> int:
    """Bytes of one block's reduction partials (float64, one array per partial kind)."""
    total = 0
    for r in spec.reduce:
        kept = [c for d, c in zip(spec.dims, block_shape, strict=True) if d not in r.over]
        total += 8 * len(partial_kinds(r)) * math.prod(kept)
    return total


def _fused_chunks(spec: SweepSpec, block_bytes: int) -> tuple[int, ...]:
    """Blocks of a reductions-only grid: points bounded by :data:`FUSED_BLOCK_POINTS`
    (scaled like ``block_bytes``), at least :data:`FUSED_MIN_BLOCKS` blocks where
    the grid allows, and the block's partials within ``block_bytes``. O(axes) work
    per try, at most ~60 tries (the target halves)."""
    scale = block_bytes / BLOCK_BYTES_TARGET
    n = spec.n_points
    target = min(FUSED_BLOCK_POINTS, max(FUSED_MIN_POINTS, n // FUSED_MIN_BLOCKS))
    target = max(1, int(target * scale))
    while True:
        chunks = _auto_chunks(spec.shape, 1, target)
        if target <= 1 or partial_bytes(spec, chunks) <= max(block_bytes, 1):
            return chunks
        target //= 2


def fusable(spec: SweepSpec) -> bool:
    """Whether a sweep's reductions can be fused into its kernels (``BlockRunner``): a
    grid with reductions whose outputs have one value per point (a time course's
    trajectories are computed whole and reduced afterwards, in normal blocks)."""
    return (
        bool(spec.reduce)
        and not spec.design
        and all(spec.values_per_point(o) == 1 for o in spec.outputs)
    )


def make_plan(spec: SweepSpec, block_bytes: int = BLOCK_BYTES_TARGET) -> Plan:
    """Choose block shapes: the config's ``chunks`` where given, else from ``block_bytes``
    (a reductions-only grid: :func:`_fused_chunks`, its fields are never materialised; a
    time course: at most :data:`TIMECOURSE_BLOCK_POINTS` trajectories)."""
    shape = spec.shape
    plan_memory_check(spec)
    if fusable(spec) and not spec.keep_full:
        auto = _fused_chunks(spec, block_bytes)
    else:
        bpp = bytes_per_point(spec)
        if spec.timecourse:
            block_bytes = min(block_bytes, TIMECOURSE_BLOCK_POINTS * bpp)
        auto = _auto_chunks(shape, bpp, block_bytes)
    block = tuple(
        min(spec.chunks.get(d, a), n) for d, a, n in zip(spec.dims, auto, shape, strict=True)
    )
    return Plan(spec, block)
