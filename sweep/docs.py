"""Generated documentation: the config reference and the notebooks' pages.

Two generators, so the docs cannot drift from the code; tests regenerate and compare.

- ``python -m sweep.docs`` writes ``docs/reference.md`` (inputs and outputs)
  from the registry.
- ``python -m sweep.docs notebooks [NAME ...]`` executes every worked-example
  notebook (``notebooks/*.ipynb``, or the ones named) in a fresh ``python3``
  kernel and writes ``docs/notebooks/<stem>.md``: the markdown, the code, the
  text printed and every figure (``docs/notebooks/figures/*.png``), so a reader
  sees the results without running anything; plus the index
  ``docs/notebooks/README.md``. ``--check`` executes and compares instead of
  writing (exit 1 when a page is stale). The notebooks themselves are stored
  without outputs.

A page is *current* when a fresh execution prints the same text
(:func:`compare_pages`): the words and layout must be equal; numbers agree
within one unit of their last printed digit (``12.69`` and ``12.70``; an
integer exactly); wall-clock readings are not compared (numbers with a time
unit ``s``/``ms``/``µs``, rates ``…/s``, ``seconds:`` attributes, every decimal
number printed by a cell that times itself with ``time.perf_counter()`` or
``time.time()``, ISO timestamps, memory addresses); paths in the
execution's temporary directory are written ``$TMPDIR/…``. Output on
stderr (warnings, progress) is left out of the pages, and so is what child
processes write straight to the kernel's file descriptors (it arrives
asynchronously, so only sometimes); what a cell prints is kept.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import os
import re
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .report import registry_table

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "docs" / "reference.md"
NOTEBOOKS = ROOT / "notebooks"
PAGES = ROOT / "docs" / "notebooks"
#: The pages' figures together stay below this many bytes (the repository carries them).
MAX_FIGURE_BYTES = 5_000_000
#: Seconds one notebook may run before its execution is abandoned.
TIMEOUT_S = 600

HEADER = """# Config reference: inputs and outputs

Generated from the registry (`kernels/registry.py` and the physics modules) by
`python -m sweep.docs`; do not edit by hand. The same table is printed by
`sweep list`. Every input can be a fixed parameter (`parameters:`) or a swept
axis (`axes:`); values in configs carry units (`"145 mM"`, `"100 nM"`,
`"-70 mV"`, `"310 K"`), dimensionless inputs are bare numbers. Stored units:
concentrations mM, potentials mV, free energies kJ/mol, temperature K,
currents µA/cm², fluxes mM/s, conductances mS/cm².

