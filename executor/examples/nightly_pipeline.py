"""The executor of the demo's workflow "nightly-pipeline": an extract broadcast over every
executor of its group, three loaders fed from the extract's result data, a compensation for the
invoices, and a report that logs what the steps before it left (`ctx.upstream`).

    SHARDCRON_EXECUTOR_APP_NAME=shardcron-demo-pipeline ... \\
    shardcron executor run shardcron.executor.examples.nightly_pipeline:create_executor

Handlers (the workflow's definition, admin/demo/pipeline.py, fills their parameters):

- `pipelineExtract`: a sharding broadcast step; each shard "extracts" its share of the rows and
  returns `{"rows": n, "shard": i}` as result data (n is fixed per shard, so a run is repeatable).
- `pipelineLoad`: parameter `table=NAME instance={{instance.id}} shards={{upstream.extract.shards}}`;
  loads the rows the shards extracted. The invoices fail in the first instance and every third
  after it (instance id % 3 == 1), so the compensation branch shows without waiting long.
- `pipelineCompensate`: undoes a failed load (parameter `table=NAME`).
- `pipelineReport`: logs `ctx.upstream` (what the loaders left, the failed one's too) and returns
  a summary of it.
"""

from __future__ import annotations

import json
from typing import Any

from ..app import Executor
from ..context import JobContext, JobResult

EXTRACT_HANDLER = "pipelineExtract"
LOAD_HANDLER = "pipelineLoad"
COMPENSATE_HANDLER = "pipelineCompensate"
REPORT_HANDLER = "pipelineReport"
#: Rows each shard extracts: 1,000 plus 250 per shard index.
ROWS_BASE = 1_000
ROWS_PER_SHARD = 250
#: The table whose load fails now and then, and when: instance id % FAIL_EVERY == FAIL_REMAINDER.
FLAKY_TABLE = "invoices"
FAIL_EVERY = 3
FAIL_REMAINDER = 1


def parse_param(param: str | None) -> dict[str, str]:
    """`name=value` words (a value is everything up to the next space; JSON values hold none)."""
    fields: dict[str, str] = {}
    for word in (param or "").split():
        name, sep, value = word.partition("=")
        if sep:
            fields[name] = value
    return fields


def invoices_fail(instance_id: int) -> bool:
    """Whether the invoices load of workflow instance `instance_id` fails (deterministic)."""
    return instance_id % FAIL_EVERY == FAIL_REMAINDER


def extract(ctx: JobContext) -> JobResult:
    rows = ROWS_BASE + ROWS_PER_SHARD * ctx.shard_index
    ctx.log("extracted %s rows as shard %s of %s", rows, ctx.shard_index, ctx.shard_total)
    return JobResult.success(f"extracted {rows} rows", {"rows": rows, "shard": ctx.shard_index})


def load(ctx: JobContext) -> JobResult:
    fields = parse_param(ctx.param)
    table = fields.get("table", "?")
    try:
        shards: list[Any] = json.loads(fields.get("shards", "[]"))
        instance_id = int(fields.get("instance", "0"))
    except ValueError as exc:
        return JobResult.fail(f"bad parameter {ctx.param!r}: {exc}")
    rows = sum(int(shard.get("rows", 0)) for shard in shards if isinstance(shard, dict))
    if table == FLAKY_TABLE and invoices_fail(instance_id):
        ctx.log("loading %s rows into %s failed: the ledger is locked (instance %s)", rows, table, instance_id)
        return JobResult.fail(f"{table}: the ledger is locked; {rows} rows not loaded", {"table": table, "rows": 0, "failed": True})
    ctx.log("loaded %s rows from %s shards into %s (instance %s)", rows, len(shards), table, instance_id)
    return JobResult.success(f"loaded {rows} rows into {table}", {"table": table, "rows": rows})


def compensate(ctx: JobContext) -> JobResult:
    table = parse_param(ctx.param).get("table", "?")
    ctx.log("rolled back the partial load of %s", table)
    return JobResult.success(f"rolled back {table}", {"table": table, "rolled_back": True})


def report(ctx: JobContext) -> JobResult:
    ctx.log("upstream: %s", json.dumps(ctx.upstream, sort_keys=True))
    loaded = {key: value.get("rows", 0) for key, value in sorted(ctx.upstream.items()) if isinstance(value, dict)}
    failed = sorted(key for key, value in ctx.upstream.items() if isinstance(value, dict) and value.get("failed"))
    ctx.log("report: rows loaded %s; failed: %s", loaded, ", ".join(failed) or "none")
    return JobResult.success(f"report of {len(loaded)} loads", {"loaded": loaded, "failed": failed})


def create_executor() -> Executor:
    """The pipeline's executor application; settings from SHARDCRON_EXECUTOR_*."""
    executor = Executor()
    executor.job(EXTRACT_HANDLER)(extract)
    executor.job(LOAD_HANDLER)(load)
    executor.job(COMPENSATE_HANDLER)(compensate)
    executor.job(REPORT_HANDLER)(report)
    return executor
