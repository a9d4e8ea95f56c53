"""The retry-task table, which lives in the application's own (business) database.

This definition is the table at head. A change to it ships as an Alembic revision in
`revisions/versions/` (applied by `shardcron tasks upgrade`), and `sql/*/retry_task.sql` is
generated from it; tests keep the three equal on both engines (docs/development.md).
Instants are UTC epoch milliseconds.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from sqlalchemy import BigInteger, Column, Index, Integer, MetaData, String, Table, Text, UniqueConstraint

from shardcron.core.schema_versions.spec import NAMING_CONVENTION, VersionedSchema

TABLE_NAME = "shardcron_retry_task"
CLAIM_TABLE_NAME = "shardcron_retry_claim"

_Id = BigInteger().with_variant(Integer(), "sqlite")


class TaskStatus(StrEnum):
    PENDING = "PENDING"  # waiting for its next attempt (or leased by a drainer right now)
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"  # failed for good by an external callback (`tasks.fail`)
    DEAD = "DEAD"  # out of attempts; an operator may re-drive it


metadata = MetaData(naming_convention=NAMING_CONVENTION)

retry_task = Table(
    TABLE_NAME,
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("task_code", String(64), nullable=False),
    #: The end-to-end id of the request this task stands for; unique per task_code.
    Column("request_no", String(128), nullable=False),
    Column("payload", Text, nullable=False),  # JSON object
    Column("status", String(16), nullable=False),
    #: Attempts counted so far: a claim counts its attempt as it takes the row (so a running
    #: attempt, and one whose drainer died, are counted); a release of a row never started gives
    #: it back; outcomes do not count again.
    Column("attempts", Integer, nullable=False),
    Column("max_attempts", Integer, nullable=False),
    #: When the row is next due. A claim moves it to the lease's end, so a row whose drainer
    #: died becomes due again by itself.
    Column("next_attempt_at_ms", BigInteger, nullable=False),
    #: The claim holding the row (set only while PENDING and leased; every finishing write clears it).
    Column("lease_owner", String(128), nullable=True),
    Column("lease_until_ms", BigInteger, nullable=False),
    #: JSON object of finished stage name -> the value the stage returned (replayed on retries).
    Column("stages_done", Text, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("result", Text, nullable=True),
    Column("created_at_ms", BigInteger, nullable=False),
    Column("updated_at_ms", BigInteger, nullable=False),
    Column("finished_at_ms", BigInteger, nullable=True),
    UniqueConstraint("task_code", "request_no", name="uq_retry_task_request"),
    # The drainer's claim: status = PENDING AND next_attempt_at_ms <= now (then id % n = i).
    Index("ix_retry_task_due", "status", "next_attempt_at_ms"),
    # Retention: finished rows by finish time.
    Index("ix_retry_task_finished", "status", "finished_at_ms"),
    mysql_engine="InnoDB",
    mysql_charset="utf8mb4",
    mysql_collate="utf8mb4_bin",
    sqlite_autoincrement=True,
)

#: On PostgreSQL a drainer holds the row locks of a batch it claimed in an open transaction and
#: writes each row once, at its outcome (store.HeldClaim). Before any handler runs it commits a
#: row here naming the ids of the batch: the durable trace that their attempts began. The
#: batch's commit deletes the row with its outcomes; a claim that died (its transaction rolled
#: back) leaves it behind, and the next claim to lock those rows counts the lost attempt and
#: takes its ids out. Unused on MySQL/MariaDB and SQLite, where a claim leases its rows.
retry_claim = Table(
    CLAIM_TABLE_NAME,
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    #: The claim's token (the lease owner it would have written).
    Column("owner", String(128), nullable=False),
    #: JSON array of the ids whose attempts this claim began and nobody has counted yet.
    Column("task_ids", Text, nullable=False),
    #: The claim's transaction (PostgreSQL's `pg_current_xact_id()`): while it is in progress the
    #: claim is alive, and other claims need not read its ids.
    Column("claim_xid", BigInteger, nullable=False),
    Column("created_at_ms", BigInteger, nullable=False),
    mysql_engine="InnoDB",
    mysql_charset="utf8mb4",
    mysql_collate="utf8mb4_bin",
    sqlite_autoincrement=True,
)

RETRY_TASK_SCHEMA = VersionedSchema(
    label="retry-task database",
    script_location=Path(__file__).resolve().parent / "revisions",
    # Not `alembic_version`: the application's own migrations may use that table.
    version_table="shardcron_retry_task_version",
    metadata=metadata,
    baseline_tables=(TABLE_NAME,),  # 0.1.0's (frozen: never edit)
    command="shardcron tasks",
    command_args=" --url ...",
)