"""


def render_reference() -> str:
    """The full text of ``docs/reference.md``."""
    return HEADER + registry_table("markdown")


# --- executing notebooks --------------------------------------------------------------
@contextlib.contextmanager
def _environ(**values: str) -> Iterator[None]:
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def notebook_paths(names: Sequence[str] | None = None) -> list[Path]:
    """The worked-example notebooks (``notebooks/*.ipynb``), or those ``names`` pick.

    Parameters
    ----------
    names : sequence of str, optional
        Stems (``03_ncx_modes``), numbers (``03``) or file names; all when empty.

    Returns
    -------
    list of pathlib.Path
        Sorted by name.
    """
    paths = sorted(NOTEBOOKS.glob("*.ipynb"))
    if not names:
        return paths
    picked = []
    for name in names:
        stem = Path(name).name.removesuffix(".ipynb")
        hits = [p for p in paths if p.stem == stem or p.stem.split("_", 1)[0] == stem]
        if not hits:
            stems = ", ".join(p.stem for p in paths)
            raise ValueError(f"notebook {name!r} is not in notebooks/: {stems}")
        picked += [p for p in hits if p not in picked]
    return picked


def execute_notebook(path: str | Path, tmpdir: str | Path, *, timeout: int = TIMEOUT_S):
    """Execute a notebook in a fresh ``python3`` kernel; returns it with its outputs.

    The kernel runs in ``notebooks/`` (the notebooks read ``../configs``), with
    ``TMPDIR`` set to ``tmpdir`` (the stores the notebooks write go there) and
    ``NOTEBOOK_FIGURES`` to ``tmpdir/figures`` (their saved figures stay out of
    the repository). A failing cell (an assert) raises ``CellExecutionError``.

    Parameters
    ----------
    path : str or pathlib.Path
        The ``.ipynb`` file.
    tmpdir : str or pathlib.Path
        An existing scratch directory.
    timeout : int
        Seconds a cell may run.

    Returns
    -------
    nbformat.NotebookNode
    """
    import nbclient  # lazy: only the docs build and its tests execute notebooks
    import nbformat

    path = Path(path)
    tmpdir = Path(tmpdir)
    nb = nbformat.read(path, as_version=4)
    env = {"TMPDIR": str(tmpdir), "NOTEBOOK_FIGURES": str(tmpdir / "figures")}
    with _environ(**env):
        client = nbclient.NotebookClient(
            nb,
            timeout=timeout,
            kernel_name="python3",
            resources={"metadata": {"path": str(path.parent)}},
            # what child processes write to the kernel's file descriptors reaches a
            # notebook only sometimes (ipykernel forwards it asynchronously): leave it out
            extra_arguments=["--IPKernelApp.capture_fd_output=False"],
        )
        client.execute()
    return nb


# --- rendering pages -----------------------------------------------------------------------
_CELL_MARK = re.compile(r"^<!-- cell (\d+) (markdown|code)( timed)? -->$", re.M)
_TIMED = re.compile(r"\btime\.(perf_counter|time|monotonic)\(")


@dataclass
class Page:
    """A notebook's page: its markdown text and its figures (file name → PNG bytes)."""

    stem: str
    title: str
    text: str
    figures: dict[str, bytes] = field(default_factory=dict)


def _mask_tmp(text: str, tmpdir: str | Path | None) -> str:
    if not tmpdir:
        return text
    out = text
    for t in {str(tmpdir), os.path.realpath(tmpdir)}:
        # tempfile's own sub-directories (tmpab12cd34) are random: drop them
        out = re.sub(re.escape(t) + r"/(?:tmp[\w]{6,}/)?", "$TMPDIR/", out)
        out = out.replace(t, "$TMPDIR")
    return out


def _fence(text: str, lang: str) -> str:
    ticks = "```"
    while ticks in text:
        ticks += "`"
    return f"{ticks}{lang}\n{text.rstrip()}\n{ticks}"


def _title(nb, stem: str) -> str:
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            m = re.search(r"^#\s+(.+)$", cell.source, re.M)
            if m:
                return m.group(1).strip()
    return stem


def _render_outputs(outputs, prefix: str, figures: dict[str, bytes], tmpdir) -> list[str]:
    """Markdown blocks of one code cell's outputs; figures are added to ``figures``."""
    parts: list[str] = []
    text: list[str] = []

    def flush() -> None:
        if text:
            parts.append(_fence(_mask_tmp("".join(text), tmpdir), "text"))
            text.clear()

    for out in outputs:
        kind = out.get("output_type")
        if kind == "stream":
            if out.get("name") == "stdout":
                text.append(out.get("text", ""))
        elif kind in ("execute_result", "display_data"):
            data = out.get("data", {})
            if "image/png" in data:
                flush()
                name = f"{prefix}_{sum(n.startswith(prefix + '_') for n in figures) + 1}.png"
                figures[name] = base64.b64decode(data["image/png"])
                parts.append(f"![{name.removesuffix('.png')}](figures/{name})")
            elif "text/plain" in data:
                plain = data["text/plain"]
                text.append(plain if plain.endswith("\n") else plain + "\n")
        elif kind == "error":  # an executed page never has one; kept visible if it does
            text.append(f"{out.get('ename')}: {out.get('evalue')}\n")
    flush()
    return parts


def render_page(nb, stem: str, *, tmpdir: str | Path | None = None) -> Page:
    """The page of an executed notebook.

    Markdown cells are copied, code cells shown as ``python`` blocks followed by
    what they printed (stdout, results and displays as ``text`` blocks; stderr
    left out) and their figures (``figures/<stem>_c<cell>_<k>.png``). Each
    cell starts with a ``<!-- cell N kind -->`` line (invisible when rendered)
    so a page can be compared cell by cell.

    Parameters
    ----------
    nb : nbformat.NotebookNode
        An executed notebook (:func:`execute_notebook`).
    stem : str
        The notebook's file stem (``03_ncx_modes``).
    tmpdir : str or pathlib.Path, optional
        The scratch directory it ran with (paths in it are written ``$TMPDIR/…``).

    Returns
    -------
    Page
    """
    title = _title(nb, stem)
    parts = [
        f"<!-- generated by `python -m sweep.docs notebooks` from notebooks/{stem}.ipynb; "
        "do not edit: tests/test_notebooks.py checks it is current -->",
    ]
    figures: dict[str, bytes] = {}
    first_markdown = True
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown":
            parts.append(f"<!-- cell {i} markdown -->")
            parts.append(cell.source.rstrip())
            if first_markdown:
                parts.append(
                    f"> Executed notebook [`notebooks/{stem}.ipynb`](../../notebooks/{stem}.ipynb):"
                    " every output below is what a fresh run prints (`python -m sweep.docs "
                    "notebooks` regenerates this page; the tests check it is current)."
                )
                first_markdown = False
            continue
        if cell.cell_type != "code":
            continue
        timed = " timed" if _TIMED.search(cell.source) else ""
        parts.append(f"<!-- cell {i} code{timed} -->")
        parts.append(_fence(cell.source, "python"))
        parts += _render_outputs(cell.get("outputs", []), f"{stem}_c{i:02d}", figures, tmpdir)
    return Page(stem, title, "\n\n".join(parts) + "\n", figures)


# --- comparing pages --------------------------------------------------------------------------
_NUMBER = re.compile(r"(?<![\w.])[-+−]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][-+−]?\d+)?")
#: Wall-clock readings and other run-to-run noise, replaced by ``⟨…⟩`` before comparing.
_VOLATILE = [
    re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:[+-]\d\d:\d\d|Z)?"),  # timestamps
    re.compile(r"\b0x[0-9a-fA-F]+\b"),  # memory addresses
    re.compile(r"(?<![\w.])\d[\d,]*(?:\.\d+)?(?:[eE][-+]?\d+)?\s?(?:s|ms|µs|us|min)\b"),
    re.compile(r"(?<![\w.])\d[\d,]*(?:\.\d+)?(?:[eE][-+]?\d+)?\s?[\w]*/s\b"),  # rates
    re.compile(r"(?<=seconds:)\s*\d[\d.eE+-]*"),  # store attributes: seconds, *_seconds
]
_DECIMAL = re.compile(r"(?<![\w.])[-+−]?\d[\d,]*\.\d+(?:[eE][-+−]?\d+)?")


