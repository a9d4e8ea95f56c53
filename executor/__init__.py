"""shardcron's executor: the SDK and embedded server that runs jobs inside an application.

    from shardcron.executor import Executor, JobContext, JobResult, JobCancelled
"""

from .app import Executor
from .config import ExecutorConfig
from .context import JobCancelled, JobContext, JobResult

__all__ = ["Executor", "ExecutorConfig", "JobCancelled", "JobContext", "JobResult"]
