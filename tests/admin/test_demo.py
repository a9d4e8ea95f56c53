"""`shardcron demo` as a user runs it: it comes up, runs the demo jobs and the two recipes (work
orders delivered once somebody comes on shift; the long batch, whose executor the Demo page
kills, resumed by "repair now" from its checkpoint), its workflow "nightly-pipeline" runs an
instance to the end, and Ctrl-C leaves no process behind."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa

from shardcron.admin.config import load_config
from shardcron.admin.db import Database
from shardcron.admin.demo import pipeline, recipes
from shardcron.admin.demo.control import ControlServer, KillRefused
from shardcron.admin.enums import WORKFLOW_FINAL, AuditAction, RunStatus, StepStatus, WorkflowStatus
from shardcron.admin.factory import create_app
from shardcron.admin.models import AuditEntry, Job, RunLog, WorkflowInstance, WorkflowStepRun
from shardcron.admin.services.users import authenticate
from shardcron.core.clock import SYSTEM_CLOCK
from shardcron.core.errors import ConfigError
from shardcron.executor.examples.long_batch import LongBatch
from shardcron.executor.examples.nightly_pipeline import invoices_fail
from shardcron.executor.examples.roster import roster_shift
from shardcron.executor.examples.work_orders import TASK_CODE, WorkOrders, period_of
from shardcron.executor.retry_tasks import RetryTasks, TaskStatus
from tests.support.net import free_port, wait_until
from tests.support.signals import default_sigint


def _children(pid: int) -> set[int]:
    """Every live process whose parent is `pid` (Linux /proc)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if ppid == pid:
                found.add(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _count(db: Database, job_name: str, status: RunStatus) -> int:
    with db.read_session() as s:
        job_id = s.scalar(sa.select(Job.id).where(Job.name == job_name))
        return s.scalar(sa.select(sa.func.count()).select_from(RunLog).where(RunLog.job_id == job_id, RunLog.status == status)) or 0


def _start_demo(args: list[str], env: dict[str, str], cwd: Path | None = None) -> tuple[subprocess.Popen[str], Callable[[], str]]:
    """`shardcron demo ARGS` in its own process, and a function returning everything it printed so far."""
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "shardcron"), "demo", *args],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, preexec_fn=default_sigint, cwd=cwd,
    )
    lines: queue.SimpleQueue[str] = queue.SimpleQueue()
    seen: list[str] = []
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout or ()], daemon=True).start()

    def read_lines() -> str:
        while True:
            try:
                seen.append(lines.get_nowait())
            except queue.Empty:
                return "".join(seen)

    return proc, read_lines


