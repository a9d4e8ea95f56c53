"""The scheduler's monitors: loops beside the fire loop (registry sweep, run follow-ups, alarms,
housekeeping). Each is a `Loop` (`name`, `interval_s`, `tick(now_ms)`) that the scheduler runner
drives; `build_monitors` is the one list of them.
"""

from __future__ import annotations

from typing import Any


def build_monitors(ctx: Any, node_id: str) -> list[Any]:
    """The monitors one scheduler process runs, for the AdminContext `ctx`."""
    return []
