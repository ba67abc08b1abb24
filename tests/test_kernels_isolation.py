"""``kernels`` is the pure-JAX core: importing and using it must not pull in the sweep stack.

Run in a fresh interpreter, since this test session itself imports pytest
plugins and possibly ``sweep``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = ("xarray", "dask", "distributed", "zarr", "yaml", "pint", "sweep")

CODE = f"""
import json, sys
import kernels
r = kernels.evaluate({{"vm": -65.0}}, ["dG_na", "dG_ncx", "v_rev_ncx", "gaba_polarity"])
r = kernels.REGISTRY.with_transporters({{"t": {{"stoichiometry": {{"na": 1}}}}}}).evaluate(
    {{k: float(v) for k, v in kernels.REGISTRY.defaults().items()}}, ["dG_t"]
)
kernels.nernst(c_in=12.0, c_out=145.0, z=1)
loaded = sorted(m for m in sys.modules if m.split(".")[0] in {FORBIDDEN!r})
print(json.dumps(loaded))
"""


def test_kernels_import_no_sweep_stack():
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    out = subprocess.run(
        [sys.executable, "-c", CODE],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    loaded = json.loads(out.stdout.strip().splitlines()[-1])
    assert loaded == [], f"importing kernels loaded {loaded}"
