-- GET /api/v1/analytics/checks reads the reconciliation rows of a range of hours
-- (WHERE hour >= $1 AND hour < $2 ORDER BY hour, scope). Without this index it scans the whole
-- table, which holds up to 72 × (event names + 1) rows per hourly run for 90 days.
CREATE INDEX analytics_checks_hour_idx ON analytics_checks (hour, scope);
