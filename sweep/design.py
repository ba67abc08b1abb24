"""Sampling: every design's rows (grid, sobol, lhs, random, saltelli, morris) in one place.

The plan reads its coordinates from here, and global sensitivity reads the
same rows back from the plan, so the engine never imports an analysis and a
design is sampled once. ``saltelli`` and ``morris`` are SALib's samplers for
Sobol' indices and Morris screening (``SALib.sample``), over the sampling
space of a :class:`GlobalProblem` (``ln x`` for log-uniform inputs).

References
----------
Saltelli A. et al. (2010) Comput Phys Commun 181:259, doi:10.1016/j.cpc.2009.09.018
(Saltelli sampling); Morris M. D. (1991) Technometrics 33:161,
doi:10.1080/00401706.1991.10484804 (trajectories); Herman J. & Usher W. (2017)
J Open Source Softw 2:97, doi:10.21105/joss.00097 (SALib); McKay M. D. et al.
(1979) Technometrics 21:239 (Latin hypercube); Owen A. B. (1998) J Complexity
14:466 (scrambled Sobol' sequences, ``scipy.stats.qmc``).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from kernels.registry import suggest

from .spec import ConfigError, SweepSpec

__all__ = [
    "GLOBAL_METHODS",
    "MORRIS_LEVELS",
    "GlobalProblem",
    "global_problem",
    "sample",
    "design_rows",
    "as_salib",
    "check_method",
    "check_n",
    "check_seed",
]

GLOBAL_METHODS = ("sobol", "morris")
#: SALib's default number of Morris grid levels.
MORRIS_LEVELS = 4


@dataclass(frozen=True)
class GlobalProblem:
    """The inputs of a global analysis: names, physical bounds, log-uniform or uniform.

    SALib samples the *sampling space*: ``[ln lower, ln upper]`` for log-uniform
    inputs, ``[lower, upper]`` otherwise; :meth:`to_physical` maps rows back to
    stored units.
    """

    names: tuple[str, ...]
    lower: tuple[float, ...]
    upper: tuple[float, ...]
    log: tuple[bool, ...]
    units: tuple[str, ...]

    @property
    def num_vars(self) -> int:
        return len(self.names)

    def salib(self) -> dict[str, Any]:
        """SALib's problem dict (bounds in the sampling space)."""
        bounds = [
            [math.log(lo), math.log(hi)] if lg else [lo, hi]
            for lo, hi, lg in zip(self.lower, self.upper, self.log, strict=True)
        ]
        return {"num_vars": self.num_vars, "names": list(self.names), "bounds": bounds}

    def to_physical(self, X: np.ndarray) -> np.ndarray:
        """Sample rows in the sampling space → input values in stored units."""
        X = np.asarray(X, dtype=np.float64)
        out = X.copy()
        for j, lg in enumerate(self.log):
            if lg:
                out[:, j] = np.exp(X[:, j])
        return out


def global_problem(spec: SweepSpec) -> GlobalProblem:
    """The inputs of a global analysis from a config's axes (``design:`` is ignored).

    Raises
    ------
    ConfigError
        An axis with explicit ``values`` or an empty range (start = stop).
    """
    names, lo, hi, lg, units = [], [], [], [], []
    for a in spec.axes:
        if not a.bounded:
            raise ConfigError(
                f"axes.{a.name} has explicit values: global sensitivity needs a range "
                "(start and stop; spacing log for log-uniform)"
            )
        if a.start == a.stop:
            raise ConfigError(f"axes.{a.name}: start and stop are equal: empty range")
        names.append(a.name)
        lo.append(float(min(a.start, a.stop)))
        hi.append(float(max(a.start, a.stop)))
        lg.append(a.spacing == "log")
        units.append(a.unit)
    return GlobalProblem(tuple(names), tuple(lo), tuple(hi), tuple(lg), tuple(units))


def as_salib(problem: GlobalProblem | Mapping[str, Any]) -> dict[str, Any]:
    return problem.salib() if isinstance(problem, GlobalProblem) else dict(problem)


