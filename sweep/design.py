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
    "unit_rows",
    "physical_rows",
    "BLOCKWISE_METHODS",
]

GLOBAL_METHODS = ("sobol", "morris", "fast")
#: SALib's default number of Morris grid levels.
MORRIS_LEVELS = 4

#: SALib's name of each distribution in the sampling space (log ones are sampled in ln x).
_SALIB_DIST = {
    "uniform": "unif",
    "loguniform": "unif",
    "normal": "norm",
    "truncnormal": "truncnorm",
    "lognormal": "norm",
    "triangular": "triang",
}


@dataclass(frozen=True)
class GlobalProblem:
    """The inputs of a global analysis: names, distributions, physical support, groups.

    SALib samples the *sampling space*: ``u = ln x`` for log-uniform and
    lognormal inputs, ``u = x`` otherwise; :meth:`to_physical` maps rows back
    to stored units. ``dists`` and ``params`` describe each input's
    distribution in the sampling space, as SALib's ``dists``/``bounds``
    (unif: [a, b]; norm: [mean, sd]; truncnorm: [a, b, mean, sd]; triang:
    [a, b, peak as a fraction of b − a]). ``lower``/``upper`` are the support
    in stored units (of a normal or lognormal: its 2^-53 quantiles).
    """

    names: tuple[str, ...]
    lower: tuple[float, ...]
    upper: tuple[float, ...]
    log: tuple[bool, ...]
    units: tuple[str, ...]
    dists: tuple[str, ...] = ()
    params: tuple[tuple[float, ...], ...] = ()
    groups: tuple[str, ...] | None = None
    distributions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.dists:  # (log-)uniform inputs given by their bounds
            object.__setattr__(self, "dists", ("unif",) * len(self.names))
            bounds = tuple(
                (math.log(lo), math.log(hi)) if lg else (lo, hi)
                for lo, hi, lg in zip(self.lower, self.upper, self.log, strict=True)
            )
            object.__setattr__(self, "params", bounds)
        if not self.distributions:
            names = tuple(
                ("loguniform" if lg else "uniform") if d == "unif" else d
                for d, lg in zip(self.dists, self.log, strict=True)
            )
            object.__setattr__(self, "distributions", names)

    @property
    def num_vars(self) -> int:
        return len(self.names)

    @property
    def factors(self) -> tuple[str, ...]:
        """The factors SALib reports: the group names (first appearance) or the inputs."""
        return tuple(dict.fromkeys(self.groups)) if self.groups else self.names

    def salib(self) -> dict[str, Any]:
        """SALib's problem dict (the sampling space; ``dists`` where not all uniform)."""
        prob: dict[str, Any] = {
            "num_vars": self.num_vars,
            "names": list(self.names),
            "bounds": [list(p) for p in self.params],
        }
        if any(d != "unif" for d in self.dists):
            prob["dists"] = list(self.dists)
        if self.groups:
            prob["groups"] = list(self.groups)
        return prob

    def from_unit(self, U: np.ndarray) -> np.ndarray:
        """Unit-hypercube rows → the sampling space: each input's inverse CDF.

        The same arithmetic as SALib's ``scale_samples`` (``u (b − a) + a``,
        ``scipy.stats`` ppf), so rows equal SALib's own for the same problem;
        unit values of exactly 0 or 1 of an unbounded input (normal, lognormal)
        are moved to the 2^-53 quantiles (:data:`~sweep.axes.DIST_TAIL`)
        first, so it never takes ±inf (bounded ones reach their bounds).
        """
        from .axes import DIST_TAIL

        U = np.asarray(U, dtype=np.float64)
        out = np.empty_like(U)
        for j, (d, p) in enumerate(zip(self.dists, self.params, strict=True)):
            u = U[:, j]
            if d == "unif":
                out[:, j] = u * (p[1] - p[0]) + p[0]
                continue
            from scipy import stats  # lazy: scipy.stats takes ~0.3 s; only dists need it

            if d == "norm" and (np.any(u <= 0) or np.any(u >= 1)):  # unbounded: ±inf
                u = np.clip(u, DIST_TAIL, 1.0 - DIST_TAIL)
            if d == "norm":
                out[:, j] = stats.norm.ppf(u, loc=p[0], scale=p[1])
            elif d == "truncnorm":
                a, b, m, sd = p
                out[:, j] = stats.truncnorm.ppf(u, (a - m) / sd, (b - m) / sd, loc=m, scale=sd)
            else:  # triang: [a, b, c]
                out[:, j] = stats.triang.ppf(u, c=p[2], scale=p[1] - p[0], loc=p[0])
        return out

    def to_physical(self, X: np.ndarray) -> np.ndarray:
        """Sample rows in the sampling space → input values in stored units."""
        X = np.asarray(X, dtype=np.float64)
        out = X.copy()
        for j, lg in enumerate(self.log):
            if lg:
                out[:, j] = np.exp(X[:, j])
        return out

    def poincare(self) -> np.ndarray:
        """Each input's Poincaré constant C in the sampling space: Var f(u) ≤ C E[(f')²].

        The constant of the DGSM bound ST_i ≤ C_i ν_i / Var(y) (Lamboni et al.
        2013 Math Comput Simul 87:45, Table 1): uniform on [a, b]: (b − a)²/π²;
        normal (and lognormal in ln x): sd²; truncated normal: min(sd², (b − a)²/π²)
        (log-concave: both bounds hold); triangular on [a, b]: (b − a)²/π²
        (log-concave on an interval, Payne & Weinberger 1960 Arch Ration Mech
        Anal 5:286; Bebendorf 2003 Z Anal Anwend 22:751).
        """
        out = []
        for d, p in zip(self.dists, self.params, strict=True):
            if d in ("unif", "triang"):
                out.append((p[1] - p[0]) ** 2 / math.pi**2)
            elif d == "norm":
                out.append(p[1] ** 2)
            else:
                out.append(min(p[3] ** 2, (p[1] - p[0]) ** 2 / math.pi**2))
        return np.asarray(out, dtype=np.float64)


