"""Time courses: trajectories after a change of inputs, and the summaries experimenters report.

A trajectory starts at the steady state of a *before* input set and at t = 0
the inputs switch to the point's own values: a **step** (they stay there) or
a **pulse** (they go back to the before values at t = ``duration``). Between
switches the inputs are constant, so the vector field is piecewise smooth;
the switch times are given to the step-size controller as ``jump_ts``
(:class:`diffrax.ClipStepSizeController`): a step ends just before each
switch and the next starts just after it, so no step straddles a
discontinuity and the solver's error estimate stays valid.

Everything here is a pure JAX function of one point (scalar inputs), safe
under ``jit`` and nested ``vmap``, and never raises: each trajectory returns
an int8 status from :class:`kernels.solvers.Status` and NaN only together
with a failure status.

Integrator
----------
Default: RODAS4 (:class:`kernels.rosenbrock.Rodas4`: order 4(3), L-stable,
stiffly accurate, linearly implicit) run by diffrax's ``diffeqsolve`` with a
PID step-size controller. Each step factors I/(hγ) − J once (J by forward-mode
AD, closed-form inverse for ≤ 3 states) instead of iterating Newton in every
stage. Measured on the whole cell (2,000 trajectories under ``vmap``, one
process, float64 rtol 1e-8; benchmarks/RESULTS.md): RODAS4 ran 2.7–3.5× faster
than diffrax ``Kvaerno5`` (5th-order ESDIRK with full Newton stages) and its
values at output times were 10× closer to an rtol-1e-11 reference (1.0e-7 vs
1.1e-6 for [Cl⁻]ᵢ, t_relax 6.5e-8 vs 3.9e-6): Kvaerno5 took 31 steps, whose
cubic dense output limits the accuracy between steps, RODAS4 80. On the
one-state Ca²⁺ system RODAS4 needs 110 steps to Kvaerno5's 32 and ran at 0.63×
its speed, again 10× more accurate (7.7e-7 vs 7.5e-6). float32: 2.9× faster
than Kvaerno5 on the cell, with no Newton iteration to stall at float32's
resolution. ``kvaerno5/4/3`` remain as ``solver`` options, each with a full
Newton stage solver (:class:`optimistix.Newton`): on the Ca²⁺ system diffrax's
default chord iteration (``VeryChord``) rejected about half of the steps and
was 6.9× slower (on the cell 30× more steps). ``throw=False``: the result code
of each trajectory becomes its status.

Summaries without storing the trajectory
----------------------------------------
Inside the kernel the state is saved on a uniform grid of ``grid_points``
points per input segment (the solver's dense output, so values are accurate
to the integration tolerance); at every grid point the output g and its rate
dg/dt = ∇g·f are evaluated, and the summaries are computed from the
piecewise cubic Hermite interpolant through them (4th order in the grid
spacing): the peak as the extremum of a cubic on each interval (closed form),
crossing times by bisection on the cubic of the interval where the grid sees
the crossing. Only the summaries leave the kernel; the grid lives in the
compiled function's temporaries (``grid_points × n_segments × (n_state +
2 n_outputs)`` numbers per trajectory). A dense-output pass (``SaveAt(dense=
True)``) would have to keep every step's interpolation coefficients up to
``max_steps``, and a hand-written step loop would duplicate diffrax's
controller; the grid bounds memory and reuses ``SaveAt(ts=...)``. Its cost
is real: under ``vmap`` on CPU each saved point costs ~0.1 µs per trajectory
(the default grid of 129 points is about two thirds of a Ca²⁺ trajectory's
time), so ``grid_points`` is an option. Features
narrower than one grid interval (two crossings within it) can be missed, as
with the steady-state scans.

Summary definitions (for each float output g; baseline g(0⁻) is the output
at the initial state with the before inputs):

- ``end``: g(t_end).
- ``peak``, ``t_peak``: the value of g farthest from g(0⁻) over [0, t_end]
  (the maximum of |g − g(0⁻)|, signed value returned) and its time; the first
  one on ties (t_peak = 0 for an output that does not change).
- ``t_relax``: time after the last switch (t = 0 for a step, ``duration`` for
  a pulse) at which |g − g(t_end)| first falls to 1/e of its value at that
  switch: the relaxation time constant for an exponential approach.
- ``t_flip`` (for each flip output: a continuous output and a level): the
  first time g − level changes side from its side at 0⁻ (≤ level counts as
  below). A change at a switch itself (the inputs' jump flips it) gives that
  switch time. NaN with status ``NO_ROOT_IN_RANGE`` when it never flips
  within [0, t_end]. Mode and polarity outputs flip where their continuous
  source crosses 0 (``mode_ncx`` with ΔG_NCX, ``gaba_polarity`` with
  E_GABA − V_m; the tolerance band of the codes is ignored).

At a switch time outputs use the inputs that start there (right-continuous);
output times before 0 give the initial state with the before inputs.

Status of a trajectory (int8)
-----------------------------
0 converged: integrated to t_end within the tolerances. 3 invalid input: a
non-finite input, one outside its range, or an impossible protocol (t_end ≤ 0,
an output time after t_end, a pulse not inside (0, t_end)). 8 no initial state:
the before steady state failed. 6 max steps reached. 7 non-finite (NaN or
inf state or rate, or a step-size collapse below 64 ulp of t_end). Values at
output times the solver reached are kept for 6 and 7 (NaN after); summaries
are NaN unless the status is 0.

References
----------
Kværnø (2004) BIT Numer Math 44:489 (ESDIRK methods); Hairer & Wanner (1996)
Solving ODEs II, §IV.8 (Newton iteration and step control of implicit RK);
Kidger (2021) On Neural Differential Equations, PhD thesis (diffrax).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import diffrax as dfx
import jax
import jax.numpy as jnp
import numpy as np
import optimistix as optx
from jax import Array
from jax.typing import ArrayLike

from . import cell, thermo
from ._tc_inputs import INPUTS
from .kinetics import NCXParams, _i_ncx
from .rosenbrock import Rodas4
from .solvers import NOT_WRITTEN, Status
from .steady_state import (
    Q10_PMCA,
    _ca_args,
    _ca_balance,
    _ca_setup,
    _ca_solve,
    _reg_valid,
    _rt_f_mv,
)
from .steady_state import _ca_valid as _ca_balance_valid
from .transporters import BUILTIN_TRANSPORTERS

__all__ = [
    "PROTOCOLS",
    "SOLVERS",
    "DEFAULT_TOLERANCES",
    "IntegratorOptions",
    "TimeCourse",
    "TrajectoryOutput",
    "System",
    "integrate",
    "time_course",
    "CALCIUM",
    "whole_cell_system",
    "SYSTEMS",
    "INPUTS",
    "calcium_rate",
]

#: Protocol kinds: ``step`` (before → point at t = 0) and ``pulse``
#: (before → point at 0 → before at ``duration``).
PROTOCOLS: tuple[str, ...] = ("step", "pulse")

#: Solvers offered (default: :attr:`IntegratorOptions.solver`). ``rodas4`` (Rosenbrock, linearly
#: implicit) and the Kvaerno methods (implicit, Newton stages) are stiff-capable
#: and L-stable; ``tsit5`` is explicit (non-stiff problems only, e.g. the
#: fixed-step Lorenz benchmark of Utkarsh et al. 2024).
SOLVERS: dict[str, type] = {
    "rodas4": Rodas4,
    "kvaerno5": dfx.Kvaerno5,
    "kvaerno4": dfx.Kvaerno4,
    "kvaerno3": dfx.Kvaerno3,
    "tsit5": dfx.Tsit5,
}
_IMPLICIT = ("kvaerno5", "kvaerno4", "kvaerno3")

#: Default (rtol, atol) by float width in bits. float64: rtol 1e-8 gives
#: ~1e-8 relative accuracy of the trajectories against a 1e-10 reference (the
#: tests); float32: rtol 1e-5 (the Newton iteration of the Kvaerno stages cannot
#: resolve steps below ~10 ulp and stalls at tighter settings; RODAS4 has no
#: iteration and also runs at 1e-6: whole cell 0.88× the speed, [Cl⁻]ᵢ error
#: 1.2e-5 instead of 4.6e-5 against float64; benchmarks/RESULTS.md).
DEFAULT_TOLERANCES: dict[int, tuple[float, float]] = {64: (1e-8, 1e-10), 32: (1e-5, 1e-7)}

#: Newton tolerance of the stage equations relative to the step tolerance
#: (Hairer & Wanner 1996 §IV.8 recommend κ ≈ 0.01–0.1).
_NEWTON_KAPPA = 0.01

#: Status members a time course can report.
CODES: tuple[Status, ...] = (
    Status.CONVERGED,
    Status.INVALID_INPUT,
    Status.MAX_STEPS_REACHED,
    Status.NON_FINITE,
    Status.NO_INITIAL_STATE,
)

_OK = int(Status.CONVERGED)


# --------------------------------------------------------------------------- options
@dataclass(frozen=True)
class IntegratorOptions:
    """Static settings of the integrator (part of the compiled function).

    Attributes
    ----------
    rtol, atol : float or None
        Relative and absolute local error tolerances of the step-size
        controller, in the units of the system's state (None: the default of
        the float width, :data:`DEFAULT_TOLERANCES`). For a state in
        logarithms (``System.log_state``) rtol bounds its absolute error and
        atol is not used. Values at output times come from the solver's cubic
        dense output: expect ~10 × rtol relative with ``rodas4``, ~30–100 ×
        rtol with ``kvaerno5`` (fewer, longer steps; measured, docs/timecourses.md).
    max_steps : int
        Step budget per trajectory (accepted and rejected steps).
    grid_points : int
        Points per input segment of the internal summary grid (≥ 3).
    solver : str
        One of :data:`SOLVERS`.
    fixed_steps : int or None
        None: adaptive steps (PID controller). An integer: that many equal
        steps over [0, t_end] and no error control (benchmarks; the switch
        times of a pulse are still stepped to).
    """

    rtol: float | None = None
    atol: float | None = None
    max_steps: int = 4096
    grid_points: int = 129
    solver: str = "rodas4"
    fixed_steps: int | None = None

    def __post_init__(self) -> None:
        for name in ("rtol", "atol"):
            v = getattr(self, name)
            if v is not None and not (isinstance(v, (int, float)) and 0 < v < 1):
                raise ValueError(f"{name} = {v!r} is not allowed: must be in (0, 1)")
        if not isinstance(self.max_steps, int) or self.max_steps < 1:
            raise ValueError(
                f"max_steps = {self.max_steps!r} is not allowed: must be an integer >= 1"
            )
        if not isinstance(self.grid_points, int) or self.grid_points < 3:
            raise ValueError(
                f"grid_points = {self.grid_points!r} is not allowed: must be an integer >= 3"
            )
        if self.solver not in SOLVERS:
            raise ValueError(
                f"solver = {self.solver!r} is not allowed: must be one of {', '.join(SOLVERS)}"
            )
        if self.fixed_steps is not None and (
            not isinstance(self.fixed_steps, int) or not 1 <= self.fixed_steps <= self.max_steps
        ):
            raise ValueError(
                f"fixed_steps = {self.fixed_steps!r} is not allowed: must be None or an "
                f"integer in [1, max_steps = {self.max_steps}]"
            )

    def tolerances(self, dtype: Any) -> tuple[float, float]:
        """(rtol, atol) for ``dtype``, defaults filled in."""
        rtol, atol = DEFAULT_TOLERANCES.get(jnp.finfo(dtype).bits, (1e-3, 1e-5))
        return (self.rtol or rtol, self.atol or atol)


# ------------------------------------------------------------------ generic core
class TimeCourse(NamedTuple):
    """One trajectory's results (shapes for one point; a batch adds leading axes).

    Attributes
    ----------
    ys : (n_ts, n_state)
        State at the output times (NaN where the solver did not reach).
    outputs : (n_ts, n_out)
        Continuous outputs at the output times.
    end, peak, t_peak, t_relax : (n_out,)
        Summaries (see the module docstring); times in s.
    t_flip : (n_flip,)
        First flip time of each flip output, s (NaN if none).
    status_flip : (n_flip,) int8
        0 flipped, 1 never flipped in [0, t_end], else the trajectory's status.
    status : () int8
        Trajectory status (:data:`CODES`).
    num_steps : () int32
        Steps taken (accepted and rejected).
    """

    ys: Array
    outputs: Array
    end: Array
    peak: Array
    t_peak: Array
    t_relax: Array
    t_flip: Array
    status_flip: Array
    status: Array
    num_steps: Array


def _select(segments: Sequence[Any], switch: Array, t: Array) -> Any:
    """Inputs of the segment containing t (right-continuous at a switch)."""
    a = segments[0]
    for k in range(1, len(segments)):
        a = jax.tree_util.tree_map(
            lambda new, old, k=k: jnp.where(t >= switch[k - 1], new, old), segments[k], a
        )
    return a


def _hermite(u, ga, gb, da, db, h):
    """Cubic Hermite interpolant at u ∈ [0, 1] of an interval of length h."""
    u2 = u * u
    u3 = u2 * u
    return (
        (2 * u3 - 3 * u2 + 1) * ga
        + (u3 - 2 * u2 + u) * h * da
        + (-2 * u3 + 3 * u2) * gb
        + (u3 - u2) * h * db
    )


def _hermite_stationary(ga, gb, da, db, h):
    """The two roots of dH/du = a u² + b u + c (NaN where none is real)."""
    a = 6 * ga + 3 * h * da - 6 * gb + 3 * h * db
    b = -6 * ga - 4 * h * da + 6 * gb - 2 * h * db
    c = h * da
    disc = b * b - 4 * a * c
    sq = jnp.sqrt(jnp.where(disc >= 0, disc, 0.0))
    q = -0.5 * (b + jnp.where(b >= 0, sq, -sq))  # stable form: no cancellation
    nan = jnp.full_like(q, jnp.nan)
    r1 = jnp.where((disc >= 0) & (a != 0), q / jnp.where(a != 0, a, 1.0), nan)
    r2 = jnp.where((disc >= 0) & (q != 0), c / jnp.where(q != 0, q, 1.0), nan)
    return r1, r2


def _hermite_crossing(ga, gb, da, db, h, level, n_iter):
    """u ∈ [0, 1] where the interval's cubic meets ``level`` (bisection; the ends bracket it)."""
    f_lo = ga - level
    lo = jnp.zeros_like(ga)
    hi = jnp.ones_like(ga)

    def body(_, state):
        lo, hi, f_lo = state
        mid = 0.5 * (lo + hi)
        fm = _hermite(mid, ga, gb, da, db, h) - level
        same = (fm > 0) == (f_lo > 0)
        return jnp.where(same, mid, lo), jnp.where(same, hi, mid), jnp.where(same, fm, f_lo)

    lo, hi, _ = jax.lax.fori_loop(0, n_iter, body, (lo, hi, f_lo))
    return 0.5 * (lo + hi)


