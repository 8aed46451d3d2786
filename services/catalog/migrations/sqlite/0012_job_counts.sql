-- Finished jobs counted per hour of their creation, so the status report and
-- /metrics count a window's history from a few hundred rows instead of
-- reading every job in it (store/summary.rs). Kept by the triggers below in
-- the transaction of every job write (insert, state change, retention's
-- delete); QUEUED and RUNNING jobs are counted from the jobs table, so
-- leases and heartbeats never touch these rows.
--
-- hour is create_time / 3600000000 (UTC microseconds). lost counts jobs that
-- lost an executor: more than one attempt, or the reaper's "executor lost"
-- (store/reclaim.rs, EXECUTOR_LOST). shard spreads concurrent completions
-- over several rows on PostgreSQL; SQLite has one writer at a time and uses
-- shard 0 only.
CREATE TABLE job_counts (
    hour        BIGINT NOT NULL,
    kind        BIGINT NOT NULL,
    state       BIGINT NOT NULL,
    job_trigger BIGINT NOT NULL,
    shard       BIGINT NOT NULL,
    n           BIGINT NOT NULL,
    bytes_read  BIGINT NOT NULL,
    lost        BIGINT NOT NULL,
    PRIMARY KEY (hour, kind, state, job_trigger, shard)
);

CREATE TRIGGER job_counts_insert AFTER INSERT ON jobs
WHEN NEW.state IN (3, 4, 5)
BEGIN
    INSERT INTO job_counts (hour, kind, state, job_trigger, shard, n, bytes_read, lost)
    VALUES (
        NEW.create_time / 3600000000, NEW.kind, NEW.state, NEW.job_trigger, 0, 1, NEW.bytes_read,
        CASE WHEN NEW.attempt > 1 OR NEW.error LIKE '%executor lost%' THEN 1 ELSE 0 END
    )
    ON CONFLICT (hour, kind, state, job_trigger, shard) DO UPDATE SET
        n = n + excluded.n,
        bytes_read = bytes_read + excluded.bytes_read,
        lost = lost + excluded.lost;
END;

CREATE TRIGGER job_counts_delete AFTER DELETE ON jobs
WHEN OLD.state IN (3, 4, 5)
BEGIN
    INSERT INTO job_counts (hour, kind, state, job_trigger, shard, n, bytes_read, lost)
    VALUES (
        OLD.create_time / 3600000000, OLD.kind, OLD.state, OLD.job_trigger, 0, -1, -OLD.bytes_read,
        CASE WHEN OLD.attempt > 1 OR OLD.error LIKE '%executor lost%' THEN -1 ELSE 0 END
    )
    ON CONFLICT (hour, kind, state, job_trigger, shard) DO UPDATE SET
        n = n + excluded.n,
        bytes_read = bytes_read + excluded.bytes_read,
        lost = lost + excluded.lost;
END;

-- An update is the delete of the old row's count and the insert of the new
-- one's, when it changes anything counted.
CREATE TRIGGER job_counts_update_old AFTER UPDATE OF state, kind, job_trigger, create_time, bytes_read, attempt, error ON jobs
WHEN OLD.state IN (3, 4, 5)
    AND (OLD.state IS NOT NEW.state OR OLD.kind IS NOT NEW.kind
         OR OLD.job_trigger IS NOT NEW.job_trigger OR OLD.create_time IS NOT NEW.create_time
         OR OLD.bytes_read IS NOT NEW.bytes_read OR OLD.attempt IS NOT NEW.attempt
         OR OLD.error IS NOT NEW.error)
BEGIN
    INSERT INTO job_counts (hour, kind, state, job_trigger, shard, n, bytes_read, lost)
    VALUES (
        OLD.create_time / 3600000000, OLD.kind, OLD.state, OLD.job_trigger, 0, -1, -OLD.bytes_read,
        CASE WHEN OLD.attempt > 1 OR OLD.error LIKE '%executor lost%' THEN -1 ELSE 0 END
    )
    ON CONFLICT (hour, kind, state, job_trigger, shard) DO UPDATE SET
        n = n + excluded.n,
        bytes_read = bytes_read + excluded.bytes_read,
        lost = lost + excluded.lost;
END;

CREATE TRIGGER job_counts_update_new AFTER UPDATE OF state, kind, job_trigger, create_time, bytes_read, attempt, error ON jobs
WHEN NEW.state IN (3, 4, 5)
    AND (OLD.state IS NOT NEW.state OR OLD.kind IS NOT NEW.kind
         OR OLD.job_trigger IS NOT NEW.job_trigger OR OLD.create_time IS NOT NEW.create_time
         OR OLD.bytes_read IS NOT NEW.bytes_read OR OLD.attempt IS NOT NEW.attempt
         OR OLD.error IS NOT NEW.error)
BEGIN
    INSERT INTO job_counts (hour, kind, state, job_trigger, shard, n, bytes_read, lost)
    VALUES (
        NEW.create_time / 3600000000, NEW.kind, NEW.state, NEW.job_trigger, 0, 1, NEW.bytes_read,
        CASE WHEN NEW.attempt > 1 OR NEW.error LIKE '%executor lost%' THEN 1 ELSE 0 END
    )
    ON CONFLICT (hour, kind, state, job_trigger, shard) DO UPDATE SET
        n = n + excluded.n,
        bytes_read = bytes_read + excluded.bytes_read,
        lost = lost + excluded.lost;
END;

-- The finished jobs already there.
INSERT INTO job_counts (hour, kind, state, job_trigger, shard, n, bytes_read, lost)
SELECT create_time / 3600000000, kind, state, job_trigger, 0, COUNT(*), COALESCE(SUM(bytes_read), 0),
       SUM(CASE WHEN attempt > 1 OR error LIKE '%executor lost%' THEN 1 ELSE 0 END)
FROM jobs WHERE state IN (3, 4, 5)
GROUP BY create_time / 3600000000, kind, state, job_trigger;
