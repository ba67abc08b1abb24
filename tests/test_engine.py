"""The engine end to end: CLI → store, compared point by point with the kernels."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
import xarray as xr
from helpers import assert_identical, failing_blocks, write_config

import kernels
from sweep import evaluate_grid, load_spec, make_plan, parse_config, run
from sweep.cli import main
from sweep.report import registry_table

SMALL = {
    "name": "small",
    "parameters": {"ca_o": "2 mM", "k_o": "4 mM"},
    "axes": {
        "vm": {"start": "-100 mV", "stop": "20 mV", "num": 7},
        "na_i": {"start": "5 mM", "stop": "40 mM", "num": 5, "spacing": "log"},
        "ca_i": {"values": ["50 nM", "100 nM", "1 uM"]},
    },
    "outputs": ["dG_ncx", "v_rev_ncx", "mode_ncx", "e_na", "dG_nkcc1", "gaba_polarity"],
}


def test_cli_run_matches_kernels_point_by_point(tmp_path, capsys):
    cfg, store = write_config(tmp_path, SMALL)
    assert main(["run", str(cfg)]) == 0
    out = capsys.readouterr().out
    assert "store complete" in out and "summary" in out
    ds = xr.open_zarr(store)
    assert ds.attrs["complete"] is True
    assert ds["dG_ncx"].dims == ("vm", "na_i", "ca_i")
    assert ds["mode_ncx"].dtype == np.int8 and ds["gaba_polarity"].dtype == np.int8
    assert ds["dG_ncx"].dtype == np.float64
    for v in ds.variables.values():
        # CF: flag variables carry flag_values/flag_meanings instead of units
        assert ("units" in v.attrs) != ("flag_values" in v.attrs) and "long_name" in v.attrs
    assert ds["na_i"].attrs["units"] == "mM" and ds["vm"].attrs["units"] == "mV"
    np.testing.assert_allclose(ds["ca_i"].values, [5e-5, 1e-4, 1e-3], rtol=1e-14)
    resolved = json.loads(ds.attrs["config"])
    assert resolved["parameters"]["k_o"] == 4.0 and resolved["parameters"]["temperature"] == 310
    assert ds.attrs["jax_backend"] and json.loads(ds.attrs["versions"])["jax"]
    names = SMALL["outputs"]
    for i, j, k in itertools.product(range(7), range(5), range(3)):
        point = {
            "vm": float(ds.vm[i]),
            "na_i": float(ds.na_i[j]),
            "ca_i": float(ds.ca_i[k]),
            "ca_o": 2.0,
            "k_o": 4.0,
        }
        ref = kernels.evaluate(point, names)
        for n in names:
            got = ds[n].values[i, j, k]
            if ds[n].dtype == np.int8:
                assert got == int(ref[n]), (n, point)
            else:
                np.testing.assert_allclose(got, float(ref[n]), rtol=1e-13, atol=1e-12)


def test_chunking_and_schedulers_do_not_change_results(tmp_path):
    stores = []
    for i, (chunks, sched) in enumerate(
        [({}, "threads"), ({"vm": 2, "na_i": 3, "ca_i": 1}, "threads"), ({"vm": 3}, "synchronous")]
    ):
        cfg, store = write_config(
            tmp_path, SMALL, name=f"c{i}.yaml", store=str(tmp_path / f"s{i}.zarr")
        )
        spec = load_spec(cfg, chunks=chunks or None)
        res = run(spec, scheduler=sched, progress=False)
        assert res.complete
        stores.append(xr.open_zarr(store))
    assert make_plan(load_spec(cfg, chunks={"vm": 2, "na_i": 3, "ca_i": 1})).n_blocks == 4 * 2 * 3
    for s in stores[1:]:
        assert_identical(stores[0], s)


def test_float32_close_to_float64():
    s64 = evaluate_grid(parse_config(SMALL))
    s32 = evaluate_grid(parse_config({**SMALL, "precision": "float32"}))
    assert s32["dG_ncx"].dtype == np.float32
    # float32 has a 6e-8 unit roundoff; ΔG is a sum of terms up to ~25 kJ/mol, so
    # 1e-5 kJ/mol absolute covers rounding of inputs and logs (stated tolerance)
    np.testing.assert_allclose(s32["dG_ncx"], s64["dG_ncx"], atol=1e-5, rtol=1e-5)
    np.testing.assert_allclose(s32["v_rev_ncx"], s64["v_rev_ncx"], atol=1e-4, rtol=1e-6)
    np.testing.assert_allclose(s32["e_na"], s64["e_na"], atol=1e-4, rtol=1e-6)
    same = np.abs(s64["dG_ncx"].values) > 1e-3
    np.testing.assert_array_equal(s32["mode_ncx"].values[same], s64["mode_ncx"].values[same])


def test_refuses_existing_store_then_overwrite(tmp_path, capsys):
    cfg, store = write_config(tmp_path, SMALL)
    assert main(["run", str(cfg), "--no-progress"]) == 0
    assert main(["run", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert "already exists" in err and "--overwrite" in err and err.count("\n") == 1
    assert main(["run", str(cfg), "--overwrite"]) == 0
    assert xr.open_zarr(store).attrs["complete"] is True


def test_resume_after_failed_blocks_is_identical(tmp_path, monkeypatch, capsys):
    ref_cfg, ref_store = write_config(tmp_path, SMALL, name="ref.yaml", chunks={"vm": 2})
    assert main(["run", str(ref_cfg)]) == 0
    cfg, store = write_config(
        tmp_path, SMALL, name="c.yaml", chunks={"vm": 2}, store=str(tmp_path / "r.zarr")
    )
    with failing_blocks({1, 3}):
        assert main(["run", str(cfg)]) == 1
    err = capsys.readouterr().err
    assert "block 1 failed after a retry" in err and "--resume" in err
    assert main(["status", store]) == 3
    out = capsys.readouterr().out
    assert "2 done of 4" in out and "failed    2" in out and "complete  no" in out
    assert main(["run", str(cfg), "--resume"]) == 0
    assert "computed 2 of 4 blocks" in capsys.readouterr().out
    assert main(["status", store]) == 0
    assert_identical(xr.open_zarr(ref_store), xr.open_zarr(store))


def test_resume_refuses_other_config(tmp_path, capsys):
    cfg, store = write_config(tmp_path, SMALL)
    assert main(["run", str(cfg)]) == 0
    other, _ = write_config(tmp_path, SMALL, name="o.yaml", store=store, outputs=["e_na"])
    assert main(["run", str(other), "--resume"]) == 2
    assert "different config" in capsys.readouterr().err


def test_reductions_equal_reduction_of_full_field(tmp_path):
    data = dict(SMALL)
    data["reduce"] = [
        {
            "output": "mode_ncx",
            "stats": ["fraction_forward", "fraction_reverse"],
            "over": ["vm", "ca_i"],
        },
        {"output": "dG_ncx", "stats": ["min", "max", "mean"], "over": ["na_i"]},
        {
            "output": "gaba_polarity",
            "stats": ["fraction_depolarizing"],
            "over": ["vm", "na_i", "ca_i"],
        },
    ]
    cfg, store = write_config(tmp_path, data, chunks={"vm": 3, "na_i": 2, "ca_i": 2})
    assert main(["run", str(cfg)]) == 0
    ds = xr.open_zarr(store).load()
    m = ds["mode_ncx"]
    np.testing.assert_allclose(
        ds["mode_ncx_fraction_forward"], (m == 1).mean(("vm", "ca_i")), rtol=1e-14
    )
    np.testing.assert_allclose(
        ds["mode_ncx_fraction_reverse"], (m == -1).mean(("vm", "ca_i")), rtol=1e-14
    )
    g = ds["dG_ncx"]
    np.testing.assert_array_equal(ds["dG_ncx_min"], g.min("na_i"))
    np.testing.assert_array_equal(ds["dG_ncx_max"], g.max("na_i"))
    np.testing.assert_allclose(ds["dG_ncx_mean"], g.mean("na_i"), rtol=1e-13)
    assert ds["dG_ncx_mean"].dims == ("vm", "ca_i")
    assert float(ds["gaba_polarity_fraction_depolarizing"]) == pytest.approx(
        float((ds["gaba_polarity"] == 1).mean())
    )
    # keep_full: false stores only the summaries
    cfg2, store2 = write_config(
        tmp_path, data, name="r2.yaml", keep_full=False, store=str(tmp_path / "r2.zarr")
    )
    assert main(["run", str(cfg2)]) == 0
    ds2 = xr.open_zarr(store2)
    assert "dG_ncx" not in ds2 and "dG_ncx_min" in ds2
    np.testing.assert_array_equal(ds2["dG_ncx_min"].values, ds["dG_ncx_min"].values)


def test_sampled_design_reproducible_and_bounded(tmp_path):
    data = {
        "name": "design",
        "design": {"method": "lhs", "n": 257, "seed": 7},
        "axes": {
            "k_o": {"start": "2 mM", "stop": "12 mM", "spacing": "log"},
            "vm": {"start": "-90 mV", "stop": "-40 mV"},
        },
        "outputs": ["dG_kcc2", "mode_ncx"],
        "chunks": {"sample": 100},
    }
    stores = []
    for i in range(2):
        cfg, store = write_config(
            tmp_path, data, name=f"d{i}.yaml", store=str(tmp_path / f"d{i}.zarr")
        )
        assert main(["run", str(cfg)]) == 0
        stores.append(xr.open_zarr(store).load())
    assert_identical(*stores)
    ds = stores[0]
    assert ds["dG_kcc2"].dims == ("sample",) and ds.sizes["sample"] == 257
    assert ds["k_o"].min() >= 2 and ds["k_o"].max() <= 12 and ds["vm"].min() >= -90
    # log-uniform: ln k_o spread evenly (LHS: one point per stratum of ln-space)
    u = (np.log(ds["k_o"].values) - np.log(2)) / (np.log(12) - np.log(2))
    np.testing.assert_array_equal(np.sort(np.floor(u * 257)), np.arange(257))
    ref = kernels.evaluate({"k_o": ds["k_o"].values, "vm": ds["vm"].values}, ["dG_kcc2"])
    np.testing.assert_allclose(ds["dG_kcc2"].values, ref["dG_kcc2"], rtol=1e-13, atol=1e-13)
    other = parse_config({**data, "design": {"method": "lhs", "n": 257, "seed": 8}})
    assert not np.array_equal(make_plan(other).coords["k_o"], ds["k_o"].values)
    for method in ("sobol", "random"):
        spec = parse_config({**data, "design": {"method": method, "n": 64, "seed": 1}})
        c = make_plan(spec).coords
        assert c["k_o"].min() >= 2 and c["k_o"].max() <= 12


def test_list_names_every_registry_entry(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for name in list(kernels.REGISTRY.inputs) + list(kernels.REGISTRY.outputs):
        assert f" {name} " in out, name
    md = registry_table("markdown")
    assert "| `dG_ncx` | kJ/mol |" in md


def test_plan_prints_without_computing(tmp_path, capsys):
    cfg, store = write_config(tmp_path, SMALL, chunks={"vm": 2})
    assert main(["plan", str(cfg)]) == 0
    out = capsys.readouterr().out
    assert "105 (grid, float64)" in out and "vm=7 × na_i=5 × ca_i=3" in out
    assert "4 blocks" in out and "dG_ncx" in out and "free" in out
    assert not (tmp_path / "small.zarr").exists()


def test_help_for_each_command(capsys):
    for cmd in ("run", "plan", "list", "init", "status"):
        with pytest.raises(SystemExit) as ei:
            main([cmd, "--help"])
        assert ei.value.code == 0
        assert "usage: sweep" in capsys.readouterr().out


def test_quickstart_default_runs(tmp_path, capsys):
    store = tmp_path / "q.zarr"
    assert main(["run", "--store", str(store)]) == 0
    ds = xr.open_zarr(store)
    assert ds["mode_ncx"].shape == (181, 64)
    # forward below V_rev, reverse above: the map is consistent with v_rev_ncx
    vm = ds["vm"].values[:, None]
    vrev = ds["v_rev_ncx"].values
    mode = ds["mode_ncx"].values
    assert np.all(mode[vm < vrev - 0.1] == 1) and np.all(mode[vm > vrev + 0.1] == -1)


def test_bad_arguments_are_one_line(capsys):
    for argv in (["run", "--scheduler"], ["frobnicate"], ["run", "--device", "tpu"]):
        with pytest.raises(SystemExit) as ei:
            main(argv)
        assert ei.value.code == 2
        err = capsys.readouterr().err
        assert err.startswith("sweep: error:") and err.count("\n") == 1, err


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=8, deadline=None)
@given(st.integers(1, 7), st.integers(1, 5), st.integers(1, 3))
def test_any_chunking_gives_identical_values(c_vm, c_na, c_ca):
    """Property: values do not depend on the block shape (bit for bit)."""
    ref = evaluate_grid(parse_config(SMALL))
    got = evaluate_grid(parse_config({**SMALL, "chunks": {"vm": c_vm, "na_i": c_na, "ca_i": c_ca}}))
    for n in ref.data_vars:
        np.testing.assert_array_equal(got[n].values, ref[n].values, err_msg=n)


def test_rerun_in_same_process_after_overwrite(tmp_path):
    """A worker's caches must not outlive the store they were made for."""
    data = {**SMALL, "chunks": {"vm": 2}}  # repeated chunks along vm are copied, not re-encoded
    cfg, store = write_config(tmp_path, data)
    spec = load_spec(cfg)
    run(spec, progress=False)
    first = xr.open_zarr(store).load()
    for _ in range(2):
        run(spec, overwrite=True, progress=False)
        assert_identical(first, xr.open_zarr(store).load())
    assert not np.isnan(first["v_rev_ncx"].values).any()


