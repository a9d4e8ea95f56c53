"""`shardcron export` prints the document, writes it to a file, and refuses an unknown group in one line."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from click.testing import CliRunner

from shardcron.admin.cli import main
from shardcron.admin.db import Database, init_schema
from shardcron.admin.models import ExecutorGroup, Job


def _seed(url: str) -> None:
    db = Database(url, pool_size=1)
    try:
        init_schema(db.engine)
        with db.session() as session:
            group = ExecutorGroup(app_name="orders", title="Orders", created_at_ms=1, updated_at_ms=1)
            session.add(group)
            session.flush()
            session.add(Job(group_id=group.id, name="close", handler="close", created_at_ms=1, updated_at_ms=1))
    finally:
        db.dispose()


def test_export_to_stdout_and_file(sqlite_url: str, tmp_path: Path) -> None:
    _seed(sqlite_url)
    result = CliRunner().invoke(main, ["export", "--url", sqlite_url], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["shardcron_export"] == 1
    assert [job["name"] for job in document["jobs"]] == ["close"]
    target = tmp_path / "out.json"
    result = CliRunner().invoke(main, ["export", "--url", sqlite_url, "--groups", "orders", "-o", str(target)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert json.loads(target.read_text(encoding="utf-8")) == document
    assert "exported 1 groups, 0 calendars and 1 jobs" in result.stderr


def test_export_of_an_unknown_group_is_one_error_line(sqlite_url: str) -> None:
    _seed(sqlite_url)
    result = CliRunner().invoke(main, ["export", "--url", sqlite_url, "--groups", "nope"], catch_exceptions=False)
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == ["error: groups: no executor group with app name nope"]


def test_export_as_yaml_is_the_same_document(sqlite_url: str) -> None:
    _seed(sqlite_url)
    as_json = CliRunner().invoke(main, ["export", "--url", sqlite_url], catch_exceptions=False)
    as_yaml = CliRunner().invoke(main, ["export", "--url", sqlite_url, "--format", "yaml"], catch_exceptions=False)
    assert as_yaml.exit_code == 0, as_yaml.output
    assert yaml.safe_load(as_yaml.stdout) == json.loads(as_json.stdout)
    assert as_yaml.stdout.startswith("shardcron_export: 1\n")
