"""Data flows one way (docs/architecture.md): every import between the parts of ``crabplus`` is read from the
source and checked against what each part may import. Today's known exceptions are listed by name, so a new
upward import fails here and a removed exception must be taken off the list."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "crabplus"

# part -> the parts it may import (besides itself); "*" = anything
ALLOWED: dict[str, set[str]] = {
    "utils": set(),
    "schema": {"utils"},
    "metrics": set(),
    "config": {"utils"},
    "segment": {"utils", "schema"},
    "adapters": {"utils", "config"},
    "tasks": {"utils", "schema", "metrics"},
    "data": {"utils", "schema", "config", "tasks"},
    "synth": {"utils", "schema", "config", "data", "tasks"},
    "model": {"utils", "schema", "config", "adapters"},
    "train": {"utils", "schema", "config", "data", "model", "adapters"},
    "evaluate": {"utils", "schema", "config", "data", "tasks", "segment"},
    "infer": {"utils", "schema", "config", "data", "tasks", "model", "adapters", "segment"},
    "lmms": {"utils", "schema", "evaluate", "infer"},
    "web": {"schema", "config", "data", "tasks", "model", "adapters", "infer"},
    "experiments": {"*"},
    "cli": {"*"},
}

# (importing file, imported part): the upward imports that exist today, each to be removed (docs/architecture.md)
KNOWN: set[tuple[str, str]] = set()


def imported_parts(path: Path) -> set[str]:
    """The crabplus parts ``path`` imports (absolute imports; the package has no relative ones)."""
    parts = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        parts |= {n.split(".")[1] for n in names if n.startswith("crabplus.") and n.count(".") >= 1}
    return parts


def upward_imports() -> set[tuple[str, str]]:
    found = set()
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC)
        if len(rel.parts) < 2:
            continue  # crabplus/__init__.py, __main__.py
        part = rel.parts[0]
        allowed = ALLOWED.get(part)
        assert allowed is not None, f"src/crabplus/{part}/ is a part the layering rule does not know: add it"
        if "*" in allowed:
            continue
        for other in imported_parts(path) - {part}:
            if other not in allowed:
                found.add((rel.as_posix(), other))
    return found


def test_no_new_upward_import():
    new = sorted(upward_imports() - KNOWN)
    assert not new, f"imports against the one-way data flow (docs/architecture.md): {new}"


def test_every_known_exception_still_exists():
    gone = sorted(KNOWN - upward_imports())
    assert not gone, f"these upward imports are gone: take them off KNOWN in tests/test_layering.py: {gone}"


def test_nothing_imports_the_cli_or_the_experiments():
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC)
        if len(rel.parts) < 2 or rel.parts[0] in ("cli", "experiments"):
            continue
        bad = imported_parts(path) & {"cli", "experiments"}
        assert not bad, f"src/crabplus/{rel.as_posix()} imports {sorted(bad)}: nothing below them may"


# module cycles that exist today (each a sorted tuple of module names), each to be removed
KNOWN_CYCLES: set[tuple[str, str]] = set()


def module_graph() -> dict[str, set[str]]:
    """module -> the crabplus modules it imports (at the top or inside a function: a lazy import is still a
    dependency); ``from crabplus.a import b`` names the module ``crabplus.a.b`` when there is one."""
    modules = {}
    for path in SRC.rglob("*.py"):
        parts = path.relative_to(SRC.parent).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    graph = {}
    for name, path in modules.items():
        deps = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("crabplus"):
                deps |= {
                    f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in modules else node.module
                    for a in node.names
                }
            elif isinstance(node, ast.Import):
                deps |= {a.name for a in node.names}
        graph[name] = {d for d in deps if d in modules and d != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> set[tuple[str, ...]]:
    """The strongly connected components of more than one module (Tarjan), each as a sorted tuple."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found = set()

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while not component or component[-1] != v:
                component.append(stack.pop())
            if len(component) > 1:
                found.add(tuple(sorted(component)))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_cycle_finder_on_a_known_graph():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a", "e"}, "e": {"d"}, "f": set()}
    assert cycles(graph) == {("a", "b", "c"), ("d", "e")}


def test_no_new_module_cycle():
    found = cycles(module_graph())
    assert not found - KNOWN_CYCLES, (
        f"modules importing each other (move what both need into a third module): {sorted(found - KNOWN_CYCLES)}"
    )
    assert not KNOWN_CYCLES - found, f"these cycles are gone: take them off KNOWN_CYCLES: {KNOWN_CYCLES - found}"
    assert not any(m.startswith("crabplus.experiments.") for c in found for m in c)


def test_every_allowed_edge_is_used():
    """The table lists no edge that no code uses: an allowance nothing takes is a dependency the page claims
    and the code does not have (remove it, here and on the page)."""
    used: dict[str, set[str]] = {}
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC)
        if len(rel.parts) >= 2:
            used.setdefault(rel.parts[0], set()).update(imported_parts(path) - {rel.parts[0]})
    unused = {part: sorted(allowed - used.get(part, set())) for part, allowed in ALLOWED.items() if "*" not in allowed}
    assert not {part: edges for part, edges in unused.items() if edges}


def test_the_architecture_page_states_the_same_rule():
    """docs/architecture.md's table of parts says what each part may import; it must say what ALLOWED says."""
    import re

    page = (SRC.parents[1] / "docs" / "architecture.md").read_text(encoding="utf-8")
    documented = {}
    for part, imports in re.findall(r"^\| `([a-z]+)` \| .* \| ([^|]+) \|$", page, flags=re.M):
        if imports.strip() == "nothing of crabplus":
            documented[part] = set()
        elif imports.startswith("everything"):
            documented[part] = {"*"}
        else:
            documented[part] = set(re.findall(r"`([a-z]+)`", imports))
    assert documented == ALLOWED
