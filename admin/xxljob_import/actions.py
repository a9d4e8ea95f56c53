"""What an XXL-JOB import plan does with each group and job it read."""

from __future__ import annotations

from enum import StrEnum


class Action(StrEnum):
    CREATE = "create"
    EXISTS = "exists"  # already in shardcron: left unchanged
    SKIP = "skip"  # cannot be imported (see the issues)
