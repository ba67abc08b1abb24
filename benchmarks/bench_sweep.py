"""Dense-grid throughput: `sweep run` versus hand-written numpy + xarray.to_zarr.

The work (the benchmark plan in benchmarks/RESULTS.md, baseline 1): a 4-D float32 grid
(vm × na_i × k_o × cl_i) with five outputs (dG_ncx, v_rev_ncx, mode_ncx,
dG_nkcc1, dG_kcc2) written to a zarr store. Each contender runs in its own
process (peak RSS = that process's ru_maxrss), after a warm-up run, and the
median of ``--repeats`` is reported. Also measured in the same run:

* compute-only rate of the jitted blocks (no store) and the memory-write floor
  (numpy ``fill`` of the same output bytes);
* points/s versus block size;
* 1 versus 2 worker processes (``local:1`` / ``local:2``) and per-block overhead;
* compile time with and without the persistent compilation cache.

Usage: ``python benchmarks/bench_sweep.py [--points 2e8] [--big 8e8] [--repeats 3]``.
Appends a dated section to ``benchmarks/RESULTS.md`` unless ``--no-record``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _machine import machine  # benchmarks/ is on sys.path when a script runs

HERE = Path(__file__).resolve().parent
OUTPUTS = ["dG_ncx", "v_rev_ncx", "mode_ncx", "dG_nkcc1", "dG_kcc2"]


def grid_sizes(points: float) -> tuple[int, int, int, int]:
    """vm × 100 × 100 × 100 for multiples of 1e6 points."""
    n_vm = max(2, round(points / 1e6))
    return (n_vm, 100, 100, 100)


def config(points: float, store: str, chunks: dict | None = None) -> dict:
    n_vm, n_na, n_k, n_cl = grid_sizes(points)
    cfg = {
        "name": "bench",
        "precision": "float32",
        "axes": {
            "vm": {"start": "-120 mV", "stop": "60 mV", "num": n_vm},
            "na_i": {"start": "5 mM", "stop": "50 mM", "num": n_na, "spacing": "log"},
            "k_o": {"start": "2 mM", "stop": "12 mM", "num": n_k, "spacing": "log"},
            "cl_i": {"start": "3 mM", "stop": "60 mM", "num": n_cl, "spacing": "log"},
        },
        "outputs": OUTPUTS,
        "store": store,
    }
    if chunks:
        cfg["chunks"] = chunks
    return cfg


BASELINE = r"""
import json, resource, sys, time
t0 = time.perf_counter()
import numpy as np, xarray as xr
cfg = json.loads(sys.argv[1])
R, F, T = 8.31446261815324, 96485.3321233100184, 310.0
RT = R * T / 1e3          # kJ/mol
FV = F / 1e6              # kJ/mol per mV
ax = cfg["axes"]
def axis(a):
    lo, hi = float(a["start"].split()[0]), float(a["stop"].split()[0])
    return (np.geomspace if a.get("spacing") == "log" else np.linspace)(lo, hi, a["num"]).astype(np.float32)
