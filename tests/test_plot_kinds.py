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
    # the grid boundary draws above the refined line's white halo, not hidden behind it
    halo = [ln for ln in ax.lines if ln.get_label() == "_halo"]
    (grid,) = [ln for ln in ax.lines if ln.get_label() == "mode change (grid)"]
    assert halo and grid.get_zorder() > max(h.get_zorder() for h in halo)
    assert np.isfinite(grid.get_xdata()).sum() >= ds.sizes["na_i"]
    assert ax.get_legend().legend_handles[0].get_linestyle() == grid.get_linestyle() == "-"
    fig = plot_map(ds, "dG_ncx", x="vm", y="na_i", boundary=bds)
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels[0] == "ΔG NCX = 0 (grid)"
    save_figure(fig, tmp_path / "side_dG.png", 60)
    _png_ok(tmp_path / "side_dG.png")
    fig = plot_map(ds, "dG_ncx", x="vm", y="na_i")
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels == ["ΔG NCX = 0 (grid)"]
    save_figure(fig, tmp_path / "side.png", 60)
    _png_ok(tmp_path / "side.png")


# --- counts as discrete classes ------------------------------------------------------
def _count_ds(values: np.ndarray, name: str = "ca_i_ss_count"):
    import xarray as xr

    ny, nx = values.shape
    return xr.Dataset(
        {name: (("na_i", "vm"), values.astype(np.int8), {"units": "", "long_name": "n states"})},
        coords={
            "vm": ("vm", np.linspace(-60.0, 20.0, nx), {"units": "mV", "long_name": "V"}),
            "na_i": ("na_i", np.linspace(5.0, 50.0, ny), {"units": "mM", "long_name": "Na"}),
        },
    )


def test_count_map_has_one_class_per_integer(tmp_path):
    from matplotlib.colors import to_hex

    from sweep.plot import plot_line, plot_map

    v = np.ones((6, 8), dtype=np.int8)
    v[3:, 4:] = 3  # 1 and 3 present, 2 not: 2 keeps its colour and tick
    v[0, 0] = 0
    ds = _count_ds(v)
    fig = plot_map(ds, "ca_i_ss_count", x="vm", y="na_i")
    ax, cb = fig.axes
    mesh = ax.collections[0]
    assert mesh.cmap.N == 4  # 0, 1, 2, 3
    np.testing.assert_array_equal(mesh.norm.boundaries, [-0.5, 0.5, 1.5, 2.5, 3.5])
    assert [t.get_text() for t in cb.get_yticklabels()] == ["0", "1", "2", "3"]
    np.testing.assert_array_equal(cb.get_yticks(), [0, 1, 2, 3])
    colours = [to_hex(mesh.cmap(k)) for k in range(4)]
    assert len(set(colours)) == 4  # one colour per integer
    # every cell is drawn in its integer's colour
    drawn = [to_hex(c) for c in mesh.to_rgba(np.ravel(mesh.get_array()))]
    assert drawn == [colours[int(k)] for k in v.ravel()]
    # the class changes are outlined and named by the long name
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["change in n states (grid)"]
    save_figure(fig, tmp_path / "count.png", 60)
    _png_ok(tmp_path / "count.png")
    # a line along one axis: steps with a tick at each integer of its range (1 and 3 here)
    fig = plot_line(ds, "ca_i_ss_count", x="vm", sel={"na_i": 50.0})
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["1", "2", "3"]
    np.testing.assert_array_equal(ax.lines[0].get_ydata(), v[-1].astype(float))


def test_count_unwritten_points_are_missing_and_many_values_a_number():
    from kernels.solvers import NOT_WRITTEN
    from sweep.plot import plot_map

    v = np.full((4, 5), 2, dtype=np.int8)
    v[0, :2] = NOT_WRITTEN
    fig = plot_map(_count_ds(v, "n_states_cell"), "n_states_cell", x="vm", y="na_i")
    mesh, cb = fig.axes[0].collections[0], fig.axes[1]
    assert mesh.cmap.N == 2 and [t.get_text() for t in cb.get_yticklabels()] == ["missing", "2"]
    assert tuple(mesh.cmap(0)[:3]) == (1.0, 1.0, 1.0)
    many = np.arange(40, dtype=np.int8).reshape(5, 8)  # 40 integers: a number, not classes
    fig = plot_map(_count_ds(many), "ca_i_ss_count", x="vm", y="na_i")
    assert fig.axes[0].collections[0].cmap.name == "viridis"


