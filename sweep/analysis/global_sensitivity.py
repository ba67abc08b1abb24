"""Global sensitivity: Sobol' indices and Morris screening with SALib, on the engine.

Bounds from the axes' start/stop (``spacing: log`` means log-uniform: the
sampler works in ln x), ``design:`` ignored. SALib's shape, each step a
function: :func:`~sweep.design.global_problem` → :func:`~sweep.design.sample`
(Saltelli/Sobol' or Morris trajectories) → evaluate → :func:`analyze` (SALib,
bootstrap confidence intervals). The rows are sampled once, as the design of
an ordinary sweep (:func:`samples_config`, a ``saltelli | morris`` design);
its plan holds them, the engine evaluates them (in memory, or resumably into
a samples store) and the analysis reads them back from the plan. A model
output that is not finite, or a steady state whose status is not
"converged", stops the analysis with a count (:class:`UnusableOutputError`):
SALib is never fed NaN or an unconverged value.

References
----------
Saltelli A. et al. (2010) Comput Phys Commun 181:259, doi:10.1016/j.cpc.2009.09.018
(Sobol' indices, Saltelli sampling); Morris M. D. (1991) Technometrics 33:161,
doi:10.1080/00401706.1991.10484804; Campolongo F., Cariboni J., Saltelli A. (2007)
Environ Model Softw 22:1509 (μ*); Herman J. & Usher W. (2017) J Open Source Softw
2:97, doi:10.21105/joss.00097 (SALib); Ishigami T. & Homma T. (1990) Proc ISUMA
p. 398 (Ishigami function).
"""

from __future__ import annotations

import json
import math
import threading
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from kernels.solvers import Status

from ..design import (
    MORRIS_LEVELS,
    GlobalProblem,
    as_salib,
    check_method,
    check_n,
    check_seed,
    global_problem,
)
from ..driver import run
from ..execute import evaluate_plan
from ..manifest import StoreError
from ..plan import make_plan
from ..schedulers import check_scheduler
from ..spec import (
    DEFAULT_CONFIG,
    FAST_HARMONICS,
    ConfigError,
    SweepSpec,
    config_from_resolved,
    load_config,
    parse_config,
)
from ..store import check_store_target, result_attrs, write_dataset
from .common import check_outputs, text_coord
from .common import sensitivity_store as default_store

__all__ = [
    "UnusableOutputError",
    "global_sensitivity",
    "analyze",
    "check_finite",
    "samples_config",
    "default_store",
    "bounds_spec",
    "default_samples_store",
    "GLOBAL_CHUNK",
    "NUM_RESAMPLES",
    "CONF_LEVEL",
]

#: Sample rows per block of the evaluation (one compile per run).
GLOBAL_CHUNK = 2**16
#: SALib's bootstrap defaults.
NUM_RESAMPLES = 100
CONF_LEVEL = 0.95


class UnusableOutputError(RuntimeError):
    """Model outputs SALib cannot use (not finite, or a steady state not converged), counted.

    A property of the model over the chosen ranges, found while computing: not
    a usage error (``sweep`` exits with status 1 and the message).
    """


# analysis ------------------------------------------------------------------------
def check_finite(
    Y: Mapping[str, np.ndarray], status: Mapping[str, np.ndarray] | None = None
) -> None:
    """Raise :class:`UnusableOutputError` naming how many rows are unusable.

    A row is unusable when an output is not finite, or when its steady state's
    ``status`` (``status`` maps output → int8 codes of :class:`kernels.solvers.Status`)
    is not ``CONVERGED``.
    """
    problems = []
    for name, y in Y.items():
        y = np.asarray(y)
        bad = ~np.isfinite(y) if y.dtype.kind == "f" else np.zeros(y.shape, bool)
        txt = ""
        if status and name in status:
            st = np.asarray(status[name])
            failed = st != Status.CONVERGED
            bad |= failed
            codes = {
                int(c): int(k)
                for c, k in zip(*np.unique(st[failed], return_counts=True), strict=True)
            }
            if codes:
                txt = " (" + ", ".join(f"{k} {_meaning(c)}" for c, k in sorted(codes.items())) + ")"
        if bad.any():
            problems.append(f"{name} at {int(bad.sum()):,} of {y.size:,}{txt}")
    if problems:
        raise UnusableOutputError(
            "model outputs not finite or not converged: "
            + "; ".join(problems)
            + " sample points; SALib needs every value: narrow the axes' ranges (start/stop) to "
            "where the model is defined, or drop that output"
        )


