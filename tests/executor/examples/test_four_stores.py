"""The four-stores recipe in one process on a fake clock: the article and its outbox message
commit together, a failing stage is retried alone, and every store's write is idempotent and
never goes back to an older version. Real Redis and PostgreSQL; the business database SQLite."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from shardcron.core.clock import FakeClock
from shardcron.core.errors import ShardcronError
from shardcron.executor.examples import four_stores as fs
from shardcron.executor.retry_tasks import TaskStatus

from .conftest import REDIS_URL


@pytest.fixture
def stores(postgres_url: str, redis_prefix: str, tmp_path: Path, fake_clock: FakeClock) -> Iterator[fs.FourStores]:
    settings = fs.StoreSettings(f"sqlite:///{tmp_path / 'business.db'}", REDIS_URL, redis_prefix, postgres_url, tmp_path / "objects", fs.FailStage("search", 2), 60)
    app = settings.build(owner="test", clock=fake_clock)
    app.create_tables()
    try:
        yield app
    finally:
        app.cache.close()
        app.search.close()
        app.tasks.close()


def test_a_retry_redoes_only_the_stage_that_failed(stores: fs.FourStores, fake_clock: FakeClock) -> None:
    saved = [stores.save_article(slug, f"{slug} notes", "sharded schedulers") for slug in ("alpha", "beta")]
    assert saved == ["ART-alpha-v1", "ART-beta-v1"]
    drains = []
    for _ in range(3):
        stores.reset_counts()
        stores.tasks.drain()
        drains.append({name: {k: v for k, v in counts.items() if v} for name, counts in stores.counts()["stages"].items()})
        fake_clock.advance(s=3600)
    assert drains == [
        {"cache": {"written": 2}, "search": {"failed": 2}, "objects": {"written": 2}},
        {"cache": {"kept": 2}, "search": {"failed": 2}, "objects": {"kept": 2}},
        {"cache": {"kept": 2}, "search": {"written": 2}, "objects": {"kept": 2}},
    ]
    for no in saved:
        record = stores.tasks.get(fs.TASK_CODE, no)
        assert record is not None and (record.status, record.attempts) == (TaskStatus.SUCCEEDED, 3)
        assert {name: done["attempt"] for name, done in record.stages_done.items()} == {"cache": 1, "objects": 1, "search": 3}
    assert stores.cache.writes() == {"cache:alpha": 1, "cache:beta": 1}
    assert stores.search.search("schedulers") == ["alpha", "beta"]
    status = fs.describe_status({"stages": {"cache": {"written": 1, "failed": 0, "kept": 0}, "search": {"written": 0, "failed": 0, "kept": 0}}, "stage_failures": ["ART-a-v1 search: down"]})
    assert status == "stages: cache written 1; search idle (first failures: ART-a-v1 search: down)"


def test_store_writes_are_idempotent_and_never_go_back(stores: fs.FourStores) -> None:
    v1 = {"slug": "gamma", "title": "first", "body": "old words", "version": 1}
    v2 = {"slug": "gamma", "title": "second", "body": "new words", "version": 2}
    for put in (stores.cache.put, stores.search.put, stores.objects.put):
        assert put(v2) is True
        assert put(v2) is False, put  # the same write again changes nothing
        assert put(v1) is (put == stores.objects.put), put  # older: only the object store keeps every version
    assert stores.cache.get("gamma") == v2
    assert stores.search.search("new") == ["gamma"] and stores.search.search("old") == []
    assert stores.objects.get("gamma", 1) == v1 and stores.objects.get("gamma", 2) == v2


def test_the_article_and_its_message_commit_together(stores: fs.FourStores) -> None:
    with pytest.raises(ShardcronError):
        stores.save_article("x" * 126, "too long a request number", "body")  # the message is refused: no article either
    with stores.tasks.engine.connect() as conn:
        assert conn.execute(fs.article.select()).all() == []
    assert stores.save_article("delta", "t", "b") == "ART-delta-v1"
    assert stores.save_article("delta", "t2", "b2") == "ART-delta-v2"


def test_fail_stage_setting_is_checked() -> None:
    assert fs.FailStage.parse("search:2") == fs.FailStage("search", 2)
    assert fs.FailStage.parse("") == fs.FailStage()
    for bad in ("mail:2", "search", "search:x"):
        with pytest.raises(ShardcronError, match="expected <stage>:<times>"):
            fs.FailStage.parse(bad)


def test_run_demo_tells_the_story(postgres_url: str) -> None:
    lines: list[str] = []
    records = fs.run_demo(postgres_url, REDIS_URL, out=lines.append)
    assert {no: (r.status, r.attempts) for no, r in records.items() if r is not None} == {
        f"ART-{slug}-v1": (TaskStatus.SUCCEEDED, 3) for slug in ("alpha", "beta", "gamma")
    }
    assert lines[2].startswith("stages: cache written 3; search failed 3; objects written 3 (first failures: ")
    assert lines[4].startswith("stages: cache kept 3; search failed 3; objects kept 3")
    assert lines[6] == "stages: cache kept 3; search written 3; objects kept 3"
    assert lines[-1] == "store writes: {'cache:alpha': 1, 'cache:beta': 1, 'cache:gamma': 1}"
