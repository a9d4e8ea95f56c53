"""The console's run page shows "Planned for" when a run was sent for another planned time than
its fire's (a retry or a repair keeps the one of the run it re-ran), in English and Chinese."""

from __future__ import annotations

from shardcron.admin.enums import RunStatus, TriggerType
from tests.admin.web.test_pages import _admin
from tests.support import admin_data as data
from tests.support.console import Console

DAY = 86_400_000
ZH = {"Accept-Language": "zh-CN,zh;q=0.9"}


def test_a_retry_page_says_which_planned_time_it_ran_for(console: Console) -> None:
    client = _admin(console)
    group_id = data.add_group(console.db, "billing")
    job_id = data.add_job(console.db, group_id, "daily")
    now = console.clock.now_ms()
    first = data.add_run(console.db, job_id, group_id, status=RunStatus.FAILED, trigger_type=TriggerType.BACKFILL, fire_at_ms=now - 3 * DAY)
    retry = data.add_run(console.db, job_id, group_id, status=RunStatus.RUNNING, trigger_type=TriggerType.RETRY, planned_at_ms=now - 3 * DAY)
    page = client.get(f"/runs/{retry}").get_data(as_text=True)
    assert 'id="run-planned-for"' in page and "Planned for" in page and "sent as the trigger time" in page
    assert 'id="run-planned-for"' not in client.get(f"/runs/{first}").get_data(as_text=True)
    zh = client.get(f"/runs/{retry}", headers=ZH).get_data(as_text=True)
    assert "所属计划时间" in zh and "Planned for" not in zh
