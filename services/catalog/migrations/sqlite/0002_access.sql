-- Bearer tokens and the audit trail. A token is stored only as the
-- SHA-256 of its text (hex); the text itself is shown once, at creation.

CREATE TABLE tokens (
    name          TEXT PRIMARY KEY,
    token_hash    TEXT NOT NULL UNIQUE,
    role          TEXT NOT NULL,
    create_time   BIGINT NOT NULL,
    last_use_time BIGINT
);

CREATE TABLE audit_events (
    id        TEXT PRIMARY KEY,
    time      BIGINT NOT NULL,
    caller    TEXT NOT NULL,
    role      TEXT NOT NULL,
    method    TEXT NOT NULL,
    target    TEXT NOT NULL,
    outcome   TEXT NOT NULL
);

CREATE INDEX audit_events_by_time ON audit_events (time DESC, id DESC);