def test_direct_chunk_encoding_matches_zarr_byte_for_byte(tmp_path, monkeypatch):
    """The writer's own bytes+zstd encoding writes the files zarr would write."""
    import sweep.store as store_mod

    data = {**SMALL, "chunks": {"vm": 3, "na_i": 2}}  # ragged edge chunks included
    cfg, direct = write_config(tmp_path, data, name="a.yaml", store=str(tmp_path / "a.zarr"))
    run(load_spec(cfg), progress=False)
    monkeypatch.setattr(store_mod, "_direct_encoder", lambda array: None)
    cfg2, via_zarr = write_config(tmp_path, data, name="b.yaml", store=str(tmp_path / "b.zarr"))
    run(load_spec(cfg2), progress=False)
    from pathlib import Path

    for name in SMALL["outputs"]:
        a = sorted(p.relative_to(direct) for p in Path(direct, name).rglob("c/**/*") if p.is_file())
        b = sorted(
            p.relative_to(via_zarr) for p in Path(via_zarr, name).rglob("c/**/*") if p.is_file()
        )
        # zarr skips chunks that are all fill value; the writer never produces one here
        assert a == b, name
        for rel in a:
            assert (Path(direct) / rel).read_bytes() == (Path(via_zarr) / rel).read_bytes(), rel
    assert_identical(xr.open_zarr(direct), xr.open_zarr(via_zarr))


