"""Workflow definitions: every problem named by its field with nothing written, jobs the user
may not see refused without their names, versions, start/stop, audit, and the guards on
deleting a workflow, a job or a group."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from shardcron.admin.db import Database
from shardcron.admin.enums import TriggerType, WorkflowStatus
from shardcron.admin.models import AuditEntry, Workflow, WorkflowInstance
from shardcron.admin.schedules.schedule import next_fire_at_ms
from shardcron.admin.services import groups, jobs, workflows
from shardcron.admin.services.actor import SYSTEM_ACTOR
from shardcron.admin.services.errors import Conflict, NotFound, ServiceError
from shardcron.admin.services.paging import PageRequest
from shardcron.admin.services.workflow_form import stored_definition_limit
from tests.support.admin_data import NOW, add_group, add_job, add_user

MAX_STEPS = 50


def three_steps(extract: int, load: int, report: int) -> dict:
    return {
        "steps": [{"key": "extract", "job_id": extract}, {"key": "load", "job_id": load, "param": "day={{upstream.extract.day}}"},
                  {"key": "report", "job_id": report, "join": "ANY"}],
        "edges": [{"from": "extract", "to": "load"}, {"from": "load", "to": "report", "on": "ALWAYS"}],
    }


@pytest.fixture
def setup(database: Database) -> dict:
    gid = add_group(database, "etl")
    other = add_group(database, "secret")
    ids = [add_job(database, gid, name) for name in ("extract", "load", "report")]
    hidden = add_job(database, other, "payroll-run")
    return {"gid": gid, "other": other, "jobs": ids, "hidden": hidden}


def valid(setup: dict, **over) -> dict:
    data = {"group_id": setup["gid"], "name": "nightly", "definition": three_steps(*setup["jobs"]), "schedule_type": "CRON",
            "schedule_conf": "0 0 2 * * ?", "timezone": "Europe/Berlin"}
    data.update(over)
    return data


def create(db: Database, data: dict, actor=SYSTEM_ACTOR) -> workflows.WorkflowView:
    with db.session() as s:
        return workflows.create_workflow(s, actor, data, now_ms=NOW, max_steps=MAX_STEPS)


def count(db: Database, model=Workflow) -> int:
    with db.session() as s:
        return s.scalar(sa.select(sa.func.count()).select_from(model))


def audit_rows(db: Database) -> list[AuditEntry]:
    with db.session() as s:
        rows = list(s.scalars(sa.select(AuditEntry).where(AuditEntry.target_type == "workflow").order_by(AuditEntry.id)))
        s.expunge_all()
        return rows


def test_create_stores_the_canonical_definition_stopped_at_version_1(database: Database, setup: dict) -> None:
    view = create(database, valid(setup, alarm_emails="ops@example.com", timeout_s="3600", overlap_policy="BUFFER_ONE"))
    assert (view.version, view.enabled, view.next_fire_at_ms, view.step_count, view.group_app_name) == (1, False, 0, 3, "etl")
    assert view.definition["steps"][2] == {"key": "report", "job_id": setup["jobs"][2], "join": "ANY"}
    assert view.definition["edges"][0] == {"from": "extract", "to": "load", "on": "SUCCESS"}
    assert (view.timeout_s, view.overlap_policy, view.alarm_emails) == (3600, "BUFFER_ONE", ["ops@example.com"])
    [entry] = audit_rows(database)
    assert entry.action == "workflow.create" and entry.target_id == view.id and entry.group_id == setup["gid"]
    assert json.loads(entry.after_json)["definition"] == view.definition


DEFINITION_PROBLEMS = [
    ({"steps": []}, "steps", "at least one step"),
    ({"steps": [{"key": "A B", "job_id": 1}]}, "steps[0].key", "a key is"),
    ({"steps": [{"key": "a", "job_id": "x"}]}, "steps[0].job_id", "positive integer"),
    ({"steps": [{"key": "a", "job_id": 1, "join": "SOME"}]}, "steps[0].join", "must be one of"),
    ({"steps": [{"key": "a", "job_id": 1}], "edges": [{"from": "a", "to": "ghost"}]}, "edges[0].to", "'ghost'"),
    ({"steps": [{"key": "a", "job_id": 1}, {"key": "b", "job_id": 1}], "edges": [{"from": "a", "to": "b"}, {"from": "b", "to": "a"}]}, "edges", "cycle"),
    ({"steps": [{"key": "a", "job_id": 1, "param": "{{upstream.b.x}}"}]}, "steps[0].param", "no edge into"),
    ({"steps": [{"key": "a", "job_id": 999_999}]}, "steps[0].job_id", "no job 999999"),
    ("not an object", "definition", "must be an object"),
    (None, "definition", "is required"),
]


@pytest.mark.parametrize(("definition", "field", "words"), DEFINITION_PROBLEMS)
def test_each_definition_problem_names_its_field_and_writes_nothing(database: Database, setup: dict, definition, field: str, words: str) -> None:
    if isinstance(definition, dict):
        for step in definition["steps"]:
            step["job_id"] = setup["jobs"][0] if step["job_id"] == 1 else step["job_id"]
    with pytest.raises(ServiceError) as caught:
        create(database, valid(setup, definition=definition))
    assert caught.value.status == 400
    assert words in caught.value.field_errors[field], caught.value.field_errors
    assert count(database) == 0 and audit_rows(database) == []


def test_every_problem_is_reported_at_once(database: Database, setup: dict) -> None:
    definition = {"steps": [{"key": "a", "job_id": setup["hidden"]}, {"key": "b", "job_id": 999_999}, {"key": "a", "job_id": setup["jobs"][0]}]}
    user = add_user(database, "ann", groups=[setup["gid"]])
    with pytest.raises(ServiceError) as caught:
        create(database, valid(setup, name="", definition=definition, schedule_conf="61 * * * *", timezone="Mars/Base", overlap_policy="DISCARD_LATER",
                               misfire_strategy="CATCH_UP_ALL", timeout_s=7 * 86_400 + 1, alarm_emails="nope", alarm_webhook="ftp://x", colour="red"), actor=user)
    errors = caught.value.field_errors
    assert set(errors) == {"name", "steps[2].key", "steps[0].job_id", "steps[1].job_id", "schedule_conf", "timezone", "overlap_policy", "misfire_strategy",
                           "timeout_s", "alarm_emails", "alarm_webhook", "colour"}, errors
    # a job of a group the user may not see: refused by id, its name not told
    assert "may not see" in errors["steps[0].job_id"] and "payroll" not in str(caught.value)
    assert count(database) == 0


def test_step_count_and_name_rules(database: Database, setup: dict) -> None:
    many = {"steps": [{"key": f"s{i}", "job_id": setup["jobs"][0]} for i in range(MAX_STEPS + 1)]}
    with pytest.raises(ServiceError) as caught:
        create(database, valid(setup, definition=many))
    assert "workflow_max_steps" in caught.value.field_errors["steps"]
    create(database, valid(setup))
    with pytest.raises(ServiceError) as caught:
        create(database, valid(setup, name=" nightly "))
    assert "another workflow" in caught.value.field_errors["name"]
    with pytest.raises(ServiceError) as caught:
        create(database, valid(setup, name="x", group_id=setup["other"]), actor=add_user(database, "bo", groups=[setup["gid"]]))
    assert "no executor group" in caught.value.field_errors["group_id"]
    assert count(database) == 1


def test_a_user_webhook_needs_an_admin(database: Database, setup: dict) -> None:
    user = add_user(database, "cy", groups=[setup["gid"]])
    with pytest.raises(ServiceError) as caught:
        create(database, valid(setup, alarm_webhook="https://hooks.example.com/x"), actor=user)
    assert "only an admin" in caught.value.field_errors["alarm_webhook"]


def test_update_bumps_the_version_and_audits_the_changed_fields(database: Database, setup: dict) -> None:
    view = create(database, valid(setup))
    changed = three_steps(*setup["jobs"])
    changed["steps"][1]["param"] = None
    with database.session() as s:
        after = workflows.update_workflow(s, SYSTEM_ACTOR, view.id, {"definition": changed, "description": "nightly ETL"}, now_ms=NOW + 1, max_steps=MAX_STEPS)
    assert after.version == 2 and after.description == "nightly ETL" and "param" not in after.definition["steps"][1]
    entry = audit_rows(database)[-1]
    assert entry.action == "workflow.update"
    assert set(json.loads(entry.after_json)) == {"definition", "description", "version"}
    assert json.loads(entry.before_json)["version"] == 1
    with pytest.raises(ServiceError), database.session() as s:
        workflows.update_workflow(s, SYSTEM_ACTOR, view.id, {"definition": {"steps": []}}, now_ms=NOW + 2, max_steps=MAX_STEPS)
    with database.session() as s:
        assert s.get(Workflow, view.id).version == 2


def test_start_stop_follow_the_schedule(database: Database, setup: dict) -> None:
    view = create(database, valid(setup))
    with database.session() as s:
        started = workflows.start_workflow(s, SYSTEM_ACTOR, view.id, now_ms=NOW)
    assert started.enabled and started.next_fire_at_ms == next_fire_at_ms("CRON", "0 0 2 * * ?", "Europe/Berlin", NOW)
    with database.session() as s:
        moved = workflows.update_workflow(s, SYSTEM_ACTOR, view.id, {"schedule_type": "FIX_RATE", "schedule_conf": "600"}, now_ms=NOW, max_steps=MAX_STEPS)
    assert moved.next_fire_at_ms == NOW + 600_000
    with pytest.raises(ServiceError) as caught, database.session() as s:
        workflows.update_workflow(s, SYSTEM_ACTOR, view.id, {"schedule_type": "NONE", "schedule_conf": ""}, now_ms=NOW, max_steps=MAX_STEPS)
    assert "schedule_type" in caught.value.field_errors
    with database.session() as s:
        stopped = workflows.stop_workflow(s, SYSTEM_ACTOR, view.id, now_ms=NOW)
    assert not stopped.enabled and stopped.next_fire_at_ms == 0
    assert [e.action for e in audit_rows(database)] == ["workflow.create", "workflow.start", "workflow.update", "workflow.stop"]
    manual = create(database, valid(setup, name="by hand", schedule_type="NONE", schedule_conf=""))
    with pytest.raises(ServiceError) as caught, database.session() as s:
        workflows.start_workflow(s, SYSTEM_ACTOR, manual.id, now_ms=NOW)
    assert "NONE never fires" in caught.value.field_errors["schedule_type"]


def test_others_groups_are_invisible_and_the_list_filters(database: Database, setup: dict) -> None:
    view = create(database, valid(setup))
    create(database, valid(setup, name="weekly report", definition={"steps": [{"key": "x", "job_id": setup["hidden"]}]}, group_id=setup["other"]))
    user = add_user(database, "di", groups=[setup["gid"]])
    with database.session() as s:
        assert [w.name for w in workflows.list_workflows(s, user, workflows.WorkflowFilter(), PageRequest()).items] == ["nightly"]
        assert [w.name for w in workflows.list_workflows(s, SYSTEM_ACTOR, workflows.WorkflowFilter(name="report"), PageRequest()).items] == ["weekly report"]
        assert workflows.list_workflows(s, SYSTEM_ACTOR, workflows.WorkflowFilter(group_id=setup["gid"]), PageRequest()).total == 1
        hidden_id = s.scalar(sa.select(Workflow.id).where(Workflow.name == "weekly report"))
        with pytest.raises(NotFound):
            workflows.get_workflow(s, user, hidden_id)
        assert workflows.get_workflow(s, user, view.id).name == "nightly"


def test_copy_is_stopped_and_named(database: Database, setup: dict) -> None:
    view = create(database, valid(setup))
    with database.session() as s:
        copy = workflows.copy_workflow(s, SYSTEM_ACTOR, view.id, now_ms=NOW, max_steps=MAX_STEPS)
    assert copy.name == "nightly (copy)" and copy.definition == view.definition and copy.version == 1 and not copy.enabled


def test_delete_is_refused_while_an_instance_runs(database: Database, setup: dict) -> None:
    view = create(database, valid(setup))
    with database.session() as s:
        s.add(WorkflowInstance(workflow_id=view.id, workflow_version=1, definition_json="{}", trigger_type=TriggerType.MANUAL, planned_at_ms=NOW,
                               status=WorkflowStatus.RUNNING, created_at_ms=NOW))
    with pytest.raises(Conflict) as caught, database.session() as s:
        workflows.delete_workflow(s, SYSTEM_ACTOR, view.id, now_ms=NOW)
    assert "active instance" in str(caught.value)
    with database.session() as s:
        s.execute(sa.update(WorkflowInstance).values(status=WorkflowStatus.SUCCEEDED))
    with database.session() as s:
        workflows.delete_workflow(s, SYSTEM_ACTOR, view.id, now_ms=NOW)
    assert count(database) == 0 and count(database, WorkflowInstance) == 1  # its history stays
    assert audit_rows(database)[-1].action == "workflow.delete"


def test_deleting_a_job_or_group_a_workflow_uses_is_refused(database: Database, setup: dict) -> None:
    create(database, valid(setup))
    with pytest.raises(Conflict) as caught, database.session() as s:
        jobs.delete_job(s, SYSTEM_ACTOR, setup["jobs"][1], now_ms=NOW)
    assert caught.value.status == 409 and "'nightly'" in str(caught.value)
    # a job id that only shares digits with a step's job is not held back
    free = add_job(database, setup["gid"], "free")
    with database.session() as s:
        jobs.delete_job(s, SYSTEM_ACTOR, free, now_ms=NOW)
    empty = add_group(database, "empty")
    create(database, valid(setup, name="listed there", group_id=empty))
    with pytest.raises(Conflict) as caught, database.session() as s:
        groups.delete_group(s, SYSTEM_ACTOR, empty, now_ms=NOW)
    assert "'listed there'" in str(caught.value)


def test_a_large_definition_is_refused_only_where_it_cannot_be_stored(database: Database, setup: dict) -> None:
    # 1,000 steps in a chain with 40-character keys: ~118,000 bytes of JSON, more than MySQL's TEXT
    keys = [f"step-{i:04d}-" + "x" * 30 for i in range(1000)]
    chain = {"steps": [{"key": k, "job_id": setup["jobs"][0]} for k in keys],
             "edges": [{"from": a, "to": b} for a, b in zip(keys, keys[1:], strict=False)]}
    data = valid(setup, definition=chain)
    with database.session() as s:
        limit = stored_definition_limit(s)
    if database.engine.dialect.name == "mysql":
        column = str(Workflow.__table__.c.definition_json.type.compile(dialect=database.engine.dialect))
        assert limit == {"TEXT": 65_535, "MEDIUMTEXT": 16_777_215}[column]
    else:
        assert limit == 16 * 1024 * 1024
    if limit < 118_000:
        with pytest.raises(ServiceError) as caught, database.session() as s:
            workflows.create_workflow(s, SYSTEM_ACTOR, data, now_ms=NOW, max_steps=1000)
        assert f"at most {limit} fit" in caught.value.field_errors["definition"]
        assert count(database) == 0
    else:
        with database.session() as s:
            view = workflows.create_workflow(s, SYSTEM_ACTOR, data, now_ms=NOW, max_steps=1000)
        assert view.step_count == 1000
        entry = audit_rows(database)[-1]
        assert json.loads(entry.after_json)["definition"]["steps"] == 1000  # audited by its digest
        with database.session() as s:
            assert len(s.get(Workflow, view.id).definition_json) > 118_000
