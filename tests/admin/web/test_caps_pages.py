"""Concurrency caps in the console: the group form takes a cap, its policy and wait; the job form
a cap of its own; a cap of 0 or below is refused next to its field and nothing is saved; a form
without the fields keeps no cap; the runs list after a trigger says why the fire waits or was
skipped."""

from __future__ import annotations

import sqlalchemy as sa

from shardcron.admin.enums import FireStatus, TriggerType, UserRole
from shardcron.admin.models import ExecutorGroup, Fire, Job
from tests.admin.web.test_pages import _job_form
from tests.support import admin_data as data
from tests.support.console import Console, post_form

GROUP = {"app_name": "billing", "title": "Billing", "address_type": "AUTO", "manual_addresses": ""}


def _admin(console: Console):
    console.add_user("root", UserRole.ADMIN)
    return console.login("root")


def _groups(console: Console) -> list[tuple]:
    with console.db.read_session() as session:
        return [tuple(row) for row in session.execute(sa.select(ExecutorGroup.cap_runs, ExecutorGroup.cap_policy, ExecutorGroup.cap_wait_s).order_by(ExecutorGroup.id))]


def test_group_form_takes_a_cap_and_refuses_zero(console: Console) -> None:
    client = _admin(console)
    assert post_form(client, "/groups/new", GROUP).status_code == 302  # an older form: no cap
    assert _groups(console) == [(None, "WAIT", 60)]
    assert post_form(client, "/groups/1", {**GROUP, "cap_runs": "4", "cap_policy": "SKIP", "cap_wait_s": "30"}).status_code == 302
    assert _groups(console) == [(4, "SKIP", 30)]
    assert "at most 4 runs at once, then SKIP" in client.get("/groups").get_data(as_text=True)
    page = client.get("/groups/1").get_data(as_text=True)
    assert 'name="cap_runs" type="number" value="4"' in page and 'name="cap_wait_s" type="number" value="30"' in page
    for field, bad in (("cap_runs", "0"), ("cap_runs", "-3"), ("cap_runs", "many"), ("cap_wait_s", "0"), ("cap_policy", "QUEUE")):
        response = post_form(client, "/groups/1", {**GROUP, "cap_runs": "2", field: bad})
        assert response.status_code == 400 and f'id="err-{field}"' in response.get_data(as_text=True), (field, bad)
    zero = post_form(client, "/groups/new", {**GROUP, "app_name": "other", "cap_runs": "0"}).get_data(as_text=True)
    assert "must be at least 1 run (0 given); leave it empty for no cap" in zero
    assert _groups(console) == [(4, "SKIP", 30)]
    assert post_form(client, "/groups/1", {**GROUP, "cap_runs": "", "cap_policy": "WAIT", "cap_wait_s": "30"}).status_code == 302
    assert _groups(console) == [(None, "WAIT", 30)]
    zh = client.get("/groups/1", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert "并发上限" in zh and "超出上限时" in zh


def test_job_form_takes_a_cap_of_its_own(console: Console) -> None:
    client = _admin(console)
    group_id = data.add_group(console.db, "billing")
    assert post_form(client, "/jobs/new", _job_form(group_id)).status_code == 302  # no cap_runs posted: none
    assert post_form(client, "/jobs/new", _job_form(group_id, name="capped", cap_runs="2")).status_code == 302
    with console.db.read_session() as session:
        assert list(session.scalars(sa.select(Job.cap_runs).order_by(Job.id))) == [None, 2]
    assert 'name="cap_runs" type="number" value="2"' in client.get("/jobs/2").get_data(as_text=True)
    for bad in ("0", "-1", "two"):
        page = post_form(client, "/jobs/2", _job_form(group_id, name="capped", cap_runs=bad))
        assert page.status_code == 400 and 'id="err-cap_runs"' in page.get_data(as_text=True), bad
    with console.db.read_session() as session:
        assert list(session.scalars(sa.select(Job.cap_runs).order_by(Job.id))) == [None, 2]


def test_runs_list_after_a_trigger_says_why_the_fire_waits_or_was_skipped(console: Console) -> None:
    client = _admin(console)
    job_id = data.add_job(console.db, data.add_group(console.db, "billing"))
    with console.db.session() as session:
        waiting = Fire(
            job_id=job_id, fire_at_ms=data.NOW, trigger_type=TriggerType.MANUAL, origin_ref=1, status=FireStatus.BUFFERED,
            created_at_ms=data.NOW, overlap_note="waits: group cap 2 reached, 2 runs active (WAIT up to 60 s)",
        )
        skipped = Fire(
            job_id=job_id, fire_at_ms=data.NOW, trigger_type=TriggerType.MANUAL, origin_ref=2, status=FireStatus.DONE,
            created_at_ms=data.NOW, overlap_note="skipped: group cap 2 reached, 2 runs active",
        )
        session.add_all([waiting, skipped])
        session.flush()
        ids = waiting.id, skipped.id
    page = client.get(f"/runs?fire_id={ids[0]}").get_data(as_text=True)
    assert f"Fire {ids[0]}: waits: group cap 2 reached, 2 runs active (WAIT up to 60 s)" in page and "data-autorefresh" in page
    page = client.get(f"/runs?fire_id={ids[1]}").get_data(as_text=True)
    assert f"Fire {ids[1]}: skipped: group cap 2 reached, 2 runs active" in page and "data-autorefresh" not in page
    assert client.get("/runs?fire_id=999999").status_code == 200  # an unknown fire is only no hint
