"""The executor does not carry the admin.

`import shardcron.executor`, `shardcron executor ...` and `shardcron tasks ...` load no Flask,
Jinja2, Werkzeug, SQLAlchemy ORM, and no admin module beyond the command's entry
(`shardcron.admin`, `shardcron.admin.cli`; an import loads none at all); waitress, the
executor's own HTTP server, only once the server binds; SQLAlchemy only with the retry-task
table. The shared core (`shardcron.core`), which the executor builds on, loads neither the admin
nor the executor. Each case runs in a fresh interpreter under tests/support/import_probe.py,
which names every such module loaded and the code that imported it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.executor_calls import TOKEN
from tests.support.import_probe import parse_reports
from tests.support.net import free_port, wait_until

ROOT = Path(__file__).resolve().parents[2]
PROBE = ROOT / "tests" / "support" / "import_probe.py"
TARGET = "tests.support.sample_executor:executor"


def _env(**settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHARDCRON_")}
    env.update({f"SHARDCRON_EXECUTOR_{key.upper()}": value for key, value in settings.items()})
    return env


def _probe(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(PROBE), *args], cwd=ROOT, env=env or _env(), capture_output=True, text=True, timeout=120, check=False
    )


def _describe(reports: dict[str, str]) -> str:
    return "\n".join(f"{module} loaded by {who}" for module, who in reports.items())


@pytest.mark.parametrize("modules", [("shardcron.executor",), ("shardcron.executor", "shardcron.executor.retry_tasks")])
def test_importing_the_executor_loads_nothing_of_the_admin(modules: tuple[str, ...]) -> None:
    out = _probe("import", *modules)
    assert out.returncode == 0, out.stderr
    reports = parse_reports(out.stderr)
    assert reports == {}, _describe(reports)


def test_importing_the_executor_alone_loads_no_sqlalchemy() -> None:
    out = _probe("import", "--forbid=sqlalchemy", "shardcron.executor")
    assert out.returncode == 0, out.stderr
    reports = parse_reports(out.stderr)
    assert reports == {}, _describe(reports)


def test_the_shared_core_loads_neither_the_admin_nor_the_executor() -> None:
    modules = sorted(
        ".".join(["shardcron", *path.relative_to(ROOT).with_suffix("").parts]).removesuffix(".__init__")
        for path in (ROOT / "core").rglob("*.py")
    )
    assert "shardcron.core.protocol" in modules and "shardcron.core.schema_versions.upgrade" in modules
    out = _probe("import", "--forbid=shardcron.executor", *modules)
    assert out.returncode == 0, out.stderr
    reports = parse_reports(out.stderr)
    assert reports == {}, _describe(reports)


def test_the_probe_reports_what_it_is_told_to_forbid() -> None:
    """The checks above pass on an empty report: the probe must report what it forbids."""
    out = _probe("import", "--forbid=shardcron.core", "shardcron.executor", "shardcron.admin")
    assert out.returncode == 0, out.stderr
    reports = parse_reports(out.stderr)
    assert sorted(reports) == ["shardcron.admin", "shardcron.core"], _describe(reports)
    assert reports["shardcron.core"].startswith("executor/"), _describe(reports)


@pytest.mark.parametrize(
    "args",
    [("executor", "--help"), ("executor", "run", "--help"), ("tasks", "--help")],
    ids=["executor", "executor-run", "tasks"],
)
def test_the_commands_help_loads_nothing_of_the_admin(args: tuple[str, ...]) -> None:
    out = _probe("command", *args)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(f"Usage: shardcron {' '.join(args[:-1])} [OPTIONS]"), out.stdout
    reports = parse_reports(out.stderr)
    assert reports == {}, _describe(reports)


def test_a_serving_executor_started_by_the_command_loads_only_its_own_server(tmp_path: Path, fake_admin) -> None:
    env = _env(
        app_name="sample",
        admin_addresses=fake_admin.url,
        access_token=TOKEN,
        listen=f"127.0.0.1:{free_port()}",
        data_dir=str(tmp_path / "data"),
    )
    log_path = tmp_path / "executor.out"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [sys.executable, str(PROBE), "command", "executor", "run", TARGET], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        wait_until(
            lambda: len(fake_admin.received("/api/registry")) > 0 or proc.poll() is not None,
            timeout_s=60,
            what="executor registered (it serves before it registers)",
        )
        assert proc.poll() is None, log_path.read_text()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0, log_path.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)
    reports = parse_reports(log_path.read_text())
    assert sorted(reports) == ["waitress"], _describe(reports)
    assert reports["waitress"].startswith("executor/embedded.py:"), _describe(reports)


def test_the_tasks_commands_use_sqlalchemy_core_only(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'app.db'}"
    for args in (("tasks", "init", "--url", url), ("tasks", "stats", "--url", url)):
        out = _probe("command", *args)
        assert out.returncode == 0, out.stderr
        reports = parse_reports(out.stderr)
        assert reports == {}, f"{' '.join(args)}:\n{_describe(reports)}"
    assert out.stdout.strip() == "no tasks"
