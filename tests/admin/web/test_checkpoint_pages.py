"""The console: a run's checkpoint next to its progress, a trigger that resumes from it or starts
fresh, and the run page's "Repair now" button (refused with the reason for a run still alive)."""

from __future__ import annotations

import json

import sqlalchemy as sa

from shardcron.admin.enums import RunStatus, TriggerType
from shardcron.admin.models import Fire
from shardcron.core.protocol import Envelope
from tests.admin.web.test_pages import _admin
from tests.support import admin_data as data
from tests.support.console import Console, post_form

LIVE = "http://127.0.0.1:9001"
GONE = "http://127.0.0.1:9002"


class BeatingExecutor:
    """Stands in for the admin's ExecutorClient: every executor answers /beat; /idleBeat says busy."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def beat(self, address):
        self.calls.append(("beat", address))
        return Envelope.success()

    def idle_beat(self, address, job_id):
        self.calls.append(("idleBeat", address))
        return Envelope.failure("job thread is running or has trigger queue.")


def _fires(console: Console) -> list[Fire]:
    with console.db.read_session() as session:
        return list(session.scalars(sa.select(Fire).order_by(Fire.id)))


def test_run_page_shows_the_checkpoint_and_the_trigger_form_resumes_from_it(console: Console) -> None:
    client = _admin(console)
    group_id = data.add_group(console.db, "billing")
    job_id = data.add_job(console.db, group_id, "batch")
    saved = data.add_run(console.db, job_id, group_id, status=RunStatus.FAILED, progress_done=5000, progress_total=10000,
                         checkpoint_json=json.dumps({"next": 5000}), checkpoint_seq=7, checkpoint_at_ms=console.clock.now_ms())
    resumed = data.add_run(console.db, job_id, group_id, status=RunStatus.RUNNING, resume_from_run_id=saved, checkpoint_json=json.dumps({"next": 5000}))
    page = client.get(f"/runs/{saved}").get_data(as_text=True)
    assert 'id="run-checkpoint"' in page and "{\"next\": 5000}" in page and "#7, saved at" in page
    assert f"/jobs/{job_id}/trigger?resume_from_run_id={saved}" in page
    assert "the one it resumed from" in client.get(f"/runs/{resumed}").get_data(as_text=True)
    assert f'href="/runs/{saved}"' in client.get(f"/runs/{resumed}").get_data(as_text=True)
    form = client.get(f"/jobs/{job_id}/trigger?resume_from_run_id={saved}").get_data(as_text=True)
    assert f'name="resume_from_run_id" type="number" min="1" value="{saved}"' in form
    assert post_form(client, f"/jobs/{job_id}/trigger", {"param": "", "target": "whole", "resume_from_run_id": str(saved)}).status_code == 302
    assert post_form(client, f"/jobs/{job_id}/trigger", {"param": "", "target": "whole", "resume_from_run_id": ""}).status_code == 302
    bad = post_form(client, f"/jobs/{job_id}/trigger", {"param": "", "target": "whole", "resume_from_run_id": "nine"})
    assert bad.status_code == 400 and 'id="err-resume_from_run_id"' in bad.get_data(as_text=True)
    assert [f.resume_from_run_id for f in _fires(console)] == [saved, None]


def test_repair_now_button_re_runs_a_lost_run_and_refuses_a_live_one(console: Console) -> None:
    client = _admin(console)
    fake = BeatingExecutor()
    console.app.extensions["shardcron.executor_client"] = fake
    group_id = data.add_group(console.db, "billing")
    job_id = data.add_job(console.db, group_id, "batch")
    data.add_executor(console.db, "billing", LIVE, heartbeat_at_ms=console.clock.now_ms())
    alive = data.add_run(console.db, job_id, group_id, status=RunStatus.RUNNING, executor_address=LIVE)
    lost = data.add_run(console.db, job_id, group_id, status=RunStatus.RUNNING, executor_address=GONE, checkpoint_json="3", checkpoint_seq=1)
    assert 'id="repair-run"' in client.get(f"/runs/{lost}").get_data(as_text=True)
    refused = post_form(client, f"/runs/{alive}/repair", {})
    assert refused.status_code == 302 and refused.headers["Location"] == f"/runs/{alive}"
    assert f"run {alive} is still alive" in client.get(f"/runs/{alive}").get_data(as_text=True)
    repaired = post_form(client, f"/runs/{lost}/repair", {})
    [fire] = _fires(console)
    assert repaired.status_code == 302 and repaired.headers["Location"] == f"/runs?job_id={job_id}&fire_id={fire.id}"
    assert (fire.trigger_type, fire.resume_from_run_id) == (TriggerType.MANUAL, lost)
    page = client.get(f"/runs/{lost}").get_data(as_text=True)
    assert "lost: repaired by hand" in page and 'id="repair-run"' not in page
    assert fake.calls == [("beat", LIVE), ("idleBeat", LIVE)]  # the lost run's executor is not live: not called
    assert post_form(client, "/runs/999999/repair", {}).status_code == 404


class FinishedExecutor(BeatingExecutor):
    """Idle for the job, with the run's result still in its callback spool (`resultPending`)."""

    def idle_beat(self, address, job_id):
        self.calls.append(("idleBeat", address))
        return Envelope.success()

    def result_pending(self, address, log_date_ms, log_id):
        self.calls.append(("log", address))
        return True


def test_repair_now_refuses_a_run_whose_result_is_on_its_way_in_both_languages(console: Console) -> None:
    client = _admin(console)
    fake = FinishedExecutor()
    console.app.extensions["shardcron.executor_client"] = fake
    group_id = data.add_group(console.db, "billing")
    job_id = data.add_job(console.db, group_id, "batch")
    data.add_executor(console.db, "billing", LIVE, heartbeat_at_ms=console.clock.now_ms())
    run = data.add_run(console.db, job_id, group_id, status=RunStatus.RUNNING, executor_address=LIVE)
    refused = post_form(client, f"/runs/{run}/repair", {})
    assert refused.status_code == 302 and refused.headers["Location"] == f"/runs/{run}"
    assert f"run {run} has ended: its result is on its way from executor {LIVE}; wait for it" in client.get(f"/runs/{run}").get_data(as_text=True)
    client.set_cookie("lang", "zh")  # the language switch's choice
    assert post_form(client, f"/runs/{run}/repair", {}).status_code == 302
    zh = client.get(f"/runs/{run}").get_data(as_text=True)
    assert f"调度日志 {run} 已结束：其结果正在从执行器 {LIVE} 回调途中，请等待它到达" in zh
    assert fake.calls == [("beat", LIVE), ("idleBeat", LIVE), ("log", LIVE)] * 2
    assert _fires(console) == []
