-- shardcron admin schema, MySQL 8 / MariaDB >= 10.6 (InnoDB, utf8mb4), revision 0018.
--
-- Generated from the models by `python -m shardcron.admin.schema sql`: do not edit (a test fails
-- when this file is stale). It creates the schema in an EMPTY database and records its revision.
-- To upgrade an existing database, print the DDL for it: `shardcron db upgrade --sql --url ...`.
-- Instants are UTC epoch milliseconds (BIGINT columns named *_at_ms).

-- One alarm for one failed run, or one failed or timed-out workflow instance, on one channel, with its delivery state.
CREATE TABLE sc_alarm (
  id BIGINT NOT NULL AUTO_INCREMENT,
  run_log_id BIGINT,
  job_id BIGINT,
  channel VARCHAR(16) NOT NULL,
  target VARCHAR(512) NOT NULL,
  status VARCHAR(16) NOT NULL,
  attempts INTEGER NOT NULL,
  next_attempt_at_ms BIGINT NOT NULL,
  last_error TEXT,
  created_at_ms BIGINT NOT NULL,
  sent_at_ms BIGINT,
  job_paused BOOL NOT NULL DEFAULT '0',
  workflow_instance_id BIGINT,
  PRIMARY KEY (id),
  CONSTRAINT uq_alarm_run_channel UNIQUE (run_log_id, channel),
  CONSTRAINT uq_alarm_instance_channel UNIQUE (workflow_instance_id, channel)
)ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_bin;
CREATE INDEX ix_alarm_due ON sc_alarm (status, next_attempt_at_ms);

-- One change made by a person or a token: who, when, from where, what, before and after.
CREATE TABLE sc_audit (
  id BIGINT NOT NULL AUTO_INCREMENT,
  at_ms BIGINT NOT NULL,
  actor_kind VARCHAR(16) NOT NULL,
  actor_user_id BIGINT,
  actor_name VARCHAR(64) NOT NULL,
  token_name VARCHAR(64),
  client_address VARCHAR(64),
  action VARCHAR(32) NOT NULL,
  target_type VARCHAR(16) NOT NULL,
  target_id BIGINT,
  target_name VARCHAR(128) NOT NULL,
  group_id BIGINT,
  before_json TEXT,
  after_json TEXT,
  PRIMARY KEY (id)
)ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_bin;
CREATE INDEX ix_audit_action_at ON sc_audit (action, at_ms);
CREATE INDEX ix_audit_actor_at ON sc_audit (actor_name, at_ms);
CREATE INDEX ix_audit_at ON sc_audit (at_ms);
CREATE INDEX ix_audit_group_at ON sc_audit (group_id, at_ms);
CREATE INDEX ix_audit_target_at ON sc_audit (target_type, target_id, at_ms);

-- "Run this job for every planned time between `from_ms` and `to_ms`" (backfills/): its fires
CREATE TABLE sc_backfill (
  id BIGINT NOT NULL AUTO_INCREMENT,
  job_id BIGINT NOT NULL,
  from_ms BIGINT NOT NULL,
  to_ms BIGINT NOT NULL,
  overlap_policy VARCHAR(16) NOT NULL,
  pace INTEGER NOT NULL,
  planned INTEGER NOT NULL,
  created INTEGER NOT NULL,
  next_at_ms BIGINT NOT NULL,
  status VARCHAR(16) NOT NULL,
  created_by VARCHAR(64) NOT NULL,
  created_at_ms BIGINT NOT NULL,
  finished_at_ms BIGINT,
  PRIMARY KEY (id)
)ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_bin;
CREATE INDEX ix_backfill_job ON sc_backfill (job_id, id);
CREATE INDEX ix_backfill_status ON sc_backfill (status);

-- A named set of excluded dates (holidays, freeze windows) read in its own time zone.
CREATE TABLE sc_calendar (
  id BIGINT NOT NULL AUTO_INCREMENT,
  name VARCHAR(64) NOT NULL,
  timezone VARCHAR(64) NOT NULL,
  description VARCHAR(255) NOT NULL,
  version BIGINT NOT NULL,
  created_at_ms BIGINT NOT NULL,
  updated_at_ms BIGINT NOT NULL,
  PRIMARY KEY (id),
  CONSTRAINT uq_calendar_name UNIQUE (name)
)ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_bin;

