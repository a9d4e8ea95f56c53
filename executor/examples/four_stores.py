"""Recipe: keep four stores in step (eventual consistency).

An article is saved in the business database; a cache (Redis), a search index (PostgreSQL
full-text search) and an object store (a folder) must follow. Writing all four in the request
would fail half-way sooner or later, so the change is written with an outbox message instead:

- `FourStores.save_article` updates the article row and enqueues a retry task (`SYNC_ARTICLE`,
  request number `ART-<slug>-v<version>`, the article's snapshot as payload) in ONE transaction:
  both commit, or neither. The retry-task table is the outbox: it already has the claim by
  `id % n` that a sharding broadcast needs, leases, backoff and per-task stages, so nothing new
  has to be built to drain it.
- The job `syncStores` (SHARDING_BROADCAST, DISCARD_LATER) drains the outbox: each executor
  takes the messages whose `id % n` is its shard. Each store is a stage (`cache`, `search`,
  `objects`): every attempt tries each stage not finished yet, records the ones that succeed at
  once, and fails the task if any did not, so the retry (with backoff) redoes only the stages
  that failed. Writes are idempotent and never go back in time: each store keeps the article's
  version and ignores an older one.
- The run's result (console: the run's message, result data and log) counts, per stage, the
  writes, failures and stages kept from an earlier attempt, with the first failures:
  "stages: cache kept 3; search failed 3; objects kept 3 (first failures: ART-beta-v1 search: ...)".

    python -m shardcron.executor.examples.four_stores   # needs Redis on 127.0.0.1:6379 and PostgreSQL

`create_executor()` is the executor application (`shardcron executor run
shardcron.executor.examples.four_stores:create_executor`), configured by SHARDCRON_EXAMPLE_*
variables (see `StoreSettings.from_env`). Redis comes from the `examples` extra
(`pip install 'shardcron[examples]'`).
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from shardcron.core.clock import FakeClock
from shardcron.core.errors import ShardcronError

from ..app import Executor
from ..context import JobContext, JobResult
from ..retry_tasks import Backoff, RetryTasks, Task, TaskLeaseLost, TaskRecord

TASK_CODE = "SYNC_ARTICLE"
SYNC_HANDLER = "syncStores"
STAGES = ("cache", "search", "objects")
DATABASE_URL_ENV = "SHARDCRON_EXAMPLE_DATABASE_URL"
REDIS_URL_ENV = "SHARDCRON_EXAMPLE_REDIS_URL"
REDIS_PREFIX_ENV = "SHARDCRON_EXAMPLE_REDIS_PREFIX"
SEARCH_URL_ENV = "SHARDCRON_EXAMPLE_SEARCH_URL"
OBJECTS_DIR_ENV = "SHARDCRON_EXAMPLE_OBJECTS_DIR"
#: `search:2` makes stage `search` fail on the first 2 attempts of every message (demonstrations).
FAIL_STAGE_ENV = "SHARDCRON_EXAMPLE_FAIL_STAGE"
RETRY_BASE_ENV = "SHARDCRON_EXAMPLE_RETRY_BASE_S"
FAILURES_SHOWN = 10

metadata = sa.MetaData()

article = sa.Table(
    "example_article",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("slug", sa.String(128), nullable=False, unique=True),
    sa.Column("title", sa.String(255), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
)

search_metadata = sa.MetaData()

#: The search index, in its own PostgreSQL database.
search_doc = sa.Table(
    "article_search",
    search_metadata,
    sa.Column("slug", sa.String(128), primary_key=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("doc", sa.dialects.postgresql.TSVECTOR, nullable=False),
)


class StoreUnavailable(ShardcronError):
    """A store could not be written this attempt; the stage is tried again on the next one."""


class StagesFailed(ShardcronError):
    """Some stages of a message failed; the finished ones are recorded and not redone."""


# A Redis write that never goes back in time: set only when the stored version is older.
_SET_IF_NEWER = """
local old = redis.call('HGET', KEYS[1], 'version')
if old and tonumber(old) >= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'version', ARGV[1], 'json', ARGV[2])
return 1
"""


class RedisCache:
    def __init__(self, url: str, prefix: str) -> None:
        import redis  # the `examples` extra; only this recipe needs it

        self.client = redis.Redis.from_url(url, socket_timeout=5)
        self.prefix = prefix
        self._set_if_newer = self.client.register_script(_SET_IF_NEWER)

    def key(self, slug: str) -> str:
        return f"{self.prefix}article:{slug}"

    def put(self, snapshot: dict[str, Any]) -> bool:
        self.client.hincrby(f"{self.prefix}writes", f"cache:{snapshot['slug']}", 1)
        return bool(self._set_if_newer(keys=[self.key(snapshot["slug"])], args=[snapshot["version"], json.dumps(snapshot, sort_keys=True)]))

    def get(self, slug: str) -> dict[str, Any] | None:
        raw = self.client.hget(self.key(slug), "json")
        return None if raw is None else dict(json.loads(raw))

    def writes(self) -> dict[str, int]:
        return {(k.decode() if isinstance(k, bytes) else str(k)): int(v) for k, v in self.client.hgetall(f"{self.prefix}writes").items()}

    def close(self) -> None:
        self.client.close()


class SearchIndex:
    """PostgreSQL full-text search: one row per article, a tsvector of title and body."""

    def __init__(self, url: str) -> None:
        self.engine = sa.create_engine(url, pool_pre_ping=True)

    def create_table(self) -> None:
        search_metadata.create_all(self.engine)

    def put(self, snapshot: dict[str, Any]) -> bool:
        stmt = sa.dialects.postgresql.insert(search_doc).values(
            slug=snapshot["slug"], version=snapshot["version"], title=snapshot["title"],
            doc=sa.func.to_tsvector("english", snapshot["title"] + " " + snapshot["body"]),
        )
        upsert = stmt.on_conflict_do_update(
            index_elements=[search_doc.c.slug],
            set_={"version": stmt.excluded.version, "title": stmt.excluded.title, "doc": stmt.excluded.doc},
            where=search_doc.c.version < stmt.excluded.version,
        ).returning(search_doc.c.slug)
        with self.engine.begin() as conn:
            return conn.execute(upsert).first() is not None

    def search(self, words: str) -> list[str]:
        query = sa.select(search_doc.c.slug).where(search_doc.c.doc.op("@@")(sa.func.plainto_tsquery("english", words))).order_by(search_doc.c.slug)
        with self.engine.connect() as conn:
            return list(conn.execute(query).scalars())

    def close(self) -> None:
        self.engine.dispose()


class ObjectStore:
    """A folder: one JSON object per article version, written whole (temporary file, rename)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    def path(self, slug: str, version: int) -> Path:
        return self.folder / f"{slug}.v{version}.json"

    def put(self, snapshot: dict[str, Any]) -> bool:
        target = self.path(snapshot["slug"], snapshot["version"])
        if target.exists():
            return False
        partial = target.with_name(f".{target.name}.{uuid.uuid4().hex}")
        partial.write_text(json.dumps(snapshot, sort_keys=True))
        os.replace(partial, target)
        return True

    def get(self, slug: str, version: int) -> dict[str, Any] | None:
        target = self.path(slug, version)
        return dict(json.loads(target.read_text())) if target.exists() else None