def _meaning(code: int) -> str:
    """``'no root in range'`` for a status code (its name in the one vocabulary, spelled out)."""
    try:
        return Status(code).name.lower().replace("_", " ")
    except ValueError:
        return f"status {code}"


def analyze(
    problem: GlobalProblem | Mapping[str, Any],
    X: np.ndarray,
    Y: Mapping[str, np.ndarray] | np.ndarray,
    method: str = "sobol",
    *,
    seed: int = 0,
    second_order: bool = False,
    num_resamples: int = NUM_RESAMPLES,
    conf_level: float = CONF_LEVEL,
    num_levels: int = MORRIS_LEVELS,
    output_units: Mapping[str, str] | None = None,
) -> Any:
    """SALib's analysis of sampled outputs, as an ``xarray.Dataset`` (dims output, input).

    Parameters
    ----------
    problem : GlobalProblem or SALib problem dict
        As given to :func:`~sweep.design.sample`.
    X : numpy.ndarray
        The sample rows (sampling space), as returned by :func:`~sweep.design.sample`.
    Y : mapping or numpy.ndarray
        Output name → values per row (an array is named ``y``). Every value
        must be finite (:class:`UnusableOutputError` otherwise).
    method : {"sobol", "morris", "fast"}
        Sobol' indices from Saltelli rows (with RBD-FAST on the same rows),
        Morris screening, or eFAST (SALib's ``fast``, M = 4) from its search curves.
    seed : int
        Seed of the bootstrap resampling (reproducible, 0 included).
    second_order : bool
        Sobol' only; must match the sampling.
    num_resamples : int
        Bootstrap resamples of the confidence intervals.
    conf_level : float
        Confidence level of the ``*_conf`` half-widths, in (0, 1).
    num_levels : int
        Morris grid levels (must match the sampling).
    output_units : mapping, optional
        Output name → unit (``mu_star`` and ``sigma`` carry the output's unit).

    Returns
    -------
    xarray.Dataset
        Sobol': ``S1``, ``S1_conf``, ``ST``, ``ST_conf`` (output, input) and, with
        ``second_order``, ``S2``, ``S2_conf`` (output, input, input_2). Morris:
        ``mu``, ``mu_star``, ``mu_star_conf``, ``sigma`` (output, input), in the
        output's units per full range of the input (SALib's normalisation).
        eFAST: ``S1``, ``S1_conf``, ``ST``, ``ST_conf``. With factor groups
        (the problem's ``groups``) the ``input`` dimension holds the group
        names (SALib's grouped indices; ``input_members`` lists each group's
        inputs; a group's Morris ``sigma`` is NaN, as in SALib).
    """
    import xarray as xr  # lazy: xarray takes ~1 s to import; `sweep list` never needs it

    check_method(method)
    seed = check_seed(seed)
    if not 0.0 < float(conf_level) < 1.0:
        raise ConfigError(f"conf_level = {conf_level!r} is not allowed: must be in (0, 1)")
    if isinstance(num_resamples, bool) or int(num_resamples) < 2:
        raise ConfigError(f"num_resamples = {num_resamples!r} is not allowed: an integer >= 2")
    prob = as_salib(problem)
    names = list(prob["names"])
    groups = list(prob["groups"]) if prob.get("groups") else None
    factors = list(dict.fromkeys(groups)) if groups else names
    Ys = {"y": np.asarray(Y)} if isinstance(Y, np.ndarray) else dict(Y)
    Ys = {k: np.asarray(v, dtype=np.float64).ravel() for k, v in Ys.items()}
    check_finite(Ys)
    X = np.asarray(X, dtype=np.float64)
    outs = list(Ys)
    D = len(factors)
    if second_order and method != "sobol":
        raise ConfigError(f"--second-order applies to --global sobol, not to {method}")
    if groups and method == "fast":
        raise ConfigError("factor groups (axes.<x>.group) apply to sobol and morris, not fast")
    constant = [o for o in outs if np.ptp(Ys[o]) == 0]  # no variance: indices 0/0, left NaN
    extra_attrs: dict[str, Any] = {}
    if method == "sobol":
        from SALib.analyze import sobol as sobol_analyze  # lazy: SALib loads pandas (~0.5 s)

        keys = ["S1", "S1_conf", "ST", "ST_conf"]
        arr = {k: np.full((len(outs), D), np.nan) for k in keys}
        arr2 = {k: np.full((len(outs), D, D), np.nan) for k in ("S2", "S2_conf")}
        for i, o in enumerate(outs):
            if o in constant:
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                si = sobol_analyze.analyze(
                    prob,
                    Ys[o],
                    calc_second_order=second_order,
                    num_resamples=int(num_resamples),
                    conf_level=float(conf_level),
                    # a Generator, not an int: SALib 1.6 treats seed 0 as "unseeded"
                    seed=np.random.default_rng(seed),
                )
            for k in keys:
                arr[k][i] = si[k]
            if second_order:
                for k in arr2:
                    arr2[k][i] = si[k]
        dvars = {k: (("output", "input"), v, _index_attrs(k, conf_level)) for k, v in arr.items()}
        if second_order:
            dvars.update(
                {
                    k: (("output", "input", "input_2"), v, _index_attrs(k, conf_level))
                    for k, v in arr2.items()
                }
            )
        # convergence over N: SALib's Saltelli rows come in blocks of G+2 (2G+2 with
        # S2; G factors) per base sample, so the first N' base samples are a design
        per = (2 * D + 2) if second_order else (D + 2)
        n_total = X.shape[0] // per
        ns = [m for m in (2**j for j in range(3, 64)) if m < n_total] + [n_total]
        conv = {k: np.full((len(ns), len(outs), D), np.nan) for k in ("S1", "ST", "ST_conf")}
        for a, m in enumerate(ns):
            for i, o in enumerate(outs):
                if o in constant or np.ptp(Ys[o][: m * per]) == 0:
                    continue
                if m == n_total:
                    for k in conv:
                        conv[k][a, i] = arr[k][i]
                    continue
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)
                    si = sobol_analyze.analyze(
                        prob,
                        Ys[o][: m * per],
                        calc_second_order=second_order,
                        num_resamples=int(num_resamples),
                        conf_level=float(conf_level),
                        seed=np.random.default_rng(seed),
                    )
                for k in conv:
                    conv[k][a, i] = si[k]
        dvars.update(
            {
                f"{k}_by_n": (
                    ("n_base", "output", "input"),
                    v,
                    {
                        **_index_attrs(k, conf_level),
                        "convergence": "over the first n_base base samples",
                    },
                )
                for k, v in conv.items()
            }
        )
        conv_n = np.asarray(ns, dtype=np.int64)
        # RBD-FAST (a given-data estimator: any sample will do) on the same evaluations;
        # it has no factor groups (SALib's rbd_fast is per input), so grouped runs skip it
        if not groups:
            dvars.update(_rbd_fast(prob, X, Ys, constant, num_resamples, conf_level, seed))
        else:
            extra_attrs["rbd_fast"] = "not computed: SALib's RBD-FAST has no factor groups"
    elif method == "fast":
        dvars = _efast(prob, Ys, constant, num_resamples, conf_level, seed)
    else:
        from SALib.analyze import morris as morris_analyze  # lazy: as sobol above

        keys = ["mu", "mu_star", "mu_star_conf", "sigma"]
        arr = {k: np.full((len(outs), D), np.nan) for k in keys}
        for i, o in enumerate(outs):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # sigma of a group: NaN
                si = morris_analyze.analyze(
                    prob,
                    X,
                    Ys[o],
                    num_resamples=int(num_resamples),
                    conf_level=float(conf_level),
                    num_levels=num_levels,
                    seed=np.random.default_rng(seed),
                )
            for k in keys:
                arr[k][i] = np.asarray(si[k], dtype=np.float64)
        dvars = {k: (("output", "input"), v, _index_attrs(k, conf_level)) for k, v in arr.items()}
    if constant and method != "morris":
        extra_attrs["constant_outputs"] = constant
    units = dict(output_units or {})
    coords: dict[str, Any] = {
        "output": ("output", text_coord(outs)),
        "output_units": ("output", text_coord([units.get(o, "") for o in outs])),
        "input": ("input", text_coord(factors)),
    }
    if groups:
        members = [
            ",".join(n for n, g in zip(names, groups, strict=True) if g == f) for f in factors
        ]
        coords["input_members"] = (
            "input",
            text_coord(members),
            {"long_name": "inputs of the factor group"},
        )
    elif isinstance(problem, GlobalProblem):
        coords["input_units"] = ("input", text_coord(problem.units))
        coords["input_scale"] = (
            "input",
            text_coord(["log" if g else "linear" for g in problem.log]),
        )
        coords["input_dist"] = (
            "input",
            text_coord(problem.distributions),
            {"long_name": "input distribution"},
        )
        coords["input_lower"] = (
            "input",
            np.array(problem.lower),
            {"long_name": "lower bound of the support"},
        )
        coords["input_upper"] = (
            "input",
            np.array(problem.upper),
            {"long_name": "upper bound of the support"},
        )
    if method == "sobol" and second_order:
        coords["input_2"] = ("input_2", text_coord(factors))
    if method == "sobol":
        coords["n_base"] = ("n_base", conv_n, {"long_name": "base samples of the estimate"})
    attrs = {
        "method": method,
        "n_evaluations": int(X.shape[0]),
        "seed": seed,
        "num_resamples": int(num_resamples),
        "conf_level": float(conf_level),
        "second_order": bool(second_order),
        **extra_attrs,
    }
    if method == "morris":
        attrs["num_levels"] = int(num_levels)
    if method == "fast":
        attrs["harmonics"] = int(FAST_HARMONICS)
    if groups:
        attrs["groups"] = json.dumps(dict(zip(names, groups, strict=True)))
    return xr.Dataset(dvars, coords=coords, attrs=attrs)


