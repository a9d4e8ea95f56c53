"""Workflow instances, read: the list's filters and scoping, one instance's steps (current
generation, durations, results, runs), and the step of a workflow run."""

from __future__ import annotations

import pytest

from shardcron.admin.db import Database
from shardcron.admin.enums import RunStatus, StepStatus, WorkflowStatus
from shardcron.admin.services import runs
from shardcron.admin.services import workflow_instances as instances
from shardcron.admin.services.actor import SYSTEM_ACTOR
from shardcron.admin.services.errors import NotFound, ServiceError
from shardcron.admin.services.paging import PageRequest

from tests.support.admin_data import NOW, add_group, add_job, add_user
from tests.support.workflow_view_rows import add_instance, add_step_run, add_step_run_log, add_workflow, chain


def _ids(database: Database, actor=SYSTEM_ACTOR, **args) -> list[int]:
    with database.read_session() as s:
        page = instances.list_instances(s, actor, instances.InstanceFilter.parse(args), PageRequest(), now_ms=NOW)
    return [i.id for i in page.items]


def test_list_filters_by_workflow_status_and_time_newest_first_within_the_actors_groups(database: Database) -> None:
    g1, g2 = add_group(database, "g1"), add_group(database, "g2")
    j1, j2 = add_job(database, g1, "a"), add_job(database, g2, "b")
    d1, d2 = chain(("a", j1)), chain(("b", j2))
    w1, w2 = add_workflow(database, g1, "w1", d1), add_workflow(database, g2, "w2", d2)
    old = add_instance(database, w1, d1, status=WorkflowStatus.SUCCEEDED, created_at_ms=NOW - 86_400_000, finished_at_ms=NOW - 86_000_000)
    failed = add_instance(database, w1, d1, status=WorkflowStatus.FAILED, created_at_ms=NOW - 1000, finished_at_ms=NOW)
    other = add_instance(database, w2, d2, created_at_ms=NOW)
    user = add_user(database, "u", groups=[g1])

    assert _ids(database) == [other, failed, old]
    assert _ids(database, workflow_id=str(w1)) == [failed, old]
    assert _ids(database, status="failed") == [failed]
    assert _ids(database, from_ms=str(NOW - 3_600_000)) == [other, failed]
    assert _ids(database, to_ms=str(NOW - 3_600_000)) == [old]
    assert _ids(database, user) == [failed, old]  # not another group's workflow
    assert _ids(database, user, workflow_id=str(w2)) == []
    with database.read_session() as s:
        page = instances.list_instances(s, SYSTEM_ACTOR, instances.InstanceFilter(), PageRequest(), now_ms=NOW)
    first = {i.id: i for i in page.items}
    assert first[old].workflow_name == "w1" and first[old].duration_ms == 400_000
    assert first[other].duration_ms == 0 and first[other].status == WorkflowStatus.RUNNING


def test_bad_filters_are_refused_naming_each_field() -> None:
    with pytest.raises(ServiceError) as err:
        instances.InstanceFilter.parse({"workflow_id": "x", "status": "DONE", "from_ms": "5", "to_ms": "4"})
    assert set(err.value.field_errors) == {"workflow_id", "status", "to_ms"}


