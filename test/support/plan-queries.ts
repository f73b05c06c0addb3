/** SQL only the tests run: the queries of the migration (docs/ARCHITECTURE.md §1), checked against every tier. */
import type { SqlStatement } from "../../src/storage/sql";

/** Most generated asset types over [from, to): rows `{ asset_type, generation_count, unique_creators }`. */
export function popularAssetTypes(from: Date, to: Date, limit: number): SqlStatement {
  return {
    text: `SELECT asset_type, generation_count, unique_creators FROM get_popular_asset_types_ts($1::timestamptz, $2::timestamptz, $3::integer)`,
    values: [from.toISOString(), to.toISOString(), limit],
  };
}

/**
 * The Phase 3 benchmark query of the migration (docs/ARCHITECTURE.md §1), as written: events per name over the last 7 days.
 * Rows `{ event_name, count }` (count is a bigint, returned as a string by most drivers).
 */
export const EVENTS_BY_NAME_LAST_7_DAYS = `SELECT event_name, COUNT(*)
FROM analytics_events_ts
WHERE time > NOW() - INTERVAL '7 days'
GROUP BY event_name`;
