-- The 0.1.0 schema as a PostgreSQL database holds it: 0.1.0 shipped no PostgreSQL DDL, so this
-- is baseline revision 0001 (which describes 0.1.0) rendered for PostgreSQL by Alembic, without
-- the version table. It lets the upgrade tests start every backend from the same release. Frozen.

CREATE TABLE sc_alarm (
    id BIGSERIAL NOT NULL,
    run_log_id BIGINT NOT NULL,
    job_id BIGINT NOT NULL,
    channel VARCHAR(16) NOT NULL,
    target VARCHAR(512) NOT NULL,
    status VARCHAR(16) NOT NULL,
    attempts INTEGER NOT NULL,
    next_attempt_at_ms BIGINT NOT NULL,
    last_error TEXT,
    created_at_ms BIGINT NOT NULL,
    sent_at_ms BIGINT,
    PRIMARY KEY (id),
    CONSTRAINT uq_alarm_run_channel UNIQUE (run_log_id, channel)
);

CREATE INDEX ix_alarm_due ON sc_alarm (status, next_attempt_at_ms);

CREATE TABLE sc_daily_report (
    id BIGSERIAL NOT NULL,
    day DATE NOT NULL,
    group_id BIGINT NOT NULL,
    running_count INTEGER NOT NULL,
    success_count INTEGER NOT NULL,
    fail_count INTEGER NOT NULL,
    updated_at_ms BIGINT NOT NULL,
    PRIMARY KEY (id),
    CONSTRAINT uq_daily_report_day_group UNIQUE (day, group_id)
);

CREATE TABLE sc_executor_group (
    id BIGSERIAL NOT NULL,
    app_name VARCHAR(64) NOT NULL,
    title VARCHAR(128) NOT NULL,
    address_type VARCHAR(16) NOT NULL,
    manual_addresses TEXT,
    created_at_ms BIGINT NOT NULL,
    updated_at_ms BIGINT NOT NULL,
    PRIMARY KEY (id),
    CONSTRAINT uq_group_app_name UNIQUE (app_name)
);

CREATE TABLE sc_executor_registry (
    id BIGSERIAL NOT NULL,
    registry_group VARCHAR(32) NOT NULL,
    app_name VARCHAR(64) NOT NULL,
    address VARCHAR(255) NOT NULL,
    registered_at_ms BIGINT NOT NULL,
    heartbeat_at_ms BIGINT NOT NULL,
    PRIMARY KEY (id),
    CONSTRAINT uq_registry_address UNIQUE (registry_group, app_name, address)
);

CREATE INDEX ix_registry_heartbeat ON sc_executor_registry (heartbeat_at_ms);

CREATE TABLE sc_fire (
    id BIGSERIAL NOT NULL,
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
    PRIMARY KEY (id),
    CONSTRAINT uq_fire_once UNIQUE (job_id, fire_at_ms, trigger_type, origin_ref)
);

CREATE INDEX ix_fire_claimable ON sc_fire (status, lease_until_ms);

CREATE INDEX ix_fire_created ON sc_fire (created_at_ms);

CREATE TABLE sc_meta (
    name VARCHAR(64) NOT NULL,
    value VARCHAR(255) NOT NULL,
    PRIMARY KEY (name)
);

CREATE TABLE sc_run_log (
    id BIGSERIAL NOT NULL,
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
    PRIMARY KEY (id)
);

CREATE INDEX ix_run_fire ON sc_run_log (fire_id);

CREATE INDEX ix_run_followup ON sc_run_log (followup_status);

CREATE INDEX ix_run_group_status_time ON sc_run_log (group_id, status, trigger_at_ms);

CREATE INDEX ix_run_group_time ON sc_run_log (group_id, trigger_at_ms);

CREATE INDEX ix_run_job_time ON sc_run_log (job_id, trigger_at_ms);

CREATE INDEX ix_run_status_time ON sc_run_log (status, trigger_at_ms);

CREATE INDEX ix_run_time ON sc_run_log (trigger_at_ms);

CREATE TABLE sc_scheduler_node (
    node_id VARCHAR(128) NOT NULL,
    hostname VARCHAR(255) NOT NULL,
    pid INTEGER NOT NULL,
    started_at_ms BIGINT NOT NULL,
    heartbeat_at_ms BIGINT NOT NULL,
    PRIMARY KEY (node_id)
);

CREATE INDEX ix_scheduler_node_heartbeat ON sc_scheduler_node (heartbeat_at_ms);

CREATE TABLE sc_singleton_lease (
    name VARCHAR(64) NOT NULL,
    owner VARCHAR(128),
    lease_until_ms BIGINT NOT NULL,
    last_run_at_ms BIGINT NOT NULL,
    PRIMARY KEY (name)
);

CREATE TABLE sc_user (
    id BIGSERIAL NOT NULL,
    username VARCHAR(64) NOT NULL,
    password_hash VARCHAR(255) NOT NULL,
    role VARCHAR(16) NOT NULL,
    api_token_hash VARCHAR(64),
    session_version INTEGER NOT NULL,
    failed_logins INTEGER NOT NULL,
    locked_until_ms BIGINT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    updated_at_ms BIGINT NOT NULL,
    PRIMARY KEY (id),
    CONSTRAINT uq_user_api_token UNIQUE (api_token_hash),
    CONSTRAINT uq_user_username UNIQUE (username)
);

CREATE TABLE sc_job (
    id BIGSERIAL NOT NULL,
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
    enabled BOOLEAN NOT NULL,
    next_fire_at_ms BIGINT NOT NULL,
    last_fire_at_ms BIGINT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    updated_at_ms BIGINT NOT NULL,
    PRIMARY KEY (id),
    CONSTRAINT fk_job_group FOREIGN KEY(group_id) REFERENCES sc_executor_group (id)
);

CREATE INDEX ix_job_due ON sc_job (enabled, next_fire_at_ms);

CREATE INDEX ix_job_group_name ON sc_job (group_id, name);

CREATE TABLE sc_user_group (
    user_id BIGINT NOT NULL,
    group_id BIGINT NOT NULL,
    PRIMARY KEY (user_id, group_id),
    CONSTRAINT fk_user_group_group FOREIGN KEY(group_id) REFERENCES sc_executor_group (id) ON DELETE CASCADE,
    CONSTRAINT fk_user_group_user FOREIGN KEY(user_id) REFERENCES sc_user (id) ON DELETE CASCADE
);

CREATE INDEX ix_user_group_group ON sc_user_group (group_id);

INSERT INTO sc_meta (name, value) VALUES ('schema_version', '1') ON CONFLICT DO NOTHING;
