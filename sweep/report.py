"""Text reports: tables and summaries printed by the CLI (figures live in :mod:`sweep.plot`).

Every function returns text (no printing), so the CLI, the docs generator and
notebooks share them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from kernels.registry import REGISTRY, Registry

from .plan import Plan
from .units import display_unit, format_quantity, human_bytes, pretty_unit

__all__ = [
    "registry_table",
    "store_summary",
    "status_report",
    "plan_report",
    "ranked_table",
    "local_summary",
    "block_ranges",
]

#: Above this many points, reading a store back for a summary costs more than the run.
SUMMARY_MAX_POINTS = 10_000_000
#: SALib's default confidence level (the ranked table's fallback label).
_CONF_LEVEL = 0.95


def registry_table(fmt: str = "text", registry: Registry | None = None) -> str:
    """The registry as text, markdown or json (``sweep list`` and the docs)."""
    reg = registry or REGISTRY
    ins = [
        {
            "name": i.name,
            "unit": i.unit,
            "default": i.default,
            "range": i.allowed().removeprefix("must be "),
            "meaning": i.description,
            "reference": i.reference,
        }
        for i in reg.inputs.values()
    ]
    outs = [
        {
            "name": o.name,
            "unit": o.unit,
            "type": "int8" if o.dtype == "int8" else "float",
            "meaning": o.description,
        }
        for o in reg.outputs.values()
    ]
    if fmt == "json":
        return json.dumps({"inputs": ins, "outputs": outs}, indent=2, ensure_ascii=False)
    if fmt == "markdown":
        lines = [
            "## Inputs",
            "",
            "| name | unit | default | range | meaning |",
            "|---|---|---|---|---|",
        ]
        for i in ins:
            lines.append(
                f"| `{i['name']}` | {i['unit'] or '—'} | {i['default']:g} | {i['range']} | "
                f"{i['meaning']} |"
            )
        lines += ["", "## Outputs", "", "| name | unit | type | meaning |", "|---|---|---|---|"]
        for o in outs:
            lines.append(f"| `{o['name']}` | {o['unit'] or '—'} | {o['type']} | {o['meaning']} |")
        return "\n".join(lines) + "\n"
    lines = ["INPUTS"]
    lines.append(f"  {'name':<18} {'unit':<18} {'default':>10}  {'range':<16} meaning")
    for i in ins:
        f, _ = display_unit(i["unit"], [i["default"]])
        # a small concentration's default in display units (100 nM), else in the stored unit
        d = format_quantity(i["default"], i["unit"]) if f != 1.0 else f"{i['default']:.4g}"
        lines.append(
            f"  {i['name']:<18} {i['unit'] or '-':<18} {d:>10}  {i['range']:<16} {i['meaning']}"
        )
    lines += ["", "OUTPUTS", f"  {'name':<22} {'unit':<10} {'type':<6} meaning"]
    for o in outs:
        lines.append(f"  {o['name']:<22} {o['unit'] or '-':<10} {o['type']:<6} {o['meaning']}")
    return "\n".join(lines)


def store_summary(path: str | Path, n_points: int, max_points: int = SUMMARY_MAX_POINTS) -> str:
    """Per variable: mode fractions, value range or code counts ('' for big stores)."""
    if n_points > max_points:  # reading it back would cost more than the run
        return ""
    import xarray as xr  # lazy: xarray takes ~1 s to import; only a finished run needs it

    ds = xr.open_zarr(path)
    dims = ", ".join(f"{d}={ds.sizes[d]}" for d in ds.dims)
    lines = [f"summary ({dims}):"]
    w = max([28, *(len(str(n)) + 1 for n in ds.data_vars)])
    for name, v in ds.data_vars.items():
        a = v.values
        unit = v.attrs.get("units", "")
        if a.dtype == np.int8 and name.startswith(("mode_", "gaba_polarity")):
            fr = {k: float(np.mean(a == k)) for k in (1, -1, 0)}
            lab = (
                ("forward", "reverse", "equilibrium")
                if name.startswith("mode_")
                else ("depolarizing", "hyperpolarizing", "neutral")
            )
            txt = ", ".join(f"{lab[i]} {fr[k]:.1%}" for i, k in enumerate((1, -1, 0)))
            lines.append(f"  {name:<{w}} {txt}")
        elif a.dtype.kind == "f":
            ok = np.isfinite(a)
            if ok.any():
                lines.append(f"  {name:<{w}} {np.min(a[ok]):12.5g} … {np.max(a[ok]):<12.5g} {unit}")
            else:
                lines.append(f"  {name:<{w}} all NaN")
        elif a.dtype.itemsize > 1:  # counts (e.g. n_steps_tc): their range, not every value
            rng = f"{int(a.min()):12d} … {int(a.max()):<12d}"
            u = "" if unit in ("", "1") else f" {unit}"
            lines.append(f"  {name:<{w}} {rng} mean {float(a.mean()):.4g}{u}")
        else:  # int8 codes (status, classes): how many of each
            vals, counts = np.unique(a, return_counts=True)
            txt = ", ".join(f"{int(v)}: {c}" for v, c in zip(vals, counts, strict=True))
            lines.append(f"  {name:<{w}} {txt}")
    return "\n".join(lines)


def block_ranges(xs: list[int]) -> str:
    """``[0, 1, 2, 5]`` → ``'0-2, 5'``."""
    if not xs:
        return "none"
    out, start, prev = [], xs[0], xs[0]
    for x in xs[1:] + [None]:
        if x is not None and x == prev + 1:
            prev = x
            continue
        out.append(f"{start}" if start == prev else f"{start}-{prev}")
        if x is not None:
            start = prev = x
    return ", ".join(out)


def status_report(st: dict[str, Any]) -> str:
    """``sweep status``: blocks done / missing / failed of :func:`sweep.manifest.store_status`."""
    lines = [
        f"store     {st['store']}  ({st['name']}, created {st['created']})",
        f"blocks    {st['done']} done of {st['n_blocks']}",
        f"missing   {len(st['missing'])}: {block_ranges(st['missing'])}",
        f"failed    {len(st['failed'])}",
    ]
    for b, err in st["failed"].items():
        lines.append(f"  block {b}: {err}")
    lines.append(f"complete  {'yes' if st['complete'] else 'no'}")
    return "\n".join(lines)


def plan_report(plan: Plan, path: Path, free: int) -> str:
    """``sweep plan``: points, dims, chunks, bytes, free disk, outputs and reductions."""
    spec = plan.spec
    desc = (spec.description or "").strip()
    lines = [f"sweep     {spec.name}" + (f": {desc}" if desc else "")]
    kind = f"{spec.design.method} design, seed {spec.design.seed}" if spec.design else "grid"
    lines.append(f"points    {spec.n_points:,} ({kind}, {spec.precision})")
    for a in spec.axes:
        lo, hi = (a.start, a.stop) if a.bounded else (a.values.min(), a.values.max())
        f, du = display_unit(a.unit, [lo, hi])  # nM/µM for small concentrations
        u = f" {du}" if du else ""
        how = a.spacing if not a.dist else a.dist  # a distribution: its support below
        grp = f", group {a.group}" if a.group else ""
        lines.append(
            f"  {a.name:<14} {how:<7} {lo * f:.6g} … {hi * f:.6g}{u}  "
            f"({a.size if not spec.design else 'sampled'}{grp})"
        )
    dims = " × ".join(f"{d}={n}" for d, n in zip(plan.dims, plan.shape, strict=True))
    tc = spec.timecourse
    if spec.times is not None:
        dims += f" (× time={spec.times.size} for the *_tc series)"
    lines.append(f"dims      {dims}")
    if tc:
        pulse = f" of {tc['duration']:g} s" if tc["protocol"] == "pulse" else ""
        before = ", ".join(
            f"{k} {format_quantity(v, spec.registry.inputs[k].unit)}"
            for k, v in tc["before"].items()
        )
        lines.append(
            f"timecourse {tc['system']}: {tc['protocol']}{pulse} from the steady state of "
            f"({before or 'the point itself'}) to each point at t = 0, until {tc['t_end']:g} s"
        )
        times = spec.times
        when = f"{times.size} times {times[0]:g} … {times[-1]:g} s" if times is not None else "none"
        lines.append(
            f"           outputs at {when}; {tc['solver']} rtol {tc['rtol']:g} atol "
            f"{tc['atol']:g}, ≤ {tc['max_steps']:,} steps, summary grid {tc['grid_points']}"
        )
    chunks = " × ".join(str(c) for c in plan.block_shape)
    lines.append(
        f"chunks    {chunks}  ({plan.n_blocks:,} block{'' if plan.n_blocks == 1 else 's'} "
        f"of ≤ {plan.points_per_block:,} points)"
    )
    need = plan.output_bytes()
    lines.append(
        f"bytes     at most {human_bytes(need)} (uncompressed: an upper bound); "
        f"{human_bytes(free)} free at {path}"
    )
    lines.append("outputs")
    for o in spec.outputs:
        spec_o = spec.registry.outputs[o]
        lines.append(
            f"  {o:<22} {str(spec.output_dtype(o)):<8} {pretty_unit(spec_o.unit) or '-':<8} "
            f"{spec_o.long_name}"
        )
    for r in spec.reduce:
        lines.append(f"reduce    {r.output}: {', '.join(r.stats)} over {', '.join(r.over)}")
    if not spec.keep_full:
        lines.append("keep_full false: only the reductions are stored")
    lines.append(f"store     {path}{' (exists)' if path.exists() else ''}")
    return "\n".join(lines)


def convergence_report(ds: Any, max_rows: int = 8) -> str:
    """Sobol' ST of each output and input against the base samples N (from one design).

    Stable digits down a column mean N is large enough; the last row is the
    full estimate, the ± its bootstrap half-width.
    """
    if "ST_by_n" not in ds:
        return ""
    ns = [int(v) for v in ds["n_base"].values][-max_rows:]
    st = np.asarray(ds["ST_by_n"].values)[-max_rows:]
    conf = np.asarray(ds["ST_conf_by_n"].values)[-max_rows:]
    inputs = [str(x) for x in ds["input"].values]
    lines = ["convergence of ST over the base samples N (same evaluations)"]
    for i, o in enumerate(str(x) for x in ds["output"].values):
        lines.append("")
        lines.append(f"{o}")
        lines.append(f"  {'N':>7} " + " ".join(f"{x:>16}" for x in inputs))
        for a, n in enumerate(ns):
            cells = " ".join(
                f"{st[a, i, j]:7.3f} ± {conf[a, i, j]:6.3f}" for j in range(len(inputs))
            )
            lines.append(f"  {n:>7} {cells}")
    return "\n".join(lines)


def ranked_table(ds: Any) -> str:
    """Per output, the inputs (or factor groups) ranked by ST (Sobol', eFAST) or μ* (Morris),
    as plain text."""
    method = ds.attrs.get("method", "sobol" if "ST" in ds else "morris")
    conf = float(ds.attrs.get("conf_level", _CONF_LEVEL))
    scale = [str(s) for s in ds["input_scale"].values] if "input_scale" in ds.coords else None
    n_eval = ds.attrs.get("n_evaluations")
    evals = f", {int(n_eval):,} model evaluations" if n_eval is not None else ""
    lines = [f"{method} indices{evals}; ± = {conf:.0%} bootstrap half-width"]
    inputs = [str(x) for x in ds["input"].values]
    for i, o in enumerate(str(x) for x in ds["output"].values):
        unit = str(ds["output_units"].values[i]) if "output_units" in ds.coords else ""
        lines.append("")
        lines.append(f"{o}" + (f" ({unit})" if unit else ""))
        if method in ("sobol", "fast"):  # eFAST has S1 and ST as Sobol'
            st = ds["ST"].values[i]
            if not np.isfinite(st).any():
                lines.append("  constant over the ranges: indices undefined")
                continue
            order = np.argsort(-np.nan_to_num(st, nan=-np.inf), kind="stable")
            lines.append(f"  {'rank':<5} {'input':<16} {'scale':<7} {'S1':>17} {'ST':>17}")
            for r, j in enumerate(order, 1):
                s1 = f"{ds['S1'].values[i, j]:.3f} ± {ds['S1_conf'].values[i, j]:.3f}"
                stt = f"{st[j]:.3f} ± {ds['ST_conf'].values[i, j]:.3f}"
                sc = scale[j] if scale else ""
                lines.append(f"  {r:<5} {inputs[j]:<16} {sc:<7} {s1:>17} {stt:>17}")
        else:
            ms = ds["mu_star"].values[i]
            order = np.argsort(-np.nan_to_num(ms, nan=-np.inf), kind="stable")
            lines.append(
                f"  {'rank':<5} {'input':<16} {'scale':<7} {'mu_star':>22} {'sigma':>11} {'mu':>11}"
            )
            for r, j in enumerate(order, 1):
                m = f"{ms[j]:.4g} ± {ds['mu_star_conf'].values[i, j]:.2g}"
                sc = scale[j] if scale else ""
                lines.append(
                    f"  {r:<5} {inputs[j]:<16} {sc:<7} {m:>22} {ds['sigma'].values[i, j]:>11.4g} "
                    f"{ds['mu'].values[i, j]:>11.4g}"
                )
    return "\n".join(lines)


def local_summary(ds: Any, max_points: int = SUMMARY_MAX_POINTS) -> str:
    """Per output and input: the range of the local sensitivities over the grid (text).

    Skipped (one line) above ``max_points`` grid points, where reading the
    store back would cost more than computing it.
    """
    npts = int(np.prod([n for d, n in ds.sizes.items() if d != "wrt"], dtype=np.int64))
    if npts > max_points:
        return f"{npts:,} points: summary skipped (open the store with xarray)"
    lines = []
    wrt = [str(w) for w in ds["wrt"].values]
    units = [str(u) for u in ds["wrt_units"].values]
    scale = [str(s) for s in ds["wrt_scale"].values]
    try:
        order = json.loads(ds.attrs.get("sensitivity", "{}")).get("outputs", [])
    except (TypeError, ValueError):
        order = []
    names = [f"sens_{o}" for o in order if f"sens_{o}" in ds.data_vars]
    names += [str(v) for v in ds.data_vars if str(v).startswith("sens_") and v not in names]
    for name in names:
        v = ds[name]
        o = v.attrs.get("output", str(name)[5:])
        num = f"ln {o}" if v.attrs.get("output_scale") == "log" else o
        nu = v.attrs.get("units", "")
        lines.append(f"{name}: ∂({num})/∂X over {int(np.prod(v.shape[1:]))} points")
        lines.append(f"  {'X':<18} {'min':>12} {'median':>12} {'max':>12}  unit         non-finite")
        a = np.asarray(v.values, dtype=np.float64)
        by = v.attrs.get("units_by_wrt") or {}
        for i, w in enumerate(wrt):
            x = f"ln {w}" if scale[i] == "log" else w
            unit = by.get(w) or _ratio_unit(nu, units[i])
            row = a[i].ravel()
            ok = np.isfinite(row)
            bad = int(row.size - ok.sum())
            if ok.any():
                lo, med, hi = np.min(row[ok]), np.median(row[ok]), np.max(row[ok])
                lines.append(f"  {x:<18} {lo:12.5g} {med:12.5g} {hi:12.5g}  {unit:<12} {bad or ''}")
            else:
                lines.append(f"  {x:<18} {'all non-finite':>38}  {unit:<12} {bad}")
    return "\n".join(lines)


def _ratio_unit(num: str, den: str) -> str:
    if not num and not den:
        return "1"
    if not den:
        return num
    if any(c in den for c in "/* "):
        den = f"({den})"
    return f"{num or '1'}/{den}"
