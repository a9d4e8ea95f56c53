"""Jobs by owner, and the one message a run's result cell shows."""

from __future__ import annotations

import json

import pytest
from shardcron.admin.db import Database
from shardcron.admin.enums import RunStatus
from shardcron.admin.services import jobs, runs
from shardcron.admin.services.actor import SYSTEM_ACTOR
from shardcron.admin.services.errors import ServiceError
from shardcron.admin.services.paging import PageRequest

from tests.support.admin_data import add_group, add_job, add_run, add_user


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
