"""Every console page: renders with data and when empty, and its actions do what they say."""

from __future__ import annotations

import datetime as dt
import json

import sqlalchemy as sa

from shardcron.admin.enums import RunStatus, TriggerType, UserRole
from shardcron.admin.models import Fire, Job, RunLog
from shardcron.admin.schedules.jitter import jitter_ms
from shardcron.core.protocol import Envelope, LogResult
from tests.support import admin_data as data
from tests.support.console import Console, page_csrf, post_form


def _admin(console: Console):
    console.add_user("root", UserRole.ADMIN)
    return console.login("root")


def _job_form(group_id: int, **overrides) -> dict:
    form = {
        "name": "nightly sync",
        "group_id": str(group_id),
        "author": "ops",
        "schedule_type": "CRON",
        "schedule_conf": "0 2 * * *",
        "timezone": "Europe/Berlin",
        "misfire_strategy": "DO_NOTHING",
        "delivery": "AT_MOST_ONCE",
        "overlap_policy": "ALLOW_ALL",
        "jitter_s": "0",
        "route_strategy": "SHARDING_BROADCAST",
        "block_strategy": "DISCARD_LATER",
        "handler": "syncThings",
        "glue_type": "BEAN",
        "glue_source": "",
        "param": "--full",
        "timeout_s": "60",
        "retry_count": "3",
        "retry_delay_s": "10",
        "retry_backoff_multiplier": "2",
        "retry_max_delay_s": "300",
        "alarm_emails": "ops@example.com",
        "alarm_webhook": "https://hooks.example.com/x",
        "child_job_ids": "",
    }
    form.update(overrides)
    return form


def _jobs(console: Console) -> list[Job]:
    with console.db.read_session() as session:
        return list(session.scalars(sa.select(Job).order_by(Job.id)))


def test_empty_states(console: Console) -> None:
    client = _admin(console)
    assert "No executor groups yet" in client.get("/groups").get_data(as_text=True)
    assert "add a group" in client.get("/jobs").get_data(as_text=True)
    assert "No runs yet" in client.get("/runs").get_data(as_text=True)
    dashboard = client.get("/").get_data(as_text=True)
    assert "No failed runs" in dashboard and 'id="daily-chart"' in dashboard


def test_group_create_edit_delete_and_live_executors(console: Console) -> None:
    client = _admin(console)
    response = post_form(client, "/groups/new", {"app_name": "billing", "title": "Billing", "address_type": "AUTO", "manual_addresses": ""})
    assert response.status_code == 302
    data.add_executor(console.db, "billing", "http://10.0.0.5:9999", heartbeat_at_ms=console.clock.now_ms() - 5_000)
    data.add_executor(console.db, "billing", "http://10.0.0.6:9999", heartbeat_at_ms=console.clock.now_ms() - 200_000)
    page = client.get("/groups").get_data(as_text=True)
    assert "http://10.0.0.5:9999" in page  # live, with its heartbeat time
    assert "2025-12-31 23:59:55 UTC" in page
    assert "http://10.0.0.6:9999" not in page  # dead: no heartbeat for 200 s
    bad = post_form(client, "/groups/new", {"app_name": "bad name!", "title": "", "address_type": "MANUAL", "manual_addresses": ""})
    assert bad.status_code == 400
    html = bad.get_data(as_text=True)
    assert 'id="err-app_name"' in html and 'id="err-manual_addresses"' in html
    group_id = 1
    edit = post_form(client, f"/groups/{group_id}", {"app_name": "billing", "title": "Billing team", "address_type": "MANUAL", "manual_addresses": "http://10.1.1.1:9999"})
    assert edit.status_code == 302
    assert "Billing team" in client.get("/groups").get_data(as_text=True)
    assert post_form(client, f"/groups/{group_id}/delete", {}).status_code == 302
    assert "No executor groups yet" in client.get("/groups").get_data(as_text=True)


def test_job_create_shows_every_field_error_and_saves_nothing(console: Console) -> None:
    client = _admin(console)
    group_id = data.add_group(console.db, "billing")
    form = _job_form(group_id, name="", schedule_conf="61 * * * *", retry_count="-1", alarm_emails="not-an-address", alarm_webhook="ftp://x", child_job_ids="999")
    response = post_form(client, "/jobs/new", form)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    for field in ("name", "schedule_conf", "retry_count", "alarm_emails", "alarm_webhook", "child_job_ids"):
        assert f'id="err-{field}"' in html, field
    assert 'value="not-an-address"' in html  # the form keeps what was typed
    bad_zone = post_form(client, "/jobs/new", _job_form(group_id, timezone="Mars/Olympus"))
    assert bad_zone.status_code == 400 and 'id="err-timezone"' in bad_zone.get_data(as_text=True)
    assert _jobs(console) == []
    cycle_parent = post_form(client, "/jobs/new", _job_form(group_id, name="child"))
    assert cycle_parent.status_code == 302
    assert post_form(client, "/jobs/1", _job_form(group_id, name="child", child_job_ids="1")).status_code == 400


