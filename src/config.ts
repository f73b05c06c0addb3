import * as z from "./zod";
import { logEvent } from "./log";
import { TIER_REQUESTS } from "./storage/tier";

const POSTGRES_URL = /^postgres(ql)?:\/\//;

/** The two paths to PostgreSQL (`DB_DRIVER`; see src/storage/clients.ts). */
export const DB_DRIVERS = ["neon-http", "hyperdrive"] as const;

/** A comma-separated list in one variable: "a, b,c" → ["a", "b", "c"]. */
const commaList = z
  .string()
  .transform((value) => value.split(",").map((item) => item.trim()).filter((item) => item.length > 0));

const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);
const nonNegativeInt = (fallback: number) => z.coerce.number().int().min(0).default(fallback);

/** Shortest READ_TOKEN accepted: a bearer secret must not be guessable. */
export const READ_TOKEN_MIN_LENGTH = 16;

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
  /**
   * Which way the Worker reaches PostgreSQL: `neon-http` (Neon's serverless driver, SQL over
   * HTTPS; needs DATABASE_URL) or `hyperdrive` (node-postgres over the `HYPERDRIVE` binding, for
   * any PostgreSQL: Timescale Cloud, self-hosted, Supabase, RDS). See the README's deployment
   * section.
   * @default "neon-http"
   */
  DB_DRIVER: z.enum(DB_DRIVERS).default("neon-http"),
  /**
   * PostgreSQL connection string used by the Neon serverless driver (a secret). Required when
   * DB_DRIVER is `neon-http`; with `hyperdrive` the binding holds the connection instead.
   */
  DATABASE_URL: z.string().regex(POSTGRES_URL, "must start with postgres:// or postgresql://").optional(),
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
  ANALYTICS_DB_TIER: z.enum(TIER_REQUESTS).default("auto"),
  /**
   * Accepted write keys, comma-separated (a secret). Empty or unset: ingestion answers `503
   * service_misconfigured` (retryable, so trackers keep their events) and /health names it.
   */
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
  /**
   * Bearer token for the read API (a secret), at least READ_TOKEN_MIN_LENGTH characters. Unset or
   * empty: the read API answers `401 read_api_disabled`. Set but too short: only the read API
   * answers `503 service_misconfigured` naming it (see featureProblems); ingestion keeps working.
   */
  READ_TOKEN: z
    .string()
    .optional()
    .transform((value) => (value === "" ? undefined : value)),
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
   * Bytes of buffered batch JSON above which ingestion answers 503 `buffer_full`, besides
   * BUFFER_MAX_ENTRIES: an entry holds up to 512 KiB, so a count alone does not bound memory.
   * 256 MiB fits a small Redis plan and holds ~400,000 events of ~600 B (about 11 hours of a
   * PostgreSQL outage at 10 events/s); raise it to what your Redis can hold.
   * @default 268435456 (256 MiB)
   */
  BUFFER_MAX_BYTES: positiveInt(256 * 1024 * 1024),
  /**
   * Batches one client (its `CF-Connecting-IP`, else the batch's first session id) may send per
   * minute before it gets 429; other clients are unaffected. 0 turns the per-client limit off.
   * @default 600
   */
  RATE_LIMIT_PER_CLIENT_PER_MINUTE: nonNegativeInt(600),
  /**
   * Ceiling per write key: batches carrying at least one new event, per minute, across all
   * clients (all-duplicate batches do not count). Far above the per-client limit: it caps total
   * volume, not one client. 0 turns it off.
   * @default 60000
   */
  RATE_LIMIT_PER_MINUTE: nonNegativeInt(60_000),
  /**
   * Distinct event names counted by name per UTC hour in Redis; events with further names are
   * counted under the overflow bucket (`other` in /realtime). Bounds the counter hashes.
   * @default 500
   */
  REDIS_MAX_EVENT_NAMES_PER_HOUR: positiveInt(500),
  /**
   * Distinct categories counted by name per UTC hour in Redis; the rest go to the overflow bucket.
   * @default 100
   */
  REDIS_MAX_CATEGORIES_PER_HOUR: positiveInt(100),
  /**
   * Members kept in the active-sessions set (the most recently seen win): bounds it when a client
   * invents a session id per event.
   * @default 50000
   */
  REDIS_MAX_ACTIVE_SESSIONS: positiveInt(50_000),
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
}).superRefine((config, context) => {
  // The path's own setting is required; the other path's may be absent. Messages name the
  // variable, never a value (a connection string carries a password).
  if (config.DB_DRIVER === "neon-http" && config.DATABASE_URL === undefined) {
    context.addIssue({ code: "custom", path: ["DATABASE_URL"], message: "required (DB_DRIVER is neon-http)" });
  }
});

