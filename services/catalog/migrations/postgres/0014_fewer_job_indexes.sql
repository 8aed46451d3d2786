-- Fewer index entries for each job write. A lease and a completion change
-- `state`, so PostgreSQL adds an entry to every index of `jobs` that the new
-- row version belongs in; each one cost the queue benchmark about 40 µs of
-- database CPU per cycle. A partial index takes an entry only for the rows
-- its predicate admits.

-- jobs_end (state, end_time) served no query: history retention selects by
-- COALESCE(end_time, update_time) in creation order, through jobs_newest.
DROP INDEX jobs_end;

-- The newest completed job of each configuration and kind (the status
-- report's skip scan, and the job retention keeps) is all that read
-- jobs_configuration_kind_state, and always for COMPLETED (3): queued,
-- running and failed jobs no longer take an entry.
DROP INDEX jobs_configuration_kind_state;
CREATE INDEX jobs_completed ON jobs (configuration, kind, create_time) WHERE state = 3;

-- Uniqueness is unchanged, since NULLs never collide; but a job without a
-- request id (every scheduled job) or without a schedule (every other job)
-- no longer takes an entry for the missing key at each of its writes.
-- `request_id = $1` and `schedule = $1` imply the predicates, so lookups
-- still use these indexes, and INSERT ... ON CONFLICT DO NOTHING still
-- stops at a duplicate.
ALTER TABLE jobs DROP CONSTRAINT jobs_request_id_key;
CREATE UNIQUE INDEX jobs_request_id ON jobs (request_id) WHERE request_id IS NOT NULL;
-- Guarantee S3: exactly one job per (schedule, due time).
ALTER TABLE jobs DROP CONSTRAINT jobs_schedule_due_unique;
CREATE UNIQUE INDEX jobs_schedule_due_unique ON jobs (schedule, due_time)
    WHERE schedule IS NOT NULL;
