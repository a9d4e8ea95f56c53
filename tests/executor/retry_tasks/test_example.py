"""The worked example end to end: real HTTP partner and callback endpoint on loopback, the
drainer run as its job, time on the fake clock (callbacks are real concurrency: waited for)."""

from __future__ import annotations

import pytest
import requests
from sqlalchemy.orm import Session

from shardcron.core.clock import FakeClock
from shardcron.executor.examples.fake_partner import FakePartner
from shardcron.executor.examples.request_callback import TASK_CODE, ExampleSettings, RequestCallbackExample, run_demo
from shardcron.executor.retry_tasks import RetryTasks, TaskStatus
from tests.support.net import wait_until


@pytest.fixture
def example(db_url: str, fake_clock: FakeClock):
    tasks = RetryTasks(db_url, clock=fake_clock, owner="example-executor")
    tasks.create_table()
    partner = FakePartner(callback_delay_s=0, late_after_polls=2)
    lines: list[str] = []
    app = RequestCallbackExample(tasks, partner_url=partner.url, settings=ExampleSettings(poll_delay_s=5, max_attempts=4), out=lines.append)
    app.lines = lines
    try:
        yield app, partner
    finally:
        app.close()
        partner.close()
        tasks.close()


def test_callback_late_and_never(example, fake_clock: FakeClock) -> None:
    app, partner = example
    scenarios = {"PAY-1": "callback", "PAY-2": "reject", "PAY-3": "late", "PAY-4": "never"}
    for no, simulate in scenarios.items():
        assert app.request_payment(no, 1250, simulate=simulate).created
    first = app.tick()
    assert first.data["claimed"] == 4
    assert dict(partner.log.received) == {no: 1 for no in scenarios}
    wait_until(lambda: len(app.callbacks.received) == 2, timeout_s=60, what="the partner's two callbacks")
    assert sorted(app.callbacks.received) == [("PAY-1", "DONE", 200), ("PAY-2", "FAILED", 200)]
    paid = app.tasks.get(TASK_CODE, "PAY-1")
    assert (paid.status, paid.result) == (TaskStatus.SUCCEEDED, {"paid": True, "via": "callback"})
    refused = app.tasks.get(TASK_CODE, "PAY-2")
    assert (refused.status, refused.last_error) == (TaskStatus.FAILED, "partner refused: card declined")
    late = app.tasks.get(TASK_CODE, "PAY-3")
    assert (late.status, late.next_attempt_at_ms) == (TaskStatus.PENDING, fake_clock.now_ms() + 5_000)
    for _ in range(3):
        fake_clock.advance(5_000)
        app.tick()
    late = app.tasks.get(TASK_CODE, "PAY-3")
    assert (late.status, late.attempts, late.result) == (TaskStatus.SUCCEEDED, 2, {"paid": True, "via": "status query", "polls": 2})
    never = app.tasks.get(TASK_CODE, "PAY-4")
    assert (never.status, never.attempts) == (TaskStatus.DEAD, 4)
    assert never.last_error == "partner says PROCESSING (status query 4 of 4)"
    assert never.stages_done["send"]["accepted"] is True
    # Sent once each (the "send" stage never repeats); finished tasks are polled no more.
    assert dict(partner.log.received) == {no: 1 for no in scenarios}
    assert partner.log.polls["PAY-4"] == 4 and partner.log.polls["PAY-3"] == 2
    assert partner.log.polls["PAY-1"] <= 1 and partner.log.polls["PAY-2"] <= 1
    assert "callback PAY-1: DONE -> task SUCCEEDED" in app.lines


def test_request_is_recorded_with_the_business_change(example) -> None:
    app, partner = example
    with pytest.raises(RuntimeError):
        with Session(app.tasks.engine) as session, session.begin():
            app.request_payment("PAY-9", 500, session=session)
            raise RuntimeError("order could not be saved")
    assert app.tasks.get(TASK_CODE, "PAY-9") is None
    assert app.tick().data["claimed"] == 0
    assert partner.log.received == {}


def test_callback_endpoint_answers_clearly(example) -> None:
    app, _ = example
    app.request_payment("PAY-5", 100, simulate="never")
    url = app.callbacks.url
    unknown = requests.post(url, json={"request_no": "PAY-404", "status": "DONE"}, timeout=30)
    assert unknown.status_code == 404 and "request_no='PAY-404'" in unknown.json()["error"]
    assert requests.post(url, json={"status": "DONE"}, timeout=30).status_code == 400
    assert requests.post(url, data=b"{oops", headers={"Content-Type": "application/json"}, timeout=30).status_code == 400
    assert requests.post(url, json={"request_no": "PAY-5", "status": "DONE", "result": {"ok": 1}}, timeout=30).status_code == 200
    again = requests.post(url, json={"request_no": "PAY-5", "status": "DONE"}, timeout=30)
    assert again.status_code == 200  # completing twice is harmless
    conflict = requests.post(url, json={"request_no": "PAY-5", "status": "FAILED", "reason": "late refusal"}, timeout=30)
    assert conflict.status_code == 409 and "already SUCCEEDED" in conflict.json()["error"]
    assert app.tasks.get(TASK_CODE, "PAY-5").result == {"ok": 1}


def test_run_demo_plays_the_story(tmp_path) -> None:
    lines: list[str] = []
    settings = ExampleSettings(poll_delay_s=0.25, max_attempts=6, callback_delay_s=0)
    final = run_demo(f"sqlite:///{tmp_path / 'demo.db'}", out=lines.append, settings=settings)
    assert final == {"PAY-0001": "SUCCEEDED", "PAY-0002": "FAILED", "PAY-0003": "SUCCEEDED", "PAY-0004": "DEAD"}
    assert lines[0] == "requested PAY-0001 (the partner will answer: callback)"
    assert any(line.startswith("drainer run 1: shard 0/1: claimed 4") for line in lines)
    assert lines[-1] == "PAY-0004: DEAD after 6 drainer attempt(s): partner says PROCESSING (status query 6 of 6)"
