"""`sweep plot` and sweep.plot: maps, lines and bars render; bad arguments are one line."""

from __future__ import annotations

import warnings

import matplotlib.image as mpimg
import numpy as np
import pytest
import xarray as xr
from matplotlib.colors import CenteredNorm
from matplotlib.container import BarContainer

from sweep.cli import main
from sweep.plot import plot, plot_bars, plot_line, plot_map, select
from sweep.spec import ConfigError

CONFIG = """
name: plotme
parameters: {temperature: 310 K}
axes:
  vm:   {start: -120 mV, stop: 60 mV, num: 37}
  na_i: {start: 5 mM, stop: 50 mM, num: 12, spacing: log}
  ca_i: {values: [50 nM, 100 nM, 1 uM]}
outputs: [dG_ncx, mode_ncx, v_rev_ncx, gaba_polarity]
"""


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    d = tmp_path_factory.mktemp("plot")
    cfg = d / "plotme.yaml"
    cfg.write_text(CONFIG)
    run, bnd = d / "run.zarr", d / "bnd.zarr"
    assert main(["run", str(cfg), "--store", str(run), "--no-progress"]) == 0
    args = ["boundary", str(cfg), "--output", "dG_ncx", "--along", "vm", "--store", str(bnd)]
    assert main(args) == 0
    sens = d / "sens.zarr"
    inputs = ["na_i", "vm", "ca_i", "k_o"]
    rng = np.random.default_rng(0)
    s1 = rng.random((2, 4))
    sens_ds = xr.Dataset(
        {
            "S1": (("output", "input"), s1, {"units": "1", "long_name": "first-order Sobol index"}),
            "S1_conf": (("output", "input"), 0.05 * np.ones((2, 4)), {"units": "1"}),
            "ST": (("output", "input"), s1 + 0.1, {"units": "1", "long_name": "total Sobol index"}),
        },
        coords={"output": ["dG_ncx", "e_na"], "input": inputs},
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # string coordinates: no zarr v3 dtype spec yet
        sens_ds.to_zarr(sens, zarr_format=3, consolidated=True)
    return {"dir": d, "run": run, "bnd": bnd, "sens": sens, "s1": s1, "inputs": inputs}


def png(path, width, height):
    img = mpimg.imread(path)
    assert img.shape[:2] == (height, width), img.shape
    assert float(np.std(img[..., :3])) > 0.01  # not a blank canvas
    return img


def one_line_error(capsys, argv, *needles):
    rc = main(argv)
    err = capsys.readouterr().err
    assert rc == 2, err
    assert err.count("\n") == 1, err
    for n in needles:
        assert n in err, err
    return err


def test_cli_mode_map_with_boundary_overlay(stores, capsys):
    out = stores["dir"] / "mode.png"
    argv = ["plot", str(stores["run"]), "mode_ncx", "--x", "vm", "--y", "na_i"]
    argv += ["--sel", "ca_i=100nM", "-o", str(out), "--dpi", "100"]
    argv += ["--boundary", str(stores["bnd"])]
    assert main(argv) == 0
    assert "640×480" in capsys.readouterr().out
    png(out, 640, 480)


def test_cli_dG_map_line_and_boundary_line(stores):
    d = stores["dir"]
    base = ["plot", str(stores["run"])]
    assert (
        main(
            [
                *base,
                "dG_ncx",
                "--x",
                "vm",
                "--y",
                "na_i",
                "--sel",
                "ca_i=0.0001",
                "-o",
                str(d / "g.png"),
            ]
        )
        == 0
    )
    png(d / "g.png", 960, 720)  # default dpi 150
    argv = [*base, "dG_ncx", "--x", "vm", "--sel", "ca_i=1uM", "na_i=10", "-o", str(d / "l.png")]
    assert main([*argv, "--dpi", "80"]) == 0
    png(d / "l.png", 512, 384)
    argv = ["plot", str(stores["bnd"]), "boundary_vm", "--x", "na_i", "--sel", "ca_i=100 nM"]
    assert main([*argv, "-o", str(d / "b.png"), "--dpi", "50"]) == 0
    png(d / "b.png", 320, 240)


def test_cli_sensitivity_bars(stores):
    out = stores["dir"] / "s1.png"
    argv = ["plot", str(stores["sens"]), "S1", "--sel", "output=e_na", "-o", str(out)]
    assert main([*argv, "--dpi", "100"]) == 0
    png(out, 640, 480)


def test_python_api_map_is_categorical_and_labelled(stores):
    ds = xr.open_zarr(stores["run"])
    fig = plot_map(ds, "mode_ncx", x="vm", y="na_i", sel={"ca_i": "100 nM"})
    ax = fig.axes[0]
    assert ax.get_xlabel() == "membrane potential (mV)"
    assert ax.get_ylabel().endswith("(mM)") and ax.get_yscale() == "log"
    cbar = fig.axes[1]
    labels = [t.get_text() for t in cbar.get_yticklabels()]
    assert labels == ["reverse", "equilibrium", "forward"]
    assert ax.get_legend() is not None  # the mode-change contour is drawn and named
    assert "ca_i = 0.0001 mM" in ax.get_title()
    fig = plot(ds, "gaba_polarity", x="vm", y="na_i", sel={"ca_i": 1e-4})
    labels = [t.get_text() for t in fig.axes[1].get_yticklabels()]
    assert labels == ["hyperpolarizing", "neutral", "depolarizing"]


def test_python_api_diverging_and_nearest_selection(stores):
    ds = xr.open_zarr(stores["run"])
    fig = plot_map(ds, "dG_ncx", x="vm", y="na_i", sel={"ca_i": 0.00011})
    mesh = fig.axes[0].collections[0]
    assert isinstance(mesh.norm, CenteredNorm) and mesh.norm.vcenter == 0
    assert fig.axes[1].get_ylabel() == "ΔG NCX (kJ/mol)"
    da = select(ds, "dG_ncx", {"ca_i": "110 nM", "na_i": 9.9})
    assert float(da.ca_i) == pytest.approx(1e-4) and da.dims == ("vm",)
    assert float(da.na_i) == pytest.approx(min(ds.na_i.values, key=lambda v: abs(v - 9.9)))
    fig = plot_line(ds, "mode_ncx", x="vm", sel={"ca_i": 1e-4, "na_i": 10})
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == [
        "reverse",
        "equilibrium",
        "forward",
    ]


def test_bars_are_ranked_with_error_bars(stores):
    ds = xr.open_zarr(stores["sens"])
    fig = plot_bars(ds, "S1", sel={"output": "dG_ncx"})
    ax = fig.axes[0]
    order = np.argsort(-stores["s1"][0])
    assert [t.get_text() for t in ax.get_yticklabels()] == [stores["inputs"][i] for i in order]
    bars = [c for c in ax.containers if isinstance(c, BarContainer)]
    assert len(bars) == 1 and bars[0].errorbar is not None
    with pytest.raises(ConfigError, match="output=NAME"):
        plot(ds, "S1")


def test_boundary_line_draws_closed_form(stores):
    ds = xr.open_zarr(stores["bnd"])
    fig = plot(ds, "boundary_vm", x="na_i", sel={"ca_i": 1e-4})
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "crossing 0" in labels
    long = ds["v_rev_ncx"].attrs["long_name"].removeprefix("closed form: ")
    assert f"closed form: {long} (v_rev_ncx)" in labels  # legends by long name


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (
            ["dG_nxc", "--x", "vm"],
            ["unknown variable 'dG_nxc'", "did you mean 'dG_ncx'", "variables:"],
        ),
        (
            ["dG_ncx", "--x", "vmm", "--y", "na_i", "--sel", "ca_i=1e-4"],
            ["'vmm'", "dims left: vm, na_i"],
        ),
        (["dG_ncx", "--x", "vm", "--sel", "ca_i=1e-4"], ["give --y na_i"]),
        (["dG_ncx", "--x", "vm", "--y", "na_i"], ["select ca_i"]),
        (["dG_ncx", "--x", "vm"], ["select na_i, ca_i"]),
        (["dG_ncx", "--x", "vm", "--sel", "ca_i"], ["AXIS=VALUE"]),
        (["dG_ncx", "--x", "vm", "--sel", "k_o=3"], ["'k_o' is not a dimension", "vm, na_i, ca_i"]),
        (["dG_ncx", "--x", "vm", "--sel", "ca_i=100", "na_i=5"], ["outside the coordinate range"]),
        (["dG_ncx", "--x", "vm", "--sel", "ca_i=100 mV", "na_i=5"], ["wrong dimension"]),
        (["dG_ncx", "--x", "vm", "--y", "vm"], ["both 'vm'"]),
    ],
)
def test_cli_bad_arguments_are_one_line(stores, capsys, args, needles):
    out = stores["dir"] / "bad.png"
    one_line_error(capsys, ["plot", str(stores["run"]), *args, "-o", str(out)], *needles)
    assert not out.exists()


def test_cli_bad_output_store_and_dpi(stores, capsys):
    run = str(stores["run"])
    base = ["plot", run, "dG_ncx", "--x", "vm", "--sel", "ca_i=1e-4", "na_i=5"]
    one_line_error(capsys, base, "-o FILE.png is required")
    one_line_error(capsys, [*base, "-o", str(stores["dir"] / "x.xyz")], "unknown image format")
    one_line_error(capsys, [*base, "-o", str(stores["dir"] / "x.png"), "--dpi", "high"], "--dpi")
    nope = str(stores["dir"] / "nope.zarr")
    one_line_error(capsys, ["plot", nope, "dG_ncx", "-o", "x.png"], "does not exist")
    one_line_error(
        capsys,
        ["plot", run, "dG_ncx", "--x", "vm", "--y", "na_i", "--sel", "ca_i=1e-4", "-o", "x.png"]
        + ["--boundary", run],
        "--boundary",
    )
