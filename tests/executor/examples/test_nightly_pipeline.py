"""The demo workflow's handlers in process: extract's data per shard, the loaders' sums and the
invoices' deterministic failure, a bad parameter refused, and the report built from ctx.upstream."""

from __future__ import annotations

from typing import Any

from shardcron.core.protocol import TriggerParam
from shardcron.executor.context import JobContext
from shardcron.executor.examples import nightly_pipeline as pipeline

SHARDS = '[{"rows":1000,"shard":0},{"rows":1250,"shard":1}]'


def context(param: str = "", *, index: int = 0, total: int = 1, upstream: dict[str, Any] | None = None, lines: list[str] | None = None) -> JobContext:
    trigger = TriggerParam(
        job_id=7, log_id=1, log_date_time_ms=1_700_000_000_000, executor_handler="x", executor_params=param, broadcast_index=index, broadcast_total=total, upstream=upstream,
    )  # fmt: skip
    return JobContext(trigger=trigger, write_log=(lines if lines is not None else []).append)


def test_extract_returns_rows_per_shard() -> None:
    results = [pipeline.extract(context(index=i, total=2)) for i in range(2)]
    assert [r.data for r in results] == [{"rows": 1000, "shard": 0}, {"rows": 1250, "shard": 1}]


def test_loaders_sum_the_shards_and_invoices_fail_every_third_instance() -> None:
    orders = pipeline.load(context(f"table=orders instance=1 shards={SHARDS}"))
    assert orders.code == 200 and orders.data == {"table": "orders", "rows": 2250}
    assert [pipeline.invoices_fail(i) for i in range(1, 8)] == [True, False, False, True, False, False, True]
    failed = pipeline.load(context(f"table=invoices instance=4 shards={SHARDS}"))
    assert failed.code == 500 and failed.data == {"table": "invoices", "rows": 0, "failed": True} and "ledger is locked" in (failed.msg or "")
    assert pipeline.load(context(f"table=invoices instance=5 shards={SHARDS}")).code == 200


def test_a_bad_parameter_fails_the_load_naming_it() -> None:
    result = pipeline.load(context("table=orders instance=one shards=[]"))
    assert result.code == 500 and "bad parameter" in (result.msg or "")


def test_report_is_made_from_ctx_upstream() -> None:
    lines: list[str] = []
    upstream = {"load_orders": {"table": "orders", "rows": 5}, "load_invoices": {"table": "invoices", "rows": 0, "failed": True}}
    result = pipeline.report(context(upstream=upstream, lines=lines))
    assert result.data == {"loaded": {"load_invoices": 0, "load_orders": 5}, "failed": ["load_invoices"]}
    assert any('"load_orders"' in line for line in lines)
