"""`shardcron tasks ...` as operators run it: the real command in a subprocess, on each engine.

Each invocation costs about a second (a fresh interpreter), so each test runs a story of
several commands rather than one command per test.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from shardcron.core.clock import FakeClock, SystemClock
from shardcron.executor.retry_tasks import RetryTasks, TaskStatus
from tests.support.cli import assert_one_line_error, run_cli

DAY_MS = 86_400_000


def test_init_creates_the_table_once(db_url: str, tmp_path: Path) -> None:
    first = run_cli("tasks", "init", "--url", db_url, home=tmp_path)
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("created 2 tables in ")
    engine = sa.create_engine(db_url)
    try:
        assert {"shardcron_retry_task", "shardcron_retry_claim"} <= set(sa.inspect(engine).get_table_names())
        indexes = {ix["name"] for ix in sa.inspect(engine).get_indexes("shardcron_retry_task")}
        assert {"ix_retry_task_due", "ix_retry_task_finished"} <= indexes
    finally:
        engine.dispose()
    second = run_cli("tasks", "init", "--url", db_url, home=tmp_path)
    assert second.returncode == 0 and "up to date" in second.stdout and "nothing changed" in second.stdout


@pytest.fixture
def populated(db_url: str) -> str:
    """Finished ten days ago (the command reads the real clock): OK/1 SUCCEEDED, A/1 and B/2
    DEAD; and A/later PENDING, due in a year."""
    clock = FakeClock(start_ms=SystemClock().now_ms() - 10 * DAY_MS)
    tasks = RetryTasks(db_url, clock=clock)
    tasks.create_table()

    def fail(task):
        raise RuntimeError("partner down")

    tasks.handler("A")(fail)
    tasks.handler("B")(fail)
    tasks.handler("OK")(lambda task: {"done": True})
    tasks.enqueue("OK", "1", {})
    tasks.enqueue("A", "1", {"n": 1}, max_attempts=1)
    tasks.enqueue("B", "2", {}, max_attempts=1)
    tasks.drain()
    tasks.enqueue("A", "later", {}, run_at=clock.now_ms() + 365 * DAY_MS)
    tasks.close()
    return db_url


def _status(url: str, code: str, no: str) -> TaskStatus | None:
    tasks = RetryTasks(url)
    try:
        record = tasks.get(code, no)
        return None if record is None else record.status
    finally:
        tasks.close()


def test_stats_and_show(populated: str, tmp_path: Path) -> None:
    table = run_cli("tasks", "stats", "--url", populated, home=tmp_path)
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split()[:5] == ["task_code", "status", "count", "due", "leased"]
    assert [line.split()[:3] for line in lines[1:]] == [["A", "DEAD", "1"], ["A", "PENDING", "1"], ["B", "DEAD", "1"], ["OK", "SUCCEEDED", "1"]]
    as_json = run_cli("tasks", "stats", "--url", populated, "--json", home=tmp_path)
    rows = [json.loads(line) for line in as_json.stdout.splitlines()]
    assert {(r["task_code"], r["status"], r["count"], r["due"]) for r in rows} == {
        ("A", "DEAD", 1, 0), ("A", "PENDING", 1, 0), ("B", "DEAD", 1, 0), ("OK", "SUCCEEDED", 1, 0)
    }
    shown = run_cli("tasks", "show", "--url", populated, "--task-code", "A", "--request-no", "1", "--json", home=tmp_path)
    data = json.loads(shown.stdout)
    assert (data["status"], data["attempts"], data["last_error"], data["payload"]) == ("DEAD", 1, "RuntimeError: partner down", {"n": 1})
    text = run_cli("tasks", "show", "--url", populated, "--task-code", "OK", "--request-no", "1", home=tmp_path)
    assert "status              SUCCEEDED" in text.stdout and 'result              {"done": true}' in text.stdout
    missing = run_cli("tasks", "show", "--url", populated, "--task-code", "A", "--request-no", "404", home=tmp_path)
    assert_one_line_error(missing, "no retry task with task_code='A' request_no='404'")


def test_redrive_by_task_code_request_no_and_all(populated: str, tmp_path: Path) -> None:
    by_code = run_cli("tasks", "redrive", "--url", populated, "--task-code", "B", home=tmp_path)
    assert by_code.returncode == 0, by_code.stderr
    assert by_code.stdout.strip() == "re-drove 1 dead task (task_code:B)"
    assert (_status(populated, "B", "2"), _status(populated, "A", "1")) == (TaskStatus.PENDING, TaskStatus.DEAD)
    by_number = run_cli("tasks", "redrive", "--url", populated, "--request-no", "1", home=tmp_path)
    assert by_number.stdout.strip() == "re-drove 1 dead task (request_no:1)"
    assert _status(populated, "A", "1") == TaskStatus.PENDING
    everything = run_cli("tasks", "redrive", "--url", populated, "--all", home=tmp_path)
    assert everything.stdout.strip() == "re-drove 0 dead tasks (all)"


def test_purge_after_retention(populated: str, tmp_path: Path) -> None:
    kept = run_cli("tasks", "purge", "--url", populated, "--older-than-days", "30", home=tmp_path)
    assert kept.returncode == 0 and kept.stdout.startswith("purged 0 "), kept.stdout + kept.stderr
    purged = run_cli("tasks", "purge", "--url", populated, "--older-than-days", "7", home=tmp_path)
    assert purged.stdout.strip() == "purged 1 SUCCEEDED and FAILED task finished more than 7 days ago"
    assert _status(populated, "OK", "1") is None and _status(populated, "A", "1") == TaskStatus.DEAD
    with_dead = run_cli("tasks", "purge", "--url", populated, "--older-than-days", "7", "--include-dead", home=tmp_path)
    assert with_dead.stdout.startswith("purged 2 SUCCEEDED, FAILED and DEAD tasks")
    assert _status(populated, "A", "later") == TaskStatus.PENDING


def _in_process(*args: str):
    """The same `shardcron` group in this interpreter (for the error matrix: a second each in a
    subprocess would buy nothing, since error formatting is the group's, tested via run_cli above)."""
    from click.testing import CliRunner

    from shardcron.admin.cli import main

    return CliRunner().invoke(main, list(args))


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["redrive"], ["give exactly one of --all, --task-code CODE, --request-no NUMBER"]),
        (["redrive", "--all", "--task-code", "A"], ["exactly one", "--all --task-code"]),
        (["redrive", "--task-code", " "], ["invalid task_code ' '"]),
        (["purge", "--older-than-days", "soon"], ["invalid --older-than-days 'soon'"]),
        (["purge", "--older-than-days", "-3"], ["expected a number of days >= 0"]),
    ],
)
def test_bad_arguments_are_one_line(sqlite_url: str, args: list[str], words: list[str]) -> None:
    result = _in_process("tasks", args[0], "--url", sqlite_url, *args[1:])
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: ")
    for word in words:
        assert word in result.stderr


def test_unusable_databases_are_one_line(tmp_path: Path, sqlite_url: str, mysql_url: str) -> None:
    missing_file = tmp_path / "nothing-here.db"
    assert_one_line_error(run_cli("tasks", "stats", "--url", f"sqlite:///{missing_file}", home=tmp_path), f"no SQLite file {missing_file}")
    assert not missing_file.exists()
    sa.create_engine(sqlite_url).connect().close()  # an empty database file
    cases = [
        (["stats", "--url", sqlite_url], ["no table shardcron_retry_task", "tasks init"]),
        (["redrive", "--url", mysql_url, "--all"], ["no table shardcron_retry_task"]),
        (["stats", "--url", "mysql+pymysql://root@127.0.0.1:1/x"], ["127.0.0.1:1", "Connection refused"]),
        (["init", "--url", "oracle://u@h/db"], ["unsupported database 'oracle'"]),
        (["init", "--url", "::"], ["invalid database URL '::'"]),
    ]
    for args, words in cases:
        result = _in_process("tasks", *args)
        assert result.exit_code == 1, (args, result.output)
        assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: "), result.stderr
        for word in words:
            assert word in result.stderr, (word, result.stderr)
