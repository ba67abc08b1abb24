"""How the engine meets users' habits: dask clients, SLURM arrays, batch logs (issue 17)."""

from __future__ import annotations

import io
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers import ROOT, assert_identical, one_line, write_config

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


# --- SLURM arrays -----------------------------------------------------------------
SCRIPT = ROOT / "configs" / "slurm" / "sweep_array.sbatch"
UNSHARDED = {k: v for k, v in GRID.items() if k != "chunks"}  # one block by default


def test_init_shards_sizes_blocks(tmp_path, capsys):
    cfg, store = write_config(tmp_path, UNSHARDED, "one.yaml", store=str(tmp_path / "one.zarr"))
    assert main(["init", str(cfg)]) == 0
    out = capsys.readouterr().out
    assert "1 block of" in out and "1 blocks" not in out
    assert main(["init", str(cfg), "--overwrite", "--shards", "4"]) == 0
    assert sweep.store_status(store)["n_blocks"] >= 4
    assert "sweep: warning" not in capsys.readouterr().err


def test_init_warns_when_shards_exceed_blocks(tmp_path, capsys):
    # 2 x 2 points with chunks fixed by the config: at most 1 block
    tiny = {
        **UNSHARDED,
        "axes": {"vm": {"values": ["-80 mV", "0 mV"]}, "na_i": {"values": ["5 mM", "10 mM"]}},
        "chunks": {"vm": 2, "na_i": 2},
    }
    cfg, _ = write_config(tmp_path, tiny, "tiny.yaml", store=str(tmp_path / "tiny.zarr"))
    assert main(["init", str(cfg), "--shards", "16"]) == 0
    err = one_line(capsys.readouterr().err)
    assert "16 shards but only 1 block" in err and "15 shard(s) will have nothing to do" in err
    assert main(["init", str(cfg), "--overwrite", "--shards", "x"]) == 2
    assert "--shards 'x'" in capsys.readouterr().err


