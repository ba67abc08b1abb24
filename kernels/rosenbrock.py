"""RODAS4: a stiffly accurate, L-stable Rosenbrock method as a diffrax solver.

A Rosenbrock method is linearly implicit: each step factors one matrix
G = I/(hγ) − J (J = ∂f/∂y at the step's start, exact by forward-mode AD) and
solves six linear systems with it, one per stage. An implicit Runge–Kutta
method (diffrax's ``Kvaerno5``) instead iterates Newton to convergence in each
of its stages, recomputing J and factoring again at each iteration. For the
small stiff systems of this product (1–3 states, 10³–10⁶ trajectories under
``vmap``) the linear algebra is a closed-form 1×1/2×2/3×3 inverse and the step
costs ~7 evaluations of the vector field plus one Jacobian, a few times less
than a Kvaerno5 step; the same trade DiffEqGPU.jl makes for stiff GPU
ensembles (its GPURosenbrock23/GPURodas4/GPURodas5P kernels; Utkarsh et al.
2024). Measured here: benchmarks/RESULTS.md.

The method (Hairer & Wanner 1996, §IV.7, the RODAS code; coefficients in the
form of Sandu et al. 1997) with K_i the stage increments:

    Y_i   = y0 + Σ_{j<i} a_ij K_j
    G K_i = f(Y_i) + Σ_{j<i} (c_ij / h) K_j                (i = 1 … 6)
    y1    = y0 + Σ_j m_j K_j,      error estimate = K_6

order 4 with an embedded order-3 solution (y1 − K_6), L-stable and stiffly
accurate (y1 is the last stage's value plus its own correction). Dense output:
the cubic Hermite interpolant through (y0, f(y0)) and (y1, f(y1)) (diffrax's
``ThirdOrderHermitePolynomialInterpolation``, as its Kvaerno solvers use);
f(y1) is one extra evaluation per step.

Assumption (why no ∂f/∂t term): the vector field does not depend on t inside
a step. True for this product's protocols (inputs piecewise constant in time,
every switch a step boundary via ``ClipStepSizeController(jump_ts=…)``); a
field that varies continuously in t would lose an order.

References
----------
Hairer & Wanner (1996) Solving Ordinary Differential Equations II, 2nd ed.,
§IV.7 (Rosenbrock methods, RODAS); Sandu, Verwer, Blom, Spee, Carmichael &
Potra (1997) Atmos Environ 31:3459 (the a, c, m, γ form); Utkarsh, Churavy,
Ma, Rackauckas et al. (2024) Comput Methods Appl Mech Eng 419:116591.
"""

from __future__ import annotations

from typing import Any, ClassVar

import diffrax as dfx
import jax
import jax.numpy as jnp
from jax import Array

__all__ = ["Rodas4", "RODAS4_TABLEAU"]

#: γ (diagonal), stage times α_i, and the strictly lower a_ij, c_ij (row i,
#: columns j < i) of RODAS4 (Hairer & Wanner 1996 §IV.7; Sandu et al. 1997).
RODAS4_TABLEAU: dict[str, Any] = {
    "gamma": 0.25,
    "alpha": (0.0, 0.386, 0.21, 0.63, 1.0, 1.0),
    "a": (
        (),
        (1.544,),
        (0.9466785280815826, 0.2557011698983284),
        (3.314825187068521, 2.896124015972201, 0.9986419139977817),
        (1.221224509226641, 6.019134481288629, 12.53708332932087, -0.6878860361058950),
        (1.221224509226641, 6.019134481288629, 12.53708332932087, -0.6878860361058950, 1.0),
    ),
    "c": (
        (),
        (-5.6688,),
        (-2.430093356833875, -0.2063599157091915),
        (-0.1073529058151375, -9.594562251023355, -20.47028614809616),
        (7.496443313967647, -10.24680431464352, -33.99990352819905, 11.70890893206160),
        (
            8.083246795921522,
            -7.981132988064893,
            -31.52159432874371,
            16.31930543123136,
            -6.058818238834054,
        ),
    ),
    # y1 = y0 + Σ m_j K_j (the last row of a plus K_6: stiffly accurate)
    "m": (1.221224509226641, 6.019134481288629, 12.53708332932087, -0.6878860361058950, 1.0, 1.0),
}


