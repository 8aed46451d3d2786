-- Fleet scale.
--
-- A run of MISSED outcomes is one row: due_time is the first due time of the
-- range, last_due_time its last, run_count how many due times it stands for.
ALTER TABLE schedule_outcomes ADD COLUMN last_due_time BIGINT;
ALTER TABLE schedule_outcomes ADD COLUMN run_count BIGINT NOT NULL DEFAULT 1;

-- The newest success of each configuration, answered from an index.
CREATE INDEX jobs_configuration_kind_state ON jobs (configuration, kind, state, create_time);
-- First pages of ListJobs filtered by kind, trigger or schedule.
CREATE INDEX jobs_kind_newest ON jobs (kind, create_time, id);
CREATE INDEX jobs_trigger_newest ON jobs (job_trigger, create_time, id);
-- History retention: finished jobs by age; artifacts by job.
CREATE INDEX jobs_end ON jobs (state, end_time);
CREATE INDEX artifacts_job ON artifacts (job);
-- Outcomes by age, for retention.
CREATE INDEX schedule_outcomes_due ON schedule_outcomes (due_time);
-- Components by heartbeat, for the live view and their deletion.
CREATE INDEX components_heartbeat ON components (heartbeat_time);

-- Bytes read by a completed job, so the status report sums them in SQL.
ALTER TABLE jobs ADD COLUMN bytes_read BIGINT NOT NULL DEFAULT 0;
-- Counting the jobs of the report window from an index.
CREATE INDEX jobs_window ON jobs (create_time, kind, state, job_trigger);
-- Artifact totals per configuration.
CREATE INDEX artifacts_configuration_state ON artifacts (configuration, state, create_time);
