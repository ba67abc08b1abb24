"""RODAS4 (kernels/rosenbrock.py) against its defining properties and scipy.

References: the stability function of an order-4 method agrees with e^z to
O(z⁵) (local error ratio 2⁵ when h halves) and, for an L-stable method,
|R(z)| ≤ 1 on Re z ≤ 0 with R(z) → 0 as z → −∞ (Hairer & Wanner 1996,
§IV.3, §IV.7); global order 4 on a nonlinear problem (error ratio 2⁴); the
stiff Robertson problem (Hairer & Wanner 1996 §IV.1) against scipy Radau at
rtol 1e-12, an integration written separately from the kernel.
"""

from __future__ import annotations

import diffrax as dfx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.integrate import solve_ivp

from kernels.rosenbrock import RODAS4_TABLEAU, Rodas4, _inverse

jax.config.update("jax_enable_x64", True)

SOLVER = Rodas4()


def _one_step(vf, y0, h, args=None):
    y1, err, dense, _, result = SOLVER.step(
        dfx.ODETerm(vf), 0.0, h, jnp.asarray(y0), args, None, False
    )
    assert result == dfx.RESULTS.successful
    return np.asarray(y1), np.asarray(err), dense


def _linear(t, y, m):
    return m @ y


def test_tableau_is_stiffly_accurate():
    # y1 = Y_6 + K_6: the weights m are the last row of a followed by 1
    tab = RODAS4_TABLEAU
    assert tab["m"][:5] == tab["a"][5] and tab["m"][5] == 1.0
    assert tab["alpha"][4] == tab["alpha"][5] == 1.0
    assert all(len(tab["a"][i]) == i and len(tab["c"][i]) == i for i in range(6))


def test_local_error_of_the_test_equation_is_fifth_order():
    """One step of y' = −y: |y1 − e^{−h}| falls 2⁵× when h halves (order 4)."""
    m = jnp.array([[-1.0]])
    errs = [abs(_one_step(_linear, [1.0], h, m)[0][0] - np.exp(-h)) for h in (0.2, 0.1, 0.05)]
    ratios = [errs[0] / errs[1], errs[1] / errs[2]]
    assert all(28.0 < r < 34.0 for r in ratios), ratios


@settings(max_examples=60, deadline=None)
@given(
    re=st.floats(min_value=-1e6, max_value=0.0),
    im=st.floats(min_value=-1e6, max_value=1e6),
)
def test_l_stable_on_the_left_half_plane(re, im):
    """z = λh with λ = re + i·im as the real 2×2 system [[re, −im], [im, re]]:
    one step of length 1 never grows |y| (A-stability)."""
    m = jnp.array([[re, -im], [im, re]])
    y1, _, _ = _one_step(_linear, [1.0, 0.0], 1.0, m)
    assert np.hypot(*y1) <= 1.0 + 1e-12


def test_stability_function_vanishes_at_infinity():
    for z in (-1e4, -1e6, -1e8):
        y1, _, _ = _one_step(_linear, [1.0], 1.0, jnp.array([[z]]))
        assert abs(y1[0]) < 50.0 / abs(z)  # R(z) = O(1/z): L-stable


def _brusselator(t, y, args):
    """Non-stiff nonlinear test problem (Hairer, Nørsett & Wanner 1993 §II.10)."""
    u, v = y[0], y[1]
    return jnp.stack([1.0 + u * u * v - 4.0 * u, 3.0 * u - u * u * v])


def test_global_error_is_fourth_order():
    t1, y0 = 2.0, np.array([1.5, 3.0])
    ref = solve_ivp(
        lambda t, y: np.asarray(_brusselator(t, jnp.asarray(y), None)), (0.0, t1), y0,
        method="DOP853", rtol=1e-13, atol=1e-13,
    ).y[:, -1]  # fmt: skip
    errs = []
    for n in (40, 80, 160):
        sol = dfx.diffeqsolve(
            dfx.ODETerm(_brusselator), SOLVER, 0.0, t1, t1 / n, jnp.asarray(y0),
            stepsize_controller=dfx.ConstantStepSize(), max_steps=n + 1,
        )  # fmt: skip
        errs.append(np.max(np.abs(np.asarray(sol.ys[-1]) - ref)))
    ratios = [errs[0] / errs[1], errs[1] / errs[2]]
    assert all(13.0 < r < 19.0 for r in ratios), ratios


def _robertson(t, y, args):
    return jnp.stack(
        [
            -0.04 * y[0] + 1e4 * y[1] * y[2],
            0.04 * y[0] - 1e4 * y[1] * y[2] - 3e7 * y[1] ** 2,
            3e7 * y[1] ** 2,
        ]
    )


@pytest.fixture(scope="module")
def robertson_reference():
    ts = np.array([0.4, 4.0, 40.0])
    sol = solve_ivp(
        lambda t, y: np.asarray(_robertson(t, jnp.asarray(y), None)), (0.0, 40.0),
        [1.0, 0.0, 0.0], method="Radau", rtol=1e-12, atol=1e-16, t_eval=ts,
    )  # fmt: skip
    return ts, sol.y.T


@pytest.mark.parametrize(
    ("dtype", "rtol", "tol"), [(jnp.float64, 1e-8, 1e-6), (jnp.float32, 1e-5, 2e-3)]
)
def test_stiff_robertson_matches_radau(robertson_reference, dtype, rtol, tol):
    """Stiffness ratio ~10¹¹: adaptive RODAS4 at rtol 1e-8 (float64) or 1e-5 (float32)
    agrees with Radau at 1e-12, the dense output included (values at the saved times)."""
    ts, ref = robertson_reference
    sol = dfx.diffeqsolve(
        dfx.ODETerm(_robertson), SOLVER, jnp.asarray(0.0, dtype), jnp.asarray(40.0, dtype),
        jnp.asarray(1e-6, dtype), jnp.array([1.0, 0.0, 0.0], dtype),
        saveat=dfx.SaveAt(ts=jnp.asarray(ts, dtype)),
        stepsize_controller=dfx.PIDController(rtol=rtol, atol=rtol * 1e-4), max_steps=10_000,
    )  # fmt: skip
    got = np.asarray(sol.ys, float)
    assert got.dtype == np.float64 and np.asarray(sol.ys).dtype == np.dtype(dtype)
    scale = np.maximum(np.abs(ref), [1e-3, 1e-8, 1e-3])  # y2 ~ 1e-5: relative to its size
    assert np.max(np.abs(got - ref) / scale) < tol


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_small_inverse_matches_numpy(n):
    rng = np.random.default_rng(n)
    for _ in range(20):
        g = rng.normal(size=(n, n)) + n * np.eye(n)
        np.testing.assert_allclose(
            np.asarray(_inverse(jnp.asarray(g))), np.linalg.inv(g), rtol=1e-10, atol=1e-12
        )


def test_dense_output_interpolates_the_step():
    """Cubic Hermite through (y0, h·f0), (y1, h·f1) of one step of y' = −y: ends exact,
    midpoint within the interpolant's O(h⁴) of e^{−h/2}."""
    h = 0.1
    y1, _, dense = _one_step(_linear, [1.0], h, jnp.array([[-1.0]]))
    interp = dfx.ThirdOrderHermitePolynomialInterpolation(t0=0.0, t1=h, **dense)
    assert float(interp.evaluate(0.0)[0]) == pytest.approx(1.0, abs=1e-15)
    assert float(interp.evaluate(h)[0]) == pytest.approx(float(y1[0]), abs=1e-15)
    assert float(interp.evaluate(h / 2)[0]) == pytest.approx(np.exp(-h / 2), abs=h**4 / 100)
