"""Summaries of maps too big to store: fused reductions versus hand-written numpy slabs.

benchmarks.md item 5 and issue 16. Measured side by side in one run, each contender in
its own fresh process (imports included), alternating, after a warm-up run:

* **6-D mode map**, reductions only (``keep_full: false``), float64: vm × na_i 100 ×
  ca_i 100 (log) × k_o 10 × cl_i 10 × ca_o 10 (vm 100: 10⁹ points; vm 1000:
  10¹⁰), outputs ``mode_ncx`` and ``gaba_polarity``; ``fraction_reverse`` of
  mode_ncx over ca_i, k_o, cl_i, ca_o and ``fraction_depolarizing`` of
  gaba_polarity over vm, ca_i, ca_o.

  - baseline: numpy broadcasting one vm slab (10⁷ points) at a time, written by
    hand, computing the same two mode fractions (the same formulas and
    tolerances as the kernels, float64);
  - ``sweep run`` (the Python API, a fresh store each run);
  - at 10⁹ only: the engine's previous path (each block's fields computed whole
    at the write-sized blocks of a dense sweep, then reduced in numpy), for the
    record of what fusing changed.

  Agreement: the largest absolute difference of the two fractions against the
  baseline.
* **Ca²⁺ steady state**, float64, reductions only through ``sweep run``: vm ×
  na_i (``--ca-points``, default 10⁸), ``ca_i_ss`` min, max, mean over na_i; the
  fused path versus the previous one in the same run (both: points/s).

Usage: ``python benchmarks/bench_reduce.py [--repeats 3] [--big 1] [--ca-points 1e8]
[--no-record]``. Appends a dated section to ``benchmarks/RESULTS.md`` unless ``--no-record``.
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

import numpy as np
from _machine import machine  # benchmarks/ is on sys.path when a script runs

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def map_config(n_vm: int, store: str) -> dict:
    """The 6-D reductions-only mode map (10⁷ · n_vm points)."""
    return {
        "name": "map6",
        "precision": "float64",
        "axes": {
            "vm": {"start": "-120 mV", "stop": "40 mV", "num": n_vm},
            "na_i": {"start": "5 mM", "stop": "50 mM", "num": 100, "spacing": "log"},
            "ca_i": {"start": "20 nM", "stop": "10 uM", "num": 100, "spacing": "log"},
            "k_o": {"start": "2 mM", "stop": "12 mM", "num": 10, "spacing": "log"},
            "cl_i": {"start": "3 mM", "stop": "60 mM", "num": 10, "spacing": "log"},
            "ca_o": {"start": "0.5 mM", "stop": "4 mM", "num": 10, "spacing": "log"},
        },
        "outputs": ["mode_ncx", "gaba_polarity"],
        "reduce": [
            {
                "output": "mode_ncx",
                "stats": ["fraction_reverse"],
                "over": ["ca_i", "k_o", "cl_i", "ca_o"],
            },
            {
                "output": "gaba_polarity",
                "stats": ["fraction_depolarizing"],
                "over": ["vm", "ca_i", "ca_o"],
            },
        ],
        "keep_full": False,
        "store": store,
    }


def ca_config(points: float, store: str) -> dict:
    n = max(2, round(points**0.5))
    return {
        "name": "ca_ss",
        "precision": "float64",
        "axes": {
            "vm": {"start": "-90 mV", "stop": "0 mV", "num": n},
            "na_i": {"start": "5 mM", "stop": "30 mM", "num": n},
        },
        "outputs": ["ca_i_ss"],
        "reduce": [{"output": "ca_i_ss", "stats": ["min", "max", "mean"], "over": ["na_i"]}],
        "keep_full": False,
        "store": store,
    }


BASELINE = r"""
import json, sys, time
t0 = time.perf_counter()
import numpy as np
cfg = json.loads(sys.argv[1])
R, F, T = 8.31446261815324, 96485.3321233100184, 310.0
RT = R * T / 1e3                     # kJ/mol
FV = F / 1e6                         # kJ/mol per mV
RTF = R * T / F * 1e3                # mV
tol = 1e-3                           # mode_tolerance, kJ/mol
tol_mv = tol / FV
na_o, cl_o, hco3_i, hco3_o, r = 145.0, 130.0, 16.0, 26.0, 0.2
UNIT = {"mV": 1.0, "mM": 1.0, "uM": 1e-3, "nM": 1e-6}   # to the stored units (mV, mM)
def axis(a):
    lo, hi = (float(a[k].split()[0]) * UNIT[a[k].split()[1]] for k in ("start", "stop"))
    return (np.geomspace if a.get("spacing") == "log" else np.linspace)(lo, hi, a["num"])
