"""Worked example: an outbound request whose answer comes back by callback, late, or never.

The request number travels end to end: it is the retry task's `request_no`, the id the partner
receives, the key of the partner's callback and of the status query.

1. The application records the outbound request as a retry task (`request_payment`), in the
   same transaction as its own business change when it passes `session=`.
2. The drainer job runs the task's handler: stage "send" posts the request to the partner once
   (a retry never re-sends it), then the handler asks the partner for the status:
   DONE -> the task SUCCEEDS with the partner's result; FAILED -> GiveUp (DEAD);
   PROCESSING -> RetryLater(poll_delay_s), until its attempts run out -> DEAD.
3. The partner's callback reaches the application's `/callback` endpoint, which completes (or
   fails) the task by request number; the drainer then leaves it alone.

`run_demo()` plays it through against `FakePartner` with four requests: one answered by
callback, one refused by callback, one found DONE by polling (late), one never answered.
"""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from shardcron.core.clock import SYSTEM_CLOCK, Clock
from ..context import JobContext, JobResult
from shardcron.core.logfmt import configure_logging
from shardcron.core.protocol import BlockStrategy, TriggerParam
from ..retry_tasks import DRAINER_HANDLER, Backoff, GiveUp, RetryLater, RetryTasks, Task, TaskNotFound, TaskRecord, TaskStateConflict
from ..retry_tasks.errors import TaskInputError
from .fake_partner import FakePartner
from .json_http import JsonServer

TASK_CODE = "PAYMENT_REQUEST"


@dataclass(frozen=True)
class ExampleSettings:
    #: Pause between status queries while the partner says PROCESSING.
    poll_delay_s: float = 0.5
    #: Status queries before a request nobody answers ends DEAD.
    max_attempts: int = 4
    http_timeout_s: float = 5.0
    #: The drainer parameter of the example's job.
    drainer_param: str = "batch=100 concurrency=4"
    #: How long the fake partner takes before it calls back (when it does).
    callback_delay_s: float = 0.2
    #: Status queries after which the fake partner's "late" request turns DONE.
    late_after_polls: int = 2


def register_payment_handler(tasks: RetryTasks, partner_url: str, callback_url: str, settings: ExampleSettings) -> None:
    """The task handler: send once (a stage), then poll the status."""

    def send(task: Task) -> dict[str, Any]:
        body = {"request_no": task.request_no, "callback_url": callback_url, **task.payload}
        response = requests.post(f"{partner_url}/requests", json=body, timeout=settings.http_timeout_s)
        response.raise_for_status()
        return response.json()

    # Transport errors (partner down) back off exponentially, from the poll delay up.
    backoff = Backoff(base_s=settings.poll_delay_s, factor=2, cap_s=max(settings.poll_delay_s, 60), jitter=0.1)

    @tasks.handler(TASK_CODE, backoff=backoff)
    def send_and_poll(task: Task) -> Any:
        task.stage("send", send, task)
        response = requests.get(f"{partner_url}/requests/{task.request_no}", timeout=settings.http_timeout_s)
        response.raise_for_status()
        answer = response.json()
        if answer["status"] == "DONE":
            return answer["result"]
        if answer["status"] == "FAILED":
            raise GiveUp(f"partner refused request {task.request_no}: {answer.get('result')}")
        raise RetryLater(f"partner says {answer['status']} (status query {task.attempt} of {task.max_attempts})", delay_s=settings.poll_delay_s)


