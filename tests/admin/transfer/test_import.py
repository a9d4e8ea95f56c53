"""Import: ids remapped, children resolved, conflicts by option, every problem at once, one transaction."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from shardcron.admin.db import Database, init_schema
from shardcron.admin.models import AuditEntry, ExecutorGroup, GlueVersion, Job
from shardcron.admin.transfer.importer import ImportRefused
from shardcron.admin.transfer.plan import Action, OnConflict

from .conftest import export_of, run_import, seed, seeded_source


@pytest.fixture
def source(tmp_path: Path) -> Iterator[Database]:
    yield from seeded_source(tmp_path / "source.db", seed)


def _counts(db: Database) -> tuple[int, int, int]:
    with db.read_session() as s:
        return tuple(s.scalar(sa.select(sa.func.count()).select_from(model)) or 0 for model in (ExecutorGroup, Job, AuditEntry))  # type: ignore[return-value]


def test_round_trip_into_an_empty_database_gives_the_same_document(source: Database, target: Database) -> None:
    document = export_of(source)
    plan = run_import(target, document, keep_state=True)
    assert [(step.app_name, step.action) for step in plan.groups] == [("mail", Action.CREATE), ("orders", Action.CREATE)]
    assert {step.name: step.action for step in plan.jobs} == {"send": Action.CREATE, "close": Action.CREATE, "report": Action.CREATE}
    assert export_of(target) == document
    with target.read_session() as s:
        close = s.scalars(sa.select(Job).where(Job.name == "close")).one()
        by_name = {job.name: job.id for job in s.scalars(sa.select(Job))}
        assert close.child_job_ids == f"{by_name['report']},{by_name['send']}"
        send = s.scalars(sa.select(Job).where(Job.name == "send")).one()
        assert send.enabled and send.next_fire_at_ms > 0
        # The script job's first kept version, and every change audited as the command line's user.
        assert s.scalar(sa.select(sa.func.count()).select_from(GlueVersion)) == 1
        entries = list(s.scalars(sa.select(AuditEntry)))
        assert {e.actor_name for e in entries} == {"importer"} and {e.actor_kind for e in entries} == {"CLI"}
        assert sorted(e.action for e in entries) == sorted(["group.create"] * 2 + ["job.create"] * 3 + ["job.start"])


def test_every_problem_is_reported_at_once_and_nothing_is_written(source: Database, target: Database) -> None:
    document = export_of(source)
    bad = copy.deepcopy(document)
    bad["surprise"] = True
    bad["groups"][0]["colour"] = "red"
    bad["groups"][1]["address_type"] = "SOMETIMES"
    bad["jobs"][0]["schedule_conf"] = "61 * * * *"
    bad["jobs"][1]["nickname"] = "x"
    bad["jobs"][0]["children"] = [{"group": "orders", "job": "close"}]  # send -> close -> send (jobs: send, close, report)
    bad["jobs"].append({**bad["jobs"][1], "nickname": None})
    bad["jobs"].append({"group": "billing", "name": "invoice", "handler": "invoice", "schedule_conf": "0 1 * * *"})
    bad["jobs"].append({"group": "mail", "name": "digest", "handler": "d", "schedule_conf": "0 1 * * *", "children": [{"group": "mail", "job": "gone"}]})
    before = _counts(target)
    with pytest.raises(ImportRefused) as refused:
        run_import(target, bad)
    lines = [problem.line() for problem in refused.value.problems]
    assert "surprise: unknown field" in lines
    assert "groups[0].colour: unknown field" in lines
    assert any(line.startswith("groups[1].address_type: must be one of") for line in lines)
    assert any(line.startswith("jobs[0].schedule_conf: ") for line in lines)
    assert "jobs[1].nickname: unknown field" in lines
    assert "jobs[3].name: job 'close' of group 'orders' is also at jobs[1]" in lines
    assert "jobs[4].group: no executor group 'billing' in the document or the database" in lines
    assert "jobs[5].children[0]: no job 'gone' in group 'mail', in the document or the database" in lines
    assert "jobs[0].children: a cycle of child jobs: mail/send -> orders/close -> mail/send" in lines
    assert "jobs[0].children: a cycle of child jobs: mail/send -> orders/close -> orders/report -> mail/send" in lines
    assert _counts(target) == before


def test_conflicts_skip_update_or_fail(source: Database, target: Database) -> None:
    document = export_of(source)
    run_import(target, document)
    changed = copy.deepcopy(document)
    changed["groups"][0]["title"] = "Mail service"
    close = next(job for job in changed["jobs"] if job["name"] == "close")
    close["retry_count"] = 7
    close["children"] = [{"group": "mail", "job": "send"}]
    changed["jobs"].append({"group": "mail", "name": "bounce", "handler": "bounce", "schedule_conf": "0 3 * * *"})

    skipped = run_import(target, changed)  # the default: what exists is left as it is
    assert {s.name: s.action for s in skipped.jobs} == {"close": Action.SKIP, "report": Action.SKIP, "send": Action.SKIP, "bounce": Action.CREATE}
    assert export_of(target)["groups"][0]["title"] == "Mail"

    with pytest.raises(ImportRefused) as refused:
        run_import(target, changed, on_conflict=OnConflict.FAIL)
    assert "groups[0].app_name: executor group 'mail' exists already (on_conflict is fail)" in [p.line() for p in refused.value.problems]

    updated = run_import(target, changed, on_conflict=OnConflict.UPDATE)
    assert {s.name: s.action for s in updated.jobs}["close"] is Action.UPDATE
    after = export_of(target)
    assert after["groups"][0]["title"] == "Mail service"
    close_after = next(job for job in after["jobs"] if job["name"] == "close")
    assert close_after["retry_count"] == 7 and close_after["children"] == [{"group": "mail", "job": "send"}]
    with target.read_session() as s:
        assert s.scalars(sa.select(Job).where(Job.name == "send")).one().enabled is False  # imported stopped, and kept so by an update


def test_dry_run_plans_and_writes_nothing(source: Database, target: Database) -> None:
    before = _counts(target)
    plan = run_import(target, export_of(source), dry_run=True, keep_state=True)
    assert plan.count("jobs", Action.CREATE) == 3 and all(step.new_id is None for step in plan.jobs)
    assert [step.ends_enabled for step in plan.jobs] == [True, False, False]  # send, close, report
    assert _counts(target) == before


def test_children_may_name_jobs_already_in_the_database(source: Database, tmp_path: Path) -> None:
    document = export_of(source)
    report_only = {**document, "jobs": [job for job in document["jobs"] if job["name"] != "close"]}
    run_import(source, {"shardcron_export": 1, "groups": [], "jobs": []})  # an empty document is fine
    target = Database(f"sqlite:///{tmp_path / 'partial.db'}", pool_size=1)
    init_schema(target.engine)
    try:
        run_import(target, report_only)
        close_only = {"shardcron_export": 1, "jobs": [job for job in document["jobs"] if job["name"] == "close"]}
        plan = run_import(target, close_only)
        assert [step.action for step in plan.jobs] == [Action.CREATE]
        def settings(doc: dict) -> list[dict]:
            return [{k: v for k, v in job.items() if k != "enabled"} for job in doc["jobs"]]

        assert settings(export_of(target)) == settings(document)  # close's children found in the database
    finally:
        target.dispose()


def test_wrong_version_and_bad_sections(target: Database) -> None:
    for document, expected in [
        ({"groups": []}, "shardcron_export: is required: the version of the export document (1)"),
        ({"shardcron_export": 2}, "shardcron_export: version 2 is not read here; this admin reads version 1"),
        ({"shardcron_export": True}, "shardcron_export: version True is not read here; this admin reads version 1"),
        ({"shardcron_export": 1, "jobs": {"a": 1}}, "jobs: must be a list"),
        ({"shardcron_export": 1, "jobs": ["x"]}, "jobs[0]: must be an object"),
        ({"shardcron_export": 1, "jobs": [{"group": "g", "name": "n", "children": [{"group": "g"}]}]}, "jobs[0].children[0]: needs group (an app name) and job (a job name), both text"),
        ({"shardcron_export": 1, "jobs": [{"group": "g", "name": "n", "enabled": "yes"}]}, "jobs[0].enabled: must be true or false"),
    ]:
        with pytest.raises(ImportRefused) as refused:
            run_import(target, document)
        assert expected in [p.line() for p in refused.value.problems], (document, refused.value.problems)


def test_an_enabled_job_must_be_able_to_fire(source: Database, target: Database) -> None:
    document = export_of(source)
    send = next(job for job in document["jobs"] if job["name"] == "send")
    send["schedule_type"], send["schedule_conf"] = "NONE", ""  # valid, and never fires by itself
    with pytest.raises(ImportRefused) as refused:
        run_import(target, document, keep_state=True)
    assert [p.line() for p in refused.value.problems] == ["jobs[0].enabled: the job cannot be enabled: its schedule never fires by itself"]
    plan = run_import(target, document)  # stopped, as imported jobs arrive by default: fine
    assert [step.ends_enabled for step in plan.jobs] == [False, False, False]


def test_names_of_the_wrong_type_are_named(target: Database) -> None:
    document = {"shardcron_export": 1, "groups": [{"app_name": 7}], "jobs": [{"group": ["g"], "name": "n"}, {"group": "g", "name": 12}]}
    with pytest.raises(ImportRefused) as refused:
        run_import(target, document)
    assert [p.line() for p in refused.value.problems] == ["groups[0].app_name: must be text", "jobs[0].group: must be text", "jobs[1].name: must be text"]