def _first_true(mask: Array, axis: int = 0) -> tuple[Array, Array]:
    """(index of the first True along ``axis``, whether there is one)."""
    return jnp.argmax(mask, axis=axis), jnp.any(mask, axis=axis)


def integrate(
    vector_field: Callable[[Array, Any], Array],
    outputs: Callable[[Array, Any], Array],
    y0: ArrayLike,
    initial: Any,
    segments: Sequence[Any],
    switch_times: ArrayLike,
    t_end: ArrayLike,
    ts: ArrayLike,
    flip_index: Sequence[int] = (),
    flip_level: ArrayLike = (),
    pre_status: ArrayLike = _OK,
    options: IntegratorOptions | None = None,
    log_state: bool = False,
) -> TimeCourse:
    """Integrate one trajectory through piecewise-constant inputs and summarise it.

    Parameters
    ----------
    vector_field : callable
        ``f(y, args) -> dy/dt`` for one segment's (prepared) inputs ``args``;
        state units per s.
    outputs : callable
        ``g(y, args) -> (n_out,)`` continuous outputs (any units).
    y0 : array (n_state,)
        Initial state (units of the state).
    initial : pytree
        Inputs before t = 0 (for the baseline outputs g(0⁻)).
    segments : sequence of pytrees
        Inputs of each segment, in time order; segment k covers
        [switch_times[k − 1], switch_times[k]) (segment 0 starts at 0, the last
        ends at ``t_end``). Same structure for every segment.
    switch_times : array (n_segments − 1,)
        Times at which the inputs change, s (0 < … < t_end).
    t_end : float
        End of the integration, s (> 0).
    ts : array (n_ts,)
        Output times, s, non-decreasing (≤ t_end; times < 0 give the initial state).
    flip_index : sequence of int
        Outputs whose level crossing is timed (static).
    flip_level : array (n_flip,)
        Level of each flip output (units of that output).
    pre_status : int
        A status already decided for this point (invalid input, no initial
        state); anything but 0 skips the integration (the vector field is
        switched off, so the batch is not slowed) and is returned.
    options : IntegratorOptions, optional
        Tolerances, step budget, summary grid and solver.
    log_state : bool
        The state is the logarithm of positive quantities: the controller then
        bounds its absolute local error by ``rtol`` (a relative error of the
        quantities, whatever their scale) and ``atol`` is not used. Static.

    Returns
    -------
    TimeCourse
        See :class:`TimeCourse`.

    References
    ----------
    Kværnø (2004) BIT 44:489; Hairer & Wanner (1996) Solving ODEs II §IV.8.
    """
    opts = options or IntegratorOptions()
    y0 = jnp.asarray(y0)
    dtype = y0.dtype
    t_end = jnp.asarray(t_end, dtype)
    ts = jnp.atleast_1d(jnp.asarray(ts, dtype))
    switch = jnp.asarray(switch_times, dtype).reshape(-1)
    n_seg = len(segments)
    if switch.shape[0] != n_seg - 1:
        raise ValueError(
            f"switch_times has {switch.shape[0]} entries: must have len(segments) - 1 = {n_seg - 1}"
        )
    flip_index = tuple(int(i) for i in flip_index)
    flip_level = jnp.asarray(flip_level, dtype).reshape(-1)
    if flip_level.shape[0] != len(flip_index):
        raise ValueError(
            f"flip_level has {flip_level.shape[0]} entries: must match flip_index "
            f"({len(flip_index)})"
        )
    rtol, atol = opts.tolerances(dtype)
    eps = float(jnp.finfo(dtype).eps)
    m = opts.grid_points

    # -- protocol checks (traced: a bad point gets a status, nothing raises)
    bounds = jnp.concatenate([jnp.zeros(1, dtype), switch, t_end[None]])
    protocol_ok = jnp.all(jnp.isfinite(bounds)) & jnp.all(jnp.diff(bounds) > 0)
    protocol_ok = protocol_ok & jnp.all(ts <= t_end) & jnp.all(jnp.isfinite(ts))
    protocol_ok = protocol_ok & jnp.all(jnp.diff(ts) >= 0)  # diffrax saves in order
    pre = jnp.asarray(pre_status).astype(jnp.int8)
    pre = jnp.where((pre == _OK) & ~protocol_ok, jnp.int8(int(Status.INVALID_INPUT)), pre)
    pre = jnp.where(
        (pre == _OK) & ~jnp.all(jnp.isfinite(y0)), jnp.int8(int(Status.NO_INITIAL_STATE)), pre
    )
    live = pre == _OK
    # A point that is not integrated gets a harmless problem (zero field on
    # [0, 1]) so that it finishes in a few steps and does not hold up the batch.
    bounds = jnp.where(live, bounds, jnp.linspace(0.0, 1.0, n_seg + 1, dtype=dtype))
    t1 = bounds[-1]
    switch_s = bounds[1:-1]
    y_start = jnp.where(live, y0, jnp.zeros_like(y0))
    ts_save = jnp.clip(ts, 0.0, t1)

    # -- the internal summary grid: m points per segment, shared ends saved once
    u = jnp.linspace(0.0, 1.0, m, dtype=dtype)
    grid = bounds[:-1, None] + (bounds[1:] - bounds[:-1])[:, None] * u[None, :]
    grid = grid.at[:, -1].set(bounds[1:])
    grid_flat = jnp.concatenate([grid[0], grid[1:, 1:].reshape(-1)])
    seg_idx = np.arange(n_seg)[:, None] * (m - 1) + np.arange(m)[None, :]

    def vf(t, y, args):
        segs, sw, on = args
        return jnp.where(on, vector_field(y, _select(segs, sw, t)), 0.0)

    if opts.solver in _IMPLICIT:
        newton = optx.Newton(
            rtol=max(_NEWTON_KAPPA * rtol, 10 * eps), atol=max(_NEWTON_KAPPA * atol, 10 * eps)
        )
        solver = SOLVERS[opts.solver](root_finder=newton)
    else:
        solver = SOLVERS[opts.solver]()
    dt0 = None
    if opts.fixed_steps is not None:
        controller: Any = dfx.ConstantStepSize()
        dt0 = t1 / opts.fixed_steps
    else:
        controller = dfx.PIDController(
            rtol=0.0 if log_state else rtol,
            atol=rtol if log_state else atol,
            dtmin=64 * eps * t1,
            force_dtmin=False,
        )
    if n_seg > 1:
        controller = dfx.ClipStepSizeController(controller, jump_ts=switch_s)
    saveat = dfx.SaveAt(
        subs=[dfx.SubSaveAt(ts=ts_save), dfx.SubSaveAt(ts=grid_flat), dfx.SubSaveAt(t1=True)]
    )
    sol = dfx.diffeqsolve(
        dfx.ODETerm(vf),
        solver,
        t0=jnp.zeros((), dtype),
        t1=t1,
        dt0=dt0,
        y0=y_start,
        args=(tuple(segments), switch_s, live),
        saveat=saveat,
        stepsize_controller=controller,
        max_steps=opts.max_steps,
        throw=False,
    )
    ys_ts, ys_grid, y_last = sol.ys

    # -- outputs and their rates on the grid, per segment
    def g_and_rate(y, a):
        return jax.jvp(lambda z: outputs(z, a), (y,), (vector_field(y, a),))

    gs, ds = [], []
    for k in range(n_seg):
        g, d = jax.vmap(lambda y, k=k: g_and_rate(y, segments[k]))(ys_grid[seg_idx[k]])
        gs.append(g)
        ds.append(d)
    G = jnp.stack(gs)  # (n_seg, m, n_out)
    D = jnp.stack(ds)
    T = grid[:, :, None]  # (n_seg, m, 1)
    g0 = outputs(y_start, initial)  # (n_out,)

    # -- status
    ok = sol.result == dfx.RESULTS.successful
    finite = (
        jnp.all(jnp.isfinite(ys_grid))
        & jnp.all(jnp.isfinite(y_last))
        & jnp.all(jnp.isfinite(G))
        & jnp.all(jnp.isfinite(D))
        & jnp.all(jnp.isfinite(g0))
    )
    run_status = jnp.where(
        ok & finite,
        _OK,
        jnp.where(
            sol.result == dfx.RESULTS.max_steps_reached,
            int(Status.MAX_STEPS_REACHED),
            int(Status.NON_FINITE),
        ),
    ).astype(jnp.int8)
    status = jnp.where(live, run_status, pre)
    good = status == _OK
    nan = jnp.asarray(jnp.nan, dtype)

    # -- values at the output times
    before = ts < 0
    ys_out = jnp.where(before[:, None], y_start[None, :], ys_ts)
    seg_of_t = jnp.sum(ts[:, None] >= switch_s[None, :], axis=1)  # (n_ts,)
    outs_all = [jax.vmap(lambda y, a=a: outputs(y, a))(ys_out) for a in segments]
    out_ts = outs_all[0]
    for k in range(1, n_seg):
        out_ts = jnp.where((seg_of_t == k)[:, None], outs_all[k], out_ts)
    out_ts = jnp.where(before[:, None], g0[None, :], out_ts)
    reached = jnp.all(jnp.isfinite(ys_out), axis=1) & live
    ys_out = jnp.where(reached[:, None], ys_out, nan)
    out_ts = jnp.where(reached[:, None] & jnp.isfinite(out_ts), out_ts, nan)

    # -- summaries from the Hermite interpolant of the grid
    ga, gb, da, db = G[:, :-1], G[:, 1:], D[:, :-1], D[:, 1:]
    h = T[:, 1:] - T[:, :-1]
    end = G[-1, -1]
    # peak: grid points and the interior extrema of every interval's cubic
    r1, r2 = _hermite_stationary(ga, gb, da, db, h)
    cand_v = [G.reshape(-1, G.shape[-1])]
    cand_t = [jnp.broadcast_to(T, G.shape).reshape(-1, G.shape[-1])]
    for r in (r1, r2):
        inside = (r > 0) & (r < 1)
        rr = jnp.where(inside, r, 0.0)
        v = jnp.where(inside, _hermite(rr, ga, gb, da, db, h), nan)
        cand_v.append(v.reshape(-1, G.shape[-1]))
        cand_t.append((T[:, :-1] + rr * h).reshape(-1, G.shape[-1]))
    cand_v = jnp.concatenate(cand_v)
    cand_t = jnp.concatenate(cand_t)
    dev = jnp.where(jnp.isfinite(cand_v), jnp.abs(cand_v - g0[None, :]), -1.0)
    best = jnp.argmax(dev, axis=0)
    peak = jnp.take_along_axis(cand_v, best[None], axis=0)[0]
    t_peak = jnp.take_along_axis(cand_t, best[None], axis=0)[0]

    n_bisect = 60 if jnp.finfo(dtype).bits == 64 else 30
    # t_relax: last segment, first grid point within 1/e, then the cubic's crossing
    gl, dl, tl = G[-1], D[-1], T[-1]
    target = jnp.abs(gl[0] - end) / math.e
    within = jnp.abs(gl - end[None, :]) <= target[None, :]
    j, _ = _first_true(within)  # the end point is always within
    j = jnp.maximum(j, 1)
    take = lambda a, i: jnp.take_along_axis(a, i[None], axis=0)[0]  # noqa: E731
    ga_r, gb_r = take(gl, j - 1), take(gl, j)
    da_r, db_r = take(dl, j - 1), take(dl, j)
    t_a = take(jnp.broadcast_to(tl, gl.shape), j - 1)
    h_r = take(jnp.broadcast_to(tl, gl.shape), j) - t_a
    level = end + jnp.sign(ga_r - end) * target
    u_r = _hermite_crossing(ga_r, gb_r, da_r, db_r, h_r, level, n_bisect)
    t_relax = jnp.where(target > 0, t_a + u_r * h_r - tl[0], 0.0)

    # t_flip: first grid point on the other side of the level, then the cubic's crossing
    if flip_index:
        fi = np.asarray(flip_index)
        Gf = (G[..., fi] - flip_level[None, None, :]).reshape(
            -1, len(fi)
        )  # (n_seg·m, n_flip) in time order
        Df = D[..., fi].reshape(-1, len(fi))
        Tf = jnp.broadcast_to(grid.reshape(-1)[:, None], Gf.shape)
        side0 = (g0[fi] - flip_level) > 0
        flipped = (Gf > 0) != side0[None, :]
        i, any_flip = _first_true(flipped)
        at_switch = (i % m) == 0  # a segment's first point: the jump of the inputs flipped it
        ip = jnp.maximum(i - 1, 0)
        u_f = _hermite_crossing(
            take(Gf, ip), take(Gf, i), take(Df, ip), take(Df, i),
            take(Tf, i) - take(Tf, ip), 0.0, n_bisect,
        )  # fmt: skip
        t_cross = take(Tf, ip) + u_f * (take(Tf, i) - take(Tf, ip))
        t_flip = jnp.where(at_switch, take(Tf, i), t_cross)
        t_flip = jnp.where(any_flip & good, t_flip, nan)
        status_flip = jnp.where(
            good,
            jnp.where(any_flip, _OK, int(Status.NO_ROOT_IN_RANGE)),
            status,
        ).astype(jnp.int8)
    else:
        t_flip = jnp.zeros((0,), dtype)
        status_flip = jnp.zeros((0,), jnp.int8)

    def masked(x):
        return jnp.where(good, x, nan)

    return TimeCourse(
        ys=ys_out,
        outputs=out_ts,
        end=masked(end),
        peak=masked(peak),
        t_peak=masked(t_peak),
        t_relax=masked(t_relax),
        t_flip=t_flip,
        status_flip=status_flip,
        status=status,
        num_steps=jnp.asarray(sol.stats["num_steps"], jnp.int32),
    )