def test_demo_runs_the_jobs_and_ctrl_c_stops_every_process(tmp_path: Path) -> None:
    port = free_port()
    workdir = tmp_path / "demo"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHARDCRON_")} | {"XDG_DATA_HOME": str(tmp_path / "xdg")}
    proc, read_lines = _start_demo(["--port", str(port), "--dir", str(workdir), "--shift-after", str(SHIFT_AFTER_S)], env)

    db = None
    try:
        wait_until(lambda: "Press Ctrl-C" in read_lines(), timeout_s=90, what="the demo's banner")
        text = read_lines()
        assert f"console:   http://127.0.0.1:{port}/" in text
        login = re.search(r"login:\s+(\S+) / (\S+)", text)
        assert login is not None
        assert requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200
        browser = requests.Session()  # the printed login opens the console
        page = browser.get(f"http://127.0.0.1:{port}/login", timeout=10)
        token = re.search(r'<meta name="csrf-token" content="([^"]+)">', page.text)
        assert page.status_code == 200 and token is not None
        answer = browser.post(
            f"http://127.0.0.1:{port}/login", data={"username": login.group(1), "password": login.group(2), "csrf_token": token.group(1)},
            allow_redirects=False, timeout=10,
        )
        assert answer.status_code == 302, answer.text[:300]
        assert "shardcron-demo" in browser.get(f"http://127.0.0.1:{port}/groups", timeout=10).text
        children = _children(proc.pid)
        assert len(children) >= 7  # the admin, the producer, two executors, the shift's and two batch executors
        assert f"recipes:   the Demo page tells both stories: http://127.0.0.1:{port}/demo" in text

        db = Database(f"sqlite:///{workdir / 'admin' / 'shardcron.db'}", pool_size=1)
        wait_until(lambda: _count(db, "hello every 10 s", RunStatus.SUCCESS) >= 1, timeout_s=90, what="a successful run of the cron job")
        wait_until(lambda: _count(db, "retry-task drainer", RunStatus.SUCCESS) >= 2, timeout_s=90, what="drainer shards reporting back")
        wait_until(lambda: _count(db, "long job (watch it, kill it)", RunStatus.RUNNING) == 1, timeout_s=90, what="the long job running")
        wait_until(lambda: "alarm (webhook):" in read_lines(), timeout_s=120, what="the failing job's webhook alarm")
        with db.read_session() as s:
            drained = s.scalars(sa.select(RunLog.result_json).join(Job, Job.id == RunLog.job_id).where(Job.name == "retry-task drainer", RunLog.status == RunStatus.SUCCESS)).all()
        assert any('"claimed"' in (data or "") for data in drained)

        _check_the_pipeline_instance_ran(db, text, port)
        _check_the_demo_page_shows_the_pipeline(browser, f"http://127.0.0.1:{port}", db, text)
        killed = _kill_the_batch_executor_and_repair(browser, f"http://127.0.0.1:{port}", db, children, workdir)
        _check_work_orders_waited_then_reached_carol(db, workdir)
        _check_the_batch_resumed_without_redoing_items(browser, f"http://127.0.0.1:{port}", db, workdir, killed)
        wait_until(lambda: f"demo: {killed['name']} started again" in read_lines(), timeout_s=60, interval_s=0.5, what="the killed executor restarted")
        children |= _children(proc.pid)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=90)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert proc.returncode == 0, read_lines()
    left = [pid for pid in children if _alive(pid)]
    assert left == [], f"processes left behind: {left}"
    assert f"its files kept in {workdir}" in read_lines()
    with db.session() as s:  # the printed login is real
        assert authenticate(s, login.group(1), login.group(2), SYSTEM_CLOCK.now_ms()) is not None
    # the long job was killed by the executors' shutdown and its result still reached the admin
    assert _count(db, "long job (watch it, kill it)", RunStatus.FAILED) == 1
    db.dispose()


def _check_the_pipeline_instance_ran(db: Database, banner: str, port: int) -> None:
    """The banner's first instance of nightly-pipeline ran to the end: extract on both pipeline
    executors, the three loaders fed from its result, the invoices' failure compensated when it
    failed, and the report, which got what the loaders left as ctx.upstream."""
    link = re.search(rf"watch its instances: http://127\.0\.0\.1:{port}/workflow-instances\?workflow_id=(\d+)", banner)
    first = re.search(r"its first instance \(#(\d+)\) started now", banner)
    assert link is not None and first is not None, banner
    instance_id = int(first.group(1))

    def instance_status() -> WorkflowStatus:
        with db.read_session() as s:
            return s.scalar(sa.select(WorkflowInstance.status).where(WorkflowInstance.id == instance_id))

    wait_until(lambda: instance_status() in WORKFLOW_FINAL, timeout_s=90, interval_s=0.5, what="the pipeline's first instance to end")
    with db.read_session() as s:
        instance = s.get(WorkflowInstance, instance_id)
        assert instance is not None and instance.workflow_id == int(link.group(1))
        rows = s.scalars(sa.select(WorkflowStepRun).where(WorkflowStepRun.instance_id == instance_id).order_by(WorkflowStepRun.generation)).all()
        steps = {row.step_key: row for row in rows}  # the latest generation of each
        extract_runs = s.scalars(sa.select(RunLog).where(RunLog.step_run_id == steps["extract"].id)).all()
    fails = invoices_fail(instance_id)
    assert instance.status == WorkflowStatus.SUCCEEDED, instance.message  # a compensated failure is handled
    assert sorted(run.shard_index for run in extract_runs) == list(range(pipeline.PIPELINE_EXECUTORS))
    assert json.loads(steps["extract"].result_json or "null") == {"shards": [{"rows": 1000, "shard": 0}, {"rows": 1250, "shard": 1}]}
    for table in pipeline.LOADERS:
        load = steps[f"load_{table}"]
        assert f"table={table} instance={instance_id} shards=" in (load.param or "")
        failed = table == "invoices" and fails
        assert load.status == (StepStatus.FAILED if failed else StepStatus.SUCCEEDED), (table, load.message)
        assert json.loads(load.result_json or "null")["rows"] == (0 if failed else 2250)
    assert steps["compensate_invoices"].status == (StepStatus.SUCCEEDED if fails else StepStatus.NOT_RUN)
    report = steps["report"]
    assert report.status == StepStatus.SUCCEEDED, report.message
    assert set(json.loads(report.upstream_json or "{}")) == {"load_orders", "load_customers", "load_invoices"}
    # the report handler's result is made from ctx.upstream: it reached the executor
    assert json.loads(report.result_json or "null") == {
        "loaded": {"load_customers": 2250, "load_invoices": 0 if fails else 2250, "load_orders": 2250}, "failed": ["load_invoices"] if fails else [],
    }


