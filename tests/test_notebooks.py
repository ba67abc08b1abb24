"""Execute every worked-example notebook (notebooks/*.ipynb); a failing assert fails the test.

Each notebook runs in a fresh ``python3`` kernel with ``notebooks/`` as the
working directory (the notebooks read ``../configs``) and writes its figures
into a temporary ``NOTEBOOK_FIGURES`` directory, never into the repository.
"""

from __future__ import annotations

from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
PATHS = sorted(NOTEBOOKS.glob("*.ipynb"))


def test_notebooks_found():
    assert len(PATHS) >= 6, f"expected the worked-example notebooks in {NOTEBOOKS}"


def test_notebooks_stored_without_outputs():
    for path in PATHS:
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert not cell.outputs and cell.execution_count is None, path.name


@pytest.mark.slow
@pytest.mark.parametrize("path", PATHS, ids=[p.stem for p in PATHS])
def test_notebook_executes(path, tmp_path, monkeypatch):
    figures = tmp_path / "figures"
    monkeypatch.setenv("NOTEBOOK_FIGURES", str(figures))
    # stores written by the notebooks go to their own temp dirs; keep stray files out too
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        nb,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    client.execute()
    prefix = f"nb{path.name[:2]}_"
    made = sorted(p.name for p in figures.glob("*.png"))
    assert made and all(name.startswith(prefix) for name in made), made
