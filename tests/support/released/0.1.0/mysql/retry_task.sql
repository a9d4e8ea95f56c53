-- shardcron retry-task table, MySQL 8 / MariaDB >= 10.6. Create it in your application's own
-- database (the business database), next to the rows whose work it tracks, so a task can be
-- enqueued in the same transaction as the business change.
-- The same table as shardcron.executor.retry_tasks.schema; a test keeps them equal.

CREATE TABLE IF NOT EXISTS shardcron_retry_task (
  id                 BIGINT       NOT NULL AUTO_INCREMENT,
  task_code          VARCHAR(64)  NOT NULL,
  request_no         VARCHAR(128) NOT NULL,            -- end-to-end request id, unique per task_code
  payload            TEXT         NOT NULL,            -- JSON object
  status             VARCHAR(16)  NOT NULL,            -- PENDING | SUCCEEDED | FAILED | DEAD
  attempts           INT          NOT NULL,
  max_attempts       INT          NOT NULL,
  next_attempt_at_ms BIGINT       NOT NULL,            -- a claim moves it to the lease's end
  lease_owner        VARCHAR(128) NULL,                -- the claim holding the row, while leased
  lease_until_ms     BIGINT       NOT NULL,
  stages_done        TEXT         NULL,                -- JSON object: finished stage -> its result
  last_error         TEXT         NULL,
  result             TEXT         NULL,
  created_at_ms      BIGINT       NOT NULL,
  updated_at_ms      BIGINT       NOT NULL,
  finished_at_ms     BIGINT       NULL,
  PRIMARY KEY (id),
  UNIQUE KEY uq_retry_task_request (task_code, request_no),
  KEY ix_retry_task_due (status, next_attempt_at_ms),  -- the drainer's claim
  KEY ix_retry_task_finished (status, finished_at_ms)  -- retention
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
