"""Manual/API triggers write exactly the PENDING fire row the fire loop dispatches."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from shardcron.admin.db import Database
from shardcron.admin.enums import FireStatus, TriggerType
from shardcron.admin.models import Fire, Job
from shardcron.admin.services import triggers
from shardcron.admin.services.actor import SYSTEM_ACTOR
from shardcron.admin.services.errors import NotFound, ServiceError
from tests.support.admin_data import NOW, add_executor, add_group, add_job, add_user

A1, A2, A3 = "http://127.0.0.1:9001", "http://127.0.0.1:9002", "http://127.0.0.1:9003"


@pytest.fixture
def job(database: Database) -> int:
    add_group(database, "other")
    gid = add_group(database, "orders")
    for address in (A1, A2, A3):
        add_executor(database, "orders", address)
    add_executor(database, "other", "http://127.0.0.1:9999")
    return add_job(database, gid, route_strategy="SHARDING_BROADCAST", enabled=False)


def fires(db: Database) -> list[Fire]:
    with db.session() as s:
        return list(s.scalars(sa.select(Fire).order_by(Fire.id)))


def trigger(db: Database, job_id: int, actor=SYSTEM_ACTOR, **kw) -> triggers.TriggerResult:
    with db.session() as s:
        return triggers.trigger_job(s, actor, job_id, now_ms=NOW, **kw)


def test_whole_job(database: Database, job: int) -> None:
    result = trigger(database, job)
    [fire] = fires(database)
    assert result.fire_id == fire.id
    assert (fire.job_id, fire.fire_at_ms, fire.trigger_type, fire.status, fire.attempt) == (job, NOW, TriggerType.MANUAL, FireStatus.PENDING, 0)
    assert (fire.param, fire.shard_index, fire.shard_total, fire.address, fire.created_at_ms) == (None, None, None, None, NOW)
    assert 0 < fire.origin_ref < 2**63


def test_two_triggers_in_one_millisecond_are_two_fires(database: Database, job: int) -> None:
    trigger(database, job)
    trigger(database, job, trigger_type=TriggerType.API, param="again")
    first, second = fires(database)
    assert first.origin_ref != second.origin_ref
    assert (second.trigger_type, second.param) == (TriggerType.API, "again")


def test_one_shard_defaults_to_live_executor_count(database: Database, job: int) -> None:
    trigger(database, job, shard_index=2, param="p")
    trigger(database, job, shard_index="1", shard_total="5")
    a, b = fires(database)
    assert (a.shard_index, a.shard_total, a.param) == (2, 3, "p")
    assert (b.shard_index, b.shard_total) == (1, 5)


def test_address_override_must_be_a_live_executor_of_the_group(database: Database, job: int) -> None:
    trigger(database, job, address=A2 + "/")
    assert fires(database)[0].address == A2
    for bad in ("http://127.0.0.1:9999", "http://169.254.169.254/latest", "file:///etc/passwd"):
        with pytest.raises(ServiceError) as err:
            trigger(database, job, address=bad)
        assert "not a live executor of group orders" in err.value.field_errors["address"]
    assert len(fires(database)) == 1


def test_out_of_range_shards_and_nothing_saved(database: Database, job: int) -> None:
    cases = [
        ({"shard_index": 3}, "shard_index", "between 0 and 2"),
        ({"shard_index": -1}, "shard_index", "between 0 and 2"),
        ({"shard_index": 5, "shard_total": 5}, "shard_index", "between 0 and 4"),
        ({"shard_index": 0, "shard_total": 0}, "shard_total", "between 1 and"),
        ({"shard_index": 0, "shard_total": 20_000}, "shard_total", "between 1 and"),
        ({"shard_total": 2}, "shard_index", "give the shard"),
        ({"shard_index": "first"}, "shard_index", "whole number"),
        ({"param": "x" * 70_000}, "param", "at most 65535"),
    ]
    for kw, field, words in cases:
        with pytest.raises(ServiceError) as err:
            trigger(database, job, **kw)
        assert words in err.value.field_errors.get(field, ""), (kw, err.value.field_errors)
    assert fires(database) == []


def test_no_live_executor_needs_an_explicit_total(database: Database) -> None:
    gid = add_group(database, "empty")
    job = add_job(database, gid)
    with pytest.raises(ServiceError) as err:
        trigger(database, job, shard_index=0)
    assert "no live executor in group empty" in err.value.field_errors["shard_total"]
    trigger(database, job)  # the whole job still fires (and fails visibly in its run row)
    assert len(fires(database)) == 1


def test_users_trigger_only_granted_jobs(database: Database, job: int) -> None:
    stranger = add_user(database, "stranger")
    with pytest.raises(NotFound):
        trigger(database, job, stranger)
    assert fires(database) == []
    with database.session() as s:
        gid = s.get(Job, job).group_id
    member = add_user(database, "member", groups=[gid])
    trigger(database, job, member)
    assert len(fires(database)) == 1
