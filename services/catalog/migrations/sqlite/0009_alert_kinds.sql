-- One open alert per kind and dedup key, rather than per dedup key alone, so
-- that an alert a component raises can never refresh, hide or block one the
-- catalog raised from its own records under the same key.
DROP INDEX alerts_open_dedup;
CREATE UNIQUE INDEX alerts_open_dedup ON alerts (dedup_key, kind) WHERE state = 1;
