-- Migration 9: the web page's tables (accounts, sessions, login attempts, audit log, uploads).
-- They were first applied by the web store itself at every start; every statement is IF NOT
-- EXISTS so a database that already has them from then migrates as it is.
-- Times are RFC 3339 UTC text, as in the ledger.
CREATE TABLE IF NOT EXISTS web_users (
    id            INTEGER PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    role          TEXT NOT NULL CHECK (role IN ('clerk', 'approver', 'admin')),
    password_hash TEXT NOT NULL,
    active        INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);
-- Only the SHA-256 of a session id is kept: a copy of the database logs nobody in.
CREATE TABLE IF NOT EXISTS web_sessions (
    id_hash    TEXT PRIMARY KEY CHECK (length(id_hash) = 64),
    user_id    INTEGER NOT NULL REFERENCES web_users (id),
    csrf       TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    ip         TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS web_sessions_by_user ON web_sessions (user_id);
CREATE TABLE IF NOT EXISTS web_login_attempts (
    id       INTEGER PRIMARY KEY,
    at       TEXT NOT NULL,
    username TEXT NOT NULL,
    ip       TEXT NOT NULL,
    ok       INTEGER NOT NULL CHECK (ok IN (0, 1))
);
CREATE INDEX IF NOT EXISTS web_login_attempts_by_at ON web_login_attempts (at);
CREATE TABLE IF NOT EXISTS web_audit (
    id       INTEGER PRIMARY KEY,
    at       TEXT NOT NULL,
    username TEXT NOT NULL,
    ip       TEXT NOT NULL,
    action   TEXT NOT NULL,
    detail   TEXT NOT NULL
);
-- A period file as uploaded; stored under `stored_name`, a name vanban made, never the
-- client's.
CREATE TABLE IF NOT EXISTS web_uploads (
    id            INTEGER PRIMARY KEY,
    at            TEXT NOT NULL,
    username      TEXT NOT NULL,
    original_name TEXT NOT NULL,
    stored_name   TEXT NOT NULL UNIQUE,
    period        TEXT,
    problems      TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS web_uploads_by_period ON web_uploads (period);
