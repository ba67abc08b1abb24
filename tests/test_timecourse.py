"""Time courses (kernels.timecourse) against independent scipy references and analytic cases.

The reference model is written here again in plain numpy, in [Ca²⁺]ᵢ (the kernel
integrates ln[Ca²⁺]ᵢ), from physics.md ("NCX kinetics", "Calcium steady
state") and integrated by ``scipy.integrate.solve_ivp`` (Radau, rtol 1e-10), a
pulse in two segments. Its summaries come from the dense output (fine grid,
bounded minimisation, brentq).
"""

from __future__ import annotations

import functools
import math
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from reference_models import F, R, ca_rate, cell_rhs
from scipy.integrate import solve_ivp
from scipy.optimize import brentq, minimize_scalar

from kernels import REGISTRY, cell
from kernels.kinetics import NCXParams
from kernels.solvers import NOT_WRITTEN, Status
from kernels.steady_state import calcium_balance, calcium_steady_state
from kernels.timecourse import (
    CALCIUM,
    INPUTS,
    SYSTEMS,
    IntegratorOptions,
    _hermite,
    _hermite_crossing,
    _hermite_stationary,
    calcium_rate,
    integrate,
    time_course,
    whole_cell_system,
)

DEFAULTS = {**REGISTRY.defaults(), **{i.name: i.default for i in INPUTS}}
P = {k: jnp.asarray(v) for k, v in DEFAULTS.items()}


# ------------------------------------------------------------ numpy reference model
def ref_rate(ca, q):
    """d[Ca]ᵢ/dt (mM/s) and I_NCX of physics.md's Ca²⁺ balance (tests/reference_models.py)."""
    return ca_rate(ca, q)


def ss(q):
    """[Ca]ᵢ from the kernel's steady state (the reference starts where the kernel does)."""
    qj = {k: jnp.asarray(v) for k, v in q.items()}
    r = calcium_steady_state(
        qj["vm"],
        qj["na_i"],
        qj["na_o"],
        qj["ca_o"],
        qj["temperature"],
        NCXParams.from_inputs(qj),
        qj["ibar_pmca"],
        qj["k_pmca"],
        qj["h_pmca"],
        qj["g_ca_bg"],
    )
    assert int(r.status) == 0
    return float(r.ca_i)


def reference(q_point, q_before, t_end, duration=None):
    """Dense scipy solution(s): list of (t0, t1, sol, q) segments."""
    ca0 = ss(q_before)
    segs = [(0.0, t_end, q_point)] if duration is None else [
        (0.0, duration, q_point),
        (duration, t_end, q_before),
    ]  # fmt: skip
    out, y = [], ca0
    for t0, t1, q in segs:
        sol = solve_ivp(
            lambda t, c, q=q: [ref_rate(c[0], q)[0]],
            (t0, t1),
            [y],
            method="Radau",
            rtol=1e-10,
            atol=1e-16,
            dense_output=True,
        )
        assert sol.success
        out.append((t0, t1, sol, q))
        y = sol.y[0, -1]
    return ca0, out


def ref_eval(segs, t, which="ca"):
    """The reference at times t (right-continuous at a switch): [Ca]ᵢ or I_NCX."""
    t = np.atleast_1d(np.asarray(t, float))
    out = np.full(t.shape, np.nan)
    for k, (t0, t1, sol, q) in enumerate(segs):
        m = (t >= t0) & ((t < t1) if k < len(segs) - 1 else (t <= t1))
        if not m.any():
            continue
        ca = sol.sol(t[m])[0]
        out[m] = ca if which == "ca" else ref_rate(ca, q)[1]
    return out


def seg_eval(seg, t, which):
    _, _, sol, q = seg
    ca = sol.sol(t)[0]
    return ca if which == "ca" else ref_rate(ca, q)[1]


def ref_summaries(segs, ca0, q_before, which, level=None):
    """end, peak (farthest from the baseline), t_peak, t_relax, t_flip of one output."""

    def g(t):
        return float(ref_eval(segs, t, which)[0])

    base = ca0 if which == "ca" else ref_rate(ca0, q_before)[1]
    t_end = segs[-1][1]
    parts = [np.linspace(a, b, 4001) for a, b, _, _ in segs]
    grid = np.concatenate(parts)
    # every point of a segment, its end included, with that segment's inputs
    vals = np.concatenate([seg_eval(seg, p, which) for seg, p in zip(segs, parts, strict=True)])
    k = int(np.argmax(np.abs(vals - base)))
    t_peak, peak = grid[k], vals[k]
    if 0 < k < len(grid) - 1 and grid[k - 1] < grid[k] < grid[k + 1]:
        r = minimize_scalar(
            lambda t: -abs(g(t) - base),
            bounds=(grid[k - 1], grid[k + 1]),
            method="bounded",
            options={"xatol": 1e-12},
        )
        if -r.fun > abs(peak - base):
            t_peak, peak = r.x, g(r.x)
    end = g(t_end)
    t_s = segs[-1][0]
    start = g(t_s)
    target = abs(start - end) / math.e
    tl = np.linspace(t_s, t_end, 20001)
    dl = np.abs(ref_eval(segs, tl, which) - end)
    j = int(np.argmax(dl <= target))
    t_relax = brentq(lambda t: abs(g(t) - end) - target, tl[j - 1], tl[j], xtol=1e-13) - t_s
    t_flip = None
    if level is not None:
        side0 = base - level > 0
        sides = (vals - level) > 0
        if np.any(sides != side0):
            i = int(np.argmax(sides != side0))
            if i % 4001 == 0:  # a segment's first point: the switch flipped it
                t_flip = grid[i]
            else:
                t_flip = brentq(lambda t: g(t) - level, grid[i - 1], grid[i], xtol=1e-13)
    return end, peak, t_peak, t_relax, t_flip