vm, na_i, k_o, cl_i = (axis(ax[k]) for k in ("vm", "na_i", "k_o", "cl_i"))
na_o, ca_i, ca_o, k_i, cl_o = 145.0, 1e-4, 2.0, 140.0, 130.0
V = vm[:, None, None, None]; NA = na_i[None, :, None, None]
K = k_o[None, None, :, None]; CL = cl_i[None, None, None, :]
shape = (len(vm), len(na_i), len(k_o), len(cl_i))
chem_ncx = RT * (3 * np.log(NA / na_o) - np.log(ca_i / ca_o))
dG_ncx = np.broadcast_to((chem_ncx + FV * V).astype(np.float32), shape)
v_rev = np.broadcast_to((-chem_ncx / FV).astype(np.float32), shape)
mode = np.where(dG_ncx < -1e-3, 1, np.where(dG_ncx > 1e-3, -1, 0)).astype(np.int8)
dG_nkcc1 = np.broadcast_to((RT * (np.log(NA / na_o) + np.log(k_i / K) + 2 * np.log(CL / cl_o))).astype(np.float32), shape)
dG_kcc2 = np.broadcast_to((RT * (np.log(K / k_i) + np.log(cl_o / CL))).astype(np.float32), shape)
dims = ("vm", "na_i", "k_o", "cl_i")
ds = xr.Dataset(
    {n: (dims, np.ascontiguousarray(a)) for n, a in
     dict(dG_ncx=dG_ncx, v_rev_ncx=v_rev, mode_ncx=mode, dG_nkcc1=dG_nkcc1, dG_kcc2=dG_kcc2).items()},
    coords={"vm": vm, "na_i": na_i, "k_o": k_o, "cl_i": cl_i},
)
t1 = time.perf_counter()
ds.to_zarr(cfg["store"], mode="w", zarr_format=3, consolidated=True)
t2 = time.perf_counter()
print(json.dumps({"seconds": t2 - t0, "compute": t1 - t0,
                  "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

SWEEP = r"""
import json, resource, sys, time
t0 = time.perf_counter()
from sweep import parse_config, run
t_import = time.perf_counter() - t0
spec = parse_config(json.loads(sys.argv[1]))
t1 = time.perf_counter()
res = run(spec, overwrite=True, scheduler=sys.argv[2], progress=False)
assert res.complete
t2 = time.perf_counter()
print(json.dumps({"seconds": t2 - t0, "loop": res.seconds, "import": t_import,
                  "outside_loop": t2 - t1 - res.seconds,
                  "n_blocks": res.n_blocks,
                  "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

COMPUTE = r"""
import json, sys, time
import numpy as np
from sweep import parse_config
from sweep.plan import Plan
from sweep.execute import BlockRunner
cfg = json.loads(sys.argv[1])
spec = parse_config(cfg)
out = {}
for bs in json.loads(sys.argv[2]):
    plan = Plan(spec, tuple(bs))
    t = time.perf_counter(); r = BlockRunner(plan); r.compute(0); compile_s = time.perf_counter() - t
    nb = min(plan.n_blocks, max(4, int(4e7 // plan.points_per_block)))
    times = []
    for rep in range(3):
        t = time.perf_counter()
        for b in range(nb):
            r.compute(b)
        times.append(time.perf_counter() - t)
    out[str(bs)] = {"points_per_s": nb * plan.points_per_block / min(times), "compile_s": compile_s}
nbytes = spec.n_points * (4 * 4 + 1)
a = np.ones(nbytes // 4, dtype=np.float32)  # touch the pages first
t = time.perf_counter(); a.fill(2.0); fill = time.perf_counter() - t
out["fill_GBps"] = nbytes / fill / 1e9
out["fill_points_per_s"] = spec.n_points / fill
print(json.dumps(out))
"""

COMPILE = r"""
import json, os, sys, time
t = time.perf_counter()
from sweep import parse_config
from sweep.plan import make_plan
from sweep.execute import BlockRunner
spec = parse_config(json.loads(sys.argv[1]))
r = BlockRunner(make_plan(spec))
t1 = time.perf_counter(); r.compute(0); t2 = time.perf_counter()
print(json.dumps({"first_block_s": t2 - t1}))
"""


def child(code: str, *args: str, env: dict | None = None) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-2000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def median_of(code: str, repeats: int, *args: str, env: dict | None = None) -> dict:
    child(code, *args, env=env)  # warm-up (page cache, persistent compile cache)
    runs = [child(code, *args, env=env) for _ in range(repeats)]
    keys = runs[0].keys()
    return {k: statistics.median(r[k] for r in runs) for k in keys}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=float, default=2e8)
    ap.add_argument("--big", type=float, default=8e8, help="second grid for peak memory (0: skip)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--no-record", action="store_true")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench-sweep-"))
    lines: list[str] = []

    def say(s: str) -> None:
        print(s, flush=True)
        lines.append(s)

    try:
        say(f"machine: {machine()}")
        n = args.points
        shape = grid_sizes(n)
        pts = shape[0] * shape[1] * shape[2] * shape[3]
        say(
            f"grid: {' × '.join(map(str, shape))} = {pts:.3g} points, float32, outputs {', '.join(OUTPUTS)}"
        )
        base_cfg = config(n, str(tmp / "base.zarr"))
        sw_cfg = config(n, str(tmp / "sweep.zarr"))
        # alternating (a noisy shared machine slows both alike), after one warm-up each
        child(BASELINE, json.dumps(base_cfg))
        child(SWEEP, json.dumps(sw_cfg), "threads")
        pairs = [
            (child(BASELINE, json.dumps(base_cfg)), child(SWEEP, json.dumps(sw_cfg), "threads"))
            for _ in range(args.repeats)
        ]
        shutil.rmtree(tmp / "base.zarr", ignore_errors=True)
        base = {k: statistics.median(b[k] for b, _ in pairs) for k in pairs[0][0]}
        sw = {k: statistics.median(s[k] for _, s in pairs) for k in pairs[0][1]}
        worst = min(b["seconds"] / s["seconds"] for b, s in pairs)
        runs = ", ".join(f"{b['seconds']:.2f}/{s['seconds']:.2f}" for b, s in pairs)
        say(
            f"numpy+xarray.to_zarr : {base['seconds']:.2f} s end to end "
            f"({pts / base['seconds'] / 1e6:.1f} M points/s), peak RSS {base['rss_mib']:.0f} MiB"
        )
        say(
            f"sweep run (threads)  : {sw['seconds']:.2f} s end to end incl. imports "
            f"({pts / sw['seconds'] / 1e6:.1f} M points/s; block loop {sw['loop']:.2f} s, "
            f"{sw['n_blocks']:.0f} blocks), peak RSS {sw['rss_mib']:.0f} MiB"
        )
        say(
            f"ratio                : {base['seconds'] / sw['seconds']:.2f}x faster end to end "
            f"(median), {worst:.2f}x in the worst of {args.repeats} alternating pairs "
            f"(numpy/sweep s: {runs}), "
            f"{base['rss_mib'] / sw['rss_mib']:.1f}x less peak memory"
        )
        say(
            f"sweep run phases     : import of sweep {sw['import']:.2f} s, block loop "
            f"{sw['loop']:.2f} s, rest of run() {sw['outside_loop']:.2f} s (template, "
            "finalize); numpy+xarray compute "
            f"{base['compute']:.2f} s, to_zarr {base['seconds'] - base['compute']:.2f} s"
        )
        for sched in ("local:1", "local:2"):
            r = median_of(SWEEP, 1, json.dumps(sw_cfg), sched)
            say(
                f"sweep run ({sched})  : {r['seconds']:.2f} s end to end, block loop {r['loop']:.2f} s "
                f"({pts / r['loop'] / 1e6:.1f} M points/s), peak RSS (driver) {r['rss_mib']:.0f} MiB"
            )
        if args.big:
            big_cfg = config(args.big, str(tmp / "big.zarr"))
            big_pts = args.big
            r = child(SWEEP, json.dumps(big_cfg), "threads")
            say(
                f"sweep run {big_pts:.0e} pts : {r['seconds']:.2f} s end to end "
                f"({big_pts / r['seconds'] / 1e6:.1f} M points/s), peak RSS {r['rss_mib']:.0f} MiB"
            )
            shutil.rmtree(tmp / "big.zarr", ignore_errors=True)
        blocks = [
            [2, 100, 100, 100],
            [4, 100, 100, 100],
            [10, 100, 100, 100],
            [20, 100, 100, 100],
            [40, 100, 100, 100],
            [2, 10, 100, 100],
            [4, 25, 100, 100],
        ]
        comp = child(COMPUTE, json.dumps(sw_cfg), json.dumps(blocks))
        say(
            f"memory-write floor   : numpy fill {comp['fill_GBps']:.1f} GB/s = "
            f"{comp['fill_points_per_s'] / 1e6:.0f} M points/s for these outputs"
        )
        for bs in blocks:
            c = comp[str(bs)]
            say(
                f"compute only, block {'x'.join(map(str, bs)):>14} ({bs[0] * bs[1] * bs[2] * bs[3] / 1e6:5.2f} M pts): "
                f"{c['points_per_s'] / 1e6:7.1f} M points/s "
                f"({c['points_per_s'] / comp['fill_points_per_s']:.2f} of the floor), "
                f"compile {c['compile_s']:.2f} s"
            )
        cache = tmp / "jaxcache"
        small = config(1e6, str(tmp / "small.zarr"))
        cold = child(COMPILE, json.dumps(small), env={"SWEEP_JAX_CACHE": "off"})
        child(COMPILE, json.dumps(small), env={"SWEEP_JAX_CACHE": str(cache)})
        warm = child(COMPILE, json.dumps(small), env={"SWEEP_JAX_CACHE": str(cache)})
        say(
            f"first block (compile): {cold['first_block_s']:.3f} s without the persistent cache, "
            f"{warm['first_block_s']:.3f} s with it ({cold['first_block_s'] / warm['first_block_s']:.1f}x)"
        )
        per_block = child(
            SWEEP,
            json.dumps(
                config(
                    1e6, str(tmp / "pb.zarr"), chunks={"vm": 2, "na_i": 2, "k_o": 100, "cl_i": 100}
                )
            ),
            "threads",
        )
        say(
            f"per-block overhead   : {per_block['loop'] / per_block['n_blocks'] * 1e3:.2f} ms per block "
            f"({per_block['n_blocks']:.0f} blocks of 40,000 points, compute+write+marker)"
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if not args.no_record:
        with open(HERE / "RESULTS.md", "a", encoding="utf-8") as f:
            f.write(
                f"\n## {time.strftime('%Y-%m-%d')} — bench_sweep.py (dense grid vs numpy+xarray)\n\n"
            )
            f.write("```\n" + "\n".join(lines) + "\n```\n")


if __name__ == "__main__":
    main()