def _rbd_fast(prob, X, Ys, constant, num_resamples, conf_level, seed) -> dict[str, Any]:
    """RBD-FAST first-order indices of every output (dims output, input)."""
    from SALib.analyze import rbd_fast  # lazy: SALib loads pandas (~0.5 s)

    outs = list(Ys)
    D = len(prob["names"])
    rbd = {k: np.full((len(outs), D), np.nan) for k in ("S1_rbd_fast", "S1_rbd_fast_conf")}
    for i, o in enumerate(outs):
        if o in constant:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            si = rbd_fast.analyze(
                prob,
                X,
                Ys[o],
                M=RBD_FAST_HARMONICS,
                num_resamples=int(num_resamples),
                conf_level=float(conf_level),
                seed=np.random.default_rng(seed),
            )
        rbd["S1_rbd_fast"][i] = np.asarray(si["S1"], dtype=np.float64)
        rbd["S1_rbd_fast_conf"][i] = np.asarray(si["S1_conf"], dtype=np.float64)
    return {k: (("output", "input"), v, _index_attrs(k, conf_level)) for k, v in rbd.items()}


_NP_RANDOM = threading.Lock()


def _efast(prob, Ys, constant, num_resamples, conf_level, seed) -> dict[str, Any]:
    """eFAST first- and total-order indices (SALib ``fast.analyze``, M = 4), dims output, input.

    SALib's eFAST bootstrap draws from numpy's global random state; it is seeded
    with ``seed`` for the call and restored after it, so results are reproducible
    and no other user of ``numpy.random`` is disturbed.
    """
    from SALib.analyze import fast  # lazy: SALib loads pandas (~0.5 s)

    outs = list(Ys)
    D = len(prob["names"])
    keys = ("S1", "S1_conf", "ST", "ST_conf")
    arr = {k: np.full((len(outs), D), np.nan) for k in keys}
    for i, o in enumerate(outs):
        if o in constant:
            continue
        with _NP_RANDOM, warnings.catch_warnings():
            warnings.simplefilter("ignore")  # SALib warns that eFAST's bootstrap is indicative
            state = np.random.get_state()  # noqa: NPY002 - SALib's eFAST uses it
            try:
                np.random.seed(seed)  # noqa: NPY002
                si = fast.analyze(
                    prob,
                    Ys[o],
                    M=FAST_HARMONICS,
                    num_resamples=int(num_resamples),
                    conf_level=float(conf_level),
                    seed=None,
                )
            finally:
                np.random.set_state(state)  # noqa: NPY002
        for k in keys:
            arr[k][i] = np.asarray(si[k], dtype=np.float64)
    out = {}
    for k, v in arr.items():
        attrs = _index_attrs(k, conf_level)
        attrs["long_name"] = f"{attrs['long_name']} (eFAST)"
        if k.endswith("_conf"):
            attrs["note"] = "SALib: eFAST bootstrap intervals are indicative only (SALib#649)"
        out[k] = (("output", "input"), v, attrs)
    return out