-- Per-day, per-group run counts for the dashboard (XXL-JOB: xxl_job_log_report).
CREATE TABLE sc_daily_report (
  id BIGINT NOT NULL AUTO_INCREMENT,
  day DATE NOT NULL,
  group_id BIGINT NOT NULL,
  running_count INTEGER NOT NULL,
  success_count INTEGER NOT NULL,
  fail_count INTEGER NOT NULL,
  updated_at_ms BIGINT NOT NULL,
  PRIMARY KEY (id),
  CONSTRAINT uq_daily_report_day_group UNIQUE (day, group_id)
)ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_bin;

-- An application's executors, by app name (XXL-JOB: xxl_job_group).
CREATE TABLE sc_executor_group (
  id BIGINT NOT NULL AUTO_INCREMENT,
  app_name VARCHAR(64) NOT NULL,
  title VARCHAR(128) NOT NULL,
  address_type VARCHAR(16) NOT NULL,
  manual_addresses TEXT,
  created_at_ms BIGINT NOT NULL,
  updated_at_ms BIGINT NOT NULL,
  cap_runs INTEGER,
  cap_policy VARCHAR(16) NOT NULL DEFAULT 'WAIT',
  cap_wait_s INTEGER NOT NULL DEFAULT '60',
  PRIMARY KEY (id),
  CONSTRAINT uq_group_app_name UNIQUE (app_name)
)ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_bin;

-- One live (or recently live) executor address, refreshed by its heartbeat.
CREATE TABLE sc_executor_registry (
  id BIGINT NOT NULL AUTO_INCREMENT,
  registry_group VARCHAR(32) NOT NULL,
  app_name VARCHAR(64) NOT NULL,
  address VARCHAR(255) NOT NULL,
  registered_at_ms BIGINT NOT NULL,
  heartbeat_at_ms BIGINT NOT NULL,
  PRIMARY KEY (id),
  CONSTRAINT uq_registry_address UNIQUE (registry_group, app_name, address)
)ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_bin;
CREATE INDEX ix_registry_heartbeat ON sc_executor_registry (heartbeat_at_ms);

-- One fire of one job, recorded before it is dispatched so that it happens exactly once.
CREATE TABLE sc_fire (
  id BIGINT NOT NULL AUTO_INCREMENT,
  job_id BIGINT NOT NULL,
  fire_at_ms BIGINT NOT NULL,
  trigger_type VARCHAR(16) NOT NULL,
  origin_ref BIGINT NOT NULL,
  status VARCHAR(16) NOT NULL,
  owner VARCHAR(128),
  lease_until_ms BIGINT NOT NULL,
  param TEXT,
  shard_index INTEGER,
  shard_total INTEGER,
  address VARCHAR(255),
  attempt INTEGER NOT NULL,
  created_at_ms BIGINT NOT NULL,
  done_at_ms BIGINT,
  overlap_note VARCHAR(255),
  resume_from_run_id BIGINT,
  step_run_id BIGINT,
  planned_at_ms BIGINT,
  PRIMARY KEY (id),
  CONSTRAINT uq_fire_once UNIQUE (job_id, fire_at_ms, trigger_type, origin_ref)
)ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_bin;
CREATE INDEX ix_fire_claimable ON sc_fire (status, lease_until_ms);
CREATE INDEX ix_fire_created ON sc_fire (created_at_ms);

-- Failed logins counted per key (SHA-256 of "account+address" or of "address"), with the
CREATE TABLE sc_login_throttle (
  key_hash VARCHAR(64) NOT NULL,
  failures INTEGER NOT NULL,
  blocked_until_ms BIGINT NOT NULL,
  last_failure_at_ms BIGINT NOT NULL,
  PRIMARY KEY (key_hash)
)ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_bin;
CREATE INDEX ix_login_throttle_last ON sc_login_throttle (last_failure_at_ms);

-- Key/value facts about the installation (e.g. that the first admin was created).
CREATE TABLE sc_meta (
  name VARCHAR(64) NOT NULL,
  value VARCHAR(255) NOT NULL,
  PRIMARY KEY (name)
)ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_bin;

