import { loadConfig, type Config } from "./config";
import { JOB_NAMES } from "./cron/triggers";
import { RedisBufferStore, type BufferStats } from "./storage/buffer-store";
import { createRedisClient, createSqlClient } from "./storage/clients";
import { PostgresCronStore, readHealthStatus, type HealthStatus } from "./storage/cron-store";
import { MigrationReadStore, RedisMigrationStore } from "./storage/migration-store";
import { PostgresImportStore } from "./storage/import-store";
import { PostgresStore, type EventStore } from "./storage/postgres-store";
import { RedisIngestStore, type IngestRedis } from "./storage/redis-store";
import { recordedTier, type Tier } from "./storage/tier";
import { METRICS } from "./metrics/latency";
import { measuredIngestRedis, measuredSql } from "./metrics/piggyback";
import type { ReadStores } from "./read/endpoint";
import { RedisRealtimeStore } from "./read/realtime";
import { ReadDatabase } from "./read/sql";

/**
 * The composition root: every store a route, a cron job or /health uses, built once per `env`
 * from the configuration. Nothing else constructs an adapter.
 */
export interface Services {
  config: Config;
  ingestRedis: IngestRedis;
  events: EventStore;
  /** The import route's store. */
  imports: PostgresImportStore;
  /** The read API's stores. */
  read: ReadStores;
  /** The migration-health API's stores. */
  migration: { postgres: MigrationReadStore; redis: RedisMigrationStore };
  /** The cron jobs' stores; `store(tier)` is built once per tier. */
  cron: { buffer: RedisBufferStore; runs: PostgresCronStore; store(tier: Tier): PostgresCronStore; readTier(): Promise<Tier> };
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
  // request path's own insert is timed as postgres_insert, the drain's (`sql`) as drain_insert.
  const baseSql = createSqlClient(config);
  const sql = measuredSql(baseSql, METRICS.drainInsert);
  const postgres = new PostgresStore(measuredSql(baseSql, METRICS.postgresInsert));
  const buffer = new RedisBufferStore(redis, config.REDIS_KEY_PREFIX);
  const cronStores = new Map<Tier, PostgresCronStore>();
  const cronStore = (tier: Tier) => {
    let store = cronStores.get(tier);
    if (!store) {
      store = new PostgresCronStore(sql, tier);
      cronStores.set(tier, store);
    }
    return store;
  };
  const services: Services = {
    config,
    ingestRedis: measuredIngestRedis(new RedisIngestStore(redis, config.REDIS_KEY_PREFIX)),
    events: postgres,
    imports: new PostgresImportStore(sql),
    read: { postgres: new ReadDatabase(sql), realtime: new RedisRealtimeStore(redis, config.REDIS_KEY_PREFIX) },
    migration: { postgres: new MigrationReadStore(sql), redis: new RedisMigrationStore(redis, config.REDIS_KEY_PREFIX) },
    cron: {
      buffer,
      // Run bookkeeping is the same in every tier.
      runs: cronStore("postgres"),
      store: cronStore,
      readTier: () => new PostgresStore(sql).readTier(),
    },
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
