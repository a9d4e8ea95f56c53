"""The console and the audit trail: every form that changes something leaves an entry naming the
console user and their address (a new form fails the walk until it is added), and the Audit page
lists, filters and scopes the entries, with a form error for a bad filter (never a 500)."""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa

from shardcron.admin.enums import RunStatus, UserRole
from shardcron.admin.models import ApiToken, AuditEntry, GlueVersion
from shardcron.admin.services import api_tokens, users
from tests.support import admin_data as data
from tests.support import workflow_view_rows as workflow_rows
from tests.support.console import PASSWORD, Console, post_form

#: Console forms that change nothing a person made: a login opens a session, a logout ends it,
#: the language switch keeps a display preference.
#: transfer_check is an import's dry run: it writes nothing.
NOT_CHANGES = {"web.login", "web.logout", "web.account_language", "web.transfer_check", "web.workflow_preview"}
NEW_PASSWORD = "a brand new password"


def _entries(console: Console) -> list[AuditEntry]:
    with console.db.read_session() as s:
        rows = list(s.scalars(sa.select(AuditEntry).order_by(AuditEntry.id)))
        s.expunge_all()
        return rows


def _job_form(group_id: int, **overrides) -> dict:
    form = {
        "name": "nightly", "group_id": str(group_id), "author": "ops", "schedule_type": "CRON", "schedule_conf": "0 0 2 * * ?",
        "timezone": "UTC", "misfire_strategy": "DO_NOTHING", "delivery": "AT_MOST_ONCE", "overlap_policy": "ALLOW_ALL", "jitter_s": "0", "route_strategy": "FIRST",
        "block_strategy": "SERIAL_EXECUTION", "handler": "sync", "glue_type": "BEAN", "glue_source": "", "param": "", "timeout_s": "0",
        "retry_count": "0", "retry_delay_s": "10", "retry_backoff_multiplier": "2", "retry_max_delay_s": "600", "alarm_emails": "",
        "alarm_webhook": "", "child_job_ids": "",
    }  # fmt: skip
    form.update(overrides)
    return form


def _workflow_form(group_id: int, job_id: int, **over) -> dict:
    form = {"name": "flow", "group_id": str(group_id), "description": "", "author": "", "schedule_type": "CRON", "schedule_conf": "0 0 3 * * ?",
            "timezone": "UTC", "misfire_strategy": "DO_NOTHING", "overlap_policy": "ALLOW_ALL", "timeout_s": "0", "alarm_emails": "", "alarm_webhook": "",
            "step_key": ["a"], "step_job": [str(job_id)], "step_param": [""], "step_join": ["ALL"]}
    form.update(over)
    return form


def _scalar(console: Console, stmt):
    with console.db.read_session() as s:
        return s.scalar(stmt)


