"""Jobs: validation with field messages (nothing saved), grants, start/stop, copy, delete, preview."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from shardcron.admin.db import Database
from shardcron.admin.enums import Delivery, FireStatus, TriggerType
from shardcron.admin.models import Fire, Job
from shardcron.admin.schedules.schedule import next_fire_at_ms
from shardcron.admin.services import jobs
from shardcron.admin.services.actor import SYSTEM_ACTOR
from shardcron.admin.services.errors import Conflict, NotFound, ServiceError
from shardcron.admin.services.paging import PageRequest
from tests.support.admin_data import NOW, add_group, add_user

HOUR_MS = 3_600_000


def valid(group: int | str, **over) -> dict:
    data = {"group_id": group, "name": "sync orders", "schedule_type": "CRON", "schedule_conf": "0 */5 * * * ?", "timezone": "Europe/Berlin", "handler": "syncOrders"}
    data.update(over)
    return data


def create(db: Database, data: dict, actor=SYSTEM_ACTOR) -> jobs.JobView:
    with db.session() as s:
        return jobs.create_job(s, actor, data, now_ms=NOW)


def job_count(db: Database) -> int:
    with db.session() as s:
        return s.scalar(sa.select(sa.func.count()).select_from(Job))


def test_create_with_defaults_and_form_strings(database: Database) -> None:
    gid = add_group(database, "orders")
    view = create(database, valid(str(gid), timeout_s="30", retry_count="3", child_job_ids="", alarm_emails="ops@example.com; dev@example.org", alarm_webhook="https://hooks.example.com/x?t=1"))
    assert view.group_id == gid and view.group_app_name == "orders" and not view.enabled and view.next_fire_at_ms == 0
    assert (view.timeout_s, view.retry_count, view.retry_delay_s, view.retry_backoff_multiplier) == (30, 3, 10, 2)
    assert view.alarm_emails == ["ops@example.com", "dev@example.org"]
    assert view.route_strategy == "FIRST" and view.block_strategy == "SERIAL_EXECUTION" and view.glue_type == "BEAN"
    assert view.delivery == Delivery.AT_MOST_ONCE  # a run never sent twice unless the job says so
    with database.session() as s:
        assert s.get(Job, view.id).alarm_emails == "ops@example.com,dev@example.org"


BAD_FIELDS = [
    ({"schedule_conf": "61 * * * *"}, "schedule_conf", "out of range"),
    ({"schedule_type": "FIX_RATE", "schedule_conf": "soon"}, "schedule_conf", "whole number of seconds"),
    ({"schedule_type": "FIX_RATE", "schedule_conf": "0"}, "schedule_conf", "out of range"),
    ({"timezone": "Mars/Olympus"}, "timezone", "not an IANA"),
    ({"schedule_type": "WEEKLY"}, "schedule_type", "not one of"),
    ({"route_strategy": "NEAREST"}, "route_strategy", "not one of"),
    ({"block_strategy": "PANIC"}, "block_strategy", "not one of"),
    ({"misfire_strategy": "IGNORE"}, "misfire_strategy", "not one of"),
    ({"delivery": "EXACTLY_ONCE"}, "delivery", "not one of AT_MOST_ONCE, AT_LEAST_ONCE"),
    ({"delivery": "at_least_once"}, "delivery", "not one of"),
    ({"delivery": 1}, "delivery", "not one of"),
    ({"delivery": ["AT_LEAST_ONCE"]}, "delivery", "not one of"),
    ({"delivery": None}, "delivery", "not one of"),
    ({"glue_type": "GLUE_COBOL"}, "glue_type", "not one of"),
    ({"glue_type": "GLUE_SHELL", "handler": ""}, "glue_source", "needs its script"),
    ({"handler": ""}, "handler", "BEAN job needs"),
    ({"name": ""}, "name", "is required"),
    ({"name": "n" * 129}, "name", "at most 128"),
    ({"handler": "h" * 256}, "handler", "at most 255"),
    ({"param": "p" * 70_000}, "param", "at most 65535"),
    ({"author": 5}, "author", "must be text"),
    ({"timeout_s": -1}, "timeout_s", "between 0 and"),
    ({"retry_count": "lots"}, "retry_count", "whole number"),
    ({"retry_count": 101}, "retry_count", "between 0 and 100"),
    ({"retry_backoff_multiplier": 0}, "retry_backoff_multiplier", "between 1 and"),
    ({"retry_delay_s": 100, "retry_max_delay_s": 50}, "retry_max_delay_s", "not be shorter"),
    ({"child_job_ids": "1,x"}, "child_job_ids", "not a job id"),
    ({"child_job_ids": [424242]}, "child_job_ids", "no such job: 424242"),
    ({"alarm_emails": "not-an-address"}, "alarm_emails", "not an e-mail"),
    ({"alarm_webhook": "file:///etc/passwd"}, "alarm_webhook", "http:// or https://"),
    ({"alarm_webhook": "https://user:pw@example.com/"}, "alarm_webhook", "user name or password"),
    ({"group_id": 999}, "group_id", "no executor group 999"),
    ({"group_id": None}, "group_id", "is required"),
    ({"frequency": "often"}, "frequency", "unknown field"),
]


def test_bad_field_gives_its_message_and_saves_nothing(database: Database) -> None:
    # One database for every case (creating one per case would cost a MariaDB schema each).
    gid = add_group(database, "orders")
    for over, field, words in BAD_FIELDS:
        with pytest.raises(ServiceError) as err:
            create(database, {**valid(gid), **over})
        assert err.value.status == 400
        assert field in err.value.field_errors, (over, err.value.field_errors)
        assert words in err.value.field_errors[field], (over, err.value.field_errors)
    assert job_count(database) == 0


def test_a_user_creates_only_in_granted_groups_and_sees_only_them(database: Database) -> None:
    mine, theirs = add_group(database, "mine"), add_group(database, "theirs")
    user = add_user(database, "u", groups=[mine])
    create(database, valid(mine, name="m1"), user)
    other = create(database, valid(theirs, name="t1"))
    with pytest.raises(ServiceError) as err:
        create(database, valid(theirs), user)
    assert err.value.field_errors == {"group_id": f"no executor group {theirs}"}
    with database.session() as s:
        page = jobs.list_jobs(s, user, jobs.JobFilter(), PageRequest())
        assert [j.name for j in page.items] == ["m1"] and page.total == 1
        for call in (
            lambda: jobs.get_job(s, user, other.id),
            lambda: jobs.update_job(s, user, other.id, {"name": "x"}, now_ms=NOW),
            lambda: jobs.start_job(s, user, other.id, now_ms=NOW),
            lambda: jobs.delete_job(s, user, other.id, now_ms=NOW),
            lambda: jobs.copy_job(s, user, other.id, now_ms=NOW),
        ):
            with pytest.raises(NotFound):
                call()
        # Nor may a user point a child job at a job of a group they cannot see.
        with pytest.raises(ServiceError) as err:
            jobs.create_job(s, user, valid(mine, child_job_ids=[other.id]), now_ms=NOW)
        assert err.value.field_errors == {"child_job_ids": f"no such job: {other.id}"}


def test_start_stop_and_schedule_change(database: Database) -> None:
    gid = add_group(database, "orders")
    view = create(database, valid(gid, schedule_conf="0 0 * * *", timezone="Asia/Tokyo"))
    with database.session() as s:
        started = jobs.start_job(s, SYSTEM_ACTOR, view.id, now_ms=NOW)
    # 2026-01-01T00:00Z is 09:00 in Tokyo: the next local midnight is 15:00 UTC.
    assert started.enabled and started.next_fire_at_ms == NOW + 15 * HOUR_MS
    with database.session() as s:
        changed = jobs.update_job(s, SYSTEM_ACTOR, view.id, {"schedule_type": "FIX_RATE", "schedule_conf": "90"}, now_ms=NOW + 1000)
    assert changed.next_fire_at_ms == NOW + 1000 + 90_000
    with database.session() as s:
        renamed = jobs.update_job(s, SYSTEM_ACTOR, view.id, {"name": "renamed"}, now_ms=NOW + 2000)
    assert renamed.next_fire_at_ms == NOW + 1000 + 90_000  # the schedule did not change
    with pytest.raises(ServiceError) as err, database.session() as s:
        jobs.update_job(s, SYSTEM_ACTOR, view.id, {"schedule_type": "NONE", "schedule_conf": ""}, now_ms=NOW)
    assert "schedule_type" in err.value.field_errors
    with database.session() as s:
        stopped = jobs.stop_job(s, SYSTEM_ACTOR, view.id, now_ms=NOW + 3000)
    assert not stopped.enabled and stopped.next_fire_at_ms == 0
    with database.session() as s:
        none = jobs.update_job(s, SYSTEM_ACTOR, view.id, {"schedule_type": "NONE", "schedule_conf": ""}, now_ms=NOW)
        assert none.schedule_type == "NONE"
        with pytest.raises(ServiceError) as err:
            jobs.start_job(s, SYSTEM_ACTOR, view.id, now_ms=NOW)
        assert "trigger it by hand" in str(err.value)


def test_child_job_cycles_are_refused(database: Database) -> None:
    gid = add_group(database, "g")
    a = create(database, valid(gid, name="a"))
    b = create(database, valid(gid, name="b", child_job_ids=[a.id]))
    c = create(database, valid(gid, name="c", child_job_ids=str(b.id)))
    for target, children in ((a.id, [c.id]), (a.id, [a.id]), (b.id, [c.id])):
        with pytest.raises(ServiceError) as err, database.session() as s:
            jobs.update_job(s, SYSTEM_ACTOR, target, {"child_job_ids": children}, now_ms=NOW)
        assert "would make a cycle" in err.value.field_errors["child_job_ids"]
    with database.session() as s:
        assert s.get(Job, a.id).child_job_ids == ""
        assert jobs.update_job(s, SYSTEM_ACTOR, c.id, {"child_job_ids": [a.id, b.id]}, now_ms=NOW).child_job_ids == [a.id, b.id]
    with pytest.raises(Conflict) as err, database.session() as s:
        jobs.delete_job(s, SYSTEM_ACTOR, a.id, now_ms=NOW)
    assert "child job of jobs" in str(err.value)


def test_copy_and_delete(database: Database) -> None:
    gid = add_group(database, "g")
    source = create(database, valid(gid, param="p=1", route_strategy="SHARDING_BROADCAST"))
    with database.session() as s:
        jobs.start_job(s, SYSTEM_ACTOR, source.id, now_ms=NOW)
        copy = jobs.copy_job(s, SYSTEM_ACTOR, source.id, now_ms=NOW)
    assert copy.id != source.id and copy.name == "sync orders (copy)" and not copy.enabled
    assert (copy.param, copy.route_strategy, copy.schedule_conf) == ("p=1", "SHARDING_BROADCAST", source.schedule_conf)
    with database.session() as s:
        s.add(Fire(job_id=copy.id, fire_at_ms=NOW, trigger_type=TriggerType.MANUAL, origin_ref=1, status=FireStatus.PENDING, created_at_ms=NOW))
        s.add(Fire(job_id=copy.id, fire_at_ms=NOW - 1, trigger_type=TriggerType.MANUAL, origin_ref=2, status=FireStatus.DONE, created_at_ms=NOW))
    with database.session() as s:
        jobs.delete_job(s, SYSTEM_ACTOR, copy.id, now_ms=NOW)
    with database.session() as s:
        assert s.get(Job, copy.id) is None
        assert [f.status for f in s.scalars(sa.select(Fire).where(Fire.job_id == copy.id))] == [FireStatus.DONE]


def test_list_filters_sorts_and_pages(database: Database) -> None:
    g1, g2 = add_group(database, "g1"), add_group(database, "g2")
    for i in range(7):
        create(database, valid(g1 if i % 2 else g2, name=f"job_{i}", handler="h100%" if i == 3 else "h"))
    with database.session() as s:
        page = jobs.list_jobs(s, SYSTEM_ACTOR, jobs.JobFilter(sort="name", descending=True), PageRequest(2, 3))
        assert [j.name for j in page.items] == ["job_3", "job_2", "job_1"] and page.total == 7 and page.pages == 3
        assert jobs.list_jobs(s, SYSTEM_ACTOR, jobs.JobFilter(group_id=g1), PageRequest()).total == 3
        assert [j.name for j in jobs.list_jobs(s, SYSTEM_ACTOR, jobs.JobFilter(search="100%"), PageRequest()).items] == ["job_3"]
        assert jobs.list_jobs(s, SYSTEM_ACTOR, jobs.JobFilter(search="_"), PageRequest()).total == 7
        assert jobs.list_jobs(s, SYSTEM_ACTOR, jobs.JobFilter(enabled=True), PageRequest()).total == 0
        with pytest.raises(ServiceError) as err:
            jobs.list_jobs(s, SYSTEM_ACTOR, jobs.JobFilter(sort="secret"), PageRequest())
        assert "sort" in err.value.field_errors
    with pytest.raises(ServiceError) as err:
        PageRequest.parse("0", "1000")
    assert set(err.value.field_errors) == {"page", "per_page"}


def test_preview_next_five_in_the_zone(database: Database) -> None:
    fires = jobs.preview_schedule("CRON", "30 2 * * *", "America/New_York", now_ms=NOW)
    assert len(fires) == 5 and fires == sorted(fires)
    # 02:30 New York (UTC-5 in January) = 07:30 UTC.
    assert fires[0] == NOW + 7 * HOUR_MS + 30 * 60_000 and fires[1] - fires[0] == 24 * HOUR_MS
    assert fires[0] == next_fire_at_ms("CRON", "30 2 * * *", "America/New_York", NOW)
    with pytest.raises(ServiceError) as err:
        jobs.preview_schedule("CRON", "* * *", "UTC", now_ms=NOW)
    assert "schedule_conf" in err.value.field_errors
    gid = add_group(database, "g")
    view = create(database, valid(gid, schedule_type="FIX_RATE", schedule_conf="60"))
    with database.session() as s:
        assert jobs.preview_job(s, SYSTEM_ACTOR, view.id, now_ms=NOW) == [NOW + 60_000 * k for k in range(1, 6)]


def test_only_admins_point_a_webhook_somewhere_new(database: Database) -> None:
    gid = add_group(database, "g")
    user = add_user(database, "u", groups=[gid])
    with pytest.raises(ServiceError) as err:
        create(database, valid(gid, alarm_webhook="http://169.254.169.254/latest/meta-data"), user)
    assert "only an admin" in err.value.field_errors["alarm_webhook"]
    assert job_count(database) == 0
    hooked = create(database, valid(gid, alarm_webhook="https://hooks.example.com/team"))  # an admin set it
    with database.session() as s:
        # The user may edit the job keeping the admin's webhook, copy it, or clear it ...
        assert jobs.update_job(s, user, hooked.id, {"name": "renamed"}, now_ms=NOW).alarm_webhook == "https://hooks.example.com/team"
        assert jobs.copy_job(s, user, hooked.id, now_ms=NOW).alarm_webhook == "https://hooks.example.com/team"
        # ... but not point it elsewhere.
        with pytest.raises(ServiceError) as err:
            jobs.update_job(s, user, hooked.id, {"alarm_webhook": "http://10.0.0.1:8080/internal"}, now_ms=NOW)
        assert "only an admin" in err.value.field_errors["alarm_webhook"]
        assert jobs.update_job(s, user, hooked.id, {"alarm_webhook": ""}, now_ms=NOW).alarm_webhook == ""


def test_delivery_is_saved_changed_and_copied(database: Database) -> None:
    gid = add_group(database, "orders")
    view = create(database, valid(gid, delivery="AT_LEAST_ONCE"))
    assert view.delivery == Delivery.AT_LEAST_ONCE
    with database.session() as s:
        copied = jobs.copy_job(s, SYSTEM_ACTOR, view.id, now_ms=NOW)
        changed = jobs.update_job(s, SYSTEM_ACTOR, view.id, {"delivery": "AT_MOST_ONCE"}, now_ms=NOW)
        untouched = jobs.update_job(s, SYSTEM_ACTOR, copied.id, {"name": "renamed"}, now_ms=NOW)
    assert copied.delivery == Delivery.AT_LEAST_ONCE
    assert changed.delivery == Delivery.AT_MOST_ONCE
    assert untouched.delivery == Delivery.AT_LEAST_ONCE  # a partial update keeps it
    with database.session() as s:
        assert [(j.id, j.delivery) for j in s.scalars(sa.select(Job).order_by(Job.id))] == [
            (view.id, Delivery.AT_MOST_ONCE), (copied.id, Delivery.AT_LEAST_ONCE)
        ]


def test_a_bad_zone_does_not_hide_a_bad_cron(database: Database) -> None:
    gid = add_group(database, "zones")
    with pytest.raises(ServiceError) as err:
        create(database, valid(gid, timezone="Mars/Olympus", schedule_conf="0 0 25 * * ?"))
    assert set(err.value.field_errors) == {"timezone", "schedule_conf"}
    assert "not an IANA" in err.value.field_errors["timezone"]
    assert "2 invalid fields" in err.value.message
    with pytest.raises(ServiceError) as zone_only:
        create(database, valid(gid, timezone="Mars/Olympus"))
    assert set(zone_only.value.field_errors) == {"timezone"}
    assert job_count(database) == 0
