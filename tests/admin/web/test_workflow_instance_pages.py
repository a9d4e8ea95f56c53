"""The console's workflow instances: the list and its filters, the instance page (graph coloured
and labelled by step state, legend, durations, links to runs and logs, live refresh while it
runs), the run page's link back to its step, in English and Chinese."""

from __future__ import annotations

import re

import sqlalchemy as sa

from shardcron.admin.enums import RunStatus, StepStatus, UserRole, WorkflowStatus
from shardcron.admin.models import Job, WorkflowInstance
from tests.support import admin_data as data
from tests.support.console import Console, post_form
from tests.support.workflow_view_rows import add_instance, add_step_run, add_step_run_log, add_workflow, chain


def _admin(console: Console):
    console.add_user("root", UserRole.ADMIN)
    return console.login("root")


def _etl(console: Console, status: WorkflowStatus = WorkflowStatus.FAILED) -> dict[str, int]:
    db, now = console.db, console.clock.now_ms()
    g = data.add_group(db, "etl")
    extract, load = data.add_job(db, g, "extract"), data.add_job(db, g, "load")
    definition = chain(("extract", extract), ("load", load))
    w = add_workflow(db, g, "nightly etl", definition)
    inst = add_instance(db, w, definition, status=status, created_at_ms=now, finished_at_ms=None if status == WorkflowStatus.RUNNING else now + 65_000)
    done = add_step_run(db, inst, "extract", extract, StepStatus.SUCCEEDED, result={"rows": 3}, started_at_ms=now, finished_at_ms=now + 4200)
    last = StepStatus.FIRED if status == WorkflowStatus.RUNNING else StepStatus.FAILED
    second = add_step_run(
        db, inst, "load", load, last, started_at_ms=now + 5000, finished_at_ms=None if last == StepStatus.FIRED else now + 65_000, message="disk full",
        param="rows=3", upstream_json='{"extract": {"rows": 3}}',
    )
    ok_run = add_step_run_log(db, done, extract, g)
    bad_run = add_step_run_log(db, second, load, g, status=RunStatus.RUNNING if last == StepStatus.FIRED else RunStatus.FAILED, handle_msg="disk full")
    return {"group": g, "workflow": w, "instance": inst, "ok_run": ok_run, "bad_run": bad_run, "load_step_run": second}


def _step_state(html: str, key: str) -> str:
    match = re.search(rf'<g class="wf-node (wf-state-\w+)" data-key="{key}" data-state="(\w+)">', html)
    assert match, key
    return f"{match.group(1)} {match.group(2)}"