# ------------------------------------------------------------------ systems
@dataclass(frozen=True)
class TrajectoryOutput:
    """A quantity along a trajectory (store metadata; the system computes it).

    Attributes
    ----------
    name, unit, long_name, description : str
        As for :class:`kernels._spec.OutputSpec` (the store variable is ``<name>_tc``).
    code : str
        ``""`` for a float output; ``"mode"`` or ``"polarity"`` for an int8
        code derived from the continuous output ``source``.
    source : str
        Continuous output a code is derived from (and whose zero crossing is its flip).
    """

    name: str
    unit: str
    long_name: str
    description: str
    code: str = ""
    source: str = ""


@dataclass(frozen=True)
class System:
    """A dynamical system the time courses can integrate.

    Attributes
    ----------
    name : str
        Name in configs (``timecourse.system``).
    states : tuple of str
        State components, in order.
    outputs : tuple of TrajectoryOutput
        Everything available at output times; float ones can be summarised.
    prepare : callable
        ``prepare(p) -> args``: per-segment precomputation from a complete
        input mapping (shared by the vector field and the outputs).
    vector_field : callable
        ``f(y, args) -> dy/dt``.
    evaluate : callable
        ``evaluate(y, args) -> dict`` of every float output.
    steady_state : callable
        ``steady_state(p) -> (y, status)``: the initial state of the before
        inputs (``y`` NaN unless found) and that solver's int8 status.
    valid : callable
        ``valid(p) -> bool``: inputs finite and in range.
    log_state : bool
        The state is in logarithms (see :func:`integrate`).
    """

    name: str
    states: tuple[str, ...]
    outputs: tuple[TrajectoryOutput, ...]
    prepare: Callable[[Mapping[str, Any]], Any]
    vector_field: Callable[[Array, Any], Array]
    evaluate: Callable[[Array, Any], dict]
    steady_state: Callable[[Mapping[str, Any]], tuple[Array, Array]]
    valid: Callable[[Mapping[str, Any]], Array]
    log_state: bool = False

    def output(self, name: str) -> TrajectoryOutput:
        """The output called ``name``; ``ValueError`` listing the valid ones if unknown."""
        for o in self.outputs:
            if o.name == name:
                return o
        raise ValueError(
            f"timecourse output {name!r} is not an output of system {self.name!r}; "
            f"allowed: {', '.join(o.name for o in self.outputs)}"
        )

    def float_outputs(self) -> tuple[str, ...]:
        """Names of the continuous outputs (the ones that can be summarised)."""
        return tuple(o.name for o in self.outputs if not o.code)


