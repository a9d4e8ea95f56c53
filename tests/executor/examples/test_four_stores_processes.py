"""The four-stores recipe end to end: a real admin fires `syncStores` (sharding broadcast,
discard-on-busy, every second) into two real executor processes sharing the business database
(MariaDB) with its outbox; the stores are a real Redis (a prefix of its own), a real PostgreSQL
full-text index (a database of its own) and a folder. Stage `search` is made to fail on the
first two attempts of every message: the retries redo only it, the cache and the object store
are written once per version, and the runs' results show the per-stage status."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shardcron.admin.enums import RouteStrategy, ScheduleType
from shardcron.executor.examples import four_stores as fs
from shardcron.executor.retry_tasks import TaskStatus
from tests.support.net import wait_until
from tests.support.recipe_cluster import RecipeCluster

from .conftest import REDIS_URL

TARGET = "shardcron.executor.examples.four_stores:create_executor"


@pytest.mark.mysql
def test_stages_retry_alone_across_two_executors(mysql_url: str, postgres_url: str, redis_prefix: str, tmp_path: Path) -> None:
    settings = fs.StoreSettings(mysql_url, REDIS_URL, redis_prefix, postgres_url, tmp_path / "objects", fs.FailStage(), 0.2)
    stores = settings.build(owner="test")
    stores.create_tables()
    env = {
        fs.DATABASE_URL_ENV: mysql_url, fs.REDIS_URL_ENV: REDIS_URL, fs.REDIS_PREFIX_ENV: redis_prefix, fs.SEARCH_URL_ENV: postgres_url,
        fs.OBJECTS_DIR_ENV: str(tmp_path / "objects"), fs.FAIL_STAGE_ENV: "search:2", fs.RETRY_BASE_ENV: "0.2",
    }
    slugs = ["alpha", "beta", "gamma", "delta"]
    try:
        with RecipeCluster(tmp_path, app_name="four-stores") as cluster:
            cluster.start_admin()
            cluster.start_executors(TARGET, 2, env=env)
            job = cluster.add_job(
                name="keep the stores in step", handler=fs.SYNC_HANDLER, schedule_type=ScheduleType.FIX_RATE, schedule_conf="1",
                route_strategy=RouteStrategy.SHARDING_BROADCAST, block_strategy="DISCARD_LATER", param="budget_s=5 batch=100 concurrency=4",
            )
            messages = [stores.save_article(slug, f"{slug} notes", f"the {slug} article about sharded schedulers") for slug in slugs]
            messages.append(stores.save_article("alpha", "alpha notes, revised", "alpha now speaks of eventual consistency"))

            def records():
                return [stores.tasks.get(fs.TASK_CODE, no) for no in messages]

            wait_until(
                lambda: all(r is not None and r.status == TaskStatus.SUCCEEDED for r in records()), timeout_s=60,
                what="every message synced: " + cluster.output("executor0")[-2000:],
            )
            for record in records():
                assert record is not None and record.attempts == 3, record
                # Attempt 1 wrote the cache and the object store; only the search stage was retried.
                assert {name: done["attempt"] for name, done in record.stages_done.items()} == {"cache": 1, "objects": 1, "search": 3}
            assert stores.cache.writes() == {"cache:alpha": 2, "cache:beta": 1, "cache:gamma": 1, "cache:delta": 1}
            cached = stores.cache.get("alpha")
            assert cached is not None and (cached["version"], cached["title"]) == (2, "alpha notes, revised")
            assert stores.search.search("sharded schedulers") == ["beta", "delta", "gamma"]
            assert stores.search.search("eventual consistency") == ["alpha"]
            assert stores.objects.get("alpha", 1) is not None and stores.objects.get("alpha", 2) is not None
            assert sorted(p.name for p in (tmp_path / "objects").iterdir()) == sorted([*(f"{s}.v1.json" for s in slugs), "alpha.v2.json"])

            def totals() -> dict[str, dict[str, int]]:
                results = [json.loads(run.result_json) for run in cluster.runs(job) if run.result_json]
                return {name: {o: sum(r["stages"][name][o] for r in results) for o in ("written", "failed", "kept")} for name in fs.STAGES}

            # The run that synced the last message reports when it ends.
            wait_until(lambda: totals()["search"]["written"] == 5, timeout_s=30, what="the last syncing run reported")
            runs = [run for run in cluster.runs(job) if run.result_json]
            assert {run.shard_total for run in runs} == {2} and {run.shard_index for run in runs} == {0, 1}
            results = [json.loads(run.result_json) for run in runs]
            # Five messages, three attempts each: the cache and objects written once and kept twice,
            # the search stage failed twice and written once.
            assert totals() == {
                "cache": {"written": 5, "failed": 0, "kept": 10},
                "search": {"written": 5, "failed": 10, "kept": 0},
                "objects": {"written": 5, "failed": 0, "kept": 10},
            }
            failures = [f for r in results for f in r["stage_failures"]]
            assert failures and all(" search: search store down (made to fail on the first 2 attempt(s))" in f for f in failures)
            assert any(run.handle_msg and "search failed " in run.handle_msg and "stages: cache " in run.handle_msg for run in runs)
    finally:
        stores.cache.close()
        stores.search.close()
        stores.tasks.close()