def test_the_instance_page_colours_and_labels_each_step_and_links_runs_and_logs(console: Console) -> None:
    client = _admin(console)
    ids = _etl(console)
    response = client.get(f"/workflow-instances/{ids['instance']}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert _step_state(html, "extract") == "wf-state-succeeded SUCCEEDED" and _step_state(html, "load") == "wf-state-failed FAILED"
    assert "✗ FAILED" in html and "✓ SUCCEEDED" in html  # the state in words and symbol, not colour alone
    assert 'id="state-legend"' in html and "– NOT_RUN" in html
    assert "4.2 s" in html and "1 min 0 s" in html and "1 min 5 s" in html  # step and instance durations
    assert f'href="/runs/{ids["bad_run"]}#log-state"' in html
    assert f'href="/runs?step_run_id={ids["load_step_run"]}"' in html
    assert "disk full" in html and "data-autorefresh" not in html  # finished: no refresh
    assert "rows=3" in html and '{"extract": {"rows": 3}}' in html  # what the step was sent


def test_a_running_instance_refreshes_itself_and_a_missing_one_is_404(console: Console) -> None:
    client = _admin(console)
    ids = _etl(console, WorkflowStatus.RUNNING)
    html = client.get(f"/workflow-instances/{ids['instance']}").get_data(as_text=True)
    assert 'id="instance-area" data-autorefresh="2000"' in html
    assert _step_state(html, "load") == "wf-state-fired FIRED"
    assert client.get("/workflow-instances/99999").status_code == 404
    assert 'data-autorefresh="2000"' in client.get("/workflow-instances").get_data(as_text=True)


def test_the_list_filters_by_workflow_status_and_date(console: Console) -> None:
    client = _admin(console)
    ids = _etl(console)
    html = client.get("/workflow-instances").get_data(as_text=True)
    assert f'href="/workflow-instances/{ids["instance"]}"' in html and "nightly etl" in html
    assert f'data-instance-id="{ids["instance"]}"' in client.get(f"/workflow-instances?workflow_id={ids['workflow']}&status=FAILED").get_data(as_text=True)
    assert "No workflow instance matches these filters." in client.get("/workflow-instances?status=SUCCEEDED").get_data(as_text=True)
    assert "No workflow instance matches these filters." in client.get("/workflow-instances?from=2030-01-01").get_data(as_text=True)
    bad = client.get("/workflow-instances?status=DONE&from=yesterday")
    assert bad.status_code == 400 and "from:" in bad.get_data(as_text=True)
    assert "status:" in client.get("/workflow-instances?status=DONE").get_data(as_text=True)


def test_a_user_of_another_group_sees_neither_the_instance_nor_its_step_link(console: Console) -> None:
    ids = _etl(console)
    console.add_user("stranger", UserRole.USER, [data.add_group(console.db, "other")])
    client = console.login("stranger")
    assert client.get(f"/workflow-instances/{ids['instance']}").status_code == 404
    assert f'data-instance-id="{ids["instance"]}"' not in client.get("/workflow-instances").get_data(as_text=True)


def test_the_run_page_links_back_to_its_instance_and_step(console: Console) -> None:
    client = _admin(console)
    ids = _etl(console)
    html = client.get(f"/runs/{ids['bad_run']}").get_data(as_text=True)
    assert f'href="/workflow-instances/{ids["instance"]}#step-load"' in html
    assert "workflow-step-link" not in client.get(f"/runs/{data.add_run(console.db, data.add_job(console.db, ids['group'], 'plain'), ids['group'])}").get_data(as_text=True)


def test_the_instance_page_in_chinese(console: Console) -> None:
    client = _admin(console)
    ids = _etl(console)
    html = client.get(f"/workflow-instances/{ids['instance']}", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert "工作流实例" in html and "✗ 失败" in html and "✓ 成功" in html and "未运行" in html


def test_rerun_from_failed_and_from_a_step_from_the_page(console: Console) -> None:
    client = _admin(console)
    ids = _etl(console)
    page = client.get(f"/workflow-instances/{ids['instance']}").get_data(as_text=True)
    assert 'id="rerun-failed"' in page and 'id="cancel-instance"' not in page and 'data-confirm="' in page
    response = post_form(client, f"/workflow-instances/{ids['instance']}/rerun", {"from_step": ""})
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/workflow-instances/{ids['instance']}")
    html = client.get(f"/workflow-instances/{ids['instance']}").get_data(as_text=True)
    assert "re-run from its failed steps" in html and 'id="cancel-instance"' in html and "data-autorefresh" in html
    assert _step_state(html, "load") != "wf-state-failed FAILED"
    refused = client.get(response.headers["Location"])  # nothing flashed twice
    assert "re-run from its failed steps" not in refused.get_data(as_text=True)
    post_form(client, f"/workflow-instances/{ids['instance']}/rerun", {"from_step": ""})
    assert "RUNNING" in client.get(f"/workflow-instances/{ids['instance']}").get_data(as_text=True)  # refused: the state named


def test_skip_a_failed_step_and_cancel_from_the_page(console: Console) -> None:
    client = _admin(console)
    ids = _etl(console)
    html = client.get(f"/workflow-instances/{ids['instance']}").get_data(as_text=True)
    assert 'class="skip-step" data-step="load"' in html and 'class="skip-step" data-step="extract"' not in html
    post_form(client, f"/workflow-instances/{ids['instance']}/steps/load/skip", {})
    html = client.get(f"/workflow-instances/{ids['instance']}").get_data(as_text=True)
    assert _step_state(html, "load") == "wf-state-skipped SKIPPED" and "Step load of instance" in html
    running = _etl_again(console, ids)
    post_form(client, f"/workflow-instances/{running}/cancel", {})
    html = client.get(f"/workflow-instances/{running}").get_data(as_text=True)
    assert "cancelled" in html and "CANCELLED" in html
    missing = post_form(client, "/workflow-instances/99999/cancel", {})
    assert missing.status_code == 302 and client.get(missing.headers["Location"]).status_code == 404


def _etl_again(console: Console, ids: dict[str, int]) -> int:
    """A RUNNING instance of the same workflow with its first step FIRED (no live executor)."""
    with console.db.read_session() as s:
        jobs = dict(s.execute(sa.select(Job.name, Job.id)).all())
    definition = chain(("extract", jobs["extract"]), ("load", jobs["load"]))
    inst = add_instance(console.db, ids["workflow"], definition)
    step = add_step_run(console.db, inst, "extract", jobs["extract"], StepStatus.FIRED, started_at_ms=data.NOW)
    add_step_run(console.db, inst, "load", jobs["load"], StepStatus.WAITING)
    add_step_run_log(console.db, step, jobs["extract"], ids["group"], status=RunStatus.RUNNING, executor_address="http://127.0.0.1:9")
    return inst


def test_the_trigger_form_starts_an_instance_and_refuses_bad_parameters(console: Console) -> None:
    client = _admin(console)
    ids = _etl(console)
    assert f'href="/workflows/{ids["workflow"]}/trigger"' in client.get(f"/workflow-instances?workflow_id={ids['workflow']}").get_data(as_text=True)
    form = client.get(f"/workflows/{ids['workflow']}/trigger")
    assert form.status_code == 200 and 'name="params"' in form.get_data(as_text=True)
    for text in ("[1, 2]", "{not json", '"day"'):
        bad = post_form(client, f"/workflows/{ids['workflow']}/trigger", {"params": text})
        assert bad.status_code == 400 and 'id="err-params"' in bad.get_data(as_text=True), text
    with console.db.read_session() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(WorkflowInstance)) == 1
    done = post_form(client, f"/workflows/{ids['workflow']}/trigger", {"params": '{"day": "2026-01-01"}'})
    assert done.status_code == 302
    html = client.get(done.headers["Location"]).get_data(as_text=True)
    assert "Triggered workflow nightly etl" in html and "2026-01-01" in html
    assert client.get("/workflows/99999/trigger").status_code == 404


def test_a_viewer_without_a_steps_group_sees_the_instance_but_is_refused_its_operations(console: Console) -> None:
    ids = _etl(console)
    other = data.add_group(console.db, "other")
    foreign = data.add_job(console.db, other, "foreign")
    definition = chain(("extract", foreign))
    inst = add_instance(console.db, ids["workflow"], definition, status=WorkflowStatus.FAILED, finished_at_ms=data.NOW)
    add_step_run(console.db, inst, "extract", foreign, StepStatus.FAILED, started_at_ms=data.NOW, finished_at_ms=data.NOW)
    console.add_user("member", UserRole.USER, [ids["group"]])
    client = console.login("member")
    assert client.get(f"/workflow-instances/{inst}").status_code == 200  # the workflow's group is theirs
    refused = post_form(client, f"/workflow-instances/{inst}/rerun", {"from_step": ""})
    html = client.get(refused.headers["Location"]).get_data(as_text=True)
    assert "runs jobs of groups not granted to you" in html and _step_state(html, "extract") == "wf-state-failed FAILED"


def test_the_runs_list_shows_one_steps_runs(console: Console) -> None:
    client = _admin(console)
    ids = _etl(console)
    html = client.get(f"/runs?step_run_id={ids['load_step_run']}").get_data(as_text=True)
    assert f'data-run-id="{ids["bad_run"]}"' in html and f'data-run-id="{ids["ok_run"]}"' not in html
    bad = client.get("/runs?step_run_id=abc")
    assert bad.status_code == 400 and "step_run_id" in bad.get_data(as_text=True)