def test_count_outputs_of_the_engine_are_classes(tmp_path):
    from sweep.plot import plot_map, plot_samples

    cfg = {
        "name": "counts",
        "parameters": {"n_act": 4.0, "ibar_pmca": "0.3 uA/cm**2", "k_dact": "1 uM"},
        "axes": {
            "vm": {"start": "-60 mV", "stop": "20 mV", "num": 9},
            "na_i": {"start": "5 mM", "stop": "80 mM", "num": 8, "spacing": "log"},
        },
        "outputs": ["ca_i_ss_count", "ca_i_ss_nstable"],
    }
    ds = evaluate_grid(parse_config(cfg))
    for name in ("ca_i_ss_count", "ca_i_ss_nstable"):
        vals = np.unique(ds[name].values)
        assert vals.size >= 2  # the grid crosses the bistable band
        fig = plot_map(ds, name, x="vm", y="na_i")
        mesh, cb = fig.axes[0].collections[0], fig.axes[1]
        lo, hi = int(vals.min()), int(vals.max())
        assert mesh.cmap.N == hi - lo + 1
        assert [t.get_text() for t in cb.get_yticklabels()] == [str(k) for k in range(lo, hi + 1)]
        save_figure(fig, tmp_path / f"{name}.png", 60)
        _png_ok(tmp_path / f"{name}.png")
    smp = evaluate_grid(
        parse_config(
            {
                **cfg,
                "axes": {
                    "vm": {"start": "-60 mV", "stop": "20 mV"},
                    "na_i": {"start": "5 mM", "stop": "80 mM", "spacing": "log"},
                },
                "design": {"method": "sobol", "n": 32, "seed": 0},
            }
        )
    )
    fig = plot_samples(smp, "ca_i_ss_nstable")
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    present = sorted({int(k) for k in smp["ca_i_ss_nstable"].values})
    assert labels == [str(k) for k in present]


# --- the grid boundary line --------------------------------------------------------
def _corner_ds():
    """ΔG-like field whose 0 line cuts the upper right corner (where "best" looks first)."""
    import xarray as xr

    x = np.linspace(0.0, 1.0, 21)
    y = np.linspace(0.0, 1.0, 17)
    z = np.add.outer(y, x) - 1.8
    return xr.Dataset(
        {"dG_ncx": (("na_i", "vm"), z, {"units": "kJ/mol", "long_name": "ΔG NCX"})},
        coords={"vm": ("vm", x, {"units": "mV"}), "na_i": ("na_i", y, {"units": "mM"})},
    )


def test_grid_boundary_line_is_drawn_and_kept_in_legends(tmp_path):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from sweep.plot import plot_map

    fig = plot_map(_corner_ds(), "dG_ncx", x="vm", y="na_i")
    ax = fig.axes[0]
    (grid,) = [ln for ln in ax.lines if ln.get_label() == "ΔG NCX = 0 (grid)"]
    xy = np.column_stack([grid.get_xdata(), grid.get_ydata()]).astype(float)
    xy = xy[np.isfinite(xy).all(axis=1)]
    assert len(xy) >= 8
    np.testing.assert_allclose(xy.sum(axis=1), 1.8, atol=1e-12)  # a linear field: exact
    # the legend does not cover the line (contour sets were invisible to loc="best")
    FigureCanvasAgg(fig).draw()
    box = ax.get_legend().get_window_extent()
    t = np.linspace(0.0, 1.0, 50)[:, None, None]  # points along every segment, not only vertices
    pts = ax.transData.transform(((1 - t) * xy[:-1] + t * xy[1:]).reshape(-1, 2))
    inside = (
        (pts[:, 0] > box.x0) & (pts[:, 0] < box.x1) & (pts[:, 1] > box.y0) & (pts[:, 1] < box.y1)
    )
    assert not inside.any(), "the legend hides the grid boundary line"
    # a legend the user draws afterwards keeps the grid boundary entry
    ax.plot([0.2], [0.2], "r*", label="a point of mine")
    ax.legend()
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["ΔG NCX = 0 (grid)", "a point of mine"]
    save_figure(fig, tmp_path / "corner.png", 60)
    _png_ok(tmp_path / "corner.png")
