"""Which executors are alive: heartbeats within 90 s for AUTO groups, the listed ones for MANUAL."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from shardcron.admin.db import Database, init_schema
from shardcron.admin.enums import AddressType
from shardcron.admin.models import ExecutorGroup, ExecutorRegistry
from shardcron.admin.registry_view import DEAD_AFTER_MS, is_group_executor, live_addresses, live_executors, parse_manual_addresses
from shardcron.core.protocol import ProtocolError

NOW = 1_767_225_600_000


@pytest.fixture
def session(db_url: str):
    db = Database(db_url)
    init_schema(db.engine)
    with Session(db.engine) as s:
        yield s
    db.dispose()


def beat(session: Session, app: str, address: str, at_ms: int) -> None:
    session.add(ExecutorRegistry(registry_group="EXECUTOR", app_name=app, address=address, registered_at_ms=at_ms - 5, heartbeat_at_ms=at_ms))


def test_auto_group_lists_fresh_heartbeats_sorted(session: Session) -> None:
    group = ExecutorGroup(app_name="billing", title="Billing", address_type=AddressType.AUTO, created_at_ms=NOW, updated_at_ms=NOW)
    session.add(group)
    beat(session, "billing", "http://10.0.0.9:9999", NOW - 1_000)
    beat(session, "billing", "http://10.0.0.2:9999", NOW - DEAD_AFTER_MS + 1)
    beat(session, "billing", "http://10.0.0.5:9999", NOW - DEAD_AFTER_MS)  # exactly 90 s: dead
    beat(session, "other", "http://10.0.0.7:9999", NOW)
    session.commit()
    assert live_addresses(session, group, NOW) == ["http://10.0.0.2:9999", "http://10.0.0.9:9999"]
    assert live_executors(session, group, NOW)[1].heartbeat_at_ms == NOW - 1_000
    assert is_group_executor(session, group, "http://10.0.0.9:9999/", NOW)
    assert not is_group_executor(session, group, "http://10.0.0.5:9999", NOW)
    assert not is_group_executor(session, group, "http://10.0.0.7:9999", NOW)
    assert not is_group_executor(session, group, "file:///etc/passwd", NOW)


def test_manual_group_uses_its_list(session: Session) -> None:
    group = ExecutorGroup(
        app_name="legacy", title="Legacy", address_type=AddressType.MANUAL,
        manual_addresses="http://b.example:9999/\nhttp://a.example:9999, http://b.example:9999",
        created_at_ms=NOW, updated_at_ms=NOW,
    )
    session.add(group)
    session.commit()
    assert live_addresses(session, group, NOW) == ["http://a.example:9999", "http://b.example:9999"]


def test_manual_list_with_a_bad_entry_is_refused() -> None:
    with pytest.raises(ProtocolError, match="ftp://x"):
        parse_manual_addresses("http://ok:1\nftp://x")