class CallbackEndpoint:
    """The application's callback URL: `POST /callback {"request_no", "status", "result"|"reason"}`."""

    def __init__(self, tasks: RetryTasks, on_callback: Callable[[str], None] = lambda line: None) -> None:
        self.tasks = tasks
        self.on_callback = on_callback
        self.received: list[tuple[str, str, int]] = []
        self._lock = threading.Lock()
        self.server = JsonServer(self._route)

    @property
    def url(self) -> str:
        return f"{self.server.url}/callback"

    def close(self) -> None:
        self.server.close()

    def _route(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        if (method, path) != ("POST", "/callback"):
            return 404, {"error": f"no route {method} {path}"}
        status, answer = self._handle(body)
        request_no = body.get("request_no") if isinstance(body, dict) else None
        with self._lock:
            self.received.append((str(request_no), str(body.get("status") if isinstance(body, dict) else None), status))
        return status, answer

    def _handle(self, body: Any) -> tuple[int, Any]:
        if not isinstance(body, dict) or not isinstance(body.get("request_no"), str) or body.get("status") not in ("DONE", "FAILED"):
            return 400, {"error": "expected {request_no, status: DONE|FAILED}"}
        request_no = body["request_no"]
        try:
            if body["status"] == "DONE":
                record = self.tasks.complete(TASK_CODE, request_no, body.get("result"))
            else:
                record = self.tasks.fail(TASK_CODE, request_no, f"partner refused: {body.get('reason') or 'no reason given'}")
        except TaskNotFound as exc:
            return 404, {"error": str(exc)}
        except (TaskStateConflict, TaskInputError) as exc:
            return 409, {"error": str(exc)}
        self.on_callback(f"callback {request_no}: {body['status']} -> task {record.status.value}")
        return 200, {"request_no": request_no, "task_status": record.status.value}


class RequestCallbackExample:
    """The application side of the example, wired to a partner (a `FakePartner` by default)."""

    def __init__(
        self,
        tasks: RetryTasks,
        *,
        partner_url: str | None = None,
        settings: ExampleSettings = ExampleSettings(),
        out: Callable[[str], None] = lambda line: None,
    ) -> None:
        self.tasks = tasks
        self.settings = settings
        self.out = out
        self.partner = FakePartner(callback_delay_s=settings.callback_delay_s, late_after_polls=settings.late_after_polls) if partner_url is None else None
        self.partner_url = partner_url or self.partner.url  # type: ignore[union-attr]
        self.callbacks = CallbackEndpoint(tasks, on_callback=out)
        register_payment_handler(tasks, self.partner_url, self.callbacks.url, settings)
        self.runs = 0

    def close(self) -> None:
        self.callbacks.close()
        if self.partner is not None:
            self.partner.close()

    def request_payment(self, request_no: str, amount_cents: int, *, simulate: str = "callback", session: Any = None) -> TaskRecord:
        """Record the outbound request (with pass-through business fields) as a retry task."""
        payload = {"amount_cents": amount_cents, "currency": "EUR", "simulate": simulate}
        return self.tasks.enqueue(TASK_CODE, request_no, payload, max_attempts=self.settings.max_attempts, session=session)

    def tick(self) -> JobResult:
        """One run of the drainer job (shard 0 of 1), with the context an executor would build."""
        self.runs += 1
        trigger = TriggerParam(
            job_id=1,
            log_id=self.runs,
            log_date_time_ms=self.tasks.clock.now_ms(),
            executor_handler=DRAINER_HANDLER,
            executor_params=self.settings.drainer_param,
            executor_block_strategy=BlockStrategy.DISCARD_LATER,
        )
        ctx = JobContext(trigger=trigger, write_log=lambda line: None, clock=self.tasks.clock)
        result = self.tasks.drainer(ctx)
        self.out(f"drainer run {self.runs}: {result.msg}")
        return result

    def pending(self, request_nos: list[str]) -> list[str]:
        return [no for no in request_nos if not self._record(no).finished]

    def poll_until_done(self, request_nos: list[str], *, interval_s: float, max_runs: int, stop: threading.Event | None = None) -> dict[str, TaskRecord]:
        """Run the drainer every `interval_s` (as its job would fire) until every request is
        finished, `max_runs` runs were made, or `stop` is set."""
        stop = stop or threading.Event()
        for _ in range(max_runs):
            if not self.pending(request_nos):
                break
            self.tick()
            if stop.wait(interval_s):
                break
        return {no: self._record(no) for no in request_nos}

    def _record(self, request_no: str) -> TaskRecord:
        record = self.tasks.get(TASK_CODE, request_no)
        if record is None:
            raise LookupError(f"no retry task for request {request_no}: it was never enqueued")
        return record


def run_demo(url: str | None = None, *, out: Callable[[str], None] = print, clock: Clock = SYSTEM_CLOCK, settings: ExampleSettings = ExampleSettings()) -> dict[str, str]:
    """Play the example through; returns request number -> final status. Without `url`, a
    temporary SQLite file is used."""
    with tempfile.TemporaryDirectory(prefix="shardcron-demo-") as folder:
        tasks = RetryTasks(url or f"sqlite:///{Path(folder) / 'business.db'}", clock=clock, owner="demo-executor")
        tasks.create_table()
        example = RequestCallbackExample(tasks, settings=settings, out=out)
        try:
            requests_made = {"PAY-0001": "callback", "PAY-0002": "reject", "PAY-0003": "late", "PAY-0004": "never"}
            for amount, (request_no, simulate) in enumerate(requests_made.items(), start=1):
                example.request_payment(request_no, amount * 1000, simulate=simulate)
                out(f"requested {request_no} (the partner will answer: {simulate})")
            final = example.poll_until_done(list(requests_made), interval_s=settings.poll_delay_s, max_runs=4 * settings.max_attempts)
            for request_no, record in final.items():
                detail = record.result if record.status.value == "SUCCEEDED" else record.last_error
                out(f"{request_no}: {record.status.value} after {record.attempts} drainer attempt(s): {detail}")
            return {no: record.status.value for no, record in final.items()}
        finally:
            example.close()
            tasks.close()


if __name__ == "__main__":
    configure_logging("WARNING")
    run_demo()
