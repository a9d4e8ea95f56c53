"""The distribution: every package listed, the import names, the console command."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

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
    import shardcron.executor

    assert Path(shardcron.admin.__file__).parent == ROOT / "admin"
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
