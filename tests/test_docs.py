"""Docs that are generated from code must match the code; the README's claims hold."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from sweep.docs import REFERENCE, render_reference

ROOT = Path(__file__).resolve().parent.parent


def test_reference_is_up_to_date():
    assert REFERENCE.read_text(encoding="utf-8") == render_reference(), (
        "docs/reference.md is stale: regenerate with `python -m sweep.docs`"
    )


def test_readme_has_the_two_commands():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "pip install -e . && sweep run" in text
    assert "pip install -e '.[test]' && python -m pytest" in text
    ci = (ROOT / ".ci" / "run").read_text()
    assert "pip install -q -e '.[test]'" in ci and "python -m pytest" in ci


def test_ruff_clean():
    ruff = [sys.executable, "-m", "ruff"]
    try:
        subprocess.run([*ruff, "--version"], check=True, capture_output=True)
    except (subprocess.CalledProcessError, FileNotFoundError):
        pytest.skip("ruff is not installed (it is in the test extras)")
    check = subprocess.run([*ruff, "check", str(ROOT)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout[-3000:]
    fmt = subprocess.run([*ruff, "format", "--check", str(ROOT)], capture_output=True, text=True)
    assert fmt.returncode == 0, fmt.stdout[-3000:]


def test_readme_python_example_runs(tmp_path):
    import re

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    code = re.search(r"```python\n(.*?)```", text, re.S).group(1)
    (tmp_path / "configs").symlink_to(ROOT / "configs")
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert (tmp_path / "st.png").stat().st_size > 0


def test_readme_config_example_is_valid():
    import re

    from sweep.spec import parse_config, parse_yaml

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```yaml\n(.*?)```", text, re.S).group(1)
    spec = parse_config(parse_yaml(block))
    assert spec.shape == (181, 64, 3)
