-- The 0.1.0 schema as a PostgreSQL database holds it: 0.1.0 shipped no PostgreSQL DDL, so this
-- is baseline revision 0001 (which describes 0.1.0) rendered for PostgreSQL by Alembic, without
-- the version table. It lets the upgrade tests start every backend from the same release. Frozen.

CREATE TABLE shardcron_retry_task (
    id BIGSERIAL NOT NULL,
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
    PRIMARY KEY (id),
    CONSTRAINT uq_retry_task_request UNIQUE (task_code, request_no)
);

CREATE INDEX ix_retry_task_due ON shardcron_retry_task (status, next_attempt_at_ms);

CREATE INDEX ix_retry_task_finished ON shardcron_retry_task (status, finished_at_ms);
