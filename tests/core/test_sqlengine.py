"""SQLite connections made by `create_db_engine` when another process holds the new file."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from shardcron.core.sqlengine import create_db_engine


def test_a_connection_waits_for_wal_while_another_creates_the_same_new_file(tmp_path: Path) -> None:
    path = tmp_path / "admin.db"
    creator = sqlite3.connect(path, isolation_level=None)  # another process creating the schema
    creator.execute("BEGIN IMMEDIATE")
    creator.execute("CREATE TABLE first_table (x INTEGER)")
    engine = create_db_engine(f"sqlite:///{path}", pool_size=1)
    outcome: list[object] = []

    def connect() -> None:
        try:
            with engine.connect() as conn:
                outcome.append(conn.exec_driver_sql("PRAGMA journal_mode").scalar_one())
        except Exception as exc:  # what the caller would see
            outcome.append(exc)

    joiner = threading.Thread(target=connect)
    joiner.start()
    try:
        joiner.join(timeout=0.5)
        assert joiner.is_alive(), f"connecting gave up while the file was locked: {outcome}"
    finally:
        creator.execute("COMMIT")
        creator.close()
    joiner.join(timeout=10)
    engine.dispose()
    assert outcome == ["wal"]
