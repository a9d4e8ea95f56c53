"""Errors of the retry-task package. Each names the task (code, request number) or key it is about."""

from __future__ import annotations

from shardcron.core.errors import ShardcronError
from shardcron.core.sqlengine import DatabaseError


class RetryTaskError(ShardcronError):
    """Base of the errors raised by `shardcron.executor.retry_tasks`."""


class TaskInputError(RetryTaskError):
    """An argument of enqueue/complete/fail is unusable (empty, too long, not JSON, ...)."""

    def __init__(self, field: str, value: object, reason: str) -> None:
        self.field = field
        self.value = value
        self.reason = reason
        shown = value if isinstance(value, (int, float)) else _preview(value)
        super().__init__(f"invalid {field} {shown}: {reason}")


class TaskNotFound(RetryTaskError):
    """No task has this (task_code, request_no)."""

    def __init__(self, task_code: str, request_no: str) -> None:
        self.task_code = task_code
        self.request_no = request_no
        super().__init__(f"no retry task with task_code={task_code!r} request_no={request_no!r}")


class TaskStateConflict(RetryTaskError):
    """A callback asks for an outcome that contradicts the one already recorded."""

    def __init__(self, task_code: str, request_no: str, action: str, status: str) -> None:
        self.task_code = task_code
        self.request_no = request_no
        self.action = action
        self.status = status
        super().__init__(
            f"cannot {action} retry task task_code={task_code!r} request_no={request_no!r}: it is already {status}"
        )


class TaskLeaseLost(RetryTaskError):
    """The drainer no longer holds the row: a callback finished it, or its lease ran out and
    another drainer took it. Raised inside a handler (from `task.stage`) so it stops at once."""

    def __init__(self, task_id: int, task_code: str, request_no: str) -> None:
        self.task_id = task_id
        self.task_code = task_code
        self.request_no = request_no
        super().__init__(
            f"retry task {task_id} (task_code={task_code!r} request_no={request_no!r}) is no longer held by this "
            "drainer: finished by a callback, or re-claimed after its lease ran out"
        )


class DrainerParamError(RetryTaskError):
    """The drainer's parameter string (the job's executorParams) has a bad key or value."""

    def __init__(self, key: str, value: str | None, reason: str) -> None:
        self.key = key
        self.value = value
        self.reason = reason
        where = key if value is None else f"{key}={value!r}"
        super().__init__(f"invalid drainer parameter {where}: {reason}")


class TasksDatabaseError(RetryTaskError, DatabaseError):
    """The retry-task database cannot be used (bad URL, unreachable, refused, table missing)."""


def _preview(value: object, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