def _bare_env(**extra: str) -> dict[str, str]:
    """The environment of a compute node where ``sweep`` is not on PATH."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYENV"))}
    env["PATH"] = "/usr/bin:/bin"
    env.update(extra)
    return env


def _array_task(cfg: Path, i: int, n: int, env: dict[str, str]) -> subprocess.Popen:
    env = {**env, "SLURM_ARRAY_TASK_ID": str(i), "SLURM_ARRAY_TASK_COUNT": str(n)}
    return subprocess.Popen(
        ["bash", str(SCRIPT), str(cfg)],
        cwd=ROOT,  # the repository root holds a `sweep/` directory: never run it
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_sbatch_script_on_a_bare_node_as_documented(tmp_path, reference):
    """``sweep init CONFIG --shards 3`` then 3 array tasks with SWEEP_ENV, as the script says."""
    assert subprocess.run(["bash", "-c", "type -P sweep"], env=_bare_env()).returncode != 0
    cfg, store = write_config(tmp_path, UNSHARDED, "arr.yaml", store=str(tmp_path / "arr.zarr"))
    assert main(["init", str(cfg), "--shards", "3"]) == 0
    n_blocks = sweep.store_status(store)["n_blocks"]
    assert n_blocks >= 3
    env = _bare_env(SWEEP_ENV=sys.prefix)
    procs = [_array_task(cfg, i, 3, env) for i in range(3)]
    done = []
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
        assert "computed 0 of" not in out  # every task had work
        done.append(out)
    st = sweep.store_status(store)
    assert st["done"] == n_blocks and not st["missing"]
    if not st["complete"]:
        assert main(["run", str(cfg), "--resume"]) == 0
    assert_identical(reference, store)  # other block sizes, the same values


def test_sbatch_script_without_sweep_fails_clearly(tmp_path):
    cfg, _ = write_config(tmp_path, UNSHARDED, "no.yaml", store=str(tmp_path / "no.zarr"))
    p = _array_task(cfg, 0, 2, _bare_env())
    _, err = p.communicate(timeout=60)
    assert p.returncode == 2
    line = one_line(err)
    assert "'sweep' command is not on PATH" in line and "SWEEP_ENV" in line
    assert "Is a directory" not in err
    p = _array_task(cfg, 0, 2, _bare_env(SWEEP_ENV=str(tmp_path / "nowhere")))
    _, err = p.communicate(timeout=60)
    assert p.returncode == 2 and "has no bin/ directory" in one_line(err)


# --- batch logs -------------------------------------------------------------------
LOG_LINE = re.compile(
    r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ sweep: (\d+)/(\d+) blocks \(\d+%\), [\d,]+ points/s, "
    r"elapsed \d+:\d\d:\d\d, ETA (\d+:\d\d:\d\d|unknown)$"
)


def test_no_progress_logs_lines_off_a_terminal(tmp_path):
    cfg, _ = cfg_for(tmp_path, "log")
    out = subprocess.run(
        [sys.executable, "-m", "sweep.cli", "run", str(cfg), "--no-progress"],
        env={**os.environ, "SWEEP_LOG_EVERY": "0"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    lines = out.stderr.splitlines()
    assert len(lines) == 6, out.stderr  # 9 x 6 points in 3 x 3 blocks, a line per block
    done = [LOG_LINE.match(ln) for ln in lines]
    assert all(done), out.stderr
    assert [int(m.group(1)) for m in done] == list(range(1, 7))
    assert {int(m.group(2)) for m in done} == {6}


def test_log_lines_are_spaced_and_short_runs_are_quiet():
    from sweep.driver import Progress

    f = io.StringIO()
    p = Progress(3, False, every=3600.0, stream=f)
    for _ in range(3):
        p.advance(10)
    assert f.getvalue() == ""  # under the interval: nothing but the final summary of the CLI
    p = Progress(2, False, every=0.0, stream=f)
    p.advance(10)
    p.advance(10)
    assert [LOG_LINE.match(x).group(1) for x in f.getvalue().splitlines()] == ["1", "2"]


def test_terminal_bar_labels_its_time_column():
    from sweep.driver import Progress

    f = io.StringIO()
    p = Progress(2, True, stream=f)
    p.advance(10)
    p.advance(10)
    p.close()
    text = f.getvalue()
    assert re.search(r"2/2 blocks [\d,]+ points/s ETA \d+:\d\d:\d\d", text), text


# --- global sensitivity at the command line ---------------------------------------
def test_global_takes_bound_only_axes_and_names_stores_by_method(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    bounds = {
        "name": "gsa",
        "axes": {
            "vm": {"start": "-100 mV", "stop": "20 mV"},
            "na_i": {"start": "5 mM", "stop": "40 mM", "spacing": "log"},
        },
        "outputs": ["dG_ncx"],
    }
    cfg, _ = write_config(tmp_path, bounds, "gsa.yaml", store="results/gsa.zarr")
    base = ["sensitivity", str(cfg), "--scheduler", "synchronous"]
    assert main([*base, "--global", "sobol", "--n", "16"]) == 0
    assert main([*base, "--global", "morris", "--n", "8"]) == 0
    capsys.readouterr()
    assert (tmp_path / "results" / "gsa.sobol.zarr").is_dir()
    assert (tmp_path / "results" / "gsa.morris.zarr").is_dir()
    # a grid run of the same config still needs num: the bounds are not a grid
    assert main(["plan", str(cfg)]) == 2
    assert "needs 'num'" in capsys.readouterr().err


# --- small things -----------------------------------------------------------------
def test_interrupt_hint_names_the_config_used(tmp_path, monkeypatch, capsys):
    import sweep.cli.run as cli_run

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli_run, "run", interrupted)
    cfg, _ = cfg_for(tmp_path, "int")
    other = tmp_path / "other store.zarr"
    assert main(["run", str(cfg), "--store", str(other)]) == 130
    line = one_line(capsys.readouterr().err)
    assert f"'sweep run {cfg} --store '{other}' --resume'" in line, line
    assert main(["run"]) == 130  # the built-in quickstart: no config to name
    assert "'sweep run --resume'" in one_line(capsys.readouterr().err)


def test_37_C_suggests_degC(tmp_path, capsys):
    cfg, _ = cfg_for(tmp_path, "c", parameters={"temperature": "37 C"})
    assert main(["plan", str(cfg)]) == 2
    line = one_line(capsys.readouterr().err)
    assert "parameters.temperature = '37 C'" in line and "write '37 degC'" in line
    cfg, _ = cfg_for(tmp_path, "d", parameters={"temperature": "37 degC"})
    assert main(["plan", str(cfg)]) == 0


def test_v_rev_of_an_electroneutral_transporter(tmp_path, capsys):
    user = {"myt": {"stoichiometry": {"k": -1, "cl": -1}}}
    for out in ("v_rev_kcc2", "v_rev_myt"):
        cfg, _ = cfg_for(tmp_path, "vr", transporters=user, outputs=[out])
        assert main(["plan", str(cfg)]) == 2
        line = one_line(capsys.readouterr().err)
        assert "electroneutral (q = 0): no V_rev" in line and "mode_" not in line.split(":")[0]
    cfg, _ = cfg_for(tmp_path, "vr2", outputs=["v_rev_ncx"])
    assert main(["plan", str(cfg)]) == 0


def test_residuals_can_be_left_out(tmp_path):
    import xarray as xr

    from sweep.spec import parse_config, spec_from_canonical

    ss = {
        "name": "res",
        "axes": {"vm": {"values": ["-70 mV", "-60 mV"]}},
        "outputs": ["e_gaba_ss"],
    }
    full = parse_config(ss)
    assert "residual_cl_i_ss" in full.outputs
    lean = parse_config({**ss, "residuals": False})
    assert "residual_cl_i_ss" not in lean.outputs and "status_cl_i_ss" in lean.outputs
    assert spec_from_canonical(lean.canonical).outputs == lean.outputs
    cfg, store = write_config(tmp_path, {**ss, "residuals": False})
    assert main(["run", str(cfg)]) == 0
    ds = xr.open_zarr(store)
    assert "residual_cl_i_ss" not in ds and "status_cl_i_ss" in ds
    ref = sweep.evaluate_grid(full)
    np.testing.assert_array_equal(ds["e_gaba_ss"].values, ref["e_gaba_ss"].values)
    # asked for by name, a residual is kept
    assert (
        "residual_cl_i_ss"
        in parse_config(
            {**ss, "residuals": False, "outputs": ["e_gaba_ss", "residual_cl_i_ss"]}
        ).outputs
    )
    with pytest.raises(sweep.ConfigError, match="residuals = 'no' is not allowed"):
        parse_config({**ss, "residuals": "no"})


def test_plot_help_shows_o_as_required(capsys):
    with pytest.raises(SystemExit):
        main(["plot", "-h"])
    out = capsys.readouterr().out
    assert out.startswith("usage: sweep plot STORE VAR -o FILE.png")
    assert "[-o" not in out and "required:" in out


@pytest.mark.slow
def test_readme_api_examples_run(tmp_path):
    """The README's block naming the API the notebooks use runs as written."""
    import matplotlib.image as mpimg

    root = ROOT
    blocks = re.findall(r"```python\n(.*?)```", (root / "README.md").read_text("utf-8"), re.S)
    (code,) = [b for b in blocks if "sweep.plot_bifurcation" in b]
    for name in ("load_config", "boundary_along", "plot_map", "evaluate_grid", "plot_bifurcation"):
        assert f"sweep.{name}(" in code, name
    (tmp_path / "configs").symlink_to(root / "configs")
    env = {**os.environ, "MPLBACKEND": "Agg"}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, env=env
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "rank  input" in out.stdout  # the ranked table printed
    for png in ("api.png", "bif.png"):
        img = mpimg.imread(tmp_path / png)
        assert img.shape[0] > 100 and float(np.std(img[..., :3])) > 0.01
    assert (tmp_path / "qs.zarr").is_dir() and (tmp_path / "shards.zarr").is_dir()


