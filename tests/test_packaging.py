"""The distribution: every package listed, the import names, the console command."""

from __future__ import annotations

import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

from shardcron.admin.schema import ADMIN_SCHEMA
from shardcron.core.schema_versions.status import head_revision

ROOT = Path(__file__).resolve().parents[1]


def test_pyproject_lists_every_package() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    mapping = config["package-dir"]
    found = set()
    for name, folder in mapping.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / folder)
            found.add(".".join([name, *rel.parts]) if rel.parts else name)
    assert set(config["packages"]) == found


def test_import_names_are_namespaced() -> None:
    import shardcron.admin
    import shardcron.core
    import shardcron.executor

    assert Path(shardcron.admin.__file__).parent == ROOT / "admin"
    assert Path(shardcron.core.__file__).parent == ROOT / "core"
    assert Path(shardcron.executor.__file__).parent == ROOT / "executor"


def test_executor_never_imports_admin() -> None:
    offenders = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "executor").rglob("*.py")
        if "shardcron.admin" in path.read_text(encoding="utf-8")
    ]
    assert offenders == []


def test_console_command_runs() -> None:
    script = Path(sys.executable).parent / "shardcron"
    out = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "db" in out.stdout and "admin" in out.stdout


def test_the_command_lists_every_command_with_its_own_help() -> None:
    """Commands are imported when chosen; --help still lists each, by its own name and help."""
    import click

    from shardcron.admin.cli import COMMANDS, main

    script = Path(sys.executable).parent / "shardcron"
    out = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 0, out.stderr
    listed = {line.split()[0]: line.split(None, 1)[1] for line in out.stdout.split("Commands:\n", 1)[1].splitlines() if line.strip()}
    assert sorted(listed) == sorted(COMMANDS)
    for name in COMMANDS:
        command = main.get_command(click.Context(main), name)
        assert command is not None and command.name == name
        shown = listed[name].removesuffix("...")
        assert command.get_short_help_str(limit=200).startswith(shown), (name, shown)


def test_importing_the_executor_loads_neither_alembic_nor_the_admin() -> None:
    script = (
        "import sys, shardcron.executor, shardcron.executor.retry_tasks;"
        "print(sorted(m for m in ('alembic', 'mako', 'flask', 'shardcron.admin') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_a_built_wheel_installed_elsewhere_finds_its_schema_revisions(tmp_path: Path) -> None:
    """Alembic reads revisions as files: they must be in the wheel, and found from a plain
    (non-editable) install, not only from this checkout."""
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", str(tmp_path / "dist"), str(ROOT)],
        capture_output=True, text=True, timeout=600,
    )
    assert built.returncode == 0, built.stderr
    wheel = next((tmp_path / "dist").glob("shardcron-*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    for folder in ("shardcron/admin/schema", "shardcron/executor/retry_tasks/revisions"):
        assert {f"{folder}/env.py", f"{folder}/script.py.mako", f"{folder}/versions/0001_baseline.py"} <= names
    # The console's Chinese catalog, compiled: Flask-Babel reads the .mo from the package.
    assert {"shardcron/admin/translations/zh/LC_MESSAGES/messages.mo", "shardcron/admin/translations/zh/LC_MESSAGES/messages.po"} <= names
    site = tmp_path / "site"
    installed = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--quiet", "--target", str(site), str(wheel)], capture_output=True, text=True, timeout=600
    )
    assert installed.returncode == 0, installed.stderr
    script = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "from shardcron.admin.db import init_schema, create_db_engine;"
        "from shardcron.executor.retry_tasks import RetryTasks;"
        "import shardcron.admin.schema as s;"
        "r = init_schema(create_db_engine(sys.argv[2]));"
        "print(s.__file__); print(r.after.revision, RetryTasks(sys.argv[2]).create_table())"
    )
    url = f"sqlite:///{tmp_path / 'check.db'}"
    out = subprocess.run([sys.executable, "-c", script, str(site), url], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    where, result = out.stdout.strip().splitlines()
    assert where.startswith(str(site))  # the installed copy, not this checkout
    assert result == f"{head_revision(ADMIN_SCHEMA)} True"
