"""Retry tasks: a sharded table of work that must eventually succeed, drained by a broadcast job.

See docs/retry-tasks.md. The pieces an application uses:
`RetryTasks` (enqueue, complete/fail, handlers, the drainer), `Task` (what a handler receives),
`RetryLater` / `GiveUp` (what a handler may raise), `Backoff`, and `DRAINER_HANDLER`.
"""

from .backoff import Backoff
from .drainer import DRAINER_HANDLER, DrainReport
from .errors import (
    DrainerParamError,
    RetryTaskError,
    TaskInputError,
    TaskLeaseLost,
    TaskNotFound,
    TasksDatabaseError,
    TaskStateConflict,
)
from .maintenance import RedriveScope, StatsRow
from .params import DrainerParams, parse_drainer_params
from .record import TaskRecord
from .schema import TABLE_NAME, TaskStatus, metadata, retry_task
from .handling import GiveUp, RetryLater, Task
from .tasks import RetryTasks

__all__ = [
    "DRAINER_HANDLER",
    "TABLE_NAME",
    "Backoff",
    "DrainReport",
    "DrainerParamError",
    "DrainerParams",
    "GiveUp",
    "RedriveScope",
    "RetryLater",
    "RetryTaskError",
    "RetryTasks",
    "StatsRow",
    "Task",
    "TaskInputError",
    "TaskLeaseLost",
    "TaskNotFound",
    "TaskRecord",
    "TaskStateConflict",
    "TaskStatus",
    "TasksDatabaseError",
    "metadata",
    "parse_drainer_params",
    "retry_task",
]