def _resolve_flips(system: System, flips: Sequence[Any]) -> tuple[tuple[str, str, float], ...]:
    """(flip name, continuous source, level) for each requested flip."""
    out = []
    for f in flips:
        if isinstance(f, str):
            spec = system.output(f)
            if spec.code:
                out.append((f, spec.source, 0.0))
                continue
            raise ValueError(
                f"timecourse flip {f!r} is a continuous output: give it with a level, "
                f"e.g. ({f!r}, 0.0), or use a mode/polarity output"
            )
        name, level = f
        spec = system.output(name)
        if spec.code:
            raise ValueError(f"timecourse flip {name!r} is a code: give it without a level")
        if not math.isfinite(float(level)):
            raise ValueError(f"timecourse flip level {level!r} is not allowed: must be finite")
        out.append((name, name, float(level)))
    return tuple(out)


def time_course(
    system: System,
    p: Mapping[str, ArrayLike],
    before: Mapping[str, ArrayLike],
    ts: ArrayLike,
    t_end: ArrayLike,
    *,
    protocol: str = "step",
    duration: ArrayLike | None = None,
    outputs: Sequence[str] | None = None,
    summaries: Sequence[str] | None = None,
    flips: Sequence[Any] = (),
    options: IntegratorOptions | None = None,
) -> dict[str, Array]:
    """One point's time course under a protocol, as store variables (pure JAX, never raises).

    Parameters
    ----------
    system : System
        The dynamical system (e.g. :data:`CALCIUM`).
    p : mapping
        The point's complete inputs, stored units (mM, mV, K, ...): the inputs
        from t = 0 (and, for a pulse, until ``duration``).
    before : mapping
        Inputs that differ before t = 0 (and after a pulse), stored units;
        the initial state is the steady state of ``{**p, **before}``.
    ts : array (n_ts,)
        Output times, s (≤ t_end; times < 0 give the initial state).
    t_end : float
        End of the integration, s (> 0).
    protocol : {"step", "pulse"}
        Static.
    duration : float, optional
        Pulse duration, s (0 < duration < t_end); required for a pulse.
    outputs : sequence of str, optional
        Outputs at the output times (default: all of the system's outputs).
    summaries : sequence of str, optional
        Float outputs to summarise (default: the float ones among ``outputs``).
    flips : sequence
        Mode/polarity output names, or ``(output, level)`` pairs for any
        continuous output.
    options : IntegratorOptions, optional
        Tolerances, budget, summary grid, solver.

    Returns
    -------
    dict
        ``<out>_tc`` (n_ts,) for each output (float, or int8 codes with
        :data:`kernels.solvers.NOT_WRITTEN` where there is no value);
        ``<s>_tc_end``, ``<s>_tc_peak``, ``<s>_tc_t_peak``, ``<s>_tc_t_relax``
        for each summarised output; ``<f>_tc_t_flip`` (s) and
        ``status_<f>_tc_t_flip`` (int8) for each flip; ``status_tc`` (int8),
        ``status_tc_before`` (int8, the initial steady state's own status)
        and ``n_steps_tc`` (int32).

    References
    ----------
    See the module docstring and the system's own references.
    """
    if protocol not in PROTOCOLS:
        raise ValueError(
            f"protocol = {protocol!r} is not allowed: must be one of {', '.join(PROTOCOLS)}"
        )
    if protocol == "pulse" and duration is None:
        raise ValueError("duration = None is not allowed: a pulse needs a duration (s) > 0")
    names = tuple(outputs) if outputs is not None else tuple(o.name for o in system.outputs)
    specs = [system.output(n) for n in names]
    if summaries is None:
        summaries = tuple(n for n, s in zip(names, specs, strict=True) if not s.code)
    for s in summaries:
        if system.output(s).code:
            raise ValueError(
                f"timecourse summary of {s!r} is not allowed: it is a code; summarise its "
                f"source {system.output(s).source!r} or time its flip"
            )
    flip_specs = _resolve_flips(system, flips)
    # the continuous quantities the kernel carries: summaries, code sources, flip sources
    carried: list[str] = []
    for n in (
        *summaries,
        *(s.source for s in specs if s.code),
        *(n for n, s in zip(names, specs, strict=True) if not s.code),
        *(f[1] for f in flip_specs),
    ):
        if n not in carried:
            carried.append(n)
    index = {n: i for i, n in enumerate(carried)}

    p_before = {**p, **before}
    y0, status_before = system.steady_state(p_before)
    valid = system.valid(p) & system.valid(p_before)
    pre = jnp.where(
        valid,
        jnp.where(jnp.all(jnp.isfinite(y0)), _OK, int(Status.NO_INITIAL_STATE)),
        int(Status.INVALID_INPUT),
    )
    a_point, a_before = system.prepare(p), system.prepare(p_before)
    if protocol == "step":
        segments, switch = (a_point,), jnp.zeros((0,), jnp.result_type(y0))
    else:
        segments = (a_point, a_before)
        switch = jnp.reshape(jnp.asarray(duration, jnp.result_type(y0)), (1,))

    def carried_outputs(y, a):
        d = system.evaluate(y, a)
        return jnp.stack([jnp.asarray(d[n], jnp.result_type(y)) for n in carried])

    tc = integrate(
        system.vector_field,
        carried_outputs,
        y0,
        a_before,
        segments,
        switch,
        t_end,
        ts,
        flip_index=[index[f[1]] for f in flip_specs],
        flip_level=[f[2] for f in flip_specs],
        pre_status=pre,
        options=options,
        log_state=system.log_state,
    )
    res: dict[str, Array] = {}
    for n, spec in zip(names, specs, strict=True):
        if spec.code:
            src = tc.outputs[:, index[spec.source]]
            code = _code(spec.code, src, p["mode_tolerance"])
            res[f"{n}_tc"] = jnp.where(jnp.isfinite(src), code, jnp.int8(NOT_WRITTEN))
        else:
            res[f"{n}_tc"] = tc.outputs[:, index[n]]
    for s in summaries:
        i = index[s]
        res[f"{s}_tc_end"] = tc.end[i]
        res[f"{s}_tc_peak"] = tc.peak[i]
        res[f"{s}_tc_t_peak"] = tc.t_peak[i]
        res[f"{s}_tc_t_relax"] = tc.t_relax[i]
    for k, (name, _, _) in enumerate(flip_specs):
        res[f"{name}_tc_t_flip"] = tc.t_flip[k]
        res[f"status_{name}_tc_t_flip"] = tc.status_flip[k]
    res["status_tc"] = tc.status
    res["status_tc_before"] = jnp.asarray(status_before).astype(jnp.int8)
    res["n_steps_tc"] = tc.num_steps
    return res


