-- PostgreSQL text of migration 4: nothing to do. The SQLite step rewrote run-history times written
-- by older versions to whole seconds; a PostgreSQL database never had such rows (it is created at
-- the current format, or filled by `vanban db copy` from a SQLite file already migrated).
SELECT 1;