def test_every_console_form_that_changes_something_leaves_an_entry(console: Console) -> None:
    stranger = console.client()
    code = console.setup_code()
    setup = lambda: post_form(stranger, "/setup", {"code": code, "username": "root", "password": PASSWORD, "password_again": PASSWORD}, csrf_from="/setup")  # noqa: E731
    walk: list[tuple[str, Callable[[], object]]] = [("web.setup", setup)]
    state: dict[str, object] = {}

    def client():
        if "client" not in state:
            state["client"] = console.login("root")
        return state["client"]

    def post(path: str, form: dict):
        return post_form(client(), path, form)

    def group():
        return _scalar(console, sa.text("SELECT id FROM sc_executor_group ORDER BY id LIMIT 1"))

    def workflow(name: str = "flow"):
        return _scalar(console, sa.text("SELECT id FROM sc_workflow WHERE name = :n").bindparams(n=name))

    def job(name: str = "nightly"):
        return _scalar(console, sa.text("SELECT id FROM sc_job WHERE name = :n").bindparams(n=name))

    def calendar():
        return _scalar(console, sa.text("SELECT id FROM sc_calendar WHERE name = 'holidays'"))

    def user_id(name: str):
        return _scalar(console, sa.text("SELECT id FROM sc_user WHERE username = :n").bindparams(n=name))

    def rollback():
        version = _scalar(console, sa.select(GlueVersion.id).where(GlueVersion.job_id == job()).order_by(GlueVersion.id).limit(1))
        return post(f"/jobs/{job()}/versions/{version}/rollback", {})

    def kill():
        run = data.add_run(console.db, job(), group(), status=RunStatus.RUNNING, executor_address="http://10.9.9.9:9999")
        return post(f"/runs/{run}/kill", {})

    def repair():  # its executor is no live executor of the group: lost, so repaired at once
        run = data.add_run(console.db, job(), group(), status=RunStatus.RUNNING, executor_address="http://10.9.9.9:9999")
        return post(f"/runs/{run}/repair", {})

    def revoke_for(user: int, path: str):
        with console.db.session() as s:
            view, _ = api_tokens.issue_token(s, users.actor_for_user(s, user), user, "ci", now_ms=data.NOW)
        return post(path, {"action": "revoke_token", "token_id": str(view.id)})

    def account_revoke():
        token_id = _scalar(console, sa.select(ApiToken.id).where(ApiToken.user_id == user_id("root")))
        return post("/account", {"action": "revoke_token", "token_id": str(token_id)})

    def instance():
        return _scalar(console, sa.text("SELECT max(id) FROM sc_workflow_instance WHERE triggered_by = 'root'"))


    carol = lambda: user_id("carol")  # noqa: E731
    walk += [
        ("web.group_new", lambda: post("/groups/new", {"app_name": "billing", "title": "", "address_type": "AUTO", "manual_addresses": ""})),
        ("web.group_edit", lambda: post(f"/groups/{group()}", {"app_name": "billing", "title": "Billing team", "address_type": "AUTO", "manual_addresses": ""})),
        ("web.job_new", lambda: post("/jobs/new", _job_form(group()))),
        ("web.job_edit", lambda: post(f"/jobs/{job()}", _job_form(group(), glue_type="GLUE_SHELL", glue_source="echo hi", handler=""))),
        ("web.job_start", lambda: post(f"/jobs/{job()}/start", {})),
        ("web.job_stop", lambda: post(f"/jobs/{job()}/stop", {})),
        ("web.job_trigger", lambda: post(f"/jobs/{job()}/trigger", {"param": "once", "target": "whole", "shard_index": "", "shard_total": "", "address": ""})),
        ("web.job_version_rollback", rollback),
        ("web.job_backfills", lambda: post(f"/jobs/{job()}/backfills", {"from": "2025-12-01T00:00", "to": "2025-12-03T23:59:59", "overlap_policy": "ALLOW_ALL", "pace": "1", "action": "create"})),
        ("web.backfill_cancel", lambda: post(f"/backfills/{_scalar(console, sa.text('SELECT max(id) FROM sc_backfill'))}/cancel", {})),
        ("web.calendar_new", lambda: post("/calendars/new", {"name": "holidays", "timezone": "UTC", "description": "", "entries": "2026-12-25"})),
        ("web.calendar_edit", lambda: post(f"/calendars/{calendar()}", {"name": "holidays", "timezone": "UTC", "description": "office", "entries": "2026-12-24..2026-12-26"})),
        ("web.calendar_delete", lambda: post(f"/calendars/{calendar()}/delete", {})),
        ("web.transfer_import", lambda: post("/transfer/import", {"document": '{"shardcron_export": 1, "groups": [{"app_name": "imported"}], "jobs": []}'})),
        ("web.workflow_new", lambda: post("/workflows/new", _workflow_form(group(), job()))),
        ("web.workflow_edit", lambda: post(f"/workflows/{workflow()}", _workflow_form(group(), job(), description="every night"))),
        ("web.workflow_start", lambda: post(f"/workflows/{workflow()}/start", {})),
        ("web.workflow_stop", lambda: post(f"/workflows/{workflow()}/stop", {})),
        ("web.workflow_copy", lambda: post(f"/workflows/{workflow()}/copy", {})),
        ("web.workflow_trigger", lambda: post(f"/workflows/{workflow()}/trigger", {"params": '{"day": "2026-01-01"}'})),
        ("web.workflow_instance_cancel", lambda: post(f"/workflow-instances/{instance()}/cancel", {})),
        ("web.workflow_instance_rerun", lambda: post(f"/workflow-instances/{instance()}/rerun", {"from_step": ""})),
        ("web.workflow_step_skip", lambda: post(f"/workflow-instances/{workflow_rows.add_failed_instance(console.db, workflow(), 'a', job())}/steps/a/skip", {})),
        # The re-run instance runs again: cancelled, so that its workflow may be deleted.
        ("web.workflow_instance_cancel", lambda: post(f"/workflow-instances/{instance()}/cancel", {})),
        ("web.workflow_delete", lambda: (post(f"/workflows/{workflow('flow (copy)')}/delete", {}), post(f"/workflows/{workflow()}/delete", {}))[1]),
        ("web.job_copy", lambda: post(f"/jobs/{job()}/copy", {})),
        ("web.job_delete", lambda: post(f"/jobs/{job('nightly (copy)')}/delete", {})),
        ("web.run_kill", kill),
        ("web.run_repair", repair),
        ("web.runs_cleanup_confirm", lambda: post("/runs/cleanup", {"group_id": "", "job": "nightly", "older_than_days": "0", "keep_last": ""})),
        ("web.user_create", lambda: post("/users", {"username": "carol", "password": PASSWORD, "role": "USER"})),
        ("web.user_edit", lambda: post(f"/users/{carol()}", {"action": "grants", "group_ids": [str(group())]})),
        ("web.user_edit", lambda: post(f"/users/{carol()}", {"action": "scripts", "script_group_ids": [str(group())]})),
        ("web.user_edit", lambda: post(f"/users/{carol()}", {"action": "role", "role": "ADMIN"})),
        ("web.user_edit", lambda: post(f"/users/{carol()}", {"action": "password", "new_password": NEW_PASSWORD})),
        ("web.user_edit", lambda: revoke_for(carol(), f"/users/{carol()}")),
        ("web.user_edit", lambda: post(f"/users/{carol()}", {"action": "delete"})),
        ("web.account", lambda: post("/account", {"action": "issue_token", "token_name": "laptop", "expires_in_days": "30"})),
        ("web.account", account_revoke),
        ("web.account", lambda: post("/account", {"action": "password", "current_password": PASSWORD, "new_password": NEW_PASSWORD})),
        ("web.group_delete", lambda: (post(f"/jobs/{job()}/delete", {}), post(f"/groups/{group()}/delete", {}))[1]),
    ]
    forms = {rule.endpoint for rule in console.app.url_map.iter_rules() if rule.endpoint.startswith("web.") and "POST" in rule.methods}
    assert forms - NOT_CHANGES == {endpoint for endpoint, _ in walk}, "a console form is missing from the walk (or gone)"
    silent = []
    for endpoint, call in walk:
        before = len(_entries(console))
        response = call()
        assert response.status_code < 400, (endpoint, response.status_code, response.get_data(as_text=True)[:2000])
        if len(_entries(console)) <= before:
            silent.append(endpoint)
    assert silent == [], f"these forms changed something and left no audit entry: {silent}"
    entries = _entries(console)
    assert (entries[0].action, entries[0].actor_kind, entries[0].actor_name, entries[0].client_address) == ("user.create", "SETUP", "setup", "127.0.0.1")
    rest = [e for e in entries[1:] if e.actor_kind != "SYSTEM"]  # but the tokens the walk issued through the service
    assert {(e.actor_kind, e.actor_name, e.client_address) for e in rest} == {("CONSOLE", "root", "127.0.0.1")}
    passwords = [(e.action, e.target_name) for e in rest if e.action.startswith("user.password")]
    assert passwords == [("user.password_reset", "carol"), ("user.password_change", "root")]


