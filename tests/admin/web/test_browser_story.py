"""The operator story of issue 6, in headless Chromium against a real `shardcron admin` (web +
scheduler on SQLite) and two real executor processes.

Set up the first admin, log in, add a group and see its live executors, create a broadcast job
with the cron preview, start and stop it, trigger the whole broadcast and one shard with a
parameter, see one row per shard, follow a run's log as it grows until it ends, kill a long run,
read the dashboard — with a screenshot of every page in a directory printed at the start.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from playwright.sync_api import Page, expect, sync_playwright

from tests.support.browser import launch_chromium
from tests.support.executor_process import ROOT, start_executor_process
from tests.support.net import free_port, wait_until

TOKEN = "story-access-token-0123456789"
ADMIN_USER = "operator"
ADMIN_PASSWORD = "a long first password"
EVIL = "<script>alert(1)</script>"


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture(scope="module")
def shots_dir(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Under pytest's own temporary folder (it keeps the last three runs), not a /tmp folder per run.
    folder = tmp_path_factory.mktemp("console-screenshots")
    capture = request.config.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled():
        print(f"\nconsole screenshots: {folder}", flush=True)
    return folder


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """`shardcron admin` on SQLite plus two executors of app `story`."""
    base = tmp_path_factory.mktemp("story")
    admin_port = free_port()
    admin_url = f"http://127.0.0.1:{admin_port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHARDCRON_")}
    env.update(SHARDCRON_INSTANCE_DIR=str(base / "admin"), SHARDCRON_ACCESS_TOKEN=TOKEN, SHARDCRON_SECRET_KEY="story-secret-key-0123456789")
    script = Path(sys.executable).parent / "shardcron"
    admin_log = base / "admin.log"
    processes: list[subprocess.Popen] = []
    with open(admin_log, "ab") as out:
        admin = subprocess.Popen([str(script), "admin", "--bind", f"127.0.0.1:{admin_port}"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    processes.append(admin)
    try:
        wait_until(lambda: _answers(admin_url + "/healthz"), timeout_s=30, what=f"the admin at {admin_url} (log {admin_log})")
        executors = []
        for n in (1, 2):
            port = free_port()
            address = f"http://127.0.0.1:{port}"
            processes.append(
                start_executor_process(
                    "tests.support.console_executor:executor",
                    {
                        "app_name": "story",
                        "admin_addresses": admin_url + "/",
                        "access_token": TOKEN,
                        "listen": f"127.0.0.1:{port}",
                        "advertise_address": address,
                        "data_dir": str(base / f"executor{n}"),
                        "registry_interval_s": "1",
                        "shutdown_timeout_s": "1",
                    },
                    log_path=base / f"executor{n}.log",
                )
            )
            executors.append(address)
        yield {"admin_url": admin_url, "executors": sorted(executors), "logs": base}
    finally:
        for process in reversed(processes):
            _stop(process)


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=1).status_code == 200
    except requests.RequestException:
        return False


class Story:
    """The browser page plus what the story checks on every step."""

    def __init__(self, page: Page, base_url: str, shots: Path) -> None:
        self.page = page
        self.base_url = base_url
        self.shots = shots
        self.count = 0
        self.problems: list[str] = []
        self.dialogs: list[str] = []
        page.on("pageerror", lambda exc: self.problems.append(f"page error: {exc}"))
        page.on("console", self._console)
        page.on("dialog", self._dialog)
        # The page's requests, shown when a step fails (did the auto refresh ask, and what came back).
        self.requests: list[str] = []
        page.on("response", lambda r: self.requests.append(f"{r.request.method} {r.url} -> {r.status}"))
        page.on("requestfailed", lambda r: self.requests.append(f"{r.method} {r.url} -> failed: {r.failure}"))

    def _console(self, message) -> None:
        # 4xx answers the story provokes on purpose (a field error, a wrong password, a bad cron
        # in the preview) are logged by Chromium as "Failed to load resource"; anything else —
        # a CSP violation, a script error — is a defect.
        if "Failed to load resource: the server responded with a status of 4" in message.text:
            return
        if message.type == "error" or "Content Security Policy" in message.text:
            self.problems.append(f"console {message.type}: {message.text}")

    def _dialog(self, dialog) -> None:
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        if dialog.type == "confirm":
            dialog.accept()
        else:  # an alert() would mean injected script ran
            self.problems.append(f"unexpected {dialog.type}: {dialog.message}")
            dialog.dismiss()

    def go(self, path: str) -> None:
        self.page.goto(self.base_url + path)

    def shot(self, name: str) -> None:
        self.count += 1
        self.page.screenshot(path=str(self.shots / f"{self.count:02d}-{name}.png"), full_page=True)

    def flash(self) -> str:
        return self.page.locator(".flash").first.inner_text()


def test_operator_story(stack: dict, shots_dir: Path) -> None:
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(45_000)
            # Assertions wait on the page up to a deadline; a loaded machine needs more than 5 s.
            expect.set_options(timeout=30_000)
            story = Story(page, stack["admin_url"], shots_dir)
            try:
                _walk(story, stack)
            except AssertionError as exc:
                # What the processes said is what explains a step that never came.
                raise AssertionError(f"{exc}\n{_log_tails(stack['logs'])}\n--- the page's last requests:\n" + "\n".join(story.requests[-40:])) from exc
            assert story.problems == [], "\n".join(story.problems)
        finally:
            browser.close()


def _log_tails(folder: Path, lines: int = 40) -> str:
    parts = []
    for log in sorted(folder.glob("*.log")):
        tail = log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]
        parts.append(f"--- last {len(tail)} lines of {log.name}:\n" + "\n".join(tail))
    return "\n".join(parts)


def _walk(story: Story, stack: dict) -> None:
    page = story.page
    executors = stack["executors"]

    # --- first run: no user yet, so the setup page; no default password anywhere.
    story.go("/")
    expect(page).to_have_url(re.compile(r"/setup$"))
    story.shot("setup")
    # Without the code the admin printed (and wrote to its instance folder), no admin is made.
    page.fill("#f-code", "a guessed code")
    page.fill("#f-username", ADMIN_USER)
    page.fill("#f-password", ADMIN_PASSWORD)
    page.fill("#f-password_again", ADMIN_PASSWORD)
    page.click("button:has-text('Create admin')")
    expect(page.locator(".flash-error")).to_contain_text("setup code is missing or wrong")
    code = (stack["logs"] / "admin" / "setup_code").read_text().strip()
    story.go(f"/setup?code={code}")
    page.fill("#f-username", ADMIN_USER)
    page.fill("#f-password", "short")
    page.fill("#f-password_again", "short")
    page.click("button:has-text('Create admin')")
    expect(page.locator("#err-password")).to_contain_text("at least 10 characters")
    story.shot("setup-field-error")
    page.fill("#f-password", ADMIN_PASSWORD)
    page.fill("#f-password_again", ADMIN_PASSWORD)
    page.click("button:has-text('Create admin')")
    # Setup logs the new admin in and points at the first step: an executor group.
    expect(page).to_have_url(re.compile(r"/groups$"))
    expect(page.locator(".flash")).to_contain_text("you are logged in")
    story.shot("setup-logged-in")
    page.click("nav >> text=Log out")
    expect(page).to_have_url(re.compile(r"/login$"))
    story.shot("login")

    # --- log in again (a wrong password first).
    page.fill("#f-username", ADMIN_USER)
    page.fill("#f-password", "not the password")
    page.click("button:has-text('Log in')")
    expect(page.locator(".flash-error")).to_contain_text("wrong username or password")
    page.fill("#f-username", ADMIN_USER)
    page.fill("#f-password", ADMIN_PASSWORD)
    page.click("button:has-text('Log in')")
    expect(page.locator("h1")).to_have_text("Dashboard")
    story.shot("dashboard-empty")

    # --- add the executor group; its two executors show up live with their heartbeats.
    page.click("nav >> text=Executor groups")
    expect(page.locator(".empty")).to_contain_text("No executor groups")
    story.shot("groups-empty")
    page.click("text=New group")
    page.fill("#f-app_name", "story")
    page.fill("#f-title", "Story")
    story.shot("group-form")
    page.click("button:has-text('Save')")
    expect(page.locator(".flash")).to_contain_text("created")

    def both_live() -> bool:
        page.reload()
        text = page.locator("#groups-table").inner_text()
        return all(address in text for address in executors)

    wait_until(both_live, timeout_s=60, interval_s=0.5, what="both executors listed live")
    expect(page.locator("#groups-table")).to_contain_text("last heartbeat")
    story.shot("groups-live-executors")

    # --- create the broadcast job, watching the cron preview.
    page.click("nav >> text=Jobs")
    story.shot("jobs-empty")
    page.click("text=New job")
    page.fill("#f-name", "story broadcast")
    page.select_option("#f-group_id", label="Story (story)")
    page.select_option("#f-schedule_type", "CRON")
    page.fill("#f-timezone", "Europe/Berlin")
    page.fill("#f-schedule_conf", "0 25 * * *")
    expect(page.locator("#fire-preview.error")).to_contain_text("hour")
    page.fill("#f-schedule_conf", "0 9 * * 1-5")
    expect(page.locator("#fire-preview li")).to_have_count(5)
    expect(page.locator("#fire-preview")).to_contain_text("09:00:00 UTC+1 (Europe/Berlin)")
    page.select_option("#f-route_strategy", "SHARDING_BROADCAST")
    page.select_option("#f-block_strategy", "DISCARD_LATER")
    delivery = page.locator("#f-delivery")
    expect(delivery).to_have_value("AT_MOST_ONCE")  # the default
    expect(page.locator(".field:has(#f-delivery) .help")).to_contain_text("skip it and alarm (at most once)")
    page.select_option("#f-delivery", "AT_LEAST_ONCE")
    expect(page.locator("#f-overlap_policy")).to_have_value("ALLOW_ALL")  # the default
    expect(page.locator(".field:has(#f-overlap_policy) .help")).to_contain_text("across the whole cluster")
    page.select_option("#f-overlap_policy", "SKIP")
    page.fill("#f-handler", "story")
    page.fill("#f-param", "default-param")
    page.fill("#f-retry_count", "2")
    page.fill("#f-alarm_emails", "oncall@example.com")
    story.shot("job-form-preview")
    page.click("button:has-text('Create job')")
    expect(page.locator(".flash")).to_contain_text("created")
    job_url = page.url
    expect(page.locator("#f-delivery")).to_have_value("AT_LEAST_ONCE")  # saved
    expect(page.locator("#f-overlap_policy")).to_have_value("SKIP")

    # --- start and stop.
    page.click("button:has-text('Start')")
    expect(page.locator("h1 .badge")).to_have_text("ENABLED")
    expect(page.locator(".flash")).to_contain_text("started")
    story.shot("job-started")
    page.click("button:has-text('Stop')")
    expect(page.locator("h1 .badge")).to_have_text("STOPPED")

    # --- trigger the whole broadcast with a parameter, from the dialog on the job list.
    page.click("nav >> text=Jobs")
    expect(page.locator("#jobs-table")).to_contain_text("story broadcast")
    story.shot("jobs-list")
    page.click("#jobs-table a[data-trigger-url]")
    dialog = page.locator("#trigger-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.locator("[data-job-name]")).to_have_text("story broadcast")
    dialog.locator("#t-param").fill("hello-whole")
    story.shot("trigger-dialog")
    dialog.locator("button:has-text('Trigger now')").click()
    expect(page.locator(".flash")).to_contain_text("Triggered the whole job")
    rows = page.locator("#runs-table tr[data-run-id]")
    expect(rows).to_have_count(2)  # one row per shard, refreshed in place
    shards = sorted(page.locator("#runs-table .shard").all_inner_texts())
    assert shards == ["0/2", "1/2"]
    expect(page.locator("#runs-table tr[data-status='SUCCESS']")).to_have_count(2, timeout=60_000)
    story.shot("runs-whole-broadcast")

    # --- trigger only shard 1 of 2, with its own parameter; follow its log live.
    page.click("nav >> text=Jobs")
    page.click("#jobs-table a[data-trigger-url]")
    dialog.locator("#t-param").fill("only-shard-1")
    dialog.locator("#t-shard").check()
    expect(dialog.locator("#t-shard_index")).to_be_visible()
    dialog.locator("#t-shard_index").fill("1")
    dialog.locator("button:has-text('Trigger now')").click()
    expect(page.locator(".flash")).to_contain_text("Triggered shard 1 of 2")
    expect(rows).to_have_count(3)
    page.locator("#runs-table tr[data-run-id] >> nth=0 >> a").first.click()
    expect(page.locator("#run-facts")).to_contain_text("only-shard-1")
    expect(page.locator("#run-facts")).to_contain_text("1 of 2")
    log = page.locator("#run-log")
    seen_lengths: set[int] = set()

    def log_ended() -> bool:
        seen_lengths.add(len(log.inner_text()))
        return log.get_attribute("data-ended") == "1"

    wait_until(log_ended, timeout_s=60, interval_s=0.2, what="the log tail to reach the end of the run")
    text = log.inner_text()
    assert "param 'only-shard-1'" in text and "story done" in text
    assert "step 10 of 10 <b>not bold</b>" in text and log.locator("b").count() == 0  # log lines are text
    assert len({n for n in seen_lengths if n > 0}) >= 2, f"the log never grew while watched: {sorted(seen_lengths)}"
    expect(page.locator("#log-state")).to_have_text("Log complete.")
    expect(page.locator("#run-facts .badge").first).to_have_text("SUCCESS")
    story.shot("run-detail-log")

    # --- a long run of a second job (named to try an injection), killed from the console.
    story.go("/jobs/new")
    page.fill("#f-name", EVIL + " long")
    page.select_option("#f-group_id", label="Story (story)")
    page.select_option("#f-schedule_type", "NONE")
    page.fill("#f-schedule_conf", "")
    page.fill("#f-handler", "longRun")
    page.click("button:has-text('Create job')")
    expect(page.locator("h1")).to_contain_text(EVIL + " long")
    page.click("text=Trigger…")
    story.shot("trigger-page")
    page.click("button:has-text('Trigger now')")
    expect(rows.first).to_have_attribute("data-status", "RUNNING", timeout=45_000)
    rows.first.locator("a").first.click()
    expect(page.locator("#run-facts .badge").first).to_have_text("RUNNING")
    expect(page.locator("#run-log")).to_contain_text("waiting to be killed")
    story.shot("run-running")
    page.click("#kill-run")
    expect(page.locator(".flash")).to_contain_text("is stopping job")
    expect(page.locator("#run-facts .badge").first).to_have_text("FAILED", timeout=60_000)
    assert any("Kill run" in d for d in story.dialogs)
    story.shot("run-killed")

    # --- the runs of one job, picked by name from the suggestions; then an admin's clean-up of
    # all but its newest run, with the count shown and a confirmation.
    page.click("nav >> text=Runs")
    job_field = page.locator("input[name='job']")
    job_field.click()
    job_field.press_sequentially("broad", delay=50)
    expect(page.locator("#job-names option[value='story broadcast']")).to_have_count(1)
    story.shot("runs-job-suggestions")
    job_field.fill("story broadcast")
    page.click("form.toolbar button:has-text('Filter')")
    expect(job_field).to_have_value("story broadcast")
    assert page.locator("#runs-table tr[data-run-id]").count() >= 3
    expect(page.locator("#runs-table")).not_to_contain_text("long")  # not the other job's runs
    story.shot("runs-by-job-name")
    page.click("#clean-up-link")
    expect(page.locator("#f-job")).to_have_value("story broadcast")
    page.fill("#f-keep_last", "1")
    page.click("button:has-text('Count runs')")
    expect(page.locator("#cleanup-count")).to_contain_text("runs of job story broadcast will be deleted")
    story.shot("runs-cleanup-count")
    page.click("#cleanup-confirm")
    expect(page.locator(".flash")).to_contain_text("Deleted")
    assert any("This cannot be undone" in d for d in story.dialogs)
    expect(page.locator("#runs-table tr[data-run-id]")).to_have_count(1)
    story.shot("runs-cleaned-up")

    # --- the audit trail: who changed what, the clean-up included, then filtered by action.
    page.click("nav >> text=Audit")
    expect(page.locator("#audit-table tr[data-action='job.create']")).not_to_have_count(0)
    expect(page.locator("#audit-table tr[data-action='run.cleanup']")).to_have_count(1)
    story.shot("audit")
    page.select_option("select[name=action]", "run.cleanup")
    page.click("form.toolbar button[type=submit]")
    expect(page.locator("#audit-table tr[data-audit-id]")).to_have_count(1)
    expect(page.locator("#audit-table tr[data-audit-id]")).to_contain_text("operator")
    story.shot("audit-filtered")

    # --- the dashboard.
    page.click("nav >> text=Dashboard")
    expect(page.locator("#stat-jobs")).to_have_text("2")
    expect(page.locator("#stat-executors")).to_have_text("2")
    assert int(page.locator("#stat-runs").inner_text()) >= 2  # the clean-up left two
    expect(page.locator("#daily-chart")).to_be_visible()
    expect(page.locator("#recent-failures")).to_contain_text(EVIL + " long")

    def cards_match_the_chart() -> int:
        """The cards are the totals of the chart's bars (one source): the legend and each table agree."""
        cards = {name: int(page.locator(f"#stat-{name}").inner_text()) for name in ("runs", "success", "failed", "unknown", "running")}
        legend = page.locator("#chart-legend").inner_text()
        for name in ("success", "failed", "unknown", "running"):
            word = {"success": "succeeded", "failed": "failed", "unknown": "outcome unknown", "running": "running"}[name]
            assert f"{word} ({cards[name]})" in legend, (name, legend)
        assert cards["runs"] == cards["success"] + cards["failed"] + cards["unknown"] + cards["running"]
        for table in ("per-group", "per-executor"):
            if page.locator(f"#{table}").count():
                cells = page.locator(f"#{table} tbody td:nth-child(2)").all_inner_texts()
                assert sum(int(c) for c in cells) == cards["runs"], table
        return cards["runs"]

    week = cards_match_the_chart()
    story.shot("dashboard")
    page.click("#dashboard-range >> text=30 days")
    expect(page.locator("#daily-chart g.day")).to_have_count(30)
    assert cards_match_the_chart() >= week
    page.click("#dashboard-range >> text=Today")
    expect(page.locator("#daily-chart g.day")).to_have_count(1)
    cards_match_the_chart()

    # --- users and the operator's own account.
    page.click("nav >> text=Users")
    page.fill("#new-user #f-username", "viewer")
    page.fill("#new-user #f-password", "viewer password 1")
    page.select_option("#new-user #f-role", "USER")
    page.check("#new-user label:has-text('Story (story)') >> xpath=preceding-sibling::input")
    page.click("button:has-text('Create user')")
    expect(page.locator(".flash")).to_contain_text("User viewer created")
    expect(page.locator("table")).to_contain_text("Story (story)")
    story.shot("users")
    page.click("table >> text=viewer")
    expect(page.locator("h1")).to_have_text("User viewer")
    story.shot("user-edit")
    page.click(f"nav >> text={ADMIN_USER}")
    page.fill("#f-token_name", "story script")
    page.click("button:has-text('Issue token')")
    expect(page.locator("#new-token")).to_contain_text("sct_")
    story.shot("account-token")

    # --- phone width: the menu folds, the page does not scroll sideways (cards: _phone_cards).
    page.set_viewport_size({"width": 390, "height": 844})
    story.go("/runs")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    story.shot("phone-runs")
    page.click(".nav-toggle-label")
    expect(page.locator("nav >> text=Jobs")).to_be_visible()
    story.shot("phone-menu")
    story.go(job_url.replace(story.base_url, ""))
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    story.shot("phone-job-form")

    # --- 中文: the header's switch, the same pages in Chinese, times in the one format.
    page.set_viewport_size({"width": 1280, "height": 900})
    story.go("/runs")
    page.click("#language-switch button[value=zh]")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.locator("h1")).to_have_text("调度日志")
    times = page.locator("#runs-table time").all_inner_texts()
    assert times and all(re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC([+-]\d{1,2}(:\d{2})?)?", t) for t in times), times
    story.shot("zh-runs")
    story.go(job_url.replace(story.base_url, ""))
    expect(page.locator("label[for=f-route_strategy]")).to_have_text("路由策略")
    expect(page.locator("label[for=f-block_strategy]")).to_have_text("阻塞处理策略")
    expect(page.locator("#fire-preview li").first).to_contain_text("UTC")
    story.shot("zh-job-form")
    story.go("/")
    expect(page.locator("h1")).to_have_text("运行报表")
    story.shot("zh-dashboard")
    page.click("#language-switch button[value=en]")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("h1")).to_have_text("Dashboard")

    _script_editor(story)
    _phone_cards(story)


