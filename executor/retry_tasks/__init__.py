"""Retry tasks: a sharded table of work that must eventually succeed, drained by a broadcast job."""

from .schema import TABLE_NAME, TaskStatus, metadata, retry_task

__all__ = ["TABLE_NAME", "TaskStatus", "metadata", "retry_task"]
