-- shardcron admin database, MySQL 8 / MariaDB >= 10.6 (InnoDB, utf8mb4).
-- The same schema as shardcron.admin.models; tests/admin/test_schema_ddl.py keeps them equal.
-- `shardcron db init` creates it for you; this file is for DBAs who apply DDL themselves.
-- Instants are UTC epoch milliseconds (BIGINT columns named *_at_ms).

CREATE TABLE IF NOT EXISTS sc_meta (
  name  VARCHAR(64)  NOT NULL,
  value VARCHAR(255) NOT NULL,
  PRIMARY KEY (name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- An application's executors, by app name.
CREATE TABLE IF NOT EXISTS sc_executor_group (
  id               BIGINT       NOT NULL AUTO_INCREMENT,
  app_name         VARCHAR(64)  NOT NULL,
  title            VARCHAR(128) NOT NULL,
  address_type     VARCHAR(16)  NOT NULL,             -- AUTO | MANUAL
  manual_addresses TEXT         NULL,                 -- MANUAL: one URL per line
  created_at_ms    BIGINT       NOT NULL,
  updated_at_ms    BIGINT       NOT NULL,
  PRIMARY KEY (id),
  UNIQUE KEY uq_group_app_name (app_name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Executors that registered themselves; dead after registry_dead_after_s without a heartbeat.
CREATE TABLE IF NOT EXISTS sc_executor_registry (
  id               BIGINT       NOT NULL AUTO_INCREMENT,
  registry_group   VARCHAR(32)  NOT NULL,             -- EXECUTOR
  app_name         VARCHAR(64)  NOT NULL,
  address          VARCHAR(255) NOT NULL,             -- normalized: no trailing slash
  registered_at_ms BIGINT       NOT NULL,
  heartbeat_at_ms  BIGINT       NOT NULL,
  PRIMARY KEY (id),
  UNIQUE KEY uq_registry_address (registry_group, app_name, address),
  KEY ix_registry_heartbeat (heartbeat_at_ms)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Job definitions and their schedule state.
CREATE TABLE IF NOT EXISTS sc_job (
  id                       BIGINT       NOT NULL AUTO_INCREMENT,
  group_id                 BIGINT       NOT NULL,
  name                     VARCHAR(128) NOT NULL,
  author                   VARCHAR(64)  NOT NULL,
  schedule_type            VARCHAR(16)  NOT NULL,     -- NONE | CRON | FIX_RATE
  schedule_conf            VARCHAR(255) NOT NULL,     -- cron expression or period in seconds
  timezone                 VARCHAR(64)  NOT NULL,     -- IANA name
  misfire_strategy         VARCHAR(16)  NOT NULL,     -- DO_NOTHING | FIRE_ONCE_NOW
  route_strategy           VARCHAR(32)  NOT NULL,
  handler                  VARCHAR(255) NOT NULL,
  param                    TEXT         NULL,
  block_strategy           VARCHAR(32)  NOT NULL,     -- SERIAL_EXECUTION | DISCARD_LATER | COVER_EARLY
  timeout_s                INT          NOT NULL,
  retry_count              INT          NOT NULL,
  retry_delay_s            INT          NOT NULL,
  retry_backoff_multiplier INT          NOT NULL,
  retry_max_delay_s        INT          NOT NULL,
  glue_type                VARCHAR(32)  NOT NULL,
  glue_source              TEXT         NULL,
  glue_updated_at_ms       BIGINT       NOT NULL,
  child_job_ids            VARCHAR(512) NOT NULL,     -- comma-separated job ids
  alarm_emails             VARCHAR(512) NOT NULL,
  alarm_webhook            VARCHAR(512) NOT NULL,
  enabled                  BOOL         NOT NULL,
  next_fire_at_ms          BIGINT       NOT NULL,
  last_fire_at_ms          BIGINT       NOT NULL,
  created_at_ms            BIGINT       NOT NULL,
  updated_at_ms            BIGINT       NOT NULL,
  PRIMARY KEY (id),
  KEY ix_job_due (enabled, next_fire_at_ms),          -- the fire loop's due-job query
  KEY ix_job_group_name (group_id, name),
  CONSTRAINT fk_job_group FOREIGN KEY (group_id) REFERENCES sc_executor_group (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- One fire of one job, recorded before dispatch: the unique key makes it happen once.
CREATE TABLE IF NOT EXISTS sc_fire (
  id             BIGINT       NOT NULL AUTO_INCREMENT,
  job_id         BIGINT       NOT NULL,
  fire_at_ms     BIGINT       NOT NULL,               -- planned time
  trigger_type   VARCHAR(16)  NOT NULL,               -- CRON | MISFIRE | MANUAL | API | RETRY | PARENT
  origin_ref     BIGINT       NOT NULL,               -- 0, or the failed/parent run, or a request id
  status         VARCHAR(16)  NOT NULL,               -- PENDING | CLAIMED | DONE
  owner          VARCHAR(128) NULL,                   -- scheduler node holding the lease
  lease_until_ms BIGINT       NOT NULL,
  param          TEXT         NULL,
  shard_index    INT          NULL,
  shard_total    INT          NULL,
  address        VARCHAR(255) NULL,
  attempt        INT          NOT NULL,
  created_at_ms  BIGINT       NOT NULL,
  done_at_ms     BIGINT       NULL,
  PRIMARY KEY (id),
  UNIQUE KEY uq_fire_once (job_id, fire_at_ms, trigger_type, origin_ref),
  KEY ix_fire_claimable (status, lease_until_ms),
  KEY ix_fire_created (created_at_ms)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- One row per trigger, or per shard of a broadcast; id is the wire logId.
CREATE TABLE IF NOT EXISTS sc_run_log (
  id               BIGINT       NOT NULL AUTO_INCREMENT,
  job_id           BIGINT       NOT NULL,
  group_id         BIGINT       NOT NULL,
  fire_id          BIGINT       NULL,
  trigger_type     VARCHAR(16)  NOT NULL,
  fire_at_ms       BIGINT       NOT NULL,             -- planned time, sent as logDateTime
  trigger_at_ms    BIGINT       NOT NULL,
  executor_address VARCHAR(255) NULL,
  handler          VARCHAR(255) NOT NULL,
  param            TEXT         NULL,
  shard_index      INT          NOT NULL,
  shard_total      INT          NOT NULL,
  attempt          INT          NOT NULL,
  retry_remaining  INT          NOT NULL,
  status           VARCHAR(16)  NOT NULL,             -- PENDING | RUNNING | SUCCESS | FAILED
  trigger_code     INT          NOT NULL,             -- 0 | 200 | 500
  trigger_msg      TEXT         NULL,
  handle_at_ms     BIGINT       NULL,
  handle_code      INT          NOT NULL,             -- 0 | 200 | 500 | 502
  handle_msg       TEXT         NULL,
  result_json      TEXT         NULL,
  followup_status  VARCHAR(16)  NOT NULL,             -- NONE | PENDING | DONE (retry and alarm)
  progress_done    INT          NULL,                 -- latest /api/progress of a running run
  progress_total   INT          NULL,
  executor_gone_at_ms BIGINT    NULL,                 -- first seen with its executor not live
  PRIMARY KEY (id),
  KEY ix_run_job_time (job_id, trigger_at_ms),
  KEY ix_run_group_time (group_id, trigger_at_ms),
  KEY ix_run_status_time (status, trigger_at_ms),
  KEY ix_run_group_status_time (group_id, status, trigger_at_ms),
  KEY ix_run_time (trigger_at_ms),
  KEY ix_run_fire (fire_id),
  KEY ix_run_followup (followup_status)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS sc_user (
  id              BIGINT       NOT NULL AUTO_INCREMENT,
  username        VARCHAR(64)  NOT NULL,
  password_hash   VARCHAR(255) NOT NULL,
  role            VARCHAR(16)  NOT NULL,              -- ADMIN | USER
  api_token_hash  VARCHAR(64)  NULL,                  -- SHA-256 hex of the API token
  session_version INT          NOT NULL,
  failed_logins   INT          NOT NULL,
  locked_until_ms BIGINT       NOT NULL,
  created_at_ms   BIGINT       NOT NULL,
  updated_at_ms   BIGINT       NOT NULL,
  PRIMARY KEY (id),
  UNIQUE KEY uq_user_username (username),
  UNIQUE KEY uq_user_api_token (api_token_hash)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS sc_user_group (
  user_id  BIGINT NOT NULL,
  group_id BIGINT NOT NULL,
  PRIMARY KEY (user_id, group_id),
  KEY ix_user_group_group (group_id),
  CONSTRAINT fk_user_group_user FOREIGN KEY (user_id) REFERENCES sc_user (id) ON DELETE CASCADE,
  CONSTRAINT fk_user_group_group FOREIGN KEY (group_id) REFERENCES sc_executor_group (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS sc_daily_report (
  id            BIGINT NOT NULL AUTO_INCREMENT,
  day           DATE   NOT NULL,
  group_id      BIGINT NOT NULL,
  running_count INT    NOT NULL,
  success_count INT    NOT NULL,
  fail_count    INT    NOT NULL,
  updated_at_ms BIGINT NOT NULL,
  PRIMARY KEY (id),
  UNIQUE KEY uq_daily_report_day_group (day, group_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS sc_alarm (
  id                 BIGINT       NOT NULL AUTO_INCREMENT,
  run_log_id         BIGINT       NOT NULL,
  job_id             BIGINT       NOT NULL,
  channel            VARCHAR(16)  NOT NULL,           -- EMAIL | WEBHOOK
  target             VARCHAR(512) NOT NULL,
  status             VARCHAR(16)  NOT NULL,           -- PENDING | SENT | FAILED
  attempts           INT          NOT NULL,
  next_attempt_at_ms BIGINT       NOT NULL,
  last_error         TEXT         NULL,
  created_at_ms      BIGINT       NOT NULL,
  sent_at_ms         BIGINT       NULL,
  PRIMARY KEY (id),
  UNIQUE KEY uq_alarm_run_channel (run_log_id, channel),
  KEY ix_alarm_due (status, next_attempt_at_ms)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS sc_scheduler_node (
  node_id         VARCHAR(128) NOT NULL,
  hostname        VARCHAR(255) NOT NULL,
  pid             INT          NOT NULL,
  started_at_ms   BIGINT       NOT NULL,
  heartbeat_at_ms BIGINT       NOT NULL,
  PRIMARY KEY (node_id),
  KEY ix_scheduler_node_heartbeat (heartbeat_at_ms)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS sc_singleton_lease (
  name           VARCHAR(64)  NOT NULL,
  owner          VARCHAR(128) NULL,
  lease_until_ms BIGINT       NOT NULL,
  last_run_at_ms BIGINT       NOT NULL,
  PRIMARY KEY (name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

INSERT IGNORE INTO sc_meta (name, value) VALUES ('schema_version', '1');