#: Harmonics of RBD-FAST (SALib's default M = 10; Tarantola et al. 2006 Reliab Eng Syst
#: Saf 91:717; Plischke 2010 Reliab Eng Syst Saf 95:354 for the given-data estimate).
RBD_FAST_HARMONICS = 10

_INDEX_MEANING = {
    "S1_rbd_fast": "first-order index by RBD-FAST on the same evaluations (given-data estimate)",
    "S1": "first-order Sobol' index (variance share of the input alone)",
    "ST": "total-order Sobol' index (variance share with all its interactions)",
    "S2": "second-order Sobol' index (variance share of the pair's interaction)",
    "mu": "mean elementary effect (output units per full input range)",
    "mu_star": "mean absolute elementary effect (output units per full input range)",
    "sigma": "standard deviation of the elementary effects (interactions, non-linearity)",
}


def _index_attrs(key: str, conf_level: float) -> dict[str, Any]:
    base = key.removesuffix("_conf")
    meaning = _INDEX_MEANING[base]
    if key.endswith("_conf"):
        return {
            "long_name": f"{base} confidence half-width",
            "description": f"{conf_level:.0%} bootstrap confidence half-width of {base}: {meaning}",
        }
    if base.startswith("S"):
        return {"long_name": base, "description": meaning, "units": ""}
    return {"long_name": base, "description": f"{meaning}; unit: the output's (output_units)"}


