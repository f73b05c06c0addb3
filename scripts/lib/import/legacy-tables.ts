/**
 * The legacy PostgreSQL tables (`npm run import -- legacy-tables`, `npm run compare`):
 * `analytics_events` (hourly counts) and `analytics_asset_popularity` (daily asset metrics), read
 * from LEGACY_DATABASE_URL with the default column names below or those of a `--map` file.
 */
import pg from "pg";
import {
  importLegacyAssetPopularity,
  importLegacyHourly,
  type LegacyAssetRow,
  type LegacyHourlyRow,
} from "../../../src/storage/sql-import";

/** Default names of the legacy tables and their columns. */
export const DEFAULT_LEGACY_MAP = {
  analytics_events: {
    table: "analytics_events",
    hour: "hour",
    event_name: "event_name",
    category: "category",
    event_count: "event_count",
    unique_users: "unique_users",
  },
  analytics_asset_popularity: {
    table: "analytics_asset_popularity",
    date: "date",
    asset_type: "asset_type",
    generation_count: "generation_count",
    unique_creators: "unique_creators",
  },
};
export type LegacyMap = typeof DEFAULT_LEGACY_MAP;

/** Merges a `--map` file's `{ analytics_events: {...}, analytics_asset_popularity: {...} }` over the defaults. */
export function legacyMap(overrides: unknown): LegacyMap {
  const map = structuredClone(DEFAULT_LEGACY_MAP);
  if (overrides === undefined) return map;
  if (typeof overrides !== "object" || overrides === null) throw new Error("--map: expected a JSON object");
  for (const [table, fields] of Object.entries(overrides)) {
    const target = (map as Record<string, Record<string, string>>)[table];
    if (!target) throw new Error(`--map: unknown legacy table "${table}" (known: ${Object.keys(map).join(", ")})`);
    for (const [field, name] of Object.entries(fields as Record<string, unknown>)) {
      if (!(field in target)) throw new Error(`--map: ${table} has no field "${field}" (known: ${Object.keys(target).join(", ")})`);
      if (typeof name !== "string" || name === "") throw new Error(`--map: ${table}.${field} must be a column name`);
      target[field] = name;
    }
  }
  return map;
}

const ident = (name: string) => name.split(".").map((part) => pg.Client.prototype.escapeIdentifier(part)).join(".");

/** Throws, naming the object, when a legacy table or one of its mapped columns is missing. */
async function checkTable(client: pg.Client, spec: Record<string, string>): Promise<void> {
  const { rows } = await client.query<{ oid: string | null }>(`SELECT to_regclass($1)::oid::text AS oid`, [spec.table]);
  if (!rows[0]?.oid) throw new Error(`legacy table ${spec.table} not found in LEGACY_DATABASE_URL (name another one with --map); nothing was imported`);
  const cols = await client.query<{ attname: string }>(`SELECT attname FROM pg_attribute WHERE attrelid = $1::oid AND attnum > 0 AND NOT attisdropped`, [rows[0].oid]);
  const have = new Set(cols.rows.map((r) => r.attname));
  for (const [field, column] of Object.entries(spec)) {
    if (field !== "table" && !have.has(column)) {
      throw new Error(`legacy table ${spec.table} has no column "${column}" (for ${field}; rename with --map); nothing was imported`);
    }
  }
}

/** Legacy hourly rows of [from, to): `{ bucket, event_name, category, event_count, unique_users }`. */
export async function readLegacyHourly(client: pg.Client, map: LegacyMap, from: Date | null, to: Date | null): Promise<LegacyHourlyRow[]> {
  const m = map.analytics_events;
  await checkTable(client, m);
  const { rows } = await client.query<LegacyHourlyRow>(
    `SELECT to_char(${ident(m.hour)}::timestamptz AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS bucket,
       ${ident(m.event_name)}::text AS event_name, ${ident(m.category)}::text AS category,
       ${ident(m.event_count)}::float8 AS event_count, coalesce(${ident(m.unique_users)}, 0)::float8 AS unique_users
     FROM ${ident(m.table)}
     WHERE ($1::timestamptz IS NULL OR ${ident(m.hour)} >= $1) AND ($2::timestamptz IS NULL OR ${ident(m.hour)} < $2)
     ORDER BY 1, 2, 3`,
    [from, to],
  );
  return rows;
}

