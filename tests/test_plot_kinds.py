"""Figures users expect (issue 17): sampled designs as scatter panels, Sobol S1|ST, Morris μ*–σ.

Each test checks what is drawn (the data of the artists) and writes the PNG.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.image as mpimg
import numpy as np
import pytest
from matplotlib.container import BarContainer

from sweep.analysis.global_sensitivity import global_sensitivity
from sweep.cli import main
from sweep.execute import evaluate_grid
from sweep.plot import plot, plot_samples, plot_sobol, save_figure
from sweep.spec import ConfigError, parse_config

AXES = {
    "vm": {"start": "-100 mV", "stop": "20 mV"},
    "na_i": {"start": "5 mM", "stop": "40 mM", "spacing": "log"},
    "k_o": {"start": "2 mM", "stop": "10 mM"},
}


GRID_AXES = {k: {**v, "num": 3} for k, v in AXES.items()}


@pytest.fixture(scope="module")
def sampled():
    spec = parse_config(
        {
            "name": "smp",
            "axes": AXES,
            "design": {"method": "sobol", "n": 64, "seed": 1},
            "outputs": ["dG_ncx", "mode_ncx"],
        }
    )
    return evaluate_grid(spec)


def _png_ok(path, tmp_path=None) -> None:
    img = mpimg.imread(path)
    assert img.ndim == 3 and img.shape[0] > 100 and img.shape[1] > 100
    assert float(np.std(img[..., :3])) > 0.01  # not blank


def test_sampled_store_scatter_panels(sampled, tmp_path):
    fig = plot(sampled, "dG_ncx")
    axes = [a for a in fig.axes if a.get_visible()]
    assert len(axes) == 3
    for ax, name in zip(axes, ["vm", "na_i", "k_o"], strict=True):
        pts = ax.collections[0].get_offsets()
        np.testing.assert_array_equal(np.asarray(pts[:, 0]), sampled[name].values)
        np.testing.assert_array_equal(np.asarray(pts[:, 1]), sampled["dG_ncx"].values)
        assert ax.get_ylabel() == "ΔG NCX (kJ/mol)"
    assert axes[1].get_xscale() == "log"  # log-uniform input
    save_figure(fig, tmp_path / "panels.png", 60)
    _png_ok(tmp_path / "panels.png")
    # codes: one scatter per class, in the legend by meaning
    fig = plot_samples(sampled, "mode_ncx", x="vm")
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert set(labels) <= {"reverse", "equilibrium", "forward"} and labels
    n = sum(len(c.get_offsets()) for c in ax.collections)
    assert n == sampled.sizes["sample"]
    with pytest.raises(ConfigError, match="--x 'ca_i' is not an input"):
        plot_samples(sampled, "dG_ncx", x="ca_i")


@pytest.fixture(scope="module")
def sobol():
    spec = {"name": "gs", "axes": GRID_AXES, "outputs": ["dG_ncx"]}
    return global_sensitivity(spec, "sobol", n=64, seed=0, scheduler="synchronous")


@pytest.fixture(scope="module")
def morris():
    spec = {"name": "gm", "axes": GRID_AXES, "outputs": ["i_ncx"]}
    return global_sensitivity(spec, "morris", n=16, seed=0, scheduler="synchronous")


def test_sobol_s1_and_st_side_by_side(sobol, tmp_path):
    fig = plot_sobol(sobol)
    ax = fig.axes[0]
    bars = [c for c in ax.containers if isinstance(c, BarContainer)]
    assert len(bars) == 2 and all(b.errorbar is not None for b in bars)
    st = sobol["ST"].sel(output="dG_ncx").values
    s1 = sobol["S1"].sel(output="dG_ncx").values
    order = np.argsort(-st, kind="stable")
    names = [str(v) for v in sobol["input"].values]
    assert [t.get_text() for t in ax.get_yticklabels()] == [names[i] for i in order]
    np.testing.assert_allclose([r.get_width() for r in bars[0]], s1[order])
    np.testing.assert_allclose([r.get_width() for r in bars[1]], st[order])
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "S1 (first order)",
        "ST (total)",
    ]
    save_figure(fig, tmp_path / "sobol.png", 60)
    _png_ok(tmp_path / "sobol.png")


def test_morris_mu_star_sigma_scatter(morris, tmp_path):
    fig = plot(morris, "morris")
    ax = fig.axes[0]
    mu = morris["mu_star"].sel(output="i_ncx").values
    sg = morris["sigma"].sel(output="i_ncx").values
    assert sg.max() > 0  # a non-linear output: the effects spread
    line = ax.lines[0]
    np.testing.assert_allclose(line.get_xdata(), mu)
    np.testing.assert_allclose(line.get_ydata(), sg)
    # the confidence interval of μ* as horizontal error bars
    segs = ax.collections[0].get_segments()
    conf = morris["mu_star_conf"].sel(output="i_ncx").values
    np.testing.assert_allclose([s[1][0] - s[0][0] for s in segs], 2 * np.abs(conf), rtol=1e-12)
    assert {t.get_text() for t in ax.texts} == {str(v) for v in morris["input"].values}
    save_figure(fig, tmp_path / "morris.png", 60)
    _png_ok(tmp_path / "morris.png")


def test_cli_plots_sobol_and_morris(sobol, tmp_path, capsys):
    import warnings

    path = tmp_path / "s.zarr"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sobol.to_zarr(path, zarr_format=3)
    out = tmp_path / "s.png"
    assert main(["plot", str(path), "sobol", "-o", str(out), "--dpi", "50"]) == 0
    _png_ok(out)
    assert main(["plot", str(path), "morris", "-o", str(out)]) == 2
    assert "mu_star and sigma" in capsys.readouterr().err


def test_boundary_map_shows_the_side(tmp_path):
    import xarray as xr
    from helpers import write_config

    from sweep.plot import plot_map

    cfg, store = write_config(
        tmp_path,
        {
            "name": "side",
            "axes": {
                "vm": {"start": "-120 mV", "stop": "60 mV", "num": 19},
                "na_i": {"start": "5 mM", "stop": "50 mM", "num": 6, "spacing": "log"},
            },
            "outputs": ["mode_ncx", "dG_ncx"],
        },
    )
    bstore = str(tmp_path / "b.zarr")
    assert main(["run", str(cfg)]) == 0
    args = ["boundary", str(cfg), "--output", "dG_ncx", "--along", "vm", "--store", bstore]
    assert main(args) == 0
    ds, bds = xr.open_zarr(store), xr.open_zarr(bstore)
    fig = plot_map(ds, "mode_ncx", x="vm", y="na_i", boundary=bds)
    ax = fig.axes[0]
    side = bds["side_vm"].transpose("na_i", "crossing").values
    pos = bds["boundary_vm"].transpose("na_i", "crossing").values
    marks = {ln.get_marker(): ln for ln in ax.lines if ln.get_label().startswith("_side")}
    assert set(marks) <= {">", "<"} and marks
    for code, mk in ((1, ">"), (-1, "<")):
        m = side == code
        if m.any():
            np.testing.assert_array_equal(marks[mk].get_xdata(), pos[m])
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "ΔG NCX > 0 on the ▶ side" in labels and "mode change (grid)" in labels
    assert "ΔG NCX = 0, refined (= v_rev_ncx)" in labels  # legends by long name
    fig = plot_map(ds, "dG_ncx", x="vm", y="na_i")
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels == ["ΔG NCX = 0 (grid)"]
    save_figure(fig, tmp_path / "side.png", 60)
    _png_ok(tmp_path / "side.png")
