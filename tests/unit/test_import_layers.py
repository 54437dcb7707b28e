"""The subpackages of hieros_lab import each other without cycles (issue 7: the reward path
redesign removed behavior <-> rewards, rewards -> hierarchy -> rewards and hierarchy <->
trainer). Every import counts, including function-level and ``TYPE_CHECKING`` ones: a cycle
hidden behind either is still a seam where control flows both ways."""

from __future__ import annotations

import ast
from pathlib import Path

import hieros_lab

ROOT = Path(hieros_lab.__file__).parent
PACKAGES = {p.name for p in ROOT.iterdir() if (p / "__init__.py").is_file()}


def _imports(path: Path) -> set[str]:
    """Subpackages of hieros_lab that the module at ``path`` imports anywhere."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names: list[str] = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "hieros_lab" and len(parts) > 1 and parts[1] in PACKAGES:
                out.add(parts[1])
    return out


def package_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {p: set() for p in PACKAGES}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            graph[package] |= _imports(path) - {package}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle as a path ``[a, b, ..., a]``, or None (depth-first search)."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_subpackages_form_a_dag():
    cycle = find_cycle(package_graph())
    assert cycle is None, "import cycle between subpackages: " + " -> ".join(cycle)


def test_the_cycle_finder_finds_cycles():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