def test_overwrite_never_deletes_what_is_not_a_store(tmp_path, capsys, monkeypatch):
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "thesis.tex").write_text("data")
    assert main(["run", "--store", str(precious), "--overwrite"]) == 2
    assert "not a transporter-sweep store" in capsys.readouterr().err
    assert (precious / "thesis.tex").read_text() == "data"
    afile = tmp_path / "afile"
    afile.write_text("x")
    assert main(["run", "--store", str(afile), "--overwrite"]) == 2
    assert afile.read_text() == "x"
    # a store under a regular file: refused before anything is written, plan says so too
    assert main(["plan", "--store", str(afile / "x.zarr")]) == 2
    assert main(["run", "--store", str(afile / "x.zarr")]) == 2
    assert "is a file" in capsys.readouterr().err
    # the working directory is never removed, even if it were a store
    monkeypatch.chdir(precious)
    assert main(["run", "--store", ".", "--overwrite"]) == 2
    assert (precious / "thesis.tex").exists()


def test_bad_scheduler_writes_nothing(tmp_path, capsys):
    store = tmp_path / "lz.zarr"
    assert main(["run", "--store", str(store), "--scheduler", "local:0"]) == 2
    assert "local:N needs an integer N >= 1" in capsys.readouterr().err
    assert not store.exists()
