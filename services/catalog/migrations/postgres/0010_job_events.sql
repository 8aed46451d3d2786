-- Each job's event log: phases with their durations, warnings and files that
-- could not be read. Bounded per job by the catalog (store/job_events.rs):
-- entries beyond the bound are counted in jobs.events_omitted, not stored.
-- Deleted with the job (history retention).
CREATE TABLE job_events (
    job_id          TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    seq             BIGINT NOT NULL,
    event_time      BIGINT NOT NULL,
    kind            BIGINT NOT NULL,
    phase           TEXT NOT NULL,
    path            TEXT NOT NULL,
    message         TEXT NOT NULL,
    duration_micros BIGINT,
    attempt         BIGINT NOT NULL,
    PRIMARY KEY (job_id, seq)
);

ALTER TABLE jobs ADD COLUMN events_omitted BIGINT NOT NULL DEFAULT 0;
