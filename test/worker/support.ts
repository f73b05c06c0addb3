import { env } from "cloudflare:test";
import { neon, neonConfig } from "@neondatabase/serverless";
import { Redis } from "@upstash/redis/cloudflare";

/** A Redis client of the local stack (through the Upstash bridge), for arranging and checking state. */
export function testRedis(): Redis {
  return new Redis({ url: env.UPSTASH_REDIS_REST_URL, token: env.UPSTASH_REDIS_REST_TOKEN, enableTelemetry: false });
}

/** A SQL client of the local stack (through the Neon bridge): the Worker's database, or `url`'s. */
export function testSql(url: string = env.DATABASE_URL) {
  neonConfig.fetchEndpoint = env.NEON_FETCH_ENDPOINT;
  return neon(url);
}

/** Stops or starts a server of the local stack (the control server of global-setup.ts). */
export async function control(action: "redis/stop" | "redis/start" | "postgres/stop" | "postgres/start"): Promise<void> {
  const response = await fetch(`${env.TEST_CONTROL_URL}/${action}`, { method: "POST" });
  if (!response.ok) throw new Error(`control ${action} failed: ${response.status} ${await response.text()}`);
}

export interface BridgeStats {
  redis: { requests: number; commands: number; errors: number };
  postgres: { requests: number; statements: number; errors: number } | null;
}

/** Round trips counted at the bridges since the last reset. */
export async function bridgeStats(): Promise<BridgeStats> {
  const response = await fetch(`${env.TEST_CONTROL_URL}/stats`);
  return (await response.json()) as BridgeStats;
}

export async function resetBridgeStats(): Promise<void> {
  await fetch(`${env.TEST_CONTROL_URL}/stats/reset`, { method: "POST" });
}
