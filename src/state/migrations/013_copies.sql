-- Migration 13: electronic copies (sao y, Decree 30 Art. 25-26) of issued documents, one row per
-- copy made: which issued file, the copying body and its certificate, who made it and when, where
-- it was written and its SHA-256. Never updated or deleted: the office's record of copies issued.
CREATE TABLE copies (
    id           INTEGER PRIMARY KEY,
    issuer       TEXT NOT NULL,
    document_key TEXT NOT NULL,
    number       TEXT NOT NULL,
    source_file  TEXT NOT NULL,
    form         TEXT NOT NULL CHECK (form IN ('sao-y')),
    copied_by    TEXT NOT NULL,
    subject      TEXT NOT NULL,
    made_by      TEXT NOT NULL,
    made_at      TEXT NOT NULL,
    file         TEXT NOT NULL,
    sha256       TEXT NOT NULL CHECK (length(sha256) = 64)
);
CREATE TRIGGER copies_no_delete BEFORE DELETE ON copies
BEGIN
    SELECT RAISE(ABORT, 'bản sao đã ghi sổ không được xóa');
END;
CREATE TRIGGER copies_no_update BEFORE UPDATE ON copies
BEGIN
    SELECT RAISE(ABORT, 'bản sao đã ghi sổ không được sửa');
END;