def test_an_instance_shows_each_steps_current_generation_its_runs_and_its_result(database: Database) -> None:
    g = add_group(database, "g")
    extract, load = add_job(database, g, "extract"), add_job(database, g, "load")
    definition = chain(("extract", extract), ("load", load))
    w = add_workflow(database, g, "etl", definition)
    inst = add_instance(database, w, definition, status=WorkflowStatus.FAILED, params={"day": "2026-01-01"}, finished_at_ms=NOW + 9000)
    first = add_step_run(database, inst, "extract", extract, StepStatus.SUCCEEDED, result={"rows": 3}, started_at_ms=NOW, finished_at_ms=NOW + 2000, fire_id=11)
    add_step_run(database, inst, "load", load, StepStatus.FAILED, started_at_ms=NOW + 2000, finished_at_ms=NOW + 3000, message="boom")
    retried = add_step_run(database, inst, "load", load, StepStatus.FAILED, generation=1, started_at_ms=NOW + 5000, finished_at_ms=NOW + 9000, message="boom again")
    shard0 = add_step_run_log(database, first, extract, g, shard_index=0, shard_total=2)
    shard1 = add_step_run_log(database, first, extract, g, shard_index=1, shard_total=2)
    failed_run = add_step_run_log(database, retried, load, g, status=RunStatus.FAILED, handle_msg="boom again")

    with database.read_session() as s:
        detail = instances.get_instance(s, SYSTEM_ACTOR, inst, now_ms=NOW + 20_000)
    assert detail.params == {"day": "2026-01-01"} and not detail.active
    assert detail.definition["edges"] == [{"from": "extract", "to": "load", "on": "SUCCESS"}]
    by_key = {step.key: step for step in detail.steps}
    assert [step.key for step in detail.steps] == ["extract", "load"]
    assert by_key["extract"].result == {"rows": 3} and by_key["extract"].duration_ms == 2000 and by_key["extract"].fire_id == 11
    assert [(r.id, r.shard_index) for r in by_key["extract"].runs] == [(shard0, 0), (shard1, 1)]
    assert by_key["load"].generation == 1 and by_key["load"].step_run_id == retried
    assert by_key["load"].message == "boom again" and by_key["load"].duration_ms == 4000
    assert [(r.id, r.status) for r in by_key["load"].runs] == [(failed_run, RunStatus.FAILED)]
    assert by_key["load"].job_name == "load"


def test_a_running_step_counts_its_duration_to_now_and_a_step_without_row_shows_none(database: Database) -> None:
    g = add_group(database, "g")
    a, b = add_job(database, g, "a"), add_job(database, g, "b")
    definition = chain(("a", a), ("b", b))
    w = add_workflow(database, g, "w", definition)
    inst = add_instance(database, w, definition)
    add_step_run(database, inst, "a", a, StepStatus.FIRED, started_at_ms=NOW)
    with database.read_session() as s:
        detail = instances.get_instance(s, SYSTEM_ACTOR, inst, now_ms=NOW + 1500)
    assert detail.active
    assert [(step.key, step.status, step.duration_ms) for step in detail.steps] == [("a", StepStatus.FIRED, 1500), ("b", None, None)]


def test_instances_of_other_groups_and_unknown_ids_are_not_found(database: Database) -> None:
    g1, g2 = add_group(database, "g1"), add_group(database, "g2")
    j = add_job(database, g2, "b")
    definition = chain(("b", j))
    w = add_workflow(database, g2, "w2", definition)
    inst = add_instance(database, w, definition)
    user = add_user(database, "u", groups=[g1])
    with database.read_session() as s:
        for actor, instance_id in ((user, inst), (SYSTEM_ACTOR, inst + 100)):
            with pytest.raises(NotFound):
                instances.get_instance(s, actor, instance_id, now_ms=NOW)
        with pytest.raises(NotFound):
            instances.load_visible_workflow(s, user, w)


def test_a_workflow_run_names_its_instance_and_step_and_the_runs_filter_finds_a_steps_runs(database: Database) -> None:
    g = add_group(database, "g")
    j = add_job(database, g, "a")
    definition = chain(("a", j))
    inst = add_instance(database, add_workflow(database, g, "w", definition), definition)
    step_run = add_step_run(database, inst, "a", j, StepStatus.SUCCEEDED)
    run_id = add_step_run_log(database, step_run, j, g)
    other = add_user(database, "other")
    with database.read_session() as s:
        run = runs.get_run(s, SYSTEM_ACTOR, run_id)
        assert run.step_run_id == step_run
        assert instances.step_of_run(s, SYSTEM_ACTOR, step_run) == (inst, "a")
        assert instances.step_of_run(s, other, step_run) is None
        found = runs.list_runs(s, SYSTEM_ACTOR, runs.RunFilter.parse({"step_run_id": str(step_run)}), PageRequest())
    assert [r.id for r in found.items] == [run_id]