def point(**kw):
    return {**DEFAULTS, **kw}


@functools.cache
def _compiled(ts: tuple, t_end: float, kw: tuple):
    kwargs = dict(kw)
    dtype = kwargs.pop("dtype")
    ts_arr = jnp.asarray(ts, dtype)
    return jax.jit(lambda p, b, d: time_course(CALCIUM, p, b, ts_arr, t_end, duration=d, **kwargs))


def run(q_point, before, ts, t_end, dtype=jnp.float64, duration=1.0, **kw):
    """One point, through a compiled function shared by tests with the same settings
    (the inputs and the pulse duration are traced)."""
    if "flips" in kw:
        kw["flips"] = tuple(kw["flips"])
    if "outputs" in kw:
        kw["outputs"] = tuple(kw["outputs"])
    f = _compiled(tuple(np.asarray(ts, float).tolist()), float(t_end),
                  tuple(sorted({**kw, "dtype": dtype}.items(), key=lambda i: i[0])))  # fmt: skip
    p = {k: jnp.asarray(v, dtype) for k, v in q_point.items()}
    b = {k: jnp.asarray(v, dtype) for k, v in before.items()}
    return f(p, b, jnp.asarray(duration, dtype))


RNG = np.random.default_rng(20261201)


def random_cases(n):
    cases = []
    for _ in range(n):
        q = point(
            vm=RNG.uniform(-90, -10),
            na_i=RNG.uniform(6, 25),
            ibar_pmca=DEFAULTS["ibar_pmca"] * RNG.uniform(0.5, 2),
            ibar_ncx=DEFAULTS["ibar_ncx"] * RNG.uniform(0.5, 2),
            beta_ca=RNG.uniform(0.005, 0.05),
        )
        before = {"vm": RNG.uniform(-85, -60), "na_i": RNG.uniform(8, 14)}
        cases.append((q, before))
    return cases


# ------------------------------------------------------------ conversions
def test_gamma_is_a_sphere_of_radius_7_um_and_calcium_takes_half():
    # γ = (A/V)/F = 3/(r F) for a sphere: 1 µA/cm² into r = 7 µm is 0.04441 mM/s
    # (Wei et al. 2014 round it to 0.0444); Ca²⁺ (z = 2) gets γ/2 per µA/cm².
    r_cm = 7e-4
    gamma = 3.0 / r_cm * 1e-6 / F * 1e6  # (mol/cm³/s → mM/s) per µA/cm²
    assert gamma == pytest.approx(0.04441, rel=1e-3)
    assert gamma == pytest.approx(DEFAULTS["gamma"], rel=2e-3)
    q = point(ca_i=3e-4)
    qj = {k: jnp.asarray(v) for k, v in q.items()}
    args = (
        qj["vm"], qj["na_i"], qj["na_o"], qj["ca_o"], qj["temperature"],
        NCXParams.from_inputs(qj), qj["ibar_pmca"], qj["k_pmca"], qj["h_pmca"], qj["g_ca_bg"],
    )  # fmt: skip
    rate = calcium_rate(qj["ca_i"], *args, qj["gamma"], qj["beta_ca"])
    net = calcium_balance(qj["ca_i"], *args)
    assert float(rate) == pytest.approx(0.5 * 0.01 * 0.0444 * float(net), rel=1e-14)
    assert float(rate) == pytest.approx(ref_rate(3e-4, q)[0], rel=1e-12)
    assert float(rate) < 0  # above the steady state (166 nM) the cell extrudes


# ------------------------------------------------------------ Hermite pieces
def test_hermite_is_exact_for_cubics():
    c = np.array([0.3, -1.2, 0.7, 2.0])  # p(t) = c0 + c1 t + c2 t² + c3 t³ on [0.5, 1.25]
    p = lambda t: c[0] + c[1] * t + c[2] * t**2 + c[3] * t**3  # noqa: E731
    dp = lambda t: c[1] + 2 * c[2] * t + 3 * c[3] * t**2  # noqa: E731
    a, b = 0.5, 1.25
    h = b - a
    for u in (0.0, 0.2, 0.5, 0.9, 1.0):
        assert float(_hermite(u, p(a), p(b), dp(a), dp(b), h)) == pytest.approx(p(a + u * h))
    # stationary points of the cubic: roots of dp
    roots = np.sort(np.roots([3 * c[3], 2 * c[2], c[1]]).real)
    r1, r2 = _hermite_stationary(p(a), p(b), dp(a), dp(b), h)
    got = np.sort(np.array([float(r1), float(r2)]) * h + a)
    np.testing.assert_allclose(got, roots, rtol=1e-12)
    # crossing of a level
    level = p(0.9)
    u = _hermite_crossing(p(a), p(b), dp(a), dp(b), h, level, 60)
    assert float(a + u * h) == pytest.approx(0.9, abs=1e-13)


# ------------------------------------------------------------ analytic linear case
def _linear_system(k):
    """y' = −k (y − y_inf): exact exponentials; output 0 is y, output 1 is 2y − 1."""

    def vf(y, a):
        return -k * (y - a)

    def outs(y, a):
        return jnp.stack([y[0], 2 * y[0] - 1])

    return vf, outs


#: Tight tolerances for the analytic cases: output values come from the solver's
#: cubic Hermite dense output, within ~30·rtol of the solution (measured on these
#: cases), so rtol 1e-11 leaves the summary grid's own error (~1e-8) visible.
TIGHT = IntegratorOptions(rtol=1e-11, atol=1e-13)