-- One trigger of a job, or one shard of a broadcast. Its id is the wire `logId`.
CREATE TABLE sc_run_log (
  id BIGINT NOT NULL AUTO_INCREMENT,
  job_id BIGINT NOT NULL,
  group_id BIGINT NOT NULL,
  fire_id BIGINT,
  trigger_type VARCHAR(16) NOT NULL,
  fire_at_ms BIGINT NOT NULL,
  trigger_at_ms BIGINT NOT NULL,
  executor_address VARCHAR(255),
  handler VARCHAR(255) NOT NULL,
  param TEXT,
  shard_index INTEGER NOT NULL,
  shard_total INTEGER NOT NULL,
  attempt INTEGER NOT NULL,
  retry_remaining INTEGER NOT NULL,
  status VARCHAR(16) NOT NULL,
  trigger_code INTEGER NOT NULL,
  trigger_msg TEXT,
  handle_at_ms BIGINT,
  handle_code INTEGER NOT NULL,
  handle_msg TEXT,
  result_json TEXT,
  followup_status VARCHAR(16) NOT NULL,
  progress_done INTEGER,
  progress_total INTEGER,
  executor_gone_at_ms BIGINT,
  checkpoint_json TEXT,
  checkpoint_seq BIGINT NOT NULL DEFAULT '0',
  checkpoint_at_ms BIGINT,
  resume_from_run_id BIGINT,
  step_run_id BIGINT,
  planned_at_ms BIGINT,
  PRIMARY KEY (id)
)ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_bin;
CREATE INDEX ix_run_fire ON sc_run_log (fire_id);
CREATE INDEX ix_run_followup ON sc_run_log (followup_status);
CREATE INDEX ix_run_group_status_time ON sc_run_log (group_id, status, trigger_at_ms);
CREATE INDEX ix_run_group_time ON sc_run_log (group_id, trigger_at_ms);
CREATE INDEX ix_run_job_time ON sc_run_log (job_id, trigger_at_ms);
CREATE INDEX ix_run_status_time ON sc_run_log (status, trigger_at_ms);
CREATE INDEX ix_run_step ON sc_run_log (step_run_id);
CREATE INDEX ix_run_time ON sc_run_log (trigger_at_ms);

-- One lease term of a scheduler process: the right to send the fires it claimed.
CREATE TABLE sc_scheduler_lease (
  owner VARCHAR(128) NOT NULL,
  node_id VARCHAR(128) NOT NULL,
  lease_until_ms BIGINT NOT NULL,
  send_horizon_ms BIGINT NOT NULL,
  started_at_ms BIGINT NOT NULL,
  renewed_at_ms BIGINT NOT NULL,
  PRIMARY KEY (owner)
)ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_bin;

-- A scheduler process; its heartbeat shows it alive (readiness, console, lease owners).
CREATE TABLE sc_scheduler_node (
  node_id VARCHAR(128) NOT NULL,
  hostname VARCHAR(255) NOT NULL,
  pid INTEGER NOT NULL,
  started_at_ms BIGINT NOT NULL,
  heartbeat_at_ms BIGINT NOT NULL,
  PRIMARY KEY (node_id)
)ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_bin;
CREATE INDEX ix_scheduler_node_heartbeat ON sc_scheduler_node (heartbeat_at_ms);

-- A named lease for work one node at a time should do (registry sweep, reports, retention).
CREATE TABLE sc_singleton_lease (
  name VARCHAR(64) NOT NULL,
  owner VARCHAR(128),
  lease_until_ms BIGINT NOT NULL,
  last_run_at_ms BIGINT NOT NULL,
  PRIMARY KEY (name)
)ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_bin;

CREATE TABLE sc_user (
  id BIGINT NOT NULL AUTO_INCREMENT,
  username VARCHAR(64) NOT NULL,
  password_hash VARCHAR(255) NOT NULL,
  `role` VARCHAR(16) NOT NULL,
  api_token_hash VARCHAR(64),
  session_version INTEGER NOT NULL,
  failed_logins INTEGER NOT NULL,
  locked_until_ms BIGINT NOT NULL,
  created_at_ms BIGINT NOT NULL,
  updated_at_ms BIGINT NOT NULL,
  locale VARCHAR(8),
  PRIMARY KEY (id),
  CONSTRAINT uq_user_username UNIQUE (username),
  CONSTRAINT uq_user_api_token UNIQUE (api_token_hash)
)ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_bin;

-- One run of a workflow, with the definition it runs. Created exactly once per planned time
CREATE TABLE sc_workflow_instance (
  id BIGINT NOT NULL AUTO_INCREMENT,
  workflow_id BIGINT NOT NULL,
  workflow_version INTEGER NOT NULL,
  definition_json MEDIUMTEXT NOT NULL,
  trigger_type VARCHAR(16) NOT NULL,
  planned_at_ms BIGINT NOT NULL,
  origin_ref BIGINT NOT NULL,
  params_json MEDIUMTEXT,
  status VARCHAR(16) NOT NULL,
  message VARCHAR(512),
  triggered_by VARCHAR(64) NOT NULL,
  created_at_ms BIGINT NOT NULL,
  started_at_ms BIGINT,
  finished_at_ms BIGINT,
  deadline_at_ms BIGINT NOT NULL,
  PRIMARY KEY (id),
  CONSTRAINT uq_workflow_instance_once UNIQUE (workflow_id, planned_at_ms, trigger_type, origin_ref)
)ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_bin;
CREATE INDEX ix_workflow_instance_status ON sc_workflow_instance (status, deadline_at_ms);
CREATE INDEX ix_workflow_instance_workflow ON sc_workflow_instance (workflow_id, id);

