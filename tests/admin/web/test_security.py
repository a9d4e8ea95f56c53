"""CSRF on every state-changing console route, per-group permissions, and escaping."""

from __future__ import annotations

import re

import sqlalchemy as sa

from shardcron.admin.enums import RunStatus, UserRole
from shardcron.admin.models import ExecutorGroup, Fire, Job, RunLog, User
from shardcron.core.protocol import LogResult
from tests.support import admin_data as data
from tests.support.console import Console, page_csrf, post_form

EVIL = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"


def _state_changing_routes(console: Console) -> list[str]:
    """Every console route that accepts POST/PUT/PATCH/DELETE, with ids filled in as 1."""
    paths = []
    for rule in console.app.url_map.iter_rules():
        if rule.endpoint.startswith("web.") and rule.methods & {"POST", "PUT", "PATCH", "DELETE"}:
            paths.append(re.sub(r"<id:[a-z_]+>", "1", rule.rule))
    return sorted(paths)


def _snapshot(console: Console) -> tuple:
    with console.db.read_session() as session:
        return tuple(
            session.execute(sa.select(sa.func.count()).select_from(model)).scalar_one()
            for model in (ExecutorGroup, Job, Fire, RunLog, User)
        ) + tuple(session.execute(sa.select(Job.enabled, Job.name)).all()) + tuple(session.execute(sa.select(User.password_hash, User.role, User.api_token_hash)).all())


def test_every_state_changing_route_refuses_a_missing_or_wrong_csrf_token(console: Console) -> None:
    console.add_user("root", UserRole.ADMIN)
    console.add_user("bob")
    group_id = data.add_group(console.db, "billing")
    job_id = data.add_job(console.db, group_id, "drain")
    data.add_run(console.db, job_id, group_id, status=RunStatus.RUNNING, executor_address="http://127.0.0.1:9001")
    client = console.login("root")
    routes = _state_changing_routes(console)
    # The set is what the console offers; a new route must show up here (and be protected).
    assert routes == [
        "/account", "/account/language", "/backfills/1/cancel", "/calendars/1", "/calendars/1/delete", "/calendars/new", "/groups/1",
        "/groups/1/delete", "/groups/new", "/jobs/1", "/jobs/1/backfills", "/jobs/1/copy", "/jobs/1/delete", "/jobs/1/start", "/jobs/1/stop",
        "/jobs/1/trigger",
        "/jobs/1/versions/1/rollback", "/jobs/new",
        "/login", "/logout", "/runs/1/kill", "/runs/1/repair", "/runs/cleanup", "/setup", "/transfer/check", "/transfer/import", "/users", "/users/1",
        "/workflows/1", "/workflows/1/copy", "/workflows/1/delete", "/workflows/1/start", "/workflows/1/stop", "/workflows/new", "/workflows/preview",
    ]
    before = _snapshot(console)
    for path in routes:
        form = {"action": "delete", "app_name": "x", "name": "x", "username": "eve", "password": "p" * 12, "new_password": "q" * 12}
        assert client.post(path, data=form).status_code == 403, path
        assert client.post(path, data={**form, "csrf_token": "forged"}).status_code == 403, path
        assert client.post(path, data=form, headers={"X-CSRF-Token": "forged"}).status_code == 403, path
    assert _snapshot(console) == before
    assert client.get("/account").status_code == 200  # still logged in: logout needed the token too


def test_setup_refuses_a_missing_csrf_token_while_no_user_exists(console: Console) -> None:
    client = console.client()
    client.get("/setup")
    form = {"username": "root", "password": "p" * 12, "password_again": "p" * 12}
    assert client.post("/setup", data=form).status_code == 403
    assert client.post("/setup", data={**form, "csrf_token": "forged"}).status_code == 403
    assert _snapshot(console)[4] == 0


def test_csrf_header_is_accepted_for_fetch_calls(console: Console) -> None:
    console.add_user("root", UserRole.ADMIN)
    group_id = data.add_group(console.db, "billing")
    data.add_job(console.db, group_id, "drain", schedule_conf="0 * * * *")
    client = console.login("root")
    token = page_csrf(client, "/jobs")
    assert client.post("/jobs/1/start", headers={"X-CSRF-Token": token}).status_code == 302
    with console.db.read_session() as session:
        assert session.scalar(sa.select(Job.enabled)) is True


