-- Migration 2: the register of issued documents. The UNIQUE constraints
-- make a duplicate number impossible even if the code computing the next one were wrong, and
-- the triggers keep a given number from being withdrawn or renumbered.
CREATE TABLE register (
    id           INTEGER PRIMARY KEY,
    issuer       TEXT NOT NULL,
    year         INTEGER NOT NULL,
    series       TEXT NOT NULL,
    number       INTEGER NOT NULL CHECK (number >= 1),
    symbol       TEXT NOT NULL CHECK (symbol <> ''),
    document_key TEXT NOT NULL,
    reserved_at  TEXT NOT NULL,
    issue_date   TEXT,
    issued_at    TEXT,
    CHECK ((issue_date IS NULL) = (issued_at IS NULL)),
    UNIQUE (issuer, year, series, number),
    UNIQUE (issuer, year, symbol, number),
    UNIQUE (issuer, year, document_key)
);
CREATE TABLE register_recipients (
    entry_id  INTEGER NOT NULL REFERENCES register (id),
    position  INTEGER NOT NULL,
    recipient TEXT NOT NULL,
    PRIMARY KEY (entry_id, position)
);
CREATE TABLE register_files (
    entry_id INTEGER NOT NULL REFERENCES register (id),
    position INTEGER NOT NULL,
    name     TEXT NOT NULL,
    sha256   TEXT NOT NULL CHECK (length(sha256) = 64),
    PRIMARY KEY (entry_id, position)
);
CREATE TRIGGER register_no_delete BEFORE DELETE ON register
BEGIN
    SELECT RAISE(ABORT, 'số văn bản đã cấp không được xóa khỏi sổ đăng ký');
END;
CREATE TRIGGER register_no_renumber
BEFORE UPDATE OF issuer, year, series, number, symbol, document_key ON register
BEGIN
    SELECT RAISE(ABORT, 'số văn bản đã cấp không được sửa');
END;
