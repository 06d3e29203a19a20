-- Migration 4: one time representation in the whole database. The run history stored times to
-- the second ("2026-12-25T01:00:00Z") while the ledger and the register store microseconds
-- ("2026-12-25T01:00:00.000000Z"); text comparison across the two forms would misorder times
-- within the same second, so the old rows are rewritten in the common form.
UPDATE job_runs SET due = substr(due, 1, 19) || '.000000Z'
    WHERE length(due) = 20 AND due LIKE '%Z';
UPDATE job_runs SET started = substr(started, 1, 19) || '.000000Z'
    WHERE length(started) = 20 AND started LIKE '%Z';
UPDATE job_runs SET finished = substr(finished, 1, 19) || '.000000Z'
    WHERE length(finished) = 20 AND finished LIKE '%Z';
UPDATE job_seen SET first_seen = substr(first_seen, 1, 19) || '.000000Z'
    WHERE length(first_seen) = 20 AND first_seen LIKE '%Z';
