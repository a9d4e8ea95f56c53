-- shardcron retry-task table, SQLite twin of sql/mysql/retry_task.sql.
-- The same table as shardcron.executor.retry_tasks.schema; a test keeps them equal.

CREATE TABLE IF NOT EXISTS shardcron_retry_task (
  id                 INTEGER      NOT NULL PRIMARY KEY AUTOINCREMENT,
  task_code          VARCHAR(64)  NOT NULL,
  request_no         VARCHAR(128) NOT NULL,
  payload            TEXT         NOT NULL,
  status             VARCHAR(16)  NOT NULL,
  attempts           INTEGER      NOT NULL,
  max_attempts       INTEGER      NOT NULL,
  next_attempt_at_ms BIGINT       NOT NULL,
  lease_owner        VARCHAR(128) NULL,
  lease_until_ms     BIGINT       NOT NULL,
  stages_done        TEXT         NULL,
  last_error         TEXT         NULL,
  result             TEXT         NULL,
  created_at_ms      BIGINT       NOT NULL,
  updated_at_ms      BIGINT       NOT NULL,
  finished_at_ms     BIGINT       NULL,
  CONSTRAINT uq_retry_task_request UNIQUE (task_code, request_no)
);
CREATE INDEX IF NOT EXISTS ix_retry_task_due ON shardcron_retry_task (status, next_attempt_at_ms);
CREATE INDEX IF NOT EXISTS ix_retry_task_finished ON shardcron_retry_task (status, finished_at_ms);
