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
-- over several rows, so they do not wait for each other's row lock until
-- commit; readers sum the shards.
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

-- Adds the count of one finished job (sign 1) or takes it away (sign -1).
CREATE FUNCTION job_counts_keep() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    j jobs;
    sign BIGINT;
BEGIN
    IF TG_OP = 'UPDATE'
       AND (OLD.state, OLD.kind, OLD.job_trigger, OLD.create_time, OLD.bytes_read, OLD.attempt,
            OLD.error)
           IS NOT DISTINCT FROM (NEW.state, NEW.kind, NEW.job_trigger, NEW.create_time,
                                 NEW.bytes_read, NEW.attempt, NEW.error) THEN
        RETURN NULL;
    END IF;
    FOREACH sign IN ARRAY ARRAY[-1, 1] LOOP
        IF sign < 0 AND TG_OP <> 'INSERT' AND OLD.state IN (3, 4, 5) THEN
            j := OLD;
        ELSIF sign > 0 AND TG_OP <> 'DELETE' AND NEW.state IN (3, 4, 5) THEN
            j := NEW;
        ELSE
            CONTINUE;
        END IF;
        INSERT INTO job_counts (hour, kind, state, job_trigger, shard, n, bytes_read, lost)
        VALUES (
            j.create_time / 3600000000, j.kind, j.state, j.job_trigger,
            hashtext(j.id) & 7, sign, sign * j.bytes_read,
            sign * CASE WHEN j.attempt > 1 OR j.error LIKE '%executor lost%' THEN 1 ELSE 0 END
        )
        ON CONFLICT (hour, kind, state, job_trigger, shard) DO UPDATE SET
            n = job_counts.n + excluded.n,
            bytes_read = job_counts.bytes_read + excluded.bytes_read,
            lost = job_counts.lost + excluded.lost;
    END LOOP;
    RETURN NULL;
END
$$;

CREATE TRIGGER job_counts_insert AFTER INSERT ON jobs FOR EACH ROW
    WHEN (NEW.state IN (3, 4, 5)) EXECUTE FUNCTION job_counts_keep();
-- Only updates that set a counted column look at the row, and only those
-- that change a finished job's count call the function: heartbeats and
-- leases never do.
CREATE TRIGGER job_counts_update
    AFTER UPDATE OF state, kind, job_trigger, create_time, bytes_read, attempt, error ON jobs
    FOR EACH ROW WHEN (OLD.state IN (3, 4, 5) OR NEW.state IN (3, 4, 5))
    EXECUTE FUNCTION job_counts_keep();
CREATE TRIGGER job_counts_delete AFTER DELETE ON jobs FOR EACH ROW
    WHEN (OLD.state IN (3, 4, 5)) EXECUTE FUNCTION job_counts_keep();

-- The finished jobs already there, each in the shard its triggers will use.
INSERT INTO job_counts (hour, kind, state, job_trigger, shard, n, bytes_read, lost)
SELECT create_time / 3600000000, kind, state, job_trigger, hashtext(id) & 7, COUNT(*),
       COALESCE(SUM(bytes_read), 0),
       SUM(CASE WHEN attempt > 1 OR error LIKE '%executor lost%' THEN 1 ELSE 0 END)
FROM jobs WHERE state IN (3, 4, 5)
GROUP BY create_time / 3600000000, kind, state, job_trigger, hashtext(id) & 7;
