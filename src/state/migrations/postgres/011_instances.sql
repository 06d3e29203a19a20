-- Migration 11 (PostgreSQL text, the same statement): which instance made each delivery attempt.
-- Several instances share one PostgreSQL database; `status` names the one that sent, or was
-- sending, each message ("host:pid"). NULL on SQLite, where one instance owns the file, and for
-- attempts made before this step.
ALTER TABLE delivery_attempts ADD COLUMN instance TEXT;
