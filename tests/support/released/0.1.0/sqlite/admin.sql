-- shardcron admin database, SQLite twin of sql/mysql/admin.sql (the embedded default).
-- The same schema as shardcron.admin.models; tests/admin/test_schema_ddl.py keeps them equal.
-- Instants are UTC epoch milliseconds (columns named *_at_ms). AUTOINCREMENT keeps ids from
-- ever being reused (a run log's id is the executor's log file name).

CREATE TABLE IF NOT EXISTS sc_meta (
  name  VARCHAR(64)  NOT NULL PRIMARY KEY,
  value VARCHAR(255) NOT NULL
);

CREATE TABLE IF NOT EXISTS sc_executor_group (
  id               INTEGER      NOT NULL PRIMARY KEY AUTOINCREMENT,
  app_name         VARCHAR(64)  NOT NULL,
  title            VARCHAR(128) NOT NULL,
  address_type     VARCHAR(16)  NOT NULL,
  manual_addresses TEXT         NULL,
  created_at_ms    BIGINT       NOT NULL,
  updated_at_ms    BIGINT       NOT NULL,
  CONSTRAINT uq_group_app_name UNIQUE (app_name)
);

CREATE TABLE IF NOT EXISTS sc_executor_registry (
  id               INTEGER      NOT NULL PRIMARY KEY AUTOINCREMENT,
  registry_group   VARCHAR(32)  NOT NULL,
  app_name         VARCHAR(64)  NOT NULL,
  address          VARCHAR(255) NOT NULL,
  registered_at_ms BIGINT       NOT NULL,
  heartbeat_at_ms  BIGINT       NOT NULL,
  CONSTRAINT uq_registry_address UNIQUE (registry_group, app_name, address)
);
CREATE INDEX IF NOT EXISTS ix_registry_heartbeat ON sc_executor_registry (heartbeat_at_ms);

CREATE TABLE IF NOT EXISTS sc_job (
  id                       INTEGER      NOT NULL PRIMARY KEY AUTOINCREMENT,
  group_id                 BIGINT       NOT NULL,
  name                     VARCHAR(128) NOT NULL,
  author                   VARCHAR(64)  NOT NULL,
  schedule_type            VARCHAR(16)  NOT NULL,
  schedule_conf            VARCHAR(255) NOT NULL,
  timezone                 VARCHAR(64)  NOT NULL,
  misfire_strategy         VARCHAR(16)  NOT NULL,
  route_strategy           VARCHAR(32)  NOT NULL,
  handler                  VARCHAR(255) NOT NULL,
  param                    TEXT         NULL,
  block_strategy           VARCHAR(32)  NOT NULL,
  timeout_s                INTEGER      NOT NULL,
  retry_count              INTEGER      NOT NULL,
  retry_delay_s            INTEGER      NOT NULL,
  retry_backoff_multiplier INTEGER      NOT NULL,
  retry_max_delay_s        INTEGER      NOT NULL,
  glue_type                VARCHAR(32)  NOT NULL,
  glue_source              TEXT         NULL,
  glue_updated_at_ms       BIGINT       NOT NULL,
  child_job_ids            VARCHAR(512) NOT NULL,
  alarm_emails             VARCHAR(512) NOT NULL,
  alarm_webhook            VARCHAR(512) NOT NULL,
  enabled                  BOOLEAN      NOT NULL,
  next_fire_at_ms          BIGINT       NOT NULL,
  last_fire_at_ms          BIGINT       NOT NULL,
  created_at_ms            BIGINT       NOT NULL,
  updated_at_ms            BIGINT       NOT NULL,
  CONSTRAINT fk_job_group FOREIGN KEY (group_id) REFERENCES sc_executor_group (id)
);
CREATE INDEX IF NOT EXISTS ix_job_due ON sc_job (enabled, next_fire_at_ms);
CREATE INDEX IF NOT EXISTS ix_job_group_name ON sc_job (group_id, name);

CREATE TABLE IF NOT EXISTS sc_fire (
  id             INTEGER      NOT NULL PRIMARY KEY AUTOINCREMENT,
  job_id         BIGINT       NOT NULL,
  fire_at_ms     BIGINT       NOT NULL,
  trigger_type   VARCHAR(16)  NOT NULL,
  origin_ref     BIGINT       NOT NULL,
  status         VARCHAR(16)  NOT NULL,
  owner          VARCHAR(128) NULL,
  lease_until_ms BIGINT       NOT NULL,
  param          TEXT         NULL,
  shard_index    INTEGER      NULL,
  shard_total    INTEGER      NULL,
  address        VARCHAR(255) NULL,
  attempt        INTEGER      NOT NULL,
  created_at_ms  BIGINT       NOT NULL,
  done_at_ms     BIGINT       NULL,
  CONSTRAINT uq_fire_once UNIQUE (job_id, fire_at_ms, trigger_type, origin_ref)
);
CREATE INDEX IF NOT EXISTS ix_fire_claimable ON sc_fire (status, lease_until_ms);
CREATE INDEX IF NOT EXISTS ix_fire_created ON sc_fire (created_at_ms);

