import { startEmbeddedTimescale } from "../../scripts/lib/embedded-postgres";
import { migrate } from "../../scripts/lib/migrator";
import type { NeonBackend } from "../../scripts/lib/neon-bridge";
import { createTestDatabase, pgBackend, redact } from "./postgres";

/**
 * Where the tests of the two TimescaleDB tiers run: a real TimescaleDB when its variable is set
 * (an admin connection string; a fresh database is created on it per run and dropped after),
 * else the embedded TimescaleDB (PGlite, TSL), the Apache tier then forced onto its code path.
 */
export type TimescaleTier = "timescale" | "timescale-apache";

export const TIMESCALE_URL_VARIABLE: Record<TimescaleTier, string> = {
  timescale: "TEST_TIMESCALE_URL",
  "timescale-apache": "TEST_TIMESCALE_APACHE_URL",
};

export interface TimescaleTarget {
  tier: TimescaleTier;
  /** A fresh, empty database (not migrated): a pg/psql connection string. */
  url: string;
  /** "TEST_TIMESCALE_URL (postgresql://…)" or "embedded". */
  source: string;
  /** The database name the Neon bridge serves it under, and how it reaches it. */
  name: string;
  backend: NeonBackend;
  close(): Promise<void>;
}

/**
 * Opens the tier's server. `alias` names the embedded database for the Neon bridge (a real server
 * is reached under its own database name).
 */
export async function openTimescale(
  tier: TimescaleTier,
  alias: string,
  env: Record<string, string | undefined> = process.env,
): Promise<TimescaleTarget> {
  const variable = TIMESCALE_URL_VARIABLE[tier];
  const admin = env[variable];
  if (admin) {
    const database = await createTestDatabase(`eaw_${tier.replace("-", "_")}`, admin).catch((error: Error) => {
      throw new Error(`${variable} (${redact(admin)}): ${error.message}`);
    });
    return {
      tier,
      url: database.url,
      source: `${variable} (${redact(admin)})`,
      name: database.name,
      backend: pgBackend(database.url),
      close: () => database.drop(),
    };
  }
  const embedded = await startEmbeddedTimescale();
  return {
    tier,
    url: embedded.socketUrl,
    source: "embedded",
    name: alias,
    backend: { kind: "pglite", db: embedded.db, login: { ...embedded.login, database: alias } },
    close: () => embedded.close(),
  };
}

/**
 * Applies the migrations for the target's tier: `timescale` detected (a server without the TSL
 * license is refused), `timescale-apache` forced (what Neon and Supabase get, on either edition).
 * A failure names the variable that chose the server.
 */
export async function migrateTimescale(target: TimescaleTarget): Promise<void> {
  try {
    const { tier } = await migrate({ databaseUrl: target.url, tier: target.tier === "timescale" ? "auto" : "timescale-apache" });
    if (tier !== target.tier) throw new Error(`the migrations detected tier ${tier}, not ${target.tier}`);
  } catch (error) {
    throw new Error(`${target.source}: ${(error as Error).message}`);
  }
}
