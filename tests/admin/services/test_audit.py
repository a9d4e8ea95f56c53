"""The audit trail's recording and reading, on SQLite, MariaDB and PostgreSQL: entries in the
transaction of the change (rolled back with it), only changed fields, no secrets, scoping to the
user's groups, the filters, and bad filters refused by name."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from shardcron.admin.db import Database
from shardcron.admin.enums import ActorKind, AuditAction, UserRole
from shardcron.admin.models import AuditEntry
from shardcron.admin.services import api_tokens, audit, audit_query, groups, jobs, triggers, users
from shardcron.admin.services.actor import SYSTEM_ACTOR, Actor, cli_actor
from shardcron.admin.services.errors import ServiceError
from shardcron.admin.services.paging import PageRequest
from tests.support.admin_data import NOW, PASSWORD, add_group


def _entries(database: Database) -> list[AuditEntry]:
    with database.read_session() as s:
        rows = list(s.scalars(sa.select(AuditEntry).order_by(AuditEntry.id)))
        s.expunge_all()
        return rows


def _admin(database: Database, name: str = "root") -> Actor:
    with database.session() as s:
        view = users.create_user(s, SYSTEM_ACTOR, name, PASSWORD, UserRole.ADMIN, now_ms=NOW)
        actor = users.actor_for_user(s, view.id)
    assert actor is not None
    return actor


def _job_data(group_id: int, **extra) -> dict:
    return {"group_id": group_id, "name": "nightly", "schedule_type": "CRON", "schedule_conf": "0 0 2 * * ?", "timezone": "UTC", "handler": "sync", **extra}


def test_a_job_update_records_only_the_changed_fields_with_who_and_where(database: Database) -> None:
    gid = add_group(database, "billing")
    root = _admin(database)
    via_token = Actor(root.user_id, root.username, root.role, kind=ActorKind.API_TOKEN, token_name="ci", client_address="10.0.0.7")
    with database.session() as s:
        job = jobs.create_job(s, via_token, _job_data(gid), now_ms=NOW + 1)
        jobs.update_job(s, via_token, job.id, {"schedule_conf": "0 30 2 * * ?", "author": "ops"}, now_ms=NOW + 2)
    created, updated = [e for e in _entries(database) if e.target_type == "job"]
    assert (created.action, created.at_ms, created.group_id, created.target_id, created.target_name) == ("job.create", NOW + 1, gid, job.id, "nightly")
    assert json.loads(created.after_json)["handler"] == "sync" and created.before_json is None
    assert (updated.action, updated.actor_kind, updated.actor_user_id, updated.actor_name, updated.token_name, updated.client_address) == (
        "job.update", "API_TOKEN", root.user_id, "root", "ci", "10.0.0.7"
    )
    assert json.loads(updated.before_json) == {"schedule_conf": "0 0 2 * * ?", "author": ""}
    assert json.loads(updated.after_json) == {"schedule_conf": "0 30 2 * * ?", "author": "ops"}


def test_the_entry_rolls_back_with_a_change_that_fails(database: Database) -> None:
    gid = add_group(database, "billing")
    root = _admin(database)
    before = len(_entries(database))
    with pytest.raises(RuntimeError):
        with database.session() as s:
            groups.update_group(s, root, gid, {"title": "Renamed"}, now_ms=NOW)
            assert s.scalar(sa.select(sa.func.count()).select_from(AuditEntry)) == before + 1  # written in this transaction...
            raise RuntimeError("the change fails after the entry was written")
    assert len(_entries(database)) == before  # ...and gone with it
    with database.read_session() as s:
        assert groups.get_group(s, root, gid, NOW).title == "Billing"


def test_script_changes_are_recorded_by_digest_with_their_version(database: Database) -> None:
    gid = add_group(database, "scripts")
    root = _admin(database)
    long_script = "#!/bin/sh\n" + "echo step\n" * 100
    with database.session() as s:
        job = jobs.create_job(s, root, _job_data(gid, glue_type="GLUE_SHELL", glue_source="echo one", handler=""), now_ms=NOW)
        jobs.update_job(s, root, job.id, {"glue_source": long_script, "glue_remark": "longer"}, now_ms=NOW + 1)
    change = [e for e in _entries(database) if e.action == AuditAction.SCRIPT_CHANGE.value][-1]
    after = json.loads(change.after_json)
    assert json.loads(change.before_json) == {"glue_source": "echo one"}
    assert after["glue_source"].startswith(f"<{len(long_script)} characters, sha256 ") and after["remark"] == "longer"
    assert isinstance(after["version_id"], int)
    # Nothing but the script changed: no job.update entry beside it.
    assert [e.action for e in _entries(database) if e.target_type == "job"] == ["job.create", "script.change"]


def test_no_password_or_token_reaches_the_trail(database: Database) -> None:
    root = _admin(database)
    with database.session() as s:
        bob = users.create_user(s, root, "bob", PASSWORD, UserRole.USER, now_ms=NOW)
        _, token = api_tokens.issue_token(s, root, bob.id, "ci", now_ms=NOW)
        users.change_password(s, root, bob.id, "another long password", now_ms=NOW)
    text = " ".join(f"{e.before_json} {e.after_json}" for e in _entries(database))
    assert PASSWORD not in text and "another long password" not in text and token not in text
    reset = _entries(database)[-1]
    assert (reset.action, json.loads(reset.after_json)) == ("user.password_reset", {"other_sessions_ended": True, "tokens_revoked": 1})
    with database.session() as s, pytest.raises(audit.AuditSecretError):
        audit.record(s, root, AuditAction.USER_CREATE, "user", target_id=1, after={"password": "x"}, now_ms=NOW)


def test_users_see_only_the_entries_of_their_groups(database: Database) -> None:
    mine, theirs = add_group(database, "mine"), add_group(database, "theirs")
    root = _admin(database)
    with database.session() as s:
        bob_view = users.create_user(s, root, "bob", PASSWORD, UserRole.USER, [mine], now_ms=NOW)
        for gid in (mine, theirs):
            job = jobs.create_job(s, root, _job_data(gid, name=f"job of {gid}"), now_ms=NOW)
            triggers.trigger_job(s, root, job.id, now_ms=NOW)
        bob = users.actor_for_user(s, bob_view.id)
    with database.read_session() as s:
        seen = audit_query.list_entries(s, bob, audit_query.AuditFilter(), PageRequest()).items
        everything = audit_query.list_entries(s, root, audit_query.AuditFilter(), PageRequest()).items
    assert {e.group_id for e in seen} == {mine} and len(seen) == 2
    assert {e.action for e in everything} >= {"user.create", "job.create", "job.trigger"} and len(everything) == 6


def test_filters_by_actor_action_target_group_and_time(database: Database) -> None:
    gid, other = add_group(database, "one"), add_group(database, "two")
    root = _admin(database)
    cli = cli_actor("deploy-bot")
    with database.session() as s:
        job = jobs.create_job(s, root, _job_data(gid), now_ms=NOW + 10)
        jobs.start_job(s, cli, job.id, now_ms=NOW + 20)
        jobs.stop_job(s, cli, job.id, now_ms=NOW + 30)
        groups.update_group(s, root, other, {"title": "Second"}, now_ms=NOW + 40)

    def actions(**args) -> list[str]:
        with database.read_session() as s:
            return [e.action for e in audit_query.list_entries(s, root, audit_query.AuditFilter.parse(args), PageRequest()).items]

    assert actions(actor="deploy-bot") == ["job.stop", "job.start"]
    assert actions(actor_kind="cli") == ["job.stop", "job.start"]
    assert actions(action="job") == ["job.stop", "job.start", "job.create"]
    assert actions(action="job.start") == ["job.start"]
    assert actions(target_type="group", target_id=str(other)) == ["group.update"]
    assert actions(group_id=str(gid), from_ms=str(NOW + 20), to_ms=str(NOW + 30)) == ["job.start"]
    with database.read_session() as s:
        page = audit_query.list_entries(s, root, audit_query.AuditFilter(), PageRequest(page=2, per_page=2))
    assert (page.total, [e.action for e in page.items]) == (5, ["job.start", "job.create"])


@pytest.mark.parametrize(
    "args, field",
    [
        ({"group_id": "x"}, "group_id"),
        ({"group_id": "99999999999999999999"}, "group_id"),
        ({"target_id": "-1", "target_type": "job"}, "target_id"),
        ({"target_id": "5"}, "target_type"),
        ({"from_ms": "1e3"}, "from_ms"),
        ({"from_ms": "20", "to_ms": "10"}, "to_ms"),
        ({"action": "job.explode"}, "action"),
        ({"target_type": "planet"}, "target_type"),
        ({"actor_kind": "ROBOT"}, "actor_kind"),
        ({"actor": "x" * 65}, "actor"),
    ],
)
def test_bad_filters_are_refused_by_name(args: dict, field: str) -> None:
    with pytest.raises(ServiceError) as caught:
        audit_query.AuditFilter.parse(args)
    assert caught.value.status == 400 and field in caught.value.field_errors
