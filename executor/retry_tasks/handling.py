"""What a task handler receives, and how it asks for a retry or gives up.

    @tasks.handler("CLASSROOM_COPY")
    def copy_classroom(task: Task):
        task.stage("redis", lambda: cache.put(task.payload["id"]))     # skipped on a retry once done
        url = task.stage("oss", upload, task.payload["file"])           # a replay returns the recorded url
        if not search.ready():
            raise RetryLater("search index is read-only", delay_s=120)  # not the backoff: 2 minutes
        task.stage("es", index, task.payload, url)
        return {"url": url}                                             # SUCCEEDED, result kept on the row

Returning completes the task (the return value, JSON, is kept as its result). Raising anything
schedules the next attempt with the task code's backoff, or makes it DEAD after its last attempt,
with the error kept. `RetryLater` picks the delay; `GiveUp` makes it DEAD at once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .errors import TaskInputError
from .record import encode_json_text


class RetryLater(Exception):
    """Raise from a handler to try again after `delay_s` seconds instead of the backoff delay.
    It still uses an attempt (a poll that is never answered must end DEAD)."""

    def __init__(self, reason: str, *, delay_s: float) -> None:
        if not isinstance(delay_s, (int, float)) or isinstance(delay_s, bool) or not 0 <= delay_s <= 366 * 86_400:
            raise TaskInputError("delay_s", delay_s, "expected seconds from 0 to one year")
        self.reason = reason
        self.delay_s = float(delay_s)
        super().__init__(reason)


class GiveUp(Exception):
    """Raise from a handler when more attempts cannot help (the request was refused for good):
    the task is DEAD at once with this reason as its error; an operator may re-drive it."""


@dataclass
class Task:
    id: int
    task_code: str
    request_no: str
    payload: dict[str, Any]
    #: This attempt's number: 1 on the first try. Every claim counts one, so an attempt that
    #: crashed its drainer (killed, out of memory, `os._exit`) counted too.
    attempt: int
    max_attempts: int
    #: Finished stages (name -> the value the stage returned), persisted as each one finishes.
    stages_done: dict[str, Any] = field(default_factory=dict)
    #: Persists `stages_done` (JSON) for this claim; raises TaskLeaseLost when the row is no longer held.
    _record_stages: Callable[[str], None] | None = field(default=None, repr=False)

    @property
    def is_last_attempt(self) -> bool:
        return self.attempt >= self.max_attempts

    def stage(self, name: str, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        """Run `fn(*args, **kwargs)` unless stage `name` already finished on an earlier attempt.

        A finished stage is written to the row at once (before the handler goes on), so neither a
        retry nor a re-claim after a crash runs it again. Its return value (JSON) is recorded and
        returned again on a replay. If the row is no longer held by this drainer (a callback
        finished it, or its lease ran out), `TaskLeaseLost` is raised and the handler stops.
        """
        if not isinstance(name, str) or not name.strip():
            raise TaskInputError("stage name", name, "must be a non-blank string")
        if name in self.stages_done:
            return self.stages_done[name]
        value = fn(*args, **kwargs)
        done = dict(self.stages_done)
        done[name] = value
        encoded = encode_json_text(f"result of stage {name!r}", done)
        if self._record_stages is not None:
            self._record_stages(encoded)
        self.stages_done = done
        return value
