-- Storage used per day (GET /api/v1/analytics/migration/storage), in one statement. TimescaleDB
-- Apache edition (Neon, Supabase): one 1-day chunk per day, and no compression in this edition.
CREATE FUNCTION analytics_storage_report() RETURNS jsonb
LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_object(
    'database_bytes', pg_database_size(current_database()),
    'compression', NULL,
    'days', coalesce((
      SELECT jsonb_agg(jsonb_build_object(
               'day', to_char(c.range_start AT TIME ZONE 'UTC', 'YYYY-MM-DD'),
               'bytes', pg_total_relation_size(format('%I.%I', c.chunk_schema, c.chunk_name)::regclass),
               'compressed', false) ORDER BY c.range_start)
      FROM timescaledb_information.chunks c
      WHERE c.hypertable_name = 'analytics_events_ts' AND c.range_start <= now()), '[]'::jsonb))
$$;
