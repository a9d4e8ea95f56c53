"""The console's workflows: the list (with the last instance's status), the editor with its
problems at the rows they came from and nothing saved, the graph drawn from the form, the live
preview, start/stop/copy/delete, other groups invisible, both languages."""

from __future__ import annotations

import re

import sqlalchemy as sa

from shardcron.admin.enums import TriggerType, UserRole, WorkflowStatus
from shardcron.admin.models import Workflow, WorkflowInstance
from shardcron.admin.web import workflows as workflow_pages
from tests.support import admin_data as data
from tests.support.console import Console, post_form


def workflow_form(group_id: int, jobs: list[int], **over) -> dict:
    form = {
        "name": "nightly", "group_id": str(group_id), "description": "", "author": "", "schedule_type": "CRON", "schedule_conf": "0 0 2 * * ?",
        "timezone": "UTC", "misfire_strategy": "DO_NOTHING", "overlap_policy": "ALLOW_ALL", "timeout_s": "0", "alarm_emails": "", "alarm_webhook": "",
        # a blank row in the middle, as a user leaves one: it is skipped, and rows keep their numbers for the messages
        "step_key": ["extract", "", "load", "report"], "step_job": [str(jobs[0]), "", str(jobs[1]), str(jobs[2])],
        "step_param": ["", "", "day={{upstream.extract.day}}", ""], "step_join": ["ALL", "ALL", "ALL", "ANY"],
        "edge_from": ["extract", "load"], "edge_to": ["load", "report"], "edge_on": ["SUCCESS", "FAILURE"],
    }
    form.update(over)
    return form


def setup(console: Console):
    console.add_user("root", UserRole.ADMIN)
    gid = data.add_group(console.db, "etl")
    jobs = [data.add_job(console.db, gid, name) for name in ("extract", "load", "report")]
    return console.login("root"), gid, jobs


def count(console: Console) -> int:
    with console.db.read_session() as s:
        return s.scalar(sa.select(sa.func.count()).select_from(Workflow))


def test_create_edit_and_the_graph(console: Console) -> None:
    client, gid, jobs = setup(console)
    assert 'href="/workflows"' in client.get("/").get_data(as_text=True)  # the nav link
    assert "No workflows yet." in client.get("/workflows").get_data(as_text=True)
    new = client.get("/workflows/new").get_data(as_text=True)
    assert 'id="wf-step-template"' in new and "workflow_editor.js" in new and "etl / extract (#" in new
    created = post_form(client, "/workflows/new", workflow_form(gid, jobs))
    assert created.status_code == 302, created.get_data(as_text=True)[:3000]
    page = client.get(created.location).get_data(as_text=True)
    assert 'data-steps="3"' in page and 'data-edges="2"' in page
    assert re.findall(r'<g class="wf-node" data-key="([^"]+)"', page) == ["extract", "load", "report"]
    assert 'value="day={{upstream.extract.day}}"' in page
    wf_id = int(created.location.rsplit("/", 1)[1])
    saved = post_form(client, f"/workflows/{wf_id}", workflow_form(gid, jobs, description="every night", edge_on=["SUCCESS", "ALWAYS"]))
    assert saved.status_code == 302
    with console.db.read_session() as s:
        wf = s.get(Workflow, wf_id)
        assert (wf.version, wf.description) == (2, "every night") and '"on":"ALWAYS"' in wf.definition_json
    listed = client.get("/workflows").get_data(as_text=True)
    assert "nightly" in listed and f'data-workflow-id="{wf_id}"' in listed


def test_problems_show_at_their_rows_and_nothing_is_saved(console: Console) -> None:
    client, gid, jobs = setup(console)
    form = workflow_form(gid, jobs, name="", step_job=[str(jobs[0]), "", str(jobs[1]), "424242"], step_key=["extract", "", "load", "Bad Key"],
                         edge_to=["load", "nowhere"], schedule_conf="0 0 99 * * ?")
    response = post_form(client, "/workflows/new", form)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert count(console) == 0
    rows = page.split('<tr class="wf-step-row')[1:5]
    assert "no job 424242" in rows[3] and "a key is" in rows[3]  # the fourth row, where the user typed them
    assert "no job" not in rows[0] + rows[1] + rows[2]
    assert "no step has the key" in page.split('<tr class="wf-edge-row')[2]
    assert 'id="err-name"' in page and 'id="err-schedule_conf"' in page
    assert 'value="424242" selected' in page  # what was typed stays in the form


def test_alarm_settings_are_saved_shown_and_checked(console: Console) -> None:
    client, gid, jobs = setup(console)
    created = post_form(client, "/workflows/new", workflow_form(gid, jobs, alarm_emails="ops@example.com; oncall@example.com", alarm_webhook="https://hooks.example.com/wf"))
    assert created.status_code == 302, created.get_data(as_text=True)[:3000]
    wf_id = int(created.location.rsplit("/", 1)[1])
    with console.db.read_session() as s:
        wf = s.get(Workflow, wf_id)
        assert (wf.alarm_emails, wf.alarm_webhook) == ("ops@example.com,oncall@example.com", "https://hooks.example.com/wf")
    page = client.get(created.location).get_data(as_text=True)
    assert 'value="ops@example.com, oncall@example.com"' in page and 'value="https://hooks.example.com/wf"' in page
    bad = post_form(client, f"/workflows/{wf_id}", workflow_form(gid, jobs, alarm_emails="nope", alarm_webhook="ftp://hooks.example.com/x"))
    assert bad.status_code == 400
    text = bad.get_data(as_text=True)
    assert "&#39;nope&#39; is not an e-mail address" in text and "must be an http:// or https:// URL with a host" in text
    with console.db.read_session() as s:
        assert s.get(Workflow, wf_id).version == 1


