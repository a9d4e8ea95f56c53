"""The long-batch recipe end to end: a real admin and two real executor processes. The batch of
10,000 items stops half-way (pause_at, so nothing depends on timing) with its checkpoint saved;
repair now is refused while the run is alive; then its executor is killed with SIGKILL, repair
now re-runs it on the other executor from the checkpoint, and every item ends processed once."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import sqlalchemy as sa

from shardcron.admin.enums import RouteStrategy, RunStatus, TriggerType
from shardcron.admin.models import RunLog
from shardcron.admin.services import triggers
from shardcron.admin.services.actor import SYSTEM_ACTOR
from shardcron.admin.services.errors import Conflict
from shardcron.admin.services.repair import repair_run
from shardcron.admin.transport.executor_client import ExecutorClient
from shardcron.core.clock import SYSTEM_CLOCK
from shardcron.executor.examples.long_batch import DATABASE_URL_ENV, HANDLER, LongBatch
from tests.support.executor_calls import TOKEN
from tests.support.net import wait_until
from tests.support.recipe_cluster import RecipeCluster

TARGET = "shardcron.executor.examples.long_batch:create_executor"
ITEMS = 10_000
HALF = 5_000


def test_killed_half_way_it_resumes_on_the_other_executor_without_redoing_items(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'business.db'}"
    batch = LongBatch(url)
    batch.create_tables()
    client = ExecutorClient(TOKEN, connect_timeout_s=2, read_timeout_s=5)
    try:
        with RecipeCluster(tmp_path, app_name="long-batch") as cluster:
            cluster.start_admin()
            cluster.start_executors(TARGET, 2, env={DATABASE_URL_ENV: url})
            assert cluster.db is not None
            db = cluster.db
            job = cluster.add_job(name="long batch", handler=HANDLER, route_strategy=RouteStrategy.FAILOVER, param=f"items={ITEMS} pause_at={HALF}")
            with db.session() as s:
                triggers.trigger_job(s, SYSTEM_ACTOR, job, now_ms=SYSTEM_CLOCK.now_ms())

            def run_rows() -> list[RunLog]:
                with db.read_session() as s:
                    return list(s.scalars(sa.select(RunLog).where(RunLog.job_id == job).order_by(RunLog.id)))

            def first_checkpointed() -> bool:
                rows = run_rows()
                return bool(rows) and rows[0].checkpoint_json is not None and json.loads(rows[0].checkpoint_json) == {"next": HALF}

            wait_until(first_checkpointed, timeout_s=20, what="the checkpoint at item 5,000: " + cluster.output("executor0")[-2000:])
            [first] = run_rows()
            assert first.status == RunStatus.RUNNING and (first.progress_done, first.progress_total) == (HALF, ITEMS)
            assert sorted(batch.processed()) == list(range(HALF))
            try:
                repair_run(db, SYSTEM_ACTOR, first.id, client, now_ms=SYSTEM_CLOCK.now_ms())
                raise AssertionError("repair now of a live run was not refused")
            except Conflict as refused:
                assert f"run {first.id} is still alive" in refused.message

            [victim] = [name for name, address in cluster.addresses.items() if first.executor_address and first.executor_address.rstrip("/") == address]
            cluster.processes[victim].send_signal(signal.SIGKILL)
            cluster.processes[victim].wait(10)

            repaired = repair_run(db, SYSTEM_ACTOR, first.id, client, now_ms=SYSTEM_CLOCK.now_ms())
            assert repaired.resumes and "does not answer /beat" in repaired.message

            def finished() -> bool:
                rows = run_rows()
                # the result may arrive before the scheduler has written the trigger's answer
                return len(rows) == 2 and rows[1].status in (RunStatus.SUCCESS, RunStatus.FAILED) and rows[1].trigger_code != 0

            survivor = next(name for name in cluster.addresses if name != victim)
            wait_until(finished, timeout_s=20, what="the re-run to finish: " + cluster.output(survivor)[-2000:])
            old, new = run_rows()
            assert old.status == RunStatus.FAILED and (old.handle_msg or "").startswith("lost: repaired by hand")
            assert (new.status, new.trigger_type, new.resume_from_run_id) == (RunStatus.SUCCESS, TriggerType.MANUAL, old.id), new.handle_msg
            assert (new.executor_address or "").rstrip("/") == cluster.addresses[survivor]
            assert json.loads(new.result_json or "{}") == {"started_at": HALF, "processed": ITEMS - HALF}
            assert (new.progress_done, new.progress_total) == (ITEMS, ITEMS)
            done = batch.processed()
            assert sorted(done) == list(range(ITEMS)) and set(done.values()) == {1}, "every item processed exactly once"
    finally:
        client.close()
        batch.engine.dispose()
