"""The package's shape: the import contracts hold and no import cycle exists inside it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_hold():
    """`lint-imports` with the contracts of pyproject.toml (one-way layers, pure analyses,
    sources that never import the builders)."""
    pytest.importorskip("importlinter")
    command = Path(sys.executable).parent / "lint-imports"
    done = subprocess.run([str(command), "--no-cache"], cwd=ROOT, capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "Contracts: 3 kept, 0 broken." in done.stdout


def _cycle(graph, modules: set[str]) -> list[str] | None:
    """A cycle among ``modules`` (imports at any depth of a function count), or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        stack.append(m)
        for n in sorted(graph.find_modules_directly_imported_by(m) & modules):
            if state.get(n) == 1:
                return [*stack[stack.index(n):], n]
            if n not in state:
                found = visit(n)
                if found:
                    return found
        stack.pop()
        state[m] = 2
        return None

    for m in sorted(modules):
        if m not in state:
            found = visit(m)
            if found:
                return found
    return None


def test_no_import_cycle_inside_the_package():
    grimp = pytest.importorskip("grimp")
    # Imports only a type checker sees are not cycles at run time.
    graph = grimp.build_graph("p2c_research", exclude_type_checking_imports=True)
    modules = {m for m in graph.modules if m != "p2c_research"}
    cycle = _cycle(graph, modules)
    assert cycle is None, " -> ".join(cycle)
