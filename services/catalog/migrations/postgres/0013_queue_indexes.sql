-- Fewer indexes to maintain on every job write, and the queue in index order.
--
-- jobs_lease (state, lease_expire_time) held the one column a heartbeat
-- changes that any index held; the lease reaper finds RUNNING jobs through
-- jobs_queue (state, ...) instead, and there are only as many of those as
-- executors run. Without it a heartbeat changes no indexed column, so
-- PostgreSQL rewrites the row in place (a HOT update) instead of adding an
-- entry to each of the table's indexes.
DROP INDEX jobs_lease;

-- jobs_window (create_time, kind, state, job_trigger) counted the report
-- window's jobs; job_counts (0012) counts the finished ones now, and the
-- few counted from jobs are found through jobs_newest and jobs_queue.
DROP INDEX jobs_window;

-- The queue's order is (create_time, id) with id in the "C" collation, as
-- SQLite compares text, so the two backends agree on ties. jobs_queue held
-- id in the database's collation, so every lease sorted its candidates; in
-- the "C" collation the index gives the order itself (and to ListJobs by
-- state, which orders the same way).
DROP INDEX jobs_queue;
CREATE INDEX jobs_queue ON jobs (state, create_time, id COLLATE "C");
