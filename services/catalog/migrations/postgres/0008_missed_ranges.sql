-- MISSED outcomes by the end of their range, so the status report lists the
-- missed runs of its window from an index rather than scanning every outcome.
CREATE INDEX schedule_outcomes_missed_end
    ON schedule_outcomes (outcome, (COALESCE(last_due_time, due_time)));