FIRST_SCRIPT = 'if true; then\n    echo "hi $USER"  # greet\nfi\n'
SECOND_SCRIPT = 'if true; then\n    echo "hello $USER"  # greet\n    exit 0\nfi\n'


def _script_editor(story: Story) -> None:
    """Write a shell script in the editor (highlighted, numbered, Tab indents), save a second
    version, read its numbered diff, roll back to the first."""
    page = story.page
    story.go("/jobs/new")
    page.fill("#f-name", "story script")
    page.select_option("#f-group_id", label="Story (story)")
    page.select_option("#f-schedule_type", "NONE")
    page.fill("#f-schedule_conf", "")
    page.select_option("#f-glue_type", "GLUE_SHELL")
    editor = page.locator(".code-editor")
    expect(editor).to_have_class(re.compile(r"code-editor-live"))
    expect(editor).to_have_attribute("data-language", "shell")
    area = page.locator("#f-glue_source")
    area.click()
    page.keyboard.type("if true; then\n")
    page.keyboard.press("Tab")  # indents, and the focus stays in the script
    page.keyboard.type('echo "hi $USER"  # greet\nfi\n')
    assert page.evaluate("document.activeElement.id") == "f-glue_source"
    expect(area).to_have_value(FIRST_SCRIPT)
    overlay = page.locator(".code-editor .code-highlight")
    assert overlay.inner_text().rstrip() == FIRST_SCRIPT.rstrip()  # the overlay shows what the field holds
    expect(overlay.locator(".tok-keyword")).to_have_text(["if", "then", "echo", "fi"])
    expect(overlay.locator(".tok-string")).to_have_text(['"hi $USER"'])
    expect(overlay.locator(".tok-comment")).to_have_text(["# greet"])
    assert page.locator(".code-editor .code-gutter").inner_text().split() == ["1", "2", "3", "4"]
    # The overlay lies exactly behind the textarea's text.
    box_area, box_overlay = area.bounding_box(), overlay.bounding_box()
    assert box_area and box_overlay and abs(box_area["x"] - box_overlay["x"]) < 1 and abs(box_area["y"] - box_overlay["y"]) < 1
    # Esc, then Tab: the keyboard leaves the script.
    page.keyboard.press("Escape")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") != "f-glue_source"
    page.fill("#f-glue_remark", "first script")
    story.shot("script-editor")
    page.click("button:has-text('Create job')")
    expect(page.locator(".flash")).to_contain_text("created")

    # A second version, written over the first.
    area.fill(SECOND_SCRIPT)
    assert page.locator(".code-editor .code-gutter").inner_text().split() == ["1", "2", "3", "4", "5"]
    page.fill("#f-glue_remark", "say hello, exit 0")
    page.click("button:has-text('Save job')")
    expect(page.locator(".flash")).to_contain_text("saved")

    # The versions: the newest shown with its numbered diff and its highlighted, numbered source.
    page.click("label[for=f-glue_source] >> text=versions")
    versions = page.locator("#versions tbody tr")
    expect(versions).to_have_count(2)
    diff = page.locator("#diff")
    expect(diff.locator("tr.diff-del td.code")).to_have_text(['-    echo "hi $USER"  # greet'])
    expect(diff.locator("tr.diff-add td.code")).to_have_text(['+    echo "hello $USER"  # greet', "+    exit 0"])
    assert diff.locator("tr.diff-del td.ln").first.get_attribute("data-n") == "2"
    assert [diff.locator("tr.diff-add").nth(i).locator("td.ln").nth(1).get_attribute("data-n") for i in range(2)] == ["2", "3"]
    number = page.evaluate("getComputedStyle(document.querySelector('#diff tr.diff-del td.ln'), '::before').content")
    assert number == '"2"' or "attr(data-n)" in number  # the number is drawn, not copied with the text
    source = page.locator("#source")
    expect(source.locator(".line")).to_have_count(4)
    expect(source).to_have_attribute("data-language", "shell")
    expect(source.locator(".tok-keyword").first).to_have_text("if")
    assert page.evaluate("getComputedStyle(document.querySelector('#source .line'), '::before').content") != "none"
    story.shot("script-versions-diff")

    # Roll back to the first version: kept as a third version, and the job has the first script.
    versions.nth(1).locator("button:has-text('Roll back to this')").click()
    expect(page.locator(".flash")).to_contain_text("put back")
    expect(versions).to_have_count(3)
    assert any("Put version" in d for d in story.dialogs)
    story.shot("script-rolled-back")
    page.click("text=← Job")
    expect(page.locator("#f-glue_source")).to_have_value(FIRST_SCRIPT)