def test_job_lifecycle_create_edit_start_stop_copy_delete(console: Console) -> None:
    client = _admin(console)
    group_id = data.add_group(console.db, "billing")
    created = post_form(client, "/jobs/new", _job_form(group_id))
    assert created.status_code == 302 and created.headers["Location"] == "/jobs/1"
    [job] = _jobs(console)
    assert (job.name, job.timezone, job.route_strategy, job.block_strategy, job.retry_count, job.alarm_emails) == (
        "nightly sync", "Europe/Berlin", "SHARDING_BROADCAST", "DISCARD_LATER", 3, "ops@example.com"
    )
    assert job.enabled is False
    edit_page = client.get("/jobs/1").get_data(as_text=True)
    assert 'value="0 2 * * *"' in edit_page and 'data-preview-url="/jobs/preview" data-job-id="1"' in edit_page
    assert 'name="jitter_s" type="number" value="0"' in edit_page
    assert post_form(client, "/jobs/1", _job_form(group_id, name="nightly sync v2")).status_code == 302
    assert post_form(client, "/jobs/1/start", {}).status_code == 302
    [job] = _jobs(console)
    assert job.enabled and job.next_fire_at_ms > console.clock.now_ms() and job.name == "nightly sync v2"
    listing = client.get("/jobs").get_data(as_text=True)
    assert "ENABLED" in listing and "/jobs/1/stop" in listing
    assert post_form(client, "/jobs/1/stop", {}).status_code == 302
    assert _jobs(console)[0].enabled is False
    copied = post_form(client, "/jobs/1/copy", {})
    assert copied.headers["Location"] == "/jobs/2"
    assert [j.name for j in _jobs(console)] == ["nightly sync v2", "nightly sync v2 (copy)"]
    # A delete from a filtered list goes back to that list, filter and page kept; from the job's
    # own page (gone now) to the plain list.
    filtered = "http://localhost/jobs?search=copy&page=1"
    deleted = client.post("/jobs/2/delete", data={"csrf_token": page_csrf(client, "/account")}, headers={"Referer": filtered})
    assert deleted.status_code == 302 and deleted.headers["Location"] == filtered
    assert [j.id for j in _jobs(console)] == [1]
    assert post_form(client, "/jobs/1/copy", {}).headers["Location"] == "/jobs/3"
    deleted = client.post("/jobs/3/delete", data={"csrf_token": page_csrf(client, "/account")}, headers={"Referer": "http://localhost/jobs/3"})
    assert deleted.headers["Location"] == "/jobs"
    assert [j.id for j in _jobs(console)] == [1]


def test_job_form_offers_delivery_with_its_meaning_and_saves_it(console: Console) -> None:
    client = _admin(console)
    group_id = data.add_group(console.db, "billing")
    new = client.get("/jobs/new").get_data(as_text=True)
    select = new[new.index('<select id="f-delivery" name="delivery"'):]
    select = select[: select.index("</select>")]
    assert '<option value="AT_MOST_ONCE" selected>AT_MOST_ONCE — skip it and alarm</option>' in select  # the default
    assert '<option value="AT_LEAST_ONCE">AT_LEAST_ONCE — send it again</option>' in select
    assert "If a run&#39;s delivery cannot be confirmed after a scheduler failure: skip it and alarm (at most once) or send it again" in new
    created = post_form(client, "/jobs/new", _job_form(group_id, delivery="AT_LEAST_ONCE"))
    assert created.status_code == 302
    assert [j.delivery for j in _jobs(console)] == ["AT_LEAST_ONCE"]
    edit = client.get("/jobs/1").get_data(as_text=True)
    assert '<option value="AT_LEAST_ONCE" selected>' in edit and '<option value="AT_MOST_ONCE" selected>' not in edit
    bad = post_form(client, "/jobs/1", _job_form(group_id, delivery="TWICE"))
    assert bad.status_code == 400
    assert 'id="err-delivery"' in bad.get_data(as_text=True) and "&#39;TWICE&#39; is not one of AT_MOST_ONCE, AT_LEAST_ONCE" in bad.get_data(as_text=True)
    assert [j.delivery for j in _jobs(console)] == ["AT_LEAST_ONCE"]
    assert post_form(client, "/jobs/1/copy", {}).status_code == 302
    assert post_form(client, "/jobs/1", _job_form(group_id, delivery="AT_MOST_ONCE")).status_code == 302
    assert [j.delivery for j in _jobs(console)] == ["AT_MOST_ONCE", "AT_LEAST_ONCE"]  # the copy kept it


