"""Attacks on the first-run setup, on logged-out sessions and on the login throttle.

Each test sends what an attacker would send and checks what must come back: a stranger who
reaches /setup first (from loopback too) creates no admin without the printed code; a cookie
copied before logout is worth nothing after it; guessing from one address slows only that
address."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from shardcron.admin.enums import UserRole
from shardcron.admin.models import ConsoleSession, Meta
from shardcron.admin.services import setup_code, users
from shardcron.core.clock import FakeClock
from shardcron.core.errors import ShardcronError
from tests.support.console import PASSWORD, Console, build_console, page_csrf, post_form

ATTACKER = "203.0.113.66"
OWNER = "198.51.100.7"


def _users(console: Console) -> list[str]:
    with console.db.read_session() as session:
        return list(session.scalars(sa.text("SELECT username FROM sc_user ORDER BY id")))


def _setup_form(code: str | None, username: str = "attacker") -> dict:
    form = {"username": username, "password": PASSWORD, "password_again": PASSWORD}
    return form if code is None else {**form, "code": code}


def test_anonymous_setup_without_the_code_creates_no_admin(console: Console) -> None:
    code = console.setup_code()
    stranger = console.client()
    stranger.environ_base["REMOTE_ADDR"] = ATTACKER
    for form in (_setup_form(None), _setup_form(""), _setup_form("guess"), _setup_form(code[:-1]), _setup_form(code + "x"), _setup_form("x" * 5000)):
        response = post_form(stranger, "/setup", form, csrf_from="/setup")
        assert response.status_code == 403, form.get("code")
        assert "setup code is missing or wrong" in response.get_data(as_text=True)
    assert _users(console) == []


def test_loopback_is_no_exception(console: Console) -> None:
    console.setup_code()
    local = console.client()  # another local account, or a port a container runtime forwards
    for address in ("127.0.0.1", "::1"):
        local.environ_base["REMOTE_ADDR"] = address
        assert post_form(local, "/setup", _setup_form(None), csrf_from="/setup").status_code == 403
    assert _users(console) == []


def test_setup_page_says_where_the_code_is(console: Console) -> None:
    page = console.client().get("/setup").get_data(as_text=True)
    assert str(setup_code.setup_code_path(console.config.instance_dir)) in page
    assert "setup?code=" in page


def test_the_printed_link_creates_the_admin_once_and_the_code_dies(console: Console) -> None:
    code = console.setup_code()
    code_file = setup_code.setup_code_path(console.config.instance_dir)
    assert code_file.read_text().strip() == code and code_file.stat().st_mode & 0o777 == 0o600
    owner = console.client()
    link_page = owner.get(f"/setup?code={code}")
    assert f'value="{code}"' in link_page.get_data(as_text=True)  # the link fills the code in
    response = post_form(owner, "/setup", _setup_form(code, "root"), csrf_from=f"/setup?code={code}")
    assert response.status_code == 302 and response.headers["Location"] == "/groups"
    assert owner.get("/groups").status_code == 200  # logged in by the setup itself
    assert _users(console) == ["root"]
    assert not code_file.exists()
    with console.db.read_session() as session:
        assert session.scalars(sa.select(Meta.name).where(Meta.name.like("setup_code:%"))).all() == []
        assert not setup_code.code_is_valid(session, code)
    # The same code again: the page is gone and no second admin appears.
    again = post_form(console.client(), "/setup", _setup_form(code, "attacker"), csrf_from="/login")
    assert again.status_code == 404
    assert _users(console) == ["root"]
    # A restart while a user exists prints no code.
    assert setup_code.ensure_setup_code(console.db, console.config.instance_dir) is None


def test_workers_share_one_code(tmp_path: Path, sqlite_url: str, fake_clock: FakeClock) -> None:
    """Several gunicorn workers (here: two apps on one database and instance folder) each run
    the start-up step; the code printed by either is accepted by both."""
    worker_a = build_console(tmp_path, sqlite_url, fake_clock)
    worker_b = build_console(tmp_path, sqlite_url, fake_clock)
    code = worker_a.setup_code()
    assert worker_b.setup_code() == code
    response = post_form(worker_b.client(), "/setup", _setup_form(code, "root"), csrf_from="/setup")
    assert response.status_code == 302
    assert _users(worker_a) == ["root"]
    worker_a.db.dispose()
    worker_b.db.dispose()


def test_an_unwritable_instance_folder_is_one_clear_error(tmp_path: Path, sqlite_url: str, fake_clock: FakeClock) -> None:
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("")
    console = build_console(tmp_path, sqlite_url, fake_clock)
    with pytest.raises(ShardcronError, match="cannot write the first-run setup code .*shardcron user create NAME --admin"):
        setup_code.ensure_setup_code(console.db, blocked)
    console.db.dispose()


def test_cli_first_admin_also_kills_the_code(console: Console) -> None:
    code = console.setup_code()
    console.add_user("root", UserRole.ADMIN)  # `shardcron user create --admin` (the system actor)
    with console.db.read_session() as session:
        assert not setup_code.code_is_valid(session, code)


def test_a_cookie_copied_before_logout_is_refused_after(console: Console) -> None:
    console.add_user("alice", UserRole.ADMIN)
    victim = console.login("alice")
    stolen = victim.get_cookie("shardcron_session")
    assert stolen is not None
    assert post_form(victim, "/logout", {}).status_code == 302
    thief = console.client()
    thief.set_cookie("shardcron_session", stolen.value)
    response = thief.get("/account")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    assert thief.get("/jobs", headers={"Accept": "application/json"}).status_code == 401
    with console.db.read_session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(ConsoleSession)) == 0


def test_logout_ends_only_that_session(console: Console) -> None:
    console.add_user("alice", UserRole.ADMIN)
    laptop, phone = console.login("alice"), console.login("alice")
    assert post_form(laptop, "/logout", {}).status_code == 302
    assert phone.get("/account").status_code == 200


def test_a_reset_password_ends_the_users_copied_sessions(console: Console) -> None:
    console.add_user("root", UserRole.ADMIN)
    bob_id = console.add_user("bob")
    bob = console.login("bob")
    stolen = bob.get_cookie("shardcron_session")
    root = console.login("root")
    assert post_form(root, f"/users/{bob_id}", {"action": "password", "new_password": "reset by root 1"}).status_code == 302
    thief = console.client()
    thief.set_cookie("shardcron_session", stolen.value)
    assert thief.get("/account").status_code == 302


def _login(client, username: str, password: str):
    return post_form(client, "/login", {"username": username, "password": password}, csrf=page_csrf(client, "/login"))


def test_guessing_from_one_address_does_not_lock_the_owner_out(tmp_path: Path, sqlite_url: str, fake_clock: FakeClock) -> None:
    console = build_console(tmp_path, sqlite_url, fake_clock, login_max_failures=5, login_lockout_s=300)
    console.add_user("alice", UserRole.ADMIN)
    attacker, owner = console.client(), console.client()
    attacker.environ_base["REMOTE_ADDR"] = ATTACKER
    owner.environ_base["REMOTE_ADDR"] = OWNER
    answers = [_login(attacker, "alice", f"guess number {n}").status_code for n in range(8)]
    # Five free failures, then each failure buys a wait: 1 s after the 6th, during which even
    # the right password is not checked.
    assert answers == [401, 401, 401, 401, 401, 401, 429, 429]
    assert _login(attacker, "alice", PASSWORD).status_code == 429
    # The owner, from another address, logs in at once with the right password.
    assert _login(owner, "alice", PASSWORD).status_code == 302


def test_the_guessing_address_waits_longer_each_time(tmp_path: Path, sqlite_url: str, fake_clock: FakeClock) -> None:
    console = build_console(tmp_path, sqlite_url, fake_clock, login_max_failures=2, login_lockout_s=10)
    console.add_user("alice", UserRole.ADMIN)
    attacker = console.client()
    attacker.environ_base["REMOTE_ADDR"] = ATTACKER
    waits = []
    for _ in range(7):
        while True:
            response = _login(attacker, "alice", "wrong password!")
            if response.status_code != 429:
                break
            fake_clock.advance(s=int(response.headers["Retry-After"]))
        assert response.status_code == 401
        blocked = _login(attacker, "alice", "wrong password!")
        waits.append(int(blocked.headers["Retry-After"]) if blocked.status_code == 429 else 0)
        if blocked.status_code == 429:
            fake_clock.advance(s=waits[-1])
    # Two free failures, then 1, 2, 4, 8 s and the cap (login_lockout_s = 10 s).
    assert waits == [0, 1, 2, 4, 8, 10, 10]


def test_spraying_many_accounts_from_one_address_is_slowed_too(tmp_path: Path, sqlite_url: str, fake_clock: FakeClock) -> None:
    console = build_console(tmp_path, sqlite_url, fake_clock, login_max_failures=2, login_lockout_s=60)
    for name in ("alice", "bob", "carol", "dave", "erin"):
        console.add_user(name)
    sprayer = console.client()
    sprayer.environ_base["REMOTE_ADDR"] = ATTACKER
    # Two tries per account stay within each pair's free failures; the address allows 4 x 2 = 8.
    answers = [_login(sprayer, name, "Summer2026!!").status_code for name in ("alice", "bob", "carol", "dave") for _ in range(2)]
    assert answers == [401] * 8
    assert _login(sprayer, "erin", "Summer2026!!").status_code == 401  # the 9th failure of the address
    assert _login(sprayer, "erin", PASSWORD).status_code == 429
    fake_clock.advance(s=1)
    assert _login(sprayer, "erin", PASSWORD).status_code == 302


def test_a_right_password_resets_the_pair_count(tmp_path: Path, sqlite_url: str, fake_clock: FakeClock) -> None:
    console = build_console(tmp_path, sqlite_url, fake_clock, login_max_failures=2, login_lockout_s=60)
    console.add_user("alice", UserRole.ADMIN)
    client = console.client()
    for _ in range(2):
        assert _login(client, "alice", "typo typo typo").status_code == 401
    assert _login(client, "alice", PASSWORD).status_code == 302
    fresh = console.client()
    for _ in range(2):
        assert _login(fresh, "alice", "typo typo typo").status_code == 401
    assert _login(fresh, "alice", PASSWORD).status_code == 302
    with console.db.read_session() as session:
        assert users.count_users(session) == 1
