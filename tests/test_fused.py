"""Fused, tiled, dependence-aware reductions (keep_full: false) against the fields they summarise.

The reference is the engine's other path: each block's fields computed whole and
reduced in numpy (:func:`sweep.reduce.block_partials`), itself checked against
xarray reductions of the stored fields in tests/test_engine.py.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from helpers import write_config
from hypothesis import given, settings
from hypothesis import strategies as st

from sweep import parse_config, run
from sweep.cli import main
from sweep.execute import BlockRunner
from sweep.fused import FusedReductions, tile_shape
from sweep.plan import BLOCK_BYTES_TARGET, Plan, make_plan, partial_bytes

AXES = {
    "vm": {"start": "-100 mV", "stop": "20 mV", "num": 5},
    "na_i": {"start": "5 mM", "stop": "40 mM", "num": 4, "spacing": "log"},
    "ca_i": {"values": ["50 nM", "100 nM", "1 uM"]},
}
DIMS = tuple(AXES)
#: an output of every dependence: all axes, (vm, na_i, ca_i); na_i only; vm only
OUTPUTS = ["dG_ncx", "mode_ncx", "e_na", "gaba_polarity"]
STATS = {
    "dG_ncx": ["min", "max", "mean"],
    "mode_ncx": ["fraction_forward", "fraction_reverse", "fraction_equilibrium"],
    "e_na": ["min", "max", "mean"],
    "gaba_polarity": ["fraction_depolarizing", "fraction_hyperpolarizing"],
}
EXACT = ("min", "max", "count", "pos", "neg", "zero")


def spec_of(over: dict[str, tuple[str, ...]], **kw):
    data = {
        "name": "fused",
        "parameters": {"ca_o": "2 mM", "k_o": "4 mM"},
        "axes": AXES,
        "outputs": OUTPUTS,
        "reduce": [{"output": o, "stats": STATS[o], "over": list(a)} for o, a in over.items()],
        "keep_full": False,
    }
    data.update(kw)
    return parse_config(data)


def assert_partials_equal(a: dict, b: dict) -> None:
    """Counts, min and max bit for bit; sums to float64 rounding (another order)."""
    assert a.keys() == b.keys()
    for k in a:
        (ra, xa), (rb, xb) = a[k], b[k]
        assert ra == rb, k
        assert xa.shape == xb.shape and xa.dtype == xb.dtype == np.float64, k
        if k.rsplit("__", 1)[1] in EXACT:
            np.testing.assert_array_equal(xa, xb, err_msg=k)
        else:
            np.testing.assert_allclose(xa, xb, rtol=1e-13, atol=1e-12, err_msg=k)


subsets = st.lists(st.sampled_from(DIMS), min_size=1, max_size=3, unique=True)


@settings(max_examples=12, deadline=None)
@given(
    chunks=st.tuples(st.integers(1, 5), st.integers(1, 4), st.integers(1, 3)),
    overs=st.tuples(subsets, subsets, subsets, subsets),
    tile=st.sampled_from([1, 2, 5, 12, 2**16]),
)
def test_fused_partials_equal_the_reduced_fields(chunks, overs, tile):
    """Property: over any block shape, any reduced axes and any tile size, the fused
    partials equal those of the fields computed whole (edge blocks and padded tiles
    included)."""
    spec = spec_of({o: tuple(a) for o, a in zip(OUTPUTS, overs, strict=True)})
    plan = Plan(spec, chunks)
    ref = BlockRunner(plan, fused=False)
    fused = BlockRunner(plan)
    assert fused.fused and not ref.fused
    fused._fused = FusedReductions(fused, tile)
    for b in range(plan.n_blocks):
        region, values, parts = fused.compute_block(b)
        r_region, r_values, r_parts = ref.compute_block(b)
        assert values == {} == r_values and region == r_region
        assert_partials_equal(parts, r_parts)


def test_each_output_is_evaluated_only_along_its_own_axes():
    spec = spec_of({o: ("vm", "ca_i") for o in OUTPUTS})
    plan = Plan(spec, (5, 4, 3))
    fr = FusedReductions(BlockRunner(plan))
    got = {fo.name: (fo.deps, fo.tile) for fo in fr.outputs}
    # dG_ncx, mode_ncx: every axis; e_na: na_i only; gaba_polarity: vm only
    assert got == {
        "dG_ncx": ((0, 1, 2), (5, 4, 3)),
        "mode_ncx": ((0, 1, 2), (5, 4, 3)),
        "e_na": ((1,), (4,)),
        "gaba_polarity": ((0,), (5,)),
    }


def test_dependence_shortcut_is_exact(tmp_path):
    """e_na depends on na_i only: reduced over vm and ca_i (15 points per na_i) its min
    and max are its value bit for bit, its count exactly 15, its mean its value to one
    rounding; gaba_polarity (vm only) over na_i, ca_i: fractions exactly 0 or 1."""
    cfg = {
        "name": "dep",
        "parameters": {"ca_o": "2 mM", "k_o": "4 mM"},
        "axes": AXES,
        "outputs": ["e_na", "gaba_polarity"],
        "reduce": [
            {"output": "e_na", "stats": ["min", "max", "mean"], "over": ["vm", "ca_i"]},
            {"output": "gaba_polarity", "stats": ["fraction_depolarizing"], "over": ["na_i"]},
        ],
        "store": str(tmp_path / "full.zarr"),
        "chunks": {"vm": 2, "na_i": 3, "ca_i": 2},
    }
    run(parse_config(cfg), progress=False)
    full = xr.open_zarr(tmp_path / "full.zarr").load()
    run(
        parse_config({**cfg, "keep_full": False, "store": str(tmp_path / "red.zarr")}),
        progress=False,
    )
    red = xr.open_zarr(tmp_path / "red.zarr").load()
    e = full["e_na"].isel(vm=0, ca_i=0).values  # the same at every vm, ca_i
    np.testing.assert_array_equal(red["e_na_min"].values, e)
    np.testing.assert_array_equal(red["e_na_max"].values, e)
    np.testing.assert_array_equal(red["e_na_mean_count"].values, np.full(4, 15.0))
    np.testing.assert_allclose(red["e_na_mean"].values, e, rtol=4e-16)
    dep = (full["gaba_polarity"].isel(na_i=0) == 1).astype(float).values
    np.testing.assert_array_equal(red["gaba_polarity_fraction_depolarizing"].values, dep)
    assert set(np.unique(dep)) <= {0.0, 1.0}


FAILING = {
    "name": "fails",
    "axes": {
        "vm": {"start": "-200 mV", "stop": "200 mV", "num": 10},
        "na_i": {"values": ["1 mM", "50 mM", "140 mM"]},
        "ca_i": {"values": ["100 nM", "1 uM"]},
        "ibar_pmca": {"values": ["0 uA/cm**2", "0.0673 uA/cm**2"]},
    },
    "outputs": ["ca_i_ss"],
    "reduce": [{"output": "ca_i_ss", "stats": ["mean", "min", "max"], "over": ["vm", "ca_i"]}],
    "keep_full": False,
}


def test_failed_points_are_counted_alike_and_never_summarised():
    """ca_i_ss has no root at some points (NaN, status != 0): the fused count is the
    number of valid points, as the fields' count; ca_i_ss does not depend on the ca_i
    axis, whose 2 values double its counts exactly."""
    spec = parse_config(FAILING)
    plan = Plan(spec, (4, 3, 2, 2))
    ref = BlockRunner(plan, fused=False)
    fused = BlockRunner(plan)
    fused._fused = FusedReductions(fused, 5)
    assert fused.dependencies()["ca_i_ss"] == (0, 1, 3)
    counts = 0.0
    for b in range(plan.n_blocks):
        parts = fused.compute_block(b)[2]
        assert_partials_equal(parts, ref.compute_block(b)[2])
        c = parts["ca_i_ss__vm-ca_i__count"][1]
        assert np.all(c % 2 == 0)
        counts += c.sum()
    assert 0 < counts < 10 * 3 * 2 * 2, "the case must contain failed points"


def _store(tmp_path: Path, name: str, **kw) -> xr.Dataset:
    spec = spec_of(
        {"dG_ncx": ("vm", "ca_i"), "mode_ncx": ("na_i",), "e_na": ("vm",), "gaba_polarity": DIMS},
        store=str(tmp_path / f"{name}.zarr"),
        **kw,
    )
    assert run(spec, progress=False).complete
    return xr.open_zarr(tmp_path / f"{name}.zarr").load()


def test_what_is_bit_identical_across_chunkings(tmp_path):
    """The guarantee of docs/config.md: counts, min, max and every fraction are
    bit-identical whatever the chunking, the path (fused or not) and the scheduler;
    a mean agrees to float64 rounding of its sum (the summation order follows the
    blocks and tiles)."""
    ref = _store(tmp_path, "a", chunks={"vm": 5, "na_i": 4, "ca_i": 3})
    others = [
        _store(tmp_path, "b", chunks={"vm": 2, "na_i": 3, "ca_i": 1}),
        _store(tmp_path, "c", chunks={"vm": 1, "na_i": 1, "ca_i": 2}),
        _store(tmp_path, "d", keep_full=True, chunks={"vm": 3, "na_i": 2, "ca_i": 2}),
    ]
    assert "mode_ncx" not in ref and "dG_ncx_mean_count" in ref
    for ds in others:
        for n in ref.data_vars:
            if n.endswith("_mean"):
                np.testing.assert_allclose(ds[n].values, ref[n].values, rtol=1e-13, err_msg=n)
            else:
                np.testing.assert_array_equal(ds[n].values, ref[n].values, err_msg=n)


def test_status_verify_finds_a_corrupted_partial(tmp_path, capsys):
    data = {
        "name": "ver",
        "axes": AXES,
        "outputs": ["mode_ncx"],
        "reduce": [{"output": "mode_ncx", "stats": ["fraction_reverse"], "over": ["vm"]}],
        "keep_full": False,
        "chunks": {"vm": 2, "na_i": 2, "ca_i": 3},
    }
    cfg, store = write_config(tmp_path, data, "v.yaml")
    assert main(["run", str(cfg)]) == 0
    assert main(["status", store, "--verify"]) == 0
    assert "0 damaged" in capsys.readouterr().out
    files = sorted(p for p in (Path(store) / "_partials").rglob("*") if p.is_file())
    chunk = next(p for p in files if p.name != "zarr.json")
    chunk.write_bytes(b"\0" * chunk.stat().st_size)
    assert main(["status", store, "--verify"]) == 3
    out = capsys.readouterr().out
    assert "1 damaged" in out and "reduction partial" in out and "has changed" in out


def test_reductions_only_plans_are_instant_and_bounded(tmp_path, capsys):
    """Planning does O(axes) work: two axes of 10^8 values, reductions only, plan in
    well under a second; each block's partials stay within the memory target."""
    big = {
        "name": "big",
        "axes": {
            "vm": {"start": "-100 mV", "stop": "20 mV", "num": 10**8},
            "na_i": {"start": "5 mM", "stop": "40 mM", "num": 10**8},
        },
        "outputs": ["dG_ncx"],
        "reduce": [{"output": "dG_ncx", "stats": ["mean"], "over": ["vm"]}],
        "keep_full": False,
    }
    t0 = time.perf_counter()
    spec = parse_config(big)
    plan = make_plan(spec)
    assert time.perf_counter() - t0 < 5  # generous: it takes milliseconds
    assert partial_bytes(spec, plan.block_shape) <= BLOCK_BYTES_TARGET
    assert plan.n_blocks >= 64
    cfg, _ = write_config(tmp_path, big, "big.yaml")
    assert main(["plan", str(cfg)]) in (0, 2)  # answered (fits the disk or refused)
    assert capsys.readouterr()


