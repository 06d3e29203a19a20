-- Migration 1: the delivery ledger. `deliveries.state` always
-- equals the state of the newest attempt (or `pending` when there is none); it is kept as a
-- column so "what is sending?" is one indexed lookup.
CREATE TABLE deliveries (
    id          INTEGER PRIMARY KEY,
    issuer      TEXT NOT NULL,
    period      TEXT NOT NULL,
    document    TEXT NOT NULL,
    recipient   TEXT NOT NULL,
    state       TEXT NOT NULL
                CHECK (state IN ('pending', 'sending', 'sent', 'failed', 'unknown')),
    attempts    INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    planned_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    UNIQUE (issuer, period, document, recipient)
);
CREATE INDEX deliveries_by_state ON deliveries (state);
CREATE TABLE delivery_attempts (
    delivery_id INTEGER NOT NULL REFERENCES deliveries (id),
    attempt     INTEGER NOT NULL CHECK (attempt >= 1),
    resend      INTEGER NOT NULL CHECK (resend IN (0, 1)),
    message_id  TEXT NOT NULL,
    started_at  TEXT NOT NULL,
    state       TEXT NOT NULL CHECK (state IN ('sending', 'sent', 'failed', 'unknown')),
    finished_at TEXT,
    detail      TEXT,
    permanent   INTEGER CHECK (permanent IN (0, 1)),
    PRIMARY KEY (delivery_id, attempt)
);
-- Two attempts of one delivery in flight at once is the duplicate this ledger exists to prevent.
CREATE UNIQUE INDEX one_sending_attempt ON delivery_attempts (delivery_id) WHERE state = 'sending';
