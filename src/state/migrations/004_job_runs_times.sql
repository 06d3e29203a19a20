-- Migration 4: one time format in the whole database. The run history was written to the whole
-- second ("2026-12-25T01:00:00Z") while the ledger and the register write microseconds
-- ("2026-12-25T01:00:00.000000Z", `state::time_to_sql`). Rewrite the old rows to the one format:
-- the run history only ever stored whole seconds, so the fraction is exactly zero. Only values of
-- the old shape are touched (20 characters ending in Z), so running this on rows already in the
-- new format changes nothing; anything else is left for the reader to report as corrupt.
UPDATE job_runs SET due = substr(due, 1, 19) || '.000000Z'
    WHERE length(due) = 20 AND substr(due, 20, 1) = 'Z';
UPDATE job_runs SET started = substr(started, 1, 19) || '.000000Z'
    WHERE length(started) = 20 AND substr(started, 20, 1) = 'Z';
UPDATE job_runs SET finished = substr(finished, 1, 19) || '.000000Z'
    WHERE length(finished) = 20 AND substr(finished, 20, 1) = 'Z';
UPDATE job_seen SET first_seen = substr(first_seen, 1, 19) || '.000000Z'
    WHERE length(first_seen) = 20 AND substr(first_seen, 20, 1) = 'Z';
