"""The worked-example notebooks (notebooks/*.ipynb) execute, and their pages are current.

Each notebook runs in a fresh ``python3`` kernel with ``notebooks/`` as the
working directory (the notebooks read ``../configs``) and writes its figures
into a temporary ``NOTEBOOK_FIGURES`` directory, never into the repository; a
failing assert fails the test. What it printed is then compared with its kept
page ``docs/notebooks/<stem>.md`` (``python -m sweep.docs notebooks`` writes
them): a page that no longer shows what the notebook prints fails here.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sweep.docs import (
    MAX_FIGURE_BYTES,
    PAGES,
    compare_pages,
    figure_bytes,
    numbers_agree,
    render_index,
    render_page,
)

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
PATHS = sorted(NOTEBOOKS.glob("*.ipynb"))
REBUILD = "python -m sweep.docs notebooks"


def test_notebooks_found():
    assert len(PATHS) >= 6, f"expected the worked-example notebooks in {NOTEBOOKS}"


def test_notebooks_stored_without_outputs():
    for path in PATHS:
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert not cell.outputs and cell.execution_count is None, path.name


# --- the pages: present, indexed, linked, modest -----------------------------------------
def test_every_notebook_has_a_page_with_its_figures():
    stems = [p.stem for p in PATHS]
    figures = set()
    for stem in stems:
        page = PAGES / f"{stem}.md"
        assert page.is_file(), f"no page {page}: run `{REBUILD} {stem}`"
        text = page.read_text(encoding="utf-8")
        assert f"notebooks/{stem}.ipynb" in text
        refs = re.findall(r"\]\(figures/([^)]+\.png)\)", text)
        for ref in refs:
            assert (PAGES / "figures" / ref).is_file(), ref
        figures |= set(refs)
    # no page or figure left over from a notebook that is gone or changed
    assert {p.stem for p in PAGES.glob("*.md")} - {"README"} <= set(stems)
    assert {p.name for p in (PAGES / "figures").glob("*.png")} == figures
    assert figure_bytes() < MAX_FIGURE_BYTES, f"{figure_bytes() / 1e6:.1f} MB of figures"


def test_index_lists_every_page_and_the_readme_links_it():
    index = (PAGES / "README.md").read_text(encoding="utf-8")
    for path in PATHS:
        assert f"]({path.stem}.md)" in index, f"{path.stem} missing from the index: `{REBUILD}`"
    pages = [(p.stem, f"title {p.stem}", 1) for p in PATHS]
    assert render_index(pages).count("](") == 2 * len(PATHS)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "(docs/notebooks/README.md)" in readme


# --- the rule that decides whether a page is current --------------------------------------
@pytest.mark.parametrize(
    ("kept", "fresh", "same"),
    [
        ("12.69", "12.70", True),  # a rounding flip in the last printed digit
        ("12.69", "12.71", False),
        ("-87.036", "−87.036", True),  # the same number with a Unicode minus
        ("1.42e-14", "1.43e-14", True),
        ("1.42e-14", "1.45e-14", False),
        ("11,639", "11,639", True),
        ("11,639", "11,640", False),  # integers (counts) exactly
        ("838", "837", False),
        ("0.000", "-0.000", True),
        ("70.161", "70.16", True),  # a digit less, same value
    ],
)
def test_numbers_agree_within_their_last_digit(kept, fresh, same):
    assert numbers_agree(kept, fresh) is same


def _page(outputs: list[str], code: str = "print(x)") -> str:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# 99 · a title"), nbformat.v4.new_code_cell(code)]
    nb.cells[1].outputs = [nbformat.v4.new_output("stream", name="stdout", text=t) for t in outputs]
    nb.cells[1].outputs.append(nbformat.v4.new_output("stream", name="stderr", text="warning!"))
    return render_page(nb, "99_example", tmpdir="/tmp/nbx").text


def test_compare_pages_sees_numbers_words_and_cells_not_clocks():
    kept = _page(["bistable at 838 points, ΔG = -12.694 kJ/mol\n", "took 3.7 s, 1.2e6 points/s\n"])
    assert "warning!" not in kept  # stderr is not part of a page
    same = _page(["bistable at 838 points, ΔG = -12.695 kJ/mol\n", "took 9.1 s, 3e5 points/s\n"])
    assert compare_pages(kept, same) == []
    diffs = compare_pages(kept, _page(["bistable at 839 points, ΔG = -12.694 kJ/mol\n", "x\n"]))
    assert diffs and "838" in diffs[0] and "839" in diffs[0]
    diffs = compare_pages(kept, _page(["monostable at 838 points, ΔG = -12.694 kJ/mol\n"]))
    assert diffs and "monostable" in diffs[0]
    assert compare_pages(kept, _page(["bistable at 838 points\n"], code="print(y)"))
    # a cell that times itself: its decimal numbers are clock readings
    timed = "t0 = time.perf_counter()\nprint(time.perf_counter() - t0)"
    assert (
        compare_pages(_page(["{'threads': 0.898}\n"], timed), _page(["{'threads': 1.5}\n"], timed))
        == []
    )
    assert compare_pages(_page(["{'threads': 0.898}\n"]), _page(["{'threads': 1.5}\n"]))
    # temporary paths and timestamps
    a = _page(["store /tmp/nbx/tmpab12cd34/s.zarr (created 2026-12-01T11:57:46+00:00)\n"])
    assert "$TMPDIR/s.zarr" in a and "/tmp/nbx" not in a
    b = a.replace("11:57:46", "12:03:01")
    assert compare_pages(a, b) == []


# --- execution -----------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("path", PATHS, ids=[p.stem for p in PATHS])
def test_notebook_executes_and_its_page_is_current(path, tmp_path):
    from sweep.docs import execute_notebook

    nb = execute_notebook(path, tmp_path)
    prefix = f"nb{path.name[:2]}_"
    made = sorted(p.name for p in (tmp_path / "figures").glob("*.png"))
    assert made and all(name.startswith(prefix) for name in made), made
    fresh = render_page(nb, path.stem, tmpdir=tmp_path)
    kept = PAGES / f"{path.stem}.md"
    assert kept.is_file(), f"no page {kept}: run `{REBUILD} {path.stem}`"
    diffs = compare_pages(kept.read_text(encoding="utf-8"), fresh.text)
    assert not diffs, f"{kept.name} is stale (`{REBUILD} {path.stem}`): " + "; ".join(diffs[:5])
    assert sorted(fresh.figures) == sorted(
        re.findall(r"\]\(figures/([^)]+\.png)\)", kept.read_text(encoding="utf-8"))
    )


def test_pages_are_picked_by_stem_or_number(capsys):
    from sweep.docs import main, notebook_paths

    assert notebook_paths() == PATHS  # every notebooks/*.ipynb, a new one included
    first = PATHS[0]
    assert notebook_paths([first.stem[:2]]) == [first] == notebook_paths([first.name])
    assert main(["notebooks", "42_nope"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'42_nope' is not in notebooks/" in err and first.stem in err