def _inverse(g: Array) -> Array:
    """Inverse of a small square matrix (closed form up to 3×3, else LU)."""
    n = g.shape[-1]
    if n == 1:
        return 1.0 / g
    if n == 2:
        det = g[0, 0] * g[1, 1] - g[0, 1] * g[1, 0]
        return jnp.array([[g[1, 1], -g[0, 1]], [-g[1, 0], g[0, 0]]]) / det
    if n == 3:
        c00 = g[1, 1] * g[2, 2] - g[1, 2] * g[2, 1]
        c01 = g[1, 2] * g[2, 0] - g[1, 0] * g[2, 2]
        c02 = g[1, 0] * g[2, 1] - g[1, 1] * g[2, 0]
        det = g[0, 0] * c00 + g[0, 1] * c01 + g[0, 2] * c02
        adj = jnp.array(
            [
                [c00, g[0, 2] * g[2, 1] - g[0, 1] * g[2, 2], g[0, 1] * g[1, 2] - g[0, 2] * g[1, 1]],
                [c01, g[0, 0] * g[2, 2] - g[0, 2] * g[2, 0], g[0, 2] * g[1, 0] - g[0, 0] * g[1, 2]],
                [c02, g[0, 1] * g[2, 0] - g[0, 0] * g[2, 1], g[0, 0] * g[1, 1] - g[0, 1] * g[1, 0]],
            ]
        )
        return adj / det
    return jnp.linalg.inv(g)


class Rodas4(dfx.AbstractAdaptiveSolver):
    """RODAS4 (order 4(3), 6 stages, L-stable, stiffly accurate) for ODEs whose
    state is one flat array and whose field is constant in t within a step.

    Use like any diffrax solver: ``diffrax.diffeqsolve(ODETerm(f), Rodas4(), …,
    stepsize_controller=PIDController(rtol, atol))``. The state must be a 1-D
    array (the Jacobian is a dense n×n matrix; closed-form inverse for n ≤ 3).

    References
    ----------
    Hairer & Wanner (1996) Solving ODEs II, §IV.7; Sandu et al. (1997) Atmos
    Environ 31:3459.
    """

    term_structure: ClassVar = dfx.AbstractTerm
    interpolation_cls: ClassVar = dfx.ThirdOrderHermitePolynomialInterpolation

    def order(self, terms: Any) -> int:
        """Classical order (4); the error estimate is of order 3 + 1."""
        del terms
        return 4

    def init(self, terms: Any, t0: Any, t1: Any, y0: Array, args: Any) -> None:
        """No state is carried between steps (f(y0) comes with the Jacobian)."""
        del terms, t0, t1, y0, args
        return None

    def func(self, terms: Any, t0: Any, y0: Array, args: Any) -> Array:
        """The vector field at (t0, y0)."""
        return terms.vf(t0, y0, args)

    def step(
        self,
        terms: Any,
        t0: Any,
        t1: Any,
        y0: Array,
        args: Any,
        solver_state: None,
        made_jump: Any,
    ) -> tuple[Array, Array, dict[str, Array], None, Any]:
        """One RODAS4 step from t0 to t1: (y1, error estimate, dense info, None, result)."""
        del solver_state, made_jump
        tab = RODAS4_TABLEAU
        dtype = jnp.result_type(y0)
        # A zero-length step (diffrax computes one for the finished trajectories of a
        # batch, whose results it discards) would put 1/h = inf into G; reverse-mode
        # AD would then carry 0·inf = NaN through that discarded branch. It takes a
        # unit step instead and returns y0 unchanged.
        moving = t1 != t0
        h = jnp.where(moving, t1 - t0, 1.0)

        def f(t, y):
            return terms.vf(t, y, args)

        f0, lin = jax.linearize(lambda y: f(t0, y), y0)
        jac = jax.vmap(lin, out_axes=1)(jnp.eye(y0.shape[0], dtype=dtype))
        g = jnp.eye(y0.shape[0], dtype=dtype) / (h * tab["gamma"]) - jac
        ginv = _inverse(g)
        ks: list[Array] = []
        for i in range(6):
            if i == 0:
                fi = f0
            else:
                yi = y0 + sum(a * k for a, k in zip(tab["a"][i], ks, strict=True))
                fi = f(t0 + tab["alpha"][i] * h, yi)
            rhs = fi + sum((c / h) * k for c, k in zip(tab["c"][i], ks, strict=True))
            ks.append(ginv @ rhs)
        y1 = y0 + sum(m * k for m, k in zip(tab["m"], ks, strict=True))
        y1 = jnp.where(moving, y1, y0)
        f1 = f(t1, y1)
        h_out = t1 - t0
        dense_info = {"y0": y0, "y1": y1, "k0": h_out * f0, "k1": h_out * f1}
        return y1, jnp.where(moving, ks[-1], 0.0), dense_info, None, dfx.RESULTS.successful
