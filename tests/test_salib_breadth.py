"""SALib's breadth on the engine's evaluations (issue 17): RBD-FAST on the Sobol' rows."""

from __future__ import annotations

import numpy as np

from sweep.analysis.global_sensitivity import analyze, global_sensitivity
from sweep.design import sample


def test_rbd_fast_on_the_sobol_rows_matches_the_analytic_indices():
    """y = 2 x1 + x2, x ~ U[0,1]²: S1 = (4/5, 1/5) (variance shares of an additive model)."""
    prob = {"num_vars": 2, "names": ["x1", "x2"], "bounds": [[0.0, 1.0], [0.0, 1.0]]}
    X = sample(prob, "sobol", 1024, seed=3)
    y = 2 * X[:, 0] + X[:, 1]
    ds = analyze(prob, X, {"y": y}, "sobol", seed=3)
    np.testing.assert_allclose(ds["S1_rbd_fast"].sel(output="y").values, [0.8, 0.2], atol=0.03)
    np.testing.assert_allclose(ds["S1"].sel(output="y").values, [0.8, 0.2], atol=0.05)
    assert np.all(ds["S1_rbd_fast_conf"].values > 0)
    assert ds["S1_rbd_fast"].attrs["long_name"]


def test_rbd_fast_in_a_global_result():
    spec = {
        "name": "rbd",
        "axes": {
            "vm": {"start": "-100 mV", "stop": "20 mV"},
            "na_i": {"start": "5 mM", "stop": "40 mM", "spacing": "log"},
        },
        "outputs": ["dG_ncx"],
    }
    ds = global_sensitivity(spec, "sobol", n=256, seed=0, scheduler="synchronous")
    s1 = ds["S1"].sel(output="dG_ncx").values
    rbd = ds["S1_rbd_fast"].sel(output="dG_ncx").values
    # ΔG_NCX is additive in V_m and ln [Na⁺]ᵢ (the sampling space): both estimate one S1
    np.testing.assert_allclose(rbd, s1, atol=0.08)
    np.testing.assert_allclose(rbd.sum(), 1.0, atol=0.08)
