"""Revision 0002 (lease terms, job delivery) on a database holding 0.1.0's rows, SQLite and MariaDB:
existing jobs deliver at most once, and a fire a 0.1.0 scheduler left CLAIMED under its bare node
id is adopted by the first scheduler of this release and settled before it is sent."""

from __future__ import annotations

import copy

import sqlalchemy as sa

from shardcron.admin.db import Database, init_schema
from shardcron.admin.enums import Delivery, FireStatus, RunStatus
from shardcron.admin.models import Fire, Job, RunLog, SchedulerLease
from shardcron.admin.schema import ADMIN_SCHEMA
from shardcron.admin.transport.executor_client import ExecutorClient
from shardcron.core.clock import FakeClock
from shardcron.core.sqlengine import create_db_engine
from tests.support.released import RELEASES, assert_rows_kept, database_at, read_rows
from tests.support.released import rows_0_1_0 as facts
from tests.support.run_receiver import RunReceiver
from tests.support.scheduler_node import build_node

TOKEN = "upgrade-0002-token-0123456789"
CLAIMED_FIRE = 9
PENDING_RUN = 9


def rows_with_a_claim_in_flight(address: str) -> dict:
    """0.1.0's rows, plus a manual fire its scheduler claimed (owner: its node id, a lease on the
    fire) and prepared, whose /run it may or may not have sent when it stopped."""
    rows = copy.deepcopy(RELEASES[0].admin_rows)
    rows["sc_executor_group"] = [
        {**group, "address_type": "MANUAL", "manual_addresses": address} if group["id"] == facts.ADMIN_GROUP_BILLING else group
        for group in rows["sc_executor_group"]
    ]
    rows["sc_fire"].append({
        "id": CLAIMED_FIRE, "job_id": facts.SCHEDULED_JOB_ID, "fire_at_ms": facts.T - 1_000, "trigger_type": "MANUAL", "origin_ref": 77,
        "status": "CLAIMED", "owner": "old-node", "lease_until_ms": facts.T + 5_000, "param": None, "shard_index": None,
        "shard_total": None, "address": None, "attempt": 0, "created_at_ms": facts.T - 2_000, "done_at_ms": None,
    })
    template = next(run for run in rows["sc_run_log"] if run["id"] == 1)
    rows["sc_run_log"].append({
        **template, "id": PENDING_RUN, "fire_id": CLAIMED_FIRE, "trigger_type": "MANUAL", "fire_at_ms": facts.T - 1_000,
        "trigger_at_ms": facts.T - 1_000, "executor_address": address, "status": "PENDING", "trigger_code": 0, "trigger_msg": None,
        "handle_at_ms": None, "handle_code": 0, "handle_msg": None, "result_json": None, "followup_status": "NONE",
    })
    return rows


def test_0002_jobs_deliver_at_most_once_and_a_0_1_0_claim_is_settled_then_sent_once(db_url: str) -> None:
    receiver = RunReceiver(TOKEN).start()
    try:
        rows = rows_with_a_claim_in_flight(receiver.address)
        database_at(db_url, ADMIN_SCHEMA, "0001", rows)
        engine = create_db_engine(db_url, pool_size=1)
        try:
            init_schema(engine)
            assert {row["delivery"] for row in read_rows(engine, "sc_job", ["id", "delivery"])} == {Delivery.AT_MOST_ONCE.value}
        finally:
            engine.dispose()
        assert_rows_kept(db_url, rows)

        database = Database(db_url, pool_size=2)
        client = ExecutorClient(TOKEN, connect_timeout_s=2, read_timeout_s=5)
        try:
            node = build_node(database, FakeClock(facts.T), client, "node-new")
            node.step(facts.T)
            node.step(facts.T + 100)
            with database.read_session() as session:
                fire = session.get(Fire, CLAIMED_FIRE)
                run = session.get(RunLog, PENDING_RUN)
                jobs = set(session.execute(sa.select(Job.delivery)).scalars())
                terms = session.execute(sa.select(SchedulerLease.owner)).scalars().all()
        finally:
            client.close()
            database.dispose()
        # The old owner had no lease row: its claim was adopted, the executor asked (it never got
        # logId 9), and the run sent once, under its own logId.
        assert receiver.log_asks == [PENDING_RUN]
        assert [(r.job_id, r.log_id) for r in receiver.runs] == [(facts.SCHEDULED_JOB_ID, PENDING_RUN)]
        assert (fire.status, fire.owner) == (FireStatus.DONE, node.owner) and run.status == RunStatus.RUNNING
        assert jobs == {Delivery.AT_MOST_ONCE} and terms == [node.owner]
    finally:
        receiver.stop()