-- One step of one instance. Every step has a row from the instance's start (WAITING); a
CREATE TABLE sc_workflow_step_run (
  id BIGINT NOT NULL AUTO_INCREMENT,
  instance_id BIGINT NOT NULL,
  step_key VARCHAR(64) NOT NULL,
  generation INTEGER NOT NULL,
  job_id BIGINT NOT NULL,
  status VARCHAR(16) NOT NULL,
  fire_id BIGINT,
  param TEXT,
  upstream_json MEDIUMTEXT,
  result_json MEDIUMTEXT,
  message VARCHAR(512),
  created_at_ms BIGINT NOT NULL,
  started_at_ms BIGINT,
  finished_at_ms BIGINT,
  PRIMARY KEY (id),
  CONSTRAINT uq_workflow_step_run UNIQUE (instance_id, step_key, generation)
)ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_bin;

-- A named REST API token of a user: only its SHA-256 is stored (tokens are 256 random bits,
CREATE TABLE sc_api_token (
  id BIGINT NOT NULL AUTO_INCREMENT,
  user_id BIGINT NOT NULL,
  name VARCHAR(64) NOT NULL,
  token_hash VARCHAR(64) NOT NULL,
  created_at_ms BIGINT NOT NULL,
  expires_at_ms BIGINT NOT NULL,
  PRIMARY KEY (id),
  CONSTRAINT uq_api_token_hash UNIQUE (token_hash),
  CONSTRAINT uq_api_token_user_name UNIQUE (user_id, name),
  CONSTRAINT fk_api_token_user FOREIGN KEY(user_id) REFERENCES sc_user (id) ON DELETE CASCADE
)ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_bin;

-- One excluded date, or an inclusive range of dates, of a calendar.
CREATE TABLE sc_calendar_entry (
  id BIGINT NOT NULL AUTO_INCREMENT,
  calendar_id BIGINT NOT NULL,
  start_date DATE NOT NULL,
  end_date DATE NOT NULL,
  label VARCHAR(128) NOT NULL,
  PRIMARY KEY (id),
  CONSTRAINT fk_calendar_entry_calendar FOREIGN KEY(calendar_id) REFERENCES sc_calendar (id)
)ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_bin;
CREATE INDEX ix_calendar_entry_calendar ON sc_calendar_entry (calendar_id, start_date);

-- A console login: the signed cookie carries a random session id, this row its SHA-256.
CREATE TABLE sc_console_session (
  id_hash VARCHAR(64) NOT NULL,
  user_id BIGINT NOT NULL,
  created_at_ms BIGINT NOT NULL,
  PRIMARY KEY (id_hash),
  CONSTRAINT fk_console_session_user FOREIGN KEY(user_id) REFERENCES sc_user (id) ON DELETE CASCADE
)ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_bin;
CREATE INDEX ix_console_session_user ON sc_console_session (user_id);

-- A job definition and its schedule state (XXL-JOB: xxl_job_info).
CREATE TABLE sc_job (
  id BIGINT NOT NULL AUTO_INCREMENT,
  group_id BIGINT NOT NULL,
  name VARCHAR(128) NOT NULL,
  author VARCHAR(64) NOT NULL,
  schedule_type VARCHAR(16) NOT NULL,
  schedule_conf VARCHAR(255) NOT NULL,
  timezone VARCHAR(64) NOT NULL,
  misfire_strategy VARCHAR(16) NOT NULL,
  route_strategy VARCHAR(32) NOT NULL,
  handler VARCHAR(255) NOT NULL,
  param TEXT,
  block_strategy VARCHAR(32) NOT NULL,
  timeout_s INTEGER NOT NULL,
  retry_count INTEGER NOT NULL,
  retry_delay_s INTEGER NOT NULL,
  retry_backoff_multiplier INTEGER NOT NULL,
  retry_max_delay_s INTEGER NOT NULL,
  glue_type VARCHAR(32) NOT NULL,
  glue_source TEXT,
  glue_updated_at_ms BIGINT NOT NULL,
  child_job_ids VARCHAR(512) NOT NULL,
  alarm_emails VARCHAR(512) NOT NULL,
  alarm_webhook VARCHAR(512) NOT NULL,
  enabled BOOL NOT NULL,
  next_fire_at_ms BIGINT NOT NULL,
  last_fire_at_ms BIGINT NOT NULL,
  created_at_ms BIGINT NOT NULL,
  updated_at_ms BIGINT NOT NULL,
  delivery VARCHAR(16) NOT NULL DEFAULT 'AT_MOST_ONCE',
  overlap_policy VARCHAR(16) NOT NULL DEFAULT 'ALLOW_ALL',
  jitter_s INTEGER NOT NULL DEFAULT '0',
  pause_after_failures INTEGER NOT NULL DEFAULT '0',
  consecutive_failures INTEGER NOT NULL DEFAULT '0',
  paused_at_ms BIGINT NOT NULL DEFAULT '0',
  paused_reason VARCHAR(512),
  catchup_window_s INTEGER NOT NULL DEFAULT '0',
  cap_runs INTEGER,
  calendar_ids VARCHAR(512) NOT NULL DEFAULT '',
  PRIMARY KEY (id),
  CONSTRAINT fk_job_group FOREIGN KEY(group_id) REFERENCES sc_executor_group (id)
)ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_bin;
CREATE INDEX ix_job_due ON sc_job (enabled, next_fire_at_ms);
CREATE INDEX ix_job_group_name ON sc_job (group_id, name);

-- A normal user may see and act on the jobs of the groups granted here.
CREATE TABLE sc_user_group (
  user_id BIGINT NOT NULL,
  group_id BIGINT NOT NULL,
  may_run_scripts BOOL NOT NULL DEFAULT '0',
  PRIMARY KEY (user_id, group_id),
  CONSTRAINT fk_user_group_user FOREIGN KEY(user_id) REFERENCES sc_user (id) ON DELETE CASCADE,
  CONSTRAINT fk_user_group_group FOREIGN KEY(group_id) REFERENCES sc_executor_group (id) ON DELETE CASCADE
)ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_bin;
CREATE INDEX ix_user_group_group ON sc_user_group (group_id);

-- A named DAG of steps, each running an existing job (workflows/).
CREATE TABLE sc_workflow (
  id BIGINT NOT NULL AUTO_INCREMENT,
  group_id BIGINT NOT NULL,
  name VARCHAR(128) NOT NULL,
  description VARCHAR(512) NOT NULL,
  author VARCHAR(64) NOT NULL,
  definition_json MEDIUMTEXT NOT NULL,
  version INTEGER NOT NULL,
  schedule_type VARCHAR(16) NOT NULL,
  schedule_conf VARCHAR(255) NOT NULL,
  timezone VARCHAR(64) NOT NULL,
  misfire_strategy VARCHAR(16) NOT NULL,
  overlap_policy VARCHAR(16) NOT NULL,
  timeout_s INTEGER NOT NULL,
  alarm_emails VARCHAR(512) NOT NULL,
  alarm_webhook VARCHAR(512) NOT NULL,
  enabled BOOL NOT NULL,
  next_fire_at_ms BIGINT NOT NULL,
  last_fire_at_ms BIGINT NOT NULL,
  created_at_ms BIGINT NOT NULL,
  updated_at_ms BIGINT NOT NULL,
  PRIMARY KEY (id),
  CONSTRAINT uq_workflow_name UNIQUE (name),
  CONSTRAINT fk_workflow_group FOREIGN KEY(group_id) REFERENCES sc_executor_group (id)
)ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_bin;
CREATE INDEX ix_workflow_due ON sc_workflow (enabled, next_fire_at_ms);
CREATE INDEX ix_workflow_group ON sc_workflow (group_id);

-- One version of a job's script: who saved it, when, why (XXL-JOB: xxl_job_logglue).
CREATE TABLE sc_glue_version (
  id BIGINT NOT NULL AUTO_INCREMENT,
  job_id BIGINT NOT NULL,
  glue_type VARCHAR(32) NOT NULL,
  glue_source TEXT,
  remark VARCHAR(128) NOT NULL,
  author_user_id BIGINT,
  author_name VARCHAR(64) NOT NULL,
  created_at_ms BIGINT NOT NULL,
  PRIMARY KEY (id),
  CONSTRAINT fk_glue_version_job FOREIGN KEY(job_id) REFERENCES sc_job (id) ON DELETE CASCADE
)ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_bin;
CREATE INDEX ix_glue_version_job ON sc_glue_version (job_id, id);

-- The schema's revision, as `shardcron db upgrade` records it.
CREATE TABLE sc_alembic_version (
  version_num VARCHAR(32) NOT NULL,
  CONSTRAINT sc_alembic_version_pkc PRIMARY KEY (version_num)
);
INSERT INTO sc_alembic_version (version_num) VALUES ('0018');