export type Config = z.output<typeof ConfigSchema> & {
  /** Variables that disable one feature, not the whole Worker (see featureProblems). */
  problems: readonly FeatureProblem[];
  /** The `HYPERDRIVE` binding when DB_DRIVER is `hyperdrive` (a binding, not a variable). */
  hyperdrive?: HyperdriveBinding;
};

/** What the Worker uses of a Hyperdrive binding. */
export interface HyperdriveBinding {
  readonly connectionString: string;
}

/** The `[[hyperdrive]]` binding DB_DRIVER=hyperdrive needs, or a problem naming it (never its value). */
function hyperdriveBinding(env: object): HyperdriveBinding | string {
  const binding = (env as { HYPERDRIVE?: { connectionString?: unknown } }).HYPERDRIVE;
  if (binding === undefined) return "HYPERDRIVE: required (DB_DRIVER is hyperdrive): add a [[hyperdrive]] binding named HYPERDRIVE to wrangler.toml";
  if (typeof binding?.connectionString !== "string") return "HYPERDRIVE: must be a Hyperdrive binding ([[hyperdrive]] in wrangler.toml), not a variable";
  return binding as HyperdriveBinding;
}

/** A variable that turns one feature off until it is fixed. Never carries the variable's value. */
export interface FeatureProblem {
  variable: "WRITE_KEYS" | "READ_TOKEN";
  feature: "ingest" | "read";
  /** Starts with the variable's name, says what is wrong and what answers meanwhile. */
  message: string;
}

/**
 * Checks of variables that only one feature needs. Such a mistake must not take the rest down
 * (a bad read token must not stop ingestion): the feature answers `503 service_misconfigured`
 * naming the variable, /health lists it, and everything else keeps working.
 */
export function featureProblems(config: z.output<typeof ConfigSchema>): FeatureProblem[] {
  const problems: FeatureProblem[] = [];
  if (config.WRITE_KEYS.length === 0) {
    problems.push({
      variable: "WRITE_KEYS",
      feature: "ingest",
      message: "WRITE_KEYS: no write key is configured; ingestion answers 503 service_misconfigured until one is set",
    });
  }
  if (config.READ_TOKEN !== undefined && config.READ_TOKEN.length < READ_TOKEN_MIN_LENGTH) {
    problems.push({
      variable: "READ_TOKEN",
      feature: "read",
      message: `READ_TOKEN: must be at least ${READ_TOKEN_MIN_LENGTH} characters; the read API answers 503 service_misconfigured until it is fixed`,
    });
  }
  return problems;
}

/** The problem disabling `feature`, if any. */
export function problemFor(config: Config, feature: FeatureProblem["feature"]): FeatureProblem | undefined {
  return config.problems.find((problem) => problem.feature === feature);
}

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
  const problems = parsed.success
    ? []
    : parsed.error.issues.map((issue) => {
        const name = issue.path.join(".") || "(env)";
        const missing = issue.code === "invalid_type" && issue.input === undefined;
        return `${name}: ${missing ? "required" : issue.message}`;
      });
  const hyperdrive = parsed.data?.DB_DRIVER === "hyperdrive" ? hyperdriveBinding(env) : undefined;
  if (typeof hyperdrive === "string") problems.push(hyperdrive);
  if (!parsed.success || typeof hyperdrive === "string") throw new ConfigError(problems);
  const config: Config = { ...parsed.data, problems: featureProblems(parsed.data), ...(hyperdrive ? { hyperdrive } : {}) };
  // Logged once per env (per isolate and deployment): the start-up warning in Workers Logs.
  for (const problem of config.problems) logEvent("warn", "config_problem", { variable: problem.variable, message: problem.message });
  cache.set(env, config);
  return config;
}
