-- MISSED outcomes by the end of their range, so the status report lists the
-- missed runs of its window from an index rather than scanning every outcome.
CREATE INDEX schedule_outcomes_missed_end
    ON schedule_outcomes (outcome, (COALESCE(last_due_time, due_time)));

-- ListJobs filtered by configuration and state together (for example a
-- configuration's failures), newest first, without walking either alone.
CREATE INDEX jobs_configuration_state ON jobs (configuration, state, create_time, id);