def test_integrate_linear_step_summaries_are_exact():
    k = 0.7
    vf, outs = _linear_system(k)
    ts = jnp.array([-1.0, 0.0, 0.5, 2.0, 10.0])
    tc = integrate(
        vf, outs, jnp.array([0.0]), jnp.array([0.0]), (jnp.array([1.0]),), jnp.zeros(0), 10.0,
        ts, flip_index=(0, 1), flip_level=(0.5, 10.0), options=TIGHT,
    )  # fmt: skip
    exact = np.where(np.asarray(ts) < 0, 0.0, 1 - np.exp(-k * np.clip(np.asarray(ts), 0, None)))
    assert int(tc.status) == 0
    np.testing.assert_allclose(np.asarray(tc.ys[:, 0]), exact, atol=1e-9)
    y_end = 1 - math.exp(-7.0)
    np.testing.assert_allclose(np.asarray(tc.end), [y_end, 2 * y_end - 1], rtol=1e-9)
    np.testing.assert_allclose(np.asarray(tc.peak), [y_end, 2 * y_end - 1], rtol=1e-9)
    np.testing.assert_allclose(np.asarray(tc.t_peak), [10.0, 10.0])
    # |y − y_end| = e^{−kt} − e^{−10k} reaches (1 − e^{−10k})/e at
    # t = −ln((1 − e^{−10k})/e + e^{−10k})/k; 1/k for an infinite window
    tr = -math.log((1 - math.exp(-7.0)) / math.e + math.exp(-7.0)) / k
    np.testing.assert_allclose(np.asarray(tc.t_relax), [tr, tr], rtol=1e-7)
    assert float(tc.t_flip[0]) == pytest.approx(math.log(2) / k, rel=1e-7)
    assert math.isnan(float(tc.t_flip[1])) and int(tc.status_flip[1]) == Status.NO_ROOT_IN_RANGE
    assert int(tc.status_flip[0]) == 0


def test_integrate_linear_pulse_is_exact_and_steps_to_the_switch():
    k, d, t_end = 1.3, 0.8, 6.0
    vf, outs = _linear_system(k)
    ts = jnp.linspace(0.0, t_end, 13)
    tc = integrate(
        vf, outs, jnp.array([0.0]), jnp.array([0.0]), (jnp.array([1.0]), jnp.array([0.0])),
        jnp.array([d]), t_end, ts, flip_index=(0,), flip_level=(0.5,), options=TIGHT,
    )  # fmt: skip
    t = np.asarray(ts)
    y_d = 1 - math.exp(-k * d)
    exact = np.where(t < d, 1 - np.exp(-k * t), y_d * np.exp(-k * (t - d)))
    np.testing.assert_allclose(np.asarray(tc.ys[:, 0]), exact, atol=1e-9)
    # the peak is the kink at the end of the pulse, found exactly (a grid point)
    assert float(tc.peak[0]) == pytest.approx(y_d, rel=1e-9)
    assert float(tc.t_peak[0]) == pytest.approx(d, rel=1e-12)
    # recovery after the pulse: y_d e^{−k s} − y_end reaches (y_d − y_end)/e
    y_end = y_d * math.exp(-k * (t_end - d))
    s = -math.log((y_d - y_end) / math.e / y_d + y_end / y_d) / k
    assert float(tc.t_relax[0]) == pytest.approx(s, rel=1e-7)
    assert float(tc.t_flip[0]) == pytest.approx(math.log(2) / k, rel=1e-7)


def test_fixed_steps_take_exactly_that_many_explicit_steps():
    k = 0.7
    vf, outs = _linear_system(k)
    opts = IntegratorOptions(solver="tsit5", fixed_steps=200)
    tc = integrate(
        vf, outs, jnp.array([0.0]), jnp.array([0.0]), (jnp.array([1.0]),), jnp.zeros(0), 10.0,
        jnp.array([10.0]), options=opts,
    )  # fmt: skip
    assert int(tc.status) == 0 and int(tc.num_steps) == 200
    # Tsit5 (order 5) with h = 0.05: global error ~ (hk)^5 ≈ 1e-8
    assert float(tc.ys[0, 0]) == pytest.approx(1 - math.exp(-7.0), abs=1e-8)
    with pytest.raises(ValueError, match=r"^fixed_steps = 0 is not allowed"):
        IntegratorOptions(fixed_steps=0)


