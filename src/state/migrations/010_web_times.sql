-- Migration 10: the web page's times in the database's one format. The web tables wrote
-- milliseconds ("2026-12-25T01:00:00.123Z") while the rest writes microseconds
-- ("2026-12-25T01:00:00.123000Z", `state::time_to_sql`); times compared as text (a session's
-- expiry, the login attempts of the last minutes) must share one shape to sort in time order.
-- Only values of the old shape (24 characters ending in Z) are touched, so a second run changes
-- nothing.
UPDATE web_users SET created_at = substr(created_at, 1, 23) || '000Z'
    WHERE length(created_at) = 24 AND substr(created_at, 24, 1) = 'Z';
UPDATE web_users SET updated_at = substr(updated_at, 1, 23) || '000Z'
    WHERE length(updated_at) = 24 AND substr(updated_at, 24, 1) = 'Z';
UPDATE web_sessions SET created_at = substr(created_at, 1, 23) || '000Z'
    WHERE length(created_at) = 24 AND substr(created_at, 24, 1) = 'Z';
UPDATE web_sessions SET expires_at = substr(expires_at, 1, 23) || '000Z'
    WHERE length(expires_at) = 24 AND substr(expires_at, 24, 1) = 'Z';
UPDATE web_login_attempts SET at = substr(at, 1, 23) || '000Z'
    WHERE length(at) = 24 AND substr(at, 24, 1) = 'Z';
UPDATE web_audit SET at = substr(at, 1, 23) || '000Z'
    WHERE length(at) = 24 AND substr(at, 24, 1) = 'Z';
UPDATE web_uploads SET at = substr(at, 1, 23) || '000Z'
    WHERE length(at) = 24 AND substr(at, 24, 1) = 'Z';
