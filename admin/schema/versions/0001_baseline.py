"""Baseline: the admin schema of shardcron 0.1.0, the last release before versioned upgrades.

A database created by 0.1.0 (its tables, no version table) is recognised by `shardcron db
upgrade` and recorded at this revision: every step below skips what exists. Frozen: this file
describes 0.1.0 and never changes; later changes are later revisions.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa

from shardcron.core.schema_versions import steps

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

#: BIGINT ids, but INTEGER on SQLite, where only INTEGER PRIMARY KEY is the auto-incrementing rowid.
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TABLE_OPTIONS = {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin"}
#: Tables with a surrogate id: AUTOINCREMENT on SQLite, so no id is ever handed out twice.
ID_TABLE_OPTIONS = {**TABLE_OPTIONS, "sqlite_autoincrement": True}


def upgrade() -> None:
    steps.create_table(
        "sc_alarm",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("run_log_id", sa.BigInteger(), nullable=False),
        sa.Column("job_id", sa.BigInteger(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("target", sa.String(length=512), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at_ms", sa.BigInteger(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at_ms", sa.BigInteger(), nullable=False),
        sa.Column("sent_at_ms", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("run_log_id", "channel", name="uq_alarm_run_channel"),
        **ID_TABLE_OPTIONS,
    )
    steps.create_index("ix_alarm_due", "sc_alarm", ["status", "next_attempt_at_ms"])
    steps.create_table(
        "sc_daily_report",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("group_id", sa.BigInteger(), nullable=False),
        sa.Column("running_count", sa.Integer(), nullable=False),
        sa.Column("success_count", sa.Integer(), nullable=False),
        sa.Column("fail_count", sa.Integer(), nullable=False),
        sa.Column("updated_at_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("day", "group_id", name="uq_daily_report_day_group"),
        **ID_TABLE_OPTIONS,
    )
    steps.create_table(
        "sc_executor_group",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("app_name", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=128), nullable=False),
        sa.Column("address_type", sa.String(length=16), nullable=False),
        sa.Column("manual_addresses", sa.Text(), nullable=True),
        sa.Column("created_at_ms", sa.BigInteger(), nullable=False),
        sa.Column("updated_at_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("app_name", name="uq_group_app_name"),
        **ID_TABLE_OPTIONS,
    )
    steps.create_table(
        "sc_executor_registry",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("registry_group", sa.String(length=32), nullable=False),
        sa.Column("app_name", sa.String(length=64), nullable=False),
        sa.Column("address", sa.String(length=255), nullable=False),
        sa.Column("registered_at_ms", sa.BigInteger(), nullable=False),
        sa.Column("heartbeat_at_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("registry_group", "app_name", "address", name="uq_registry_address"),
        **ID_TABLE_OPTIONS,
    )
    steps.create_index("ix_registry_heartbeat", "sc_executor_registry", ["heartbeat_at_ms"])
    steps.create_table(
        "sc_fire",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("job_id", sa.BigInteger(), nullable=False),
        sa.Column("fire_at_ms", sa.BigInteger(), nullable=False),
        sa.Column("trigger_type", sa.String(length=16), nullable=False),
        sa.Column("origin_ref", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("owner", sa.String(length=128), nullable=True),
        sa.Column("lease_until_ms", sa.BigInteger(), nullable=False),
        sa.Column("param", sa.Text(), nullable=True),
        sa.Column("shard_index", sa.Integer(), nullable=True),
        sa.Column("shard_total", sa.Integer(), nullable=True),
        sa.Column("address", sa.String(length=255), nullable=True),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("created_at_ms", sa.BigInteger(), nullable=False),
        sa.Column("done_at_ms", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("job_id", "fire_at_ms", "trigger_type", "origin_ref", name="uq_fire_once"),
        **ID_TABLE_OPTIONS,
    )
    steps.create_index("ix_fire_claimable", "sc_fire", ["status", "lease_until_ms"])
    steps.create_index("ix_fire_created", "sc_fire", ["created_at_ms"])
    steps.create_table(
        "sc_meta",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.String(length=255), nullable=False),
        sa.PrimaryKeyConstraint("name"),
        **TABLE_OPTIONS,
    )
    steps.create_table(
        "sc_run_log",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("job_id", sa.BigInteger(), nullable=False),
        sa.Column("group_id", sa.BigInteger(), nullable=False),
        sa.Column("fire_id", sa.BigInteger(), nullable=True),
        sa.Column("trigger_type", sa.String(length=16), nullable=False),
        sa.Column("fire_at_ms", sa.BigInteger(), nullable=False),
        sa.Column("trigger_at_ms", sa.BigInteger(), nullable=False),
        sa.Column("executor_address", sa.String(length=255), nullable=True),
        sa.Column("handler", sa.String(length=255), nullable=False),
        sa.Column("param", sa.Text(), nullable=True),
        sa.Column("shard_index", sa.Integer(), nullable=False),
        sa.Column("shard_total", sa.Integer(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("retry_remaining", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("trigger_code", sa.Integer(), nullable=False),
        sa.Column("trigger_msg", sa.Text(), nullable=True),
        sa.Column("handle_at_ms", sa.BigInteger(), nullable=True),
        sa.Column("handle_code", sa.Integer(), nullable=False),
        sa.Column("handle_msg", sa.Text(), nullable=True),
        sa.Column("result_json", sa.Text(), nullable=True),
        sa.Column("followup_status", sa.String(length=16), nullable=False),
        sa.Column("progress_done", sa.Integer(), nullable=True),
        sa.Column("progress_total", sa.Integer(), nullable=True),
        sa.Column("executor_gone_at_ms", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        **ID_TABLE_OPTIONS,
    )
    steps.create_index("ix_run_fire", "sc_run_log", ["fire_id"])
    steps.create_index("ix_run_followup", "sc_run_log", ["followup_status"])
    steps.create_index("ix_run_group_status_time", "sc_run_log", ["group_id", "status", "trigger_at_ms"])
    steps.create_index("ix_run_group_time", "sc_run_log", ["group_id", "trigger_at_ms"])
    steps.create_index("ix_run_job_time", "sc_run_log", ["job_id", "trigger_at_ms"])
    steps.create_index("ix_run_status_time", "sc_run_log", ["status", "trigger_at_ms"])
    steps.create_index("ix_run_time", "sc_run_log", ["trigger_at_ms"])
    steps.create_table(
        "sc_scheduler_node",
        sa.Column("node_id", sa.String(length=128), nullable=False),
        sa.Column("hostname", sa.String(length=255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started_at_ms", sa.BigInteger(), nullable=False),
        sa.Column("heartbeat_at_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("node_id"),
        **TABLE_OPTIONS,
    )
    steps.create_index("ix_scheduler_node_heartbeat", "sc_scheduler_node", ["heartbeat_at_ms"])
    steps.create_table(
        "sc_singleton_lease",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("owner", sa.String(length=128), nullable=True),
        sa.Column("lease_until_ms", sa.BigInteger(), nullable=False),
        sa.Column("last_run_at_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
        **TABLE_OPTIONS,
    )
    steps.create_table(
        "sc_user",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("api_token_hash", sa.String(length=64), nullable=True),
        sa.Column("session_version", sa.Integer(), nullable=False),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until_ms", sa.BigInteger(), nullable=False),
        sa.Column("created_at_ms", sa.BigInteger(), nullable=False),
        sa.Column("updated_at_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("api_token_hash", name="uq_user_api_token"),
        sa.UniqueConstraint("username", name="uq_user_username"),
        **ID_TABLE_OPTIONS,
    )
    steps.create_table(
        "sc_job",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("group_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("author", sa.String(length=64), nullable=False),
        sa.Column("schedule_type", sa.String(length=16), nullable=False),
        sa.Column("schedule_conf", sa.String(length=255), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("misfire_strategy", sa.String(length=16), nullable=False),
        sa.Column("route_strategy", sa.String(length=32), nullable=False),
        sa.Column("handler", sa.String(length=255), nullable=False),
        sa.Column("param", sa.Text(), nullable=True),
        sa.Column("block_strategy", sa.String(length=32), nullable=False),
        sa.Column("timeout_s", sa.Integer(), nullable=False),
        sa.Column("retry_count", sa.Integer(), nullable=False),
        sa.Column("retry_delay_s", sa.Integer(), nullable=False),
        sa.Column("retry_backoff_multiplier", sa.Integer(), nullable=False),
        sa.Column("retry_max_delay_s", sa.Integer(), nullable=False),
        sa.Column("glue_type", sa.String(length=32), nullable=False),
        sa.Column("glue_source", sa.Text(), nullable=True),
        sa.Column("glue_updated_at_ms", sa.BigInteger(), nullable=False),
        sa.Column("child_job_ids", sa.String(length=512), nullable=False),
        sa.Column("alarm_emails", sa.String(length=512), nullable=False),
        sa.Column("alarm_webhook", sa.String(length=512), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("next_fire_at_ms", sa.BigInteger(), nullable=False),
        sa.Column("last_fire_at_ms", sa.BigInteger(), nullable=False),
        sa.Column("created_at_ms", sa.BigInteger(), nullable=False),
        sa.Column("updated_at_ms", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["group_id"], ["sc_executor_group.id"], name="fk_job_group"),
        sa.PrimaryKeyConstraint("id"),
        **ID_TABLE_OPTIONS,
    )
    steps.create_index("ix_job_due", "sc_job", ["enabled", "next_fire_at_ms"])
    steps.create_index("ix_job_group_name", "sc_job", ["group_id", "name"])
    steps.create_table(
        "sc_user_group",
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("group_id", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["group_id"], ["sc_executor_group.id"], name="fk_user_group_group", ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["sc_user.id"], name="fk_user_group_user", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id", "group_id"),
        **TABLE_OPTIONS,
    )
    steps.create_index("ix_user_group_group", "sc_user_group", ["group_id"])
