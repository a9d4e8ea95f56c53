"""Group choices for pickers: visible groups only, by app name, in one query."""

from __future__ import annotations

import sqlalchemy as sa

from shardcron.admin.enums import UserRole
from shardcron.admin.services.actor import SYSTEM_ACTOR
from shardcron.admin.services.group_options import GroupOption, list_group_options
from tests.support import admin_data as data


def test_admins_see_every_group_users_their_grants(database) -> None:
    zeta = data.add_group(database, "zeta")
    alpha = data.add_group(database, "alpha")
    mid = data.add_group(database, "mid")
    user = data.add_user(database, "bob", UserRole.USER, [zeta, mid])
    nobody = data.add_user(database, "eve", UserRole.USER, [])
    statements: list[str] = []
    sa.event.listen(database.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    with database.read_session() as session:
        everything = list_group_options(session, SYSTEM_ACTOR)
        granted = list_group_options(session, user)
        none = list_group_options(session, nobody)
    assert everything == [GroupOption(alpha, "alpha", "Alpha"), GroupOption(mid, "mid", "Mid"), GroupOption(zeta, "zeta", "Zeta")]
    assert [o.app_name for o in granted] == ["mid", "zeta"]
    assert none == []
    assert len([s for s in statements if "sc_executor_group" in s]) == 3  # one query per call