@dataclass(frozen=True)
class FailStage:
    """Make `stage` fail on the first `times` attempts of every message (deterministic: by the
    attempt number, so every executor agrees)."""

    stage: str = ""
    times: int = 0

    @classmethod
    def parse(cls, text: str) -> FailStage:
        if not text:
            return cls()
        stage, _, times = text.partition(":")
        if stage not in STAGES or not times.isdigit():
            raise ShardcronError(f"{FAIL_STAGE_ENV}={text!r}: expected <stage>:<times>, stage one of {', '.join(STAGES)}")
        return cls(stage, int(times))


class FourStores:
    def __init__(self, tasks: RetryTasks, cache: RedisCache, search: SearchIndex, objects: ObjectStore, *,
                 fail: FailStage = FailStage(), backoff: Backoff | None = None) -> None:
        self.tasks = tasks
        self.cache = cache
        self.search = search
        self.objects = objects
        self.fail = fail
        self.writers: dict[str, Callable[[dict[str, Any]], bool]] = {"cache": cache.put, "search": search.put, "objects": objects.put}
        self._lock = threading.Lock()
        self._stages: dict[str, dict[str, int]] = {}
        self._failures: list[str] = []
        self.reset_counts()
        tasks.handler(TASK_CODE, backoff=backoff or Backoff(base_s=5, factor=2, cap_s=300, jitter=0.1))(self.sync)

    def create_tables(self) -> None:
        self.tasks.create_table()
        metadata.create_all(self.tasks.engine)
        self.search.create_table()

    def register(self, executor: Executor) -> None:
        executor.job(SYNC_HANDLER)(self.sync_job)

    def save_article(self, slug: str, title: str, body: str) -> str:
        """The business change: the article row and its outbox message in one transaction.
        Returns the message's request number."""
        with self.tasks.engine.begin() as conn:
            row = conn.execute(sa.select(article.c.version).where(article.c.slug == slug).with_for_update()).first()
            version = 1 if row is None else row.version + 1
            if row is None:
                conn.execute(article.insert().values(slug=slug, title=title, body=body, version=version))
            else:
                conn.execute(article.update().where(article.c.slug == slug).values(title=title, body=body, version=version))
            request_no = f"ART-{slug}-v{version}"
            snapshot = {"slug": slug, "title": title, "body": body, "version": version}
            self.tasks.enqueue(TASK_CODE, request_no, snapshot, session=conn)
        return request_no

    def sync(self, task: Task) -> dict[str, Any]:
        """The outbox handler: every stage not finished yet is tried; the finished ones are
        recorded at once; any failure fails the attempt, and the retry redoes only it."""
        failed = {}
        for name in STAGES:
            if name in task.stages_done:
                self._count(name, "kept")
                continue
            try:
                task.stage(name, self._write, name, task.payload, task.attempt)
            except TaskLeaseLost:
                raise
            except Exception as exc:  # a store's error: this stage failed, the others go on
                failed[name] = str(exc) if isinstance(exc, StoreUnavailable) else f"{type(exc).__name__}: {exc}"
                self._count(name, "failed", f"{task.request_no} {name}: {failed[name]}")
            else:
                self._count(name, "written")
        if failed:
            done = [name for name in STAGES if name in task.stages_done]
            problems = "; ".join(f"{name}: {error}" for name, error in failed.items())
            raise StagesFailed(f"{problems} (done: {', '.join(done) or 'none'})")
        return {"stages": dict(task.stages_done)}

    def _write(self, name: str, snapshot: dict[str, Any], attempt: int) -> dict[str, Any]:
        if self.fail.stage == name and attempt <= self.fail.times:
            raise StoreUnavailable(f"{name} store down (made to fail on the first {self.fail.times} attempt(s))")
        changed = self.writers[name](snapshot)
        return {"attempt": attempt, "version": snapshot["version"], "changed": changed}

    def _count(self, stage: str, outcome: str, failure: str | None = None) -> None:
        with self._lock:
            self._stages[stage][outcome] += 1
            if failure is not None and len(self._failures) < FAILURES_SHOWN:
                self._failures.append(failure)

    def reset_counts(self) -> None:
        with self._lock:
            self._stages = {name: {"written": 0, "failed": 0, "kept": 0} for name in STAGES}
            self._failures = []

    def counts(self) -> dict[str, Any]:
        """Per stage, since `reset_counts`: written, failed, kept (done on an earlier attempt)."""
        with self._lock:
            return {"stages": {name: dict(counts) for name, counts in self._stages.items()}, "stage_failures": list(self._failures)}

    def sync_job(self, ctx: JobContext) -> JobResult:
        """The drainer over the outbox; its result adds what happened to each stage in this run
        (written, failed, kept from an earlier attempt) and the first failures. Runs of this job
        on one executor do not overlap (DISCARD_LATER), so the counters are this run's."""
        self.reset_counts()
        result = self.tasks.drainer(ctx)
        status = self.counts()
        ctx.result_data.update(status)
        text = describe_status(status)
        ctx.log(text)
        return JobResult(result.code, f"{result.msg}; {text}" if result.msg else text, {**(result.data or {}), **status})


