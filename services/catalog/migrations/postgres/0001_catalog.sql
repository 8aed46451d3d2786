-- The Vigil catalog schema (PostgreSQL). Times are microseconds since the
-- Unix epoch (UTC) in BIGINT; enums are their protobuf numbers; booleans are
-- 0/1 so that SQLite and PostgreSQL read them the same way.

CREATE TABLE configurations (
    name         TEXT PRIMARY KEY,
    kind         BIGINT NOT NULL,
    purpose      BIGINT NOT NULL,
    enabled      BIGINT NOT NULL,
    has_schedule BIGINT NOT NULL,
    body         BYTEA NOT NULL,
    etag         TEXT NOT NULL,
    create_time  BIGINT NOT NULL,
    update_time  BIGINT NOT NULL
);

CREATE TABLE configuration_labels (
    name  TEXT NOT NULL REFERENCES configurations (name) ON DELETE CASCADE,
    key   TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (name, key)
);

CREATE TABLE jobs (
    id                TEXT PRIMARY KEY,
    name              TEXT NOT NULL UNIQUE,
    configuration     TEXT NOT NULL,
    kind              BIGINT NOT NULL,
    job_trigger       BIGINT NOT NULL,
    state             BIGINT NOT NULL,
    backup_kind       BIGINT NOT NULL,
    schedule          TEXT,
    due_time          BIGINT,
    request_id        TEXT UNIQUE,
    create_time       BIGINT NOT NULL,
    update_time       BIGINT NOT NULL,
    start_time        BIGINT,
    end_time          BIGINT,
    lease_owner       TEXT,
    lease_expire_time BIGINT,
    attempt           BIGINT NOT NULL,
    max_attempts      BIGINT NOT NULL,
    cancel_requested  BIGINT NOT NULL,
    error             TEXT NOT NULL,
    artifact          TEXT,
    capabilities      TEXT NOT NULL,
    params            BYTEA,
    progress          BYTEA,
    stats             BYTEA,
    warnings          TEXT NOT NULL,
    trace_context     TEXT NOT NULL,
    -- Guarantee S3: exactly one job per (schedule, due time).
    CONSTRAINT jobs_schedule_due_unique UNIQUE (schedule, due_time)
);
CREATE INDEX jobs_queue ON jobs (state, create_time, id);
CREATE INDEX jobs_newest ON jobs (create_time, id);
CREATE INDEX jobs_configuration ON jobs (configuration, create_time);
CREATE INDEX jobs_lease ON jobs (state, lease_expire_time);

CREATE TABLE job_capabilities (
    job_id     TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    capability TEXT NOT NULL,
    PRIMARY KEY (job_id, capability)
);

CREATE TABLE job_name_counters (
    base TEXT PRIMARY KEY,
    n    BIGINT NOT NULL
);

CREATE TABLE artifacts (
    id            TEXT PRIMARY KEY,
    configuration TEXT NOT NULL,
    job           TEXT NOT NULL,
    backup_kind   BIGINT NOT NULL,
    format        BIGINT NOT NULL,
    location      TEXT NOT NULL,
    size_bytes    BIGINT NOT NULL,
    stored_bytes  BIGINT NOT NULL,
    file_count    BIGINT NOT NULL,
    checksum      TEXT NOT NULL,
    create_time   BIGINT NOT NULL,
    expire_time   BIGINT,
    state         BIGINT NOT NULL,
    verify_time   BIGINT,
    labels        TEXT NOT NULL
);
CREATE INDEX artifacts_newest ON artifacts (create_time, id);
CREATE INDEX artifacts_configuration ON artifacts (configuration, create_time);

CREATE TABLE alerts (
    id             TEXT PRIMARY KEY,
    kind           BIGINT NOT NULL,
    severity       BIGINT NOT NULL,
    configuration  TEXT NOT NULL,
    message        TEXT NOT NULL,
    state          BIGINT NOT NULL,
    dedup_key      TEXT NOT NULL,
    open_time      BIGINT NOT NULL,
    last_seen_time BIGINT NOT NULL,
    resolve_time   BIGINT,
    occurrences    BIGINT NOT NULL,
    delivery       TEXT NOT NULL
);
-- One open alert per dedup key (state 1 = OPEN).
CREATE UNIQUE INDEX alerts_open_dedup ON alerts (dedup_key) WHERE state = 1;
CREATE INDEX alerts_newest ON alerts (open_time, id);

CREATE TABLE schedule_states (
    schedule       TEXT PRIMARY KEY,
    configuration  TEXT NOT NULL,
    role           BIGINT NOT NULL,
    health         BIGINT NOT NULL,
    next_due_time  BIGINT,
    last_due_time  BIGINT,
    last_fire_time BIGINT,
    armed_time     BIGINT,
    armed_etag     TEXT NOT NULL,
    paused         BIGINT NOT NULL,
    fired_count    BIGINT NOT NULL,
    skipped_count  BIGINT NOT NULL,
    missed_count   BIGINT NOT NULL,
    owner          TEXT NOT NULL,
    health_reason  TEXT NOT NULL,
    revision       BIGINT NOT NULL,
    update_time    BIGINT NOT NULL
);

CREATE TABLE schedule_outcomes (
    schedule    TEXT NOT NULL,
    due_time    BIGINT NOT NULL,
    outcome     BIGINT NOT NULL,
    job         TEXT,
    record_time BIGINT NOT NULL,
    detail      TEXT NOT NULL,
    PRIMARY KEY (schedule, due_time)
);

CREATE TABLE components (
    id             TEXT PRIMARY KEY,
    kind           BIGINT NOT NULL,
    capabilities   TEXT NOT NULL,
    version        TEXT NOT NULL,
    host           TEXT NOT NULL,
    start_time     BIGINT,
    heartbeat_time BIGINT NOT NULL,
    details        TEXT NOT NULL
);
