"""Routing: which live executor of a group gets a trigger. One function per strategy.

Every function takes the group's live addresses **sorted** (registry_view sorts them), so FIRST,
LAST and shard `i` mean the same executor on every scheduler node. The stateful strategies
(ROUND, LEAST_FREQUENTLY_USED, LEAST_RECENTLY_USED) keep their per-job state in memory, per
scheduler process (`RouteState`), as XXL-JOB does: with several scheduler nodes each spreads its
own share of the fires; the state is reset daily and when it grows large, and a restarted node
starts afresh. FAILOVER and BUSYOVER ask the executors (`/beat`, `/idleBeat`) through a `Prober`
and are therefore called from a dispatch worker, never from the fire loop's thread.
SHARDING_BROADCAST has no router: the dispatcher sends one trigger per live executor.
"""

from __future__ import annotations

import hashlib
import random
import struct
import threading
from bisect import bisect_left
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Protocol

from shardcron.core.protocol import Envelope

from ..enums import RouteStrategy

#: Strategies that must ask executors before choosing (network calls: dispatch workers only).
PROBING = frozenset({RouteStrategy.FAILOVER, RouteStrategy.BUSYOVER})
#: Counters are reset past this size and once a day, so an old imbalance does not live forever.
STATE_RESET_COUNT = 1_000_000
STATE_RESET_MS = 86_400_000
VIRTUAL_NODES = 100


class Prober(Protocol):
    def beat(self, address: str) -> Envelope: ...

    def idle_beat(self, address: str, job_id: int) -> Envelope: ...


# Slots, not frozen (read-only by convention): built per fire on the hot path (docs/benchmarks.md).
@dataclass(slots=True)
class Route:
    """The chosen address (None: nobody answered) and a trace for the run row's trigger_msg."""

    address: str | None
    trace: str = ""


@dataclass
class _JobState:
    round_count: int
    lfu: dict[str, int] = field(default_factory=dict)
    lru: OrderedDict[str, None] = field(default_factory=OrderedDict)


class RouteState:
    """Per-job memory of ROUND / LFU / LRU for one scheduler process. Thread-safe."""

    def __init__(self, rng: random.Random | None = None) -> None:
        self._rng = rng or random.Random()
        self._jobs: dict[int, _JobState] = {}
        self._reset_at_ms: int | None = None
        self._lock = threading.Lock()

    def _job(self, job_id: int, now_ms: int) -> _JobState:
        if self._reset_at_ms is None or now_ms >= self._reset_at_ms:
            self._jobs.clear()
            self._reset_at_ms = now_ms + STATE_RESET_MS
        state = self._jobs.get(job_id)
        if state is None or state.round_count > STATE_RESET_COUNT:
            # A random start spreads jobs that fire together over different executors.
            state = self._jobs[job_id] = _JobState(round_count=self._rng.randrange(100))
        return state

    def next_round(self, job_id: int, now_ms: int) -> int:
        with self._lock:
            state = self._job(job_id, now_ms)
            value = state.round_count
            state.round_count += 1
            return value

    def pick_lfu(self, job_id: int, addresses: Sequence[str], now_ms: int) -> str:
        with self._lock:
            counts = self._job(job_id, now_ms).lfu
            for gone in [a for a in counts if a not in addresses]:
                del counts[gone]
            for address in addresses:
                if address not in counts:
                    counts[address] = self._rng.randrange(len(addresses))
            chosen = min(addresses, key=lambda a: (counts[a], a))
            counts[chosen] += 1
            if counts[chosen] > STATE_RESET_COUNT:
                counts.clear()
            return chosen

    def pick_lru(self, job_id: int, addresses: Sequence[str], now_ms: int) -> str:
        with self._lock:
            order = self._job(job_id, now_ms).lru
            for gone in [a for a in order if a not in addresses]:
                del order[gone]
            for address in addresses:
                if address not in order:
                    order[address] = None
            chosen = next(iter(order))
            order.move_to_end(chosen)
            return chosen

    def random_choice(self, addresses: Sequence[str]) -> str:
        with self._lock:
            return self._rng.choice(list(addresses))


# ---------------------------------------------------------------------------- the strategies


def route_first(addresses: Sequence[str]) -> Route:
    return Route(addresses[0])


