-- Creates the TimescaleDB extension when the server offers it and this role may create it.
--
-- Runs before tier detection (the runner applies 0000 files first, then reads pg_extension and
-- timescaledb.license to choose the tier). It never fails: on a server without TimescaleDB, or
-- where it is not preloaded or this role lacks the privilege, it leaves a NOTICE and the database
-- gets the plain `postgres` tier. When the runner was asked for the `postgres` tier
-- (ANALYTICS_DB_TIER=postgres) it sets analytics.requested_tier and nothing is created.
--
-- Preloading is checked BEFORE `CREATE EXTENSION`: on a server where TimescaleDB is installed
-- but not in shared_preload_libraries (a stock package install), `CREATE EXTENSION timescaledb`
-- raises FATAL "extension must be preloaded", which ends the session and cannot be caught here.
-- The library counts as loaded when shared_preload_libraries names it or when this session
-- already has its `timescaledb.license` setting (a host that loads it another way).
DO $$
DECLARE
  preload text;
BEGIN
  IF coalesce(current_setting('analytics.requested_tier', true), 'auto') = 'postgres' THEN
    RAISE NOTICE 'analytics: tier postgres requested, TimescaleDB not created';
    RETURN;
  END IF;
  IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') THEN
    RETURN;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb') THEN
    RAISE NOTICE 'analytics: TimescaleDB is not available on this server';
    RETURN;
  END IF;
  BEGIN
    preload := current_setting('shared_preload_libraries');
  EXCEPTION WHEN OTHERS THEN
    preload := NULL;  -- unreadable here: try, as before this check existed
  END;
  IF preload IS NOT NULL
     AND preload !~* '(^|[^a-z_])timescaledb'
     AND current_setting('timescaledb.license', true) IS NULL THEN
    RAISE NOTICE 'analytics: TimescaleDB is installed but not preloaded, so it was not created and this database gets the postgres tier. To use TimescaleDB, add it to shared_preload_libraries in postgresql.conf (shared_preload_libraries = ''timescaledb'', keeping any libraries already listed), restart PostgreSQL, and migrate a new database (a migrated database keeps its tier).';
    RETURN;
  END IF;
  BEGIN
    CREATE EXTENSION IF NOT EXISTS timescaledb;
  EXCEPTION WHEN OTHERS THEN
    -- Typical cause: no CREATE privilege on a managed host.
    RAISE NOTICE 'analytics: TimescaleDB is available but could not be created (%: %)', SQLSTATE, SQLERRM;
  END;
END
$$;