def _code(kind: str, source: Array, mode_tolerance: ArrayLike) -> Array:
    if kind == "mode":
        return thermo.sign_mode(source, mode_tolerance)
    return thermo.polarity(source, thermo.tolerance_mv(mode_tolerance))


# ------------------------------------------------------------------ calcium system
_INPUT_DEFAULTS = {i.name: i.default for i in INPUTS}


def calcium_rate(
    ca_i: ArrayLike,
    vm: ArrayLike,
    na_i: ArrayLike,
    na_o: ArrayLike,
    ca_o: ArrayLike,
    temperature: ArrayLike,
    ncx: NCXParams,
    ibar_pmca: ArrayLike,
    k_pmca: ArrayLike,
    h_pmca: ArrayLike,
    g_ca_bg: ArrayLike,
    gamma: ArrayLike,
    beta_ca: ArrayLike,
    q10_pmca: ArrayLike = Q10_PMCA,
) -> Array:
    """Rate of free cytosolic Ca²⁺ at fixed V_m: d[Ca]ᵢ/dt = β·(γ/2)·(2I_NCX − g_CaBG(V_m − E_Ca) − I_PMCA).

    The bracket is the net Ca²⁺ influx in charge units of
    :func:`kernels.steady_state.calcium_balance` (µA/cm²); γ converts a
    monovalent current density into a cytosolic concentration rate, so a
    divalent ion's flux is γ/2 per µA/cm²; β is the free fraction under fast
    buffering (rapid buffer approximation).

    Parameters
    ----------
    ca_i, ca_o : float
        Free Ca²⁺ inside / outside, mM (> 0).
    vm : float
        Membrane potential, mV.
    na_i, na_o : float
        Na⁺ inside / outside, mM (> 0).
    temperature : float
        Absolute temperature, K (> 0).
    ncx : NCXParams
        NCX parameters.
    ibar_pmca : float
        Maximal PMCA current, µA/cm² (≥ 0).
    k_pmca : float
        PMCA half-activation [Ca]ᵢ, mM (> 0).
    h_pmca : float
        PMCA Hill coefficient (≥ 0).
    g_ca_bg : float
        Background Ca²⁺ conductance, mS/cm² (≥ 0).
    gamma : float
        Current-to-concentration rate, (mM/s)/(µA/cm²) (≥ 0).
    beta_ca : float
        Free fraction of entering Ca²⁺, dimensionless, in (0, 1].
    q10_pmca : float
        PMCA temperature coefficient (GPB 2010; the NCX one is ``ncx.q10``).

    Returns
    -------
    float
        d[Ca]ᵢ/dt, mM/s.

    References
    ----------
    Grandi, Pasqualini & Bers (2010) J Mol Cell Cardiol 48:112 (currents);
    Wagner & Keizer (1994) Biophys J 67:447 (rapid buffer approximation);
    Neher (1995) Neuropharmacology 34:1423 (buffer capacity).
    """
    pt, s, _ = _ca_setup(
        vm, na_i, na_o, ca_o, temperature, ncx, ibar_pmca, k_pmca, h_pmca, g_ca_bg, q10_pmca
    )
    return 0.5 * beta_ca * gamma * _ca_balance(jnp.log(ca_i), pt, s)