def describe_status(status: dict[str, Any]) -> str:
    """`stages: cache written 3; search failed 3; objects written 3 (first failures: ...)`."""
    parts = []
    for name, counts in status["stages"].items():
        parts.append(f"{name} " + (", ".join(f"{outcome} {n}" for outcome, n in counts.items() if n) or "idle"))
    text = "stages: " + "; ".join(parts)
    if status["stage_failures"]:
        text += " (first failures: " + " | ".join(status["stage_failures"]) + ")"
    return text


@dataclass(frozen=True)
class StoreSettings:
    database_url: str
    redis_url: str
    redis_prefix: str
    search_url: str
    objects_dir: Path
    fail: FailStage
    retry_base_s: float

    @classmethod
    def from_env(cls) -> StoreSettings:
        missing = [name for name in (DATABASE_URL_ENV, SEARCH_URL_ENV, OBJECTS_DIR_ENV) if not os.environ.get(name)]
        if missing:
            raise ShardcronError(f"{', '.join(missing)} not set: the four-stores recipe needs its business database, search database and object folder")
        return cls(
            database_url=os.environ[DATABASE_URL_ENV],
            redis_url=os.environ.get(REDIS_URL_ENV) or "redis://127.0.0.1:6379/0",
            redis_prefix=os.environ.get(REDIS_PREFIX_ENV) or "shardcron-example:",
            search_url=os.environ[SEARCH_URL_ENV],
            objects_dir=Path(os.environ[OBJECTS_DIR_ENV]),
            fail=FailStage.parse(os.environ.get(FAIL_STAGE_ENV, "")),
            retry_base_s=float(os.environ.get(RETRY_BASE_ENV) or 5),
        )

    def build(self, **tasks_options: Any) -> FourStores:
        backoff = Backoff(base_s=self.retry_base_s, factor=2, cap_s=max(self.retry_base_s, 60 * self.retry_base_s), jitter=0.1)
        return FourStores(
            RetryTasks(self.database_url, **tasks_options), RedisCache(self.redis_url, self.redis_prefix),
            SearchIndex(self.search_url), ObjectStore(self.objects_dir), fail=self.fail, backoff=backoff,
        )