def global_sensitivity(
    spec: SweepSpec | str | Path | Mapping[str, Any],
    method: str = "sobol",
    n: int = 1024,
    seed: int = 0,
    *,
    second_order: bool = False,
    outputs: Sequence[str] | None = None,
    scheduler: str = "threads",
    num_resamples: int = NUM_RESAMPLES,
    conf_level: float = CONF_LEVEL,
    num_levels: int = MORRIS_LEVELS,
    store: str | Path | None = None,
    overwrite: bool = False,
    samples_store: str | Path | None = None,
    resume: bool = False,
    progress: bool | None = None,
) -> Any:
    """Global sensitivity indices of a sweep's outputs over its axes' ranges.

    :func:`~sweep.design.global_problem` → the rows of a ``saltelli | morris``
    design (:func:`samples_config`, sampled once by :func:`~sweep.design.sample`
    and held by its plan) → the engine (:func:`~sweep.execute.evaluate_plan`, or
    a resumable samples store) → :func:`analyze`.

    Parameters
    ----------
    spec : SweepSpec, path or mapping
        The sweep; each axis is an input, uniform on [start, stop] (log-uniform
        for ``spacing: log``); the other inputs stay at their parameter values.
        ``design:`` is ignored.
    method : {"sobol", "morris", "fast"}
    n : int
        Base samples (Sobol', a power of 2), trajectories (Morris) or samples
        per search curve (eFAST, > 64).
    seed : int
        Seed of the sampler and of the bootstrap.
    second_order : bool
        Sobol' second-order indices ``S2`` (doubles the evaluations).
    outputs : sequence of str, optional
        Default: the config's outputs (companions left out).
    scheduler : str
        dask scheduler of the evaluation.
    num_resamples, conf_level : int, float
        Bootstrap confidence intervals.
    num_levels : int
        Morris grid levels.
    store : path, optional
        Also write the dataset as a zarr (format 3) store.
    overwrite : bool
        Replace an existing store (and samples store).
    samples_store : path, optional
        Evaluate through the engine into this sweep store (a ``saltelli`` or
        ``morris`` design: blocks, manifest, any scheduler), so an interrupted
        analysis can be completed with ``resume``; the indices are then
        computed from the stored outputs. Default with ``resume``:
        ``results/<name>.<method>-samples.zarr``.
    resume : bool
        Complete an interrupted samples store instead of starting again.
    progress : bool, optional
        Progress bar of the samples run (default: only on a terminal).

    Returns
    -------
    xarray.Dataset
        As :func:`analyze`, with the resolved config in the attributes.

    Raises
    ------
    UnusableOutputError
        Some model outputs are not finite or their steady state did not converge
        (the message counts them).
    """
    spec = bounds_spec(spec)
    check_method(method)
    n = check_n(method, n)
    seed = check_seed(seed)
    if second_order and method != "sobol":
        raise ConfigError(f"--second-order applies to --global sobol, not to {method}")
    check_scheduler(scheduler)
    outs = check_outputs(spec, outputs)
    if store is not None:
        check_store_target(Path(store), overwrite=overwrite)
    problem = global_problem(spec)
    if method == "fast" and problem.groups:
        first = next(a.name for a in spec.axes if a.group is not None)
        raise ConfigError(
            f"axes.{first}.group is not allowed with --global fast: eFAST has no factor "
            "groups (sobol and morris do); drop the group keys"
        )
    # the rows are sampled once, as the design of the samples sweep; its plan holds them
    path = Path(samples_store or default_samples_store(spec, method))
    sspec = parse_config(
        samples_config(spec, outs, method, n, seed, second_order, num_levels, path)
    )
    plan = make_plan(sspec)
    X = plan.rows
    if samples_store is not None or resume:
        res = run(
            sspec,
            resume=resume,
            overwrite=overwrite and not resume,
            scheduler=scheduler,
            progress=progress,
        )
        if not res.complete:
            raise StoreError(
                f"{len(res.failed)} block(s) of the samples store {str(path)!r} failed: "
                "complete it with --resume"
            )
        import zarr  # lazy: zarr takes ~0.3 s to import; only resumable runs read a store

        group = zarr.open_group(str(path), mode="r")
        values = {name: np.asarray(group[name][...]) for name in sspec.outputs}
    else:
        values = evaluate_plan(plan, scheduler=scheduler)
    reg = spec.registry
    status = {}
    for o in outs:
        st = [c for c in reg.outputs[o].companions if c.startswith("status_")]
        if st:
            status[o] = values[st[0]]
    check_finite({o: values[o] for o in outs}, status)
    ds = analyze(
        problem,
        X,
        {o: values[o] for o in outs},
        method,
        seed=seed,
        second_order=second_order,
        num_resamples=num_resamples,
        conf_level=conf_level,
        num_levels=num_levels,
        output_units={o: reg.outputs[o].unit for o in outs},
    )
    ds = ds.assign(
        dgsm_indices(spec, problem, X, {o: values[o] for o in outs}, conf_level=conf_level)
    )
    extra = {
        "kind": "global",
        "method": method,
        "n": n,
        "seed": seed,
        "second_order": second_order,
        "outputs": list(outs),
        "inputs": list(problem.names),
        "log_uniform": [bool(g) for g in problem.log],
        "dists": list(problem.distributions),
        "groups": list(problem.groups) if problem.groups else None,
        "num_resamples": int(num_resamples),
        "conf_level": float(conf_level),
    }
    attrs = result_attrs(spec, f"{spec.name} {method} sensitivity")
    attrs["sensitivity"] = json.dumps(extra, sort_keys=True)
    attrs.update({k: (json.dumps(v) if isinstance(v, list) else v) for k, v in ds.attrs.items()})
    attrs["n"] = n
    ds.attrs = attrs
    if store is not None:
        write_dataset(ds, store, overwrite=overwrite)
    return ds


