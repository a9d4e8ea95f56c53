"""One scheduler node, the admin app's `/api/callback`, and stand-in executors that answer each
`/run` through the callback path, all on one fake clock: what a workflow test drives.

`pump()` repeats: tick the node (claims, writes run rows, sends `/run`), then answer every run
the executors received since with a callback to the admin app (whose fast path advances the
workflow instances), until nothing new arrives. `answer(run)` decides each run's outcome.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask.testing import FlaskClient

from shardcron.admin.db import Database
from shardcron.core.clock import FakeClock
from tests.support.executor_calls import TOKEN
from tests.support.run_receiver import Received, RunReceiver
from tests.support.scheduler_node import SchedulerNode

#: What an executor answers for a run: (handleCode, resultData or None, handleMsg or None), or
#: None to leave the run running.
Outcome = tuple[int, dict | None, str | None] | None


def succeed(data: dict | None = None) -> Outcome:
    return (200, data, None)


@dataclass
class WorkflowCluster:
    db: Database
    clock: FakeClock
    node: SchedulerNode
    client: FlaskClient
    executors: list[RunReceiver]
    answer: Callable[[Received], Outcome] = lambda run: succeed()
    #: Loops ticked after each round (the follow-up monitor, for retries).
    monitors: list[Any] = field(default_factory=list)
    #: Every run received, in order of arrival (all executors).
    received: list[Received] = field(default_factory=list)
    _seen: dict[int, int] = field(default_factory=dict)

    def callback(self, log_id: int, code: int = 200, data: dict | None = None, msg: str | None = None) -> None:
        item: dict[str, Any] = {"logId": log_id, "logDateTim": self.clock.now_ms(), "handleCode": code, "handleMsg": msg}
        if data is not None:
            item["resultData"] = data
        reply = self.client.post("/api/callback", data=json.dumps([item]), headers={"XXL-JOB-ACCESS-TOKEN": TOKEN, "Content-Type": "application/json"})
        assert reply.status_code == 200 and reply.get_json()["code"] == 200, reply.get_json()

    def new_runs(self) -> list[Received]:
        fresh: list[Received] = []
        for index, executor in enumerate(self.executors):
            seen = self._seen.get(index, 0)
            fresh += executor.runs[seen:]
            self._seen[index] = len(executor.runs)
        self.received += fresh
        return fresh

    def pump(self, *, step_ms: int = 10, max_rounds: int = 10_000, idle_rounds: int = 3) -> int:
        """Tick and answer until `idle_rounds` ticks in a row send nothing; returns the rounds."""
        idle = 0
        for rounds in range(1, max_rounds + 1):
            self.node.step(self.clock.now_ms() + step_ms)
            fresh = self.new_runs()
            for run in fresh:
                outcome = self.answer(run)
                if outcome is not None:
                    self.callback(run.log_id, *outcome)
            for monitor in self.monitors:
                monitor.tick(self.clock.now_ms())
            idle = 0 if fresh else idle + 1
            if idle >= idle_rounds:
                return rounds
        raise AssertionError(f"still sending after {max_rounds} rounds")
