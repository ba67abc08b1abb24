"""The layering of ``sweep/`` is a rule that runs: no import cycle, lazy imports included.

Data flows one way, spec → design → plan → execute → store, with the analyses,
reports, figures and the CLI as consumers (docs/architecture.md). A static
import graph of every module (imports inside functions counted) must be
acyclic and the engine must never import a consumer; every module must also
import on its own in a fresh interpreter, in any order.
"""

from __future__ import annotations

import ast
import random
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SWEEP = ROOT / "sweep"

#: Modules the engine (and sampling, planning, storage) must never import.
CONSUMERS = ("sweep.analysis", "sweep.cli", "sweep.report", "sweep.plot", "sweep.docs")
ENGINE = (
    "sweep.errors",
    "sweep.config_io",
    "sweep.units",
    "sweep.axes",
    "sweep.outputs",
    "sweep.spec",
    "sweep.design",
    "sweep.plan",
    "sweep.reduce",
    "sweep.manifest",
    "sweep.verify",
    "sweep.locks",
    "sweep.store",
    "sweep.batching",
    "sweep.fused",
    "sweep.schedulers",
    "sweep.execute",
    "sweep.driver",
)


def _modules() -> dict[str, Path]:
    out = {}
    for p in sorted(SWEEP.rglob("*.py")):
        parts = list(p.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = p
    return out


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """sweep modules imported anywhere in ``path`` (module level or inside functions)."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            # `from pkg import sub` imports the submodule pkg.sub where one exists,
            # else a name defined by pkg itself
            targets = [
                f"{mod}.{a.name}" if f"{mod}.{a.name}" in modules else mod for a in node.names
            ]
        else:
            continue
        for t in targets:
            if t in modules and t != name:
                found.add(t)
    return found


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {n: _imports(n, p, modules) for n, p in modules.items()}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of ``graph`` (a list of modules), or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(n: str) -> list[str] | None:
        state[n] = 1
        stack.append(n)
        for m in sorted(graph.get(n, ())):
            if state.get(m) == 1:
                return stack[stack.index(m) :] + [m]
            if m not in state:
                found = visit(m)
                if found:
                    return found
        stack.pop()
        state[n] = 2
        return None

    for n in sorted(graph):
        if n not in state:
            found = visit(n)
            if found:
                return found
    return None


def test_the_cycle_finder_finds_cycles():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_sweep_has_no_import_cycle():
    graph = _graph()
    assert "sweep.execute" in graph and "sweep.analysis.boundary" in graph
    cycle = _cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_engine_never_imports_a_consumer():
    graph = _graph()
    for name in ENGINE:
        bad = sorted(m for m in graph[name] if m.startswith(CONSUMERS))
        assert not bad, f"{name} imports {bad}"


def test_every_module_imports_alone_in_any_order():
    names = sorted(_modules())
    names.remove("sweep.cli.__main__")  # running it is `sweep` itself
    order = names[:]
    random.Random(0).shuffle(order)
    code = "\n".join(
        [
            "import importlib, sys",
            f"for name in {order!r}:",
            "    importlib.import_module(name)",
            "    assert sys.modules[name].__file__.startswith(" + repr(str(SWEEP)) + "), name",
        ]
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]


def test_production_code_reads_only_documented_environment_variables():
    """No fault injection through the environment: the variables sweep/ reads are settings."""
    import re

    # settings documented in docs/config.md
    allowed = {
        "SWEEP_DEBUG",
        "SWEEP_ALLOW_FMA",
        "SWEEP_JAX_CACHE",
        "SWEEP_CONNECT_TIMEOUT",
        "SWEEP_LOG_EVERY",
    }
    found = set()
    for p in SWEEP.rglob("*.py"):
        found |= set(re.findall(r"\bSWEEP_[A-Z_]+\b", p.read_text(encoding="utf-8")))
    assert found <= allowed, sorted(found - allowed)


def test_no_assert_on_user_input_in_production_code():
    for p in SWEEP.rglob("*.py"):
        tree = ast.parse(p.read_text(encoding="utf-8"))
        asserts = [n.lineno for n in ast.walk(tree) if isinstance(n, ast.Assert)]
        assert not asserts, f"{p.relative_to(ROOT)}: assert at lines {asserts}"