def dgsm_indices(
    spec: SweepSpec,
    problem: GlobalProblem,
    X: np.ndarray,
    Y: Mapping[str, np.ndarray],
    *,
    conf_level: float = CONF_LEVEL,
) -> dict[str, Any]:
    """Derivative-based global sensitivity (DGSM) from the engine's autodiff gradients.

    At the design's rows, ``jax.jacfwd`` of the point function gives ∂y/∂u_i
    exactly (u the sampling space: ln x for log-uniform inputs, x otherwise;
    implicit differentiation through steady states), with no finite
    differences. Returned variables (dims output, input):

    - ``dgsm_nu``: ν_i = E[(∂y/∂u_i)²] (output units² per u unit²);
    - ``dgsm``: C_i ν_i with C_i the Poincaré constant of u_i's distribution
      (:meth:`~sweep.design.GlobalProblem.poincare`): (b_i − a_i)² / π² for a
      uniform u_i (SALib's DGSM index), sd² for a normal;
    - ``dgsm_conf``: its normal-approximation half-width at ``conf_level``;
    - ``dgsm_bound``: ``dgsm / Var(y)``, an upper bound of the total index
      ST_i (Sobol' & Kucherenko 2009 Math Comput Simul 79:3009; Lamboni et
      al. 2013 Math Comput Simul 87:45).

    With factor groups, each variable is the sum over the group's inputs
    (the bound of the group's total index).

    Parameters
    ----------
    spec : SweepSpec
        The sweep whose axes are the inputs (``problem.names``, in order).
    problem : GlobalProblem
        Bounds and log flags of the inputs.
    X : numpy.ndarray
        Rows × inputs, in the sampling space (as SALib samples).
    Y : mapping
        Output name → values at the rows (their variance normalises the bound).
    conf_level : float
        Confidence level of ``dgsm_conf``, in (0, 1).
    """
    import jax
    import jax.numpy as jnp
    from scipy.stats import norm

    from ..batching import spec_point_function
    from ..execute import evaluate_function

    outs = list(Y)
    point = spec_point_function(spec, outs)
    logs = tuple(bool(g) for g in problem.log)

    def phys(*u):
        return point(*(jnp.exp(ui) if lg else ui for ui, lg in zip(u, logs, strict=True)))

    def grads(*u):
        jac = jax.jacfwd(lambda v: jnp.stack([jnp.asarray(y, v.dtype) for y in phys(*v)]))
        return jac(jnp.stack(u))  # (outputs, inputs)

    J = np.asarray(
        evaluate_function(grads, np.asarray(X, dtype=np.float64), scheduler="synchronous")
    )
    sq = J**2  # rows, outputs, inputs
    n = sq.shape[0]
    nu = sq.mean(axis=0)
    scale = problem.poincare()[None, :]  # (b − a)²/π² for uniform u: SALib's DGSM
    z = float(norm.ppf(0.5 + conf_level / 2))
    conf = z * sq.std(axis=0, ddof=1) / math.sqrt(n) * scale
    dgsm = nu * scale
    if problem.groups:  # a group's bound is the sum of its members' (Poincaré, product measure)
        factors = problem.factors
        member = np.array([[g == f for g in problem.groups] for f in factors], dtype=np.float64)
        nu = nu @ member.T
        dgsm = dgsm @ member.T
        # members' estimates share the rows: their half-widths add (an upper bound)
        conf = conf @ member.T
    var = np.array([np.var(np.asarray(Y[o], dtype=np.float64)) for o in outs])
    with np.errstate(divide="ignore", invalid="ignore"):
        bound = np.where(var[:, None] > 0, dgsm / var[:, None], np.nan)
    dims = ("output", "input")
    return {
        "dgsm_nu": (
            dims,
            nu,
            {
                "long_name": "mean squared derivative E[(∂y/∂u)²]",
                "description": "u = ln x (log-uniform inputs) or x; autodiff",
            },
        ),
        "dgsm": (
            dims,
            dgsm,
            {
                "long_name": "DGSM index C ν",
                "description": "C the input's Poincaré constant in u: (b − a)²/π² for a "
                "uniform u (SALib's DGSM), sd² for a normal, min of both for a truncated "
                "normal; a group's is the sum of its members'",
            },
        ),
        "dgsm_conf": (dims, conf, {"long_name": f"DGSM {conf_level:.0%} half-width"}),
        "dgsm_bound": (
            dims,
            bound,
            {
                "units": "1",
                "long_name": "DGSM upper bound of ST",
                "description": "dgsm / Var(y) >= ST (Sobol' & Kucherenko 2009)",
            },
        ),
    }


