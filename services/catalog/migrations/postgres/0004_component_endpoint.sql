-- The address a scheduler or executor serves its gRPC services at, for the
-- catalog's forwarding of SchedulerService and ExecutorService calls.
ALTER TABLE components ADD COLUMN endpoint TEXT NOT NULL DEFAULT '';
