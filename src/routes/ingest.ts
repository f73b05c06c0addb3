import { Hono, type Context } from "hono";
import { cors } from "hono/cors";
import type { AppEnv } from "../app";
import type { Config } from "../config";
import { planCounters } from "../domain/counter-plan";
import { prepareBatch, type PreparedBatch } from "../domain/ingest-batch";
import { ApiError } from "../errors";
import { readBody } from "../http/read-body";
import { findSecret, hex } from "../http/secrets";
import { errorSummary, logEvent } from "../log";
import { urlScrubFromList } from "../domain/url-scrub";
import type { RecordBatchResult } from "../storage/redis-store";

/** How long a client should wait after a 503 before retrying. */
const UNAVAILABLE_RETRY_AFTER_SECONDS = 10;
/** Backpressure: the buffer is full; the minute drain needs time to empty it. */
const BACKPRESSURE_RETRY_AFTER_SECONDS = 30;

/**
 * The configured write key equal to `candidate` (constant-time, see findSecret), as a short id
 * for rate limiting that does not reveal the key; null when it is not a write key.
 */
async function verifyWriteKey(config: Config, candidate: string): Promise<string | null> {
  const digest = await findSecret(candidate, config.WRITE_KEYS);
  return digest ? hex(digest, 8) : null;
}

function originAllowed(config: Config, origin: string): boolean {
  return config.ALLOWED_ORIGINS.includes("*") || config.ALLOWED_ORIGINS.includes(origin);
}

/** The write key a request carries outside its body: `X-Write-Key`, else `?key=`. */
function keyOutsideBody(c: Context<AppEnv>): string | null {
  return c.req.header("x-write-key") ?? c.req.query("key") ?? null;
}

/** The body's `write_key`/`writeKey` (beacons cannot set headers), read without validation. */
function keyInBody(body: unknown): string | null {
  if (typeof body !== "object" || body === null || Array.isArray(body)) return null;
  const record = body as Record<string, unknown>;
  const key = record.write_key ?? record.writeKey;
  return typeof key === "string" ? key : null;
}

async function requireWriteKey(config: Config, key: string | null): Promise<string> {
  if (!key) throw new ApiError(401, "missing_write_key", "A write key is required: X-Write-Key header, ?key= or write_key in the body.");
  const id = await verifyWriteKey(config, key);
  if (!id) throw new ApiError(401, "invalid_write_key", "The write key is not valid for this endpoint.");
  return id;
}

interface IngestResponse {
  accepted: number;
  duplicates: number;
  rejected: PreparedBatch["rejected"];
}

function respond(c: Context<AppEnv>, prepared: PreparedBatch, accepted: number, duplicates: number) {
  const body: IngestResponse = {
    accepted,
    duplicates: duplicates + prepared.duplicateIndexes.length,
    rejected: prepared.rejected,
  };
  return c.json(body, 202);
}

/**
 * Redis could not take the batch (down or slower than REDIS_TIMEOUT_MS): store it in PostgreSQL
 * before answering, so a 2xx still means durable. The real-time counters miss these events; the
 * hourly reconciliation records the gap and rollups are computed from raw rows.
 */
async function storeWithoutRedis(c: Context<AppEnv>, prepared: PreparedBatch, redisError: unknown) {
  const { events } = c.var.services;
  try {
    const inserted = await events.insertEvents(prepared.rows);
    logEvent("warn", "redis_unavailable_stored_in_postgres", { events: inserted, error: errorSummary(redisError) });
    return respond(c, prepared, inserted, prepared.rows.length - inserted);
  } catch (postgresError) {
    logEvent("error", "stores_unavailable", { redis: errorSummary(redisError), postgres: errorSummary(postgresError) });
    throw new ApiError(503, "storage_unavailable", "Neither the buffer nor the database can take events right now.", {
      retryAfterSeconds: UNAVAILABLE_RETRY_AFTER_SECONDS,
    });
  }
}

