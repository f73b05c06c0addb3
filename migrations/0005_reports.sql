-- Report functions, the same in every tier (they read the rollups, which have the same columns in
-- every tier).

-- Most popular asset types over the day buckets that meet [p_from, p_to), from the daily rollup
-- (so it reaches back as far as analytics_asset_popularity_ts is kept, 5 years by default).
-- generation_count is exact. unique_creators is the sum of each day's exact distinct creators:
-- exact for a one-day range; over several days a creator active on k days counts k times (distinct
-- counts cannot be merged across days without the raw rows, which are gone after 90 days).
-- Ordered by generation_count, then asset_type. The legacy get_popular_asset_types() is untouched.
CREATE FUNCTION get_popular_asset_types_ts(p_from timestamptz, p_to timestamptz, p_limit integer DEFAULT 10)
RETURNS TABLE (asset_type text, generation_count bigint, unique_creators bigint)
LANGUAGE sql STABLE AS $$
  SELECT a.asset_type, sum(a.generation_count)::bigint, sum(a.unique_creators)::bigint
  FROM analytics_asset_popularity_ts a
  WHERE a.bucket > p_from - INTERVAL '1 day' AND a.bucket < p_to
  GROUP BY a.asset_type
  ORDER BY 2 DESC, 1
  LIMIT p_limit
$$;