ax = cfg["axes"]
vm, na_i, ca_i, k_o, cl_i, ca_o = (axis(ax[k]) for k in ("vm", "na_i", "ca_i", "k_o", "cl_i", "ca_o"))
one, minus = np.int8(1), np.int8(-1)
NA = na_i[:, None, None, None, None]; CA = ca_i[None, :, None, None, None]
CL = cl_i[None, None, None, :, None]; CAO = ca_o[None, None, None, None, :]
slab = (len(na_i), len(ca_i), len(k_o), len(cl_i), len(ca_o))
chem = RT * (3 * np.log(NA / na_o) - np.log(CA / CAO))
e_gaba = RTF * (np.log(CL + r * hco3_i) - np.log(cl_o + r * hco3_o))
rev = np.empty((len(vm), len(na_i)))
dep = np.zeros((len(na_i), len(k_o), len(cl_i)))
for i, v in enumerate(vm):
    # the two int8 mode fields of this slab (10^7 points each), then their fractions
    dG = np.broadcast_to(chem + FV * v, slab)
    mode = (dG < -tol).view(np.int8) - (dG > tol).view(np.int8)  # +1 / -1 / 0
    rev[i] = np.count_nonzero(mode == minus, axis=(1, 2, 3, 4)) / (mode[0].size)
    df = np.broadcast_to(e_gaba - v, slab)
    pol = (df > tol_mv).view(np.int8) - (df < -tol_mv).view(np.int8)
    dep += np.count_nonzero(pol == one, axis=(1, 4))
dep /= len(vm) * len(ca_i) * len(ca_o)
t1 = time.perf_counter()
np.savez(sys.argv[2], rev=rev, dep=dep)
print(json.dumps({"seconds": t1 - t0}))
"""

SWEEP = r"""
import json, sys, time
t0 = time.perf_counter()
mode = sys.argv[3]
import sweep.plan as P
if mode == "previous":  # the engine's path before fusing: dense blocks, reduced in numpy
    import sweep.execute as E
    P._fused_chunks = lambda spec, bb: P._auto_chunks(spec.shape, P.bytes_per_point(spec), bb)
    init = E.BlockRunner.__init__
    E.BlockRunner.__init__ = lambda self, plan, point=None, fused=None: init(self, plan, point, fused=False)
from sweep import parse_config, run
spec = parse_config(json.loads(sys.argv[1]))
t1 = time.perf_counter()
res = run(spec, scheduler="threads", progress=False)
t2 = time.perf_counter()
assert res.complete
import zarr
g = zarr.open_group(spec.store, mode="r")
np_out = {k: g[k][...] for k in json.loads(sys.argv[2])}
import numpy as np
np.savez(spec.store + ".npz", **np_out)
print(json.dumps({"seconds": t2 - t0, "run": t2 - t1, "loop": res.seconds,
                  "n_blocks": res.n_blocks}))
