"""Console authentication: setup, login, throttling, session expiry and invalidation, CSRF,
cookies, security headers, safe redirects."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from shardcron.admin.auth.headers import CONTENT_SECURITY_POLICY
from shardcron.admin.enums import UserRole
from shardcron.admin.services import users
from tests.support.console import PASSWORD, Console, build_console, csrf_of, page_csrf, post_form

PAGES = ["/", "/groups", "/jobs", "/runs", "/users", "/account"]


def test_anonymous_pages_redirect_to_login(console: Console) -> None:
    console.add_user("alice", UserRole.ADMIN)
    client = console.client()
    for path in PAGES:
        response = client.get(path)
        assert response.status_code == 302, path
        assert response.headers["Location"].startswith("/login?next="), path


#: The language switch serves the login page too (tests/admin/web/test_language.py).
PUBLIC_ENDPOINTS = {"web.login", "web.setup", "web.static", "web.account_language"}


def test_every_console_route_needs_a_login(console: Console) -> None:
    console.add_user("alice", UserRole.ADMIN)
    client = console.client()
    checked = 0
    for rule in console.app.url_map.iter_rules():
        if not rule.endpoint.startswith("web.") or rule.endpoint in PUBLIC_ENDPOINTS:
            continue
        path = re.sub(r"<id:[a-z_]+>", "1", rule.rule)
        for method in sorted(rule.methods & {"GET", "POST"}):
            response = client.open(path, method=method, data={"csrf_token": page_csrf(client, "/login")} if method == "POST" else None)
            if rule.endpoint == "web.logout":
                assert response.status_code == 302, path  # logging out anonymously is harmless
                continue
            assert response.status_code == 302 and response.headers["Location"].startswith("/login"), (method, path, response.status_code)
            checked += 1
    assert checked >= 20


def test_json_clients_get_401_not_a_redirect(console: Console) -> None:
    console.add_user("alice", UserRole.ADMIN)
    response = console.client().get("/jobs", headers={"Accept": "application/json"})
    assert response.status_code == 401
    assert "authentication required" in response.get_json()["error"]["message"]


def test_setup_page_only_while_no_user_exists(console: Console) -> None:
    code = console.setup_code()
    client = console.client()
    assert client.get("/login").headers["Location"] == "/setup"
    page = client.get("/setup")
    assert page.status_code == 200 and b"Create admin" in page.data
    form = {"code": code, "username": "root", "password": PASSWORD, "password_again": PASSWORD}
    response = post_form(client, "/setup", form, csrf_from="/setup")
    # Setup logs the new admin in: the next page is the groups page, with no login in between.
    assert response.status_code == 302 and response.headers["Location"] == "/groups"
    groups = client.get("/groups")
    assert groups.status_code == 200 and b"you are logged in" in groups.data
    with console.db.read_session() as session:
        assert [u.username for u in users.list_users(session, users.actor_for_user(session, 1))] == ["root"]
        assert users.actor_for_user(session, 1).role == UserRole.ADMIN
    # Once a user exists the page is gone, for GET and POST alike.
    assert client.get("/setup").status_code == 404
    again = post_form(client, "/setup", {**form, "username": "mallory"}, csrf_from="/groups")
    assert again.status_code == 404
    with console.db.read_session() as session:
        assert users.count_users(session) == 1


def test_setup_shows_field_errors_and_saves_nothing(console: Console) -> None:
    code = console.setup_code()
    client = console.client()
    response = post_form(client, "/setup", {"code": code, "username": "root", "password": "short", "password_again": "short"}, csrf_from="/setup")
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert 'id="err-password"' in html and "at least 10 characters" in html
    mismatch = post_form(client, "/setup", {"code": code, "username": "root", "password": PASSWORD, "password_again": PASSWORD + "x"}, csrf_from="/setup")
    assert mismatch.status_code == 400 and "the two passwords differ" in mismatch.get_data(as_text=True)
    with console.db.read_session() as session:
        assert users.count_users(session) == 0


def test_login_sets_a_hardened_cookie_and_logout_ends_it(console: Console) -> None:
    console.add_user("alice", UserRole.ADMIN)
    client = console.client()
    response = post_form(client, "/login", {"username": "alice", "password": PASSWORD}, csrf_from="/login")
    assert response.status_code == 302 and response.headers["Location"] == "/"
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("shardcron_session=")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    assert client.get("/account").status_code == 200
    assert post_form(client, "/logout", {}).status_code == 302
    assert client.get("/account").status_code == 302


def test_secure_cookie_when_configured(tmp_path: Path, sqlite_url: str, fake_clock) -> None:
    console = build_console(tmp_path, sqlite_url, fake_clock, session_cookie_secure=True)
    console.add_user("alice", UserRole.ADMIN)
    response = post_form(console.client(), "/login", {"username": "alice", "password": PASSWORD}, csrf_from="/login")
    assert "Secure" in response.headers["Set-Cookie"]


def test_login_rotates_the_csrf_token(console: Console) -> None:
    console.add_user("alice", UserRole.ADMIN)
    client = console.client()
    before = page_csrf(client, "/login")
    post_form(client, "/login", {"username": "alice", "password": PASSWORD}, csrf=before)
    assert page_csrf(client, "/account") != before


def test_wrong_password_is_refused_with_one_message(console: Console) -> None:
    console.add_user("alice", UserRole.ADMIN)
    client = console.client()
    wrong = post_form(client, "/login", {"username": "alice", "password": "nope nope nope"}, csrf_from="/login")
    unknown = post_form(client, "/login", {"username": "nobody", "password": PASSWORD}, csrf_from="/login")
    assert wrong.status_code == unknown.status_code == 401
    assert users.LOGIN_FAILED_MESSAGE in wrong.get_data(as_text=True)
    assert users.LOGIN_FAILED_MESSAGE in unknown.get_data(as_text=True)
    assert client.get("/account").status_code == 302


def test_login_is_throttled_after_repeated_failures(tmp_path: Path, sqlite_url: str, fake_clock) -> None:
    """Failures from one address make that address wait, longer each time (1 s, 2 s, ...)."""
    console = build_console(tmp_path, sqlite_url, fake_clock, login_max_failures=3, login_lockout_s=60)
    console.add_user("alice", UserRole.ADMIN)
    client = console.client()
    for _ in range(3):
        assert post_form(client, "/login", {"username": "alice", "password": "wrong password!"}, csrf_from="/login").status_code == 401
    assert post_form(client, "/login", {"username": "alice", "password": "wrong password!"}, csrf_from="/login").status_code == 401
    # The 4th failure bought a 1 s wait: even the right password is not checked before it ends.
    waiting = post_form(client, "/login", {"username": "alice", "password": PASSWORD}, csrf_from="/login")
    assert waiting.status_code == 429 and waiting.headers["Retry-After"] == "1"
    fake_clock.advance(s=1)
    assert post_form(client, "/login", {"username": "alice", "password": "wrong password!"}, csrf_from="/login").status_code == 401
    assert post_form(client, "/login", {"username": "alice", "password": PASSWORD}, csrf_from="/login").headers["Retry-After"] == "2"
    fake_clock.advance(s=2)
    assert post_form(client, "/login", {"username": "alice", "password": PASSWORD}, csrf_from="/login").status_code == 302


def test_session_expires_when_idle(tmp_path: Path, sqlite_url: str, fake_clock) -> None:
    console = build_console(tmp_path, sqlite_url, fake_clock, session_lifetime_minutes=30)
    console.add_user("alice", UserRole.ADMIN)
    client = console.login("alice")
    fake_clock.advance(s=29 * 60)
    assert client.get("/account").status_code == 200  # used: the idle timer restarts
    fake_clock.advance(s=29 * 60)
    assert client.get("/account").status_code == 200
    fake_clock.advance(s=31 * 60)
    response = client.get("/account")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_session_ends_at_its_absolute_age_however_busy(tmp_path: Path, sqlite_url: str, fake_clock) -> None:
    console = build_console(tmp_path, sqlite_url, fake_clock, session_lifetime_minutes=60, session_max_age_hours=2)
    console.add_user("alice", UserRole.ADMIN)
    client = console.login("alice")
    for _ in range(3):
        fake_clock.advance(s=40 * 60)
        assert client.get("/account").status_code == 200
    fake_clock.advance(s=40 * 60 + 1)  # 160 min after login, 40 min after last use
    assert client.get("/account").status_code == 302


def test_password_change_ends_other_sessions_but_not_this_one(console: Console) -> None:
    console.add_user("alice", UserRole.ADMIN)
    laptop, phone = console.login("alice"), console.login("alice")
    new_password = "a brand new secret"
    response = post_form(laptop, "/account", {"action": "password", "current_password": PASSWORD, "new_password": new_password})
    assert response.status_code == 302
    assert laptop.get("/account").status_code == 200
    assert phone.get("/account").status_code == 302
    console.login("alice", new_password)


def test_wrong_current_password_is_a_field_error(console: Console) -> None:
    console.add_user("alice", UserRole.ADMIN)
    client = console.login("alice")
    response = post_form(client, "/account", {"action": "password", "current_password": "not it at all", "new_password": "another secret!"})
    assert response.status_code == 400
    assert 'id="err-current_password"' in response.get_data(as_text=True)
    console.login("alice")  # the old password still works


def test_role_change_ends_the_users_sessions(console: Console) -> None:
    console.add_user("root", UserRole.ADMIN)
    bob_id = console.add_user("bob", UserRole.ADMIN)
    bob = console.login("bob")
    root = console.login("root")
    assert post_form(root, f"/users/{bob_id}", {"action": "role", "role": "USER"}).status_code == 302
    assert bob.get("/account").status_code == 302


def test_deleted_user_is_logged_out(console: Console) -> None:
    console.add_user("root", UserRole.ADMIN)
    bob_id = console.add_user("bob")
    bob = console.login("bob")
    assert bob.get("/account").status_code == 200
    assert post_form(console.login("root"), f"/users/{bob_id}", {"action": "delete"}).status_code == 302
    assert bob.get("/account").status_code == 302


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:alert(1)"])
def test_login_never_redirects_off_site(console: Console, target: str) -> None:
    console.add_user("alice", UserRole.ADMIN)
    client = console.client()
    response = post_form(client, "/login", {"username": "alice", "password": PASSWORD, "next": target}, csrf_from="/login")
    assert response.headers["Location"] == "/"


def test_login_returns_to_the_page_asked_for(console: Console) -> None:
    console.add_user("alice", UserRole.ADMIN)
    client = console.client()
    asked = client.get("/runs?status=FAILED")
    login_page = client.get(asked.headers["Location"])
    assert 'name="next" value="/runs?status=FAILED"' in login_page.get_data(as_text=True)
    response = post_form(client, "/login", {"username": "alice", "password": PASSWORD, "next": "/runs?status=FAILED"}, csrf=csrf_of(login_page.get_data(as_text=True)))
    assert response.headers["Location"] == "/runs?status=FAILED"


def test_security_headers_on_pages(console: Console) -> None:
    response = console.client().get("/setup")
    assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert "script-src 'self'" in CONTENT_SECURITY_POLICY and "unsafe-inline" not in CONTENT_SECURITY_POLICY
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"


def test_static_files_are_served_from_the_package(console: Console) -> None:
    client = console.client()
    for name, kind in (("console.css", "text/css"), ("console.js", "javascript"), ("favicon.svg", "image/svg+xml")):
        response = client.get(f"/assets/{name}")
        assert response.status_code == 200 and kind in response.content_type, name


def test_api_token_authenticates_without_cookie_or_csrf(console: Console) -> None:
    console.add_user("alice", UserRole.ADMIN)
    client = console.login("alice")
    page = post_form(client, "/account", {"action": "issue_token", "token_name": "laptop", "expires_in_days": ""})
    token = page.get_data(as_text=True).split('id="new-token">')[1].split("<")[0]
    assert token.startswith("sct_")
    fresh = console.client()
    assert fresh.get("/account", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert fresh.get("/account", headers={"Authorization": "Bearer sct_wrong"}).status_code == 302
    # Revoked: the token no longer works.
    token_id = re.search(r'name="token_id" value="(\d+)"', page.get_data(as_text=True)).group(1)
    assert post_form(client, "/account", {"action": "revoke_token", "token_id": token_id}).status_code == 302
    assert fresh.get("/account", headers={"Authorization": f"Bearer {token}"}).status_code == 302
