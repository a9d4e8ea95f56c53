"""A real shardcron Executor registers with the real admin app on loopback, runs a trigger and
its result (with resultData and progress) arrives through /api/callback and /api/progress."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from werkzeug.serving import make_server

from shardcron.admin import create_app
from shardcron.admin.config import load_config
from shardcron.admin.enums import RunStatus
from shardcron.admin.models import ExecutorGroup
from shardcron.admin.registry_view import live_addresses
from shardcron.executor import Executor
from shardcron.core.clock import SYSTEM_CLOCK
from shardcron.executor.context import JobResult
from tests.admin.rpc.conftest import TOKEN
from tests.support.executor_calls import call, trigger
from tests.support.net import free_port, wait_until
from tests.support.run_rows import add_group, add_job, add_run, run_row


@pytest.fixture
def admin_url(tmp_path: Path, db) -> Iterator[str]:
    config = load_config(env={}, overrides={"instance_dir": str(tmp_path / "admin"), "database_url": db.url, "access_token": TOKEN})
    app = create_app(config, db=db, clock=SYSTEM_CLOCK)
    server = make_server("127.0.0.1", free_port(), app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="admin-under-test", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()
    thread.join(timeout=10)


def test_executor_registers_runs_and_reports_to_the_real_admin(tmp_path: Path, db, admin_url: str) -> None:
    group = add_group(db, "real-app")
    job = add_job(db, group, handler="count")
    release = threading.Event()
    executor = Executor(
        app_name="real-app",
        admin_addresses=[admin_url],
        access_token=TOKEN,
        listen="127.0.0.1:0",
        data_dir=str(tmp_path / "executor"),
        progress_interval_s=0.1,
        shutdown_timeout_s=5,
        env={},
    )

    @executor.job("count")
    def count(ctx):
        ctx.progress(3, 10, claimed=3)
        release.wait(10)
        return JobResult.success("counted", {"claimed": 10, "succeeded": 10})

    executor.start()
    try:
        def registered() -> list[str]:
            with db.session() as s:
                return live_addresses(s, s.scalars(sa.select(ExecutorGroup)).one(), SYSTEM_CLOCK.now_ms())

        wait_until(lambda: registered() == [executor.address], what="the executor's registration")
        run = add_run(db, job, executor_address=executor.address, handler="count")
        assert call(executor.port, "/run", trigger(job, run, "count"), token=TOKEN).ok
        wait_until(lambda: run_row(db, run).progress_done == 3, what="progress of the running run")
        row = run_row(db, run)
        assert (row.status, row.progress_total, json.loads(row.result_json)) == (RunStatus.RUNNING, 10, {"claimed": 3})
        release.set()
        wait_until(lambda: run_row(db, run).status == RunStatus.SUCCESS, what="the run's callback")
        row = run_row(db, run)
        assert (row.handle_code, row.handle_msg) == (200, "counted")
        assert json.loads(row.result_json) == {"claimed": 10, "succeeded": 10}
    finally:
        release.set()
        executor.stop(timeout_s=5)
    # a graceful stop deregisters
    assert registered() == []
