"""An XXL-JOB job never imports with a shardcron-only catch-up strategy: it has no window."""

from __future__ import annotations

from shardcron.admin.xxljob_import.convert import convert_job
from shardcron.admin.xxljob_import.source import XxlJob


def _job(misfire: str) -> XxlJob:
    return XxlJob(
        id=5, job_group=1, name="nightly", author="ops", alarm_email="", schedule_type="CRON", schedule_conf="0 0 2 * * ?",
        misfire_strategy=misfire, route_strategy="FIRST", handler="h", param="", block_strategy="SERIAL_EXECUTION", timeout_s=0,
        retry_count=0, glue_type="BEAN", glue_source="", glue_remark="", glue_updated_at=None, child_jobid="", trigger_status=1,
    )


def test_a_catch_up_strategy_is_imported_as_do_nothing_with_an_issue() -> None:
    for strategy in ("CATCH_UP_ALL", "CATCH_UP_LATEST"):
        draft = convert_job(_job(strategy), timezone="UTC", now_ms=1_767_225_600_000)
        assert draft.values["misfire_strategy"] == "DO_NOTHING"
        assert [i.field for i in draft.issues] == ["misfire_strategy"]
        assert "not an XXL-JOB strategy" in draft.issues[0].outcome
    kept = convert_job(_job("FIRE_ONCE_NOW"), timezone="UTC", now_ms=1_767_225_600_000)
    assert kept.values["misfire_strategy"] == "FIRE_ONCE_NOW" and kept.issues == []
