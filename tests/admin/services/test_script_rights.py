"""Script jobs are a privilege: the attacks of a USER without the script right (nothing written,
403), the same requests with the right (saved, a version kept), 30 versions kept, the diff, and
rollback. On SQLite and MariaDB."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from shardcron.admin.db import Database
from shardcron.admin.enums import UserRole
from shardcron.admin.models import GlueVersion, Job
from shardcron.admin.services import glue_versions, jobs, users
from shardcron.admin.services.actor import SYSTEM_ACTOR, Actor
from shardcron.admin.services.errors import Forbidden, NotFound, ServiceError
from tests.support.admin_data import NOW, add_group, add_user

SHELL = "#!/bin/sh\nid\n"


def bean(group: int, **over) -> dict:
    return {"group_id": group, "name": "report", "schedule_type": "NONE", "handler": "report", **over}


def shell(group: int, source: str = SHELL, **over) -> dict:
    return {"group_id": group, "name": "script", "schedule_type": "NONE", "glue_type": "GLUE_SHELL", "glue_source": source, **over}


def snapshot(db: Database) -> tuple:
    with db.read_session() as s:
        return (
            tuple(s.execute(sa.select(Job.id, Job.group_id, Job.name, Job.glue_type, Job.glue_source, Job.glue_updated_at_ms, Job.updated_at_ms).order_by(Job.id)).all()),
            tuple(s.execute(sa.select(GlueVersion.id, GlueVersion.job_id, GlueVersion.glue_source).order_by(GlueVersion.id)).all()),
        )


def grant_scripts(db: Database, user: Actor, group_ids: list[int]) -> Actor:
    with db.session() as s:
        users.set_script_grants(s, SYSTEM_ACTOR, user.user_id, group_ids, now_ms=NOW)
        actor = users.actor_for_user(s, user.user_id)
    assert actor is not None
    return actor


def as_actor(db: Database, actor: Actor, call):
    with db.session() as s:
        return call(s, actor)


def versions(db: Database, job_id: int) -> list[glue_versions.GlueVersionView]:
    with db.read_session() as s:
        return glue_versions.list_versions(s, SYSTEM_ACTOR, job_id)


@pytest.fixture
def world(database: Database):
    """Group "ops" with a BEAN job and a GLUE_SHELL job an admin wrote; eve is granted "ops" only."""
    gid = add_group(database, "ops")
    with database.session() as s:
        bean_job = jobs.create_job(s, SYSTEM_ACTOR, bean(gid), now_ms=NOW).id
        glue_job = jobs.create_job(s, SYSTEM_ACTOR, shell(gid, "echo admin\n"), now_ms=NOW).id
    eve = add_user(database, "eve", groups=[gid])
    return database, gid, bean_job, glue_job, eve


ATTACKS = {
    "create a GLUE_SHELL job": lambda s, a, gid, bj, gj: jobs.create_job(s, a, shell(gid), now_ms=NOW + 1),
    "create a GLUE_GROOVY job": lambda s, a, gid, bj, gj: jobs.create_job(s, a, shell(gid, "Runtime.exec('id')", glue_type="GLUE_GROOVY"), now_ms=NOW + 1),
    "create a GLUE_PHP job": lambda s, a, gid, bj, gj: jobs.create_job(s, a, shell(gid, "<?php system('id');", glue_type="GLUE_PHP"), now_ms=NOW + 1),
    "create a BEAN job carrying a source": lambda s, a, gid, bj, gj: jobs.create_job(s, a, bean(gid, glue_source=SHELL), now_ms=NOW + 1),
    "change glue_source": lambda s, a, gid, bj, gj: jobs.update_job(s, a, gj, {"glue_source": SHELL}, now_ms=NOW + 1),
    "switch BEAN to GLUE_SHELL": lambda s, a, gid, bj, gj: jobs.update_job(s, a, bj, {"glue_type": "GLUE_SHELL", "glue_source": SHELL}, now_ms=NOW + 1),
    "switch GLUE_SHELL to GLUE_PYTHON": lambda s, a, gid, bj, gj: jobs.update_job(s, a, gj, {"glue_type": "GLUE_PYTHON"}, now_ms=NOW + 1),
    "copy a GLUE job": lambda s, a, gid, bj, gj: jobs.copy_job(s, a, gj, now_ms=NOW + 1),
    "roll back": lambda s, a, gid, bj, gj: jobs.rollback_script(s, a, gj, versions_of(s, gj)[-1].id, now_ms=NOW + 1),
}


def versions_of(session, job_id: int) -> list[glue_versions.GlueVersionView]:
    return glue_versions.list_versions(session, SYSTEM_ACTOR, job_id)


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_a_user_without_the_script_right_is_refused_and_nothing_is_written(world, attack: str) -> None:
    database, gid, bean_job, glue_job, eve = world
    before = snapshot(database)
    with pytest.raises(Forbidden) as refused:
        as_actor(database, eve, lambda s, a: ATTACKS[attack](s, a, gid, bean_job, glue_job))
    assert refused.value.status == 403
    assert "may run scripts" in refused.value.message and f"group {gid}" in refused.value.message
    assert snapshot(database) == before


def test_the_script_right_of_another_group_does_not_count(world) -> None:
    database, gid, bean_job, glue_job, eve = world
    other = add_group(database, "other")
    with database.session() as s:
        users.set_grants(s, SYSTEM_ACTOR, eve.user_id, [gid, other], now_ms=NOW)
    eve = grant_scripts(database, eve, [other])
    before = snapshot(database)
    with pytest.raises(Forbidden):
        as_actor(database, eve, lambda s, a: jobs.update_job(s, a, glue_job, {"glue_source": SHELL}, now_ms=NOW + 1))
    assert snapshot(database) == before
    # Moving the script into the group where she may write scripts gives her no more than
    # writing it there (and she may delete the job where it is): allowed.
    moved = as_actor(database, eve, lambda s, a: jobs.update_job(s, a, glue_job, {"group_id": other}, now_ms=NOW + 1))
    assert moved.group_id == other


def test_a_script_job_cannot_be_moved_into_a_group_without_the_right(world) -> None:
    database, gid, bean_job, glue_job, eve = world
    other = add_group(database, "other")
    with database.session() as s:
        users.set_grants(s, SYSTEM_ACTOR, eve.user_id, [gid, other], now_ms=NOW)
    eve = grant_scripts(database, eve, [gid])
    before = snapshot(database)
    with pytest.raises(Forbidden):
        as_actor(database, eve, lambda s, a: jobs.update_job(s, a, glue_job, {"group_id": other}, now_ms=NOW + 1))
    assert snapshot(database) == before


def test_without_the_right_the_other_fields_of_a_script_job_stay_editable(world) -> None:
    database, gid, bean_job, glue_job, eve = world
    saved = as_actor(database, eve, lambda s, a: jobs.update_job(s, a, glue_job, {"name": "renamed", "timeout_s": "30", "glue_source": "echo admin\n", "glue_type": "GLUE_SHELL"}, now_ms=NOW + 1))
    assert (saved.name, saved.timeout_s, saved.glue_source, saved.can_edit_script) == ("renamed", 30, "echo admin\n", False)
    assert len(versions(database, glue_job)) == 1  # no script change, no version
    # A BEAN job and its handler are hers to edit as before.
    assert as_actor(database, eve, lambda s, a: jobs.update_job(s, a, bean_job, {"handler": "other"}, now_ms=NOW + 1)).handler == "other"


def test_with_the_right_a_user_writes_scripts_and_each_change_is_a_version(world) -> None:
    database, gid, bean_job, glue_job, eve = world
    eve = grant_scripts(database, eve, [gid])
    created = as_actor(database, eve, lambda s, a: jobs.create_job(s, a, {**shell(gid), "glue_remark": "first cut"}, now_ms=NOW + 1))
    assert created.can_edit_script
    as_actor(database, eve, lambda s, a: jobs.update_job(s, a, created.id, {"glue_source": "echo two\n", "glue_remark": "second"}, now_ms=NOW + 2))
    switched = as_actor(database, eve, lambda s, a: jobs.update_job(s, a, bean_job, {"glue_type": "GLUE_PYTHON", "glue_source": "print(1)\n"}, now_ms=NOW + 3))
    assert switched.glue_type == "GLUE_PYTHON" and switched.glue_updated_at_ms == NOW + 3
    kept = versions(database, created.id)
    assert [(v.remark, v.author_name, v.author_user_id, v.created_at_ms) for v in kept] == [
        ("second", "eve", eve.user_id, NOW + 2),
        ("first cut", "eve", eve.user_id, NOW + 1),
    ]
    assert [(v.glue_type, v.author_name) for v in versions(database, bean_job)] == [("GLUE_PYTHON", "eve")]


def test_thirty_one_edits_keep_the_newest_thirty(world) -> None:
    database, gid, bean_job, glue_job, eve = world
    admin = add_user(database, "root", UserRole.ADMIN)
    for n in range(31):
        as_actor(database, admin, lambda s, a: jobs.update_job(s, a, glue_job, {"glue_source": f"echo {n}\n", "glue_remark": f"edit {n}"}, now_ms=NOW + n))  # noqa: B023 (run at once)
    kept = versions(database, glue_job)
    assert len(kept) == glue_versions.KEEP_VERSIONS == 30
    assert kept[0].remark == "edit 30" and kept[-1].remark == "edit 1"  # the creation and edit 0 dropped
    with database.read_session() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(GlueVersion).where(GlueVersion.job_id == glue_job)) == 30
        assert s.scalar(sa.select(sa.func.count()).select_from(GlueVersion).where(GlueVersion.job_id != glue_job)) == 0


def test_a_version_shows_the_unified_diff_from_the_one_before(world) -> None:
    database, gid, bean_job, glue_job, eve = world
    with database.session() as s:
        jobs.update_job(s, SYSTEM_ACTOR, glue_job, {"glue_source": "echo admin\necho more"}, now_ms=NOW + 1)
    newest, first = versions(database, glue_job)
    with database.read_session() as s:
        detail = glue_versions.get_version(s, eve, glue_job, newest.id)
        oldest = glue_versions.get_version(s, eve, glue_job, first.id)
    assert detail.previous_id == first.id and detail.glue_source == "echo admin\necho more"
    assert detail.diff == (
        f"--- version {first.id} (GLUE_SHELL)\n+++ version {newest.id} (GLUE_SHELL)\n@@ -1 +1,2 @@\n echo admin\n+echo more\n"
    )
    assert (oldest.previous_id, oldest.diff) == (None, "")


def test_versions_of_a_job_in_another_group_are_not_found(world) -> None:
    database, gid, bean_job, glue_job, eve = world
    hidden = add_group(database, "hidden")
    with database.session() as s:
        secret = jobs.create_job(s, SYSTEM_ACTOR, shell(hidden, "echo secret"), now_ms=NOW).id
    version_id = versions(database, secret)[0].id
    with database.read_session() as s:
        with pytest.raises(NotFound):
            glue_versions.list_versions(s, eve, secret)
        with pytest.raises(NotFound):
            glue_versions.get_version(s, eve, secret, version_id)
        with pytest.raises(NotFound):  # a version id of another job, through a job she may see
            glue_versions.get_version(s, eve, glue_job, version_id)


def test_rollback_restores_a_version_and_is_itself_a_version(world) -> None:
    database, gid, bean_job, glue_job, eve = world
    eve = grant_scripts(database, eve, [gid])
    as_actor(database, eve, lambda s, a: jobs.update_job(s, a, glue_job, {"glue_type": "GLUE_PYTHON", "glue_source": "print(2)\n"}, now_ms=NOW + 1))
    original = versions(database, glue_job)[-1]
    back = as_actor(database, eve, lambda s, a: jobs.rollback_script(s, a, glue_job, original.id, now_ms=NOW + 2))
    assert (back.glue_type, back.glue_source, back.glue_updated_at_ms) == ("GLUE_SHELL", "echo admin\n", NOW + 2)
    newest = versions(database, glue_job)[0]
    assert (newest.remark, newest.author_name, newest.glue_type) == (f"rollback to version {original.id}", "eve", "GLUE_SHELL")
    assert len(versions(database, glue_job)) == 3
    with pytest.raises(NotFound):
        as_actor(database, eve, lambda s, a: jobs.rollback_script(s, a, glue_job, 10**9, now_ms=NOW + 3))


def test_a_bad_remark_is_a_field_error_and_nothing_is_written(world) -> None:
    database, gid, bean_job, glue_job, eve = world
    before = snapshot(database)
    for remark in ("x" * 129, "two\nlines", 7):
        with pytest.raises(ServiceError) as refused:
            with database.session() as s:
                jobs.update_job(s, SYSTEM_ACTOR, glue_job, {"glue_source": SHELL, "glue_remark": remark}, now_ms=NOW + 1)
        assert "glue_remark" in refused.value.field_errors
    assert snapshot(database) == before


def test_deleting_a_job_deletes_its_versions(world) -> None:
    database, gid, bean_job, glue_job, eve = world
    with database.session() as s:
        jobs.delete_job(s, SYSTEM_ACTOR, glue_job, now_ms=NOW)
    with database.read_session() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(GlueVersion)) == 0


def test_only_an_admin_grants_script_rights_and_only_for_granted_groups(world) -> None:
    database, gid, bean_job, glue_job, eve = world
    other = add_group(database, "other")
    mallory = add_user(database, "mallory", groups=[gid])
    with database.session() as s:
        with pytest.raises(Forbidden):
            users.set_script_grants(s, eve, eve.user_id, [gid], now_ms=NOW)
        with pytest.raises(ServiceError) as outside:
            users.set_script_grants(s, SYSTEM_ACTOR, mallory.user_id, [other], now_ms=NOW)
        assert "grant the group first" in outside.value.field_errors["script_group_ids"]
    with database.session() as s:
        view = users.set_script_grants(s, SYSTEM_ACTOR, mallory.user_id, [gid], now_ms=NOW)
    assert view.script_group_ids == [gid]
    # Revoking the group revokes the script right with it; granting it again does not restore it.
    with database.session() as s:
        users.set_grants(s, SYSTEM_ACTOR, mallory.user_id, [], now_ms=NOW)
        view = users.set_grants(s, SYSTEM_ACTOR, mallory.user_id, [gid], now_ms=NOW)
    assert view.script_group_ids == []


def test_rights_changes_are_told_to_the_audit_log(world, caplog: pytest.LogCaptureFixture) -> None:
    database, gid, bean_job, glue_job, eve = world
    admin = add_user(database, "root", UserRole.ADMIN)
    caplog.set_level("INFO", logger="shardcron.admin.audit")
    with database.session() as s:
        users.set_script_grants(s, admin, eve.user_id, [gid], now_ms=NOW)
        users.set_role(s, admin, eve.user_id, "ADMIN", now_ms=NOW)
        users.set_grants(s, admin, eve.user_id, [], now_ms=NOW)
    lines = [r.getMessage() for r in caplog.records if r.name == "shardcron.admin.audit"]
    assert lines == [
        f'system root (id {admin.user_id}): script_grant.change user eve (id {eve.user_id}) before={{"script_group_ids":[]}} after={{"script_group_ids":[{gid}]}}',
        f'system root (id {admin.user_id}): user.role user eve (id {eve.user_id}) before={{"role":"USER"}} after={{"role":"ADMIN","tokens_revoked":0}}',
        f'system root (id {admin.user_id}): grant.change user eve (id {eve.user_id}) before={{"group_ids":[{gid}]}} after={{"group_ids":[]}}',
    ]