def _check_the_demo_page_shows_the_pipeline(browser: requests.Session, console: str, db: Database, banner: str) -> None:
    """The banner sends to the Demo page, which links the workflow and lists its first instance
    with the state the database holds."""
    assert f"the Demo page tells its story, with its latest instances and how to trigger it: {console}/demo" in banner
    first = re.search(r"its first instance \(#(\d+)\) started now", banner)
    link = re.search(r"/workflow-instances\?workflow_id=(\d+)", banner)
    assert first is not None and link is not None
    page = browser.get(f"{console}/demo", timeout=10).text
    with db.read_session() as s:
        status = s.scalar(sa.select(WorkflowInstance.status).where(WorkflowInstance.id == int(first.group(1))))
    assert f'id="demo-pipeline-editor" href="/workflows/{link.group(1)}"' in page and f'href="/workflows/{link.group(1)}/trigger"' in page
    assert f'<tr data-instance-id="{first.group(1)}" data-status="{WorkflowStatus(status).value}">' in page


SHIFT_AFTER_S = 15


def _csrf(page: str) -> str:
    token = re.search(r'<meta name="csrf-token" content="([^"]+)">', page)
    assert token is not None
    return token.group(1)


def _flashes(page: str) -> list[str]:
    return re.findall(r'class="flash flash-\w+" role="status">([^<]*)<', page)


def _batch_runs(db: Database) -> list[RunLog]:
    with db.read_session() as s:
        job_id = s.scalar(sa.select(Job.id).where(Job.name == recipes.BATCH_JOB))
        return list(s.scalars(sa.select(RunLog).where(RunLog.job_id == job_id).order_by(RunLog.id)))


def _kill_the_batch_executor_and_repair(browser: requests.Session, console: str, db: Database, children: set[int], workdir: Path) -> dict[str, str]:
    """The batch pauses at item 5,000 with its checkpoint; the Demo page's button kills its executor
    (SIGKILL: the process is gone); "repair now" re-runs it. Returns the killed executor's name and address."""

    def paused() -> bool:
        rows = _batch_runs(db)
        return bool(rows) and rows[0].status == RunStatus.RUNNING and json.loads(rows[0].checkpoint_json or "null") == {"next": recipes.BATCH_PAUSE_AT}

    wait_until(paused, timeout_s=90, interval_s=0.5, what="the batch paused at item 5,000 with its checkpoint")
    page = browser.get(f"{console}/demo", timeout=10)
    assert page.status_code == 200 and 'id="demo-kill-batch-executor"' in page.text
    assert browser.post(f"{console}/demo/kill-batch-executor", data={}, timeout=10).status_code == 403  # no CSRF token: refused
    answer = browser.post(f"{console}/demo/kill-batch-executor", data={"csrf_token": _csrf(page.text)}, timeout=30)
    [first] = _batch_runs(db)
    assert answer.status_code == 200 and answer.url.endswith(f"/runs/{first.id}"), answer.text[:300]
    [message] = [m for m in _flashes(answer.text) if "SIGKILL" in m]
    killed = re.search(r"Executor (\S+) \(pid (\d+), (\S+)\)", message)
    assert killed is not None, message
    pid = int(killed.group(2))
    assert pid in children and not _alive(pid), "the batch's executor process is gone"
    assert killed.group(3) == (first.executor_address or "").rstrip("/")
    with db.read_session() as s:
        [entry] = s.scalars(sa.select(AuditEntry).where(AuditEntry.action == AuditAction.RUN_EXECUTOR_KILL.value)).all()
        assert (entry.target_id, entry.actor_name) == (first.id, "demo")
    page = browser.get(f"{console}/runs/{first.id}", timeout=10)
    repaired = browser.post(f"{console}/runs/{first.id}/repair", data={"csrf_token": _csrf(page.text)}, timeout=30)
    assert any("resuming from its checkpoint" in m for m in _flashes(repaired.text)), _flashes(repaired.text)
    return {"name": killed.group(1), "address": killed.group(3)}


