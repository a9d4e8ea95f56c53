"""The executor's Prometheus metrics, read from its live state at scrape time.

One `ExecutorCollector` per Executor, in that executor's own registry (several executors may
share a process): runs finished by result, runs going on, results waiting in the callback spool,
whether the last registration was accepted, and, when a retry-task table is watched
(`Executor.watch_retry_tasks`, done by `RetryTasks.register_drainer`), its rows by task code and
status. The table is counted at most once per `RETRY_STATS_MIN_INTERVAL_S`, so a scrape never
scans a large business table more often than that.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from typing import Any, Protocol

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from shardcron.core.clock import Clock
from shardcron.core.protocol import ResultCode

log = logging.getLogger("shardcron.executor.metrics")

RETRY_STATS_MIN_INTERVAL_S = 15.0
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


_RESULT_NAMES = {int(ResultCode.SUCCESS): "success", int(ResultCode.TIMEOUT): "timeout"}


class RunTally:
    """Finished runs by result, counted as their results are handed to the callback spool."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def count(self, handle_code: int) -> None:
        result = _RESULT_NAMES.get(handle_code, "fail")
        with self._lock:
            self._counts[result] += 1

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return {key: self._counts.get(key, 0) for key in ("success", "fail", "timeout")}


class RetryTaskStats(Protocol):
    def stats(self) -> list[Any]: ...


class ExecutorState(Protocol):
    """What the collector reads from an Executor."""

    tally: RunTally

    @property
    def running_runs(self) -> int: ...

    @property
    def spooled_results(self) -> int: ...

    @property
    def registered(self) -> bool: ...


class ExecutorCollector(Collector):
    def __init__(self, state: ExecutorState, clock: Clock) -> None:
        self._state = state
        self._clock = clock
        self._tables: list[RetryTaskStats] = []
        self._cache: tuple[float, list[Any], bool] | None = None  # (taken at, rows, failed)
        self._lock = threading.Lock()

    def watch(self, tasks: RetryTaskStats) -> None:
        with self._lock:
            if tasks not in self._tables:
                self._tables.append(tasks)
                self._cache = None

    def _retry_rows(self) -> tuple[list[Any], bool, bool]:
        """(rows, failed, watched) from the cache or a fresh count."""
        with self._lock:
            if not self._tables:
                return [], False, False
            now_s = self._clock.monotonic()
            if self._cache is None or now_s - self._cache[0] >= RETRY_STATS_MIN_INTERVAL_S:
                rows: list[Any] = []
                failed = False
                for table in self._tables:
                    try:
                        rows.extend(table.stats())
                    except Exception as exc:  # a scrape must still answer when the business DB does not
                        failed = True
                        log.warning("retry-task counts unavailable", extra={"error": f"{type(exc).__name__}: {exc}"})
                self._cache = (now_s, rows, failed)
            return self._cache[1], self._cache[2], True

    def collect(self) -> Any:
        runs = CounterMetricFamily("shardcron_executor_runs", "Runs finished by this executor process, by result.", labels=["result"])
        for result, value in self._state.tally.snapshot().items():
            runs.add_metric([result], value)
        yield runs
        yield GaugeMetricFamily("shardcron_executor_runs_running", "Runs executing now.", value=self._state.running_runs)
        yield GaugeMetricFamily(
            "shardcron_executor_callback_spool_depth", "Finished runs' results not yet accepted by an admin.", value=self._state.spooled_results
        )
        yield GaugeMetricFamily(
            "shardcron_executor_registered", "1 when the last registration with the admins was accepted.", value=1 if self._state.registered else 0
        )
        rows, failed, watched = self._retry_rows()
        if not watched:
            return
        tasks = GaugeMetricFamily("shardcron_retry_tasks", "Retry-task rows by task code and status.", labels=["task_code", "status"])
        due = GaugeMetricFamily("shardcron_retry_tasks_due", "PENDING retry-task rows due now and not leased.", labels=["task_code"])
        for row in rows:
            tasks.add_metric([row.task_code, str(row.status.value if hasattr(row.status, "value") else row.status)], row.count)
            if row.due:
                due.add_metric([row.task_code], row.due)
        yield tasks
        yield due
        yield GaugeMetricFamily("shardcron_retry_tasks_stats_failed", "1 when the retry-task table could not be counted.", value=1 if failed else 0)


def render(collector: ExecutorCollector) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return generate_latest(registry)
