"""Jobs by owner, the one message a run's result cell shows, job names for the runs filter, and
the admins' run-log clean-up."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from shardcron.admin.db import Database
from shardcron.admin.enums import RunStatus, UserRole
from shardcron.admin.models import AuditEntry
from shardcron.admin.services import job_names, jobs, run_cleanup, runs
from shardcron.admin.services.actor import SYSTEM_ACTOR
from shardcron.admin.services.errors import Forbidden, NotFound, ServiceError
from shardcron.admin.services.paging import PageRequest

from tests.support.admin_data import NOW, add_group, add_job, add_run, add_user


def test_jobs_filter_by_part_of_the_owner_within_the_actors_groups(database: Database) -> None:
    g1, g2 = add_group(database, "g1"), add_group(database, "g2")
    add_job(database, g1, "a", author="alice")
    add_job(database, g1, "b", author="bob")
    add_job(database, g2, "c", author="alice_w")
    add_job(database, g2, "d", author="al%")
    user = add_user(database, "u", groups=[g1])

    def names(actor=SYSTEM_ACTOR, **flt) -> list[str]:
        with database.read_session() as s:
            return [j.name for j in jobs.list_jobs(s, actor, jobs.JobFilter(**flt), PageRequest()).items]

    assert names(owner="alice") == ["a", "c"]
    assert names(owner="al%") == ["d"]  # LIKE's wildcards are plain characters
    assert names(owner="e_w") == ["c"]
    assert names(owner="alice", group_id=g2) == ["c"]
    assert names(user, owner="alice") == ["a"]  # not another group's jobs
    assert names(owner="nobody") == []
    with pytest.raises(ServiceError) as err:
        names(owner="x" * 65)
    assert set(err.value.field_errors) == {"owner"}


def test_result_note_drops_the_drainer_summary_its_counts_repeat(database: Database) -> None:
    g = add_group(database, "g")
    j = add_job(database, g, "drain")
    counts = json.dumps({"claimed": 7, "succeeded": 5, "retried": 1, "dead": 1})
    drained = add_run(database, j, g, result_json=counts, handle_msg="shard 0/2: claimed 7, succeeded 5, retried 1, dead 1 in 0.4 s (stopped: drained)")
    drain_failed = add_run(database, j, g, status=RunStatus.FAILED, result_json=counts, handle_msg="database gone")
    killed = add_run(database, j, g, status=RunStatus.FAILED, progress_done=12, progress_total=600, handle_msg="job killed while running")
    untried = add_run(database, j, g, status=RunStatus.FAILED, trigger_msg="no live executor")
    with database.read_session() as s:
        view = {rid: runs.get_run(s, SYSTEM_ACTOR, rid) for rid in (drained, drain_failed, killed, untried)}
    assert view[drained].result_note is None and view[drained].drain_counts is not None
    assert view[drain_failed].result_note == "database gone"
    assert view[killed].result_note == "job killed while running"
    assert view[untried].result_note == "no live executor"


DAY = 86_400_000


def _runs_left(db: Database, job_id: int) -> list[int]:
    with db.read_session() as s:
        return [r.id for r in runs.list_runs(s, SYSTEM_ACTOR, runs.RunFilter(job_id=job_id, descending=False), PageRequest(1, 100)).items]


@pytest.fixture
def history(database: Database) -> dict:
    g, other = add_group(database, "g"), add_group(database, "other")
    j, k = add_job(database, g, "nightly"), add_job(database, g, "hourly")
    stranger = add_job(database, other, "nightly")
    ids = [add_run(database, j, g, trigger_at_ms=NOW - (10 - i) * DAY) for i in range(10)]  # 10 days ago .. 1 day ago
    running = add_run(database, j, g, status=RunStatus.RUNNING, trigger_at_ms=NOW - 30 * DAY)
    unknown = add_run(database, j, g, status=RunStatus.UNKNOWN, trigger_at_ms=NOW - 30 * DAY)
    k_runs = [add_run(database, k, g, trigger_at_ms=NOW - 20 * DAY) for _ in range(3)]
    theirs = add_run(database, stranger, other, trigger_at_ms=NOW - 20 * DAY)
    return {"g": g, "other": other, "j": j, "k": k, "stranger": stranger, "ids": ids, "running": running, "unknown": unknown, "k_runs": k_runs, "theirs": theirs}


def _preview(db: Database, actor=SYSTEM_ACTOR, **args) -> int:
    with db.read_session() as s:
        return run_cleanup.preview_cleanup(s, actor, run_cleanup.CleanupRequest.parse(args), now_ms=NOW).matching


def test_cleanup_counts_what_it_then_deletes_and_keeps_running_runs(database: Database, history: dict) -> None:
    h = history
    admin = add_user(database, "root", UserRole.ADMIN)
    # Older than 5 days: the runs of 10..6 days ago (5); the running and unknown ones stay.
    assert _preview(database, admin, job_id=h["j"], older_than_days=5) == 5
    result = run_cleanup.clean_up_runs(database, admin, run_cleanup.CleanupRequest(job_id=h["j"], older_than_days=5), now_ms=NOW, batch=2)
    assert (result.deleted, result.batches) == (5, 3)
    assert _runs_left(database, h["j"]) == [h["running"], h["unknown"], *h["ids"][5:]]
    # Keep the last 3 of the job (counting the ones still going, which are never deleted).
    assert _preview(database, admin, job_id=h["j"], keep_last=3) == 2
    assert run_cleanup.clean_up_runs(database, admin, run_cleanup.CleanupRequest(job_id=h["j"], keep_last=3), now_ms=NOW).deleted == 2
    assert _runs_left(database, h["j"]) == [h["running"], h["unknown"], *h["ids"][7:]]
    assert _preview(database, admin, job_id=h["j"], keep_last=100) == 0
    # Per group, both criteria: older than 15 days and not among the group's last 3 -> hourly's 3
    # runs; with the last 4 kept, the newest of them stays.
    assert _preview(database, admin, group_id=h["g"], older_than_days=15, keep_last=3) == 3
    assert _preview(database, admin, group_id=h["g"], older_than_days=15, keep_last=4) == 2
    run_cleanup.clean_up_runs(database, admin, run_cleanup.CleanupRequest(group_id=h["g"], older_than_days=0), now_ms=NOW)
    assert _runs_left(database, h["k"]) == [] and _runs_left(database, h["j"]) == [h["running"], h["unknown"]]
    assert _runs_left(database, h["stranger"]) == [h["theirs"]]  # another group's runs untouched
    with database.read_session() as s:
        entries = list(s.scalars(sa.select(AuditEntry).where(AuditEntry.action == "run.cleanup").order_by(AuditEntry.id)))
        trail = [(e.target_type, e.target_id, e.actor_name, json.loads(e.after_json or "{}")) for e in entries]
    assert trail == [
        ("job", h["j"], "root", {"older_than_days": 5, "matching": 5}),
        ("job", h["j"], "root", {"keep_last": 3, "matching": 2}),
        ("group", h["g"], "root", {"older_than_days": 0, "matching": 6}),
    ]


def test_cleanup_refuses_bad_input_and_non_admins(database: Database, history: dict) -> None:
    admin = add_user(database, "root", UserRole.ADMIN)
    for args, fields in (
        ({"job_id": history["j"]}, {"older_than_days"}),
        ({"older_than_days": 1}, {"job_id"}),
        ({"job_id": history["j"], "group_id": history["g"], "keep_last": 1}, {"job_id"}),
        ({"job_id": history["j"], "older_than_days": -1, "keep_last": "x"}, {"older_than_days", "keep_last"}),
        ({"group_id": 0, "keep_last": True}, {"group_id", "keep_last"}),
    ):
        with pytest.raises(ServiceError) as err:
            run_cleanup.CleanupRequest.parse(args)
        assert set(err.value.field_errors) == fields and err.value.status == 400
    with pytest.raises(NotFound):
        _preview(database, admin, group_id=999_999, keep_last=1)
    with pytest.raises(NotFound):
        run_cleanup.clean_up_runs(database, admin, run_cleanup.CleanupRequest(job_id=999_999, keep_last=1), now_ms=NOW)
    user = add_user(database, "u", groups=[history["g"]])
    with pytest.raises(Forbidden):
        run_cleanup.clean_up_runs(database, user, run_cleanup.CleanupRequest(job_id=history["j"], keep_last=0), now_ms=NOW)
    assert len(_runs_left(database, history["j"])) == 12


def test_job_names_suggested_and_filtered_by_name_within_the_actors_groups(database: Database, history: dict) -> None:
    h = history
    user = add_user(database, "u", groups=[h["g"]])
    with database.read_session() as s:
        assert [(j.name, j.group_app_name) for j in job_names.suggest_job_names(s, SYSTEM_ACTOR, "ly")] == [("hourly", "g"), ("nightly", "g"), ("nightly", "other")]
        assert [j.id for j in job_names.suggest_job_names(s, user, "night")] == [h["j"]]
        assert [j.id for j in job_names.suggest_job_names(s, SYSTEM_ACTOR, "", group_id=h["other"])] == [h["stranger"]]
        assert job_names.suggest_job_names(s, SYSTEM_ACTOR, "%") == []
        assert job_names.job_ids_named(s, SYSTEM_ACTOR, "nightly") == [h["j"], h["stranger"]]
        assert job_names.job_ids_named(s, SYSTEM_ACTOR, "nightly", group_id=h["other"]) == [h["stranger"]]
        named = runs.list_runs(s, user, runs.RunFilter.parse({"job_name": "nightly"}), PageRequest(1, 100)).items
        states = runs.run_states(s, user, [h["running"], h["theirs"], h["ids"][0]])
    assert {r.job_id for r in named} == {h["j"]} and len(named) == 12  # not the other group's "nightly"
    assert [(st.id, st.status) for st in states] == [(h["ids"][0], RunStatus.SUCCESS), (h["running"], RunStatus.RUNNING)]
    assert (job_names.job_field_key("12"), job_names.job_field_key("nightly"), job_names.job_field_key("１２")) == ("job_id", "job_name", "job_name")
    with pytest.raises(ServiceError):
        runs.RunFilter.parse({"job_name": "x" * 129})


def test_dashboard_counts_only_groups_with_a_live_executor(database: Database) -> None:
    from shardcron.admin.services import dashboard
    from tests.support.admin_data import add_executor

    add_group(database, "alive")
    add_group(database, "empty")
    add_group(database, "stale")
    add_executor(database, "alive", "http://127.0.0.1:9001", heartbeat_at_ms=NOW)
    add_executor(database, "alive", "http://127.0.0.1:9002", heartbeat_at_ms=NOW)
    add_executor(database, "stale", "http://127.0.0.1:9003", heartbeat_at_ms=NOW - 3_600_000)
    with database.read_session() as s:
        board = dashboard.get_dashboard(s, SYSTEM_ACTOR, now_ms=NOW)
    assert (board.live_executor_count, board.live_group_count, board.group_count) == (2, 1, 3)
