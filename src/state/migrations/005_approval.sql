-- Migration 5: approval of drafts, and firings that wait for it.
--
-- Every decision on a draft is one row, never changed or deleted: submitted (sent to the
-- approvers), approved, returned (with the reason). A document's standing is its newest row.
-- `content_sha256` names exactly what was decided on: the SHA-256 of the draft's file list
-- (each file's name and SHA-256, `approval_files`), so a draft whose period file or template
-- changed afterwards is no longer covered.
CREATE TABLE approval_decisions (
    id             INTEGER PRIMARY KEY,
    issuer         TEXT NOT NULL,
    document_key   TEXT NOT NULL,
    decision       TEXT NOT NULL CHECK (decision IN ('submitted', 'approved', 'returned')),
    by_name        TEXT NOT NULL CHECK (by_name <> ''),
    at             TEXT NOT NULL,
    note           TEXT,
    content_sha256 TEXT NOT NULL CHECK (length(content_sha256) = 64),
    -- A returned draft goes back to the clerk with its reason: never without one.
    CHECK (decision <> 'returned' OR (note IS NOT NULL AND note <> ''))
);
CREATE INDEX approval_by_document ON approval_decisions (issuer, document_key, id);
CREATE TABLE approval_files (
    decision_id INTEGER NOT NULL REFERENCES approval_decisions (id),
    position    INTEGER NOT NULL,
    name        TEXT NOT NULL,
    sha256      TEXT NOT NULL CHECK (length(sha256) = 64),
    PRIMARY KEY (decision_id, position)
);
CREATE TRIGGER approval_no_delete BEFORE DELETE ON approval_decisions
BEGIN
    SELECT RAISE(ABORT, 'ý kiến duyệt đã ghi không được xóa');
END;
CREATE TRIGGER approval_no_update BEFORE UPDATE ON approval_decisions
BEGIN
    SELECT RAISE(ABORT, 'ý kiến duyệt đã ghi không được sửa');
END;

-- The run history learns one more outcome, 'waiting': a send firing whose documents are not
-- approved yet. The service looks at it again every minute and finishes it once they are;
-- `waiting_alerted` records the one alert to the admin when it waits longer than
-- `approval_wait`. SQLite cannot change a CHECK constraint in place, so the table is rebuilt.
CREATE TABLE job_runs_new (
    job             TEXT NOT NULL,
    due             TEXT NOT NULL,
    started         TEXT,
    finished        TEXT,
    outcome         TEXT NOT NULL
                    CHECK (outcome IN ('running', 'ok', 'failed', 'skipped', 'interrupted',
                                       'waiting')),
    detail          TEXT,
    started_by      TEXT NOT NULL DEFAULT 'schedule'
                    CHECK (started_by IN ('schedule', 'catch-up', 'manual')),
    waiting_alerted TEXT,
    PRIMARY KEY (job, due)
);
INSERT INTO job_runs_new (job, due, started, finished, outcome, detail, started_by)
    SELECT job, due, started, finished, outcome, detail, started_by FROM job_runs;
DROP TABLE job_runs;
ALTER TABLE job_runs_new RENAME TO job_runs;
