"""Repair now, and lost-run detection's idle path, leave alone a run that ended on its executor
while its result is on its way: a real executor process (`shardcron executor run`) whose
callbacks the real admin does not accept yet answers `/idleBeat` idle and `/log` with
`resultPending: true`. Repair is refused (409, the reason), the monitor does not fail the run,
and once the admin accepts the result the run is SUCCESS and nothing ran it again. An executor
that does not say (XXL-JOB's) keeps the old behaviour: idle is lost. BUSYOVER still takes an
executor whose result is on its way for idle."""

from __future__ import annotations

import json
import signal
import subprocess
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
import sqlalchemy as sa
from werkzeug.serving import make_server

from shardcron.admin import create_app
from shardcron.admin.config import load_config
from shardcron.admin.enums import FireStatus, RunStatus, TriggerType
from shardcron.admin.models import ExecutorRegistry, Fire, RunLog
from shardcron.admin.monitors.lost_runs import LostRuns
from shardcron.admin.services.actor import SYSTEM_ACTOR
from shardcron.admin.services.errors import Conflict
from shardcron.admin.services.repair import repair_run
from shardcron.admin.transport.executor_client import ExecutorClient
from tests.support.executor_process import start_executor_process
from tests.support.net import free_port, wait_until
from tests.support.recording_executor import RecordingExecutor
from tests.support.run_rows import T0, add_group, add_job, add_run, register, run_row
from tests.support.scheduler_node import build_node

TOKEN = "on-its-way-token-0123456789"
TARGET = "tests.support.sample_executor:executor"


@dataclass
class CallbackGate:
    """In front of the admin's WSGI app: `/api/callback` answers HTTP 503 until `open` is set
    (the admin "is not accepting yet"); the logIds it held back are recorded."""

    app: Callable[..., Iterable[bytes]]
    open: threading.Event = field(default_factory=threading.Event)
    held: list[int] = field(default_factory=list)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "").rstrip("/").endswith("/api/callback") and not self.open.is_set():
            raw = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
            self.held.extend(item["logId"] for item in json.loads(raw))
            start_response("503 Service Unavailable", [("Content-Type", "text/plain"), ("Content-Length", "0")])
            return [b""]
        return self.app(environ, start_response)