"""


def child(code: str, *args: str) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, check=False
    )
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3, help="alternating runs at 10⁹ points")
    ap.add_argument("--big", type=int, default=1, help="alternating runs at 10¹⁰ (0: skip)")
    ap.add_argument("--ca-points", type=float, default=1e8, help="Ca²⁺ grid (0: skip)")
    ap.add_argument("--no-record", action="store_true")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-reduce-"))
    lines: list[str] = []

    def say(s: str) -> None:
        print(s, flush=True)
        lines.append(s)

    names = ["mode_ncx_fraction_reverse", "gaba_polarity_fraction_depolarizing"]
    runs = [0]

    def engine(cfg: dict, mode: str = "fused") -> dict:
        runs[0] += 1
        cfg = {**cfg, "store": str(tmp / f"s{runs[0]}.zarr")}
        r = child(SWEEP, json.dumps(cfg), json.dumps(names_of(cfg)), mode)
        r["arrays"] = dict(np.load(cfg["store"] + ".npz"))
        shutil.rmtree(cfg["store"], ignore_errors=True)
        return r

    def names_of(cfg: dict) -> list[str]:
        return [f"{r['output']}_{s}" for r in cfg["reduce"] for s in r["stats"]]

    def baseline(cfg: dict) -> dict:
        f = tmp / "base.npz"
        r = child(BASELINE, json.dumps(cfg), str(f))
        r["arrays"] = dict(np.load(f))
        return r

    try:
        say(f"machine: {machine()}")
        for n_vm, reps in ((100, args.repeats), (1000, args.big)):
            if reps <= 0:
                continue
            cfg = map_config(n_vm, "")
            pts = 10**7 * n_vm
            say(
                f"6-D mode map, {pts:.0e} points (vm {n_vm} × na_i 100 × ca_i 100 × k_o 10 × "
                "cl_i 10 × ca_o 10), float64, reductions only"
            )
            engine(cfg)  # warm-up: page cache, persistent compile cache
            base_t, eng = [], []
            for _ in range(reps):  # alternating
                b = baseline(cfg)
                base_t.append(b["seconds"])
                eng.append(engine(cfg))
            e_t = [e["seconds"] for e in eng]
            diff = max(
                float(np.max(np.abs(eng[-1]["arrays"][n] - b["arrays"][k])))
                for n, k in zip(names, ("rev", "dep"), strict=True)
            )
            e0 = eng[-1]
            say(
                f"  numpy slabs          : median {statistics.median(base_t):.2f} s "
                f"({pts / statistics.median(base_t) / 1e6:,.0f} M points/s), runs "
                + ", ".join(f"{t:.2f}" for t in base_t)
            )
            say(
                f"  sweep run (fused)    : median {statistics.median(e_t):.2f} s end to end incl. "
                f"imports ({pts / statistics.median(e_t) / 1e6:,.0f} M points/s), runs "
                + ", ".join(f"{t:.2f}" for t in e_t)
                + f"; run() {e0['run']:.2f} s, block loop {e0['loop']:.2f} s, "
                f"{e0['n_blocks']} blocks"
            )
            say(
                f"  ratio                : {statistics.median(base_t) / statistics.median(e_t):.1f}x "
                f"(median), worst engine vs best baseline "
                f"{min(base_t) / max(e_t):.1f}x; max |difference| of the fractions {diff:.1e}"
            )
            if n_vm == 100:
                prev = engine(cfg, "previous")
                say(
                    f"  previous path        : {prev['seconds']:.2f} s end to end (run() "
                    f"{prev['run']:.2f} s, {prev['n_blocks']} blocks): fused is "
                    f"{prev['seconds'] / statistics.median(e_t):.1f}x faster"
                )
        if args.ca_points:
            cfg = ca_config(args.ca_points, "")
            n = cfg["axes"]["vm"]["num"] ** 2
            say(f"Ca²⁺ steady state ca_i_ss, {n:.2g} points (vm × na_i), float64, min/max/mean")
            engine(cfg)  # warm-ups: the persistent compile cache then holds both shapes
            engine(cfg, "previous")
            fused = engine(cfg)
            prev = engine(cfg, "previous")
            same = all(
                np.allclose(fused["arrays"][k], prev["arrays"][k], rtol=1e-12, equal_nan=True)
                for k in fused["arrays"]
            )
            for label, r in (("fused", fused), ("previous path", prev)):
                say(
                    f"  sweep run ({label:<13}): {r['seconds']:.2f} s end to end "
                    f"({n / r['seconds'] / 1e6:.1f} M points/s; block loop {r['loop']:.2f} s = "
                    f"{n / r['loop'] / 1e6:.1f} M points/s, {r['n_blocks']} blocks)"
                )
            say(f"  same statistics (rtol 1e-12): {same}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if not args.no_record:
        with open(HERE / "RESULTS.md", "a", encoding="utf-8") as f:
            f.write(
                f"\n## {time.strftime('%Y-%m-%d')} — bench_reduce.py (fused reductions vs "
                "numpy slabs; Ca²⁺ steady state reductions only)\n\n"
            )
            f.write("```\n" + "\n".join(lines) + "\n```\n")


if __name__ == "__main__":
    main()