def test_importing_the_time_courses_loads_no_sweep_stack():
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    code = (
        "import sys, kernels.timecourse; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'xarray', 'dask', 'distributed', 'zarr', 'yaml', 'pint', 'sweep'}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=120,
        env={**__import__("os").environ, "PYTHONPATH": str(root)},
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_integrate_flip_at_the_switch_itself():
    # the output jumps with the inputs: it flips at t = 0 exactly
    def vf(y, a):
        return -y

    def outs(y, a):
        return jnp.stack([y[0] + a[0]])

    tc = integrate(
        vf, outs, jnp.array([1.0]), jnp.array([0.0]), (jnp.array([-5.0]),), jnp.zeros(0), 2.0,
        jnp.array([1.0]), flip_index=(0,), flip_level=(0.0,),
    )  # fmt: skip
    assert float(tc.t_flip[0]) == 0.0 and int(tc.status_flip[0]) == 0


# ------------------------------------------------------------ Ca²⁺ against scipy
TS = np.array([-1.0, 0.0, 0.1, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 25.0])
#: Accuracy of the default float64 tolerances (RODAS4, rtol 1e-8 on ln[Ca²⁺]ᵢ) against
#: the rtol-1e-10 reference: the global error plus that of the solver's cubic dense
#: output between steps (with Kvaerno5 ≤ 1.2e-6 on these cases, 10× more).
VAL = 3e-7
#: Times read off the summary grid's Hermite cubics (129 points per segment).
TIME = 5e-6


@pytest.mark.parametrize("case", range(4))
def test_step_matches_solve_ivp(case):
    q, before = random_cases(4)[case]
    res = run(q, before, jnp.asarray(TS), 25.0)
    assert int(res["status_tc"]) == 0 and int(res["status_tc_before"]) == 0
    ca0, segs = reference(q, {**q, **before}, 25.0)
    ref = np.where(TS < 0, ca0, ref_eval(segs, np.clip(TS, 0, None)))
    np.testing.assert_allclose(np.asarray(res["ca_i_tc"]), ref, rtol=VAL)
    ref_i = np.where(
        TS < 0, ref_rate(ca0, {**q, **before})[1], ref_eval(segs, np.clip(TS, 0, None), "i")
    )
    # I_NCX crosses zero: its error is relative to its scale
    np.testing.assert_allclose(
        np.asarray(res["i_ncx_tc"]), ref_i, rtol=VAL, atol=VAL * np.abs(ref_i).max()
    )


def test_pulse_matches_solve_ivp():
    q = point(vm=-20.0, na_i=15.0)
    before = {"vm": -70.0, "na_i": 12.0}
    res = run(q, before, jnp.asarray(TS), 25.0, protocol="pulse", duration=2.0)
    assert int(res["status_tc"]) == 0
    ca0, segs = reference(q, {**q, **before}, 25.0, duration=2.0)
    ref = np.where(TS < 0, ca0, ref_eval(segs, np.clip(TS, 0, None)))
    np.testing.assert_allclose(np.asarray(res["ca_i_tc"]), ref, rtol=VAL)
    # at the switch (t = 2) the outputs use the inputs that start there
    i_at_2 = float(res["i_ncx_tc"][list(TS).index(2.0)])
    ca_2 = ref_eval(segs, 2.0)[0]
    assert i_at_2 == pytest.approx(ref_rate(ca_2, {**q, **before})[1], rel=VAL)


@pytest.mark.parametrize("protocol", ["step", "pulse"])
def test_summaries_match_the_reference(protocol):
    q = point(vm=-25.0, na_i=14.0)
    before = {"vm": -70.0, "na_i": 12.0}
    kw = {"protocol": protocol, "duration": 3.0} if protocol == "pulse" else {}
    res = run(q, before, jnp.asarray([0.0]), 30.0, flips=["mode_ncx", ("ca_i", 3e-4)], **kw)
    ca0, segs = reference(q, {**q, **before}, 30.0, duration=kw.get("duration"))
    qb = {**q, **before}
    for name, which, level in (("ca_i", "ca", 3e-4), ("i_ncx", "i", 0.0)):
        end, peak, t_peak, t_relax, t_flip = ref_summaries(segs, ca0, qb, which, level)
        assert float(res[f"{name}_tc_end"]) == pytest.approx(end, rel=VAL)
        assert float(res[f"{name}_tc_peak"]) == pytest.approx(peak, rel=VAL)
        # a peak's time is ill-conditioned (dg/dt = 0 there): error ~ √(value error)
        assert float(res[f"{name}_tc_t_peak"]) == pytest.approx(t_peak, rel=3e-3, abs=1e-9)
        assert float(res[f"{name}_tc_t_relax"]) == pytest.approx(t_relax, rel=TIME)
        if name == "ca_i":
            if t_flip is None:
                assert math.isnan(float(res["ca_i_tc_t_flip"]))
                assert int(res["status_ca_i_tc_t_flip"]) == Status.NO_ROOT_IN_RANGE
            else:
                assert float(res["ca_i_tc_t_flip"]) == pytest.approx(t_flip, rel=TIME)
        else:  # NCX mode flips where I_NCX (sign of ΔG_NCX) crosses 0
            assert t_flip is not None
            assert float(res["mode_ncx_tc_t_flip"]) == pytest.approx(t_flip, rel=TIME, abs=1e-12)
    modes = np.asarray(res["mode_ncx_tc"])
    assert modes.dtype == np.int8 and set(modes.tolist()) <= {-1, 0, 1}


def test_ncx_reversal_after_a_sodium_load_is_timed():
    # [Na⁺]ᵢ load at −70 mV: NCX reverses at once (ΔG jumps), then Ca²⁺ rises until
    # it runs forward again; the first flip is the jump at t = 0, a threshold of
    # [Ca²⁺]ᵢ is crossed later.
    q = point(na_i=30.0)
    res = run(q, {"na_i": 12.0}, jnp.asarray([0.0]), 60.0, flips=["mode_ncx", ("ca_i", 2e-4)])
    assert int(res["status_tc"]) == 0
    assert float(res["mode_ncx_tc_t_flip"]) == 0.0
    t = float(res["ca_i_tc_t_flip"])
    ca0, segs = reference(q, point(), 60.0)
    t_ref = brentq(lambda s: ref_eval(segs, s)[0] - 2e-4, 1e-6, 60.0, xtol=1e-13)
    assert t == pytest.approx(t_ref, rel=TIME)


# ------------------------------------------------------------ consistency
def test_late_value_is_the_after_steady_state_and_rate_is_the_linearisation():
    q = point(vm=-40.0, na_i=16.0)
    t_end = 120.0
    ts = jnp.linspace(20.0, 40.0, 3)
    res = run(q, {"vm": -75.0, "na_i": 10.0}, ts, t_end)
    ca_ss = ss(q)
    assert float(res["ca_i_tc_end"]) == pytest.approx(ca_ss, rel=1e-8)
    # −∂f/∂[Ca] at the root: the late exponential rate
    qj = {k: jnp.asarray(v) for k, v in q.items()}
    args = (
        qj["vm"], qj["na_i"], qj["na_o"], qj["ca_o"], qj["temperature"],
        NCXParams.from_inputs(qj), qj["ibar_pmca"], qj["k_pmca"], qj["h_pmca"], qj["g_ca_bg"],
        qj["gamma"], qj["beta_ca"],
    )  # fmt: skip
    lam = -float(jax.grad(lambda c: calcium_rate(c, *args))(jnp.asarray(ca_ss)))
    d = np.abs(np.asarray(res["ca_i_tc"]) - ca_ss)
    assert d[-1] / ca_ss > 1e-5  # still well above the integration error
    rate = math.log(d[1] / d[2]) / float(ts[2] - ts[1])
    assert rate == pytest.approx(lam, rel=2e-3)
    # t_relax of an (almost) exponential approach is 1/λ up to the early nonlinearity
    assert float(res["ca_i_tc_t_relax"]) == pytest.approx(1 / lam, rel=0.3)


def test_initial_state_is_the_before_steady_state():
    q = point(vm=-30.0)
    res = run(q, {"vm": -80.0}, jnp.asarray([-5.0, 0.0]), 10.0)
    c = ss(point(vm=-80.0))
    np.testing.assert_allclose(np.asarray(res["ca_i_tc"]), [c, c], rtol=1e-12)


# ------------------------------------------------------------ statuses
def test_tiny_step_budget_reports_max_steps():
    q = point(vm=-20.0)
    res = run(
        q, {"vm": -70.0}, jnp.asarray([0.0, 0.001, 20.0]), 20.0, flips=["mode_ncx"],
        options=IntegratorOptions(max_steps=2),
    )  # fmt: skip
    assert int(res["status_tc"]) == Status.MAX_STEPS_REACHED
    assert int(res["n_steps_tc"]) == 2
    ca = np.asarray(res["ca_i_tc"])
    assert np.isfinite(ca[0]) and np.isnan(ca[-1])  # reached values kept, the rest NaN
    assert np.asarray(res["mode_ncx_tc"])[-1] == NOT_WRITTEN
    for k in ("ca_i_tc_end", "ca_i_tc_peak", "ca_i_tc_t_relax", "mode_ncx_tc_t_flip"):
        assert math.isnan(float(res[k]))
    assert int(res["status_mode_ncx_tc_t_flip"]) == Status.MAX_STEPS_REACHED


@pytest.mark.parametrize(
    ("point_kw", "before", "code"),
    [
        ({"vm": float("nan")}, {}, Status.INVALID_INPUT),
        ({}, {"na_i": float("inf")}, Status.INVALID_INPUT),
        ({"beta_ca": 0.0}, {}, Status.INVALID_INPUT),
        ({"beta_ca": 1.5}, {}, Status.INVALID_INPUT),
        # no pump, no exchanger: the leak fills the cell towards E_Ca = V_m, above [Ca²⁺]ₒ
        ({}, {"ibar_pmca": 0.0, "ibar_ncx": 0.0}, Status.NO_INITIAL_STATE),
    ],
)
def test_bad_points_get_a_status_and_no_silent_nan(point_kw, before, code):
    res = run(point(**point_kw), before, jnp.asarray([0.0, 5.0]), 5.0, flips=["mode_ncx"])
    assert int(res["status_tc"]) == code
    assert np.isnan(np.asarray(res["ca_i_tc"])).all()
    assert int(res["status_mode_ncx_tc_t_flip"]) == code
    if code == Status.NO_INITIAL_STATE:
        assert int(res["status_tc_before"]) == Status.NO_ROOT_IN_RANGE


def test_bad_protocols_get_invalid_input():
    q = point(vm=-30.0)
    res = run(q, {"vm": -70.0}, jnp.asarray([0.0, 11.0]), 10.0)  # output time after t_end
    assert int(res["status_tc"]) == Status.INVALID_INPUT
    res = run(q, {"vm": -70.0}, jnp.asarray([5.0, 1.0]), 10.0)  # not in order
    assert int(res["status_tc"]) == Status.INVALID_INPUT
    for d in (0.0, 10.0, 12.0, -1.0):
        res = run(q, {"vm": -70.0}, jnp.asarray([1.0]), 10.0, protocol="pulse", duration=d)
        assert int(res["status_tc"]) == Status.INVALID_INPUT


def test_blow_up_reports_non_finite_quickly():
    # y' = y², y(0) = 1 leaves every finite value at t = 1
    tc = integrate(
        lambda y, a: y**2, lambda y, a: y, jnp.array([1.0]), 0.0, (0.0,), jnp.zeros(0), 2.0,
        jnp.array([0.5, 1.5]),
    )  # fmt: skip
    assert int(tc.status) == Status.NON_FINITE
    assert int(tc.num_steps) < 4096  # the step-size floor stops it, not the budget
    assert float(tc.ys[0, 0]) == pytest.approx(2.0, rel=1e-5) and np.isnan(float(tc.ys[1, 0]))


def test_nan_rate_reports_non_finite():
    tc = integrate(
        lambda y, a: jnp.where(y < 0.5, jnp.nan, -y), lambda y, a: y, jnp.array([1.0]), 0.0,
        (0.0,), jnp.zeros(0), 2.0, jnp.array([2.0]),
    )  # fmt: skip
    assert int(tc.status) == Status.NON_FINITE and np.isnan(float(tc.end[0]))


def test_a_failed_point_does_not_change_its_neighbours_in_a_batch():
    vms = jnp.asarray([-30.0, jnp.nan, -50.0])
    ts = jnp.asarray([0.0, 3.0, 10.0])
    f = jax.jit(jax.vmap(lambda vm: time_course(CALCIUM, {**P, "vm": vm}, {"vm": -70.0}, ts, 10.0)))
    batch = f(vms)
    assert np.asarray(batch["status_tc"]).tolist() == [0, int(Status.INVALID_INPUT), 0]
    for i in (0, 2):
        single = run(point(vm=float(vms[i])), {"vm": -70.0}, ts, 10.0)
        np.testing.assert_allclose(
            np.asarray(batch["ca_i_tc"][i]), np.asarray(single["ca_i_tc"]), rtol=1e-10
        )


def test_nested_vmap_shapes():
    ts = jnp.linspace(0.0, 5.0, 4)
    f = jax.vmap(
        jax.vmap(
            lambda vm, na: time_course(
                CALCIUM, {**P, "vm": vm, "na_i": na}, {"vm": -70.0}, ts, 5.0, outputs=["ca_i"],
            ),
            in_axes=(None, 0),
        ),
        in_axes=(0, None),
    )  # fmt: skip
    r = jax.jit(f)(jnp.asarray([-60.0, -30.0]), jnp.asarray([8.0, 12.0, 20.0]))
    assert r["ca_i_tc"].shape == (2, 3, 4)
    assert r["ca_i_tc_t_relax"].shape == (2, 3) and r["status_tc"].dtype == jnp.int8
    assert set(r) == {
        "ca_i_tc", "ca_i_tc_end", "ca_i_tc_peak", "ca_i_tc_t_peak", "ca_i_tc_t_relax",
        "status_tc", "status_tc_before", "n_steps_tc",
    }  # fmt: skip


# ------------------------------------------------------------ float32
def test_float32_against_the_float64_reference():
    q = point(vm=-25.0, na_i=14.0)
    before = {"vm": -70.0, "na_i": 12.0}
    ts = np.array([0.0, 0.5, 2.0, 5.0, 10.0, 20.0])
    res = run(q, before, ts, 20.0, dtype=jnp.float32, flips=["mode_ncx", ("ca_i", 3e-4)])
    assert res["ca_i_tc"].dtype == jnp.float32 and int(res["status_tc"]) == 0
    ca0, segs = reference(q, {**q, **before}, 20.0)
    ref = ref_eval(segs, ts)
    # float32: rtol 1e-5 per step and the float32 steady state (5e-5 in ln) bound it
    np.testing.assert_allclose(np.asarray(res["ca_i_tc"], float), ref, rtol=2e-4)
    end, peak, t_peak, t_relax, t_flip = ref_summaries(segs, ca0, {**q, **before}, "ca", 3e-4)
    assert float(res["ca_i_tc_t_relax"]) == pytest.approx(t_relax, rel=2e-3)
    assert float(res["ca_i_tc_t_flip"]) == pytest.approx(t_flip, rel=2e-3)


# ------------------------------------------------------------ validation
def test_options_and_requests_fail_with_one_line_messages():
    with pytest.raises(ValueError, match=r"^rtol = 2 is not allowed: must be in \(0, 1\)$"):
        IntegratorOptions(rtol=2)
    with pytest.raises(ValueError, match=r"^max_steps = 0 is not allowed"):
        IntegratorOptions(max_steps=0)
    with pytest.raises(ValueError, match=r"^solver = 'euler' is not allowed: must be one of"):
        IntegratorOptions(solver="euler")
    ts = jnp.asarray([0.0])
    with pytest.raises(ValueError, match=r"^protocol = 'ramp' is not allowed"):
        time_course(CALCIUM, P, {}, ts, 1.0, protocol="ramp")
    with pytest.raises(ValueError, match=r"^duration = None is not allowed"):
        time_course(CALCIUM, P, {}, ts, 1.0, protocol="pulse")
    with pytest.raises(ValueError, match=r"'cl_i' is not an output of system 'calcium'; allowed"):
        time_course(CALCIUM, P, {}, ts, 1.0, outputs=["cl_i"])
    with pytest.raises(ValueError, match=r"flip 'ca_i' is a continuous output"):
        time_course(CALCIUM, P, {}, ts, 1.0, flips=["ca_i"])
    with pytest.raises(ValueError, match=r"summary of 'mode_ncx' is not allowed"):
        time_course(CALCIUM, P, {}, ts, 1.0, summaries=["mode_ncx"])


# ------------------------------------------------------------ whole cell
CELL = SYSTEMS["cell"]
CELL_OUT = ("vm", "na_i", "cl_i", "volume", "e_gaba", "mode_ncx", "gaba_polarity")
#: The inputs the whole-cell protocols change (always all four, so one compile serves all).
PROTOCOL_INPUTS = ("u_kcc2", "u_nka", "g_gaba", "k_o")


def cell_ref_rhs(n, q):
    """physics.md's pump–leak balances in amounts (tests/reference_models.py)."""
    return cell_rhs(n, q)


def cell_ss(q):
    st = cell.cell_steady_state(
        cell.CellParams.from_inputs({k: jnp.asarray(v) for k, v in q.items()})
    )
    assert int(st.status) == 0
    return st


def cell_reference(q_point, q_before, t_end, duration=None):
    n0 = np.asarray(cell.amounts(cell_ss(q_before)))
    segs = [(0.0, t_end, q_point)] if duration is None else [
        (0.0, duration, q_point), (duration, t_end, q_before)
    ]  # fmt: skip
    out, y = [], n0
    for t0, t1, q in segs:
        sol = solve_ivp(
            lambda t, n, q=q: cell_ref_rhs(n, q)[0], (t0, t1), y, method="Radau",
            rtol=1e-10, atol=1e-12, dense_output=True,
        )  # fmt: skip
        assert sol.success
        out.append((t0, t1, sol, q))
        y = sol.y[:, -1]
    return n0, out


def cell_ref_eval(segs, t):
    """(vm, na_i, cl_i, volume) of the reference at times t (right-continuous)."""
    t = np.atleast_1d(np.asarray(t, float))
    out = np.full((len(t), 4), np.nan)
    for k, (t0, t1, sol, q) in enumerate(segs):
        m = (t >= t0) & ((t < t1) if k < len(segs) - 1 else (t <= t1))
        for i in np.flatnonzero(m):
            _, v, na, cl, w = cell_ref_rhs(sol.sol(t[i]), q)
            out[i] = (v, na, cl, w)
    return out


@functools.cache
def _cell_compiled(ts: tuple, t_end: float, protocol: str):
    ts_arr = jnp.asarray(ts)
    return jax.jit(
        lambda p, b, d: time_course(
            CELL, p, b, ts_arr, t_end, protocol=protocol, duration=d, outputs=CELL_OUT,
            flips=["mode_ncx", "gaba_polarity", ("cl_i", 10.0)],
        )
    )  # fmt: skip


def cell_run(q_point, q_before, ts, t_end, protocol="step", duration=1.0):
    f = _cell_compiled(tuple(np.asarray(ts, float).tolist()), float(t_end), protocol)
    p = {k: jnp.asarray(v) for k, v in q_point.items()}
    b = {k: jnp.asarray(q_before[k]) for k in PROTOCOL_INPUTS}
    return f(p, b, jnp.asarray(duration))


CELL_TS = np.array([-1.0, 0.0, 2.0, 10.0, 30.0, 60.0, 120.0, 300.0])
CELL_CASES = {
    "kcc2_block": {"u_kcc2": 0.0},
    "u_nka_rundown": {"u_nka": 40.0},
    "g_gaba_load": {"g_gaba": 0.3},
    "k_o_step": {"k_o": 8.0},
}


@pytest.mark.parametrize("case", list(CELL_CASES))
def test_cell_step_matches_solve_ivp(case):
    q_before = point()
    q = point(**CELL_CASES[case])
    res = cell_run(q, q_before, CELL_TS, 300.0)
    assert int(res["status_tc"]) == 0 and int(res["status_tc_before"]) == 0
    _, segs = cell_reference(q, q_before, 300.0)
    ref = cell_ref_eval(segs, np.clip(CELL_TS, 0, None))
    b = cell_ss(q_before)
    ref[CELL_TS < 0] = (float(b.vm), float(b.na_i), float(b.cl_i), float(b.volume))
    np.testing.assert_allclose(np.asarray(res["vm_tc"]), ref[:, 0], rtol=0, atol=1e-4)
    for j, name in ((1, "na_i"), (2, "cl_i"), (3, "volume")):
        np.testing.assert_allclose(np.asarray(res[f"{name}_tc"]), ref[:, j], rtol=VAL)


@pytest.mark.parametrize("solver", ["kvaerno5", "kvaerno3"])
def test_kvaerno_options_match_solve_ivp_and_rodas4(solver):
    """The non-default stiff solvers stay correct: a [K⁺]ₒ step against the Radau
    reference at the accuracy Kvaerno5 reaches (3e-6; its few long steps leave the
    cubic dense output ~100 × rtol) and against the default RODAS4 run."""
    q_before, q = point(), point(**CELL_CASES["k_o_step"])
    f = jax.jit(
        lambda p, b: time_course(
            CELL, p, b, jnp.asarray(CELL_TS), 300.0, outputs=["na_i", "cl_i"],
            options=IntegratorOptions(solver=solver),
        )
    )  # fmt: skip
    res = f(
        {k: jnp.asarray(v) for k, v in q.items()},
        {k: jnp.asarray(q_before[k]) for k in PROTOCOL_INPUTS},
    )
    assert int(res["status_tc"]) == 0
    _, segs = cell_reference(q, q_before, 300.0)
    ref = cell_ref_eval(segs, np.clip(CELL_TS, 0, None))
    b = cell_ss(q_before)
    ref[CELL_TS < 0] = (float(b.vm), float(b.na_i), float(b.cl_i), float(b.volume))
    default = cell_run(q, q_before, CELL_TS, 300.0)
    for j, name in ((1, "na_i"), (2, "cl_i")):
        np.testing.assert_allclose(np.asarray(res[f"{name}_tc"]), ref[:, j], rtol=10 * VAL)
        np.testing.assert_allclose(
            np.asarray(res[f"{name}_tc"]), np.asarray(default[f"{name}_tc"]), rtol=10 * VAL
        )


def test_cell_gaba_load_pulse_and_chloride_recovery():
    # the extrusion assay: a GABA_A load for 30 s, then Cl⁻ recovers through KCC2
    q_before = point()
    q = point(g_gaba=0.5)
    res = cell_run(q, q_before, CELL_TS, 300.0, protocol="pulse", duration=30.0)
    assert int(res["status_tc"]) == 0
    _, segs = cell_reference(q, q_before, 300.0, duration=30.0)
    ref = cell_ref_eval(segs, np.clip(CELL_TS, 0, None))
    np.testing.assert_allclose(np.asarray(res["cl_i_tc"])[1:], ref[1:, 2], rtol=VAL)
    # peak [Cl⁻]ᵢ at the end of the load, recovery time constant after it
    grid = np.linspace(30.0, 300.0, 27001)
    cl = cell_ref_eval(segs, grid)[:, 2]
    assert float(res["cl_i_tc_peak"]) == pytest.approx(cl[0], rel=VAL)
    assert float(res["cl_i_tc_t_peak"]) == pytest.approx(30.0, rel=1e-12)
    target = abs(cl[0] - cl[-1]) / math.e
    j = int(np.argmax(np.abs(cl - cl[-1]) <= target))
    t_ref = brentq(
        lambda t: abs(cell_ref_eval(segs, t)[0, 2] - cl[-1]) - target, grid[j - 1], grid[j],
        xtol=1e-12,
    ) - 30.0  # fmt: skip
    assert float(res["cl_i_tc_t_relax"]) == pytest.approx(t_ref, rel=TIME)
    # the load flips GABA to depolarizing while it lasts: a time inside the pulse
    t_flip = float(res["gaba_polarity_tc_t_flip"])
    assert int(res["status_gaba_polarity_tc_t_flip"]) == 0 and 0 < t_flip < 30.0
    rtf = R * 310.0 / F * 1e3

    def df_gaba(t):
        vm, _, cl, _ = cell_ref_eval(segs, t)[0]
        return rtf * np.log((cl + 0.2 * 16.0) / (130.0 + 0.2 * 26.0)) - vm

    g = np.linspace(0.0, 30.0, 301)
    i = int(np.argmax(np.array([df_gaba(t) for t in g]) > 0))
    assert float(t_flip) == pytest.approx(brentq(df_gaba, g[i - 1], g[i], xtol=1e-12), rel=TIME)


def test_cell_relaxes_to_the_after_state():
    # a small [HCO₃⁻]ᵢ keeps this check independent of the regeneration term (the
    # swelling tests below check it); the late rate: test_late_rate_of_any_step_…
    q_before = point(hco3_i=1e-6)
    q = point(hco3_i=1e-6, u_nka=100.0)
    res = cell_run(q, q_before, np.array([150.0, 200.0]), 600.0)
    after = cell_ss(q)
    for name in ("vm", "na_i", "cl_i", "volume"):
        got = float(res[f"{name}_tc_end"])
        assert got == pytest.approx(float(getattr(after, name)), rel=1e-7, abs=1e-7)


#: Late windows (s) of the local-rate check, and the integration that resolves them.
LATE_TS = np.arange(100.0, 251.0, 25.0)


@functools.cache
def _late_compiled():
    return jax.jit(
        lambda p, b: time_course(
            CELL, p, b, jnp.asarray(LATE_TS), float(LATE_TS[-1]), outputs=["na_i"],
            summaries=[], options=IntegratorOptions(rtol=1e-10, atol=1e-12),
        )
    )  # fmt: skip


@pytest.mark.parametrize(
    ("before", "after"),
    [({"u_nka": 137.5}, {"u_nka": 100.0}), ({"k_o": 3.5}, {"k_o": 8.0}),
     ({"g_gaba": 0.0}, {"g_gaba": 0.3})],
    ids=["pump_step", "k_o_step", "g_gaba_load"],
)  # fmt: skip
def test_late_rate_of_any_step_tends_to_one_over_tau_cell(before, after):
    """At the default parameters, after a pump, [K⁺]ₒ or GABA_A step: the local rate
    r(t) = −d ln|[Na⁺]ᵢ − [Na⁺]ᵢ∞|/dt approaches 1/tau_cell (the slowest non-zero
    eigenvalue of the Jacobian, kernels.cell.stability), its distance shrinking as the
    second mode dies out (rate gap ≈ 0.02/s here, so ~2 % by 5 τ and < 0.5 % by 10 τ)."""
    q = point(**after)
    res = _late_compiled()(
        {k: jnp.asarray(v) for k, v in q.items()},
        {k: jnp.asarray(v) for k, v in before.items()},
    )
    assert int(res["status_tc"]) == 0
    a = cell_ss(q)
    _, tau, _ = cell.stability(
        a, cell.CellParams.from_inputs({k: jnp.asarray(v) for k, v in q.items()})
    )
    d = np.abs(np.asarray(res["na_i_tc"]) - float(a.na_i))
    assert d[-1] / float(a.na_i) > 1e-8  # 100 × the integration tolerance (rtol 1e-10)
    gap = np.abs(np.log(d[:-1] / d[1:]) / np.diff(LATE_TS) * float(tau) - 1.0)
    assert np.all(np.diff(gap[2:]) < 0)  # from 150 s on the approach is monotone
    assert gap[-1] < 5e-3


@pytest.mark.parametrize(("over", "t_end"), [({"k_o": 8.0}, 1500.0), ({"u_kcc2": 0.0}, 3e4)])
def test_a_swelling_cell_ends_at_the_after_state(over, t_end):
    """The volume changes ([K⁺]ₒ step: +5.6%, KCC2 block: +32%) and [HCO₃⁻]ᵢ stays
    clamped: the HCO₃⁻ made for the new volume brings its Na⁺ (via NHE1), so the
    trajectory's charge n_Na + n_K − n_Cl follows [HCO₃⁻]ᵢ·volume and it ends at the
    whole-cell steady state of the after inputs."""
    q_before, q = point(), point(**over)
    res = cell_run(q, q_before, np.array([t_end]), t_end)  # ≥ 35 τ_cell of the after state
    assert int(res["status_tc"]) == 0
    b, a = cell_ss(q_before), cell_ss(q)
    assert abs(float(a.volume) / float(b.volume) - 1) > 0.05  # really a swelling cell
    for name in ("vm", "na_i", "cl_i", "volume"):
        got = float(res[f"{name}_tc_end"])
        assert got == pytest.approx(float(getattr(a, name)), rel=1e-6, abs=1e-6), name


def test_whole_cell_system_refuses_an_unknown_pump_law():
    with pytest.raises(ValueError, match=r"^model.pump = 'linear' is not allowed: must be one of"):
        whole_cell_system("linear")
    assert whole_cell_system("cubic") is CELL


@pytest.mark.skipif(
    os.environ.get("EQX_ON_ERROR") != "nan", reason="EQX_ON_ERROR chosen by the environment"
)
def test_compiled_time_course_has_no_host_callback():
    """No host callback in the compiled kernel (equinox's runtime checks give NaN, which
    becomes a status), so JAX's persistent compilation cache can keep it across
    processes (kernels/_precision.py); with EQX_ON_ERROR=raise the text has one."""
    p = {k: jnp.asarray(v) for k, v in DEFAULTS.items()}
    f = jax.jit(
        lambda p: time_course(
            CELL, p, {"u_kcc2": jnp.asarray(0.3)}, jnp.linspace(0.0, 10.0, 3), 10.0,
            outputs=["cl_i"],
        )
    )  # fmt: skip
    assert "callback" not in f.lower(p).as_text().lower()
