-- Fewer index entries for each job write, as on PostgreSQL (see its 0014).
-- SQLite keeps the table's own UNIQUE constraints on request_id and
-- (schedule, due_time): they cannot be dropped without rebuilding the table.

-- jobs_end (state, end_time) served no query: history retention selects by
-- COALESCE(end_time, update_time) in creation order, through jobs_newest.
DROP INDEX jobs_end;

-- Only the newest COMPLETED (3) job of each configuration and kind was read
-- through jobs_configuration_kind_state.
DROP INDEX jobs_configuration_kind_state;
CREATE INDEX jobs_completed ON jobs (configuration, kind, create_time) WHERE state = 3;
