-- PostgreSQL text of migration 10: nothing to do, as for migration 4: the web page's times were
-- written in milliseconds only by versions that never used PostgreSQL.
SELECT 1;