def bounds_spec(spec: SweepSpec | str | Path | Mapping[str, Any] | None) -> SweepSpec:
    """The spec of a config read for a global analysis, which uses only the axes' ranges.

    The axes are read as the inputs of a sampled design (``start``/``stop``
    with ``spacing``, or a ``dist``; ``group``): ``num`` is not needed and,
    where given, not used (the analysis samples its own rows); the config's
    ``design:`` is ignored.
    """
    if isinstance(spec, SweepSpec):
        return spec
    data = dict(spec) if isinstance(spec, Mapping) else load_config(spec or DEFAULT_CONFIG)
    data.pop("design", None)
    axes = data.get("axes")
    if isinstance(axes, Mapping):
        for k, body in axes.items():
            if isinstance(body, Mapping) and "values" in body:
                raise ConfigError(
                    f"axes.{k} has explicit values: global sensitivity needs a range "
                    "(start and stop; spacing log for log-uniform) or a dist"
                )
        data["axes"] = {
            k: (
                {j: v for j, v in body.items() if j != "num"} if isinstance(body, Mapping) else body
            )
            for k, body in axes.items()
        }
    for k in ("reduce", "keep_full", "chunks"):  # of a grid run; a ranges spec has no grid
        data.pop(k, None)
    return parse_config(data, ranges=True)


