"""Every job and group column is either exported or listed as not exported, with a reason."""

from __future__ import annotations

from shardcron.admin.models import ExecutorGroup, Job
from shardcron.admin.transfer.fields import GROUP_NOT_EXPORTED, JOB_NOT_EXPORTED, group_fields, job_fields


def test_every_job_column_is_exported_or_explained() -> None:
    columns = {column.key for column in Job.__table__.columns}
    assert columns == set(job_fields()) | set(JOB_NOT_EXPORTED)
    assert not set(job_fields()) & set(JOB_NOT_EXPORTED)
    assert all(reason.strip() for reason in JOB_NOT_EXPORTED.values())
    assert set(JOB_NOT_EXPORTED) <= columns, "a listed column no longer exists"


def test_every_group_column_is_exported_or_explained() -> None:
    columns = {column.key for column in ExecutorGroup.__table__.columns}
    assert columns == set(group_fields()) | set(GROUP_NOT_EXPORTED)
    assert all(reason.strip() for reason in GROUP_NOT_EXPORTED.values())
    assert set(GROUP_NOT_EXPORTED) <= columns, "a listed column no longer exists"


def test_settings_are_exported_and_ids_are_not() -> None:
    assert {"name", "schedule_type", "schedule_conf", "handler", "glue_source", "enabled", "delivery"} <= set(job_fields())
    assert "id" not in job_fields() and "group_id" not in job_fields() and "child_job_ids" not in job_fields()
    assert set(group_fields()) == {"app_name", "title", "address_type", "manual_addresses", "cap_runs", "cap_policy", "cap_wait_s"}
