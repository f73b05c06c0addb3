-- Storage used per day (GET /api/v1/analytics/migration/storage), in one statement. Plain
-- PostgreSQL: one daily partition per day, nothing is compressed.
CREATE FUNCTION analytics_storage_report() RETURNS jsonb
LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_object(
    'database_bytes', pg_database_size(current_database()),
    'compression', NULL,
    'days', coalesce((
      SELECT jsonb_agg(jsonb_build_object(
               'day', to_char(p.day_start AT TIME ZONE 'UTC', 'YYYY-MM-DD'),
               'bytes', pg_total_relation_size(p.partition),
               'compressed', false) ORDER BY p.day_start)
      FROM analytics_event_partitions p
      WHERE p.day_start <= now()), '[]'::jsonb))
$$;
