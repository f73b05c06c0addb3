-- Storage used per day (GET /api/v1/analytics/migration/storage), in one statement. TimescaleDB
-- (TSL): one 1-day chunk per day; a compressed chunk counts its compressed size, and the
-- compression ratio is before / after over the compressed chunks.
CREATE FUNCTION analytics_storage_report() RETURNS jsonb
LANGUAGE sql STABLE AS $$
  WITH stats AS (
    SELECT s.chunk_schema, s.chunk_name, s.compression_status,
           s.before_compression_total_bytes AS before_bytes, s.after_compression_total_bytes AS after_bytes
    FROM chunk_compression_stats('analytics_events_ts') s
  ), days AS (
    SELECT c.range_start,
           coalesce(CASE WHEN s.compression_status = 'Compressed' THEN s.after_bytes END,
                    pg_total_relation_size(format('%I.%I', c.chunk_schema, c.chunk_name)::regclass)) AS bytes,
           coalesce(s.compression_status = 'Compressed', false) AS compressed
    FROM timescaledb_information.chunks c
    LEFT JOIN stats s ON s.chunk_schema = c.chunk_schema AND s.chunk_name = c.chunk_name
    WHERE c.hypertable_name = 'analytics_events_ts' AND c.range_start <= now()
  )
  SELECT jsonb_build_object(
    'database_bytes', pg_database_size(current_database()),
    'compression', (
      SELECT jsonb_build_object('chunks', count(*), 'before_bytes', coalesce(sum(before_bytes), 0),
                                'after_bytes', coalesce(sum(after_bytes), 0))
      FROM stats WHERE compression_status = 'Compressed'),
    'days', coalesce((
      SELECT jsonb_agg(jsonb_build_object('day', to_char(range_start AT TIME ZONE 'UTC', 'YYYY-MM-DD'),
                                          'bytes', bytes, 'compressed', compressed) ORDER BY range_start)
      FROM days), '[]'::jsonb))
$$;
