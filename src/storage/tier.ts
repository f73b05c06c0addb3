/**
 * Storage tiers (docs/ARCHITECTURE.md §4): what the database offers decides how raw events, rollups,
 * retention and compression are stored. The relations that queries read are the same in every tier.
 */
export const TIERS = ["timescale", "timescale-apache", "postgres"] as const;

/** `timescale`: TimescaleDB with the TSL license; `timescale-apache`: Apache edition (Neon, Supabase); `postgres`: no TimescaleDB. */
export type Tier = (typeof TIERS)[number];

/** What `ANALYTICS_DB_TIER` may ask for: a tier, or `auto` to detect it. */
export const TIER_REQUESTS = ["auto", ...TIERS] as const;
export type TierRequest = (typeof TIER_REQUESTS)[number];

export function isTier(value: unknown): value is Tier {
  return typeof value === "string" && (TIERS as readonly string[]).includes(value);
}

/** The database has no recorded tier: the migrations never ran on it. */
export class DatabaseNotMigrated extends Error {
  override readonly name = "DatabaseNotMigrated";
  constructor() {
    super("database not migrated: run `npm run migrate` (no tier recorded)");
  }
}

/** The tier `analytics_meta` recorded; throws DatabaseNotMigrated when there is none. */
export function recordedTier(value: unknown): Tier {
  if (!isTier(value)) throw new DatabaseNotMigrated();
  return value;
}

/**
 * Parses `ANALYTICS_DB_TIER`. Unset or empty means `auto`.
 * @example parseTierRequest("timescale-apache") // "timescale-apache"
 */
export function parseTierRequest(value: string | undefined): TierRequest {
  const v = (value ?? "").trim();
  if (v === "" || v === "auto") return "auto";
  if (isTier(v)) return v;
  throw new Error(`ANALYTICS_DB_TIER must be one of auto, ${TIERS.join(", ")}; got ${JSON.stringify(v)}`);
}

/** What a server reports: `pg_extension.extversion` of timescaledb and `timescaledb.license`. */
export interface TierProbe {
  timescaledb_version: string | null;
  license: string | null;
}

/**
 * The tier a server offers. The license setting is only readable once TimescaleDB is loaded; an
 * installed extension with any license other than `timescale` gets the Apache code path.
 */
export function tierFromProbe(probe: TierProbe): Tier {
  if (!probe.timescaledb_version) return "postgres";
  return probe.license === "timescale" ? "timescale" : "timescale-apache";
}

const RANK: Record<Tier, number> = { postgres: 0, "timescale-apache": 1, timescale: 2 };

/** Whether a server offering `offered` can host the schema of tier `wanted` (TSL ⊃ Apache ⊃ plain PostgreSQL). */
export function tierFits(wanted: Tier, offered: Tier): boolean {
  return RANK[wanted] <= RANK[offered];
}
