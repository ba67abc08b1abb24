"""Every branch of the Ca²⁺ balance (kernels.branches, kernels.roots) against independent references.

References, written here apart from the kernels:
* the balance of physics.md in numpy (``test_steady_state.ca_balance_math``), scanned on 20,001
  log nodes over [1 nM, [Ca²⁺]ₒ], every sign change refined by scipy brentq;
* a fine brute-force count of roots along ``ibar_pmca`` for the folds.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.optimize import brentq
from test_steady_state import _ca_batch, _point, ca_balance_math

from kernels import REGISTRY
from kernels.roots import all_roots, fold_margin
from kernels.solvers import Status
from sweep import boundary_along, parse_config

BRANCH = REGISTRY.resolve_outputs(
    ["ca_i_ss_low", "ca_i_ss_high", "ca_i_ss_mid", "ca_i_ss_count", "ca_i_ss_nstable",
     "ca_fold_margin", "ca_i_ss", "ca_i_ss_nroots", "status_ca_i_ss"]
)  # fmt: skip
#: notebook 03's bistable set (steep, right-shifted NCX activation)
BISTABLE = {"n_act": 4.0, "k_dact": 1e-3}


def reference_roots(p: dict, n: int = 20001) -> list[tuple[float, bool]]:
    """Every root (mM) of the balance with its stability, from a fine scan + brentq."""
    xs = np.linspace(math.log(1e-6), math.log(p["ca_o"]), n)
    fs = ca_balance_math(np.exp(xs), p)

    def f(x):
        return float(ca_balance_math(np.exp(np.array([x])), p)[0])

    out = []
    for k in np.flatnonzero((fs[:-1] > 0) != (fs[1:] > 0)):
        x = brentq(f, xs[k], xs[k + 1], xtol=1e-15, rtol=1e-15, maxiter=200)
        out.append((math.exp(x), bool(fs[k] > 0)))  # f > 0 below: stable
    return out


def evaluate_batch(b: dict, names=BRANCH, dtype=jnp.float64) -> dict[str, np.ndarray]:
    defaults = REGISTRY.defaults()
    keys = list(b)

    def point(*xs):
        p = {k: jnp.asarray(v, dtype) for k, v in defaults.items()}
        p.update({k: x for k, x in zip(keys, xs, strict=True)})
        return REGISTRY.evaluate(p, names)

    res = jax.jit(jax.vmap(point))(*(jnp.asarray(b[k], dtype) for k in keys))
    return {k: np.asarray(v) for k, v in res.items()}


def _fold_band(n_vm: int = 5, n_ib: int = 40) -> dict:
    vm, ib = np.meshgrid(np.linspace(-10, 10, n_vm), np.linspace(0.230, 0.240, n_ib))
    m = vm.size
    return {
        "vm": vm.ravel(),
        "na_i": np.full(m, 30.0),
        "ibar_pmca": ib.ravel(),
        "n_act": np.full(m, 4.0),
        "k_dact": np.full(m, 1e-3),
    }


@pytest.fixture(scope="module")
def cases():
    out = {}
    for label, b in (
        ("generic", _ca_batch(120, 5, False)),
        ("multi", _ca_batch(120, 11, True)),
        ("fold band", _fold_band()),
    ):
        out[label] = (b, evaluate_batch(b))
    return out


@pytest.mark.parametrize("label", ["generic", "multi", "fold band"])
def test_every_root_found_with_its_stability(cases, label):
    b, out = cases[label]
    n_checked = n_multi = 0
    for i in range(len(b["vm"])):
        p = _point(b, i)
        ref = reference_roots(p)
        status = out["status_ca_branches"][i]
        assert status in (Status.CONVERGED, Status.ROOTS_NOT_GUARANTEED, Status.NO_ROOT_IN_RANGE)
        if status != Status.CONVERGED and ref:
            continue
        n_checked += 1
        assert out["ca_i_ss_count"][i] == len(ref), (i, ref)
        stable = [c for c, s in ref if s]
        unstable = [c for c, s in ref if not s]
        assert out["ca_i_ss_nstable"][i] == len(stable)
        if stable:
            assert out["ca_i_ss_low"][i] == pytest.approx(stable[0], rel=1e-9)
            assert out["ca_i_ss_high"][i] == pytest.approx(stable[-1], rel=1e-9)
        else:
            assert np.isnan(out["ca_i_ss_low"][i]) and np.isnan(out["ca_i_ss_high"][i])
        if unstable:
            assert out["ca_i_ss_mid"][i] == pytest.approx(unstable[0], rel=1e-9)
        else:
            assert np.isnan(out["ca_i_ss_mid"][i])
        n_multi += len(ref) >= 3
    assert n_checked >= 0.9 * len(b["vm"])  # "not guaranteed" stays rare
    if label != "generic":
        assert n_multi >= 10


def test_fold_band_ca_i_ss_certified_or_flagged(cases):
    """Near a fold the two merging roots share a scan cell. ca_i_ss's enclosures
    cannot close that cell, so it says so (status 5) instead of reporting the
    high root as converged; wherever it says 0 or 1 its count and root are right.
    The slope-and-extremum scan of the branch outputs resolves the pair."""
    b, out = cases["fold band"]
    refs = [reference_roots(_point(b, i)) for i in range(len(b["vm"]))]
    counts = np.array([len(r) for r in refs])
    ok = out["status_ca_branches"] == 0
    assert (out["ca_i_ss_count"][ok] == counts[ok]).all()
    assert ok.mean() > 0.95
    st = out["status_ca_i_ss"]
    sure = (st == 0) | (st == 1)
    assert (out["ca_i_ss_nroots"][sure] == counts[sure]).all()
    for i in np.flatnonzero(st == 0):
        low = [c for c, s in refs[i] if s][0]
        assert out["ca_i_ss"][i] == pytest.approx(low, rel=1e-9)
    # the 64-node sign scan alone misses pairs here; those points are never status 0/1
    hidden = out["ca_i_ss_nroots"] != counts
    assert hidden.sum() > 0 and (st[hidden] == Status.ROOTS_NOT_GUARANTEED).all()


def test_low_branch_is_ca_i_ss(cases):
    for label in ("generic", "multi"):
        _, out = cases[label]
        both = (out["status_ca_branches"] == 0) & (out["status_ca_i_ss"] == 0)
        assert both.sum() > 50
        assert (out["ca_i_ss_count"][both] == out["ca_i_ss_nroots"][both]).all()
        np.testing.assert_allclose(out["ca_i_ss_low"][both], out["ca_i_ss"][both], rtol=1e-10)
        # status 5 of ca_i_ss: the branch outputs still give the lowest stable root
        five = (out["status_ca_i_ss"] == Status.ROOTS_NOT_GUARANTEED) & (
            out["status_ca_branches"] == 0
        )
        assert np.isfinite(out["ca_i_ss_low"][five & (out["ca_i_ss_nstable"] > 0)]).all()


def test_margin_sign_is_bistability(cases):
    for label in ("multi", "fold band"):
        _, out = cases[label]
        ok = (out["status_ca_branches"] == 0) & np.isfinite(out["ca_fold_margin"])
        m = out["ca_fold_margin"][ok]
        nst = out["ca_i_ss_nstable"][ok]
        far = np.abs(m) > 1e-12
        assert ((m[far] > 0) == (nst[far] >= 2)).all()


def test_fold_located_exactly_along_an_axis():
    """boundary_along on ca_fold_margin finds the saddle-node to ≤ 1e-9 of the axis span,
    cross-checked by a brute-force count of roots on a fine grid along the axis."""
    lo, hi = 0.20, 0.26
    spec = parse_config(
        {
            "name": "fold",
            "parameters": {"n_act": 4.0, "k_dact": "1 uM", "na_i": "30 mM"},
            "axes": {
                "vm": {"values": ["-10 mV", "0 mV", "10 mV"]},
                "ibar_pmca": {"start": f"{lo} uA/cm**2", "stop": f"{hi} uA/cm**2", "num": 31},
            },
            "outputs": ["ca_fold_margin"],
        }
    )
    res = boundary_along(spec, "ca_fold_margin", "ibar_pmca", level=0.0)
    folds = res.dataset["boundary_ibar_pmca"]
    span = hi - lo
    fine = np.linspace(lo, hi, 6001)
    for vm in (-10.0, 0.0, 10.0):
        found = folds.sel(vm=vm).values
        found = found[np.isfinite(found)]
        # brute force: where the number of roots changes on the fine grid
        counts = np.array(
            [len(reference_roots({**REGISTRY.defaults(), **BISTABLE, "vm": vm, "na_i": 30.0,
                                  "ibar_pmca": v}, n=4001)) for v in fine]
        )  # fmt: skip
        changes = fine[np.flatnonzero(np.diff(counts))]
        assert len(found) == len(changes) >= 1, (vm, found, changes)
        for t, c in zip(np.sort(found), changes, strict=True):
            assert c <= t <= c + (fine[1] - fine[0]), (t, c)
            # either side of the fold, at 1e-9 of the span, the branch count differs
            d = 1e-9 * span
            side = evaluate_batch(
                {"vm": np.full(2, vm), "na_i": np.full(2, 30.0), "ibar_pmca": np.array([t - d, t + d]),
                 "n_act": np.full(2, 4.0), "k_dact": np.full(2, 1e-3)},
                names=REGISTRY.resolve_outputs(["ca_i_ss_count"]),
            )  # fmt: skip
            assert side["ca_i_ss_count"][0] != side["ca_i_ss_count"][1], (vm, t)


def test_float32_close_to_float64(cases):
    b, out64 = cases["multi"]
    out32 = evaluate_batch(b, dtype=jnp.float32)
    ok = (out64["status_ca_branches"] == 0) & (out32["status_ca_branches"] == 0)
    ok &= np.abs(np.nan_to_num(out64["ca_fold_margin"], nan=1.0)) > 1e-3  # away from folds
    ok &= out64["ca_i_ss_count"] == out32["ca_i_ss_count"]
    assert ok.sum() > 50
    for name in ("ca_i_ss_low", "ca_i_ss_high"):
        np.testing.assert_allclose(out32[name][ok], out64[name][ok], rtol=1e-4)


def test_invalid_and_empty_interval():
    b = {"ca_o": np.array([1e-7, 2.0, 2.0]), "ibar_pmca": np.array([0.0673, -1.0, np.nan])}
    out = evaluate_batch(b)
    assert (out["status_ca_branches"] == Status.INVALID_INPUT).all()
    assert (out["ca_i_ss_count"] == 0).all() and np.isnan(out["ca_i_ss_low"]).all()


def test_all_roots_on_a_polynomial():
    """all_roots on −(x − 1.1)(x − 1.1 − ε)(x − 3.1): a pair 1e-3 apart inside one scan cell."""
    eps = 1e-3

    def f(x):
        return -(x - 1.1) * (x - 1.1 - eps) * (x - 3.1)

    r = all_roots(f, jnp.asarray(0.0), jnp.asarray(4.0), n=9)
    assert int(r.status) == Status.CONVERGED and int(r.count) == 3
    np.testing.assert_allclose(np.asarray(r.x[:3]), [1.1, 1.1 + eps, 3.1], rtol=1e-12)
    # positive below 1.1, so the first root is stable (slope < 0)
    assert (np.asarray(r.slope[:3]) < 0).tolist() == [True, False, True]
    m = float(fold_margin(r))
    assert m > 0  # the pair straddles zero: "bistable"
    # no roots: the margin is the distance of the extremum pair from zero, negative
    r2 = all_roots(lambda x: f(x) + 1.0, jnp.asarray(0.0), jnp.asarray(4.0), n=9)
    assert int(r2.count) == 1 and float(fold_margin(r2)) < 0


def test_bifurcation_diagram_draws_the_branches(tmp_path):
    """What plot_bifurcation draws: both stable branches solid, the unstable one dashed,
    no line joining two branches across the fold, and the fold where boundary_along puts it."""
    from sweep import evaluate_grid, plot_bifurcation, save_figure

    spec = parse_config(
        {
            "name": "bif",
            "parameters": {"n_act": 4, "k_dact": "1 uM", "na_i": "30 mM", "vm": "0 mV"},
            "axes": {"ibar_pmca": {"start": "0.05 uA/cm**2", "stop": "0.6 uA/cm**2", "num": 111}},
            "outputs": ["ca_i_ss_low", "ca_i_ss_high", "ca_i_ss_mid", "ca_i_ss_nstable"],
        }
    )
    ds = evaluate_grid(spec)
    folds = boundary_along(spec, "ca_fold_margin", "ibar_pmca").dataset
    fig = plot_bifurcation(ds, "ibar_pmca", folds=folds)
    ax = fig.axes[0]
    lines = [ln for ln in ax.get_lines() if ln.get_linestyle() in ("-", "--")]
    solid = [ln for ln in lines if ln.get_linestyle() == "-"]
    dashed = [ln for ln in lines if ln.get_linestyle() == "--"]
    assert len(solid) == 2 and len(dashed) == 1
    low = np.asarray(solid[0].get_ydata(), dtype=float)
    ref = ds["ca_i_ss_low"].values
    ok = np.isfinite(low)
    np.testing.assert_array_equal(low[ok], ref[ok])
    # the low branch jumps to the high one where bistability ends (going left): a gap, no line
    nst = ds["ca_i_ss_nstable"].values
    assert (~ok).sum() >= 1 and (nst[1:] != nst[:-1]).any()
    fold = float(folds["boundary_ibar_pmca"].values[0])
    vlines = [ln for ln in ax.get_lines() if ln.get_linestyle() == ":"]
    assert len(vlines) == 1 and vlines[0].get_xdata()[0] == pytest.approx(fold)
    assert 0.2 < fold < 0.26
    assert ax.get_yscale() == "log"
    save_figure(fig, tmp_path / "bif.png")
    assert (tmp_path / "bif.png").stat().st_size > 10_000


def test_cli_fold_and_bifurcation(tmp_path, monkeypatch, capsys):
    """configs/ca_bistability.yaml (fewer samples) through the CLI: 'sweep boundary --fold'
    equals --output ca_fold_margin --along, its folds sit where the exact root count
    changes on the grid, and 'sweep plot --bifurcation' draws both stable branches solid,
    the unstable one dashed and the folds dotted, from the store's own values."""
    import xarray as xr
    import yaml

    import sweep.cli.plot as cli_plot
    from sweep.cli import main

    root = __import__("pathlib").Path(__file__).resolve().parents[1]
    cfg = yaml.safe_load((root / "configs" / "ca_bistability.yaml").read_text(encoding="utf-8"))
    cfg["axes"]["ibar_pmca"]["num"] = 56
    path = tmp_path / "bist.yaml"
    path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    run, fold, along = (str(tmp_path / n) for n in ("run.zarr", "fold.zarr", "along.zarr"))
    assert main(["run", str(path), "--store", run, "--no-progress"]) == 0
    assert main(["boundary", str(path), "--fold", "ibar_pmca", "--store", fold]) == 0
    args = ["boundary", str(path), "--output", "ca_fold_margin", "--along", "ibar_pmca"]
    assert main([*args, "--store", along]) == 0
    f1 = xr.open_zarr(fold)["boundary_ibar_pmca"]
    f2 = xr.open_zarr(along)["boundary_ibar_pmca"]
    np.testing.assert_array_equal(f1.values, f2.values)
    ds = xr.open_zarr(run)
    ib = ds["ibar_pmca"].values
    for vm in ds["vm"].values:
        count = ds["ca_i_ss_count"].sel(vm=vm).values
        assert (ds["status_ca_branches"].sel(vm=vm).values == 0).all()
        edges = np.flatnonzero(np.diff(count) != 0)
        found = np.sort(f1.sel(vm=vm).values[np.isfinite(f1.sel(vm=vm).values)])
        assert len(found) == len(edges) >= 1
        for t, e in zip(found, edges, strict=True):
            assert ib[e] <= t <= ib[e + 1]
    # --bifurcation: capture the figure the command saves
    figs = []
    real_save = cli_plot.save_figure
    monkeypatch.setattr(
        cli_plot, "save_figure", lambda fig, p, dpi: figs.append(fig) or real_save(fig, p, dpi)
    )
    out = tmp_path / "bif.png"
    argv = ["plot", run, "--bifurcation", "ibar_pmca", "--sel", "vm=0mV", "--boundary", fold]
    assert main([*argv, "-o", str(out)]) == 0
    assert out.stat().st_size > 10_000
    ax = figs[0].axes[0]
    solid = [ln for ln in ax.get_lines() if ln.get_linestyle() == "-"]
    dashed = [ln for ln in ax.get_lines() if ln.get_linestyle() == "--"]
    dotted = [ln for ln in ax.get_lines() if ln.get_linestyle() == ":"]
    assert len(solid) == 2 and len(dashed) == 1
    for ln, name in (
        (solid[0], "ca_i_ss_low"),
        (solid[1], "ca_i_ss_high"),
        (dashed[0], "ca_i_ss_mid"),
    ):
        y = np.asarray(ln.get_ydata(), dtype=float)
        ref = ds[name].sel(vm=0.0).values
        ok = np.isfinite(y)
        np.testing.assert_array_equal(y[ok], ref[ok])
    assert [ln.get_xdata()[0] for ln in dotted] == pytest.approx(
        list(f1.sel(vm=0.0).values[np.isfinite(f1.sel(vm=0.0).values)])
    )
    # bad combinations: one-line errors before any work
    capsys.readouterr()
    assert main(["plot", run, "ca_i_ss_low", "--bifurcation", "ibar_pmca", "-o", str(out)]) == 2
    assert "--bifurcation ibar_pmca draws the Ca²⁺ branches" in capsys.readouterr().err
    assert main(["boundary", str(path), "--fold", "ibar_pmca", "--output", "ca_i_ss"]) == 2
    assert "--fold ibar_pmca means --output ca_fold_margin" in capsys.readouterr().err
