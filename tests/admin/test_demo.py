"""`shardcron demo` as a user runs it: it comes up, runs the demo jobs, and Ctrl-C leaves no
process behind."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import requests
import sqlalchemy as sa

from shardcron.admin.db import Database
from shardcron.admin.enums import RunStatus
from shardcron.admin.models import Job, RunLog
from shardcron.admin.services.users import authenticate
from shardcron.core.clock import SYSTEM_CLOCK
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
    proc, read_lines = _start_demo(["--port", str(port), "--dir", str(workdir)], env)

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
        assert len(children) >= 4  # the admin, the producer and two executors

        db = Database(f"sqlite:///{workdir / 'admin' / 'shardcron.db'}", pool_size=1)
        wait_until(lambda: _count(db, "hello every 10 s", RunStatus.SUCCESS) >= 1, timeout_s=90, what="a successful run of the cron job")
        wait_until(lambda: _count(db, "retry-task drainer", RunStatus.SUCCESS) >= 2, timeout_s=90, what="drainer shards reporting back")
        wait_until(lambda: _count(db, "long job (watch it, kill it)", RunStatus.RUNNING) == 1, timeout_s=90, what="the long job running")
        wait_until(lambda: "alarm (webhook):" in read_lines(), timeout_s=120, what="the failing job's webhook alarm")
        with db.read_session() as s:
            drained = s.scalars(sa.select(RunLog.result_json).join(Job, Job.id == RunLog.job_id).where(Job.name == "retry-task drainer", RunLog.status == RunStatus.SUCCESS)).all()
        assert any('"claimed"' in (data or "") for data in drained)
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