/** Legacy daily asset rows of [from, to): `{ bucket, asset_type, generation_count, unique_creators }`. */
export async function readLegacyAssets(client: pg.Client, map: LegacyMap, from: Date | null, to: Date | null): Promise<LegacyAssetRow[]> {
  const m = map.analytics_asset_popularity;
  await checkTable(client, m);
  const { rows } = await client.query<LegacyAssetRow>(
    `SELECT to_char(${ident(m.date)}::date, 'YYYY-MM-DD"T00:00:00Z"') AS bucket, ${ident(m.asset_type)}::text AS asset_type,
       ${ident(m.generation_count)}::float8 AS generation_count, coalesce(${ident(m.unique_creators)}, 0)::float8 AS unique_creators
     FROM ${ident(m.table)}
     WHERE ($1::timestamptz IS NULL OR ${ident(m.date)} >= $1::timestamptz::date) AND ($2::timestamptz IS NULL OR ${ident(m.date)} < $2::timestamptz::date)
     ORDER BY 1, 2`,
    [from, to],
  );
  return rows;
}

export interface LegacyTablesSummary {
  hourly: { read: number; stored: number; covered: number };
  asset_popularity: { read: number; stored: number; covered: number };
}

/** Rows per statement: one JSON parameter each. */
const PAGE_ROWS = 10_000;

/**
 * Imports both legacy tables into the imported-aggregate tables of `databaseUrl`, for the periods
 * with no raw events or rollups there, in ONE transaction: both tables and their columns are
 * checked before anything is written, and a failure leaves nothing behind.
 */
export async function importLegacyTables(options: {
  legacyUrl: string;
  databaseUrl: string;
  map?: LegacyMap;
  from?: Date | null;
  to?: Date | null;
}): Promise<LegacyTablesSummary> {
  const map = options.map ?? DEFAULT_LEGACY_MAP;
  const legacy = new pg.Client(options.legacyUrl);
  const target = new pg.Client(options.databaseUrl);
  await legacy.connect();
  try {
    const hourly = await readLegacyHourly(legacy, map, options.from ?? null, options.to ?? null);
    const assets = await readLegacyAssets(legacy, map, options.from ?? null, options.to ?? null);
    const summary: LegacyTablesSummary = {
      hourly: { read: hourly.length, stored: 0, covered: 0 },
      asset_popularity: { read: assets.length, stored: 0, covered: 0 },
    };
    await target.connect();
    await target.query("BEGIN");
    try {
      for (let i = 0; i < hourly.length; i += PAGE_ROWS) {
        const s = importLegacyHourly(hourly.slice(i, i + PAGE_ROWS), `legacy:${map.analytics_events.table}`);
        const [r] = (await target.query<{ stored: number; covered: number }>(s.text, [...s.values])).rows;
        summary.hourly.stored += r!.stored;
        summary.hourly.covered += r!.covered;
      }
      for (let i = 0; i < assets.length; i += PAGE_ROWS) {
        const s = importLegacyAssetPopularity(assets.slice(i, i + PAGE_ROWS), `legacy:${map.analytics_asset_popularity.table}`);
        const [r] = (await target.query<{ stored: number; covered: number }>(s.text, [...s.values])).rows;
        summary.asset_popularity.stored += r!.stored;
        summary.asset_popularity.covered += r!.covered;
      }
      await target.query("COMMIT");
    } catch (error) {
      await target.query("ROLLBACK").catch(() => undefined);
      throw error;
    }
    return summary;
  } finally {
    await legacy.end().catch(() => undefined);
    await target.end().catch(() => undefined);
  }
}