CREATE TABLE IF NOT EXISTS sc_run_log (
  id               INTEGER      NOT NULL PRIMARY KEY AUTOINCREMENT,
  job_id           BIGINT       NOT NULL,
  group_id         BIGINT       NOT NULL,
  fire_id          BIGINT       NULL,
  trigger_type     VARCHAR(16)  NOT NULL,
  fire_at_ms       BIGINT       NOT NULL,
  trigger_at_ms    BIGINT       NOT NULL,
  executor_address VARCHAR(255) NULL,
  handler          VARCHAR(255) NOT NULL,
  param            TEXT         NULL,
  shard_index      INTEGER      NOT NULL,
  shard_total      INTEGER      NOT NULL,
  attempt          INTEGER      NOT NULL,
  retry_remaining  INTEGER      NOT NULL,
  status           VARCHAR(16)  NOT NULL,
  trigger_code     INTEGER      NOT NULL,
  trigger_msg      TEXT         NULL,
  handle_at_ms     BIGINT       NULL,
  handle_code      INTEGER      NOT NULL,
  handle_msg       TEXT         NULL,
  result_json      TEXT         NULL,
  followup_status  VARCHAR(16)  NOT NULL,
  progress_done    INTEGER      NULL,
  progress_total   INTEGER      NULL,
  executor_gone_at_ms BIGINT    NULL
);
CREATE INDEX IF NOT EXISTS ix_run_job_time ON sc_run_log (job_id, trigger_at_ms);
CREATE INDEX IF NOT EXISTS ix_run_group_time ON sc_run_log (group_id, trigger_at_ms);
CREATE INDEX IF NOT EXISTS ix_run_status_time ON sc_run_log (status, trigger_at_ms);
CREATE INDEX IF NOT EXISTS ix_run_group_status_time ON sc_run_log (group_id, status, trigger_at_ms);
CREATE INDEX IF NOT EXISTS ix_run_time ON sc_run_log (trigger_at_ms);
CREATE INDEX IF NOT EXISTS ix_run_fire ON sc_run_log (fire_id);
CREATE INDEX IF NOT EXISTS ix_run_followup ON sc_run_log (followup_status);

CREATE TABLE IF NOT EXISTS sc_user (
  id              INTEGER      NOT NULL PRIMARY KEY AUTOINCREMENT,
  username        VARCHAR(64)  NOT NULL,
  password_hash   VARCHAR(255) NOT NULL,
  role            VARCHAR(16)  NOT NULL,
  api_token_hash  VARCHAR(64)  NULL,
  session_version INTEGER      NOT NULL,
  failed_logins   INTEGER      NOT NULL,
  locked_until_ms BIGINT       NOT NULL,
  created_at_ms   BIGINT       NOT NULL,
  updated_at_ms   BIGINT       NOT NULL,
  CONSTRAINT uq_user_username UNIQUE (username),
  CONSTRAINT uq_user_api_token UNIQUE (api_token_hash)
);

CREATE TABLE IF NOT EXISTS sc_user_group (
  user_id  BIGINT NOT NULL,
  group_id BIGINT NOT NULL,
  PRIMARY KEY (user_id, group_id),
  CONSTRAINT fk_user_group_user FOREIGN KEY (user_id) REFERENCES sc_user (id) ON DELETE CASCADE,
  CONSTRAINT fk_user_group_group FOREIGN KEY (group_id) REFERENCES sc_executor_group (id) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS ix_user_group_group ON sc_user_group (group_id);

CREATE TABLE IF NOT EXISTS sc_daily_report (
  id            INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
  day           DATE    NOT NULL,
  group_id      BIGINT  NOT NULL,
  running_count INTEGER NOT NULL,
  success_count INTEGER NOT NULL,
  fail_count    INTEGER NOT NULL,
  updated_at_ms BIGINT  NOT NULL,
  CONSTRAINT uq_daily_report_day_group UNIQUE (day, group_id)
);

CREATE TABLE IF NOT EXISTS sc_alarm (
  id                 INTEGER      NOT NULL PRIMARY KEY AUTOINCREMENT,
  run_log_id         BIGINT       NOT NULL,
  job_id             BIGINT       NOT NULL,
  channel            VARCHAR(16)  NOT NULL,
  target             VARCHAR(512) NOT NULL,
  status             VARCHAR(16)  NOT NULL,
  attempts           INTEGER      NOT NULL,
  next_attempt_at_ms BIGINT       NOT NULL,
  last_error         TEXT         NULL,
  created_at_ms      BIGINT       NOT NULL,
  sent_at_ms         BIGINT       NULL,
  CONSTRAINT uq_alarm_run_channel UNIQUE (run_log_id, channel)
);
CREATE INDEX IF NOT EXISTS ix_alarm_due ON sc_alarm (status, next_attempt_at_ms);

CREATE TABLE IF NOT EXISTS sc_scheduler_node (
  node_id         VARCHAR(128) NOT NULL PRIMARY KEY,
  hostname        VARCHAR(255) NOT NULL,
  pid             INTEGER      NOT NULL,
  started_at_ms   BIGINT       NOT NULL,
  heartbeat_at_ms BIGINT       NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_scheduler_node_heartbeat ON sc_scheduler_node (heartbeat_at_ms);

CREATE TABLE IF NOT EXISTS sc_singleton_lease (
  name           VARCHAR(64)  NOT NULL PRIMARY KEY,
  owner          VARCHAR(128) NULL,
  lease_until_ms BIGINT       NOT NULL,
  last_run_at_ms BIGINT       NOT NULL
);

INSERT OR IGNORE INTO sc_meta (name, value) VALUES ('schema_version', '1');