def test_preview_redraws_from_the_form(console: Console) -> None:
    client, gid, jobs = setup(console)
    answer = post_form(client, "/workflows/preview", workflow_form(gid, jobs), csrf_from="/workflows/new")
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["problems"] == {} and (body["steps"], body["edges"]) == (3, 2)
    assert body["svg"].startswith("<svg") and 'data-key="report"' in body["svg"] and ">report</text>" in body["svg"]
    looped = workflow_form(gid, jobs, edge_from=["extract", "load", "report"], edge_to=["load", "report", "extract"], edge_on=["SUCCESS"] * 3)
    cyclic = post_form(client, "/workflows/preview", looped, csrf_from="/workflows/new").get_json()
    assert "cycle" in cyclic["problems"]["edges"] and "wf-edge-backward" in cyclic["svg"]
    assert count(console) == 0


def test_actions_and_the_last_instance(console: Console) -> None:
    client, gid, jobs = setup(console)
    wf_id = int(post_form(client, "/workflows/new", workflow_form(gid, jobs)).location.rsplit("/", 1)[1])
    assert post_form(client, f"/workflows/{wf_id}/start", {}).status_code == 302
    with console.db.read_session() as s:
        assert s.get(Workflow, wf_id).enabled
    assert post_form(client, f"/workflows/{wf_id}/stop", {}).status_code == 302
    copied = post_form(client, f"/workflows/{wf_id}/copy", {})
    assert copied.status_code == 302 and count(console) == 2
    with console.db.session() as s:
        s.add(WorkflowInstance(workflow_id=wf_id, workflow_version=1, definition_json="{}", trigger_type=TriggerType.MANUAL, planned_at_ms=1,
                               status=WorkflowStatus.RUNNING, created_at_ms=1))
    listed = client.get("/workflows").get_data(as_text=True)
    assert "badge-running" in listed.split(f'data-workflow-id="{wf_id}"')[1].split("</tr>")[0]
    refused = post_form(client, f"/workflows/{wf_id}/delete", {})
    assert refused.status_code == 302 and count(console) == 2
    assert "active instance" in client.get(refused.location).get_data(as_text=True)
    deleted = post_form(client, copied.location + "/delete", {})
    assert deleted.status_code == 302 and count(console) == 1


def test_other_groups_are_invisible(console: Console) -> None:
    client, gid, jobs = setup(console)
    other = data.add_group(console.db, "hr")
    hidden = data.add_job(console.db, other, "salaries")
    wf_id = int(post_form(client, "/workflows/new", workflow_form(gid, jobs)).location.rsplit("/", 1)[1])
    console.add_user("bob", UserRole.USER, [other])
    bob = console.login("bob")
    assert bob.get(f"/workflows/{wf_id}").status_code == 404
    assert "nightly" not in bob.get("/workflows").get_data(as_text=True)
    new = bob.get("/workflows/new").get_data(as_text=True)
    assert "salaries" in new and "extract" not in new  # the job picker lists the user's jobs only
    refused = post_form(bob, "/workflows/new", workflow_form(other, jobs, step_key=["a"], step_job=[str(jobs[0])], step_param=[""], step_join=["ALL"],
                                                             edge_from=[], edge_to=[], edge_on=[]))
    assert refused.status_code == 400 and "may not see" in refused.get_data(as_text=True) and count(console) == 1
    assert hidden


def test_the_editor_in_chinese(console: Console) -> None:
    client, gid, jobs = setup(console)
    post_form(client, "/account/language", {"locale": "zh"})
    page = client.get("/workflows/new").get_data(as_text=True)
    assert "工作流" in page and "添加步骤" in page and "成功时" in page
    assert "实例与报警" in page and "报警邮件" in page and "实例以 FAILED 或 TIMED_OUT 结束时通知的邮箱" in page


def test_many_steps_times_many_jobs_take_a_job_id_with_one_list(console: Console, monkeypatch) -> None:
    client, gid, jobs = setup(console)
    wf_id = int(post_form(client, "/workflows/new", workflow_form(gid, jobs)).location.rsplit("/", 1)[1])
    label = f"etl / extract (#{jobs[0]})"
    assert client.get(f"/workflows/{wf_id}").get_data(as_text=True).count(label) == 3 + 1  # a select per row, and the template's
    monkeypatch.setattr(workflow_pages, "MAX_SELECT_OPTIONS", 5)  # 3 jobs x 3 rows
    page = client.get(f"/workflows/{wf_id}").get_data(as_text=True)
    assert page.count(label) == 1 and 'list="wf-job-choices"' in page
    assert f'name="step_job" value="{jobs[1]}"' in page