def global_problem(spec: SweepSpec) -> GlobalProblem:
    """The inputs of a global analysis from a config's axes (``design:`` is ignored).

    Each axis gives its distribution (``dist``; uniform on [start, stop] by
    default, log-uniform with ``spacing: log``) and its group (``group``).

    Raises
    ------
    ConfigError
        An axis with explicit ``values`` or an empty range (start = stop).
    """
    names, lo, hi, lg, units, dists, params, dnames = [], [], [], [], [], [], [], []
    for a in spec.axes:
        if not a.bounded or (a.explicit is not None and a.spacing == "values"):
            raise ConfigError(
                f"axes.{a.name} has explicit values: global sensitivity needs a range "
                "(start and stop; spacing log for log-uniform) or a dist"
            )
        if a.start == a.stop:
            raise ConfigError(f"axes.{a.name}: start and stop are equal: empty range")
        a_lo, a_hi = float(min(a.start, a.stop)), float(max(a.start, a.stop))
        dist = a.distribution
        log = dist in ("loguniform", "lognormal")
        if dist == "uniform":
            p: tuple[float, ...] = (a_lo, a_hi)
        elif dist == "loguniform":
            p = (math.log(a_lo), math.log(a_hi))
        elif dist == "normal":
            p = a.dist_params
        elif dist == "lognormal":
            p = (math.log(a.dist_params[0]), a.dist_params[1])
        elif dist == "truncnormal":
            p = (a_lo, a_hi, *a.dist_params)
        else:  # triangular: the peak as a fraction of the width (SALib's convention)
            p = (a_lo, a_hi, (a.dist_params[0] - a_lo) / (a_hi - a_lo))
        names.append(a.name)
        lo.append(a_lo)
        hi.append(a_hi)
        lg.append(log)
        units.append(a.unit)
        dists.append(_SALIB_DIST[dist])
        params.append(tuple(float(x) for x in p))
        dnames.append(dist)
    grouped = any(a.group is not None for a in spec.axes)
    groups = tuple(a.group or a.name for a in spec.axes) if grouped else None
    return GlobalProblem(
        tuple(names),
        tuple(lo),
        tuple(hi),
        tuple(lg),
        tuple(units),
        tuple(dists),
        tuple(params),
        groups,
        tuple(dnames),
    )