class _CaArgs(NamedTuple):
    pt: Any
    s: Any
    ncx: Any
    rate: Any  # β γ / 2, (mM/s)/(µA/cm²)
    p: Any  # the inputs the outputs read


_CA_KEYS = (
    "vm na_i na_o ca_o temperature ibar_pmca k_pmca h_pmca g_ca_bg gamma beta_ca mode_tolerance "
    "ibar_ncx nu_ncx ksat_ncx km_cai km_cao km_nai km_nao k_dact n_act f_inact_ncx k_inact_ncx "
    "n_inact_ncx q10_ncx q10_pmca"
).split()


def _ca_inputs(p: Mapping[str, Any]) -> dict[str, Any]:
    return {k: p[k] if k in p else _INPUT_DEFAULTS[k] for k in _CA_KEYS}


def _ca_prepare(p: Mapping[str, Any]) -> _CaArgs:
    q = _ca_inputs(p)
    args = _ca_args(q)
    pt, s, _ = _ca_setup(*args)
    return _CaArgs(pt, s, args[5], 0.5 * q["beta_ca"] * q["gamma"], q)


def _ca_vector_field(y: Array, a: _CaArgs) -> Array:
    # State x = ln[Ca]ᵢ: positivity is built in and the absolute tolerance on x
    # is a relative tolerance on [Ca]ᵢ (which spans nM to mM).
    x = y[0]
    return (a.rate * _ca_balance(x, a.pt, a.s) * jnp.exp(-x))[None]


