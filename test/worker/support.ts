import { env } from "cloudflare:test";
import { inject } from "vitest";
import { neonHttpSql, type Sql } from "../../src/storage/clients";
import { Redis } from "@upstash/redis/cloudflare";

/** A Redis client of the local stack (through the Upstash bridge), for arranging and checking state. */
export function testRedis(): Redis {
  return new Redis({ url: env.UPSTASH_REDIS_REST_URL, token: env.UPSTASH_REDIS_REST_TOKEN, enableTelemetry: false });
}

/** A SQL client of the local stack (through the Neon bridge): the Worker's database, or `url`'s. */
export function testSql(url: string = env.DATABASE_URL): Sql {
  return neonHttpSql(url, env.NEON_FETCH_ENDPOINT);
}

/**
 * Stops or starts a server of the local stack (the control server of global-setup.ts). On the
 * Hyperdrive path, stopping PostgreSQL cuts the Worker's TCP connections (the relays) and leaves
 * the Neon bridge that the tests' own statements use.
 */
export async function control(
  action: "redis/stop" | "redis/start" | "postgres/stop" | "postgres/start" | "crashable/start" | "crashable/kill",
): Promise<void> {
  const route = env.DB_DRIVER === "hyperdrive" ? action.replace(/^postgres\//, "postgres-tcp/") : action;
  const response = await fetch(`${env.TEST_CONTROL_URL}/${route}`, { method: "POST" });
  if (!response.ok) throw new Error(`control ${action} failed: ${response.status} ${await response.text()}`);
}

export interface BridgeStats {
  redis: { requests: number; commands: number; errors: number };
  /** The Neon bridge's counts, or on the Hyperdrive path the relays' (no `errors` there). */
  postgres: { requests: number; statements: number; errors?: number } | null;
}

/**
 * Round trips counted at the bridges since the last reset; PostgreSQL's on the path this project
 * runs (the Neon bridge, or the relays in front of the Hyperdrive bindings' servers).
 */
export async function bridgeStats(): Promise<BridgeStats> {
  const response = await fetch(`${env.TEST_CONTROL_URL}/stats`);
  const stats = (await response.json()) as BridgeStats & { postgresTcp: BridgeStats["postgres"] };
  return { redis: stats.redis, postgres: env.DB_DRIVER === "hyperdrive" ? stats.postgresTcp : stats.postgres };
}

type TierName = "postgres" | "timescale" | "timescale-apache";

/** The Hyperdrive binding of each tier's database in the workerd-hyperdrive project. */
const HYPERDRIVE_OF_TIER = { postgres: "HYPERDRIVE", timescale: "HYPERDRIVE_TIMESCALE", "timescale-apache": "HYPERDRIVE_TIMESCALE_APACHE" } as const;

/** The Worker's env pointed at one tier's database, on this project's path, with `overrides`. */
export function tierEnv(tier: TierName, overrides: Record<string, unknown> = {}): Env {
  const hyperdrive = (env as unknown as Record<string, unknown>)[HYPERDRIVE_OF_TIER[tier]];
  return { ...env, DATABASE_URL: inject("stack").databaseUrls[tier], ...(hyperdrive ? { HYPERDRIVE: hyperdrive } : {}), ...overrides } as Env;
}

export async function resetBridgeStats(): Promise<void> {
  await fetch(`${env.TEST_CONTROL_URL}/stats/reset`, { method: "POST" });
}
