-- Migration 007: the register's history, the clerk's own acts on the register, each with who
-- and when. `set-next` continues the office's existing register (its next number, say 125, for
-- one issuer or all, one series or all); `assign` records a number the clerk took from the
-- office's document system for one document, before `send` numbers the rest. Append only: the
-- triggers keep a recorded act from being rewritten or withdrawn.
CREATE TABLE register_history (
    id           INTEGER PRIMARY KEY,
    action       TEXT NOT NULL CHECK (action IN ('set-next', 'assign')),
    -- '' : every issuer.
    issuer       TEXT NOT NULL,
    year         INTEGER NOT NULL,
    -- NULL: every series (always NULL under numbering = "single").
    series       TEXT,
    -- assign: the document's symbol; set-next: the --symbol given, if any.
    symbol       TEXT,
    number       INTEGER NOT NULL CHECK (number >= 1),
    -- assign only: the document the number was recorded for.
    document_key TEXT,
    by_name      TEXT NOT NULL CHECK (by_name <> ''),
    at           TEXT NOT NULL
);
CREATE INDEX register_history_year ON register_history (year, action);
CREATE TRIGGER register_history_no_delete BEFORE DELETE ON register_history
BEGIN
    SELECT RAISE(ABORT, 'lịch sử sổ đăng ký không được xóa');
END;
CREATE TRIGGER register_history_no_update BEFORE UPDATE ON register_history
BEGIN
    SELECT RAISE(ABORT, 'lịch sử sổ đăng ký không được sửa');
END;
