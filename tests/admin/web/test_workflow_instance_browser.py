"""In headless Chromium: a finished workflow instance with a failed step shows its graph with
that step marked failed; "Re-run from the failed steps" (confirmed) puts it back to running."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright
from werkzeug.serving import make_server

from shardcron.admin.enums import StepStatus, UserRole, WorkflowStatus
from shardcron.core.clock import FakeClock
from tests.support import admin_data as data
from tests.support.browser import launch_chromium
from tests.support.console import PASSWORD, Console, build_console
from tests.support.workflow_view_rows import add_instance, add_step_run, add_step_run_log, add_workflow, chain


@pytest.fixture
def served(tmp_path: Path, sqlite_url: str) -> Iterator[tuple[Console, str]]:
    """The console on SQLite, served on a local port to the browser."""
    console = build_console(tmp_path, sqlite_url, FakeClock(data.NOW))
    server = make_server("127.0.0.1", 0, console.app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="console-under-test", daemon=True)
    thread.start()
    try:
        yield console, f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        console.db.dispose()


def _failed_instance(console: Console) -> int:
    db, now = console.db, data.NOW
    g = data.add_group(db, "etl")
    extract, load = data.add_job(db, g, "extract"), data.add_job(db, g, "load")
    definition = chain(("extract", extract), ("load", load))
    w = add_workflow(db, g, "nightly etl", definition)
    inst = add_instance(db, w, definition, status=WorkflowStatus.FAILED, created_at_ms=now - 60_000, finished_at_ms=now - 1000, message="step load failed")
    done = add_step_run(db, inst, "extract", extract, StepStatus.SUCCEEDED, result={"rows": 3}, started_at_ms=now - 60_000, finished_at_ms=now - 30_000)
    add_step_run(db, inst, "load", load, StepStatus.FAILED, started_at_ms=now - 30_000, finished_at_ms=now - 1000, message="disk full")
    add_step_run_log(db, done, extract, g)
    return inst


def test_a_failed_step_is_shown_failed_and_rerun_from_failed_runs_it_again(served: tuple[Console, str], tmp_path: Path) -> None:
    console, base_url = served
    console.add_user("root", UserRole.ADMIN)
    instance_id = _failed_instance(console)
    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
            page.on("dialog", lambda dialog: dialog.accept())
            page.goto(base_url + "/login")
            page.fill("#f-username", "root")
            page.fill("#f-password", PASSWORD)
            page.click("button:has-text('Log in')")
            expect(page).not_to_have_url(re.compile(r"/login"))
            page.goto(f"{base_url}/workflow-instances/{instance_id}")

            load = page.locator("#instance-graph g.wf-node[data-key=load]")
            expect(load).to_have_attribute("data-state", "FAILED")
            expect(load).to_have_class(re.compile(r"\bwf-state-failed\b"))
            expect(load).to_contain_text("✗ FAILED")  # in words too, not by colour alone
            expect(page.locator("#instance-graph g.wf-node[data-key=extract]")).to_have_attribute("data-state", "SUCCEEDED")
            assert page.locator("#instance-graph g.wf-node[data-key=load] rect").evaluate("r => getComputedStyle(r).stroke") == "rgb(179, 38, 30)"

            page.screenshot(path=str(tmp_path / "failed.png"), full_page=True)
            page.click("#rerun-failed")
            expect(page.locator(".flash")).to_contain_text("re-run")
            expect(page.locator("h1 .badge")).to_have_text("RUNNING")
            expect(load).not_to_have_attribute("data-state", "FAILED")
            expect(page.locator("#instance-area")).to_have_attribute("data-autorefresh", "2000")
            page.screenshot(path=str(tmp_path / "rerun.png"), full_page=True)
        finally:
            browser.close()
    assert problems == []
