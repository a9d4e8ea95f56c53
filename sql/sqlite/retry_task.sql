-- shardcron retry-task schema, SQLite, revision 0002.
-- Create it in your application's own database (the business database), next to the rows whose
-- work it tracks, so a task can be enqueued in the same transaction as the business change.
--
-- Generated from the models by `python -m shardcron.admin.schema sql`: do not edit (a test fails
-- when this file is stale). It creates the schema in an EMPTY database and records its revision.
-- To upgrade an existing database, print the DDL for it: `shardcron tasks upgrade --sql --url ...`.
-- Instants are UTC epoch milliseconds (BIGINT columns named *_at_ms).

CREATE TABLE shardcron_retry_claim (
  id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
  owner VARCHAR(128) NOT NULL,
  task_ids TEXT NOT NULL,
  claim_xid BIGINT NOT NULL,
  created_at_ms BIGINT NOT NULL
);

CREATE TABLE shardcron_retry_task (
  id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
  task_code VARCHAR(64) NOT NULL,
  request_no VARCHAR(128) NOT NULL,
  payload TEXT NOT NULL,
  status VARCHAR(16) NOT NULL,
  attempts INTEGER NOT NULL,
  max_attempts INTEGER NOT NULL,
  next_attempt_at_ms BIGINT NOT NULL,
  lease_owner VARCHAR(128),
  lease_until_ms BIGINT NOT NULL,
  stages_done TEXT,
  last_error TEXT,
  result TEXT,
  created_at_ms BIGINT NOT NULL,
  updated_at_ms BIGINT NOT NULL,
  finished_at_ms BIGINT,
  CONSTRAINT uq_retry_task_request UNIQUE (task_code, request_no)
);
CREATE INDEX ix_retry_task_due ON shardcron_retry_task (status, next_attempt_at_ms);
CREATE INDEX ix_retry_task_finished ON shardcron_retry_task (status, finished_at_ms);

-- The schema's revision, as `shardcron db upgrade` records it.
CREATE TABLE shardcron_retry_task_version (
  version_num VARCHAR(32) NOT NULL,
  CONSTRAINT shardcron_retry_task_version_pkc PRIMARY KEY (version_num)
);
INSERT INTO shardcron_retry_task_version (version_num) VALUES ('0002');