def test_run_summary_gives_counts_a_range_and_codes_their_tally(tmp_path):
    """The summary after `sweep run`: an int32 count (steps) as min … max with its mean,
    int8 codes as a tally, long names aligned (sweep.report.store_summary)."""
    import numpy as np
    import xarray as xr

    from sweep.report import store_summary

    ds = xr.Dataset(
        {
            "n_steps_tc": ("p", np.array([67, 80, 104], np.int32), {"units": "1"}),
            "status_gaba_polarity_tc_t_flip": ("p", np.array([0, 0, 1], np.int8)),
            "cl_i_tc_end": ("p", np.array([6.0, 7.5, np.nan]), {"units": "mM"}),
        },
        coords={"p": [0.1, 0.5, 1.0]},
    )
    ds.to_zarr(tmp_path / "s.zarr")
    lines = store_summary(tmp_path / "s.zarr", 3).splitlines()
    assert lines[0] == "summary (p=3):"
    steps = next(x for x in lines if "n_steps_tc" in x)
    assert steps.split()[1:] == ["67", "…", "104", "mean", "83.67"]
    codes = next(x for x in lines if "status_gaba" in x)
    assert codes.split()[1:] == ["0:", "2,", "1:", "1"]
    cl = next(x for x in lines if "cl_i_tc_end" in x)
    assert cl.split()[1:] == ["6", "…", "7.5", "mM"]
    # the name column is as wide as the longest name (+ 1), so values start in one column
    w = len("status_gaba_polarity_tc_t_flip") + 1
    assert codes.startswith("  status_gaba_polarity_tc_t_flip" + " " * (w - 30) + " 0:")
    assert steps.startswith("  " + "n_steps_tc".ljust(w) + " ")
    assert cl.startswith("  " + "cl_i_tc_end".ljust(w) + " ")