def default_samples_store(spec: SweepSpec, method: str) -> str:
    """``results/<name>.<method>-samples.zarr``: where resumable global runs keep outputs."""
    return str(Path(spec.store).with_name(f"{spec.name}.{method}-samples.zarr"))


def samples_config(
    spec: SweepSpec,
    outputs: Sequence[str],
    method: str,
    n: int,
    seed: int,
    second_order: bool,
    num_levels: int,
    store: str | Path,
) -> dict[str, Any]:
    """The sweep config whose design is exactly this analysis' sample rows.

    Built from the spec's resolved config (never from the user's raw input):
    the same parameters, precision, transporters and model choices; the axes'
    ranges without ``num`` (distributions and groups as given); a
    ``saltelli | morris | fast`` design.
    """
    config = config_from_resolved(spec.resolved)
    for k in ("design", "reduce", "keep_full"):
        config.pop(k, None)
    for name, body in config["axes"].items():
        if "values" in body:
            raise ConfigError(
                f"axes.{name} has explicit values: global sensitivity needs a range "
                "(start and stop; spacing log for log-uniform)"
            )
        body.pop("num", None)
    config["outputs"] = list(outputs)
    config["store"] = str(store)
    config["chunks"] = {"sample": int(GLOBAL_CHUNK)}
    config["design"] = {
        "method": {"sobol": "saltelli"}.get(method, method),
        "n": int(n),
        "seed": int(seed),
        "second_order": bool(second_order),
        "levels": int(num_levels),
    }
    return config
