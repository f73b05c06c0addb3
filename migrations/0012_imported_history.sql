-- History brought across from the legacy system (issue: historical import), the same in every tier.
--
-- Imported aggregates (the legacy hourly counts and daily asset popularity) are plain tables that
-- nothing but the importer writes. They are NOT rollups: a continuous-aggregate refresh over a
-- range without raw rows deletes what it had materialised, and raw retention drops raw chunks, so
-- history with no raw rows behind it must live outside both. The read API adds them to the rollups
-- for the buckets they cover (src/storage/sql-read.ts) and flags those rows `imported`.
-- Retention never touches them; delete rows by hand to forget history.

-- Legacy `analytics_events`: hourly counts per (hour, event_name, category). Imported only for
-- hours that had no raw events and no rollup rows when the import ran.
CREATE TABLE analytics_imported_hourly (
  bucket          timestamptz NOT NULL,
  event_name      text NOT NULL,
  category        text NOT NULL,
  event_count     bigint NOT NULL CHECK (event_count >= 0),
  unique_users    bigint NOT NULL DEFAULT 0 CHECK (unique_users >= 0),
  unique_sessions bigint NOT NULL DEFAULT 0 CHECK (unique_sessions >= 0),
  source          text NOT NULL,
  imported_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (bucket, event_name, category)
);

-- Legacy `analytics_asset_popularity`: daily generation counts and distinct creators per asset type.
CREATE TABLE analytics_imported_asset_popularity (
  bucket           timestamptz NOT NULL,
  asset_type       text NOT NULL,
  generation_count bigint NOT NULL CHECK (generation_count >= 0),
  unique_creators  bigint NOT NULL DEFAULT 0 CHECK (unique_creators >= 0),
  source           text NOT NULL,
  imported_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (bucket, asset_type)
);

-- Progress of file and legacy-Redis imports, so an interrupted run resumes where it stopped. One
-- row per source (a file's SHA-256, a Redis key); `position` (lines or sorted-set ranks done) is
-- written in the same transaction as the rows it covers.
CREATE TABLE analytics_import_progress (
  source      text PRIMARY KEY,
  position    bigint NOT NULL DEFAULT 0,
  stored      bigint NOT NULL DEFAULT 0,
  duplicates  bigint NOT NULL DEFAULT 0,
  rejected    bigint NOT NULL DEFAULT 0,
  finished    boolean NOT NULL DEFAULT false,
  updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Makes sure raw rows at the given times can be stored, and returns the oldest time that raw
-- retention keeps (older events are refused: retention would drop them at once). In the `postgres`
-- tier this creates the daily partitions of those days (ingest only keeps 8 days behind created);
-- hypertables create their chunks on insert. Must run before the insert, in its own statement: a
-- partition created inside the inserting statement is not seen by its tuple routing.
CREATE FUNCTION analytics_prepare_import(p_times timestamptz[]) RETURNS timestamptz
LANGUAGE plpgsql AS $$
DECLARE
  cutoff timestamptz := now() - analytics_setting('raw_retention');
  d      timestamptz;
BEGIN
  IF (SELECT value FROM analytics_meta WHERE key = 'tier') = 'postgres' THEN
    FOR d IN
      SELECT DISTINCT date_bin('1 day', t, TIMESTAMPTZ '2000-01-01 00:00:00+00')
      FROM unnest(p_times) AS t WHERE t >= cutoff
    LOOP
      -- ensure_partitions(p) creates [p - partitions_behind, p + partitions_ahead]: aim it so the
      -- day is inside that window whatever the settings are.
      IF to_regclass('analytics_events_ts_p' || to_char(d AT TIME ZONE 'UTC', 'YYYYMMDD')) IS NULL THEN
        PERFORM analytics_ensure_partitions(d + analytics_setting('partitions_behind'));
      END IF;
    END LOOP;
  END IF;
  RETURN cutoff;
END
$$;
