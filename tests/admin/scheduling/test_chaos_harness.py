"""The chaos test's instruments (tests/support): the executor that accepts repeated logIds and
answers `/log` as pyxxl does, the checker's counting, the statement-counting proxy, the CPU
meter and the scheduler settings. A wrong instrument would pass a broken scheduler."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pymysql
import pytest
import requests
import sqlalchemy as sa

from tests.support.accepting_executor import (
    NO_SUCH_LOG,
    AcceptingExecutor,
    Arrival,
    CallFile,
)
from tests.support.chaos import (
    Scenario,
    scheduler_env,
    scheduler_settings,
    start_accepting_executor,
)
from tests.support.chaos_check import FaultWindow, Plan, RunRow, Spread, check
from tests.support.cpu_usage import CpuMeter, cpu_seconds
from tests.support.executor_calls import TOKEN
from tests.support.net import wait_until
from tests.support.statement_counter import StatementCounter, statement_shape


def post(address: str, path: str, body: dict | None, token: str = TOKEN) -> dict:
    response = requests.post(f"{address}{path}", json=body, headers={"XXL-JOB-ACCESS-TOKEN": token}, timeout=10)
    assert response.status_code == 200
    return response.json()


def trigger(job_id: int, log_id: int, log_date_ms: int = 1_000, shard: tuple[int, int] = (0, 1)) -> dict:
    return {"jobId": job_id, "logId": log_id, "logDateTime": log_date_ms, "executorHandler": "echo", "broadcastIndex": shard[0], "broadcastTotal": shard[1]}


@pytest.fixture
def executor() -> Iterator[AcceptingExecutor]:
    ex = AcceptingExecutor(TOKEN).start()
    yield ex
    ex.stop()


# ---------------------------------------------------------------------- the accepting executor


def test_a_repeated_log_id_is_accepted_and_recorded_each_time(executor: AcceptingExecutor) -> None:
    first = post(executor.address, "/run", trigger(7, 42, 5_000, (1, 3)))
    again = post(executor.address, "/run", trigger(7, 42, 5_000, (1, 3)))
    assert first["code"] == again["code"] == 200
    assert [(a.job_id, a.log_id, a.log_date_ms, a.shard_index, a.shard_total) for a in executor.arrivals] == [(7, 42, 5_000, 1, 3)] * 2
    assert all(a.arrived_ms > 0 for a in executor.arrivals)


def test_log_of_an_accepted_log_id_has_a_line_per_arrival(executor: AcceptingExecutor) -> None:
    post(executor.address, "/run", trigger(7, 42))
    post(executor.address, "/run", trigger(7, 42))
    page = post(executor.address, "/log", {"logDateTim": 1_000, "logId": 42, "fromLineNum": 1})
    assert page["code"] == 200 and page["content"] == page["data"]
    log = page["content"]
    assert (log["fromLineNum"], log["toLineNum"], log["isEnd"]) == (1, 2, True)
    assert log["logContent"].count("accepted at ") == 2
    rest = post(executor.address, "/log", {"logDateTime": 1_000, "logId": 42, "fromLineNum": 2})["content"]
    assert rest["logContent"].count("accepted at ") == 1 and rest["toLineNum"] == 2


def test_log_of_an_unknown_log_id_is_pyxxls_answer(executor: AcceptingExecutor) -> None:
    page = post(executor.address, "/log", {"logDateTim": 1_000, "logId": 99, "fromLineNum": 3})
    assert page["code"] == 200 and page["content"] == page["data"]
    assert page["content"] == {"fromLineNum": 3, "toLineNum": 3, "logContent": "No such logid logs.", "isEnd": False}
    assert NO_SUCH_LOG == "No such logid logs."
    assert [(q.log_id, q.known) for q in executor.log_queries] == [(99, False)]


def test_beats_answer_and_a_wrong_token_is_refused_without_recording(executor: AcceptingExecutor) -> None:
    assert post(executor.address, "/beat", None)["code"] == 200
    assert post(executor.address, "/idleBeat", {"jobId": 7})["code"] == 200
    refused = post(executor.address, "/run", trigger(7, 42), token="not-the-token-0123456789")
    assert refused["code"] == 500 and "access token" in refused["msg"]
    bad = post(executor.address, "/run", {"jobId": 7, "executorHandler": "echo", "logDateTime": 1_000})
    assert bad["code"] == 500 and "logId" in bad["msg"]
    assert executor.arrivals == []


def test_as_a_process_it_writes_every_call_as_a_json_line(tmp_path: Path) -> None:
    proc, address = start_accepting_executor(tmp_path / "calls.jsonl", tmp_path / "executor.log")
    try:
        post(address, "/run", trigger(1, 10, 2_000))
        post(address, "/run", trigger(1, 10, 2_000))
        post(address, "/log", {"logDateTim": 2_000, "logId": 11, "fromLineNum": 1})
        calls = CallFile(tmp_path / "calls.jsonl")
        arrivals, queries = calls.read()
        assert [(a.job_id, a.log_id, a.log_date_ms) for a in arrivals] == [(1, 10, 2_000)] * 2
        assert [(q.log_id, q.known) for q in queries] == [(11, False)]
        post(address, "/run", trigger(2, 20, 3_000))
        assert [a.log_id for a in calls.read()[0]] == [20]  # only what was added since
    finally:
        proc.terminate()
        proc.wait(timeout=10)


# ---------------------------------------------------------------------- the checker


def arrival(job: int, log_id: int, planned_ms: int, arrived_ms: int) -> Arrival:
    return Arrival(job, log_id, planned_ms, 0, 1, arrived_ms)


def test_checker_counts_misses_and_each_kind_of_duplicate_and_splits_lateness_by_fault() -> None:
    plan = Plan((1, 2), 10_000, 5)  # fires at 10 000 .. 14 000
    arrivals = [
        arrival(1, 101, 10_000, 10_010),
        arrival(1, 102, 11_000, 11_020),
        arrival(1, 103, 12_000, 15_000),
        arrival(1, 103, 12_000, 15_500),  # the same logId again
        arrival(1, 104, 13_000, 13_030),
        arrival(1, 105, 14_000, 14_005),
        arrival(1, 106, 15_000, 15_001),  # after the window: not checked
        arrival(2, 201, 10_000, 10_050),
        # (2, 11 000) never arrives
        arrival(2, 203, 12_000, 12_100),
        arrival(2, 209, 12_000, 12_200),  # a second logId for the same fire
        arrival(2, 204, 13_000, 13_000),
        arrival(2, 205, 14_000, 14_040),
        arrival(3, 301, 12_000, 12_001),  # a job that was not planned
    ]
    rows = [RunRow(j, at, j * 100 + (at - 9_000) // 1000, "RUNNING", "CRON") for j, at in sorted(plan.fires())]
    rows[0] = RunRow(1, 10_000, 101, "UNKNOWN", "CRON")
    rows.append(RunRow(2, 12_000, 209, "RUNNING", "CRON"))
    kill = FaultWindow("kill", "n1", 11_500, 11_500, frozenset({(1, 11_000), (1, 12_000), (2, 12_000)}), in_flight=1)

    report = check(plan, arrivals, rows, [kill], window_after_ms=1_000)

    assert (report.planned, report.arrivals, report.missed, report.missed_examples) == (10, 12, 1, [(2, 11_000)])
    assert (report.duplicates_same_log_id, report.duplicates_other_log_id, report.extra_run_rows) == (1, 1, 1)
    assert report.duplicates == 3 and report.unplanned_arrivals == 1
    assert report.run_rows_by_status == {"UNKNOWN": 1, "RUNNING": 10} and report.run_rows_by_trigger == {"CRON": 11}
    # Affected: the held fires (1, 11 000), (1, 12 000), (2, 12 000) - lateness 20, 3000, 100;
    # (1, 11 000) arrived before the kill, so it was not taken over.
    assert report.takeover == Spread(3, 100, 3_000, 3_000)
    assert report.held_takeover == Spread(2, 100, 3_000, 3_000)
    # Unaffected: 10, 30, 5, 50, 0, 40 (the missed fire has no lateness).
    assert report.unaffected == Spread(6, 10, 50, 50)
    (fault,) = report.faults
    assert fault.takeover == Spread(2, 100, 3_000, 3_000) and fault.window == Spread(2, 100, 3_000, 3_000)
    assert (fault.delivered_before, fault.same_log_id_duplicates, fault.missed, fault.offset_ms) == (1, 1, 0, 1_500)
    assert fault.line().startswith("kill n1 at +1.5s: held 3 fires (1 due, 1 delivered before it), takeover of the rest p50 0.10s p99 3.00s max 3.00s (n=2)")


def test_a_stall_window_runs_from_its_start_past_its_end() -> None:
    plan = Plan((1,), 0, 10)
    arrivals = [arrival(1, 10 + k, k * 1000, k * 1000 + 7) for k in range(10)]
    stall = FaultWindow("stall", "n2", 2_500, 5_200, frozenset(), 0)
    report = check(plan, arrivals, [], [stall], window_after_ms=1_000)
    (fault,) = report.faults
    assert fault.window.count == 4  # fires at 3, 4, 5 and 6 s: from 2.5 s to 5.2 + 1 s
    assert report.takeover.count == 4 and report.unaffected.count == 6 and report.missed == 0
    assert fault.line().startswith("stall n2 at +2.5s for 2.7s: held 0 fires")


def test_spread_is_nearest_rank() -> None:
    assert Spread.of(range(1, 101)) == Spread(100, 50, 99, 100)
    assert Spread.of([5]) == Spread(1, 5, 5, 5)
    assert Spread.of([]) == Spread(0, None, None, None) and Spread.of([]).text() == "n=0"


# ---------------------------------------------------------------------- settings, proxy, CPU


def test_lease_settings_are_set_only_when_given() -> None:
    default = scheduler_settings(Scenario())
    assert not any(name.startswith("LEASE") for name in default) and default["MISFIRE_GRACE_MS"] == "60000"
    given = scheduler_settings(Scenario(lease_ms=2000, lease_renew_ms=500, lease_margin_ms=400, settings={"LOOKAHEAD_MS": "1500"}))
    assert {k: given[k] for k in ("LEASE_MS", "LEASE_RENEW_MS", "LEASE_MARGIN_MS", "LOOKAHEAD_MS")} == {
        "LEASE_MS": "2000", "LEASE_RENEW_MS": "500", "LEASE_MARGIN_MS": "400", "LOOKAHEAD_MS": "1500",
    }
    env = scheduler_env("mysql+pymysql://u@h/db", given)
    assert env["SHARDCRON_LEASE_MS"] == "2000" and env["SHARDCRON_DATABASE_URL"] == "mysql+pymysql://u@h/db"


def test_statement_shape_names_verb_and_table() -> None:
    assert statement_shape("UPDATE sc_fire SET lease_until_ms=1 WHERE id IN (1)") == "UPDATE sc_fire"
    assert statement_shape("SELECT sc_job.id FROM sc_job WHERE x FOR UPDATE SKIP LOCKED") == "SELECT sc_job"
    assert statement_shape("INSERT IGNORE INTO `sc_fire` (a) VALUES (1)") == "INSERT sc_fire"
    assert statement_shape("COMMIT") == "COMMIT" and statement_shape("SELECT 1") == "SELECT"


@pytest.mark.mysql
def test_statement_counter_counts_what_passes_through(mysql_url: str) -> None:
    url = sa.engine.make_url(mysql_url)
    counter = StatementCounter(url.host or "127.0.0.1", url.port or 3306).start()
    try:
        conn = pymysql.connect(host="127.0.0.1", port=counter.port, user=url.username, password=url.password or "", database=url.database)
        with conn.cursor() as cur:
            cur.execute("CREATE TABLE chaos_t (id INT)")
            counter.take()  # the login exchange and the set-up are not what is measured
            cur.execute("SELECT 1")
            cur.execute("INSERT INTO chaos_t VALUES (1)")
            cur.execute("UPDATE chaos_t SET id = 2")
            cur.execute("SELECT id FROM chaos_t")
            conn.commit()
            assert cur.fetchall() == ((2,),)
        conn.close()
        expected = {"SELECT": 1, "INSERT chaos_t": 1, "UPDATE chaos_t": 1, "SELECT chaos_t": 1, "COMMIT": 1, "command 0x01": 1}
        seen: dict[str, int] = {}

        def counted() -> bool:
            seen.update(counter.take())
            return sum(seen.values()) >= sum(expected.values())

        wait_until(counted, timeout_s=10, what="the proxy to count the statements")
        assert seen == expected
    finally:
        counter.stop()


def test_cpu_meter_sees_this_process_work() -> None:
    meter = CpuMeter()
    meter.begin_machine()
    meter.begin("me", os.getpid())
    start = cpu_seconds(os.getpid())
    assert start is not None
    deadline = time.monotonic() + 10
    while (cpu_seconds(os.getpid()) or 0) - start < 0.1 and time.monotonic() < deadline:
        sum(range(10_000))  # work, not a sleep: CPU time is what is measured
    meter.end("me")
    meter.end_machine()
    assert meter.percent()["me"] > 1
    assert (meter.machine_busy_percent() or 0) > 0
    assert meter.line().startswith("cpu (% of one core): me ")