def test_the_audit_page_lists_filters_and_scopes_entries(console: Console) -> None:
    mine, theirs = data.add_group(console.db, "mine"), data.add_group(console.db, "theirs")
    console.add_user("root", UserRole.ADMIN)
    console.add_user("bob", UserRole.USER, [mine])
    root = console.login("root")
    for gid, name in ((mine, "ours"), (theirs, "not ours")):
        assert post_form(root, "/jobs/new", _job_form(gid, name=name)).status_code == 302
    page = root.get("/audit").get_data(as_text=True)
    assert 'href="/audit"' in page and page.count("data-audit-id=") == 4  # 2 users made by the system, 2 jobs
    assert "ours" in page and "not ours" in page and "schedule_conf" in page
    filtered = root.get("/audit?action=job&actor=root&group_id=" + str(theirs)).get_data(as_text=True)
    assert filtered.count("data-audit-id=") == 1 and "not ours" in filtered
    bob_page = console.login("bob").get("/audit").get_data(as_text=True)
    assert bob_page.count("data-audit-id=") == 1 and "ours" in bob_page and "not ours" not in bob_page
    for query, field in (("group_id=x", "group_id"), ("from=yesterday", "from"), ("range=2y", "range"), ("action=job.explode", "action"), ("page=0", "page")):
        response = root.get(f"/audit?{query}")
        assert response.status_code == 400 and f"{field}:" in response.get_data(as_text=True), query
