import { neon, neonConfig, type NeonQueryFunction } from "@neondatabase/serverless";
import { Redis } from "@upstash/redis/cloudflare";
import type { Config } from "../config";

/** The SQL function every PostgreSQL adapter takes: the Neon HTTP driver, one request per query. */
export type Sql = NeonQueryFunction<false, false>;

/**
 * The real Upstash client. Each request is bounded by REDIS_TIMEOUT_MS and retried at most once:
 * the ingest path would rather fall back to PostgreSQL than wait out the client's default five
 * retries (about 4 s).
 */
export function createRedisClient(config: Config): Redis {
  return new Redis({
    url: config.UPSTASH_REDIS_REST_URL,
    token: config.UPSTASH_REDIS_REST_TOKEN,
    enableTelemetry: false,
    retry: { retries: 1, backoff: () => 50 },
    signal: () => AbortSignal.timeout(config.REDIS_TIMEOUT_MS),
  });
}

/** The real Neon serverless driver; NEON_FETCH_ENDPOINT points it at the local bridge. */
export function createSqlClient(config: Config): Sql {
  if (config.NEON_FETCH_ENDPOINT) neonConfig.fetchEndpoint = config.NEON_FETCH_ENDPOINT;
  return neon(config.DATABASE_URL);
}
