-- Creates the TimescaleDB extension when the server offers it and this role may create it.
--
-- Runs before tier detection (the runner applies 0000 files first, then reads pg_extension and
-- timescaledb.license to choose the tier). It never fails: on a server without TimescaleDB, or
-- where it is not preloaded or this role lacks the privilege, it leaves a NOTICE and the database
-- gets the plain `postgres` tier. When the runner was asked for the `postgres` tier
-- (ANALYTICS_DB_TIER=postgres) it sets analytics.requested_tier and nothing is created.
DO $$
BEGIN
  IF coalesce(current_setting('analytics.requested_tier', true), 'auto') = 'postgres' THEN
    RAISE NOTICE 'analytics: tier postgres requested, TimescaleDB not created';
    RETURN;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb') THEN
    RAISE NOTICE 'analytics: TimescaleDB is not available on this server';
    RETURN;
  END IF;
  BEGIN
    CREATE EXTENSION IF NOT EXISTS timescaledb;
  EXCEPTION WHEN OTHERS THEN
    -- Typical causes: not in shared_preload_libraries, or no CREATE privilege on a managed host.
    RAISE NOTICE 'analytics: TimescaleDB is available but could not be created (%: %)', SQLSTATE, SQLERRM;
  END;
END
$$;
