"""From one claimed fire to its run rows: overrides, routing, sharding. Pure (no I/O).

The rules (contracts §2):

- `address` override: one run, sent only there; it must be a live executor of the job's group
  at dispatch time, else the run fails with a message saying so.
- `shard_index/shard_total` override: exactly one run with that shard, sent to the live executor
  at sorted index `i % len(live)`; a RETRY prefers the failed run's executor while it is live.
- otherwise the job's route strategy: SHARDING_BROADCAST makes one run per live executor
  (`i` = its index in the sorted list, `n` = their number); FAILOVER and BUSYOVER leave the
  address open (`probe=True`): a dispatch worker asks the executors just before `/run`.
- no live executor: one run, failed, "no live executor in group <app_name>".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from shardcron.core.protocol import ProtocolError, normalize_address

from ..enums import RouteStrategy, TriggerType
from ..schedules.routing import PROBING, RouteState, route_one
from .fire_store import ClaimedFire


# Slots, not frozen (read-only by convention): built per fire on the hot path (docs/benchmarks.md).
@dataclass(slots=True)
class PlannedRun:
    """One run row to write. `address` None with `probe` True: chosen at send time.
    `failure` set: the row is written FAILED with that trigger_msg and nothing is sent."""

    address: str | None
    shard_index: int
    shard_total: int
    param: str | None
    probe: bool = False
    failure: str | None = None
    trace: str = ""


# Slots, not frozen (read-only by convention): built per fire on the hot path (docs/benchmarks.md).
@dataclass(slots=True)
class JobFacts:
    """What planning needs to know about the fire's job."""

    job_id: int
    app_name: str
    route_strategy: RouteStrategy
    param: str | None


def no_live_executor(app_name: str) -> str:
    return f"no live executor in group {app_name}"


def plan_runs(
    fire: ClaimedFire,
    job: JobFacts,
    live: Sequence[str],
    state: RouteState,
    now_ms: int,
    *,
    retry_address: str | None = None,
) -> list[PlannedRun]:
    param = fire.param if fire.param is not None else job.param
    if fire.address is not None:
        index, total = (fire.shard_index, fire.shard_total) if fire.shard_total is not None else (0, 1)
        wanted: str | None
        try:
            wanted = normalize_address(fire.address)
        except ProtocolError:
            wanted = None
        if wanted is None or wanted not in live:
            msg = f"address override {fire.address} is not a live executor of group {job.app_name}"
            return [PlannedRun(fire.address, index or 0, total or 1, param, failure=msg)]
        return [PlannedRun(wanted, index or 0, total or 1, param)]
    if not live:
        index, total = (fire.shard_index or 0, fire.shard_total or 1) if fire.shard_total is not None else (0, 1)
        return [PlannedRun(None, index, total, param, failure=no_live_executor(job.app_name))]
    if fire.shard_total is not None:
        index = fire.shard_index or 0
        address = live[index % len(live)]
        if fire.trigger_type == TriggerType.RETRY and retry_address is not None and retry_address in live:
            address = retry_address
        return [PlannedRun(address, index, fire.shard_total, param)]
    if job.route_strategy == RouteStrategy.SHARDING_BROADCAST:
        return [PlannedRun(address, i, len(live), param) for i, address in enumerate(live)]
    if job.route_strategy in PROBING:
        return [PlannedRun(None, 0, 1, param, probe=True)]
    route = route_one(job.route_strategy, live, job.job_id, state, now_ms)
    return [PlannedRun(route.address, 0, 1, param, trace=route.trace)]
