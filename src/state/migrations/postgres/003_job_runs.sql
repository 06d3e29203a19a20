-- Migration 3: the run history of scheduled jobs. `job_seen` remembers when the service first saw each
-- job, so a fresh database does not count firings from before that as missed.
CREATE TABLE IF NOT EXISTS job_runs (
    job        TEXT NOT NULL,
    due        TEXT NOT NULL,
    started    TEXT,
    finished   TEXT,
    outcome    TEXT NOT NULL
               CHECK (outcome IN ('running', 'ok', 'failed', 'skipped', 'interrupted')),
    detail     TEXT,
    started_by TEXT NOT NULL DEFAULT 'schedule'
               CHECK (started_by IN ('schedule', 'catch-up', 'manual')),
    PRIMARY KEY (job, due)
);
CREATE TABLE IF NOT EXISTS job_seen (
    job        TEXT PRIMARY KEY,
    first_seen TEXT NOT NULL
);