def _ca_evaluate(y: Array, a: _CaArgs) -> dict[str, Array]:
    q = a.p
    x = y[0]
    ca = jnp.exp(x)
    rt_f = _rt_f_mv(q["temperature"])
    e_ca = 0.5 * rt_f * (jnp.log(q["ca_o"]) - x)
    i_ncx = _i_ncx(q["vm"], q["na_i"], q["na_o"], ca, q["ca_o"], q["temperature"], a.ncx)
    return {
        "ca_i": ca,
        "e_ca": e_ca,
        "i_ncx": i_ncx,
        "dG_ncx": BUILTIN_TRANSPORTERS["ncx"].dG({**q, "ca_i": ca}),
        "i_pmca": q["ibar_pmca"] * jax.nn.sigmoid(q["h_pmca"] * (x - jnp.log(q["k_pmca"]))),
        "i_ca_bg": q["g_ca_bg"] * (q["vm"] - e_ca),
        "j_ca": a.rate * _ca_balance(x, a.pt, a.s),
    }


def _ca_solve_inputs(p: Mapping[str, Any]) -> tuple[Array, Array, Array, Array]:
    *args, q10_pmca = _ca_args(_ca_inputs(p))
    return _ca_solve(*args, True, q10_pmca)


def _ca_steady_state(p: Mapping[str, Any]) -> tuple[Array, Array]:
    # kernels.steady_state's lowest stable root: the state a resting cell
    # reaches from low [Ca²⁺]ᵢ (NaN unless found).
    x, _, status, _ = _ca_solve_inputs(p)
    return x[None], status


def _ca_valid(p: Mapping[str, Any]) -> Array:
    # the ranges kernels.steady_state checks for the Ca²⁺ balance, and the rate's own
    q = _ca_inputs(p)
    names = (
        "vm na_i na_o ca_o temperature ibar_pmca k_pmca h_pmca g_ca_bg gamma beta_ca mode_tolerance"
    ).split()
    finite = jnp.all(jnp.stack([jnp.isfinite(q[n]) for n in names]))
    conds = (
        q["na_i"] > 0,
        q["na_o"] > 0,
        q["ca_o"] > 0,
        q["temperature"] > 0,
        q["ibar_pmca"] >= 0,
        q["k_pmca"] > 0,
        q["h_pmca"] >= 0,
        q["g_ca_bg"] >= 0,
        q["gamma"] >= 0,
        q["beta_ca"] > 0,
        q["beta_ca"] <= 1,
        q["mode_tolerance"] >= 0,
    )
    return finite & _ca_balance_valid(*_ca_args(q)) & jnp.all(jnp.stack(conds))


_GPB = "Grandi, Pasqualini & Bers 2010 J Mol Cell Cardiol 48:112"

#: Cytosolic Ca²⁺ at fixed V_m (physics.md "Calcium steady state"), state ln[Ca²⁺]ᵢ.
CALCIUM: System = System(
    name="calcium",
    states=("ln_ca_i",),
    outputs=(
        TrajectoryOutput("ca_i", "mM", "[Ca²⁺]ᵢ", "free cytosolic Ca²⁺"),
        TrajectoryOutput("e_ca", "mV", "E_Ca", "Nernst potential of Ca²⁺"),
        TrajectoryOutput("i_ncx", "uA/cm**2", "I_NCX", "NCX current, outward positive"),
        TrajectoryOutput("dG_ncx", "kJ/mol", "ΔG NCX", "free energy per NCX forward cycle"),
        TrajectoryOutput("i_pmca", "uA/cm**2", "I_PMCA", "plasma-membrane Ca²⁺-ATPase current"),
        TrajectoryOutput(
            "i_ca_bg", "uA/cm**2", "I_CaBG", "background Ca²⁺ current g_CaBG(V_m − E_Ca)"
        ),
        TrajectoryOutput(
            "j_ca", "mM/s", "d[Ca²⁺]ᵢ/dt", "rate of free cytosolic Ca²⁺ (β·γ/2·net influx)"
        ),
        TrajectoryOutput(
            "mode_ncx",
            "",
            "NCX mode",
            "+1 forward (Ca²⁺ extrusion), −1 reverse, 0 at equilibrium",
            code="mode",
            source="dG_ncx",
        ),
    ),
    prepare=_ca_prepare,
    vector_field=_ca_vector_field,
    evaluate=_ca_evaluate,
    steady_state=_ca_steady_state,
    valid=_ca_valid,
    log_state=True,
)


# ------------------------------------------------------------------ whole-cell system
class _CellArgs(NamedTuple):
    q: Any  # kernels.cell.CellParams
    p: Any  # the inputs the outputs read


