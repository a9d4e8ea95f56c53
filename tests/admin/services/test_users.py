"""Users: creation rules, the last admin, grants, passwords, login throttling, API tokens."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from shardcron.admin.db import Database
from shardcron.admin.enums import UserRole
from shardcron.admin.models import ApiToken, ExecutorGroup, Meta, User
from shardcron.admin.services import passwords, users
from shardcron.admin.services.actor import SYSTEM_ACTOR, Actor
from shardcron.admin.services.errors import Conflict, Forbidden, NotFound, ServiceError

NOW = 1_767_225_600_000
PASSWORD = "s3cret-enough"


def add_group(db: Database, app_name: str) -> int:
    with db.session() as s:
        group = ExecutorGroup(app_name=app_name, title=app_name, created_at_ms=NOW, updated_at_ms=NOW)
        s.add(group)
        s.flush()
        return group.id


def make(db: Database, name: str, role: UserRole = UserRole.USER, groups: list[int] | None = None, actor: Actor | None = SYSTEM_ACTOR) -> users.UserView:
    with db.session() as s:
        return users.create_user(s, actor, name, PASSWORD, role, groups or [], now_ms=NOW)


def actor_of(db: Database, user_id: int) -> Actor:
    with db.session() as s:
        actor = users.actor_for_user(s, user_id)
    assert actor is not None
    return actor


def test_setup_creates_the_first_admin_once(database: Database) -> None:
    with database.session() as s:
        assert users.count_users(s) == 0
    with pytest.raises(ServiceError) as err, database.session() as s:
        users.create_user(s, None, "alice", PASSWORD, UserRole.USER, now_ms=NOW)
    assert err.value.field_errors == {"role": "the first user must be an ADMIN"}
    first = make(database, "alice", UserRole.ADMIN, actor=None)
    assert first.role == UserRole.ADMIN
    with pytest.raises(Forbidden), database.session() as s:
        users.create_user(s, None, "mallory", PASSWORD, UserRole.ADMIN, now_ms=NOW)
    with database.session() as s:
        assert users.count_users(s) == 1
        assert s.get(Meta, "first_user_created").value == "alice"


def test_field_errors_and_nothing_saved(database: Database) -> None:
    with pytest.raises(ServiceError) as err, database.session() as s:
        users.create_user(s, SYSTEM_ACTOR, "bad name!", "short", "GOD", [999], now_ms=NOW)
    assert set(err.value.field_errors) == {"username", "password", "role", "group_ids"}
    assert err.value.status == 400
    assert "at least 10 characters" in err.value.field_errors["password"]
    assert "999" in err.value.field_errors["group_ids"]
    with pytest.raises(ServiceError) as err, database.session() as s:
        users.create_user(s, SYSTEM_ACTOR, "carol", "carol", UserRole.USER, now_ms=NOW)
    assert "password" in err.value.field_errors
    with pytest.raises(ServiceError) as err, database.session() as s:
        users.create_user(s, SYSTEM_ACTOR, "carol", "x" * 1025, UserRole.USER, now_ms=NOW)
    assert "at most 1024" in err.value.field_errors["password"]
    with database.session() as s:
        assert users.count_users(s) == 0
    make(database, "carol")
    with pytest.raises(ServiceError) as err, database.session() as s:
        users.create_user(s, SYSTEM_ACTOR, "carol", PASSWORD, UserRole.USER, now_ms=NOW)
    assert err.value.field_errors == {"username": "'carol' is taken"}


def test_password_is_stored_as_scrypt(database: Database) -> None:
    view = make(database, "dave")
    with database.session() as s:
        stored = s.get(User, view.id).password_hash
    assert stored.startswith("$scrypt$") and PASSWORD not in stored
    assert passwords.verify_password(PASSWORD, stored)


def test_only_admins_manage_users(database: Database) -> None:
    g = add_group(database, "billing")
    admin = actor_of(database, make(database, "root", UserRole.ADMIN).id)
    bob = make(database, "bob", groups=[g])
    bob_actor = actor_of(database, bob.id)
    assert bob_actor.group_ids == frozenset({g}) and not bob_actor.is_admin
    with database.session() as s:
        with pytest.raises(Forbidden):
            users.create_user(s, bob_actor, "eve", PASSWORD, UserRole.ADMIN, now_ms=NOW)
        with pytest.raises(Forbidden):
            users.list_users(s, bob_actor)
        with pytest.raises(Forbidden):
            users.set_grants(s, bob_actor, bob.id, [g], now_ms=NOW)
        with pytest.raises(Forbidden):
            users.delete_user(s, bob_actor, bob.id, now_ms=NOW)
        with pytest.raises(NotFound):
            users.get_user(s, bob_actor, admin.user_id)
        assert users.get_user(s, bob_actor, bob.id).username == "bob"
        assert [u.username for u in users.list_users(s, admin)] == ["bob", "root"]


def test_grants_replace_the_set(database: Database) -> None:
    g1, g2, g3 = (add_group(database, name) for name in ("a", "b", "c"))
    bob = make(database, "bob", groups=[g1, g2])
    with database.session() as s:
        view = users.set_grants(s, SYSTEM_ACTOR, bob.id, [g2, g3], now_ms=NOW + 1)
    assert view.group_ids == sorted([g2, g3])
    assert actor_of(database, bob.id).group_ids == frozenset({g2, g3})
    with pytest.raises(ServiceError) as err, database.session() as s:
        users.set_grants(s, SYSTEM_ACTOR, bob.id, [g1, 12345], now_ms=NOW + 2)
    assert "12345" in err.value.field_errors["group_ids"]
    assert actor_of(database, bob.id).group_ids == frozenset({g2, g3})


def test_last_admin_cannot_be_deleted_or_demoted(database: Database) -> None:
    root = make(database, "root", UserRole.ADMIN)
    with pytest.raises(Conflict) as err, database.session() as s:
        users.delete_user(s, SYSTEM_ACTOR, root.id, now_ms=NOW)
    assert err.value.status == 409 and err.value.object_id == root.id
    with pytest.raises(Conflict), database.session() as s:
        users.set_role(s, SYSTEM_ACTOR, root.id, UserRole.USER, now_ms=NOW)
    second = make(database, "root2", UserRole.ADMIN)
    with database.session() as s:
        users.delete_user(s, SYSTEM_ACTOR, root.id, now_ms=NOW)
    with pytest.raises(Conflict), database.session() as s:
        users.delete_user(s, SYSTEM_ACTOR, second.id, now_ms=NOW)
    with database.session() as s:
        assert [u.username for u in users.list_users(s, SYSTEM_ACTOR)] == ["root2"]


def test_authenticate_checks_only_the_credentials(database: Database) -> None:
    view = make(database, "erin")

    def login(password: str) -> Actor | None:
        with database.session() as s:
            return users.authenticate(s, "erin", password, NOW)

    assert login(PASSWORD).user_id == view.id
    assert login("wrong one!") is None
    # No lock per account (login_throttle slows the guessing address instead): after many
    # failures the right password still works.
    for _ in range(10):
        assert login("wrong again") is None
    assert login(PASSWORD).username == "erin"
    with database.session() as s:
        assert users.authenticate(s, "nobody", PASSWORD, NOW) is None
        assert users.authenticate(s, "erin", "x" * 5000, NOW) is None


def test_login_upgrades_an_old_hash(database: Database) -> None:
    view = make(database, "frank")
    with database.session() as s:
        s.get(User, view.id).password_hash = passwords.hash_password(PASSWORD, passwords.ScryptCost(log2_n=11))
    with database.session() as s:
        assert users.authenticate(s, "frank", PASSWORD, NOW) is not None
    with database.session() as s:
        stored = s.get(User, view.id).password_hash
    assert not passwords.needs_rehash(stored) and passwords.verify_password(PASSWORD, stored)


def test_change_password(database: Database) -> None:
    grace = make(database, "grace")
    other = make(database, "heidi")
    me = actor_of(database, grace.id)
    with database.session() as s:
        version = users.session_version(s, grace.id)
    with pytest.raises(ServiceError) as err, database.session() as s:
        users.change_password(s, me, grace.id, "new password 1", current_password="not it at all", now_ms=NOW)
    assert set(err.value.field_errors) == {"current_password"}
    with pytest.raises(ServiceError) as err, database.session() as s:
        users.change_password(s, me, grace.id, "short", current_password=PASSWORD, now_ms=NOW)
    assert set(err.value.field_errors) == {"new_password"}
    with pytest.raises(NotFound), database.session() as s:
        users.change_password(s, me, other.id, "new password 1", now_ms=NOW)
    with database.session() as s:
        users.change_password(s, me, grace.id, "new password 1", current_password=PASSWORD, now_ms=NOW)
        assert users.session_version(s, grace.id) == version + 1
    with database.session() as s:
        assert users.authenticate(s, "grace", PASSWORD, NOW) is None
        assert users.authenticate(s, "grace", "new password 1", NOW) is not None
        # An admin resets someone else's password without knowing it.
        users.change_password(s, SYSTEM_ACTOR, other.id, "reset by admin", now_ms=NOW)
        assert users.authenticate(s, "heidi", "reset by admin", NOW) is not None


def test_default_api_token_is_replaced_and_revoked(database: Database) -> None:
    ivan = make(database, "ivan")
    judy = make(database, "judy")
    me = actor_of(database, ivan.id)
    with database.session() as s:
        token = users.issue_api_token(s, me, ivan.id, now_ms=NOW)
        stored = s.scalars(sa.select(ApiToken.token_hash).where(ApiToken.user_id == ivan.id)).all()
    assert stored == [passwords.api_token_digest(token)] and token not in stored[0]
    with database.session() as s:
        assert users.actor_for_token(s, token, NOW).user_id == ivan.id
        assert users.actor_for_token(s, token + "x", NOW) is None
        assert users.actor_for_token(s, "", NOW) is None
        with pytest.raises(NotFound):
            users.issue_api_token(s, me, judy.id, now_ms=NOW)
        replacement = users.issue_api_token(s, me, ivan.id, now_ms=NOW)
    with database.session() as s:
        assert users.actor_for_token(s, token, NOW) is None
        assert users.actor_for_token(s, replacement, NOW).username == "ivan"
        users.revoke_api_token(s, me, ivan.id, now_ms=NOW)
    with database.session() as s:
        assert users.actor_for_token(s, replacement, NOW) is None
        assert s.scalar(sa.select(sa.func.count()).select_from(ApiToken)) == 0


def test_unknown_users_cost_one_kdf_like_everyone(database: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    make(database, "kim")
    calls: list[tuple[int, int, int]] = []
    real = passwords._derive

    def counting(password, salt, cost):
        calls.append((cost.log2_n, cost.r, cost.p))
        return real(password, salt, cost)

    monkeypatch.setattr(passwords, "_derive", counting)
    for name, password in (("kim", PASSWORD), ("kim", "wrong password"), ("nobody", PASSWORD), ("nobody", "x")):
        calls.clear()
        with database.session() as s:
            users.authenticate(s, name, password, NOW)
        assert calls == [(10, 8, 1)], (name, password, calls)


def test_two_setup_requests_racing_make_one_admin(database: Database) -> None:
    import threading

    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def setup(name: str) -> None:
        try:
            with database.session() as s:
                barrier.wait(timeout=10)
                users.create_user(s, None, name, PASSWORD, UserRole.ADMIN, now_ms=NOW)
            outcomes.append("created")
        except (Forbidden, Conflict) as exc:
            outcomes.append(type(exc).__name__)
        except Exception as exc:  # a lock timeout would be a defect too: record it
            outcomes.append(repr(exc))

    threads = [threading.Thread(target=setup, args=(name,)) for name in ("first", "second")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert outcomes.count("created") == 1 and len(outcomes) == 2, outcomes
    with database.session() as s:
        assert users.count_users(s) == 1
