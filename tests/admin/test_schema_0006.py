"""Revision 0006 (sc_user.locale, the console language a user chose) on a database at 0005
holding 0.1.0's rows, on SQLite, MariaDB and PostgreSQL: every row is kept, every user starts
with no saved language (so the browser's applies), and a choice made after the upgrade is saved
and followed at the next login from another browser."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from shardcron.admin.models import User
from shardcron.admin.schema import ADMIN_SCHEMA
from shardcron.core.clock import FakeClock
from shardcron.core.sqlengine import create_db_engine
from tests.support.console import build_console, post_form
from tests.support.released import RELEASES, assert_rows_kept, database_at
from tests.support.released import rows_0_1_0 as facts


def test_0006_adds_an_empty_language_that_the_switch_fills(db_url: str, tmp_path: Path) -> None:
    rows = RELEASES[0].admin_rows
    database_at(db_url, ADMIN_SCHEMA, "0005", rows)
    engine = create_db_engine(db_url, pool_size=1)
    try:
        assert "locale" not in {c["name"] for c in sa.inspect(engine).get_columns("sc_user")}
    finally:
        engine.dispose()

    console = build_console(tmp_path, db_url, FakeClock(facts.T))  # upgrades to the head revision
    try:
        assert_rows_kept(db_url, rows)
        with console.db.read_session() as session:
            assert set(session.scalars(sa.select(User.locale))) == {None}
        alice = console.login("alice", facts.ALICE_PASSWORD)
        switched = post_form(alice, "/account/language", {"locale": "zh", "next": "/jobs"})
        assert switched.status_code == 302 and switched.headers["Location"] == "/jobs"
        with console.db.read_session() as session:
            assert session.scalar(sa.select(User.locale).where(User.username == "alice")) == "zh"
        elsewhere = console.login("alice", facts.ALICE_PASSWORD)
        page = elsewhere.get("/jobs", headers={"Accept-Language": "en-US"}).get_data(as_text=True)
        assert '<html lang="zh-CN">' in page and "任务管理" in page
    finally:
        console.db.dispose()