def as_salib(problem: GlobalProblem | Mapping[str, Any]) -> dict[str, Any]:
    return problem.salib() if isinstance(problem, GlobalProblem) else dict(problem)


def check_n(method: str, n: Any) -> int:
    """Base samples (Sobol': a power of 2 ≥ 2), trajectories (Morris: ≥ 2) or samples per
    search curve (eFAST: > 4M² = 64), else ``ConfigError``."""
    from .spec import FAST_HARMONICS

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
    if method == "fast" and n <= 4 * FAST_HARMONICS**2:
        raise ConfigError(
            f"--n {n} is not allowed: eFAST needs more than 4·M² = {4 * FAST_HARMONICS**2} "
            f"samples per input (M = {FAST_HARMONICS})"
        )
    return n


def check_method(method: str) -> None:
    """``sobol``, ``morris`` or ``fast``, else ``ConfigError`` with a suggestion."""
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
        The inputs, their distributions and groups. A :class:`GlobalProblem`
        is sampled by SALib on the unit hypercube, then mapped by each input's
        inverse CDF (:meth:`GlobalProblem.from_unit`: the same rows as SALib's
        ``dists``, also where SALib refuses a triangular range below 0); a
        SALib dict is handed to SALib as it is.
    method : {"sobol", "morris", "fast"}
        Saltelli's scheme for Sobol' indices (``SALib.sample.sobol``, scrambled
        Sobol' sequence), Morris trajectories (``SALib.sample.morris``) or
        eFAST search curves (``SALib.sample.fast_sampler``, M = 4).
    n : int
        Base samples (Sobol': a power of 2; rows = n·(G + 2), or n·(2G + 2)
        with ``second_order``, G factors: groups or inputs), trajectories
        (Morris: rows = n·(G + 1)) or samples per curve (eFAST: rows = n·D).
    seed : int
        Seed of the scrambling / trajectories / phases (reproducible, 0 included).
    second_order : bool
        Sobol' only: add the rows for second-order indices.
    num_levels : int
        Morris grid levels.

    Returns
    -------
    numpy.ndarray
        Rows × inputs, float64, in the sampling space (ln x for log-uniform
        and lognormal inputs; see :meth:`GlobalProblem.to_physical`).
    """
    from .spec import FAST_HARMONICS

    check_method(method)
    n = check_n(method, n)
    seed = check_seed(seed)
    if second_order and method != "sobol":
        raise ConfigError(f"--second-order applies to --global sobol, not to {method}")
    if isinstance(problem, GlobalProblem):
        if problem.groups and method == "fast":
            raise ConfigError("factor groups (axes.<x>.group) apply to sobol and morris, not fast")
        prob = problem.salib()
        prob.pop("dists", None)
        prob["bounds"] = [[0.0, 1.0]] * problem.num_vars
    else:
        prob = dict(problem)
    if method == "sobol":
        from SALib.sample import sobol as sobol_sample  # lazy: SALib loads pandas (~0.5 s)

        X = sobol_sample.sample(prob, n, calc_second_order=second_order, seed=seed)
    elif method == "morris":
        from SALib.sample import morris as morris_sample  # lazy: SALib loads pandas (~0.5 s)

        X = morris_sample.sample(prob, n, num_levels=num_levels, seed=seed)
    else:
        from SALib.sample import fast_sampler  # lazy: SALib loads pandas (~0.5 s)

        X = fast_sampler.sample(prob, n, M=FAST_HARMONICS, seed=seed)
    X = np.asarray(X, dtype=np.float64)
    return problem.from_unit(X) if isinstance(problem, GlobalProblem) else X


#: Design methods whose rows are generated per block (any row range, bit-identical to
#: the whole design: scipy's Sobol' ``fast_forward``, PCG64 ``advance``); the others
#: (lhs: one permutation per input over all rows; SALib's matrices) are built whole.
BLOCKWISE_METHODS = ("sobol", "random")


def unit_rows(spec: SweepSpec, start: int, stop: int) -> np.ndarray:
    """Rows ``start:stop`` of a ``sobol | random`` design on the unit hypercube.

    Bit-identical to rows ``start:stop`` of the whole design
    (``qmc.Sobol(k, scramble=True, seed).random(n)``,
    ``default_rng(seed).random((n, k))``) for any split: the Sobol' sequence is
    fast-forwarded, the PCG64 stream advanced by ``start·k`` draws (one
    double per draw). Memory follows ``stop − start``, not ``design.n``.
    """
    d = spec.design
    if d is None or d.method not in BLOCKWISE_METHODS:
        raise ValueError(f"{spec.name}: rows by range need a sobol or random design")
    k = len(spec.axes)
    m = max(0, int(stop) - int(start))
    if d.method == "sobol":
        from scipy.stats import qmc  # lazy: scipy.stats takes ~0.3 s to import

        eng = qmc.Sobol(k, scramble=True, seed=d.seed)
        if start:
            eng.fast_forward(int(start))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # balance warning for n != 2**m
            return eng.random(m)
    bits = np.random.PCG64(d.seed)
    bits.advance(int(start) * k)
    return np.random.Generator(bits).random((m, k))


def physical_rows(spec: SweepSpec, U: np.ndarray) -> dict[str, np.ndarray]:
    """Unit rows of a ``sobol | lhs | random`` design → inputs in stored units.

    Uniform: ``lo + u (hi − lo)``; log-uniform: ``exp(ln lo + u (ln hi − ln lo))``
    (as before distributions existed: the same coordinates); other
    distributions by their inverse CDF (:meth:`GlobalProblem.from_unit`).
    """
    problem = global_problem(spec) if any(a.dist for a in spec.axes) else None
    out = {}
    for j, a in enumerate(spec.axes):
        u = U[:, j]
        if a.dist:
            x = problem.from_unit(U)[:, j] if problem is not None else u
            out[a.name] = np.exp(x) if a.dist == "lognormal" else x
            continue
        lo, hi = float(a.start), float(a.stop)
        if a.spacing == "log":
            x = np.exp(np.log(lo) + u * (np.log(hi) - np.log(lo)))
        else:
            x = lo + u * (hi - lo)
        out[a.name] = x
    return out


def design_rows(spec: SweepSpec) -> tuple[np.ndarray | None, dict[str, np.ndarray]]:
    """The sample rows of a sampled design: (rows in the sampling space, inputs in stored units).

    ``sobol | lhs | random``: ``design.n`` points from each axis' distribution
    (uniform in [start, stop] for linear axes, log-uniform for log axes, or
    its ``dist``), reproducible from ``design.seed`` (``scipy.stats.qmc``);
    the first element is None. ``saltelli | morris | fast``: the rows SALib's
    analysis of the same name expects (:func:`sample`), both in its sampling
    space and in stored units.
    """
    d = spec.design
    if d is None:
        raise ValueError(f"{spec.name}: a grid has no sample rows")
    if d.method in ("saltelli", "morris", "fast"):
        problem = global_problem(spec)
        method = {"saltelli": "sobol"}.get(d.method, d.method)
        X = sample(
            problem, method, d.n, seed=d.seed, second_order=d.second_order, num_levels=d.levels
        )
        phys = problem.to_physical(X)
        return X, {name: phys[:, j] for j, name in enumerate(problem.names)}
    if d.method in BLOCKWISE_METHODS:
        return None, physical_rows(spec, unit_rows(spec, 0, d.n))
    from scipy.stats import qmc  # lazy: scipy.stats takes ~0.3 s to import; grids never need it

    u = qmc.LatinHypercube(len(spec.axes), seed=d.seed).random(d.n)
    return None, physical_rows(spec, u)