def test_job_form_takes_the_jitter_and_refuses_one_beyond_the_rate(console: Console) -> None:
    client = _admin(console)
    group_id = data.add_group(console.db, "billing")
    assert post_form(client, "/jobs/new", _job_form(group_id, jitter_s="45")).status_code == 302
    assert [j.jitter_s for j in _jobs(console)] == [45]
    assert 'name="jitter_s" type="number" value="45"' in client.get("/jobs/1").get_data(as_text=True)
    for bad in ("-1", "3601", "soon"):
        page = post_form(client, "/jobs/1", _job_form(group_id, jitter_s=bad))
        assert page.status_code == 400 and 'id="err-jitter_s"' in page.get_data(as_text=True), bad
    rate = post_form(client, "/jobs/1", _job_form(group_id, schedule_type="FIX_RATE", schedule_conf="30", jitter_s="45"))
    assert rate.status_code == 400 and "must not be longer than the fixed rate (30 s)" in rate.get_data(as_text=True)
    assert [(j.jitter_s, j.schedule_type) for j in _jobs(console)] == [(45, "CRON")]
    zh = client.get("/jobs/1", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert "随机延迟" in zh


def test_job_form_takes_pause_after_failures_and_keeps_it_when_not_posted(console: Console) -> None:
    client = _admin(console)
    group_id = data.add_group(console.db, "billing")
    assert post_form(client, "/jobs/new", _job_form(group_id)).status_code == 302  # a form posted without the field: off
    assert post_form(client, "/jobs/new", _job_form(group_id, name="careful", pause_after_failures="3")).status_code == 302
    assert [j.pause_after_failures for j in _jobs(console)] == [0, 3]
    assert 'name="pause_after_failures" type="number" value="3"' in client.get("/jobs/2").get_data(as_text=True)
    assert post_form(client, "/jobs/2", _job_form(group_id, name="careful v2")).status_code == 302  # not posted: kept
    for bad in ("-1", "1001", "often"):
        page = post_form(client, "/jobs/2", _job_form(group_id, name="careful v2", pause_after_failures=bad))
        assert page.status_code == 400 and 'id="err-pause_after_failures"' in page.get_data(as_text=True), bad
    assert [(j.name, j.pause_after_failures) for j in _jobs(console)] == [("nightly sync", 0), ("careful v2", 3)]
    zh = client.get("/jobs/2", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert "连续失败多少次后暂停" in zh


def test_a_job_that_paused_itself_shows_why_and_a_start_clears_it(console: Console) -> None:
    client = _admin(console)
    group_id = data.add_group(console.db, "billing")
    assert post_form(client, "/jobs/new", _job_form(group_id, pause_after_failures="2")).status_code == 302
    with console.db.session() as s:
        s.execute(sa.update(Job).values(consecutive_failures=1))
    assert "1 of 2 consecutive failed runs before the job pauses itself" in client.get("/jobs/1").get_data(as_text=True)
    reason = "paused after 2 consecutive failed runs; last: run 9 at 2026-01-01T00:00:00Z: 502 timed out <soon>"
    with console.db.session() as s:
        s.execute(sa.update(Job).values(consecutive_failures=2, paused_at_ms=data.NOW, paused_reason=reason))
    escaped = reason.replace("<", "&lt;").replace(">", "&gt;")
    listing = client.get("/jobs").get_data(as_text=True)
    assert 'class="badge badge-paused"' in listing and "PAUSED: 2 failed in a row" in listing and escaped in listing
    page = client.get("/jobs/1").get_data(as_text=True)
    assert 'id="pause-reason"' in page and escaped in page and "<soon>" not in page
    assert "已暂停：连续失败 2 次" in client.get("/jobs", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    data.add_job(console.db, group_id, "calm-job")
    only_paused = client.get("/jobs?enabled=paused").get_data(as_text=True)
    assert "badge-paused" in only_paused and "calm-job" not in only_paused
    assert 'value="paused" selected' in only_paused
    assert post_form(client, "/jobs/1/start", {}).status_code == 302
    [job, _calm] = _jobs(console)
    assert (job.enabled, job.paused_at_ms, job.paused_reason, job.consecutive_failures) == (True, 0, None, 0)
    assert "badge-paused" not in client.get("/jobs").get_data(as_text=True)


def test_job_form_takes_a_catchup_window_with_a_catchup_strategy_only(console: Console) -> None:
    client = _admin(console)
    group_id = data.add_group(console.db, "billing")
    page = client.get("/jobs/new").get_data(as_text=True)
    assert 'value="CATCH_UP_ALL"' in page and 'value="CATCH_UP_LATEST"' in page and 'name="catchup_window_s"' in page
    assert post_form(client, "/jobs/new", _job_form(group_id, misfire_strategy="CATCH_UP_LATEST", catchup_window_s="3600")).status_code == 302
    assert [(j.misfire_strategy, j.catchup_window_s) for j in _jobs(console)] == [("CATCH_UP_LATEST", 3600)]
    assert 'name="catchup_window_s" type="number" value="3600"' in client.get("/jobs/1").get_data(as_text=True)
    for bad in ({"catchup_window_s": "0"}, {"catchup_window_s": "604801"}, {"misfire_strategy": "DO_NOTHING"}):
        page = post_form(client, "/jobs/1", _job_form(group_id, **{"misfire_strategy": "CATCH_UP_LATEST", "catchup_window_s": "3600", **bad}))
        assert page.status_code == 400 and 'id="err-catchup_window_s"' in page.get_data(as_text=True), bad
    assert [(j.misfire_strategy, j.catchup_window_s) for j in _jobs(console)] == [("CATCH_UP_LATEST", 3600)]
    zh = client.get("/jobs/1", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert "补跑窗口" in zh


def test_job_form_offers_the_overlap_policy_and_saves_it(console: Console) -> None:
    client = _admin(console)
    group_id = data.add_group(console.db, "billing")
    new = client.get("/jobs/new").get_data(as_text=True)
    select = new[new.index('<select id="f-overlap_policy" name="overlap_policy"'):]
    select = select[: select.index("</select>")]
    assert '<option value="ALLOW_ALL" selected>ALLOW_ALL — start it anyway</option>' in select  # the default
    assert [line.split('"')[1] for line in select.split("<option")[1:]] == ["ALLOW_ALL", "SKIP", "BUFFER_ONE", "BUFFER_ALL", "CANCEL_OTHER", "TERMINATE_OTHER"]
    assert "this setting holds across the whole cluster" in new
    assert post_form(client, "/jobs/new", _job_form(group_id, overlap_policy="SKIP")).status_code == 302
    assert [j.overlap_policy for j in _jobs(console)] == ["SKIP"]
    assert '<option value="SKIP" selected>' in client.get("/jobs/1").get_data(as_text=True)
    bad = post_form(client, "/jobs/1", _job_form(group_id, overlap_policy="SOMETIMES"))
    assert bad.status_code == 400
    assert 'id="err-overlap_policy"' in bad.get_data(as_text=True) and "&#39;SOMETIMES&#39; is not one of ALLOW_ALL, SKIP" in bad.get_data(as_text=True)
    assert [j.overlap_policy for j in _jobs(console)] == ["SKIP"]
    zh = client.get("/jobs/1", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert "重叠策略" in zh and "SKIP（跳过）— 不触发本次调度" in zh


def test_job_start_refused_for_a_schedule_that_never_fires(console: Console) -> None:
    client = _admin(console)
    group_id = data.add_group(console.db, "billing")
    post_form(client, "/jobs/new", _job_form(group_id, schedule_type="NONE", schedule_conf=""))
    response = post_form(client, "/jobs/1/start", {})
    assert response.status_code == 302
    assert "trigger it by hand" in client.get("/jobs").get_data(as_text=True)
    assert _jobs(console)[0].enabled is False


def test_job_list_filters_sorts_and_pages(console: Console) -> None:
    client = _admin(console)
    billing = data.add_group(console.db, "billing")
    mail = data.add_group(console.db, "mail")
    for i in range(25):
        data.add_job(console.db, billing, f"bill-{i:02d}", enabled=i % 2 == 0)
    data.add_job(console.db, mail, "mailer", handler="sendMail")
    page1 = client.get(f"/jobs?group_id={billing}&sort=-name").get_data(as_text=True)
    assert "bill-24" in page1 and "bill-05" in page1 and "bill-04" not in page1 and "mailer" not in page1
    assert "Page 1 of 2" in page1
    page2 = client.get(f"/jobs?group_id={billing}&sort=-name&page=2").get_data(as_text=True)
    assert "bill-04" in page2 and "bill-00" in page2
    assert "mailer" in client.get("/jobs?q=sendMail").get_data(as_text=True)
    stopped = client.get(f"/jobs?group_id={billing}&enabled=0").get_data(as_text=True)
    assert "bill-01" in stopped and "bill-02" not in stopped
    assert client.get("/jobs?sort=bogus").status_code == 400
    assert "No job matches" in client.get("/jobs?q=nothing-like-this").get_data(as_text=True)


def test_cron_preview_json(console: Console) -> None:
    client = _admin(console)
    ok = client.get("/jobs/preview?schedule_type=CRON&schedule_conf=0+9+*+*+*&timezone=Europe/Berlin").get_json()
    assert len(ok["fire_times"]) == 5
    first = ok["fire_times"][0]
    assert first["utc"] == "2026-01-01T08:00:00Z" and first["local"] == "2026-01-01 09:00:00 UTC+1 (Europe/Berlin)"
    bad = client.get("/jobs/preview?schedule_type=CRON&schedule_conf=0+25+*+*+*&timezone=UTC")
    assert bad.status_code == 400 and "hour" in bad.get_json()["error"]
    rate = client.get("/jobs/preview?schedule_type=FIX_RATE&schedule_conf=30&timezone=UTC").get_json()
    assert [t["at_ms"] for t in rate["fire_times"]][:2] == [console.clock.now_ms() + 30_000, console.clock.now_ms() + 60_000]
    none = client.get("/jobs/preview?schedule_type=NONE&schedule_conf=&timezone=UTC").get_json()
    assert none["fire_times"] == [] and "by hand" in none["note"]


def test_cron_preview_shows_the_jitter(console: Console) -> None:
    client = _admin(console)
    query = "/jobs/preview?schedule_type=CRON&schedule_conf=0+9+*+*+*&timezone=UTC&jitter_s=40"
    saved = client.get(query + "&job_id=7").get_json()["fire_times"]
    for item in saved:
        delay = round(jitter_ms(7, item["at_ms"], 40) / 1000, 1)
        assert item["local"] == f"{item['utc'][:10]} 09:00:00 UTC (UTC) (+{delay} s jitter)"
    assert client.get(query).get_json()["fire_times"][0]["local"] == "2026-01-01 09:00:00 UTC (UTC) (+0 to 40 s jitter)"
    for ignored in ("0", "-5", "x", "99999"):
        plain = client.get(query.replace("jitter_s=40", f"jitter_s={ignored}") + "&job_id=7").get_json()["fire_times"][0]
        assert plain["local"] == "2026-01-01 09:00:00 UTC (UTC)", ignored


def _fires(console: Console) -> list[Fire]:
    with console.db.read_session() as session:
        return list(session.scalars(sa.select(Fire).order_by(Fire.id)))


def test_trigger_whole_job_and_one_shard_with_a_parameter(console: Console) -> None:
    client = _admin(console)
    group_id = data.add_group(console.db, "billing")
    job_id = data.add_job(console.db, group_id, "drain", route_strategy="SHARDING_BROADCAST", param="default")
    for port in (9001, 9002, 9003):
        data.add_executor(console.db, "billing", f"http://127.0.0.1:{port}", heartbeat_at_ms=console.clock.now_ms())
    page = client.get(f"/jobs/{job_id}/trigger").get_data(as_text=True)
    assert "http://127.0.0.1:9002" in page
    whole = post_form(client, f"/jobs/{job_id}/trigger", {"param": "", "target": "whole"})
    assert whole.status_code == 302 and whole.headers["Location"] == f"/runs?job_id={job_id}&fire_id=1"
    # Until the scheduler has made the fire's runs, the list keeps refreshing itself.
    assert 'data-autorefresh="2000"' in client.get(whole.headers["Location"]).get_data(as_text=True)
    shard = post_form(client, f"/jobs/{job_id}/trigger", {"param": "only-this", "target": "shard", "shard_index": "2", "shard_total": ""})
    assert shard.status_code == 302
    first, second = _fires(console)
    assert (first.trigger_type, first.shard_index, first.shard_total, first.status) == (TriggerType.MANUAL, None, None, "PENDING")
    assert (second.param, second.shard_index, second.shard_total) == ("only-this", 2, 3)
    out_of_range = post_form(client, f"/jobs/{job_id}/trigger", {"param": "", "target": "shard", "shard_index": "3", "shard_total": "3"})
    assert out_of_range.status_code == 400 and 'id="err-shard_index"' in out_of_range.get_data(as_text=True)
    not_an_executor = post_form(client, f"/jobs/{job_id}/trigger", {"param": "", "target": "whole", "address": "http://169.254.169.254"})
    assert not_an_executor.status_code == 400 and 'id="err-address"' in not_an_executor.get_data(as_text=True)
    assert len(_fires(console)) == 2


def test_runs_written_while_the_list_is_read_keep_the_page_refreshing(console: Console, monkeypatch) -> None:
    """The scheduler writes a triggered fire's runs between the page's reads: the list read
    before them shows none, so the page must go on refreshing, or it shows none for ever."""
    from shardcron.admin.services import runs as run_service

    client = _admin(console)
    group_id = data.add_group(console.db, "billing")
    job_id = data.add_job(console.db, group_id, "drain")
    data.add_executor(console.db, "billing", "http://127.0.0.1:9001", heartbeat_at_ms=console.clock.now_ms())
    trigger = post_form(client, f"/jobs/{job_id}/trigger", {"param": "", "target": "whole"})
    fire_id = _fires(console)[0].id
    real_list_runs = run_service.list_runs

    def list_then_dispatch(*args, **kwargs):
        page = real_list_runs(*args, **kwargs)
        data.add_run(console.db, job_id, group_id, status=RunStatus.SUCCESS, fire_id=fire_id)  # the scheduler, meanwhile
        return page

    monkeypatch.setattr(run_service, "list_runs", list_then_dispatch)
    html = client.get(trigger.headers["Location"]).get_data(as_text=True)
    assert 'class="shard"' not in html  # the list was read before the run existed
    assert 'data-autorefresh="2000"' in html
    monkeypatch.setattr(run_service, "list_runs", real_list_runs)
    settled = client.get(trigger.headers["Location"]).get_data(as_text=True)
    assert settled.count('class="shard"') == 1 and "data-autorefresh" not in settled


def test_run_list_one_row_per_shard_with_drainer_counts_and_filters(console: Console) -> None:
    client = _admin(console)
    group_id = data.add_group(console.db, "billing")
    other = data.add_group(console.db, "mail")
    job_id = data.add_job(console.db, group_id, "drain")
    mail_job = data.add_job(console.db, other, "mailer")
    now = console.clock.now_ms()
    for i in range(3):
        data.add_run(console.db, job_id, group_id, status=RunStatus.SUCCESS, fire_id=7, shard_index=i, shard_total=3, executor_address=f"http://127.0.0.1:900{i}",
                     result_json=json.dumps({"claimed": 10 + i, "succeeded": 8, "retried": 1 + i, "dead": 1}), trigger_at_ms=now - 1000)
    data.add_run(console.db, mail_job, other, status=RunStatus.FAILED, trigger_at_ms=now - 3 * 86_400_000, handle_msg="smtp down")
    html = client.get("/runs").get_data(as_text=True)
    assert html.count('class="shard"') == 4
    assert "0/3" in html and "1/3" in html and "2/3" in html
    assert "12 claimed · 8 ok · 3 retried · 1 dead" in html
    assert "data-autorefresh" not in html  # nothing running
    only_failed = client.get("/runs?status=FAILED").get_data(as_text=True)
    assert "smtp down" in only_failed and "claimed" not in only_failed
    assert client.get(f"/runs?group_id={group_id}").get_data(as_text=True).count('class="shard"') == 3
    assert client.get(f"/runs?job_id={mail_job}").get_data(as_text=True).count('class="shard"') == 1
    assert client.get("/runs?range=24h").get_data(as_text=True).count('class="shard"') == 3
    window = client.get("/runs?from=2025-12-28T00:00&to=2025-12-30T00:00").get_data(as_text=True)
    assert window.count('class="shard"') == 1 and "smtp down" in window
    newest_first = client.get("/runs").get_data(as_text=True)
    oldest_first = client.get("/runs?order=asc").get_data(as_text=True)
    assert newest_first.index("drain") < newest_first.index("mailer")
    assert oldest_first.index("mailer") < oldest_first.index(">drain<")
    assert 'href="/runs?order=asc&amp;page=1"' in newest_first
    assert client.get("/runs?status=NOPE").status_code == 400
    assert client.get("/runs?from=yesterday").status_code == 400


def test_running_runs_refresh_themselves(console: Console) -> None:
    client = _admin(console)
    group_id = data.add_group(console.db, "billing")
    job_id = data.add_job(console.db, group_id, "drain")
    run_id = data.add_run(console.db, job_id, group_id, status=RunStatus.RUNNING, executor_address="http://127.0.0.1:9001", progress_done=40, progress_total=120)
    listing = client.get("/runs").get_data(as_text=True)
    assert f'data-live-url="/runs/live?ids={run_id}"' in listing and "40 of 120 done" in listing
    detail = client.get(f"/runs/{run_id}").get_data(as_text=True)
    assert 'data-autorefresh="2000"' in detail and 'id="kill-run"' in detail and f'data-log-url="/runs/{run_id}/log"' in detail


class FakeExecutorClient:
    """Stands in for the admin's ExecutorClient: records calls, answers from a script."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []
        self.lines = ["starting", "working <b>hard</b>", "done"]

    def log(self, address, log_date_ms, log_id, from_line=1):
        self.calls.append(("log", address, log_id, from_line))
        shown = self.lines[from_line - 1 :]
        return LogResult(from_line_num=from_line, to_line_num=from_line + len(shown) - 1, log_content="".join(line + "\n" for line in shown), is_end=True)

    def kill(self, address, job_id):
        self.calls.append(("kill", address, job_id))
        return Envelope.success()


def test_log_tail_and_kill_go_only_to_live_group_executors(console: Console) -> None:
    client = _admin(console)
    fake = FakeExecutorClient()
    console.app.extensions["shardcron.executor_client"] = fake
    group_id = data.add_group(console.db, "billing")
    job_id = data.add_job(console.db, group_id, "drain")
    data.add_executor(console.db, "billing", "http://127.0.0.1:9001", heartbeat_at_ms=console.clock.now_ms())
    live_run = data.add_run(console.db, job_id, group_id, status=RunStatus.RUNNING, executor_address="http://127.0.0.1:9001")
    stray_run = data.add_run(console.db, job_id, group_id, status=RunStatus.RUNNING, executor_address="http://169.254.169.254")
    answer = client.get(f"/runs/{live_run}/log?from_line=2")
    page = answer.get_json()
    assert answer.status_code == 200, page
    assert page["content"] == "working <b>hard</b>\ndone\n" and page["to_line"] == 3 and page["is_end"] is True
    assert page["note"] is None
    fake.lines = []  # a finished run that logged nothing: the executor keeps no file for it
    quiet = client.get(f"/runs/{live_run}/log").get_json()
    assert quiet["content"] == "" and quiet["is_end"] is True and "no log lines for this run" in quiet["note"]
    fake.lines = ["starting", "working <b>hard</b>", "done"]
    refused = client.get(f"/runs/{stray_run}/log")
    assert refused.status_code == 409 and "not a live executor" in refused.get_json()["error"]["message"]
    assert client.get(f"/runs/{live_run}/log?from_line=0").status_code == 400
    assert post_form(client, f"/runs/{live_run}/kill", {}).status_code == 302
    assert post_form(client, f"/runs/{stray_run}/kill", {}).status_code == 302  # executor gone: marked failed here
    assert [c[0:2] for c in fake.calls] == [("log", "http://127.0.0.1:9001")] * 2 + [("kill", "http://127.0.0.1:9001")]
    stray = client.get(f"/runs/{stray_run}").get_data(as_text=True)
    assert "killed: executor gone" in stray and "FAILED" in stray


UNKNOWN_MSG = "outcome unknown: executor http://127.0.0.1:9001 could not be asked about logId 2: refused; not sent again (delivery AT_MOST_ONCE)"


def test_unknown_runs_are_shown_plainly_and_filtered(console: Console) -> None:
    client = _admin(console)
    group_id = data.add_group(console.db, "billing")
    job_id = data.add_job(console.db, group_id, "drain")
    now = console.clock.now_ms()
    data.add_run(console.db, job_id, group_id, status=RunStatus.FAILED, handle_msg="boom", trigger_at_ms=now - 2000)
    unknown = data.add_run(console.db, job_id, group_id, status=RunStatus.UNKNOWN, trigger_code=0, trigger_msg=UNKNOWN_MSG,
                           executor_address="http://127.0.0.1:9001", trigger_at_ms=now - 1000)
    listing = client.get("/runs").get_data(as_text=True)
    assert f'data-run-id="{unknown}" data-status="UNKNOWN"' in listing
    assert '<span class="badge badge-unknown" title="Outcome unknown: delivery not confirmed after a scheduler failure">UNKNOWN</span>' in listing
    assert UNKNOWN_MSG in listing  # its trigger message is its outcome
    assert "data-autorefresh" not in listing  # nothing will change by itself (only a late result)
    assert '<option value="UNKNOWN">UNKNOWN</option>' in listing  # the status filter offers it
    only = client.get("/runs?status=UNKNOWN").get_data(as_text=True)
    assert only.count('class="shard"') == 1 and f'data-run-id="{unknown}"' in only and "boom" not in only
    assert '<option value="UNKNOWN" selected>UNKNOWN</option>' in only
    detail = client.get(f"/runs/{unknown}").get_data(as_text=True)
    assert "badge-unknown" in detail and UNKNOWN_MSG in detail
    note = detail[detail.index('id="unknown-note"'):]
    assert note.startswith(
        'id="unknown-note">Whether the executor received this run could not be confirmed after a scheduler failure; '
        "it was not sent again (the job delivers at most once). If the executor reports a result, the run finishes with it.</p>"
    )
    assert "no result reported" in detail and "not finished" not in detail and "data-autorefresh" not in detail
    assert 'id="kill-run"' in detail  # it names an executor, which may be running it
    failed = client.get(f"/runs/{unknown - 1}").get_data(as_text=True)
    assert 'id="unknown-note"' not in failed and 'id="kill-run"' not in failed
    nowhere = data.add_run(console.db, job_id, group_id, status=RunStatus.UNKNOWN, trigger_code=0, executor_address=None)
    assert 'id="kill-run"' not in client.get(f"/runs/{nowhere}").get_data(as_text=True)


def test_unknown_run_is_killed_only_through_its_live_executor(console: Console) -> None:
    client = _admin(console)
    fake = FakeExecutorClient()
    console.app.extensions["shardcron.executor_client"] = fake
    group_id = data.add_group(console.db, "billing")
    job_id = data.add_job(console.db, group_id, "drain")
    data.add_executor(console.db, "billing", "http://127.0.0.1:9001", heartbeat_at_ms=console.clock.now_ms())
    on_live = data.add_run(console.db, job_id, group_id, status=RunStatus.UNKNOWN, trigger_code=0, executor_address="http://127.0.0.1:9001")
    on_gone = data.add_run(console.db, job_id, group_id, status=RunStatus.UNKNOWN, trigger_code=0, executor_address="http://127.0.0.1:9002")
    assert post_form(client, f"/runs/{on_live}/kill", {}).status_code == 302
    assert "is stopping job" in client.get(f"/runs/{on_live}").get_data(as_text=True)
    assert post_form(client, f"/runs/{on_gone}/kill", {}).status_code == 302
    refused = client.get(f"/runs/{on_gone}").get_data(as_text=True)
    assert "is not a live executor of group billing now" in refused and "it stays UNKNOWN" in refused
    assert fake.calls == [("kill", "http://127.0.0.1:9001", job_id)]
    with console.db.read_session() as session:
        statuses = session.execute(sa.select(RunLog.status).where(RunLog.id.in_([on_live, on_gone])).order_by(RunLog.id)).scalars().all()
    assert statuses == [RunStatus.UNKNOWN, RunStatus.UNKNOWN]  # the executor's report will finish the first


def test_dashboard_counts_chart_and_recent_failures(console: Console) -> None:
    """The cards, the chart's legend and title, and the per-group and per-executor tables are
    sums of the same buckets, so they agree whatever the range."""
    client = _admin(console)
    group_id = data.add_group(console.db, "billing")
    job_id = data.add_job(console.db, group_id, "drain", enabled=True)
    data.add_executor(console.db, "billing", "http://127.0.0.1:9001", heartbeat_at_ms=console.clock.now_ms())
    now, day = console.clock.now_ms(), 86_400_000
    data.add_daily(console.db, dt.date(2026, 1, 1), group_id, success=40, failed=10)  # not read: runs are
    data.add_run(console.db, job_id, group_id, status=RunStatus.FAILED, handle_msg="boom", trigger_at_ms=now)
    data.add_run(console.db, job_id, group_id, status=RunStatus.SUCCESS, trigger_at_ms=now, executor_address="http://127.0.0.1:9001")
    data.add_run(console.db, job_id, group_id, status=RunStatus.RUNNING, trigger_at_ms=now + 1, executor_address="http://127.0.0.1:9001")
    data.add_run(console.db, job_id, group_id, status=RunStatus.SUCCESS, trigger_at_ms=now - 3 * day)
    data.add_run(console.db, job_id, group_id, status=RunStatus.FAILED, trigger_at_ms=now - 20 * day)
    html = client.get("/").get_data(as_text=True)
    assert '<div class="value" id="stat-jobs">1</div>' in html
    assert '<div class="value" id="stat-executors">1</div>' in html
    assert '<div class="value" id="stat-runs">4</div>' in html and '<span id="stat-running">1</span>' in html
    assert '<div class="value" id="stat-success-rate">66.7%</div>' in html
    assert '(<span id="stat-success">2</span> ok, <span id="stat-failed">1</span> failed' in html
    assert "2 succeeded, 1 failed, 0 outcome unknown, 1 running</title>" in html
    assert "succeeded (2)" in html and "failed (1)" in html and "running (1)" in html
    assert html.count("<g class=\"day\">") == 7 and "boom" in html
    group_rows = html[html.index('id="per-group"'):html.index('id="per-executor"')]
    assert '<td class="wide title" data-label="Group">billing</td>' in group_rows and '<td data-label="Run count">4</td>' in group_rows
    executor_rows = html[html.index('id="per-executor"'):]
    assert "http://127.0.0.1:9001" in executor_rows and '<td data-label="Run count">2</td>' in executor_rows
    month = client.get("/?days=30").get_data(as_text=True)
    assert month.count("<g class=\"day\">") == 30 and '<div class="value" id="stat-runs">5</div>' in month
    assert "2 succeeded, 2 failed, 0 outcome unknown, 1 running</title>" in month
    today = client.get("/?days=1").get_data(as_text=True)
    assert today.count("<g class=\"day\">") == 1 and '<div class="value" id="stat-runs">3</div>' in today
    custom = client.get("/?from=2025-12-28&to=2025-12-29").get_data(as_text=True)
    assert custom.count("<g class=\"day\">") == 2 and '<div class="value" id="stat-runs">1</div>' in custom
    for query, field in (("from=2025-01-01", "from"), ("from=2026-01-01&to=2025-12-01", "to"), ("days=8", "days"), ("from=1.1.2026", "from")):
        bad = client.get(f"/?{query}")
        assert bad.status_code == 400 and f'id="err-{field}"' in bad.get_data(as_text=True), query
    assert "From: a range is at most 90 days" in client.get("/?from=2025-01-01").get_data(as_text=True)
    assert 'name="from" value="2025-12-26"' in html and 'name="to" value="2026-01-01"' in html  # the 7 days shown


def test_dashboard_shows_unknown_runs_as_their_own_count(console: Console) -> None:
    client = _admin(console)
    group_id = data.add_group(console.db, "billing")
    job_id = data.add_job(console.db, group_id, "drain")
    now = console.clock.now_ms()
    data.add_run(console.db, job_id, group_id, status=RunStatus.SUCCESS, trigger_at_ms=now)
    data.add_run(console.db, job_id, group_id, status=RunStatus.FAILED, handle_msg="boom", trigger_at_ms=now + 1)
    unknown = data.add_run(console.db, job_id, group_id, status=RunStatus.UNKNOWN, trigger_code=0, trigger_msg=UNKNOWN_MSG, trigger_at_ms=now + 2)
    html = client.get("/").get_data(as_text=True)
    assert '<div class="value" id="stat-success-rate">33.3%</div>' in html
    assert '<span id="stat-failed">1</span> failed, <span id="stat-unknown">1</span> outcome unknown)' in html
    assert "1 succeeded, 1 failed, 1 outcome unknown, 0 running</title>" in html
    assert "2026-01-01: 1 succeeded, 1 failed, 1 outcome unknown" in html  # the day's bar
    assert html.count('<rect class="unknown"') == 1 and "outcome unknown (1)" in html
    recent = html[html.index('id="recent-failures"'):]
    assert f'href="/runs/{unknown}"' in recent and "badge-unknown" in recent and UNKNOWN_MSG in recent


def test_users_admin_pages(console: Console) -> None:
    client = _admin(console)
    group_id = data.add_group(console.db, "billing")
    created = post_form(client, "/users", {"username": "bob", "password": "bob's long password", "role": "USER", "group_ids": [str(group_id)]})
    assert created.status_code == 302
    listing = client.get("/users").get_data(as_text=True)
    assert "bob" in listing and "Billing (billing)" in listing
    bad = post_form(client, "/users", {"username": "x y", "password": "short", "role": "USER"})
    assert bad.status_code == 400
    html = bad.get_data(as_text=True)
    assert 'id="err-username"' in html and 'id="err-password"' in html
    bob = console.login("bob", "bob's long password")
    assert bob.get("/users").status_code == 403
    assert post_form(client, "/users/2", {"action": "grants"}).status_code == 302  # no groups any more
    assert "none" in client.get("/users").get_data(as_text=True)
    assert post_form(client, "/users/2", {"action": "password", "new_password": "reset by the admin"}).status_code == 302
    console.login("bob", "reset by the admin")
    last_admin = post_form(client, "/users/1", {"action": "delete"})
    assert last_admin.status_code == 400 and "last admin" in last_admin.get_data(as_text=True)


def test_dashboard_days_follow_the_viewers_zone_cookie(console: Console) -> None:
    client = _admin(console)
    group_id = data.add_group(console.db, "billing")
    job_id = data.add_job(console.db, group_id, "drain")
    # 2025-12-31 23:30 UTC is already 2026-01-01 in Berlin ("today" there), still yesterday in UTC.
    data.add_run(console.db, job_id, group_id, status=RunStatus.SUCCESS, trigger_at_ms=console.clock.now_ms() - 30 * 60_000)
    utc = client.get("/?days=1").get_data(as_text=True)
    assert '<div class="value" id="stat-runs">0</div>' in utc and "days in UTC" in utc
    client.set_cookie("tz", "Europe/Berlin")
    berlin = client.get("/?days=1").get_data(as_text=True)
    assert '<div class="value" id="stat-runs">1</div>' in berlin and "days in Europe/Berlin" in berlin
    client.set_cookie("tz", "<script>")
    assert "days in UTC" in client.get("/").get_data(as_text=True)