def check_n(method: str, n: Any) -> int:
    """Base samples (Sobol': a power of 2 ≥ 2) or trajectories (Morris: ≥ 2), else ``ConfigError``."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise ConfigError(f"--n {n!r} is not allowed: an integer (base samples)")
    n = int(n)
    if method == "sobol" and (n < 2 or n & (n - 1)):
        raise ConfigError(
            f"--n {n} is not allowed: Sobol' base samples must be a power of 2 >= 2 "
            f"(e.g. {2 ** max(1, round(math.log2(max(n, 2))))})"
        )
    if method == "morris" and n < 2:
        raise ConfigError(f"--n {n} is not allowed: Morris needs >= 2 trajectories")
    return n


def check_method(method: str) -> None:
    """``sobol`` or ``morris``, else ``ConfigError`` with a suggestion."""
    if method not in GLOBAL_METHODS:
        raise ConfigError(
            f"--global {method!r} is not allowed{suggest(str(method), GLOBAL_METHODS)}; "
            f"allowed: {', '.join(GLOBAL_METHODS)}"
        )


def check_seed(seed: Any) -> int:
    """An integer ≥ 0, else ``ConfigError``."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ConfigError(f"--seed {seed!r} is not allowed: an integer >= 0")
    return int(seed)


def sample(
    problem: GlobalProblem | Mapping[str, Any],
    method: str = "sobol",
    n: int = 1024,
    *,
    seed: int = 0,
    second_order: bool = False,
    num_levels: int = MORRIS_LEVELS,
) -> np.ndarray:
    """Sample rows for ``method`` with SALib's samplers (in the sampling space).

    Parameters
    ----------
    problem : GlobalProblem or SALib problem dict
        The inputs and their bounds.
    method : {"sobol", "morris"}
        Saltelli's scheme for Sobol' indices (``SALib.sample.sobol``, scrambled
        Sobol' sequence) or Morris trajectories (``SALib.sample.morris``).
    n : int
        Base samples (Sobol': a power of 2; rows = n·(D + 2), or n·(2D + 2)
        with ``second_order``) or trajectories (Morris: rows = n·(D + 1)).
    seed : int
        Seed of the scrambling / trajectories (reproducible, 0 included).
    second_order : bool
        Sobol' only: add the rows for second-order indices.
    num_levels : int
        Morris grid levels.

    Returns
    -------
    numpy.ndarray
        Rows × inputs, float64; log-uniform inputs are in ln x (see
        :meth:`GlobalProblem.to_physical`).
    """
    check_method(method)
    n = check_n(method, n)
    seed = check_seed(seed)
    prob = as_salib(problem)
    if method == "sobol":
        from SALib.sample import sobol as sobol_sample  # lazy: SALib loads pandas (~0.5 s)

        return np.asarray(
            sobol_sample.sample(prob, n, calc_second_order=second_order, seed=seed),
            dtype=np.float64,
        )
    if second_order:
        raise ConfigError("--second-order applies to --global sobol, not to morris")
    from SALib.sample import morris as morris_sample  # lazy: SALib loads pandas (~0.5 s)

    return np.asarray(
        morris_sample.sample(prob, n, num_levels=num_levels, seed=seed), dtype=np.float64
    )


def design_rows(spec: SweepSpec) -> tuple[np.ndarray | None, dict[str, np.ndarray]]:
    """The sample rows of a sampled design: (rows in the sampling space, inputs in stored units).

    ``sobol | lhs | random``: ``design.n`` points, uniform in [start, stop] for
    linear axes and log-uniform for log axes, reproducible from ``design.seed``
    (``scipy.stats.qmc``); the first element is None. ``saltelli | morris``:
    the rows SALib's analysis of the same name expects (:func:`sample`), both
    in its sampling space and in stored units.
    """
    d = spec.design
    if d is None:
        raise ValueError(f"{spec.name}: a grid has no sample rows")
    if d.method in ("saltelli", "morris"):
        problem = global_problem(spec)
        method = "sobol" if d.method == "saltelli" else "morris"
        X = sample(
            problem, method, d.n, seed=d.seed, second_order=d.second_order, num_levels=d.levels
        )
        phys = problem.to_physical(X)
        return X, {name: phys[:, j] for j, name in enumerate(problem.names)}
    from scipy.stats import qmc  # lazy: scipy.stats takes ~0.3 s to import; grids never need it

    k = len(spec.axes)
    if d.method == "sobol":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # balance warning for n != 2**m
            u = qmc.Sobol(k, scramble=True, seed=d.seed).random(d.n)
    elif d.method == "lhs":
        u = qmc.LatinHypercube(k, seed=d.seed).random(d.n)
    else:
        u = np.random.default_rng(d.seed).random((d.n, k))
    out = {}
    for j, a in enumerate(spec.axes):
        lo, hi = float(a.start), float(a.stop)
        if a.spacing == "log":
            x = np.exp(np.log(lo) + u[:, j] * (np.log(hi) - np.log(lo)))
        else:
            x = lo + u[:, j] * (hi - lo)
        out[a.name] = x
    return None, out
