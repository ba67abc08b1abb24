"""Scale-out and fault tolerance: schedulers, concurrent shards, kill -9 and resume, memory."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import xarray as xr
from helpers import assert_identical, cli_code, write_config

from sweep.cli import main

GRID = {
    "name": "scale",
    "axes": {
        "vm": {"start": "-100 mV", "stop": "20 mV", "num": 9},
        "na_i": {"start": "5 mM", "stop": "40 mM", "num": 6, "spacing": "log"},
        "k_o": {"values": ["3 mM", "5 mM", "8 mM", "12 mM"]},
    },
    "outputs": ["dG_ncx", "mode_ncx", "dG_kcc2", "e_gaba"],
    "chunks": {"vm": 3, "na_i": 4, "k_o": 2},
    "reduce": [{"output": "mode_ncx", "stats": ["fraction_reverse"], "over": ["vm"]}],
}


def write_cfg(tmp_path: Path, name: str, **kw) -> tuple[Path, str]:
    kw.setdefault("store", str(tmp_path / f"{name}.zarr"))
    return write_config(tmp_path, GRID, f"{name}.yaml", **kw)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ref")
    cfg, store = write_cfg(tmp, "ref")
    assert main(["run", str(cfg), "--scheduler", "synchronous"]) == 0
    return store


def _cli(*args: str, delay: float | None = None, **kw) -> subprocess.Popen:
    e = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "sweep.cli", *args]
        if delay is None
        else cli_code(args, delay=delay),
        env=e,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kw,
    )


@pytest.mark.parametrize("scheduler", ["threads", "processes", "local:2"])
def test_schedulers_identical(tmp_path, reference, scheduler):
    cfg, store = write_cfg(tmp_path, scheduler.replace(":", ""))
    assert main(["run", str(cfg), "--scheduler", scheduler]) == 0
    assert_identical(reference, store)


def test_bad_scheduler(tmp_path, capsys):
    cfg, _ = write_cfg(tmp_path, "bad")
    assert main(["run", str(cfg), "--scheduler", "gpu-cluster"]) == 2
    assert "--scheduler 'gpu-cluster' is not allowed" in capsys.readouterr().err
    assert not (tmp_path / "bad.zarr").exists()


def test_concurrent_shards_equal_single_run(tmp_path, reference, capsys):
    cfg, store = write_cfg(tmp_path, "shards")
    # a shard never creates the store
    assert main(["run", str(cfg), "--shard", "0/3"]) == 2
    assert "sweep init" in capsys.readouterr().err
    assert main(["init", str(cfg)]) == 0
    assert main(["status", store]) == 3
    procs = [_cli("run", str(cfg), "--shard", f"{i}/3") for i in range(3)]
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    assert main(["status", store]) == 0
    assert_identical(reference, store)
    assert xr.open_zarr(store).attrs["complete"] is True


def test_shard_argument_checked(tmp_path, capsys):
    cfg, _ = write_cfg(tmp_path, "s")
    assert main(["init", str(cfg)]) == 0
    for bad in ("3/3", "x/2", "1/0"):
        assert main(["run", str(cfg), "--shard", bad]) == 2
        assert "--shard" in capsys.readouterr().err


def _done(store: str) -> int:
    d = Path(store) / ".sweep" / "done"
    return len(os.listdir(d)) if d.is_dir() else 0


@pytest.mark.parametrize("after_blocks", [1, 5])
def test_kill_9_then_resume_is_bit_identical(tmp_path, reference, after_blocks):
    cfg, store = write_cfg(tmp_path, f"kill{after_blocks}")
    # slow each block down so the kill lands mid-run (the delay changes no value)
    p = _cli("run", str(cfg), "--scheduler", "synchronous", delay=0.3)
    t0 = time.time()
    while _done(store) < after_blocks and time.time() - t0 < 120 and p.poll() is None:
        time.sleep(0.02)
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    n_done = _done(store)
    assert 0 < n_done < 12, n_done
    assert main(["status", store]) == 3
    assert main(["run", str(cfg), "--resume"]) == 0
    assert_identical(reference, store)


def test_peak_memory_independent_of_grid_size(tmp_path):
    """Peak RSS grows with the block size, not with the grid (test-sized form)."""
    rss = {}
    for n in (200, 800):
        cfg, store = write_cfg(
            tmp_path,
            f"mem{n}",
            axes={
                "vm": {"start": "-100 mV", "stop": "20 mV", "num": n},
                "na_i": {"start": "5 mM", "stop": "40 mM", "num": 500, "spacing": "log"},
                "ca_i": {"start": "50 nM", "stop": "1 uM", "num": 100, "spacing": "log"},
            },
            outputs=["dG_ncx", "mode_ncx"],
            chunks={"vm": 20, "na_i": 500, "ca_i": 100},
            precision="float32",
            reduce=None,
        )
        code = (
            "import resource, sys; from sweep.cli import main; "
            f"rc = main(['run', {str(cfg)!r}, '--scheduler', 'synchronous']); "
            "print('RSS', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss); sys.exit(rc)"
        )
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=600
        )
        assert out.returncode == 0, out.stderr
        rss[n] = int(out.stdout.split("RSS")[-1]) / 1024  # MiB
    # 4x the points (1e7 -> 4e7, 50 MB -> 200 MB of float32+int8 output) but the
    # same block: peak memory must not follow the grid
    assert rss[800] < rss[200] * 1.25 + 50, rss


ROOT = Path(__file__).resolve().parent.parent


def test_slurm_array_script_runs_shards(tmp_path, reference):
    """The shipped sbatch script, run as 3 concurrent array tasks, fills the store."""
    cfg, store = write_cfg(tmp_path, "slurm")
    assert main(["init", str(cfg)]) == 0
    script = ROOT / "configs" / "slurm" / "sweep_array.sbatch"
    procs = [
        subprocess.Popen(
            ["bash", str(script), str(cfg)],
            env={**os.environ, "SLURM_ARRAY_TASK_ID": str(i), "SLURM_ARRAY_TASK_COUNT": "3"},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(3)
    ]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    # whichever task finished last completed the store (or the next resume does)
    if not xr.open_zarr(store, consolidated=False).attrs.get("complete"):
        assert main(["run", str(cfg), "--resume"]) == 0
    assert_identical(reference, store)


def test_jobqueue_example_on_local_cluster(tmp_path, reference):
    cfg, store = write_cfg(tmp_path, "jq")
    out = subprocess.run(
        [
            sys.executable,
            str(ROOT / "configs" / "slurm" / "jobqueue_cluster.py"),
            str(cfg),
            "--local",
            "2",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    assert "complete=True" in out.stdout
    assert_identical(reference, store)
