-- The worker's own latency measurements (GET /api/v1/analytics/migration/latency): the Redis step
-- of ingestion, the PostgreSQL insert (direct and drain), and each read endpoint. An isolate keeps
-- them in memory per (minute, metric) — the count and up to 100 sampled durations — and writes them
-- inside the next insert statement it sends anyway (INSERT_EVENTS or the end of a cron run), so
-- measuring never adds a round trip. Rows older than 30 days are deleted by that same statement.
CREATE TABLE analytics_latency (
  minute      timestamptz NOT NULL,
  metric      text NOT NULL,
  -- Measurements taken in the minute by one isolate; `samples` holds up to 100 of them (ms).
  count       integer NOT NULL CHECK (count > 0),
  samples     real[] NOT NULL,
  recorded_at timestamptz NOT NULL DEFAULT now()
);
-- Serves the range read (WHERE minute >= $1 AND minute < $2) and the 30-day prune.
CREATE INDEX analytics_latency_minute_idx ON analytics_latency (minute, metric);
