"""Nothing lost, nothing wrong reported as complete: crash-safe overwrite and finalize,
a config hash that sees axis order and blocks, one writer per store, verified chunks."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from helpers import assert_identical, cli_code, failing_at, one_line, write_config

from sweep.cli import main
from sweep.locks import lock_path
from sweep.store import aside_stores

GRID = {
    "name": "rel",
    "axes": {
        "vm": {"start": "-100 mV", "stop": "20 mV", "num": 6},
        "na_i": {"start": "5 mM", "stop": "40 mM", "num": 4, "spacing": "log"},
        "k_o": {"values": ["3 mM", "5 mM", "8 mM"]},
    },
    "outputs": ["dG_ncx", "mode_ncx", "e_gaba"],
    "chunks": {"vm": 2, "na_i": 2, "k_o": 2},
    "reduce": [{"output": "mode_ncx", "stats": ["fraction_reverse"], "over": ["vm"]}],
}


def cfg_at(tmp_path: Path, name: str, **kw) -> tuple[Path, str]:
    kw.setdefault("store", str(tmp_path / f"{name}.zarr"))
    return write_config(tmp_path, GRID, f"{name}.yaml", **kw)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ref")
    cfg, store = cfg_at(tmp, "ref")
    assert main(["run", str(cfg), "--no-progress"]) == 0
    return store


def _sweep(argv: list[str], **kw) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run(
        cli_code(argv, **kw), env=env, capture_output=True, text=True, timeout=300
    )


# --- 1. crash-safe --overwrite -----------------------------------------------------
@pytest.mark.parametrize("step", ["replace:aside", "replace:swapped"])
def test_kill_9_during_overwrite_never_leaves_a_store_called_complete(
    tmp_path, reference, step, capsys
):
    cfg, store = cfg_at(tmp_path, "ow")
    assert main(["run", str(cfg)]) == 0
    p = _sweep(["run", str(cfg), "--overwrite"], kill_at=step)
    assert p.returncode == -signal.SIGKILL, p.stderr
    capsys.readouterr()
    if step == "replace:aside":
        # the old store is whole, beside the path (never half-deleted in place)
        assert not Path(store).exists()
        (old,) = aside_stores(store)
        assert_identical(reference, old)
        assert main(["status", store]) == 2
        assert "store aside" in one_line(capsys.readouterr().err)
    else:
        # the new template is in place, and nothing in it passes as complete
        assert main(["status", store]) == 3
    assert main(["run", str(cfg), "--resume"]) == 0
    assert main(["status", store]) == 0
    assert_identical(reference, store)


def test_failure_during_overwrite_puts_the_old_store_back(tmp_path, reference):
    cfg, store = cfg_at(tmp_path, "back")
    assert main(["run", str(cfg)]) == 0
    with failing_at("replace:aside"), pytest.raises(RuntimeError, match="injected"):
        from sweep import run

        run(str(cfg), overwrite=True, progress=False)
    assert aside_stores(store) == []
    assert main(["status", store]) == 0
    assert_identical(reference, store)


# --- 9. finalize: killed between its steps -------------------------------------------
@pytest.mark.parametrize("step", ["finalize:consolidated", "finalize:complete"])
def test_kill_9_while_finalizing_then_resume(tmp_path, reference, step):
    cfg, store = cfg_at(tmp_path, "fin")
    p = _sweep(["run", str(cfg)], kill_at=step)
    assert p.returncode == -signal.SIGKILL, p.stderr
    attrs = json.loads((Path(store) / "zarr.json").read_text())
    # consolidated before it is marked complete: complete implies consolidated
    assert attrs.get("consolidated_metadata")
    assert attrs["attributes"]["complete"] is (step == "finalize:complete")
    assert main(["run", str(cfg), "--resume"]) == 0
    assert main(["status", store]) == 0
    assert_identical(reference, store)


def test_shard_killed_while_finalizing_leaves_no_blocking_lock(tmp_path, reference):
    cfg, store = cfg_at(tmp_path, "sh")
    assert main(["init", str(cfg)]) == 0
    p = _sweep(["run", str(cfg), "--shard", "0/1"], kill_at="finalize:consolidated")
    assert p.returncode == -signal.SIGKILL, p.stderr
    assert (Path(store) / ".sweep" / "finalizing").exists()
    r = _sweep(["run", str(cfg), "--shard", "0/1"])
    assert r.returncode == 0, r.stderr
    assert "stale lock" in r.stderr and "store complete" in r.stdout
    assert_identical(reference, store)


def test_retry_after_a_failure_past_the_chunk_write_succeeds(tmp_path, reference, monkeypatch):
    # outputs that repeat along an axis are copied from the first block's chunk: a retry
    # of that same block must write it again, not copy the file onto itself
    from sweep import store as st

    cfg, store = cfg_at(tmp_path, "retry")
    real = st.Manifest.mark_done
    seen: set[int] = set()

    def flaky(self, block, digests=None):
        if block not in seen:
            seen.add(block)
            raise OSError("injected failure after the chunk write")
        return real(self, block, digests)

    monkeypatch.setattr(st.Manifest, "mark_done", flaky)
    assert main(["run", str(cfg), "--scheduler", "synchronous"]) == 0
    assert_identical(reference, store)


def test_resume_recreates_a_missing_manifest(tmp_path, reference):
    import shutil

    cfg, store = cfg_at(tmp_path, "nomani")
    assert main(["run", str(cfg)]) == 0
    shutil.rmtree(Path(store) / ".sweep")
    assert main(["run", str(cfg), "--resume"]) == 0
    assert_identical(reference, store)


# --- 2. the config hash sees the axis order; the blocks must match --------------------
def _reordered(tmp_path: Path, store: str) -> Path:
    d = json.loads(json.dumps(GRID))
    d["axes"] = dict(reversed(list(d["axes"].items())))
    cfg, _ = write_config(tmp_path, d, "reordered.yaml", store=store)
    return cfg


def test_resume_and_shard_with_reordered_axes_are_refused(tmp_path, capsys):
    cfg, store = cfg_at(tmp_path, "order")
    assert main(["init", str(cfg)]) == 0
    other = _reordered(tmp_path, store)
    for extra in (["--resume"], ["--shard", "0/2"]):
        capsys.readouterr()
        assert main(["run", str(other), *extra]) == 2
        err = one_line(capsys.readouterr().err)
        assert "axes in another order" in err and "vm, na_i, k_o" in err
    assert not any((Path(store) / ".sweep" / "done").iterdir())


def test_resume_with_other_blocks_is_refused(tmp_path, capsys):
    cfg, store = cfg_at(tmp_path, "blocks")
    assert main(["init", str(cfg)]) == 0
    from sweep import load_spec, make_plan
    from sweep.driver import run

    spec = load_spec(cfg)
    plan = make_plan(spec)
    zj = Path(store) / "zarr.json"
    meta = json.loads(zj.read_text())
    meta["attributes"]["block_shape"] = [1, 1, 1]
    zj.write_text(json.dumps(meta))
    with pytest.raises(Exception, match="cut into blocks of"):
        run(spec, resume=True, progress=False)
    assert plan.n_blocks == 12


def test_resume_of_an_analysis_store_is_refused(tmp_path, capsys):
    cfg, store = cfg_at(tmp_path, "bnd")
    assert (
        main(["boundary", str(cfg), "--output", "dG_ncx", "--along", "vm", "--store", store]) == 0
    )
    capsys.readouterr()
    assert main(["run", str(cfg), "--resume"]) == 2
    assert "result of an analysis" in one_line(capsys.readouterr().err)


# --- 3. one writer per store ------------------------------------------------------------
def test_two_writers_on_one_store(tmp_path, reference, capsys):
    cfg, store = cfg_at(tmp_path, "two")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    a = subprocess.Popen(
        cli_code(["run", str(cfg), "--scheduler", "synchronous"], delay=0.3),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lock = lock_path(store)
    t0 = time.time()
    while not lock.exists() and time.time() - t0 < 120 and a.poll() is None:
        time.sleep(0.02)
    info = json.loads(lock.read_text())
    assert info["pid"] == a.pid and info["host"] == socket.gethostname() and info["time"]
    for argv in (["run", str(cfg), "--overwrite"], ["run", str(cfg), "--resume"]):
        assert main(argv) == 2
        err = one_line(capsys.readouterr().err)
        assert f"pid {a.pid}" in err and "one writer per store" in err
    assert main(["run", str(cfg), "--shard", "0/2"]) == 2
    assert "shards wait" in one_line(capsys.readouterr().err)
    out, err = a.communicate(timeout=300)
    assert a.returncode == 0, err
    assert not lock.exists()
    assert_identical(reference, store)


def test_stale_lock_is_reported_and_taken_over(tmp_path, reference):
    cfg, store = cfg_at(tmp_path, "stale")
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    ).stdout.strip()
    lock = lock_path(store)
    lock.write_text(json.dumps({"pid": int(dead), "host": socket.gethostname(), "time": "t"}))
    r = _sweep(["run", str(cfg)])
    assert r.returncode == 0, r.stderr
    assert "stale lock" in r.stderr and f"pid {dead}" in r.stderr
    assert not lock.exists()
    # a lock from another host cannot be checked: refused, naming the file to delete
    lock.write_text(json.dumps({"pid": 1, "host": "elsewhere.example", "time": "t"}))
    r = _sweep(["run", str(cfg), "--overwrite"])
    assert r.returncode == 2 and str(lock) in r.stderr and "elsewhere.example" in r.stderr
    assert_identical(reference, store)


# --- 11. damaged chunks are found ---------------------------------------------------------
def test_status_verify_finds_deleted_and_zeroed_chunks(tmp_path, capsys):
    cfg, store = cfg_at(tmp_path, "ver")
    assert main(["run", str(cfg)]) == 0
    assert main(["status", store, "--verify"]) == 0
    assert "verified  12 block(s); 0 damaged" in capsys.readouterr().out
    chunks = sorted((Path(store) / "dG_ncx" / "c").rglob("*"))
    files = [c for c in chunks if c.is_file()]
    files[0].unlink()
    files[1].write_bytes(b"\0" * files[1].stat().st_size)
    assert main(["status", store]) == 0  # without --verify: only the markers are read
    capsys.readouterr()
    assert main(["status", store, "--verify"]) == 3
    out = capsys.readouterr().out
    assert "2 damaged" in out and "is missing" in out and "has changed" in out
    assert main(["status", store, "--verify", "--json"]) == 3
    assert len(json.loads(capsys.readouterr().out)["verify"]["bad"]) == 2
    np.testing.assert_equal(xr.open_zarr(store)["vm"].size, 6)


# --- 4. reductions say how many points they summarise ------------------------------------
FAILING = {
    "name": "fails",
    "axes": {
        "vm": {"start": "-200 mV", "stop": "200 mV", "num": 10},
        "na_i": {"values": ["1 mM", "50 mM", "140 mM"]},
        "ibar_pmca": {"values": ["0 uA/cm**2", "0.0673 uA/cm**2"]},
    },
    "outputs": ["ca_i_ss"],
    "chunks": {"vm": 4},
}


def test_reductions_store_the_count_of_valid_points(tmp_path):
    full, full_store = write_config(tmp_path, FAILING, "full.yaml")
    assert main(["run", str(full)]) == 0
    red = {"output": "ca_i_ss", "stats": ["mean", "min", "max"], "over": ["vm"]}
    cfg, store = write_config(
        tmp_path,
        FAILING,
        "red.yaml",
        store=str(tmp_path / "red.zarr"),
        keep_full=False,
        reduce=[red],
    )
    assert main(["run", str(cfg)]) == 0
    f = xr.open_zarr(full_store).load()
    ds = xr.open_zarr(store).load()
    valid = np.isfinite(f["ca_i_ss"]).sum("vm")
    assert 0 < int((valid < 10).sum()), "the case must contain failed points"
    # failed points carry a non-zero status, and the count says how many points remain
    assert (np.isfinite(f["ca_i_ss"]) == (f["status_ca_i_ss"] == 0)).all()
    for s in ("mean", "min", "max"):
        c = ds[f"ca_i_ss_{s}_count"]
        np.testing.assert_array_equal(c.values, valid.values)
        assert c.attrs["count_of"] == f"ca_i_ss_{s}" and c.attrs["units"] == "1"
    np.testing.assert_allclose(ds["ca_i_ss_mean"], f["ca_i_ss"].mean("vm"), rtol=1e-12)
    # the in-memory evaluation has the same variables
    from sweep import evaluate_grid, load_spec

    mem = evaluate_grid(load_spec(cfg))
    np.testing.assert_array_equal(mem["ca_i_ss_mean_count"].values, valid.values)


# --- 6 and 10. work bounded by the input, and one-line refusals (exit 2) -----------------
BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{c}: &{c} [{', '.join([f'*{p}'] * 9)}]\n" for p, c in zip("abcdefgh", "bcdefghi", strict=True)
)


@pytest.mark.parametrize(
    "text, words",
    [
        (BOMB, "aliases"),
        ("name: x\naxes: " + "[" * 20000 + "]" * 20000 + "\n", "nested deeper"),
        ("name: x\nname: y\n", "duplicate key 'name'"),
        ("name: x\naxes:\n  vm: {start: -1 mV, start: 2 mV, num: 3}\n", "duplicate key 'start'"),
        (b"name: \xff\xfe\n", "not UTF-8"),
        ("# " + "x" * (2**20 + 10) + "\nname: x\n", "at most"),
    ],
    ids=["alias-bomb", "nested-20000", "duplicate-top", "duplicate-inner", "not-utf8", "1MiB"],
)
def test_hostile_yaml_is_refused_in_one_short_line(tmp_path, capsys, text, words):
    p = tmp_path / "hostile.yaml"
    p.write_bytes(text if isinstance(text, bytes) else text.encode())
    for cmd in ("plan", "run"):
        assert main([cmd, str(p), "--store", str(tmp_path / "h.zarr")]) == 2
        err = one_line(capsys.readouterr().err)
        assert words in err and len(err) < 700, err
    assert not (tmp_path / "h.zarr").exists()


def test_error_messages_echo_values_cut_short(tmp_path, capsys):
    cfg, _ = write_config(tmp_path, GRID, "long.yaml", description=list(range(100000)))
    assert main(["plan", str(cfg)]) == 2
    err = one_line(capsys.readouterr().err)
    assert "description" in err and "characters cut" in err and len(err) < 700


def test_validation_and_planning_never_build_the_axes(tmp_path, capsys):
    from sweep import load_spec, make_plan

    big = {
        "name": "big",
        "axes": {
            "vm": {"start": "-100 mV", "stop": "20 mV", "num": 10**8},
            "na_i": {"start": "5 mM", "stop": "40 mM", "num": 10**8},
        },
        "outputs": ["dG_ncx"],
    }
    spec = load_spec(big)
    plan = make_plan(spec)
    assert spec.n_points == 10**16 and plan.n_blocks > 1
    assert plan.output_bytes() == 10**16 * 8
    assert all("values" not in vars(a) for a in spec.axes)  # no coordinate was generated
    cfg, store = write_config(tmp_path, big, "big.yaml")
    assert main(["plan", str(cfg)]) == 2
    assert "is free" in one_line(capsys.readouterr().err)
    assert main(["run", str(cfg)]) == 2
    assert "is free" in one_line(capsys.readouterr().err) and not Path(store).exists()
    # a range between valid endpoints is valid: values are generated only when read
    one = load_spec({**big, "axes": {"vm": {"start": "-100 mV", "stop": "20 mV", "num": 7}}})
    np.testing.assert_array_equal(one.axes[0].values, np.linspace(-100.0, 20.0, 7))
    for bad, words in (
        ({"vm": {"start": "-100 mV", "stop": "20 mV", "num": 2**28}}, "at most 134,217,728"),
        (
            {
                f"{n}": {"start": "1 mM", "stop": "2 mM", "num": 10**7}
                for n in ("na_i", "na_o", "k_i", "k_o", "cl_i")
            },
            r"2\^62",
        ),
    ):
        with pytest.raises(Exception, match=words):
            load_spec({**big, "axes": bad})


@pytest.mark.parametrize(
    "design, words",
    [
        ({"method": "sobol", "n": 10**30, "seed": 0}, "2^62"),
        # sobol/random rows are generated per block (no memory limit): the disk refuses it
        ({"method": "sobol", "n": 2**40, "seed": 0}, "is free"),
        ({"method": "lhs", "n": 2**40, "seed": 0}, "half of this machine's memory"),
        ({"method": "saltelli", "n": 2**45, "seed": 0}, "half of this machine's memory"),
    ],
)
def test_designs_that_cannot_fit_are_refused_at_once(tmp_path, capsys, design, words):
    d = {
        "name": "des",
        "axes": {
            "vm": {"start": "-100 mV", "stop": "20 mV"},
            "na_i": {"start": "5 mM", "stop": "40 mM"},
        },
        "outputs": ["dG_ncx"],
        "design": design,
    }
    cfg, store = write_config(tmp_path, d, "des.yaml")
    for cmd in ("plan", "run"):
        assert main([cmd, str(cfg)]) == 2
        assert words in one_line(capsys.readouterr().err)
    assert not Path(store).exists()


def test_sensitivity_n_that_cannot_fit_is_refused(tmp_path, capsys):
    d = json.loads(json.dumps(GRID))
    d["axes"].pop("k_o")
    d.pop("chunks"), d.pop("reduce")
    cfg, _ = write_config(tmp_path, d, "gsa.yaml")
    argv = ["sensitivity", str(cfg), "--global", "sobol", "--n", str(2**40)]
    argv += ["--output", "dG_ncx", "--store", str(tmp_path / "g.zarr")]
    assert main(argv) == 2
    assert "memory" in one_line(capsys.readouterr().err)


@pytest.mark.parametrize(
    "scheduler, words",
    [
        ("local:99999999999", "at most"),
        ("tcp://", "tcp://HOST:PORT"),
        ("tcp://host:notaport", "tcp://HOST:PORT"),
        ("tcp://127.0.0.1:1", "cannot connect"),
    ],
)
def test_bad_schedulers_write_nothing(tmp_path, capsys, scheduler, words):
    cfg, store = cfg_at(tmp_path, "sch")
    assert main(["run", str(cfg), "--scheduler", scheduler]) == 2
    assert words in one_line(capsys.readouterr().err)
    assert not Path(store).exists() and not lock_path(store).exists()


def test_contract_breaks_are_usage_errors(tmp_path, capsys):
    cfg, store = cfg_at(tmp_path, "cb")
    assert main(["run", str(cfg)]) == 0
    capsys.readouterr()
    # --overwrite through a symbolic link: refused, the store it points to kept
    link = tmp_path / "link.zarr"
    link.symlink_to(store)
    assert main(["run", str(cfg), "--store", str(link), "--overwrite"]) == 2
    assert "symbolic link" in one_line(capsys.readouterr().err)
    assert main(["status", store]) == 0
    # a store name longer than the file system allows
    assert main(["run", str(cfg), "--store", str(tmp_path / ("x" * 300))]) == 2
    assert "bytes; at most" in one_line(capsys.readouterr().err)
    # adaptive levels beyond the grid
    argv = ["boundary", str(cfg), "--output", "dG_ncx", "--adaptive", "--levels", "100"]
    assert main([*argv, "--store", str(tmp_path / "b.zarr")]) == 2
    assert "--levels 100 is not allowed" in one_line(capsys.readouterr().err)
    # plot onto a directory
    assert (
        main(
            ["plot", store, "dG_ncx", "--x", "vm", "--sel", "na_i=5", "k_o=3", "-o", str(tmp_path)]
        )
        == 2
    )
    assert "is a directory" in one_line(capsys.readouterr().err)
    # an empty zarr.json
    capsys.readouterr()
    (Path(store) / "zarr.json").write_text("")
    assert main(["status", store]) == 2
    assert "empty or not JSON" in one_line(capsys.readouterr().err)
    assert main(["run", str(cfg), "--resume"]) == 2
    assert "empty or not JSON" in one_line(capsys.readouterr().err)


def test_plot_warns_on_an_incomplete_store(tmp_path, capsys):
    from helpers import failing_blocks

    cfg, store = cfg_at(tmp_path, "inc")
    with failing_blocks({0}):
        assert main(["run", str(cfg)]) == 1
    capsys.readouterr()
    out = tmp_path / "m.png"
    argv = ["plot", store, "dG_ncx", "--x", "vm", "--sel", "na_i=5", "k_o=3", "-o", str(out)]
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "is not complete (1 of 12 blocks missing" in err and "--resume" in err


# --- 9. recovery paths ----------------------------------------------------------------------
def test_a_dead_worker_process_is_a_failed_block_with_a_resume_hint(
    tmp_path, reference, monkeypatch, capsys
):
    from concurrent.futures.process import BrokenProcessPool

    from sweep import driver

    real = driver.execute_blocks

    def dies_after_two(plan, path, todo, *, scheduler, on_done):
        real(plan, path, todo[:2], scheduler="synchronous", on_done=on_done)
        raise BrokenProcessPool("A child process terminated abruptly")

    cfg, store = cfg_at(tmp_path, "broken")
    monkeypatch.setattr(driver, "execute_blocks", dies_after_two)
    assert main(["run", str(cfg), "--scheduler", "processes"]) == 1
    err = capsys.readouterr().err
    assert "a worker process died" in err and "rerun with --resume" in err
    assert "internal error" not in err
    monkeypatch.setattr(driver, "execute_blocks", real)
    assert main(["run", str(cfg), "--resume"]) == 0
    assert "computed 10 of 12 blocks" in capsys.readouterr().out
    assert_identical(reference, store)


def test_resume_of_a_read_only_store_is_refused_before_compute(tmp_path, monkeypatch, capsys):
    from sweep import driver

    cfg, store = cfg_at(tmp_path, "ro")
    assert main(["init", str(cfg)]) == 0
    capsys.readouterr()
    real = os.access
    monkeypatch.setattr(
        driver.os, "access", lambda p, mode: False if str(p).startswith(store) else real(p, mode)
    )
    for extra in (["--resume"], ["--shard", "0/2"]):
        assert main(["run", str(cfg), *extra]) == 2
        assert "is read-only" in one_line(capsys.readouterr().err)
    assert not any((Path(store) / ".sweep" / "done").iterdir())


# --- 12. the disk estimate says what it is ----------------------------------------------------
def test_plan_says_the_size_is_an_upper_bound(tmp_path, capsys):
    cfg, _ = cfg_at(tmp_path, "ub")
    assert main(["plan", str(cfg)]) == 0
    assert "(uncompressed: an upper bound)" in capsys.readouterr().out


# --- 5. memory follows the block target for any shape -----------------------------------------
def test_many_small_axes_keep_blocks_within_the_memory_target():
    import math

    from kernels.registry import REGISTRY
    from sweep import load_spec, make_plan
    from sweep.batching import compute_shape
    from sweep.execute import BlockRunner
    from sweep.plan import BLOCK_BYTES_TARGET, bytes_per_point

    names = [n for n, i in REGISTRY.inputs.items() if i.unit == "mM"][:26]
    assert len(names) == 26
    axes = {
        n: {"values": [f"{REGISTRY.inputs[n].default} mM", f"{REGISTRY.inputs[n].default + 1} mM"]}
        for n in names
    }
    spec = load_spec({"name": "many", "axes": axes, "outputs": ["e_na"]})
    plan = make_plan(spec)
    bpp = bytes_per_point(spec)
    assert spec.n_points == 2**26
    assert plan.points_per_block * bpp <= BLOCK_BYTES_TARGET
    assert math.prod(compute_shape(plan)) * bpp <= BLOCK_BYTES_TARGET
    assert plan.n_blocks == 2**26 * bpp // BLOCK_BYTES_TARGET
    # a block computed at its own shape (no padding to 2 points per axis) is right
    region, out = BlockRunner(plan).compute(plan.n_blocks - 1)
    na_i = spec.axis("na_i").values[region[names.index("na_i")]]
    na_o = spec.axis("na_o").values[region[names.index("na_o")]]
    e = out["e_na"]
    assert e.shape == plan.block_shape
    from kernels.thermo import nernst

    temp = spec.parameters["temperature"]
    ref = np.asarray(nernst(c_in=na_i[:, None], c_out=na_o[None, :], z=1, temperature=temp))
    got = np.moveaxis(e, (names.index("na_i"), names.index("na_o")), (0, 1))
    got = got.reshape(got.shape[0], got.shape[1], -1)
    np.testing.assert_allclose(got, np.broadcast_to(ref[..., None], got.shape), rtol=1e-13)


# --- 8. values the precision cannot hold ---------------------------------------------------------
@pytest.mark.parametrize(
    "change, words",
    [
        ({"axes": {"vm": {"start": "-1e308 mV", "stop": "1e308 mV", "num": 5}}}, "overflows"),
        (
            {
                "precision": "float32",
                "axes": {"vm": {"start": "-1e39 mV", "stop": "0 mV", "num": 3}},
            },
            "precision float32",
        ),
        (
            {"precision": "float32", "axes": {"vm": {"values": ["-70 mV", "1e40 mV"]}}},
            "precision float32",
        ),
        ({"precision": "float32", "parameters": {"na_i": "1e-50 mM"}}, "precision float32"),
    ],
)
def test_values_outside_the_precision_are_refused(tmp_path, capsys, change, words):
    d = {"name": "edge", "axes": {"vm": {"start": "-100 mV", "stop": "0 mV", "num": 3}}}
    d["outputs"] = ["dG_ncx"]
    d.update(change)
    cfg, store = write_config(tmp_path, d, "edge.yaml")
    assert main(["run", str(cfg)]) == 2
    assert words in one_line(capsys.readouterr().err)
    assert not Path(store).exists()
