"""The admin's executor client against a real shardcron executor on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from shardcron.admin.transport.executor_client import ExecutorClient
from shardcron.executor import Executor
from shardcron.core.protocol import BlockStrategy, LogResult, TriggerParam
from tests.support.executor_calls import LOG_DATE_MS, TOKEN
from tests.support.fake_admin import FakeAdmin
from tests.support.loopback_executor import hello_executor
from tests.support.net import free_port, wait_until



@pytest.fixture
def executor(tmp_path: Path) -> Iterator[Executor]:
    admin = FakeAdmin(token=TOKEN).start()
    try:
        with hello_executor(tmp_path / "executor", admin.url, TOKEN, "client-test") as ex:
            yield ex
    finally:
        admin.stop()


def address(ex: Executor) -> str:
    return f"http://127.0.0.1:{ex.port}/"


def test_beat_run_log_idle_beat_and_kill(executor: Executor) -> None:
    client = ExecutorClient(TOKEN)
    assert client.beat(address(executor)).ok
    accepted = client.run(address(executor), TriggerParam(job_id=1, log_id=11, log_date_time_ms=LOG_DATE_MS, executor_handler="hello"))
    assert accepted.ok, accepted.msg

    def finished() -> bool:
        page = client.log(address(executor), LOG_DATE_MS, 11)
        return isinstance(page, LogResult) and page.is_end

    wait_until(finished, what="the hello run to end")
    page = client.log(address(executor), LOG_DATE_MS, 11)
    assert isinstance(page, LogResult) and "line 0 of shard 0" in page.log_content

    assert client.run(address(executor), TriggerParam(job_id=2, log_id=12, log_date_time_ms=LOG_DATE_MS, executor_handler="wait")).ok
    wait_until(lambda: not client.idle_beat(address(executor), 2).ok, what="job 2 to be busy")
    refused = client.run(
        address(executor),
        TriggerParam(job_id=2, log_id=13, log_date_time_ms=LOG_DATE_MS, executor_handler="wait", executor_block_strategy=BlockStrategy.DISCARD_LATER),
    )
    assert not refused.ok and refused.msg
    assert client.kill(address(executor), 2).ok
    wait_until(lambda: client.idle_beat(address(executor), 2).ok, what="job 2 to be idle after the kill")


def test_wrong_token_and_dead_address_are_failures_not_exceptions(executor: Executor) -> None:
    wrong = ExecutorClient("not-the-token").beat(address(executor))
    assert not wrong.ok and wrong.msg
    dead = ExecutorClient(TOKEN, connect_timeout_s=1, read_timeout_s=1).beat(f"http://127.0.0.1:{free_port()}")
    assert not dead.ok
    assert "unreachable" in dead.msg and "/beat" in dead.msg


def test_log_of_unknown_run_is_an_envelope_or_empty_page(executor: Executor) -> None:
    page = ExecutorClient(TOKEN).log(address(executor), LOG_DATE_MS, 999_999)
    if isinstance(page, LogResult):
        assert page.log_content == ""
    else:
        assert not page.ok and page.msg
