"""The runs and jobs pages of issue 20: result cells, the owner filter, the job-name filter,
the live refresh of active runs, and the admins' clean-up."""

from __future__ import annotations

import json
import re

from shardcron.admin.enums import RunStatus, UserRole
from tests.support import admin_data as data
from tests.support.console import Console


def _admin(console: Console):
    console.add_user("root", UserRole.ADMIN)
    return console.login("root")


def _result_cells(html: str) -> list[str]:
    return [re.sub(r"<[^>]+>", "", cell) for cell in re.findall(r'<td class="result">(.*?)</td>', html, re.S)]


def test_result_cells_show_each_fact_once_and_apart(console: Console) -> None:
    client = _admin(console)
    group_id = data.add_group(console.db, "billing")
    job_id = data.add_job(console.db, group_id, "drain")
    now = console.clock.now_ms()
    counts = {"claimed": 7, "succeeded": 5, "retried": 1, "dead": 1}
    data.add_run(console.db, job_id, group_id, trigger_at_ms=now - 3, progress_done=7, result_json=json.dumps(counts),
                 handle_msg="shard 0/1: claimed 7, succeeded 5, retried 1, dead 1 in 0.4 s (stopped: drained)")
    data.add_run(console.db, job_id, group_id, status=RunStatus.FAILED, trigger_at_ms=now - 2, progress_done=12, progress_total=600,
                 handle_msg="job killed while running")
    data.add_run(console.db, job_id, group_id, status=RunStatus.FAILED, trigger_at_ms=now - 1, handle_msg="boom")
    cells = _result_cells(client.get("/runs?order=asc").get_data(as_text=True))
    assert cells == ["7 claimed · 5 ok · 1 retried · 1 dead", "12 of 600 done · job killed while running", "boom"]


def test_jobs_filter_by_owner(console: Console) -> None:
    client = _admin(console)
    group_id = data.add_group(console.db, "billing")
    data.add_job(console.db, group_id, "nightly", author="alice")
    data.add_job(console.db, group_id, "hourly", author="bob")
    html = client.get("/jobs?owner=ali").get_data(as_text=True)
    assert ">nightly<" in html and ">hourly<" not in html and 'name="owner" value="ali"' in html
    assert "No job matches these filters." in client.get("/jobs?owner=carol").get_data(as_text=True)
    assert client.get("/jobs?owner=" + "x" * 65).status_code == 400
