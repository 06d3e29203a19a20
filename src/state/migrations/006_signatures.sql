-- Migration 6: the signing step, its own record beside the register. One row per signature added
-- to an issued document (the signer, then the organisation), with whose certificate signed, when,
-- and the SHA-256 of the PDF right after that signature: the organisation's row hashes the filed
-- file. Never updated or deleted: a document is signed once, when it is issued (a number re-issued
-- with new content before anyone received it gets new rows; the latest are the filed file's).
CREATE TABLE signatures (
    id           INTEGER PRIMARY KEY,
    issuer       TEXT NOT NULL,
    document_key TEXT NOT NULL,
    file_name    TEXT NOT NULL,
    position     INTEGER NOT NULL CHECK (position >= 1),
    role         TEXT NOT NULL CHECK (role IN ('signer', 'organisation')),
    subject      TEXT NOT NULL,
    signed_at    TEXT NOT NULL,
    sha256       TEXT NOT NULL CHECK (length(sha256) = 64),
    UNIQUE (issuer, document_key, file_name, position, sha256)
);
CREATE TRIGGER signatures_no_delete BEFORE DELETE ON signatures
BEGIN
    SELECT RAISE(ABORT, 'chữ ký số đã ghi sổ không được xóa');
END;
CREATE TRIGGER signatures_no_update BEFORE UPDATE ON signatures
BEGIN
    SELECT RAISE(ABORT, 'chữ ký số đã ghi sổ không được sửa');
END;