def _mask_volatile(text: str, timed: bool) -> str:
    for rx in _VOLATILE:
        text = rx.sub("⟨…⟩", text)
    if timed:
        text = _DECIMAL.sub("⟨…⟩", text)
    return text


def _value(token: str) -> float:
    return float(token.replace(",", "").replace("−", "-"))


def numbers_agree(kept: str, fresh: str) -> bool:
    """Whether two printed numbers agree: within one unit of the kept one's last digit.

    ``12.69`` ~ ``12.70`` (a rounding flip), ``1.42e-14`` ~ ``1.43e-14``;
    integers (no decimal point, no exponent) must be equal.

    Parameters
    ----------
    kept, fresh : str
        Number tokens as printed (thousands separators and ``−`` allowed).

    Returns
    -------
    bool
    """
    if kept == fresh:
        return True
    try:
        a, b = _value(kept), _value(fresh)
    except ValueError:
        return False
    mant, _, exp = kept.replace("E", "e").partition("e")
    decimals = len(mant.split(".", 1)[1]) if "." in mant else 0
    if decimals == 0 and not exp:
        return a == b
    unit = 10.0 ** (int(exp.replace("−", "-") or 0) - decimals)
    return abs(a - b) <= 1.0001 * unit + 1e-12 * abs(a)


def _segments(text: str) -> list[tuple[str, str, bool, str]]:
    """[(cell index, kind, timed, body)] of a page."""
    marks = list(_CELL_MARK.finditer(text))
    out = []
    for m, nxt in zip(marks, [*marks[1:], None], strict=True):
        body = text[m.end() : nxt.start() if nxt else len(text)]
        out.append((m.group(1), m.group(2), bool(m.group(3)), body))
    return out


def _compare_text(kept: str, fresh: str, timed: bool) -> str | None:
    """None when equal under the page rule, else a short description of the first difference."""
    k = _mask_volatile(kept, timed)
    f = _mask_volatile(fresh, timed)
    kp, fp = _NUMBER.split(k), _NUMBER.split(f)
    kn, fn = _NUMBER.findall(k), _NUMBER.findall(f)
    if len(kn) != len(fn) or [" ".join(s.split()) for s in kp] != [" ".join(s.split()) for s in fp]:
        for a, b in zip(k.splitlines(), f.splitlines(), strict=False):
            if " ".join(a.split()) != " ".join(b.split()):
                return f"kept {a.strip()[:90]!r} vs fresh {b.strip()[:90]!r}"
        return f"kept {len(k.splitlines())} lines vs fresh {len(f.splitlines())}"
    for a, b in zip(kn, fn, strict=True):
        if not numbers_agree(a, b):
            return f"kept {a} vs fresh {b}"
    return None


def compare_pages(kept: str, fresh: str) -> list[str]:
    """Differences between a kept page and a fresh rendering (empty: the page is current).

    Cells are compared in order; markdown and code must be equal, printed
    numbers within the rule of :func:`numbers_agree`, wall-clock readings are
    ignored (module docstring).

    Parameters
    ----------
    kept, fresh : str
        Page texts (:func:`render_page`).

    Returns
    -------
    list of str
        One line per differing cell.
    """
    ks, fs = _segments(kept), _segments(fresh)
    diffs = []
    if [(s[0], s[1]) for s in ks] != [(s[0], s[1]) for s in fs]:
        diffs.append(f"the cells differ: kept {len(ks)}, fresh {len(fs)} (the notebook changed)")
    for (i, kind, _, kb), (_, _, timed, fb) in zip(ks, fs, strict=False):
        why = _compare_text(kb, fb, timed)
        if why:
            diffs.append(f"cell {i} ({kind}): {why}")
    head_k, head_f = kept.split("<!-- cell", 1)[0], fresh.split("<!-- cell", 1)[0]
    if head_k.strip() != head_f.strip():
        diffs.insert(0, "the page header differs")
    return diffs


