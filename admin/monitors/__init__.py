"""The scheduler's monitors: loops beside the fire loop (registry sweep, run follow-ups, alarms,
housekeeping). Each is a `Loop` (`name`, `interval_s`, `tick(now_ms)`) that the scheduler runner
drives; `build_monitors` is the one list of them.

Work that one node at a time should do takes a named lease (sc_singleton_lease, `lease.py`);
every write they make is guarded by status or keyed by a unique index, so a node that loses its
lease mid-way, or two nodes overlapping, change nothing twice. Slow calls (kills, `/beat`,
alarm deliveries) are bounded by timeouts and made outside transactions; alarms have a loop of
their own so a slow mail server holds up nothing else.
"""

from __future__ import annotations

from typing import Any

from ..alarms import AlarmSender
from ..config import read_or_create_secret
from ..context import AdminContext
from ..transport.executor_client import ExecutorClient
from .daily_report import DailyReportMonitor
from .followups import FollowupMonitor
from .lost_runs import LostRuns
from .registry_sweep import RegistrySweep
from .retention import RunLogRetention
from .run_timeouts import RunTimeouts
from .workflow_instances import WorkflowInstances


def build_monitors(ctx: AdminContext, node_id: str) -> list[Any]:
    """The monitors one scheduler process runs, for the AdminContext `ctx`."""
    config = ctx.config
    token = None if config.insecure_no_token else read_or_create_secret(config, "access_token")
    client = ExecutorClient(token, connect_timeout_s=min(3.0, config.executor_timeout_s), read_timeout_s=config.executor_timeout_s, pool_size=8)
    return [
        RegistrySweep(ctx.db, node_id),
        FollowupMonitor(ctx.db, node_id, upstream_max_bytes=config.workflow_upstream_max_bytes),
        RunTimeouts(ctx.db, node_id, client, grace_s=config.run_timeout_grace_s),
        LostRuns(ctx.db, node_id, client, lost_after_s=config.lost_run_after_s),
        WorkflowInstances(ctx.db, node_id, client, upstream_max_bytes=config.workflow_upstream_max_bytes),
        AlarmSender(ctx.db, ctx.clock, config),
        RunLogRetention(ctx.db, node_id, retention_days=config.run_log_retention_days, audit_retention_days=config.audit_retention_days),
        DailyReportMonitor(ctx.db, node_id, timezone=config.default_timezone),
    ]
