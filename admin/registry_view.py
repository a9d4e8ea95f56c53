"""Which executors of a group are alive now: the one answer routing, the console and overrides use.

AUTO groups: the addresses whose heartbeat (`/api/registry`) is younger than `DEAD_AFTER_MS`.
MANUAL groups: the addresses an admin listed. Lists are sorted, so shard `i` of a broadcast and the
FIRST/LAST/ROUND strategies mean the same executor on every scheduler node.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from shardcron.core.protocol import REGISTRY_GROUP_EXECUTOR, ProtocolError, normalize_address

from .enums import AddressType
from .models import ExecutorGroup, ExecutorRegistry

#: An executor re-registers every 30 s; three missed heartbeats and it is dead.
DEAD_AFTER_MS = 90_000


@dataclass(frozen=True)
class LiveExecutor:
    address: str
    registered_at_ms: int | None
    heartbeat_at_ms: int | None


def parse_manual_addresses(text: str | None) -> list[str]:
    """A MANUAL group's address list (one per line or comma-separated), normalized and sorted.

    Raises ProtocolError naming the bad entry.
    """
    entries = [part.strip() for line in (text or "").splitlines() for part in line.split(",")]
    return sorted({normalize_address(entry) for entry in entries if entry})


def live_executors(session: Session, group: ExecutorGroup, now_ms: int) -> list[LiveExecutor]:
    if group.address_type == AddressType.MANUAL:
        try:
            addresses = parse_manual_addresses(group.manual_addresses)
        except ProtocolError:
            addresses = []  # saved lists are validated on save; never route to a malformed one
        return [LiveExecutor(address, None, None) for address in addresses]
    rows = session.execute(
        sa.select(ExecutorRegistry.address, ExecutorRegistry.registered_at_ms, ExecutorRegistry.heartbeat_at_ms)
        .where(
            ExecutorRegistry.registry_group == REGISTRY_GROUP_EXECUTOR,
            ExecutorRegistry.app_name == group.app_name,
            ExecutorRegistry.heartbeat_at_ms > now_ms - DEAD_AFTER_MS,
        )
        .order_by(ExecutorRegistry.address)
    ).all()
    return [LiveExecutor(address, registered, beat) for address, registered, beat in rows]


def live_addresses(session: Session, group: ExecutorGroup, now_ms: int) -> list[str]:
    return [executor.address for executor in live_executors(session, group, now_ms)]


def is_group_executor(session: Session, group: ExecutorGroup, address: str, now_ms: int) -> bool:
    """True only for a live (or manually listed) executor of `group`: the SSRF guard for overrides."""
    try:
        wanted = normalize_address(address)
    except ProtocolError:
        return False
    return wanted in live_addresses(session, group, now_ms)


def live_executors_by_group(session: Session, groups: list[ExecutorGroup], now_ms: int) -> dict[int, list[LiveExecutor]]:
    """`live_executors` of many groups at once (group id -> executors), with one query for all
    AUTO groups: the console's group list and dashboard show every group's executors."""
    found: dict[int, list[LiveExecutor]] = {}
    auto: dict[str, int] = {}
    for group in groups:
        if group.address_type == AddressType.MANUAL:
            found[group.id] = live_executors(session, group, now_ms)
        else:
            auto[group.app_name] = group.id
            found[group.id] = []
    if auto:
        rows = session.execute(
            sa.select(ExecutorRegistry.app_name, ExecutorRegistry.address, ExecutorRegistry.registered_at_ms, ExecutorRegistry.heartbeat_at_ms)
            .where(
                ExecutorRegistry.registry_group == REGISTRY_GROUP_EXECUTOR,
                ExecutorRegistry.app_name.in_(sorted(auto)),
                ExecutorRegistry.heartbeat_at_ms > now_ms - DEAD_AFTER_MS,
            )
            .order_by(ExecutorRegistry.app_name, ExecutorRegistry.address)
        ).all()
        for app_name, address, registered, beat in rows:
            found[auto[app_name]].append(LiveExecutor(address, registered, beat))
    return found
