-- Raw events as a hypertable with 1-day chunks (timescale and timescale-apache tiers).
--
-- Phase 1 of docs/ARCHITECTURE.md §1 (the schema), with the columns of docs/ARCHITECTURE.md §4 (event_id,
-- received_at, client_time, skew_ms, flags added; properties NOT NULL DEFAULT '{}').
-- create_hypertable uses the old signature on purpose: Neon's PG15 ships TimescaleDB 2.10.1, which
-- has neither by_range() nor CREATE TABLE ... WITH (tsdb.hypertable). 1-day chunks (the plan's
-- default is 7 days) so that retention and compression act on days and rollup days align with chunks.
-- No unique key here: exactly-once is enforced by analytics_event_ids (invariant 2), and a unique
-- index on a hypertable would have to include time, which retries may change.
CREATE TABLE analytics_events_ts (
  time        timestamptz NOT NULL,
  event_id    uuid NOT NULL,
  event_name  text NOT NULL,
  category    text NOT NULL,
  user_id     text,
  session_id  text,
  properties  jsonb NOT NULL DEFAULT '{}',
  device_info jsonb,
  page_url    text,
  referrer    text,
  received_at timestamptz NOT NULL,
  client_time timestamptz,
  skew_ms     bigint NOT NULL DEFAULT 0,
  flags       text[] NOT NULL DEFAULT '{}'
);

-- Also creates the default (time DESC) index, which serves time-range scans: rollup refreshes and
-- the Phase 3 "last 7 days" query.
SELECT create_hypertable('analytics_events_ts', 'time', chunk_time_interval => INTERVAL '1 day');

-- The plan's three read indexes, as written.
CREATE INDEX idx_analytics_ts_category ON analytics_events_ts (category, time DESC);
CREATE INDEX idx_analytics_ts_event ON analytics_events_ts (event_name, time DESC);
CREATE INDEX idx_analytics_ts_user ON analytics_events_ts (user_id, time DESC) WHERE user_id IS NOT NULL;

-- The start of the oldest raw data still stored ('infinity' when there is none). Rollups are never
-- recomputed below it: a refresh over a range whose chunks were dropped would delete rollup history.
CREATE FUNCTION analytics_raw_floor() RETURNS timestamptz
LANGUAGE sql STABLE AS $$
  SELECT coalesce(min(c.range_start), 'infinity')
  FROM timescaledb_information.chunks c
  WHERE format('%I.%I', c.hypertable_schema, c.hypertable_name)::regclass = 'analytics_events_ts'::regclass
$$;