function outcomeError(result: Exclude<RecordBatchResult, { status: "ok" | "duplicate" }>): ApiError {
  if (result.status === "rate_limited") {
    return new ApiError(429, "rate_limited", "Too many batches for this write key; retry after the indicated delay.", {
      retryAfterSeconds: result.retryAfterSeconds,
    });
  }
  return new ApiError(503, "buffer_full", "The ingest buffer is full; retry later (nothing from this batch was stored).", {
    retryAfterSeconds: BACKPRESSURE_RETRY_AFTER_SECONDS,
  });
}

/**
 * `POST /api/v1/analytics`: a batch of up to 50 events → `202 { accepted, duplicates, rejected }`.
 * One Redis round trip before the response; in `direct` mode one PostgreSQL statement and one
 * buffer delete after it (ctx.waitUntil).
 */
export const ingest = new Hono<AppEnv>();

// CORS headers go on every answer, errors included: a browser that cannot read a 403 or a 429
// sees a network error and retries instead of dropping or waiting.
ingest.use("/", async (c, next) => {
  const { config } = c.var.services;
  return cors({
    origin: (requestOrigin) => (config.ALLOWED_ORIGINS.includes("*") ? "*" : requestOrigin),
    allowMethods: ["POST", "OPTIONS"],
    allowHeaders: ["Content-Type", "Content-Encoding", "X-Write-Key"],
    exposeHeaders: ["Retry-After", "X-Request-Id"],
    maxAge: 86_400,
  })(c, next);
});

ingest.use("/", async (c, next) => {
  const origin = c.req.header("origin");
  if (origin && !originAllowed(c.var.services.config, origin)) {
    throw new ApiError(403, "origin_not_allowed", `Origin ${origin} is not allowed to send events.`);
  }
  await next();
});

ingest.post("/", async (c) => {
  const { config, ingestRedis, events } = c.var.services;
  const receivedAt = new Date();
  const outsideKey = keyOutsideBody(c);
  // A key outside the body is checked before any body work is spent.
  const keyId = outsideKey ? await requireWriteKey(config, outsideKey) : null;
  const body = await readBody(c.req.raw);
  const rateLimitId = keyId ?? (await requireWriteKey(config, keyInBody(body.value)));

  const prepared = await prepareBatch(body.value, {
    receivedAt,
    bodyBytes: body.bytes,
    userAgent: c.req.header("user-agent") ?? null,
    options: { urlScrub: urlScrubFromList(config.SCRUB_QUERY_STRINGS, config.KEEP_QUERY_PARAMS) },
  });
  if (prepared.rows.length === 0) {
    throw new ApiError(422, "no_valid_events", `None of the ${prepared.eventCount} events is valid; see the per-event reasons.`, {
      details: { rejected: prepared.rejected },
    });
  }

  let result: RecordBatchResult;
  try {
    result = await ingestRedis.recordBatch({
      rows: prepared.rows,
      rateLimitId,
      counters: planCounters(prepared.rows),
      dedupeSeconds: config.REDIS_DEDUPE_SECONDS,
      now: receivedAt,
      rateLimitPerWindow: config.RATE_LIMIT_PER_MINUTE,
      bufferCap: config.BUFFER_MAX_ENTRIES,
    });
  } catch (redisError) {
    return storeWithoutRedis(c, prepared, redisError);
  }

  if (result.status === "duplicate") return respond(c, prepared, 0, prepared.rows.length);
  if (result.status !== "ok") throw outcomeError(result);

  if (config.INGEST_MODE === "direct") {
    const entryId = result.entryId;
    c.executionCtx.waitUntil(
      (async () => {
        try {
          await events.insertEvents(prepared.rows);
        } catch (error) {
          // The entry stays in the buffer; the minute drain stores it.
          logEvent("warn", "direct_insert_failed", { entry: entryId, error: errorSummary(error) });
          return;
        }
        await ingestRedis.deleteBufferEntry(entryId).catch((error: unknown) => {
          logEvent("warn", "buffer_delete_failed", { entry: entryId, error: errorSummary(error) });
        });
      })(),
    );
  }
  return respond(c, prepared, result.newEvents, prepared.rows.length - result.newEvents);
});