_CELL_KEYS = (
    "temperature na_o k_o cl_o hco3_i hco3_o p_hco3_cl g_na g_k g_cl g_gaba gamma u_nka "
    "km_nka_na km_nka_k z_x osm_o x_i_ref ca_i ca_o mode_tolerance u_kcc2 p_kcc2 rho_kcc2 "
    "vu0463271 ic50_vu0463271 u_nkcc1 p_nkcc1 rho_nkcc1 bumetanide ic50_bumetanide"
).split()


def _cell_inputs(p: Mapping[str, Any]) -> dict[str, Any]:
    return {k: p[k] for k in _CELL_KEYS}


@functools.cache
def whole_cell_system(pump: str = "cubic") -> System:
    """The pump–leak neuron of :mod:`kernels.cell` as a time-course system.

    State: amounts of Na⁺, K⁺, Cl⁻ per reference volume (mM); V_m, volume and
    concentrations follow at each instant (:func:`kernels.cell.cell_state`).
    The initial state is :func:`kernels.cell.cell_steady_state` of the before
    inputs. ``pump`` is the static ``model: pump`` choice.

    Parameters
    ----------
    pump : {"cubic", "saturating"}
        Na⁺/K⁺-ATPase law.

    Returns
    -------
    System
        One object per pump law (cached, so compiled functions are reused).

    References
    ----------
    Kay (2017) Front Cell Dev Biol 5:41; Düsterwald et al. (2018) eLife 7:e39575.
    """
    if pump not in cell.PUMP_LAWS:
        raise ValueError(
            f"model.pump = {pump!r} is not allowed: must be one of {', '.join(cell.PUMP_LAWS)}"
        )

    def prepare(p):
        return _CellArgs(cell.CellParams.from_inputs(p), _cell_inputs(p))

    def vector_field(y, a):
        return cell.cell_rhs(y, a.q, pump)

    def evaluate(y, a):
        q, p = a.q, a.p
        st = cell.cell_state(y, q, pump)
        rt_f = _rt_f_mv(q.temperature)
        ln_na, ln_k, ln_cl = jnp.log(st.na_i), jnp.log(st.k_i), jnp.log(st.cl_i)
        e_cl = rt_f * (ln_cl - jnp.log(q.cl_o))
        e_gaba = rt_f * (jnp.log(st.cl_i + q.r * q.hco3_i) - jnp.log(q.cl_o + q.r * q.hco3_o))
        at_state = {**p, "vm": st.vm, "na_i": st.na_i, "k_i": st.k_i, "cl_i": st.cl_i}
        return {
            "vm": st.vm,
            "na_i": st.na_i,
            "k_i": st.k_i,
            "cl_i": st.cl_i,
            "x_i": st.x_i,
            "volume": st.volume,
            "e_na": rt_f * (jnp.log(q.na_o) - ln_na),
            "e_k": rt_f * (jnp.log(q.k_o) - ln_k),
            "e_cl": e_cl,
            "e_gaba": e_gaba,
            "df_gaba": e_gaba - st.vm,
            "j_nka": cell.pump_rate(st.na_i, q, pump),
            "j_kcc2": q.u_k * ((ln_k - jnp.log(q.k_o)) + (ln_cl - jnp.log(q.cl_o))),
            "j_nkcc1": q.u_n
            * (
                (jnp.log(q.na_o) - ln_na)
                + (jnp.log(q.k_o) - ln_k)
                + 2.0 * (jnp.log(q.cl_o) - ln_cl)
            ),
            "dG_ncx": BUILTIN_TRANSPORTERS["ncx"].dG(at_state),
            "dG_kcc2": BUILTIN_TRANSPORTERS["kcc2"].dG(at_state),
        }

    def steady_state(p):
        ss = cell.cell_steady_state(cell.CellParams.from_inputs(p), pump)
        return cell.amounts(ss), ss.status

    def valid(p):
        q = cell.CellParams.from_inputs(p)
        extra = (p["ca_i"] > 0) & (p["ca_o"] > 0) & (p["mode_tolerance"] >= 0)
        extra = extra & jnp.isfinite(p["ca_i"]) & jnp.isfinite(p["mode_tolerance"])
        return q.valid() & _reg_valid(p) & extra

    conc = "mM"
    return System(
        name="cell",
        states=("n_na", "n_k", "n_cl"),
        outputs=(
            TrajectoryOutput("vm", "mV", "V_m", "membrane potential (zero net current)"),
            TrajectoryOutput("na_i", conc, "[Na⁺]ᵢ", "cytosolic Na⁺"),
            TrajectoryOutput("k_i", conc, "[K⁺]ᵢ", "cytosolic K⁺"),
            TrajectoryOutput("cl_i", conc, "[Cl⁻]ᵢ", "cytosolic Cl⁻"),
            TrajectoryOutput("x_i", conc, "[X]ᵢ", "impermeant anions"),
            TrajectoryOutput("volume", "", "volume", "cell volume relative to the reference"),
            TrajectoryOutput("e_na", "mV", "E_Na", "Nernst potential of Na⁺"),
            TrajectoryOutput("e_k", "mV", "E_K", "Nernst potential of K⁺"),
            TrajectoryOutput("e_cl", "mV", "E_Cl", "Nernst potential of Cl⁻"),
            TrajectoryOutput("e_gaba", "mV", "E_GABA", "GABA_A reversal potential (GHK)"),
            TrajectoryOutput("df_gaba", "mV", "E_GABA − V_m", "GABA_A driving force"),
            TrajectoryOutput("j_nka", "mM/s", "J_NKA", "Na⁺/K⁺-ATPase cycle rate (ATP use)"),
            TrajectoryOutput("j_kcc2", "mM/s", "J_KCC2", "KCC2 cycle rate (out)"),
            TrajectoryOutput("j_nkcc1", "mM/s", "J_NKCC1", "NKCC1 cycle rate (in)"),
            TrajectoryOutput("dG_ncx", "kJ/mol", "ΔG NCX", "NCX ΔG per cycle at the given [Ca²⁺]ᵢ"),
            TrajectoryOutput("dG_kcc2", "kJ/mol", "ΔG KCC2", "KCC2 ΔG per cycle"),
            TrajectoryOutput(
                "mode_ncx",
                "",
                "NCX mode",
                "+1 forward, −1 reverse, 0 at equilibrium",
                code="mode",
                source="dG_ncx",
            ),
            TrajectoryOutput(
                "gaba_polarity",
                "",
                "GABA polarity",
                "+1 depolarizing, −1 hyperpolarizing, 0 within tolerance",
                code="polarity",
                source="df_gaba",
            ),
        ),  # fmt: skip
        prepare=prepare,
        vector_field=vector_field,
        evaluate=evaluate,
        steady_state=steady_state,
        valid=valid,
    )


#: Systems by config name (``cell`` with the default pump law; see
#: :func:`whole_cell_system` for the others).
SYSTEMS: dict[str, System] = {"calcium": CALCIUM, "cell": whole_cell_system("cubic")}