def _check_work_orders_waited_then_reached_carol(db: Database, workdir: Path) -> None:
    """Nobody on shift at first: each order's delivery failed and was retried; once Carol's shift
    started (by itself, `--shift-after` s after the jobs), each reached her, after the shift start."""
    orders = WorkOrders(RetryTasks(f"sqlite:///{workdir / 'shift.db'}", owner="test"))
    try:
        with orders.tasks.engine.connect() as conn:
            carol_from = conn.execute(sa.select(roster_shift.c.starts_at_ms).where(roster_shift.c.person == "carol")).scalar_one()
        request_nos = [f"WO-{period_of(carol_from)}-{site}" for site in orders.settings.sites]
        records = lambda: [orders.tasks.get(TASK_CODE, no) for no in request_nos]  # noqa: E731
        wait_until(lambda: all(r is not None and r.status == TaskStatus.SUCCEEDED for r in records()), timeout_s=90, interval_s=0.5, what="the work orders delivered")
        for record in records():
            assert record is not None and record.attempts >= 2, "the order waited: its first attempt found nobody on shift"
            assert record.result == {"assigned_to": "carol"}
        with orders.tasks.engine.connect() as conn:
            delivered = conn.execute(sa.text("SELECT request_no, person, delivered_at_ms FROM example_inbox ORDER BY request_no")).all()
        assert [(no, person) for no, person, _ in delivered] == [(no, "carol") for no in sorted(request_nos)]
        assert all(at >= carol_from for _, _, at in delivered)
    finally:
        orders.tasks.close()
    with db.read_session() as s:  # the console's run log shows the wait, then the delivery
        job_id = s.scalar(sa.select(Job.id).where(Job.name == recipes.SHIFT_JOB))
        results = [json.loads(r) for r in s.scalars(sa.select(RunLog.result_json).where(RunLog.job_id == job_id).order_by(RunLog.id)) if r]
    first_delivery = next(i for i, data in enumerate(results) if data.get("succeeded"))
    assert any(data.get("retried") for data in results[:first_delivery])
    assert sum(data.get("succeeded", 0) for data in results) == 3


def _check_the_batch_resumed_without_redoing_items(browser: requests.Session, console: str, db: Database, workdir: Path, killed: dict[str, str]) -> None:
    def finished() -> bool:
        rows = _batch_runs(db)
        return len(rows) == 2 and rows[1].status in (RunStatus.SUCCESS, RunStatus.FAILED) and rows[1].trigger_code != 0

    wait_until(finished, timeout_s=90, interval_s=0.5, what="the repaired batch run to finish")
    old, new = _batch_runs(db)
    assert old.status == RunStatus.FAILED and (old.handle_msg or "").startswith("lost: repaired by hand")
    assert (new.status, new.resume_from_run_id) == (RunStatus.SUCCESS, old.id), new.handle_msg
    assert (new.executor_address or "").rstrip("/") != killed["address"]
    assert json.loads(new.result_json or "{}") == {"started_at": recipes.BATCH_PAUSE_AT, "processed": recipes.BATCH_ITEMS - recipes.BATCH_PAUSE_AT}
    batch = LongBatch(f"sqlite:///{workdir / 'batch.db'}")
    try:
        done = batch.processed()
    finally:
        batch.engine.dispose()
    assert sorted(done) == list(range(recipes.BATCH_ITEMS)) and set(done.values()) == {1}, "every item processed exactly once"
    page = browser.get(f"{console}/demo", timeout=10)  # nothing running now: the button says so
    answer = browser.post(f"{console}/demo/kill-batch-executor", data={"csrf_token": _csrf(page.text)}, timeout=30)
    assert any("No run of the batch is running" in m for m in _flashes(answer.text)), _flashes(answer.text)