def test_a_user_sees_and_acts_only_on_granted_groups(console: Console) -> None:
    console.add_user("root", UserRole.ADMIN)
    mine = data.add_group(console.db, "mine")
    theirs = data.add_group(console.db, "theirs")
    my_job = data.add_job(console.db, mine, "my-job")
    their_job = data.add_job(console.db, theirs, "their-job", schedule_conf="0 * * * *")
    data.add_executor(console.db, "theirs", "http://127.0.0.1:9009", heartbeat_at_ms=console.clock.now_ms())
    my_run = data.add_run(console.db, my_job, mine, handle_msg="my-run-msg")
    their_run = data.add_run(console.db, their_job, theirs, status=RunStatus.RUNNING, handle_msg="their-run-msg", executor_address="http://127.0.0.1:9009")
    console.add_user("bob", UserRole.USER, [mine])
    bob = console.login("bob")

    assert "my-job" in bob.get("/jobs").get_data(as_text=True)
    assert "their-job" not in bob.get("/jobs").get_data(as_text=True)
    assert "their-job" not in bob.get(f"/jobs?group_id={theirs}").get_data(as_text=True)
    groups_page = bob.get("/groups").get_data(as_text=True)
    assert "mine" in groups_page and "theirs" not in groups_page and "127.0.0.1:9009" not in groups_page
    runs_page = bob.get("/runs").get_data(as_text=True)
    assert "my-run-msg" in runs_page and "their-run-msg" not in runs_page
    assert bob.get(f"/runs/{my_run}").status_code == 200
    for path in (f"/jobs/{their_job}", f"/jobs/{their_job}/trigger", f"/runs/{their_run}", f"/runs/{their_run}/log"):
        assert bob.get(path).status_code == 404, path
    before = _snapshot(console)
    for path in ("start", "stop", "copy", "delete", "trigger"):
        assert post_form(bob, f"/jobs/{their_job}/{path}", {"target": "whole"}).status_code == 404, path
    assert post_form(bob, f"/runs/{their_run}/kill", {}).status_code == 404
    moved = post_form(bob, f"/jobs/{my_job}", {"name": "my-job", "group_id": str(theirs), "schedule_type": "CRON", "schedule_conf": "0 * * * *", "timezone": "UTC", "handler": "h"})
    assert moved.status_code == 400 and 'id="err-group_id"' in moved.get_data(as_text=True)
    assert _snapshot(console) == before
    # Admin-only pages.
    assert bob.get("/users").status_code == 403
    assert bob.get("/groups/new").status_code == 403
    assert post_form(bob, f"/groups/{mine}/delete", {}).status_code == 403
    assert bob.get("/").status_code == 200


def test_user_supplied_text_renders_inert_everywhere(console: Console) -> None:
    console.add_user("root", UserRole.ADMIN)
    client = console.login("root")
    group_id = data.add_group(console.db, "billing")
    with console.db.session() as session:
        session.get(ExecutorGroup, group_id).title = EVIL
    job_id = data.add_job(console.db, group_id, EVIL, param=EVIL, handler="h" + EVIL[:20], author=EVIL)
    data.add_executor(console.db, "billing", "http://127.0.0.1:9001", heartbeat_at_ms=console.clock.now_ms())
    run_id = data.add_run(
        console.db, job_id, group_id, status=RunStatus.FAILED, param=EVIL, handle_msg=EVIL, trigger_msg=EVIL,
        executor_address="http://127.0.0.1:9001", trigger_at_ms=console.clock.now_ms(), result_json='{"note": "' + EVIL.replace("/", "\\/") + '"}',
    )
    pages = ["/", "/groups", "/jobs", f"/jobs/{job_id}", f"/jobs/{job_id}/trigger", "/runs", f"/runs/{run_id}", "/users"]
    for path in pages:
        html = client.get(path).get_data(as_text=True)
        assert EVIL not in html, path
        assert "<script>" not in html.replace('<script src="/assets/console.js" defer></script>', ""), path
    assert ESCAPED in client.get("/jobs").get_data(as_text=True)
    assert ESCAPED in client.get(f"/runs/{run_id}").get_data(as_text=True)

    class HtmlLog:
        def log(self, address, log_date_ms, log_id, from_line=1):
            return LogResult(from_line_num=1, to_line_num=1, log_content=EVIL + "\n", is_end=True)

    console.app.extensions["shardcron.executor_client"] = HtmlLog()
    answer = client.get(f"/runs/{run_id}/log")
    # JSON, never HTML: the page's script inserts it as text.
    assert answer.content_type == "application/json" and answer.get_json()["content"] == EVIL + "\n"
    assert answer.headers["X-Content-Type-Options"] == "nosniff"


def test_setup_and_login_pages_escape_what_was_typed(console: Console) -> None:
    client = console.client()
    response = post_form(client, "/setup", {"username": EVIL, "password": "short", "password_again": "short"}, csrf_from="/setup")
    html = response.get_data(as_text=True)
    assert EVIL not in html and ESCAPED in html