def create_executor() -> Executor:
    stores = StoreSettings.from_env().build()
    stores.create_tables()
    executor = Executor()
    stores.register(executor)
    return executor


def run_demo(search_url: str = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres", redis_url: str = "redis://127.0.0.1:6379/0",
             *, out: Callable[[str], None] = print) -> dict[str, TaskRecord | None]:
    """Three articles saved; stage `search` fails twice; three drains: the cache and the object
    store are written once, the search index on the third attempt."""
    prefix = f"shardcron-demo-{uuid.uuid4().hex[:8]}:"
    with tempfile.TemporaryDirectory(prefix="shardcron-four-stores-") as folder:
        settings = StoreSettings(f"sqlite:///{Path(folder) / 'business.db'}", redis_url, prefix, search_url, Path(folder) / "objects", FailStage("search", 2), 60)
        clock = FakeClock(start_ms=1_796_000_000_000)
        stores = settings.build(owner="demo", clock=clock)
        try:
            stores.create_tables()
            saved = [stores.save_article(slug, f"{slug.title()} notes", f"the {slug} article about sharded schedulers") for slug in ("alpha", "beta", "gamma")]
            out(f"saved {', '.join(saved)} (article rows and outbox messages, one transaction each)")
            for _ in range(3):
                stores.reset_counts()
                out(stores.tasks.drain().summary())
                out(describe_status(stores.counts()))
                clock.advance(s=600)
            out(f"search 'schedulers': {stores.search.search('schedulers')}")
            out(f"store writes: {dict(sorted(stores.cache.writes().items()))}")
            return {no: stores.tasks.get(TASK_CODE, no) for no in saved}
        finally:
            stores.cache.client.delete(f"{prefix}writes", *[stores.cache.key(s) for s in ("alpha", "beta", "gamma")])
            search_metadata.drop_all(stores.search.engine)
            stores.cache.close()
            stores.search.close()
            stores.tasks.close()


if __name__ == "__main__":
    run_demo()
