"""benchmarks/gpu_check.py keeps working without a card: run it on the CPU against itself."""

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _load():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        spec = importlib.util.spec_from_file_location(
            "gpu_check", ROOT / "benchmarks" / "gpu_check.py"
        )
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        return mod
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))


def test_gpu_check_runs_on_cpu(tmp_path):
    mod = _load()
    out = tmp_path / "report.md"
    assert mod.main(["--device", "cpu", "--small", "--n", "500", "--out", str(out)]) == 0
    text = out.read_text()
    # every correctness row passed, and each benchmark row is present with a rate
    assert "| NO |" not in text
    for row in (
        "| ca_i_ss | float64 |",
        "| dG_ncx | float32 |",
        "jacfwd cl_i_ss",
        "dense ΔG panel",
    ):
        assert row in text
    assert "sweep run --device cpu" in text


def test_missing_device_exit_2(capsys):
    mod = _load()
    assert mod.main(["--device", "tpu"]) == 2
    assert "no 'tpu' device" in capsys.readouterr().err


def test_compare_uses_output_scale():
    mod = _load()
    import numpy as np

    ok, worst = mod._compare("x", np.array([1.0, 2.0 + 2e-4]), np.array([1.0, 2.0]), 1e-4)
    assert ok and abs(worst - 1e-4) < 1e-12
    ok, _ = mod._compare("x", np.array([1.0, 2.1]), np.array([1.0, 2.0]), 1e-4)
    assert not ok
