import { loadConfig, type Config } from "./config";
import type { Redis } from "@upstash/redis/cloudflare";
import { createRedisClient, createSqlClient, type Sql } from "./storage/clients";
import { PostgresStore, type EventStore } from "./storage/postgres-store";
import { RedisIngestStore, type IngestRedis } from "./storage/redis-store";
import type { Tier } from "./storage/tier";

/** Everything a request handler may use, built once per `env` from the configuration. */
export interface Services {
  config: Config;
  /** The raw clients, for adapters that build on them (one instance of each per env). */
  clients: { redis: Redis; sql: Sql };
  ingestRedis: IngestRedis;
  events: EventStore;
  probes: {
    /** Resolves when Redis answers a PING. */
    redis(): Promise<unknown>;
    /** Resolves to the storage tier when PostgreSQL answers. */
    postgres(): Promise<Tier>;
  };
}

const cache = new WeakMap<object, Services>();

/** The production wiring: real Upstash and Neon clients (pointed at the bridges locally). */
export function createServices(env: Env): Services {
  const cached = cache.get(env);
  if (cached) return cached;
  const config = loadConfig(env);
  const redis = createRedisClient(config);
  const sql = createSqlClient(config);
  const postgres = new PostgresStore(sql);
  const services: Services = {
    config,
    clients: { redis, sql },
    ingestRedis: new RedisIngestStore(redis, config.REDIS_KEY_PREFIX),
    events: postgres,
    probes: {
      redis: () => redis.ping(),
      postgres: async () => {
        const recorded = await postgres.readTier();
        return config.ANALYTICS_DB_TIER === "auto" ? recorded : config.ANALYTICS_DB_TIER;
      },
    },
  };
  cache.set(env, services);
  return services;
}
