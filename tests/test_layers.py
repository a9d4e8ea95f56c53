"""The admin's packages form layers: no import cycle between them, and `admin/schedules` stays pure.

The graph is read from the source with `ast`, imports inside functions and under
`TYPE_CHECKING` included, so a cycle cannot hide behind a deferred import. A node is a
subpackage of `admin` (`admin/firing/`) or a module at its top (`admin/config.py`); the package's
own `__init__.py` is the node `__init__`.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ADMIN = Path(__file__).resolve().parents[1] / "admin"
PREFIX = "shardcron.admin"

#: What a pure module may import: the standard library and these (texts: the stdlib-only `Text`).
PURE_ALLOWED_ADMIN = {"enums", "schedules", "texts"}
PURE_FORBIDDEN_TOP = {"sqlalchemy", "socket", "flask", "requests", "http", "urllib3", "ssl", "selectors", "select", "prometheus_client"}


def _module_parts(path: Path) -> list[str]:
    parts = list(path.relative_to(ADMIN).with_suffix("").parts)
    return parts[:-1] if parts[-1] == "__init__" else parts


def _is_admin_module(module: str) -> bool:
    if not module.startswith(PREFIX + "."):
        return False
    folder = ADMIN.joinpath(*module[len(PREFIX) + 1 :].split("."))
    return folder.is_dir() or folder.with_suffix(".py").is_file()


def _imported(path: Path) -> Iterator[tuple[str, int]]:
    """Every module `path` imports, absolute and dotted, with its line."""
    parts = _module_parts(path)
    package = parts if path.name == "__init__.py" else parts[:-1]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)] if node.level > 1 else package
                if node.level - 1 > len(package):
                    raise AssertionError(f"{path}:{node.lineno} imports above the admin package")
                module = ".".join([PREFIX, *base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            for alias in node.names:
                # `from . import rpc` imports the module admin.rpc; `from .db import Database`, admin.db.
                submodule = f"{module}.{alias.name}"
                yield (submodule if _is_admin_module(submodule) else module), node.lineno


def _node(module: str) -> str | None:
    """The admin node a dotted module belongs to, or None outside the admin."""
    if module == PREFIX:
        return "__init__"
    if not module.startswith(PREFIX + "."):
        return None
    first = module[len(PREFIX) + 1 :].split(".")[0]
    if (ADMIN / first).is_dir() or (ADMIN / f"{first}.py").is_file():
        return first
    return "__init__"  # a name the package hands on (`from shardcron.admin import create_app`)


def _source_node(path: Path) -> str:
    parts = _module_parts(path)
    return parts[0] if parts else "__init__"


def package_graph() -> dict[str, dict[str, str]]:
    """node -> {imported node: "file:line" of one import that ties them}."""
    graph: dict[str, dict[str, str]] = {}
    for path in sorted(ADMIN.rglob("*.py")):
        source = _source_node(path)
        edges = graph.setdefault(source, {})
        for module, line in _imported(path):
            target = _node(module)
            if target is not None and target != source:
                edges.setdefault(target, f"{path.relative_to(ADMIN.parent)}:{line}")
    return graph


def find_cycles(graph: dict[str, dict[str, str]]) -> list[list[str]]:
    """The strongly connected components with more than one node (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, {}):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_cycle_finder_sees_a_cycle() -> None:
    graph = {"a": {"b": "x"}, "b": {"c": "y"}, "c": {"a": "z"}, "d": {"a": "w"}}
    assert find_cycles(graph) == [["a", "b", "c"]]


def test_graph_reads_imports_inside_functions() -> None:
    graph = package_graph()
    # cli imports the scheduler runner inside its command function (start-up memory).
    assert "scheduling" in graph["cli"]


def test_no_cycle_between_admin_packages() -> None:
    graph = package_graph()
    cycles = find_cycles(graph)
    described = [
        " -> ".join(cycle) + ": " + "; ".join(f"{a}->{b} at {graph[a][b]}" for a in cycle for b in cycle if b in graph[a])
        for cycle in cycles
    ]
    assert described == []


def test_schedules_is_pure() -> None:
    offenders = []
    for path in sorted((ADMIN / "schedules").rglob("*.py")):
        for module, line in _imported(path):
            top = module.split(".")[0]
            node = _node(module)
            if top in PURE_FORBIDDEN_TOP or (node is not None and node not in PURE_ALLOWED_ADMIN):
                offenders.append(f"{path.relative_to(ADMIN.parent)}:{line} imports {module}")
    assert offenders == []
