"""A real executor process: kill -9 between "run finished" and "admin accepted", SIGTERM, CLI errors."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import pytest

from shardcron.executor.spool import CallbackSpool
from tests.support.cli import assert_one_line_error, run_cli
from tests.support.executor_calls import TOKEN, read_log, run
from tests.support.executor_process import ROOT, start_executor_process
from tests.support.net import free_port, wait_until

TARGET = "tests.support.sample_executor:executor"


@pytest.fixture
def settings(tmp_path: Path, fake_admin) -> dict[str, str]:
    return {
        "app_name": "sample",
        "admin_addresses": fake_admin.url,
        "access_token": TOKEN,
        "listen": f"127.0.0.1:{free_port()}",
        "data_dir": str(tmp_path / "data"),
        "callback_retry_s": "0.5",
    }


def _port(settings: dict[str, str]) -> int:
    return int(settings["listen"].rsplit(":", 1)[1])


def _start(settings, processes, tmp_path, fake_admin) -> subprocess.Popen:
    before = len(fake_admin.received("/api/registry"))
    proc = start_executor_process(TARGET, settings, log_path=tmp_path / "executor.out")
    processes.append(proc)
    wait_until(
        lambda: len(fake_admin.received("/api/registry")) > before or proc.poll() is not None,
        timeout_s=60,
        what="executor process registered",
    )
    assert proc.poll() is None, (tmp_path / "executor.out").read_text()
    return proc


@pytest.mark.parametrize("admin_state", ["refusing", "down"])
def test_kill_9_after_the_run_finished_then_restart_delivers_the_result_exactly_once(
    settings, processes, tmp_path, fake_admin, admin_state: str
) -> None:
    spool = CallbackSpool(Path(settings["data_dir"]) / "sample" / "callbacks")
    first = _start(settings, processes, tmp_path, fake_admin)
    if admin_state == "refusing":
        fake_admin.refuse("/api/callback")
    else:
        fake_admin.stop()
    assert run(_port(settings), 5, 500, executorParams="survives kill -9").ok
    wait_until(lambda: spool.spooled_log_ids() == [500], what="result spooled by the finished run")
    first.send_signal(signal.SIGKILL)
    assert first.wait(30) == -signal.SIGKILL
    assert fake_admin.callbacks() == []  # nothing was accepted before the crash
    if admin_state == "refusing":
        fake_admin.accept("/api/callback")
    else:
        fake_admin.start()
    second = _start(settings, processes, tmp_path, fake_admin)
    result = fake_admin.wait_for_result(500, timeout_s=60)
    assert (result.handle_code, result.handle_msg) == (200, "survives kill -9")
    wait_until(lambda: spool.spooled_log_ids() == [], what="spool emptied after acceptance")
    # the restarted executor remembers replayed logIds: a re-sent trigger is not run twice
    assert run(_port(settings), 5, 500).msg == "repeat trigger job, logId:500"
    second.send_signal(signal.SIGTERM)
    assert second.wait(60) == 0
    assert fake_admin.callback_counts()[500] == 1


def _run_log(settings: dict[str, str], log_id: int) -> str:
    found = list(Path(settings["data_dir"]).rglob(f"{log_id}.log"))
    return found[0].read_text() if found else ""


def test_sigterm_stops_gracefully(settings, processes, tmp_path, fake_admin) -> None:
    settings["shutdown_timeout_s"] = "0.5"
    proc = _start(settings, processes, tmp_path, fake_admin)
    assert run(_port(settings), 8, 800, executorParams="before the signal").ok
    fake_admin.wait_for_result(800)
    assert run(_port(settings), 9, 900, handler="waitForCancel").ok
    # the handler logs nothing: its "started" line is still in memory, and /log serves it from there
    wait_until(lambda: "run 900 of job 9 started" in read_log(_port(settings), 900).log_content, what="run started")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(60) == 0
    removal = fake_admin.registrations("/api/registryRemove")
    assert [(r.registry_key, r.registry_value) for r in removal] == [("sample", f"http://{settings['listen']}")]
    # the running job got its bounded wait, was cancelled, and its result was flushed before exit
    result = fake_admin.result(900)
    assert (result.handle_code, result.handle_msg) == (500, "job killed while running: executor shut down before the run finished")
    assert fake_admin.callback_counts() == {800: 1, 900: 1}
    lines = _run_log(settings, 900).splitlines()
    assert "run 900 of job 9 started" in lines[0] and "run cancelled: executor shut down before the run finished" in lines[1]
    assert CallbackSpool(Path(settings["data_dir"]) / "sample" / "callbacks").spooled_log_ids() == []


def test_cli_refuses_bad_targets_and_settings_in_one_line(tmp_path: Path) -> None:
    result = run_cli("executor", "run", "tests.support.sample_executor", home=tmp_path, env={"PYTHONPATH": str(ROOT)})
    assert_one_line_error(result, "must look like package.module:attribute")
    result = run_cli("executor", "run", "tests.support.no_such_module:executor", home=tmp_path, env={"PYTHONPATH": str(ROOT)})
    assert_one_line_error(result, "cannot import module 'tests.support.no_such_module'")
    result = run_cli(
        "executor", "run", TARGET, home=tmp_path,
        env={"PYTHONPATH": str(ROOT), "SHARDCRON_EXECUTOR_APP_NAME": "sample", "SHARDCRON_EXECUTOR_ADMIN_ADDRESSES": "http://127.0.0.1:1/"},
    )
    assert_one_line_error(result, "access_token", "an access token is required")
    env = {
        "PYTHONPATH": str(ROOT),
        "SHARDCRON_EXECUTOR_APP_NAME": "sample",
        "SHARDCRON_EXECUTOR_ADMIN_ADDRESSES": "http://127.0.0.1:1/",
        "SHARDCRON_EXECUTOR_ACCESS_TOKEN": TOKEN,
        "SHARDCRON_EXECUTOR_DATA_DIR": str(tmp_path / "data"),
    }
    result = run_cli("executor", "run", TARGET, "--listen", "localhost", home=tmp_path, env=env)
    assert_one_line_error(result, "listen='localhost': expected HOST:PORT")