def route_last(addresses: Sequence[str]) -> Route:
    return Route(addresses[-1])


def route_round(addresses: Sequence[str], job_id: int, state: RouteState, now_ms: int) -> Route:
    return Route(addresses[state.next_round(job_id, now_ms) % len(addresses)])


def route_random(addresses: Sequence[str], state: RouteState) -> Route:
    return Route(state.random_choice(addresses))


def _hash32(key: str) -> int:
    """MD5, first four bytes read as an unsigned little-endian int (XXL-JOB's ring hash)."""
    return struct.unpack("<I", hashlib.md5(key.encode("utf-8")).digest()[:4])[0]


@lru_cache(maxsize=256)
def _ring(addresses: tuple[str, ...]) -> tuple[tuple[int, ...], tuple[str, ...]]:
    points = sorted((_hash32(f"SHARD-{address}-NODE-{i}"), address) for address in addresses for i in range(VIRTUAL_NODES))
    return tuple(p for p, _ in points), tuple(a for _, a in points)


def route_consistent_hash(addresses: Sequence[str], job_id: int) -> Route:
    """The job keeps its executor while the group is unchanged, and only jobs on a departed
    executor move when one leaves."""
    hashes, owners = _ring(tuple(addresses))
    index = bisect_left(hashes, _hash32(str(job_id)))
    return Route(owners[index % len(owners)])


def route_least_frequently_used(addresses: Sequence[str], job_id: int, state: RouteState, now_ms: int) -> Route:
    return Route(state.pick_lfu(job_id, addresses, now_ms))


def route_least_recently_used(addresses: Sequence[str], job_id: int, state: RouteState, now_ms: int) -> Route:
    return Route(state.pick_lru(job_id, addresses, now_ms))


def route_failover(addresses: Sequence[str], prober: Prober) -> Route:
    """The first executor (in sorted order) that answers /beat with 200."""
    trace: list[str] = []
    for address in addresses:
        answer = prober.beat(address)
        trace.append(f"beat {address}: {answer.code}{' ' + answer.msg if answer.msg else ''}")
        if answer.ok:
            return Route(address, "; ".join(trace))
    return Route(None, "FAILOVER: no executor answered /beat (" + "; ".join(trace) + ")")


def route_busyover(addresses: Sequence[str], job_id: int, prober: Prober) -> Route:
    """The first executor (in sorted order) whose /idleBeat says the job is neither running nor queued."""
    trace: list[str] = []
    for address in addresses:
        answer = prober.idle_beat(address, job_id)
        trace.append(f"idleBeat {address}: {answer.code}{' ' + answer.msg if answer.msg else ''}")
        if answer.ok:
            return Route(address, "; ".join(trace))
    return Route(None, "BUSYOVER: no executor is idle for this job (" + "; ".join(trace) + ")")


def route_one(
    strategy: RouteStrategy,
    addresses: Sequence[str],
    job_id: int,
    state: RouteState,
    now_ms: int,
    prober: Prober | None = None,
) -> Route:
    """The address for a single (non-broadcast) trigger; `addresses` sorted and non-empty."""
    if not addresses:
        raise ValueError("route_one needs at least one live address")
    match strategy:
        case RouteStrategy.FIRST | RouteStrategy.SHARDING_BROADCAST:
            return route_first(addresses)
        case RouteStrategy.LAST:
            return route_last(addresses)
        case RouteStrategy.ROUND:
            return route_round(addresses, job_id, state, now_ms)
        case RouteStrategy.RANDOM:
            return route_random(addresses, state)
        case RouteStrategy.CONSISTENT_HASH:
            return route_consistent_hash(addresses, job_id)
        case RouteStrategy.LEAST_FREQUENTLY_USED:
            return route_least_frequently_used(addresses, job_id, state, now_ms)
        case RouteStrategy.LEAST_RECENTLY_USED:
            return route_least_recently_used(addresses, job_id, state, now_ms)
        case RouteStrategy.FAILOVER | RouteStrategy.BUSYOVER:
            if prober is None:
                raise ValueError(f"{strategy} needs a prober (it asks the executors)")
            if strategy is RouteStrategy.FAILOVER:
                return route_failover(addresses, prober)
            return route_busyover(addresses, job_id, prober)
    raise ValueError(f"unknown route strategy {strategy!r}")
