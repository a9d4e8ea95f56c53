"""The `workflows` section: steps name their jobs by (group, job), ids remapped on import, every
problem at once with its place, dry runs, conflicts, and a round trip on each backend."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from shardcron.admin.db import Database
from shardcron.admin.models import AuditEntry, Job, Workflow
from shardcron.admin.services import groups, jobs, workflows
from shardcron.admin.services.actor import cli_actor
from shardcron.admin.transfer.importer import ImportRefused
from shardcron.admin.transfer.plan import Action, OnConflict

from .conftest import NOW, export_of, run_import, seed, seeded_source


def seed_workflows(db: Database) -> None:
    """The import tests' groups and jobs, and two workflows over jobs of both groups: one enabled
    with templates, joins and a FAILURE edge, one stopped."""
    seed(db)
    actor = cli_actor("seeder")
    with db.session() as s:
        ids = {job.name: job.id for job in s.scalars(sa.select(Job))}
        orders = s.scalar(sa.select(Job.group_id).where(Job.name == "close"))
        pipeline = {
            "steps": [
                {"key": "close", "job_id": ids["close"], "param": "day={{params.day}}"},
                {"key": "report", "job_id": ids["report"], "param": "rows={{upstream.close.rows}} of {{instance.id}}"},
                {"key": "mail", "job_id": ids["send"], "join": "ANY"},
            ],
            "edges": [{"from": "close", "to": "report"}, {"from": "report", "to": "mail", "on": "FAILURE"}, {"from": "close", "to": "mail", "on": "ALWAYS"}],
        }
        created = workflows.create_workflow(
            s, actor, {"group_id": orders, "name": "nightly", "definition": pipeline, "schedule_type": "CRON", "schedule_conf": "0 0 3 * * ?",
                       "timezone": "Asia/Shanghai", "overlap_policy": "BUFFER_ONE", "timeout_s": 600, "alarm_emails": "ops@example.com",
                       "alarm_webhook": "https://hooks.example.com/wf"},
            now_ms=NOW, max_steps=1000,
        )  # fmt: skip
        workflows.start_workflow(s, actor, created.id, now_ms=NOW)
        workflows.create_workflow(s, actor, {"group_id": orders, "name": "by hand", "definition": {"steps": [{"key": "one", "job_id": ids["send"]}], "edges": []}}, now_ms=NOW, max_steps=1000)


@pytest.fixture
def source(tmp_path: Path) -> Iterator[Database]:
    yield from seeded_source(tmp_path / "source.db", seed_workflows)


def _workflow_count(db: Database) -> int:
    with db.read_session() as s:
        return s.scalar(sa.select(sa.func.count()).select_from(Workflow)) or 0


def test_export_names_each_steps_job_by_group_and_name(source: Database) -> None:
    document = export_of(source)
    assert [w["name"] for w in document["workflows"]] == ["by hand", "nightly"]
    nightly = document["workflows"][1]
    assert nightly["group"] == "orders" and nightly["enabled"] is True and nightly["overlap_policy"] == "BUFFER_ONE"
    assert (nightly["alarm_emails"], nightly["alarm_webhook"]) == ("ops@example.com", "https://hooks.example.com/wf")
    assert [step["job"] for step in nightly["definition"]["steps"]] == [{"group": "orders", "job": "close"}, {"group": "orders", "job": "report"}, {"group": "mail", "job": "send"}]
    assert all("job_id" not in step for step in nightly["definition"]["steps"])


def test_round_trip_remaps_ids_and_gives_the_same_document(source: Database, target: Database) -> None:
    document = export_of(source)
    with target.session() as s:  # other ids on the importing side: a group and a job first
        other = groups.create_group(s, cli_actor("x"), {"app_name": "other", "title": "Other"}, now_ms=NOW).id
        jobs.create_job(s, cli_actor("x"), {"group_id": other, "name": "filler", "handler": "f", "schedule_type": "NONE"}, now_ms=NOW)
    plan = run_import(target, document, keep_state=True)
    assert [(w.name, w.action, w.ends_enabled) for w in plan.workflows] == [("by hand", Action.CREATE, False), ("nightly", Action.CREATE, True)]
    exported = export_of(target)
    assert exported["workflows"] == document["workflows"]
    with target.read_session() as s:
        ids = {job.name: job.id for job in s.scalars(sa.select(Job))}
        nightly = s.scalars(sa.select(Workflow).where(Workflow.name == "nightly")).one()
        assert [step["job_id"] for step in json.loads(nightly.definition_json)["steps"]] == [ids["close"], ids["report"], ids["send"]]
        assert nightly.enabled and nightly.next_fire_at_ms > NOW
        assert (nightly.alarm_emails, nightly.alarm_webhook) == ("ops@example.com", "https://hooks.example.com/wf")
        actions = sorted(e.action for e in s.scalars(sa.select(AuditEntry)) if e.action.startswith("workflow."))
        assert actions == ["workflow.create", "workflow.create", "workflow.start"]
    # and again: everything exists, skipped by default
    again = run_import(target, exported)
    assert [w.action for w in again.workflows] == [Action.SKIP, Action.SKIP]
    assert export_of(target)["workflows"] == document["workflows"]


def test_every_problem_is_reported_at_its_place_and_nothing_is_written(source: Database, target: Database) -> None:
    document = export_of(source)
    bad = copy.deepcopy(document)
    nightly = bad["workflows"][1]
    nightly["definition"]["steps"][0]["job"] = {"group": "orders", "job": "gone"}  # unknown job
    nightly["definition"]["steps"][1]["param"] = "{{whatever}}"  # bad template
    nightly["definition"]["edges"].append({"from": "mail", "to": "close"})  # a cycle
    nightly["timeout_s"] = -1
    nightly["colour"] = "red"
    nightly["alarm_webhook"] = "ftp://hooks.example.com/wf"
    bad["workflows"][0]["definition"]["steps"][0]["job"] = "send"  # not a reference
    bad["workflows"].append({**copy.deepcopy(bad["workflows"][0]), "name": "elsewhere", "group": "billing"})
    bad["workflows"].append({**copy.deepcopy(document["workflows"][0])})  # the same name twice
    with pytest.raises(ImportRefused) as refused:
        run_import(target, bad)
    places = {problem.place for problem in refused.value.problems}
    assert {
        "workflows[1].definition.steps[0].job",
        "workflows[1].definition.steps[1].param",
        "workflows[1].definition.edges",
        "workflows[1].timeout_s",
        "workflows[1].colour",
        "workflows[1].alarm_webhook",
        "workflows[0].definition.steps[0].job",
        "workflows[2].group",
        "workflows[3].name",
    } <= places, places
    messages = {problem.place: str(problem.message) for problem in refused.value.problems}
    assert "gone" in messages["workflows[1].definition.steps[0].job"]
    assert "cycle" in messages["workflows[1].definition.edges"]
    assert _workflow_count(target) == 0
    with target.read_session() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(Job)) == 0


def test_dry_run_plans_and_writes_nothing(source: Database, target: Database) -> None:
    plan = run_import(target, export_of(source), dry_run=True, keep_state=True)
    assert [(w.name, w.action, w.target_id) for w in plan.workflows] == [("by hand", Action.CREATE, None), ("nightly", Action.CREATE, None)]
    assert _workflow_count(target) == 0


def test_conflicts_skip_update_or_fail(source: Database, target: Database) -> None:
    document = export_of(source)
    run_import(target, document)
    changed = copy.deepcopy(document)
    changed["workflows"][0]["description"] = "changed"
    skipped = run_import(target, changed)
    assert [w.action for w in skipped.workflows] == [Action.SKIP, Action.SKIP]
    with pytest.raises(ImportRefused) as refused:
        run_import(target, changed, on_conflict=OnConflict.FAIL)
    assert "workflows[0].name" in {p.place for p in refused.value.problems}
    updated = run_import(target, changed, on_conflict=OnConflict.UPDATE)
    assert [w.action for w in updated.workflows] == [Action.UPDATE, Action.UPDATE]
    with target.read_session() as s:
        by_hand = s.scalars(sa.select(Workflow).where(Workflow.name == "by hand")).one()
        assert by_hand.description == "changed" and by_hand.version == 2


def test_steps_may_name_jobs_already_in_the_database(source: Database, target: Database) -> None:
    document = export_of(source)
    run_import(target, {**document, "workflows": []})
    plan = run_import(target, {"shardcron_export": 1, "workflows": document["workflows"]}, keep_state=True)
    assert [w.action for w in plan.workflows] == [Action.CREATE, Action.CREATE]
    assert export_of(target)["workflows"] == document["workflows"]
