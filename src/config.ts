import { z } from "zod";

// Workers forbid `new Function` at request time; zod 4's JIT object parser uses it.
z.config({ jitless: true });

const TIERS = ["auto", "timescale", "timescale-apache", "postgres"] as const;
const POSTGRES_URL = /^postgres(ql)?:\/\//;

/** A comma-separated list in one variable: "a, b,c" → ["a", "b", "c"]. */
const commaList = z
  .string()
  .transform((value) => value.split(",").map((item) => item.trim()).filter((item) => item.length > 0));

const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);

const booleanFlag = (fallback: boolean) =>
  z
    .enum(["true", "false", "1", "0"])
    .default(fallback ? "true" : "false")
    .transform((value) => value === "true" || value === "1");

/**
 * Every variable the Worker reads from `env`. Secrets (`UPSTASH_REDIS_REST_TOKEN`,
 * `DATABASE_URL`, `WRITE_KEYS`, `READ_TOKEN`) come from `wrangler secret put` in production and
 * `.dev.vars` locally; the rest may live in `[vars]` in wrangler.toml.
 */
export const ConfigSchema = z.object({
  /** Upstash REST endpoint (locally: the Upstash bridge started by `npm run dev`). */
  UPSTASH_REDIS_REST_URL: z.url({ protocol: /^https?$/ }),
  /** Upstash REST token (a secret). */
  UPSTASH_REDIS_REST_TOKEN: z.string().min(1),
  /** PostgreSQL connection string used by the Neon serverless driver (a secret). */
  DATABASE_URL: z.string().regex(POSTGRES_URL, "must start with postgres:// or postgresql://"),
  /**
   * Where the Neon driver sends SQL over HTTP. Only for the local Neon bridge; unset in
   * production, where the driver derives the endpoint from DATABASE_URL's host.
   */
  NEON_FETCH_ENDPOINT: z.url({ protocol: /^https?$/ }).optional(),
  /**
   * `direct`: insert each batch into PostgreSQL right after the response (ctx.waitUntil).
   * `buffered`: leave every batch in the Redis buffer for the minute drain (one subrequest per
   * request, far larger inserts).
   * @default "direct"
   */
  INGEST_MODE: z.enum(["direct", "buffered"]).default("direct"),
  /**
   * Force a storage tier instead of reading the one recorded by the migrations.
   * @default "auto"
   */
  ANALYTICS_DB_TIER: z.enum(TIERS).default("auto"),
  /** Accepted write keys, comma-separated (a secret). Empty: ingestion answers 401. */
  WRITE_KEYS: commaList.default([]),
  /**
   * Origins allowed to post from a browser, comma-separated; `*` allows any.
   * @default "*"
   */
  ALLOWED_ORIGINS: commaList.default(["*"]),
  /**
   * Server keys for `POST /api/v1/import` (historical events), comma-separated (a secret).
   * Separate from WRITE_KEYS; never accepted from a browser origin.
   * @default "" (the import endpoint answers 401)
   */
  IMPORT_KEYS: commaList.default([]),
  /** Bearer token for the read API (a secret). Unset: the read API answers 401. */
  READ_TOKEN: z.string().min(16, "must be at least 16 characters").optional(),
  /**
   * Prefix of every Redis key, so several deployments (or test runs) can share one database.
   * @default "ea:"
   */
  REDIS_KEY_PREFIX: z.string().min(1).default("ea:"),
  /**
   * How long one Redis request may take before the ingest path falls back to PostgreSQL.
   * @default 1500
   */
  REDIS_TIMEOUT_MS: positiveInt(1500),
  /**
   * How long Redis remembers an accepted event id, so a resend within that window is answered as
   * a duplicate and neither counted nor buffered again. Memory: ~100 B per event id, e.g. ~20 MB at
   * 200k events/hour. Beyond the window PostgreSQL still stores each event once.
   * @default 3600
   */
  REDIS_DEDUPE_SECONDS: positiveInt(3600),
  /**
   * Buffer entries (batches) above which ingestion answers 503 instead of growing the buffer.
   * @default 200000
   */
  BUFFER_MAX_ENTRIES: positiveInt(200_000),
  /**
   * Batches one write key may send per minute before 429.
   * @default 6000
   */
  RATE_LIMIT_PER_MINUTE: positiveInt(6_000),
  /**
   * Strip query strings from page URLs and referrers, keeping only KEEP_QUERY_PARAMS.
   * @default true
   */
  SCRUB_QUERY_STRINGS: booleanFlag(true),
  /**
   * Query parameters kept when scrubbing; a trailing `*` matches a prefix.
   * @default "utm_*,ref"
   */
  KEEP_QUERY_PARAMS: commaList.default(["utm_*", "ref"]),
});

export type Config = z.output<typeof ConfigSchema>;

/** Thrown when `env` does not hold a usable configuration; the message names every bad variable. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
  constructor(readonly problems: string[]) {
    super(`Invalid configuration: ${problems.join("; ")}`);
  }
}

const cache = new WeakMap<object, Config>();

/**
 * Reads and validates the configuration once per `env` object.
 *
 * @example
 * const config = loadConfig(env); // throws ConfigError naming e.g. "DATABASE_URL: required"
 */
export function loadConfig(env: object): Config {
  const cached = cache.get(env);
  if (cached) return cached;
  const parsed = ConfigSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const name = issue.path.join(".") || "(env)";
      const missing = issue.code === "invalid_type" && issue.input === undefined;
      return `${name}: ${missing ? "required" : issue.message}`;
    });
    throw new ConfigError(problems);
  }
  cache.set(env, parsed.data);
  return parsed.data;
}
