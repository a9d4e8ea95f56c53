"""`live_executors_by_group` answers what `live_executors` answers for each group, in one query."""

from __future__ import annotations

import sqlalchemy as sa

from shardcron.admin.db import Database, init_schema
from shardcron.admin.models import ExecutorGroup
from shardcron.admin import registry_view
from tests.support.admin_data import NOW, add_executor, add_group


def test_same_answer_as_one_group_at_a_time(db_url: str) -> None:
    db = Database(db_url)
    init_schema(db.engine)
    try:
        add_group(db, "a")
        add_group(db, "b", manual=["http://10.0.0.2:9999", "http://10.0.0.1:9999"])
        add_group(db, "c")
        add_group(db, "quiet")
        add_executor(db, "a", "http://127.0.0.1:9002", heartbeat_at_ms=NOW - 1000)
        add_executor(db, "a", "http://127.0.0.1:9001", heartbeat_at_ms=NOW - 89_000)
        add_executor(db, "a", "http://127.0.0.1:9000", heartbeat_at_ms=NOW - 90_000)  # dead
        add_executor(db, "c", "http://127.0.0.1:9003", heartbeat_at_ms=NOW)
        add_executor(db, "b", "http://127.0.0.1:9004", heartbeat_at_ms=NOW)  # b is MANUAL: ignored
        add_executor(db, "nogroup", "http://127.0.0.1:9005", heartbeat_at_ms=NOW)
        with db.session() as s:
            groups = list(s.scalars(sa.select(ExecutorGroup).order_by(ExecutorGroup.id)))
            batched = registry_view.live_executors_by_group(s, groups, NOW)
            single = {g.id: registry_view.live_executors(s, g, NOW) for g in groups}
        assert batched == single
        assert [len(batched[g.id]) for g in groups] == [2, 2, 1, 0]
        assert [e.address for e in batched[groups[0].id]] == ["http://127.0.0.1:9001", "http://127.0.0.1:9002"]
    finally:
        db.dispose()
