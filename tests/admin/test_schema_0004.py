"""Revision 0004 (named API tokens, console sessions, login throttle) on a database at 0002 holding
0.1.0's rows, SQLite and MariaDB: each existing token becomes its user's token "default" (hash
only, moved out of sc_user) and keeps working; a token-less user gets none; the new tables work."""

from __future__ import annotations

import sqlalchemy as sa

from shardcron.admin.db import Database, init_schema
from shardcron.admin.models import ApiToken, User
from shardcron.admin.schema import ADMIN_SCHEMA
from shardcron.admin.services import api_tokens, console_sessions, passwords, users
from shardcron.core.sqlengine import create_db_engine
from tests.support.released import RELEASES, assert_rows_kept, database_at
from tests.support.released import rows_0_1_0 as facts


def test_0004_turns_each_token_into_a_named_default_token(db_url: str) -> None:
    rows = RELEASES[0].admin_rows
    bob = next(user for user in rows["sc_user"] if user["username"] == "bob")
    database_at(db_url, ADMIN_SCHEMA, "0002", rows)
    engine = create_db_engine(db_url, pool_size=1)
    try:
        init_schema(engine)
    finally:
        engine.dispose()
    assert_rows_kept(db_url, rows)

    database = Database(db_url, pool_size=1)
    try:
        with database.session() as session:
            tokens = session.scalars(sa.select(ApiToken)).all()
            assert [(t.user_id, t.name, t.token_hash, t.created_at_ms, t.expires_at_ms) for t in tokens] == [
                (bob["id"], "default", passwords.api_token_digest(facts.BOB_TOKEN), bob["updated_at_ms"], 0)
            ]
            assert session.scalars(sa.select(User.api_token_hash)).all() == [None, None]
            assert users.actor_for_token(session, facts.BOB_TOKEN, facts.T).username == "bob"
            # The new tables take rows: a console session and a new named token for alice.
            alice = users.authenticate(session, "alice", facts.ALICE_PASSWORD, facts.T)
            assert alice is not None and alice.user_id is not None
            session_id = console_sessions.open_session(session, alice.user_id, now_ms=facts.T, max_age_ms=3_600_000)
            assert console_sessions.session_is_open(session, session_id, alice.user_id)
            _, token = api_tokens.issue_token(session, alice, alice.user_id, "after upgrade", now_ms=facts.T)
        with database.read_session() as session:
            assert users.actor_for_token(session, token, facts.T).username == "alice"
    finally:
        database.dispose()
