"""Run-log lists (filters, order, paging, grants), drainer counts, and the dashboard."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from shardcron.admin.db import Database
from shardcron.admin.enums import RunStatus, TriggerType
from shardcron.admin.services import dashboard, runs
from shardcron.admin.services.actor import SYSTEM_ACTOR
from shardcron.admin.services.errors import NotFound, ServiceError
from shardcron.admin.services.paging import PageRequest
from tests.support.admin_data import NOW, add_daily, add_executor, add_group, add_job, add_run, add_user

MIN = 60_000


@pytest.fixture
def world(database: Database) -> dict:
    g1, g2 = add_group(database, "g1"), add_group(database, "g2")
    j1 = add_job(database, g1, "one", enabled=True, next_fire_at_ms=NOW + MIN)
    j2 = add_job(database, g2, "two")
    ids = {
        "a": add_run(database, j1, g1, status=RunStatus.SUCCESS, trigger_at_ms=NOW - 3 * MIN),
        "b": add_run(database, j1, g1, status=RunStatus.FAILED, trigger_at_ms=NOW - 2 * MIN, handle_msg="boom"),
        "c": add_run(database, j2, g2, status=RunStatus.RUNNING, trigger_at_ms=NOW - 1 * MIN, trigger_type=TriggerType.MANUAL, progress_done=40, progress_total=100),
        "d": add_run(database, j2, g2, status=RunStatus.FAILED, trigger_at_ms=NOW - 1 * MIN, shard_index=1, shard_total=2,
                     result_json=json.dumps({"claimed": 7, "succeeded": 5, "retried": 1, "dead": 1, "shard": "1/2"})),
        "old": add_run(database, j1, g1, status=RunStatus.SUCCESS, trigger_at_ms=NOW - 25 * 60 * MIN),
    }
    return {"g1": g1, "g2": g2, "j1": j1, "j2": j2, **ids}


def listed(db: Database, actor=SYSTEM_ACTOR, page=PageRequest(), **args) -> list[int]:
    with db.session() as s:
        return [r.id for r in runs.list_runs(s, actor, runs.RunFilter.parse(args), page).items]


def test_filters_each_and_newest_first(database: Database, world: dict) -> None:
    w = world
    assert listed(database) == [w["d"], w["c"], w["b"], w["a"], w["old"]]
    assert listed(database, group_id=str(w["g1"])) == [w["b"], w["a"], w["old"]]
    assert listed(database, job_id=w["j2"]) == [w["d"], w["c"]]
    assert listed(database, status="failed") == [w["d"], w["b"]]
    assert listed(database, trigger_type="MANUAL") == [w["c"]]
    assert listed(database, from_ms=NOW - 2 * MIN, to_ms=NOW - MIN) == [w["b"]]
    # Oldest first; c and d share a trigger time and keep id order.
    assert listed(database, order="asc") == [w["old"], w["a"], w["b"], w["c"], w["d"]]
    assert listed(database, page=PageRequest(2, 2)) == [w["b"], w["a"]]
    with pytest.raises(ServiceError) as err:
        runs.RunFilter.parse({"status": "DONE", "job_id": "x", "from_ms": "5", "to_ms": "4", "order": "up", "sort": "id"})
    assert set(err.value.field_errors) == {"status", "job_id", "to_ms", "order", "sort"}


def test_total_and_capped_total(database: Database, world: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    with database.session() as s:
        page = runs.list_runs(s, SYSTEM_ACTOR, runs.RunFilter(), PageRequest(1, 2))
        assert (page.total, page.total_exact, page.pages) == (5, True, 3)
        monkeypatch.setattr(runs, "COUNT_CAP", 3)
        page = runs.list_runs(s, SYSTEM_ACTOR, runs.RunFilter(), PageRequest(1, 2))
        assert (page.total, page.total_exact, len(page.items)) == (3, False, 2)


def test_grants_limit_runs(database: Database, world: dict) -> None:
    user = add_user(database, "u", groups=[world["g2"]])
    assert listed(database, user) == [world["d"], world["c"]]
    assert listed(database, user, group_id=world["g1"]) == []
    with database.session() as s, pytest.raises(NotFound):
        runs.get_run(s, user, world["a"])


def test_run_view_has_drain_counts_and_job_name(database: Database, world: dict) -> None:
    with database.session() as s:
        view = runs.get_run(s, SYSTEM_ACTOR, world["d"])
        plain = runs.get_run(s, SYSTEM_ACTOR, world["b"])
    assert view.drain_counts == {"claimed": 7, "succeeded": 5, "retried": 1, "dead": 1}
    assert view.result["shard"] == "1/2" and (view.shard_index, view.shard_total) == (1, 2)
    assert view.job_name == "two" and view.status == RunStatus.FAILED
    assert plain.drain_counts is None and plain.result is None and plain.handle_msg == "boom"
    with database.session() as s:
        running = runs.get_run(s, SYSTEM_ACTOR, world["c"])
    assert (running.progress_done, running.progress_total) == (40, 100) and plain.progress_done is None


def test_dashboard_counts_series_and_failures(database: Database, world: dict) -> None:
    add_executor(database, "g1", "http://127.0.0.1:9001", heartbeat_at_ms=NOW + 4 * MIN)
    add_executor(database, "g1", "http://127.0.0.1:9002", heartbeat_at_ms=NOW - 200_000)  # dead
    today = dt.date(2026, 1, 1)
    # Today (UTC): two more runs, one of them by an executor; the daily report is not read.
    add_run(database, world["j1"], world["g1"], status=RunStatus.SUCCESS, trigger_at_ms=NOW + MIN, executor_address="http://127.0.0.1:9001")
    add_run(database, world["j2"], world["g2"], status=RunStatus.PENDING, trigger_at_ms=NOW + 2 * MIN)
    add_daily(database, today - dt.timedelta(days=1), world["g1"], 99, 9)
    with database.session() as s:
        board = dashboard.get_dashboard(s, SYSTEM_ACTOR, now_ms=NOW + 5 * MIN)
    assert (board.job_count, board.enabled_job_count, board.group_count, board.live_executor_count) == (2, 1, 2, 1)
    assert board.start_ms == NOW - 6 * 24 * 60 * MIN
    runs_ = board.runs
    assert [d.day for d in runs_.daily] == [today - dt.timedelta(days=6 - i) for i in range(7)]
    # 30 Dec: "old" (25 h before NOW); 31 Dec: a, b, c, d; 1 Jan (today, live): the two above.
    assert [(d.success, d.failed, d.running, d.unknown) for d in runs_.daily[-3:]] == [(1, 0, 0, 0), (1, 2, 1, 0), (1, 0, 1, 0)]
    # The cards are the buckets' totals.
    assert runs_.totals == dashboard.Counts("", success=3, failed=2, running=2, unknown=0)
    assert runs_.totals.total == sum(d.total for d in runs_.daily) == 7
    assert board.success_rate == pytest.approx(3 / 5)
    assert [(c.key, c.total, c.success, c.failed, c.running) for c in runs_.per_group] == [("g1", 4, 3, 1, 0), ("g2", 3, 0, 1, 2)]
    assert [(c.key, c.total) for c in runs_.per_executor] == [("—", 6), ("http://127.0.0.1:9001", 1)]
    assert sum(c.total for c in runs_.per_group) == sum(c.total for c in runs_.per_executor) == runs_.totals.total
    assert [r.id for r in board.recent_failures] == [world["d"], world["b"]]
    with database.session() as s:
        today_only = dashboard.get_dashboard(s, SYSTEM_ACTOR, now_ms=NOW + 5 * MIN, days=1)
        # In Los Angeles it is still 31 December: today began 8 h before NOW - 24 h.
        la = dashboard.get_dashboard(s, SYSTEM_ACTOR, now_ms=NOW + 5 * MIN, timezone="America/Los_Angeles", days=1)
        custom = dashboard.get_dashboard(s, SYSTEM_ACTOR, now_ms=NOW + 5 * MIN, start=dt.date(2025, 12, 31), end=dt.date(2025, 12, 31))
    assert [d.day for d in today_only.runs.daily] == [today] and today_only.runs.totals.total == 2
    assert la.start_ms == NOW - 16 * 60 * MIN and la.runs.daily[0].day == dt.date(2025, 12, 31)
    assert (la.runs.totals.success, la.runs.totals.failed, la.runs.totals.running) == (2, 2, 2)
    assert [d.day for d in custom.runs.daily] == [dt.date(2025, 12, 31)] and custom.runs.totals.total == 4
    # Recent failures are the range's: none today, 31 December's two in the custom range.
    assert today_only.recent_failures == []
    assert [r.id for r in custom.recent_failures] == [world["d"], world["b"]]


def test_dashboard_for_a_user_and_bad_arguments(database: Database, world: dict) -> None:
    user = add_user(database, "u", groups=[world["g2"]])
    with database.session() as s:
        board = dashboard.get_dashboard(s, user, now_ms=NOW + MIN, timezone="Europe/Berlin", days=1)
        assert (board.job_count, board.group_count) == (1, 1)
        assert board.runs.totals.total == 2 and [r.id for r in board.recent_failures] == [world["d"]]
        assert [c.key for c in board.runs.per_group] == ["g2"]
        for kwargs, field in (
            (dict(days=8), "days"),
            (dict(timezone="Nowhere/Town"), "timezone"),
            (dict(start=dt.date(2026, 1, 1), end=dt.date(2025, 12, 1)), "to"),
            (dict(start=dt.date(2025, 12, 1), end=dt.date(2026, 1, 2)), "to"),
            (dict(start=dt.date(2025, 9, 1)), "from"),
            (dict(end=dt.date(2025, 12, 1)), "from"),
        ):
            with pytest.raises(ServiceError) as err:
                dashboard.get_dashboard(s, user, now_ms=NOW, **kwargs)  # type: ignore[arg-type]
            assert field in err.value.field_errors, kwargs
        # 90 days ending today is the longest range.
        longest = dashboard.get_dashboard(s, user, now_ms=NOW, start=dt.date(2025, 10, 4))
        assert len(longest.runs.daily) == 90


def test_range_arguments_parse_or_name_the_bad_field() -> None:
    assert dashboard.parse_range({}) == (7, None, None)
    assert dashboard.parse_range({"days": "1"}) == (1, None, None)
    assert dashboard.parse_range({"from": "2025-12-01", "to": "2025-12-02"}) == (7, dt.date(2025, 12, 1), dt.date(2025, 12, 2))
    with pytest.raises(ServiceError) as err:
        dashboard.parse_range({"days": "٣", "from": "1/2/2025", "to": "x"})
    assert set(err.value.field_errors) == {"days", "from", "to"}


def test_unknown_runs_are_counted_apart_from_failures(database: Database, world: dict) -> None:
    """UNKNOWN runs (delivery not confirmed after a scheduler failure) have their own count in
    the buckets and the totals, lower the success rate, and are listed with the failures."""
    g1, g2, j1, j2 = world["g1"], world["g2"], world["j1"], world["j2"]
    add_run(database, j1, g1, status=RunStatus.SUCCESS, trigger_at_ms=NOW + 1 * MIN)
    today_unknown = add_run(database, j1, g1, status=RunStatus.UNKNOWN, trigger_code=0, trigger_at_ms=NOW + 2 * MIN)
    # 2025-12-31 23:30 UTC: yesterday in UTC, already today in Berlin.
    late_unknown = add_run(database, j2, g2, status=RunStatus.UNKNOWN, trigger_code=0, trigger_at_ms=NOW - 30 * MIN)
    old_unknown = add_run(database, j1, g1, status=RunStatus.UNKNOWN, trigger_code=0, trigger_at_ms=NOW - 10 * 24 * 60 * MIN)  # 10 days ago
    user = add_user(database, "u", groups=[g2])
    with database.session() as s:
        today = dashboard.get_dashboard(s, SYSTEM_ACTOR, now_ms=NOW + 5 * MIN, days=1)
        board = dashboard.get_dashboard(s, SYSTEM_ACTOR, now_ms=NOW + 5 * MIN)
        berlin = dashboard.get_dashboard(s, SYSTEM_ACTOR, now_ms=NOW + 5 * MIN, timezone="Europe/Berlin")
        month = dashboard.get_dashboard(s, SYSTEM_ACTOR, now_ms=NOW + 5 * MIN, days=30)
        theirs = dashboard.get_dashboard(s, user, now_ms=NOW + 5 * MIN)
    assert (today.runs.totals.total, today.runs.totals.success, today.runs.totals.failed, today.runs.totals.unknown) == (2, 1, 0, 1)
    assert today.success_rate == 0.5
    assert [(d.failed, d.unknown) for d in board.runs.daily[-2:]] == [(2, 1), (0, 1)]
    assert [(d.day.isoformat(), d.unknown) for d in berlin.runs.daily if d.unknown] == [("2026-01-01", 2)]
    assert board.runs.totals.unknown == 2 and month.runs.totals.unknown == 3
    assert [(r.id, r.status) for r in board.recent_failures] == [
        (today_unknown, RunStatus.UNKNOWN), (world["d"], RunStatus.FAILED), (world["b"], RunStatus.FAILED),
        (late_unknown, RunStatus.UNKNOWN),
    ]
    # Ten days ago is outside the week and inside the month.
    assert [r.id for r in month.recent_failures][-1] == old_unknown
    assert [(d.day.isoformat(), d.unknown) for d in theirs.runs.daily if d.unknown] == [("2025-12-31", 1)]
