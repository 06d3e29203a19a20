-- Migration 12: the lease on a running firing. Instances sharing one PostgreSQL database write
-- which of them runs a firing ("host:pid") and until when it is theirs; the owner renews it while
-- the firing runs, and once it has expired another instance takes the firing over. NULL on SQLite,
-- where the file lock keeps one instance per database.
ALTER TABLE job_runs ADD COLUMN instance TEXT;
ALTER TABLE job_runs ADD COLUMN lease_until TEXT;
