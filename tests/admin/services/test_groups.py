"""Executor groups: admin-only CRUD, validation, visibility by grant, live executors, 409 on delete."""

from __future__ import annotations

import pytest

from shardcron.admin.db import Database
from shardcron.admin.enums import AddressType, UserRole
from shardcron.admin.models import ExecutorGroup, Job
from shardcron.admin.services import groups
from shardcron.admin.services.actor import SYSTEM_ACTOR
from shardcron.admin.services.errors import Conflict, Forbidden, NotFound, ServiceError
from tests.support.admin_data import NOW, add_executor, add_group, add_job, add_user


def test_create_manual_group_normalizes_addresses(database: Database) -> None:
    with database.session() as s:
        view = groups.create_group(
            s, SYSTEM_ACTOR, {"app_name": "billing", "title": " Billing ", "address_type": "MANUAL", "manual_addresses": "http://10.0.0.2:9999\nhttp://10.0.0.1:9999, "}, now_ms=NOW
        )
    assert view.address_type == AddressType.MANUAL and view.title == "Billing"
    assert view.manual_addresses == ["http://10.0.0.1:9999", "http://10.0.0.2:9999"]
    assert [e.address for e in view.live_executors] == view.manual_addresses


def test_validation_names_every_field_and_saves_nothing(database: Database) -> None:
    add_group(database, "taken")
    with pytest.raises(ServiceError) as err, database.session() as s:
        groups.create_group(s, SYSTEM_ACTOR, {"app_name": "taken", "title": "x" * 200, "address_type": "MANUAL", "manual_addresses": "ftp://nope", "colour": "red"}, now_ms=NOW)
    assert set(err.value.field_errors) == {"app_name", "title", "manual_addresses", "colour"}
    assert "exists already" in err.value.field_errors["app_name"]
    with pytest.raises(ServiceError) as err, database.session() as s:
        groups.create_group(s, SYSTEM_ACTOR, {"app_name": "bad name", "address_type": "SOMETIMES"}, now_ms=NOW)
    assert set(err.value.field_errors) == {"app_name", "address_type"}
    with pytest.raises(ServiceError) as err, database.session() as s:
        groups.create_group(s, SYSTEM_ACTOR, {"app_name": "empty", "address_type": "MANUAL", "manual_addresses": ""}, now_ms=NOW)
    assert "at least one" in err.value.field_errors["manual_addresses"]
    with database.session() as s:
        assert [g.app_name for g in groups.list_groups(s, SYSTEM_ACTOR, NOW)] == ["taken"]


def test_live_executors_of_auto_group(database: Database) -> None:
    gid = add_group(database, "orders")
    add_executor(database, "orders", "http://127.0.0.1:9002/", heartbeat_at_ms=NOW - 1000)
    add_executor(database, "orders", "http://127.0.0.1:9001/", heartbeat_at_ms=NOW - 100_000)  # dead
    add_executor(database, "other", "http://127.0.0.1:9003/")
    add_job(database, gid)
    with database.session() as s:
        view = groups.get_group(s, SYSTEM_ACTOR, gid, NOW)
    assert [(e.address, e.heartbeat_at_ms) for e in view.live_executors] == [("http://127.0.0.1:9002/", NOW - 1000)]
    assert view.job_count == 1


def test_users_see_granted_groups_and_only_admins_change_them(database: Database) -> None:
    a, b = add_group(database, "a"), add_group(database, "b")
    user = add_user(database, "u", groups=[b])
    with database.session() as s:
        assert [g.app_name for g in groups.list_groups(s, user, NOW)] == ["b"]
        with pytest.raises(NotFound):
            groups.get_group(s, user, a, NOW)
        with pytest.raises(Forbidden):
            groups.update_group(s, user, b, {"title": "mine"}, now_ms=NOW)
        with pytest.raises(Forbidden):
            groups.create_group(s, user, {"app_name": "c"}, now_ms=NOW)
        with pytest.raises(Forbidden):
            groups.delete_group(s, user, b, now_ms=NOW)
    nobody = add_user(database, "nobody")
    with database.session() as s:
        assert groups.list_groups(s, nobody, NOW) == []


def test_update_and_delete(database: Database) -> None:
    gid = add_group(database, "a")
    with database.session() as s:
        view = groups.update_group(s, SYSTEM_ACTOR, gid, {"app_name": "a2", "address_type": "MANUAL", "manual_addresses": ["http://127.0.0.1:9999"]}, now_ms=NOW + 5)
    assert view.app_name == "a2" and view.manual_addresses == ["http://127.0.0.1:9999"] and view.updated_at_ms == NOW + 5
    with database.session() as s:
        back = groups.update_group(s, SYSTEM_ACTOR, gid, {"address_type": "AUTO"}, now_ms=NOW + 6)
        assert back.manual_addresses == [] and s.get(ExecutorGroup, gid).manual_addresses is None
    job = add_job(database, gid)
    with pytest.raises(Conflict) as err, database.session() as s:
        groups.delete_group(s, SYSTEM_ACTOR, gid, now_ms=NOW)
    assert err.value.status == 409 and "1 job" in str(err.value)
    with database.session() as s:
        s.delete(s.get(Job, job))
    user = add_user(database, "u", UserRole.USER, [gid])
    with database.session() as s:
        groups.delete_group(s, SYSTEM_ACTOR, gid, now_ms=NOW)
    with database.session() as s:
        assert s.get(ExecutorGroup, gid) is None
        assert groups.list_groups(s, user, NOW) == []
