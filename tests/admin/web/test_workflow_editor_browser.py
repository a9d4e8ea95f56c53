"""The workflow editor in headless Chromium against the real console (served over HTTP from a
thread, SQLite): build a 3-step workflow with the form's add-row buttons, watch the graph beside
the form redraw to 3 boxes and 2 arrows as the rows are filled in, see a problem appear for a
step without a job, save, and find the same graph on the saved workflow's page."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect, sync_playwright
from werkzeug.serving import make_server

from shardcron.admin.enums import UserRole
from shardcron.admin.models import Workflow
from shardcron.core.clock import FakeClock
from tests.support import admin_data as data
from tests.support.browser import launch_chromium
from tests.support.console import PASSWORD, Console, build_console


@pytest.fixture
def served(tmp_path: Path, sqlite_url: str) -> Iterator[tuple[Console, str]]:
    console = build_console(tmp_path, sqlite_url, FakeClock())
    console.app.config["TESTING"] = False
    server = make_server("127.0.0.1", 0, console.app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="console-http", daemon=True)
    thread.start()
    try:
        yield console, f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        console.db.dispose()


def fill_step(page: Page, row: int, key: str, job_label: str) -> None:
    cells = page.locator("#wf-step-rows tr").nth(row)
    cells.locator('input[name="step_key"]').fill(key)
    cells.locator('select[name="step_job"]').select_option(label=job_label)


def fill_edge(page: Page, row: int, source: str, target: str, on: str) -> None:
    cells = page.locator("#wf-edge-rows tr").nth(row)
    cells.locator('input[name="edge_from"]').fill(source)
    cells.locator('input[name="edge_to"]').fill(target)
    cells.locator('select[name="edge_on"]').select_option(on)


def test_build_a_three_step_workflow_in_the_browser(served: tuple[Console, str]) -> None:
    console, base = served
    console.add_user("root", UserRole.ADMIN)
    group = data.add_group(console.db, "etl")
    jobs = {name: data.add_job(console.db, group, name) for name in ("extract", "load", "report")}
    labels = {name: f"etl / {name} (#{job_id})" for name, job_id in jobs.items()}
    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            page = browser.new_page()
            expect.set_options(timeout=15_000)
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
            page.goto(base + "/login")
            page.fill("#f-username", "root")
            page.fill("#f-password", PASSWORD)
            page.click("button[type=submit].primary")
            page.goto(base + "/workflows")
            page.click("text=New workflow")
            expect(page).to_have_url(re.compile(r"/workflows/new$"))
            page.fill("#f-name", "nightly etl")
            page.select_option("#f-group_id", str(group))
            fill_step(page, 0, "extract", labels["extract"])
            page.click("button[data-add-row=wf-step]")
            page.click("button[data-add-row=wf-step]")
            fill_step(page, 1, "load", labels["load"])
            page.locator("#wf-step-rows tr").nth(2).locator('input[name="step_key"]').fill("report")
            # a step without its job yet: the graph shows it, and the problem is named
            expect(page.locator("#wf-graph svg[data-steps='3'][data-edges='0']")).to_be_visible()
            expect(page.locator("#wf-problems")).to_contain_text("steps[2].job_id")
            page.locator("#wf-step-rows tr").nth(2).locator('select[name="step_job"]').select_option(label=labels["report"])
            page.click("button[data-add-row=wf-edge]")
            page.click("button[data-add-row=wf-edge]")
            fill_edge(page, 0, "extract", "load", "SUCCESS")
            fill_edge(page, 1, "load", "report", "FAILURE")
            graph = page.locator("#wf-graph svg[data-steps='3'][data-edges='2']")
            expect(graph).to_be_visible()
            expect(page.locator("#wf-problems li")).to_have_count(0)
            expect(graph.locator("g.wf-node")).to_have_count(3)
            expect(graph.locator("g.wf-edge")).to_have_count(2)
            expect(graph.locator("g.wf-edge-failure text")).to_have_text("on failure")
            expect(graph.locator("g.wf-node[data-key='report'] text.wf-node-job")).to_have_text("report")
            # the SVG draws: each box has a real size on screen
            assert graph.locator("g.wf-node[data-key='load'] rect").bounding_box()["width"] > 20
            page.click("#workflow-form button[type=submit].primary")
            expect(page).to_have_url(re.compile(r"/workflows/\d+$"))
            expect(page.locator(".flash-success")).to_contain_text("nightly etl")
            saved = page.locator("#wf-graph svg")
            expect(saved.locator("g.wf-node")).to_have_count(3)
            expect(saved.locator("g.wf-edge")).to_have_count(2)
        finally:
            browser.close()
    assert errors == []
    with console.db.read_session() as s:
        stored = s.scalar(sa.select(Workflow.definition_json).where(Workflow.name == "nightly etl"))
    assert '"from":"load","to":"report","on":"FAILURE"' in stored
