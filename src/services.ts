import { loadConfig, type Config } from "./config";
import type { Redis } from "@upstash/redis/cloudflare";
import { JOB_NAMES } from "./cron/triggers";
import { RedisBufferStore, type BufferStats } from "./storage/buffer-store";
import { createRedisClient, createSqlClient, type Sql } from "./storage/clients";
import { readHealthStatus, type HealthStatus } from "./storage/cron-store";
import { PostgresStore, type EventStore } from "./storage/postgres-store";
import { RedisIngestStore, type IngestRedis } from "./storage/redis-store";
import { recordedTier, type Tier } from "./storage/tier";
import { METRICS } from "./metrics/latency";
import { measuredIngestRedis, measuredSql } from "./metrics/piggyback";

/** Everything a request handler may use, built once per `env` from the configuration. */
export interface Services {
  config: Config;
  /** The raw clients, for adapters that build on them (one instance of each per env). */
  clients: { redis: Redis; sql: Sql };
  ingestRedis: IngestRedis;
  events: EventStore;
  probes: {
    /**
     * Resolves when Redis answers: one pipeline that also reads the buffer (XLEN of the buffer and
     * dead-letter streams, the oldest pending id, the last direct-insert failure).
     */
    redis(): Promise<BufferStats>;
    /**
     * Resolves when PostgreSQL answers: one statement returning the tier plus the cron jobs'
     * status and the latest reconciliation.
     */
    postgres(): Promise<PostgresStatus>;
  };
}

/** What the real PostgreSQL probe reports: the effective tier and the cron status. */
export type PostgresStatus = HealthStatus & { tier: Tier };

const cache = new WeakMap<object, Services>();

/** The production wiring: real Upstash and Neon clients (pointed at the bridges locally). */
export function createServices(env: Env): Services {
  const cached = cache.get(env);
  if (cached) return cached;
  const config = loadConfig(env);
  const redis = createRedisClient(config);
  // Latency measurements ride along with statements sent anyway (src/metrics/piggyback.ts): the
  // request path's own insert is timed as postgres_insert, the drain's (clients.sql) as drain_insert.
  const baseSql = createSqlClient(config);
  const sql = measuredSql(baseSql, METRICS.drainInsert);
  const postgres = new PostgresStore(measuredSql(baseSql, METRICS.postgresInsert));
  const buffer = new RedisBufferStore(redis, config.REDIS_KEY_PREFIX);
  const services: Services = {
    config,
    clients: { redis, sql },
    ingestRedis: measuredIngestRedis(new RedisIngestStore(redis, config.REDIS_KEY_PREFIX)),
    events: postgres,
    probes: {
      redis: () => buffer.stats(),
      postgres: async (): Promise<PostgresStatus> => {
        const status = await readHealthStatus(sql, JOB_NAMES);
        const recorded = recordedTier(status.tier);
        return { ...status, tier: config.ANALYTICS_DB_TIER === "auto" ? recorded : config.ANALYTICS_DB_TIER };
      },
    },
  };
  cache.set(env, services);
  return services;
}