def test_the_demo_page_exists_only_in_the_demo_and_its_control_needs_the_token(tmp_path: Path) -> None:
    for settings in ({"demo_control_url": "http://127.0.0.1:9/"}, {"demo_control_url": "http://10.0.0.9:9/", "demo_control_token": "t" * 20}):
        with pytest.raises(ConfigError, match="demo_control"):  # only a token-guarded local supervisor
            load_config(env={}, overrides=settings)
    plain = create_app(load_config(env={}, overrides={"instance_dir": str(tmp_path / "plain")}))
    assert plain.test_client().get("/demo").status_code == 404
    assert plain.test_client().post("/demo/kill-batch-executor").status_code == 404
    asked: list[str] = []
    control = ControlServer(lambda: asked.append("kill") or KillRefused("no_running_batch")).start()
    try:
        demo = create_app(load_config(env={}, overrides={"instance_dir": str(tmp_path / "demo"), "demo_control_url": control.url, "demo_control_token": control.token}))
        assert demo.test_client().get("/demo").status_code == 302  # to the login page
        for headers in ({}, {"Authorization": "Bearer wrong-token-of-some-length"}):
            assert requests.post(f"{control.url}kill-batch-executor", headers=headers, timeout=5).status_code == 401
        assert asked == []
        answer = requests.post(f"{control.url}kill-batch-executor", headers={"Authorization": f"Bearer {control.token}"}, timeout=5)
        assert (answer.status_code, answer.json(), asked) == (409, {"reason": "no_running_batch"}, ["kill"])
    finally:
        control.stop()


def test_demo_refuses_a_busy_port_and_a_used_folder(tmp_path: Path) -> None:
    import socket

    from tests.support.cli import assert_one_line_error, run_cli

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_cli("demo", "--port", str(port), "--dir", str(tmp_path / "fresh"), home=tmp_path)
    assert_one_line_error(result, f"port {port}", "--port")
    used = tmp_path / "used"
    used.mkdir()
    (used / "something").write_text("x")
    assert_one_line_error(run_cli("demo", "--dir", str(used), home=tmp_path), "is not empty")


def test_demo_prints_an_api_token_and_deletes_its_temporary_folder(tmp_path: Path) -> None:
    """The quick start's `shardcron demo`: the printed API token answers /api/v1 at once, and
    Ctrl-C leaves no folder behind in the temporary directory."""
    port = free_port()
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHARDCRON_")} | {"XDG_DATA_HOME": str(tmp_path / "xdg"), "TMPDIR": str(scratch)}
    proc, read_lines = _start_demo(["--port", str(port)], env, cwd=tmp_path)

    try:
        wait_until(lambda: "Press Ctrl-C" in read_lines(), timeout_s=90, what="the demo's banner")
        token = re.search(r"API token: (\S+)", read_lines())
        assert token is not None, read_lines()
        assert f"curl -H 'Authorization: Bearer {token.group(1)}' http://127.0.0.1:{port}/api/v1/jobs" in read_lines()
        answer = requests.get(f"http://127.0.0.1:{port}/api/v1/jobs", headers={"Authorization": f"Bearer {token.group(1)}"}, timeout=10)
        assert answer.status_code == 200, answer.text[:300]
        assert {job["name"] for job in answer.json()["items"]} >= {"hello every 10 s", "retry-task drainer"}
        assert [p.name for p in scratch.iterdir() if p.name.startswith("shardcron-demo-")], "the demo's files are in TMPDIR while it runs"
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=90)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert proc.returncode == 0, read_lines()
    assert "its files deleted" in read_lines()
    assert list(scratch.iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tmp"]  # nothing in the working folder, no XDG folder
