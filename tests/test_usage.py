"""How the engine meets users' habits: dask clients, SLURM arrays, batch logs (issue 17)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import assert_identical, one_line, write_config

import sweep
from sweep.cli import main

GRID = {
    "name": "usage",
    "axes": {
        "vm": {"start": "-100 mV", "stop": "20 mV", "num": 9},
        "na_i": {"start": "5 mM", "stop": "40 mM", "num": 6, "spacing": "log"},
    },
    "outputs": ["dG_ncx", "mode_ncx"],
    "chunks": {"vm": 3, "na_i": 3},
}


def cfg_for(tmp_path: Path, name: str, **kw) -> tuple[Path, str]:
    kw.setdefault("store", str(tmp_path / f"{name}.zarr"))
    return write_config(tmp_path, GRID, f"{name}.yaml", **kw)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ref")
    cfg, store = cfg_for(tmp, "ref")
    assert main(["run", str(cfg), "--scheduler", "synchronous"]) == 0
    return store


@pytest.fixture(scope="module")
def client():
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(
        n_workers=1, threads_per_worker=2, processes=False, dashboard_address=":0"
    )
    c = distributed.Client(cluster)
    yield c
    c.close()
    cluster.close()


def test_run_takes_a_client_object(tmp_path, reference, client):
    from distributed import get_task_stream

    cfg, store = cfg_for(tmp_path, "client")
    with get_task_stream(client) as ts:
        res = sweep.run(cfg, scheduler=client)
    assert res.complete
    assert len(ts.data) == res.n_blocks  # every block ran on the client's workers
    assert client.status == "running"  # a client passed in is not closed
    assert_identical(reference, store)


def test_run_uses_the_active_client(tmp_path, reference, client):
    from distributed import get_task_stream

    cfg, store = cfg_for(tmp_path, "active")
    with client.as_current(), get_task_stream(client) as ts:
        res = sweep.run(cfg)  # no scheduler: the active client, as dask does
    assert len(ts.data) == res.n_blocks
    assert_identical(reference, store)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_scheduler_one_line_exit_2_nothing_written(tmp_path):
    cfg, store = cfg_for(tmp_path, "tcp")
    addr = f"tcp://127.0.0.1:{_free_port()}"
    out = subprocess.run(
        [sys.executable, "-m", "sweep.cli", "run", str(cfg), "--scheduler", addr],
        env={**os.environ, "SWEEP_CONNECT_TIMEOUT": "2"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 2, out.stderr
    line = one_line(out.stderr)
    assert line.startswith("sweep: error: --scheduler") and "cannot connect" in line
    assert not Path(store).exists()


@pytest.mark.parametrize("bad", ["tcp://", "tcp://host", "tcp://host:port", "tcp://h:99999"])
def test_malformed_scheduler_address(tmp_path, capsys, bad):
    cfg, store = cfg_for(tmp_path, "bad")
    assert main(["run", str(cfg), "--scheduler", bad]) == 2
    assert "tcp://HOST:PORT" in one_line(capsys.readouterr().err)
    assert not Path(store).exists()
