"""`shardcron import`: a dry run prints the plan and writes nothing; an import applies it; each
bad input is refused with its place (exit 1), an unreadable file with one line (exit 2)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml
from click.testing import CliRunner

from shardcron.admin.cli import main
from shardcron.admin.db import Database, init_schema
from shardcron.admin.models import AuditEntry, Job

from .conftest import export_of, seed


@pytest.fixture
def document(tmp_path: Path) -> dict:
    db = Database(f"sqlite:///{tmp_path / 'source.db'}", pool_size=1)
    init_schema(db.engine)
    try:
        seed(db)
        return export_of(db)
    finally:
        db.dispose()


@pytest.fixture
def target(sqlite_url: str) -> Iterator[Database]:
    db = Database(sqlite_url, pool_size=1)
    init_schema(db.engine)
    try:
        yield db
    finally:
        db.dispose()


def _jobs(db: Database) -> list[str]:
    with db.read_session() as s:
        return sorted(s.scalars(sa.select(Job.name)))


def _invoke(*args: str, stdin: str | None = None):
    return CliRunner().invoke(main, ["import", *args], input=stdin, catch_exceptions=False)


def test_dry_run_prints_the_plan_and_writes_nothing(document: dict, target: Database, sqlite_url: str, tmp_path: Path) -> None:
    path = tmp_path / "export.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    result = _invoke(str(path), "--dry-run", "--url", sqlite_url)
    assert result.exit_code == 0, result.output
    assert "group 'mail': would create" in result.stdout
    assert "job orders/close: would create, stopped" in result.stdout
    assert "jobs: 3 would create, 0 would update, 0 exists" in result.stdout
    assert "workflows: 0 would create, 0 would update, 0 exists" in result.stdout
    assert "dry run: nothing was written" in result.stdout
    assert _jobs(target) == []


def test_import_from_yaml_on_stdin_then_again_skips(document: dict, target: Database, sqlite_url: str) -> None:
    text = yaml.safe_dump(document, sort_keys=False)
    result = _invoke("-", "--url", sqlite_url, "--keep-state", stdin=text)
    assert result.exit_code == 0, result.output
    assert "job mail/send (job " in result.stdout and ": created, enabled" in result.stdout
    assert "imported into" in result.stdout and "in one transaction" in result.stdout
    assert _jobs(target) == ["close", "report", "send"]
    with target.read_session() as s:
        assert {entry.actor_kind for entry in s.scalars(sa.select(AuditEntry))} == {"CLI"}
    again = _invoke("-", "--url", sqlite_url, stdin=text)
    assert again.exit_code == 0, again.output
    assert "jobs: 0 created, 0 updated, 3 exists" in again.stdout
    refused = _invoke("-", "--url", sqlite_url, "--on-conflict", "fail", stdin=text)
    assert refused.exit_code == 1
    assert "groups[0].app_name: executor group 'mail' exists already (on_conflict is fail)" in refused.stderr


def test_each_problem_is_listed_with_its_place(document: dict, target: Database, sqlite_url: str, tmp_path: Path) -> None:
    document["jobs"][1]["schedule_conf"] = "not a cron"
    document["jobs"][2]["colour"] = "red"
    document["jobs"][0]["children"] = [{"group": "orders", "job": "close"}]
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    result = _invoke(str(path), "--url", sqlite_url)
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert lines[0].startswith(f"error: {path}: import refused, nothing written (")
    assert any(line.startswith("  jobs[1].schedule_conf: ") for line in lines)
    assert "  jobs[2].colour: unknown field" in lines
    assert any(line.startswith("  jobs[0].children: a cycle of child jobs: mail/send -> orders/close") for line in lines)
    assert result.stdout == ""
    assert _jobs(target) == []


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('{"shardcron_export": 1,', "not a JSON document: line 1, column 24: Expecting property name enclosed in double quotes"),
        ("shardcron_export: 1\njobs: [a\n", "not a YAML document: line 3, column 1:"),
        ("- 1\n- 2\n", "the document must be an object with shardcron_export, groups and jobs"),
        ("", "the document is empty"),
    ],
)
def test_an_unreadable_document_is_one_line_and_exit_2(content: str, expected: str, target: Database, sqlite_url: str, tmp_path: Path) -> None:
    path = tmp_path / "doc.txt"
    path.write_text(content, encoding="utf-8")
    result = _invoke(str(path), "--url", sqlite_url)
    assert result.exit_code == 2, result.output
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stderr.startswith(f"error: {path}: {expected}"), result.stderr


def test_a_missing_file_and_a_too_large_one(target: Database, sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result = _invoke(str(tmp_path / "nope.json"), "--url", sqlite_url)
    assert result.exit_code == 2 and "cannot read" in result.stderr
    big = tmp_path / "big.json"
    big.write_text(json.dumps({"shardcron_export": 1, "jobs": [], "pad": "x" * 2048}), encoding="utf-8")
    monkeypatch.setenv("SHARDCRON_IMPORT_MAX_BYTES", "1024")
    result = _invoke(str(big), "--url", sqlite_url)
    assert result.exit_code == 2
    assert "at most 1024 are read (setting import_max_bytes)" in result.stderr
