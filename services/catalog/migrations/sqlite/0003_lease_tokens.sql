-- A lease belongs to its holder (A2): LeaseJob hands out a random token and
-- keeps only its SHA-256 here; heartbeats, completions and failures must
-- present the token.
ALTER TABLE jobs ADD COLUMN lease_token_hash TEXT;