# --- writing pages ---------------------------------------------------------------------------
def render_index(pages: Sequence[tuple[str, str, int]]) -> str:
    """``docs/notebooks/README.md``: one line per page (stem, title, number of figures)."""
    lines = [
        "# Worked examples, executed",
        "",
        "Each page is a notebook of `notebooks/` run from top to bottom: its text, its",
        "code, every number it prints and every figure it draws, readable without",
        "running anything. Generated by `python -m sweep.docs notebooks`;",
        "`tests/test_notebooks.py` executes the notebooks and fails when a page no",
        "longer shows what they print (numbers within one unit of their last printed",
        "digit; wall-clock times are not compared).",
        "",
        "| notebook | page | figures |",
        "|---|---|---|",
    ]
    for stem, title, n in pages:
        lines.append(
            f"| [`{stem}.ipynb`](../../notebooks/{stem}.ipynb) | [{title}]({stem}.md) | {n} |"
        )
    return "\n".join(lines) + "\n"


def _page_info(path: Path) -> tuple[str, str, int]:
    text = path.read_text(encoding="utf-8")
    m = re.search(r"^#\s+(.+)$", text, re.M)
    return path.stem, (m.group(1).strip() if m else path.stem), text.count("](figures/")


def write_page(page: Page, out: Path = PAGES) -> Path:
    """Write ``page`` and its figures under ``out`` (stale figures of the notebook removed)."""
    fig_dir = out / "figures"
    fig_dir.mkdir(parents=True, exist_ok=True)
    for old in fig_dir.glob(f"{page.stem}_c*.png"):
        if old.name not in page.figures:
            old.unlink()
    for name, data in page.figures.items():
        (fig_dir / name).write_bytes(data)
    path = out / f"{page.stem}.md"
    path.write_text(page.text, encoding="utf-8")
    return path


def write_index(out: Path = PAGES) -> Path:
    """Write the index of every page present under ``out`` whose notebook exists."""
    stems = {p.stem for p in NOTEBOOKS.glob("*.ipynb")}
    pages = [_page_info(p) for p in sorted(out.glob("*.md")) if p.stem in stems]
    path = out / "README.md"
    path.write_text(render_index(pages), encoding="utf-8")
    return path


def figure_bytes(out: Path = PAGES) -> int:
    """Total size of the pages' figures in bytes."""
    return sum(p.stat().st_size for p in (out / "figures").glob("*.png"))


def build_notebooks(
    names: Sequence[str] | None = None, *, check: bool = False, out: Path = PAGES
) -> int:
    """Execute notebooks and write (or, with ``check``, compare) their pages; exit status."""
    status = 0
    for path in notebook_paths(names):
        with tempfile.TemporaryDirectory(prefix="nbpage-") as tmp:
            nb = execute_notebook(path, tmp)
            page = render_page(nb, path.stem, tmpdir=tmp)
        kept = out / f"{path.stem}.md"
        if check:
            if not kept.exists():
                print(f"{path.stem}: no page {kept}", file=sys.stderr)
                status = 1
                continue
            diffs = compare_pages(kept.read_text(encoding="utf-8"), page.text)
            for d in diffs:
                print(f"{path.stem}: {d}", file=sys.stderr)
            status |= bool(diffs)
            print(f"{path.stem}: {'stale' if diffs else 'current'}")
        else:
            written = write_page(page, out)
            size = sum(len(b) for b in page.figures.values())
            print(f"wrote {written} ({len(page.figures)} figures, {size / 1e3:.0f} kB)")
    if not check:
        print(f"wrote {write_index(out)}; figures {figure_bytes(out) / 1e6:.2f} MB in all")
    return status


def main(argv: list[str] | None = None) -> int:
    """``python -m sweep.docs [PATH]`` (the reference) or ``… notebooks [NAME ...] [--check]``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["notebooks"]:
        ap = argparse.ArgumentParser(
            prog="python -m sweep.docs notebooks",
            description="Execute the notebooks and write docs/notebooks/ (their pages).",
        )
        ap.add_argument("names", nargs="*", help="notebooks to rebuild (stem or number); all")
        ap.add_argument("--check", action="store_true", help="compare, write nothing")
        args = ap.parse_args(argv[1:])
        try:
            return build_notebooks(args.names, check=args.check)
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    path = Path(argv[0]) if argv else REFERENCE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_reference(), encoding="utf-8")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
