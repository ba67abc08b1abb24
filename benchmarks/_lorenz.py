"""The GPU-ensemble anchor of Utkarsh et al. 2024 (GPUODEBenchmarks), shared by the
benchmarks: Lorenz (σ 10, ρ per trajectory, β 8/3, u₀ = (1, 0, 0)), float32, Tsit5,
1,000 fixed steps over [0, 1], end state only. Published on a V100: DiffEqGPU.jl
57.7 M trajectories/s, JAX/diffrax vmap 0.84 M/s.

References
----------
Utkarsh, Churavy, Ma, Rackauckas et al. (2024) Comput Methods Appl Mech Eng 419:116591.
"""

from __future__ import annotations

from collections.abc import Callable

import diffrax as dfx
import jax.numpy as jnp
import numpy as np

from kernels.timecourse import IntegratorOptions, integrate

F32 = jnp.float32
Y0 = (1.0, 0.0, 0.0)
STEPS = 1000


def rho_values(n: int, seed: int = 0) -> np.ndarray:
    """ρ of each trajectory, uniform in [7, 28) (float32)."""
    return np.random.default_rng(seed).uniform(7.0, 28.0, n).astype(np.float32)


def rhs(y, r):
    """Lorenz vector field (σ 10, β 8/3)."""
    s, b = 10.0, 8.0 / 3.0
    return jnp.stack([s * (y[1] - y[0]), y[0] * (r - y[2]) - y[1], y[0] * y[1] - b * y[2]])


def plain_and_engine() -> tuple[Callable, Callable]:
    """(plain, engine): one trajectory's end state by ``diffrax.diffeqsolve`` directly,
    and by the engine's ``integrate`` (same solver and steps, plus status and summaries)."""
    y0 = jnp.asarray(Y0, F32)

    def plain(r):
        sol = dfx.diffeqsolve(
            dfx.ODETerm(lambda t, y, r: rhs(y, r)), dfx.Tsit5(), F32(0.0), F32(1.0),
            F32(1.0 / STEPS), y0, args=r, saveat=dfx.SaveAt(t1=True),
            stepsize_controller=dfx.ConstantStepSize(), max_steps=STEPS,
        )  # fmt: skip
        return sol.ys[0]

    opts = IntegratorOptions(solver="tsit5", fixed_steps=STEPS, max_steps=STEPS, grid_points=3)

    def engine(r):
        tc = integrate(
            rhs, lambda y, r: y[:1], y0, r, (r,), jnp.zeros(0, F32), F32(1.0),
            jnp.asarray([1.0], F32), options=opts,
        )  # fmt: skip
        return tc.ys[0], tc.status

    return plain, engine
