"""The admin's Prometheus metrics: every metric object is defined here, once.

Process-wide counters and histograms live in `REGISTRY` and are updated by the code that sees
the event, through the `record_*` functions (the fire loop: fires, trigger failures, lag; the
callback handler: run durations). Gauges that describe the database (live executors per
group, live scheduler nodes) are read at scrape time by `DatabaseCollector`, so every admin node
reports the same cluster-wide values.

Several gunicorn workers: deploy/gunicorn.conf.py points prometheus_client's
PROMETHEUS_MULTIPROC_DIR at a fresh folder before the workers start; `render_metrics` then sums
the workers' files, so a scrape sees every worker's counts whichever worker answers it.
"""

from __future__ import annotations

import os
from enum import StrEnum
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, PlatformCollector, ProcessCollector, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from shardcron.core.protocol import REGISTRY_GROUP_EXECUTOR, ProtocolError

from .context import AdminContext
from .enums import AddressType
from .models import ExecutorGroup, ExecutorRegistry, SchedulerNode
from .registry_view import DEAD_AFTER_MS, parse_manual_addresses

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class TriggerFailure(StrEnum):
    """Why a trigger failed (the `reason` label; a closed set, so label values stay bounded)."""

    NO_LIVE_EXECUTOR = "no_live_executor"  # the group had no live executor
    ADDRESS_NOT_LIVE = "address_not_live"  # an address override is not a live executor of the group
    EXECUTOR_REFUSED = "executor_refused"  # /run answered code 500 (busy, unknown handler, ...)
    TRANSPORT = "transport"  # /run could not be delivered (timeout, connection refused)
    MISFIRE_SKIPPED = "misfire_skipped"  # a missed fire dropped by DO_NOTHING
    ERROR = "error"  # anything else (a bug or a database error while triggering)


class SettleOutcome(StrEnum):
    """How a /run of unknown outcome was settled (the `outcome` label)."""

    KNOWN = "known"  # the executor had the logId: recorded as accepted, not sent again
    NOT_KNOWN = "not_known"  # the executor never got it: sent
    UNSURE_RESENT = "unsure_resent"  # the executor could not tell; sent again (AT_LEAST_ONCE)
    UNSURE_SKIPPED = "unsure_skipped"  # the executor could not tell; recorded UNKNOWN (AT_MOST_ONCE)


REGISTRY = CollectorRegistry(auto_describe=True)
ProcessCollector(registry=REGISTRY)  # CPU, memory, open files of this process (Linux)
PlatformCollector(registry=REGISTRY)

FIRES = Counter(
    "shardcron_fires_total",
    "Fires dispatched by this scheduler process, by trigger type (one per fire, not per shard).",
    ["trigger_type"],
    registry=REGISTRY,
)
TRIGGER_FAILURES = Counter(
    "shardcron_trigger_failures_total",
    "Run rows that failed at trigger time (before the executor ran anything), by reason.",
    ["reason"],
    registry=REGISTRY,
)
TRIGGER_LAG = Histogram(
    "shardcron_trigger_lag_seconds",
    "Time from a fire's planned instant to its /run call.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
    registry=REGISTRY,
)
FENCE_DROPS = Counter(
    "shardcron_fence_drops_total",
    "/run calls not sent because this scheduler's lease term no longer held (a stall, a lost database); another node settles them.",
    registry=REGISTRY,
)
SETTLED = Counter(
    "shardcron_runs_settled_total",
    "/run calls of unknown outcome settled by asking the executor about their logId, by outcome.",
    ["outcome"],
    registry=REGISTRY,
)
RUN_DURATION = Histogram(
    "shardcron_run_duration_seconds",
    "Time from a run's trigger to its result callback, by final status.",
    ["status"],
    buckets=(0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600, 14400),
    registry=REGISTRY,
)


def record_fire(trigger_type: str, count: int = 1) -> None:
    """Fires got their run rows (whatever became of them): counted once per fire."""
    FIRES.labels(trigger_type=str(trigger_type)).inc(count)


def record_trigger_lag(lag_ms: int) -> None:
    """A /run call went out `lag_ms` after its planned instant (per run row)."""
    TRIGGER_LAG.observe(max(lag_ms, 0) / 1000.0)


def record_trigger_failure(reason: TriggerFailure) -> None:
    TRIGGER_FAILURES.labels(reason=TriggerFailure(reason).value).inc()


def record_fence_drops(count: int) -> None:
    FENCE_DROPS.inc(count)


def record_settled(outcome: SettleOutcome) -> None:
    SETTLED.labels(outcome=SettleOutcome(outcome).value).inc()


def record_run_finished(status: str, duration_ms: int) -> None:
    RUN_DURATION.labels(status=str(status)).observe(max(duration_ms, 0) / 1000.0)


class DatabaseCollector(Collector):
    """Cluster-wide gauges read from the admin database at scrape time."""

    def __init__(self, ctx: AdminContext) -> None:
        self._ctx = ctx

    def collect(self) -> Any:
        now_ms = self._ctx.clock.now_ms()
        window_s = self._ctx.config.ready_scheduler_max_age_s or 60
        live = GaugeMetricFamily(
            "shardcron_live_executors",
            "Live executors per executor group (a heartbeat within the last 90 s; manual groups: their list).",
            labels=["group"],
        )
        nodes = GaugeMetricFamily("shardcron_scheduler_nodes_live", f"Scheduler processes with a heartbeat in the last {window_s} s.")
        try:
            registered, groups, count = self._read(now_ms, window_s)
        except (DBAPIError, SQLAlchemyError):
            yield GaugeMetricFamily("shardcron_database_up", "1 when the admin database answered this scrape.", value=0)
            return
        yield GaugeMetricFamily("shardcron_database_up", "1 when the admin database answered this scrape.", value=1)
        for app_name, address_type, manual in groups:
            if address_type == AddressType.MANUAL:
                try:
                    value = len(parse_manual_addresses(manual))
                except ProtocolError:
                    value = 0
            else:
                value = int(registered.get(app_name, 0))
            live.add_metric([app_name], value)
        nodes.add_metric([], int(count or 0))
        yield live
        yield nodes

    def _read(self, now_ms: int, window_s: int) -> tuple[dict[str, int], list[Any], int]:
        with self._ctx.db.read_session() as session:
            registered = dict(
                session.execute(
                    select(ExecutorRegistry.app_name, func.count(func.distinct(ExecutorRegistry.address)))
                    .where(ExecutorRegistry.registry_group == REGISTRY_GROUP_EXECUTOR, ExecutorRegistry.heartbeat_at_ms > now_ms - DEAD_AFTER_MS)
                    .group_by(ExecutorRegistry.app_name)
                ).all()
            )
            groups = session.execute(select(ExecutorGroup.app_name, ExecutorGroup.address_type, ExecutorGroup.manual_addresses).order_by(ExecutorGroup.app_name)).all()
            count = session.scalar(select(func.count()).select_from(SchedulerNode).where(SchedulerNode.heartbeat_at_ms >= now_ms - window_s * 1000))
        return registered, list(groups), int(count or 0)


def render_metrics(ctx: AdminContext) -> bytes:
    """The text exposition of every admin metric (this process's, or all gunicorn workers')."""
    if os.environ.get(MULTIPROC_ENV):
        process_registry = CollectorRegistry()
        MultiProcessCollector(process_registry)
    else:
        process_registry = REGISTRY
    cluster = CollectorRegistry(auto_describe=False)
    cluster.register(DatabaseCollector(ctx))
    return generate_latest(process_registry) + generate_latest(cluster)