def test_tile_shape_is_cache_sized_with_two_points_per_axis():
    # even tiles: 100 vm values in 17 tiles of 6 (not 15 of 6.55 and a sliver)
    assert tile_shape([100, 100, 10, 10], 2**16) == (6, 100, 10, 10)
    assert tile_shape([1, 5, 1], 4) == (1, 3, 1)
    assert tile_shape([3, 3], 1) == (2, 2)
    assert tile_shape([], 2**16) == ()


@pytest.mark.parametrize("keep_full", [False, True])
def test_reductions_only_blocks_are_larger_and_fewer(keep_full):
    """A reductions-only grid of 10^10 points: blocks of up to 2^28 points (no field
    is materialised), tens of blocks instead of thousands; stored fields keep the
    memory-sized blocks."""
    cfg = {
        "name": "blocks",
        "axes": {
            "vm": {"start": "-100 mV", "stop": "20 mV", "num": 10000},
            "na_i": {"start": "5 mM", "stop": "40 mM", "num": 1000},
            "ca_i": {"start": "50 nM", "stop": "1 uM", "num": 1000},
        },
        "outputs": ["dG_ncx"],
        "reduce": [{"output": "dG_ncx", "stats": ["mean"], "over": ["na_i"]}],
        "keep_full": keep_full,
    }
    spec = parse_config(cfg)
    plan = make_plan(spec)
    dense = 1e10 * 8 / BLOCK_BYTES_TARGET  # blocks of a stored float64 field
    if keep_full:
        assert plan.n_blocks >= dense
    else:
        assert 32 <= plan.n_blocks < dense / 20
        assert plan.points_per_block <= 2**28
        assert partial_bytes(spec, plan.block_shape) <= BLOCK_BYTES_TARGET
