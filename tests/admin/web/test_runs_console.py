"""The runs and jobs pages of issue 20: result cells, the owner filter, the job-name filter,
the live refresh of active runs, and the admins' clean-up."""

from __future__ import annotations

import json
import re

from shardcron.admin.enums import RunStatus, UserRole
from tests.support import admin_data as data
from tests.support.console import Console, post_form


def _admin(console: Console):
    console.add_user("root", UserRole.ADMIN)
    return console.login("root")


def _result_cells(html: str) -> list[str]:
    return [re.sub(r"<[^>]+>", "", cell) for cell in re.findall(r'<td class="[^"]*\bresult\b[^"]*"[^>]*>(.*?)</td>', html, re.S)]


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


def test_runs_filter_by_job_name_or_typed_id_and_the_suggestions(console: Console) -> None:
    client = _admin(console)
    billing, mail = data.add_group(console.db, "billing"), data.add_group(console.db, "mail")
    nightly = data.add_job(console.db, billing, "nightly sync")
    other = data.add_job(console.db, mail, "mailer")
    data.add_run(console.db, nightly, billing, handle_msg="from nightly")
    data.add_run(console.db, other, mail, handle_msg="from mailer")
    by_name = client.get("/runs?job=nightly+sync").get_data(as_text=True)
    assert "from nightly" in by_name and "from mailer" not in by_name and 'value="nightly sync"' in by_name
    by_id = client.get(f"/runs?job={other}").get_data(as_text=True)
    assert "from mailer" in by_id and "from nightly" not in by_id
    assert "No run matches these filters." in client.get("/runs?job=nightly").get_data(as_text=True)  # a name, exactly
    assert "from mailer" in client.get(f"/runs?job_id={other}").get_data(as_text=True)  # the job list's links
    assert 'data-suggest-url="/runs/job-names"' in by_name and 'list="job-names"' in by_name
    suggested = client.get("/runs/job-names?q=ail").get_json()
    assert suggested == {"jobs": [{"id": other, "name": "mailer", "group": "mail"}]}
    assert [j["name"] for j in client.get(f"/runs/job-names?group_id={billing}").get_json()["jobs"]] == ["nightly sync"]
    assert client.get("/runs/job-names?q=" + "x" * 129).status_code == 400
    console.add_user("bob", UserRole.USER, [mail])
    bob = console.login("bob")
    assert [j["name"] for j in bob.get("/runs/job-names").get_json()["jobs"]] == ["mailer"]
    assert "from nightly" not in bob.get("/runs?job=nightly+sync").get_data(as_text=True)


def test_active_runs_are_polled_by_a_small_json_endpoint(console: Console) -> None:
    client = _admin(console)
    group_id = data.add_group(console.db, "billing")
    job_id = data.add_job(console.db, group_id, "drain")
    running = data.add_run(console.db, job_id, group_id, status=RunStatus.RUNNING, progress_done=3, progress_total=9)
    done = data.add_run(console.db, job_id, group_id, status=RunStatus.SUCCESS)
    page = client.get("/runs?job=drain&status=RUNNING").get_data(as_text=True)
    assert f'data-live-url="/runs/live?ids={running}"' in page and 'data-progress="3/9"' in page
    answer = client.get(f"/runs/live?ids={running},{done}").get_json()
    assert answer["active"] is True and answer["runs"] == [
        {"id": running, "status": "RUNNING", "progress_done": 3, "progress_total": 9},
        {"id": done, "status": "SUCCESS", "progress_done": None, "progress_total": None},
    ]
    assert client.get(f"/runs/live?ids={done}").get_json()["active"] is False
    for bad in ("", "x", "0", ",".join(["1"] * 101)):
        response = client.get(f"/runs/live?ids={bad}")
        assert response.status_code == 400 and response.get_json()["error"]["message"]
    settled = client.get("/runs?status=SUCCESS").get_data(as_text=True)
    assert "data-live-url" not in settled and "data-autorefresh" not in settled
    other = data.add_group(console.db, "other")
    hidden = data.add_run(console.db, data.add_job(console.db, other, "x"), other, status=RunStatus.RUNNING)
    console.add_user("bob", UserRole.USER, [group_id])
    assert console.login("bob").get(f"/runs/live?ids={hidden}").get_json() == {"runs": [], "active": False, "refresh_ms": 2000}


def test_cleanup_counts_then_deletes_on_confirmation(console: Console) -> None:
    client = _admin(console)
    group_id = data.add_group(console.db, "billing")
    job_id = data.add_job(console.db, group_id, "nightly")
    now = console.clock.now_ms()
    for days in (40, 35, 31, 2, 1):
        data.add_run(console.db, job_id, group_id, trigger_at_ms=now - days * 86_400_000)
    data.add_run(console.db, job_id, group_id, status=RunStatus.RUNNING, trigger_at_ms=now - 50 * 86_400_000)
    assert 'id="clean-up-link" href="/runs/cleanup?job=nightly"' in client.get("/runs?job=nightly").get_data(as_text=True)
    form = client.get("/runs/cleanup?job=nightly").get_data(as_text=True)
    assert 'id="cleanup-form"' in form and 'id="cleanup-preview"' not in form
    preview = client.get("/runs/cleanup?job=nightly&older_than_days=30").get_data(as_text=True)
    assert "3 runs of job nightly will be deleted." in preview and 'data-confirm="Delete 3 runs? This cannot be undone."' in preview
    assert len(_result_cells(client.get("/runs").get_data(as_text=True))) == 6  # counting deleted nothing
    done = post_form(client, "/runs/cleanup", {"group_id": "", "job": "nightly", "older_than_days": "30", "keep_last": ""})
    assert done.status_code == 302 and done.headers["Location"] == f"/runs?job_id={job_id}"
    after = client.get(done.headers["Location"]).get_data(as_text=True)
    assert "Deleted 3 runs of nightly." in after and len(_result_cells(after)) == 3
    assert "1 run of job nightly will be deleted." in client.get(f"/runs/cleanup?job={job_id}&keep_last=1").get_data(as_text=True)
    for query, field in (("job=nightly&older_than_days=-1", "err-older_than_days"), ("job=nobody&keep_last=1", "err-job"), ("keep_last=1", "err-job"),
                         ("group_id=999&keep_last=1", "group 999 not found")):
        bad = client.get("/runs/cleanup?" + query)
        assert bad.status_code in (400, 404) and field in bad.get_data(as_text=True), query
    refused = post_form(client, "/runs/cleanup", {"group_id": "", "job": "nightly", "older_than_days": "", "keep_last": ""})
    assert refused.status_code == 302 and "older_than_days" in client.get(refused.headers["Location"]).get_data(as_text=True)
    console.add_user("bob", UserRole.USER, [group_id])
    bob = console.login("bob")
    assert bob.get("/runs/cleanup").status_code == 403 and "clean-up-link" not in bob.get("/runs").get_data(as_text=True)
    assert post_form(bob, "/runs/cleanup", {"job": str(job_id), "keep_last": "0"}).status_code == 403


def test_dashboard_executors_card_names_only_groups_with_live_executors(console: Console) -> None:
    client = _admin(console)
    data.add_group(console.db, "billing")
    data.add_group(console.db, "mail")
    data.add_executor(console.db, "billing", "http://127.0.0.1:9001", heartbeat_at_ms=console.clock.now_ms())
    html = client.get("/").get_data(as_text=True)
    assert '<div class="value" id="stat-executors">1</div><div class="label">live executors in 1 group</div>' in html
