"""Who may import whom: the admin uses the executor only through the shared core.

`shardcron.core` holds what both sides use (clock, errors, settings, tokens, wire protocol,
numbers, logging format, HTTP client, private files, SQL engine, versioned schemas) and imports
neither side. The admin imports `shardcron.core` freely and `shardcron.executor` only for the
few executor features it offers by nature, each listed in `ADMIN_USES_OF_THE_EXECUTOR` with its
reason. Every import statement counts — at module level or inside a function, absolute or
relative — and so does a string naming a module (`"pkg.module:attr"` command tables, `-m`
targets). tests/test_packaging.py keeps the executor from importing the admin.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {"admin": "shardcron.admin", "core": "shardcron.core", "executor": "shardcron.executor"}

#: Executor modules the admin may name, and why each is an executor feature by nature.
ADMIN_USES_OF_THE_EXECUTOR = {
    "shardcron.executor.cli": "`shardcron executor run` is a subcommand of the one `shardcron` command; "
    "admin/cli names it in its command table and imports it only when chosen",
    "shardcron.executor.retry_tasks.cli": "`shardcron tasks ...` (init, upgrade, stats) manages an application's "
    "retry-task table; the same command table names it",
    "shardcron.executor.retry_tasks.schema": "the schema tool (`python -m shardcron.admin.schema`) generates the "
    "DDL in sql/ for the retry-task table beside the admin's, so a DBA finds both in one place",
    "shardcron.executor.examples.demo_jobs": "`shardcron demo` starts demo executor processes (`python -m` this "
    "module) next to the admin",
    "shardcron.executor.examples.work_orders": "`shardcron demo` shows the work-orders recipe: it starts this "
    "executor application (`shardcron executor run` target) in a group of its own",
    "shardcron.executor.examples.long_batch": "`shardcron demo` shows the long-batch recipe: it starts this "
    "executor application in two processes, one of which the Demo page kills",
    "shardcron.executor.examples.roster": "`shardcron demo` writes the work-orders recipe's roster (who comes on "
    "shift when) into the recipe's database, so that the demo's orders wait and then reach a person",
    "shardcron.executor.examples.nightly_pipeline": "`shardcron demo` shows the nightly-pipeline workflow: it "
    "starts this executor application in two processes and names its handlers in the workflow's jobs",
}

_MODULE_STRING = re.compile(r"^shardcron\.(admin|core|executor)(\.\w+)*(:[\w.]+)?$")


def _sources(folder: str) -> Iterator[Path]:
    for path in sorted((ROOT / folder).rglob("*.py")):
        if "__pycache__" not in path.parts:
            yield path


def _package_of(path: Path) -> str:
    rel = path.relative_to(ROOT)
    package = [PACKAGES[rel.parts[0]], *rel.parts[1:-1]]
    return ".".join(package)


def modules_named(path: Path) -> Iterator[tuple[int, str]]:
    """(line, module) for every module `path` imports or names in a string constant."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = _package_of(path)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = parts[: len(parts) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            # `from pkg import name` may name a submodule: count both.
            yield node.lineno, module
            for alias in node.names:
                yield node.lineno, f"{module}.{alias.name}"
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and _MODULE_STRING.match(node.value):
            yield node.lineno, node.value.partition(":")[0]


def _is_module(name: str) -> bool:
    top, _, rest = name.partition(".")
    if top != "shardcron" or not rest:
        return False
    folder = {v: k for k, v in PACKAGES.items()}.get(".".join(name.split(".")[:2]))
    if folder is None:
        return False
    path = ROOT / folder / Path(*name.split(".")[2:])
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _uses(folder: str, prefix: str) -> dict[str, list[str]]:
    """Modules under `prefix` named by the sources in `folder` -> where ("file:line")."""
    found: dict[str, list[str]] = {}
    for path in _sources(folder):
        for line, module in modules_named(path):
            if (module == prefix or module.startswith(prefix + ".")) and _is_module(module):
                found.setdefault(module, []).append(f"{path.relative_to(ROOT)}:{line}")
    return found


def test_the_admin_uses_the_executor_only_through_the_core() -> None:
    uses = _uses("admin", "shardcron.executor")
    outside = {module: where for module, where in uses.items() if module not in ADMIN_USES_OF_THE_EXECUTOR}
    assert outside == {}, "the admin imports executor modules outside the shared core (move them to core/, or list them with a reason)"


def test_every_listed_exception_is_still_used() -> None:
    uses = _uses("admin", "shardcron.executor")
    assert sorted(m for m in ADMIN_USES_OF_THE_EXECUTOR if m not in uses) == []


def test_the_core_imports_neither_side() -> None:
    uses = {**_uses("core", "shardcron.admin"), **_uses("core", "shardcron.executor")}
    assert uses == {}


def test_the_scan_sees_every_form_of_import() -> None:
    """The checks above rest on `modules_named`: it must see function-level, relative and
    string references, or an offence would pass unseen."""
    probe = ROOT / "admin" / "cli" / "__init__.py"
    named = {module for _, module in modules_named(probe)}
    assert "shardcron.executor.cli" in named  # a "module:attr" string in the command table
    assert "shardcron.admin.config" in named  # `from ..config import load_config` inside a method
    source = ROOT / "admin" / "db.py"
    assert any(module.startswith("shardcron.core.schema_versions.") for _, module in modules_named(source))