def _card_sizes(page: Page, selector: str) -> list[dict]:
    return page.evaluate(
        """sel => Array.from(document.querySelectorAll(sel)).map(r => {
            const box = r.getBoundingClientRect();
            const labels = Array.from(r.querySelectorAll('td[data-label]')).map(td => getComputedStyle(td, '::before').content);
            const outside = Array.from(r.querySelectorAll('a, button')).filter(el => {
                const b = el.getBoundingClientRect();
                return b.width > 0 && (b.left < 0 || b.right > window.innerWidth);
            }).length;
            return {left: box.left, right: box.right, height: box.height, labels: labels, outside: outside};
        })""",
        selector,
    )


def _phone_cards(story: Story) -> None:
    """At 390 px the job and run tables become cards: nothing wider than the screen, every cell
    named, every action reachable."""
    page = story.page
    page.set_viewport_size({"width": 390, "height": 844})
    fits = "document.documentElement.scrollWidth <= 390"
    for path, table, rows, name, tallest_px in (
        ("/jobs", "#jobs-table", "#jobs-table tr[data-job-id]", "phone-jobs-cards", 360),
        ("/runs", "#runs-table", "#runs-table tr[data-run-id]", "phone-runs-cards", 300),
    ):
        story.go(path)
        assert page.evaluate(fits), path
        # The header keeps only its sort links (reachable), not the column names the cards repeat.
        headers = page.locator(f"{table} thead th")
        shown = [n for n in range(headers.count()) if headers.nth(n).is_visible()]
        assert shown and all(headers.nth(n).locator("a").count() == 1 for n in shown), path
        assert all(headers.nth(n).bounding_box()["x"] + headers.nth(n).bounding_box()["width"] <= 390 for n in shown), path
        cards = _card_sizes(page, rows)
        assert cards, path
        for card in cards:
            assert card["left"] >= 0 and card["right"] <= 390, (path, card)
            assert 40 < card["height"] <= tallest_px, (path, card)  # a card, not a squeezed row
            assert card["labels"] and all(label not in ("none", "normal", '""') for label in card["labels"]), (path, card)
            assert card["outside"] == 0, (path, card)
        story.shot(name)
    # The actions of a job card work at this width: the trigger dialog opens.
    story.go("/jobs")
    page.locator("#jobs-table tr[data-job-id] a[data-trigger-url]").first.click()
    expect(page.locator("#trigger-dialog")).to_be_visible()
    page.locator("#trigger-dialog button[data-close]").click()
    # The other pages of the walk: dashboard, a run, the job form and its versions.
    story.go("/runs")
    run_path = page.locator("#runs-table tr[data-run-id] a").first.get_attribute("href")
    story.go("/jobs")
    job_path = page.locator("#jobs-table td.title a:has-text('story script')").get_attribute("href")
    for path, name in (("/", "phone-dashboard"), (run_path, "phone-run-detail"), (job_path, "phone-job-form"), (f"{job_path}/versions", "phone-versions")):
        story.go(path)
        assert page.evaluate(fits), path
        story.shot(name)
    # The script job's versions: the newest is the rollback, version 2 undone.
    expect(page.locator("#diff tr.diff-del")).to_have_count(2)
    expect(page.locator("#diff tr.diff-add")).to_have_count(1)
    expect(page.locator("#versions tbody tr").first.locator("td[data-label]").first).to_be_visible()
    page.set_viewport_size({"width": 1280, "height": 900})
