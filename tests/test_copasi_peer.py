"""The COPASI peer models of benchmarks/bench_copasi.py agree with the engine.

COPASI (python-copasi + copasi-basico, the ``bench`` extra) is an independent
solver of independently written equations: the Ca²⁺ balance as one ODE in
ln[Ca²⁺]ᵢ, and the whole cell as two ODEs on the charge-neutral slice (Cl⁻ from
electroneutrality, volume from the osmotic balance). Skipped where the extra is
not installed (the CI's test extra does not include it).
"""

from __future__ import annotations

import locale
import sys
from pathlib import Path

import numpy as np
import pytest

_LOCALE = locale.setlocale(locale.LC_ALL)
pytest.importorskip("basico")
pytest.importorskip("COPASI")
# importing COPASI sets the C locale process-wide (ASCII text encoding): every later
# subprocess test of this worker would then fail to decode UTF-8 output
locale.setlocale(locale.LC_ALL, _LOCALE)


@pytest.fixture(autouse=True)
def _restore_locale():
    yield
    locale.setlocale(locale.LC_ALL, _LOCALE)


sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import bench_copasi  # noqa: E402


def test_whole_cell_copasi_matches_engine(tmp_path: Path) -> None:
    """Na⁺ to 1e-9 relative and V_m to 1e-6 mV over a 5×5 [K⁺]ₒ × u_nka grid.

    Tolerances: COPASI's steady-state Newton stops at its own resolution
    (1e-9 by default); the measured differences are 8e-13 and 3e-9 mV.
    """
    n = 5
    ref, ok, _ = bench_copasi.copasi_cell_loop(
        np.linspace(*bench_copasi.KO, n), np.linspace(*bench_copasi.UNKA, n)
    )
    out, status, _ = bench_copasi.engine_run(n, tmp_path, repeats=1, case="cell")
    assert ok.all() and (status == 0).all()
    np.testing.assert_allclose(out["na_i_cell"], ref["na_i_cell"], rtol=1e-9)
    np.testing.assert_allclose(out["vm_cell"], ref["vm_cell"], rtol=0, atol=1e-6)
    # the grid spans a real range: rundown to 20% raises [Na+]i by more than 1.5x
    assert ref["na_i_cell"].max() / ref["na_i_cell"].min() > 1.5


def test_calcium_copasi_matches_engine(tmp_path: Path) -> None:
    """[Ca²⁺]ᵢ to 1e-9 relative over a 5×5 V_m × [Na⁺]ᵢ grid (measured 4e-14)."""
    n = 5
    ref, ok, _ = bench_copasi.copasi_loop(
        np.linspace(*bench_copasi.VM, n), np.linspace(*bench_copasi.NA, n)
    )
    out, status, _ = bench_copasi.engine_run(n, tmp_path, repeats=1, case="calcium")
    assert ok.all() and (status == 0).all()
    np.testing.assert_allclose(out["ca_i_ss"], ref, rtol=1e-9)