@pytest.fixture
def gated_admin(tmp_path: Path, db, fake_clock) -> Iterator[tuple[str, CallbackGate]]:
    config = load_config(env={}, overrides={"instance_dir": str(tmp_path / "admin"), "database_url": db.url, "access_token": TOKEN})
    gate = CallbackGate(create_app(config, db=db, clock=fake_clock))
    server = make_server("127.0.0.1", free_port(), gate, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/", gate
    server.shutdown()
    thread.join(timeout=10)


@pytest.fixture
def client() -> Iterator[ExecutorClient]:
    c = ExecutorClient(TOKEN, connect_timeout_s=2, read_timeout_s=5)
    yield c
    c.close()


def registrations(db) -> list[str]:
    with db.read_session() as s:
        return list(s.scalars(sa.select(ExecutorRegistry.address)))


def runs_of(db, job: int) -> list[RunLog]:
    with db.read_session() as s:
        return list(s.scalars(sa.select(RunLog).where(RunLog.job_id == job).order_by(RunLog.id)))


def fires(db) -> list[Fire]:
    with db.read_session() as s:
        return list(s.scalars(sa.select(Fire).order_by(Fire.id)))


def runs_finished_by(port: int) -> int:
    """What the executor process's /metrics counts as runs it finished (any result)."""
    text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    return sum(int(float(line.rsplit(" ", 1)[1])) for line in text.splitlines() if line.startswith("shardcron_executor_runs_total{"))


@pytest.mark.parametrize("restarted", [False, True], ids=["spooled", "replayed-after-kill-9"])
def test_a_run_whose_result_is_on_its_way_is_not_repaired_nor_lost(
    tmp_path: Path, db, fake_clock, gated_admin, client, processes, restarted: bool
) -> None:
    admin_url, gate = gated_admin
    port = free_port()
    settings = {"app_name": "onway", "admin_addresses": admin_url, "access_token": TOKEN, "listen": f"127.0.0.1:{port}",
                "data_dir": str(tmp_path / "data"), "callback_retry_s": "0.2"}

    def start() -> subprocess.Popen:
        with db.session() as s:
            s.execute(sa.delete(ExecutorRegistry))
        proc = start_executor_process(TARGET, settings, log_path=tmp_path / "executor.out")
        processes.append(proc)
        wait_until(lambda: registrations(db) or proc.poll() is not None, timeout_s=60, what="the executor process registered")
        assert proc.poll() is None, (tmp_path / "executor.out").read_text()
        return proc

    group = add_group(db, "onway")
    job = add_job(db, group, name="quick", handler="echo")
    first = start()
    [address] = registrations(db)
    with db.session() as s:
        s.add(Fire(job_id=job, fire_at_ms=T0, trigger_type=TriggerType.MANUAL, origin_ref=1, status=FireStatus.PENDING, created_at_ms=T0))
    node = build_node(db, fake_clock, client)
    node.step(T0)  # the real scheduler sends the one /run
    wait_until(lambda: [r.status for r in runs_of(db, job)] == [RunStatus.RUNNING], what="the run accepted")
    [run] = [r.id for r in runs_of(db, job)]
    wait_until(lambda: run in gate.held, what="its result held back by the admin")
    if restarted:  # the result now lives only in the dead process's spool, until the new one replays it
        first.send_signal(signal.SIGKILL)
        assert first.wait(30) == -signal.SIGKILL
        start()
    assert client.idle_beat(address, job).ok  # idle for the job: what repair used to take for lost
    assert client.result_pending(address, T0, run) is True

    with pytest.raises(Conflict) as refused:
        repair_run(db, SYSTEM_ACTOR, run, client, now_ms=T0 + 60_000)
    assert refused.value.status == 409
    assert str(refused.value.message) == (
        f"run {run} has ended: its result is on its way from executor {address}; wait for it (repair now would run it again)"
    )
    monitor = LostRuns(db, "node-a", client, lost_after_s=1)
    for at in (T0 + 10_000, T0 + 20_000, T0 + 30_000):  # each tick past lost_run_after_s: idle, but pending
        monitor.tick(at)
    row = run_row(db, run)
    assert (row.status, row.executor_gone_at_ms) == (RunStatus.RUNNING, None)
    assert fires(db)[0].status == FireStatus.DONE and len(fires(db)) == 1

    gate.open.set()  # the admin accepts results now: the executor's next attempt delivers it
    wait_until(lambda: run_row(db, run).status == RunStatus.SUCCESS, what="the held-back result accepted")
    wait_until(lambda: client.result_pending(address, T0, run) is False, what="the executor told its result was accepted")
    node.step(T0 + 40_000)
    monitor.tick(T0 + 40_000)
    assert [(r.id, r.status) for r in runs_of(db, job)] == [(run, RunStatus.SUCCESS)]  # one run, no re-run
    assert len(fires(db)) == 1
    assert runs_finished_by(port) == (0 if restarted else 1)  # the process now serving ran nothing more
    with pytest.raises(Conflict, match="is SUCCESS, not RUNNING"):
        repair_run(db, SYSTEM_ACTOR, run, client, now_ms=T0 + 60_000)


#: `/log` answers of executors that do not say whether a result is on its way: XXL-JOB's Java
#: executor (no log file) and pyxxl, and one that says no result waits there.
NOT_PENDING = {
    "xxl-job": {"fromLineNum": 1, "toLineNum": 0, "logContent": "readLog fail, logFile not exists", "isEnd": True},
    "pyxxl": {"fromLineNum": 1, "toLineNum": 0, "logContent": "No such logid logs.", "isEnd": True},
    "shardcron, nothing pending": {"fromLineNum": 1, "toLineNum": 0, "logContent": "", "isEnd": True, "logIdKnown": False, "resultPending": False},
}


@pytest.mark.parametrize("answer", list(NOT_PENDING), ids=list(NOT_PENDING))
def test_an_executor_idle_for_the_job_without_a_pending_result_is_lost_as_before(db, client, answer: str) -> None:
    stub = RecordingExecutor().start()  # /idleBeat 200: idle for the job
    stub.contents["/log"] = NOT_PENDING[answer]
    try:
        job = add_job(db, add_group(db, "billing"))
        register(db, "billing", stub.address, T0 + 50_000)
        run = add_run(db, job, executor_address=stub.address, trigger_at_ms=T0)
        result = repair_run(db, SYSTEM_ACTOR, run, client, now_ms=T0 + 60_000)
        assert f"executor {stub.address} no longer runs job {job}" in str(result.message)
        assert run_row(db, run).status == RunStatus.FAILED and len(fires(db)) == 1
        asked = [(p, b) for p, b, _ in stub.calls]
        assert [p for p, _ in asked] == ["/beat", "/idleBeat", "/log"]  # the logId is asked about after idle
        assert asked[2][1]["logId"] == run
    finally:
        stub.stop()


def test_a_stub_saying_pending_is_refused_and_the_monitor_keeps_the_run(db, client) -> None:
    """The wire key alone decides: `resultPending: true` from any executor defers both paths."""
    stub = RecordingExecutor().start()
    stub.contents["/log"] = {"fromLineNum": 1, "toLineNum": 0, "logContent": "", "isEnd": True, "logIdKnown": True, "resultPending": True}
    try:
        job = add_job(db, add_group(db, "billing"))
        run = add_run(db, job, executor_address=stub.address, trigger_at_ms=T0)
        monitor = LostRuns(db, "node-a", client, lost_after_s=1)

        def heartbeat(at_ms: int) -> None:
            with db.session() as s:
                s.execute(sa.delete(ExecutorRegistry))
            register(db, "billing", stub.address, at_ms)

        for at in (T0 + 10_000, T0 + 20_000):
            heartbeat(at)
            monitor.tick(at)
            with pytest.raises(Conflict, match=f"its result is on its way from executor {stub.address}; wait for it"):
                repair_run(db, SYSTEM_ACTOR, run, client, now_ms=at)
        assert (run_row(db, run).status, run_row(db, run).executor_gone_at_ms) == (RunStatus.RUNNING, None)
        assert fires(db) == []
        stub.contents["/log"] = NOT_PENDING["shardcron, nothing pending"]  # accepted meanwhile (or gone): lost as before
        heartbeat(T0 + 30_000)
        monitor.tick(T0 + 30_000)
        heartbeat(T0 + 31_000)
        monitor.tick(T0 + 31_000)
        assert run_row(db, run).status == RunStatus.FAILED
    finally:
        stub.stop()


def test_busyover_still_picks_an_executor_whose_result_is_on_its_way(tmp_path: Path, db, fake_clock, gated_admin, client) -> None:
    """/idleBeat kept its meaning: a quick run's result waiting in the spool does not make its
    executor busy, so BUSYOVER sends every fire of the job to the first idle executor."""
    from shardcron.admin.enums import RouteStrategy
    from shardcron.executor import Executor

    admin_url, gate = gated_admin
    executors = []
    try:
        for i in range(3):
            executor = Executor(app_name="busyover", admin_addresses=[admin_url], access_token=TOKEN, listen="127.0.0.1:0",
                                data_dir=str(tmp_path / f"executor{i}"), shutdown_timeout_s=2, callback_retry_s=0.2, env={})
            executor.job("echo")(lambda ctx: ctx.param)
            executors.append(executor.start())
        job = add_job(db, add_group(db, "busyover"), name="quick", handler="echo", route_strategy=RouteStrategy.BUSYOVER)
        wait_until(lambda: len(registrations(db)) == 3, what="three registrations")
        first = sorted(registrations(db))[0]
        node = build_node(db, fake_clock, client)
        for i in range(6):
            with db.session() as s:
                s.add(Fire(job_id=job, fire_at_ms=T0 + i * 1_000, trigger_type=TriggerType.MANUAL, origin_ref=i + 1,
                           status=FireStatus.PENDING, created_at_ms=T0))
            node.step(T0 + i * 1_000)
            wait_until(lambda n=i + 1: len(runs_of(db, job)) == n and runs_of(db, job)[-1].id in gate.held, what=f"run {i + 1} ended, result held")
            latest = runs_of(db, job)[-1]
            assert client.result_pending(first, latest.log_date_ms, latest.id) is True
        assert [r.executor_address for r in runs_of(db, job)] == [first] * 6
        gate.open.set()
        wait_until(lambda: all(r.status == RunStatus.SUCCESS for r in runs_of(db, job)), what="six results accepted")
    finally:
        for executor in executors:
            executor.stop(timeout_s=2)
