-- Migration 8: what each issued document was issued from, and replacements. The draft's content hash (the SHA-256
-- of its file list as a dry run renders it, `approval_decisions.content_sha256`) recorded beside
-- the number, so `send` and `status` can tell that the period file or a template changed after
-- the number was given: the filed (signed) bytes never equal a re-render, the draft hash does.
-- One row per issued number; a number re-issued before anyone received it records its new hash.
CREATE TABLE IF NOT EXISTS issued_content (
    issuer         TEXT NOT NULL,
    year           BIGINT NOT NULL,
    symbol         TEXT NOT NULL,
    number         BIGINT NOT NULL,
    document_key   TEXT NOT NULL,
    content_sha256 TEXT NOT NULL CHECK (length(content_sha256) = 64),
    recorded_at    TEXT NOT NULL,
    PRIMARY KEY (issuer, year, symbol, number)
);

-- `vanban replace`: an issued document replaced on purpose (Decree 30: a replacing document
-- carries its own number). The replaced number stays in the register; this row says who decided
-- it, when and why, and the register key the replacement is numbered under
-- (`<document key>#2`, `#3`…, since the register holds one number per key and year). Never
-- updated or deleted.
CREATE TABLE IF NOT EXISTS register_replacements (
    issuer          TEXT NOT NULL,
    document_key    TEXT NOT NULL,
    year            BIGINT NOT NULL,
    symbol          TEXT NOT NULL,
    number          BIGINT NOT NULL,
    by_name         TEXT NOT NULL CHECK (by_name <> ''),
    at              TEXT NOT NULL,
    reason          TEXT NOT NULL CHECK (reason <> ''),
    replacement_key TEXT NOT NULL UNIQUE,
    PRIMARY KEY (issuer, document_key)
);
CREATE TRIGGER register_replacements_no_delete BEFORE DELETE ON register_replacements
    FOR EACH ROW EXECUTE FUNCTION vanban_refuse('quyết định thay thế văn bản đã ghi không được xóa');
CREATE TRIGGER register_replacements_no_update BEFORE UPDATE ON register_replacements
    FOR EACH ROW EXECUTE FUNCTION vanban_refuse('quyết định thay thế văn bản đã ghi không được sửa');
