import { Hono, type Context } from "hono";
import { cors } from "hono/cors";
import type { AppEnv } from "../app";
import { problemFor, type Config } from "../config";
import type { EventRow } from "../domain/event";
import { planCounters } from "../domain/counter-plan";
import { prepareBatch, type PreparedBatch } from "../domain/ingest-batch";
import { ApiError } from "../errors";
import { readBody } from "../http/read-body";
import { hex, sha256 } from "../http/digest";
import { findSecret } from "../http/secrets";
import { errorSummary } from "../error-text";
import { logEvent } from "../log";
import { urlScrubFromList } from "../domain/url-scrub";
import { saltCandidate, visitorKey } from "../domain/visitor";
import type { Services } from "../services";
import { insertIsolatingRefusals, isDataError, isMissingPartition, refusedRowDeadLetter, sqlState } from "../storage/refusals";
import type { IngestLimits, RecordBatchResult } from "../storage/redis-store";

/** How long a client should wait after a 503 before retrying. */
const UNAVAILABLE_RETRY_AFTER_SECONDS = 10;
/** Backpressure: the buffer is full; the minute drain needs time to empty it. */
const BACKPRESSURE_RETRY_AFTER_SECONDS = 30;
/**
 * Statements the direct insert may spend isolating rows PostgreSQL refuses (one bad row in 50
 * costs about 12). Beyond that the entry stays in the buffer and the minute drain isolates it.
 */
const DIRECT_ISOLATION_STATEMENTS = 16;

/** A Lua runtime error of the ingest script: Redis answered, so this is about the batch, not an outage. */
const SCRIPT_ERROR = /\buser_script:\d+:|Error running script/;
/** A configuration mistake needs an operator: retrying sooner only adds load. */
const MISCONFIGURED_RETRY_AFTER_SECONDS = 60;

/**
 * Who the per-client rate limit counts: the address Cloudflare sets in `CF-Connecting-IP` (a
 * client cannot forge it on Cloudflare), else the batch's first session id; hashed, so Redis
 * never holds an address. Null when neither is known: then only the write key's ceiling applies,
 * rather than putting every anonymous sender in one bucket that one of them could fill.
 */
async function clientId(address: string | undefined, rows: readonly EventRow[]): Promise<string | null> {
  const session = rows.find((row) => row.session_id !== null)?.session_id;
  const identity = address ? `ip:${address}` : session ? `session:${session}` : null;
  return identity === null ? null : hex(await sha256(identity), 8);
}

/**
 * Each row's visitor key: the hash of its site (page host), the client's address and the
 * User-Agent header (domain/visitor.ts). Rows of a batch mostly share a site: hashed once per site.
 */
async function visitorKeys(rows: readonly EventRow[], address: string, userAgent: string | null): Promise<(string | null)[]> {
  const bySite = new Map<string, Promise<string>>();
  return Promise.all(
    rows.map((row) => {
      const site = row.page_host ?? "";
      let key = bySite.get(site);
      if (key === undefined) bySite.set(site, (key = visitorKey(site, address, userAgent)));
      return key;
    }),
  );
}

/** `request.cf.country` (set by Cloudflare; absent under plain `wrangler dev` unless a test sets it). */
function countryOf(request: Request): string | null {
  const country = request.cf?.country;
  return typeof country === "string" ? country : null;
}

function ingestLimits(config: Config): IngestLimits {
  return {
    perClient: config.RATE_LIMIT_PER_CLIENT_PER_MINUTE,
    perKey: config.RATE_LIMIT_PER_MINUTE,
    bufferEntries: config.BUFFER_MAX_ENTRIES,
    bufferBytes: config.BUFFER_MAX_BYTES,
    activeSessions: config.REDIS_MAX_ACTIVE_SESSIONS,
    eventNamesPerHour: config.REDIS_MAX_EVENT_NAMES_PER_HOUR,
    categoriesPerHour: config.REDIS_MAX_CATEGORIES_PER_HOUR,
  };
}

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

/**
 * The body's `write_key`/`writeKey` (beacons cannot set headers), read without validation.
 * @throws ApiError 401 `invalid_write_key` when it is there but not a string.
 */
function keyInBody(body: unknown): string | null {
  if (typeof body !== "object" || body === null || Array.isArray(body)) return null;
  const record = body as Record<string, unknown>;
  const name = record.write_key !== undefined ? "write_key" : "writeKey";
  const key = record[name];
  if (key === undefined || key === null) return null;
  if (typeof key !== "string") throw new ApiError(401, "invalid_write_key", `${name} must be a string (got ${typeof key}).`);
  return key;
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

function respond(c: Context<AppEnv>, prepared: PreparedBatch, accepted: number, duplicates: number, refused: PreparedBatch["rejected"] = []) {
  const body: IngestResponse = {
    accepted,
    duplicates: duplicates + prepared.duplicateIndexes.length,
    rejected: refused.length === 0 ? prepared.rejected : [...prepared.rejected, ...refused].sort((a, b) => a.index - b.index),
  };
  return c.json(body, 202);
}

/**
 * Redis could not take the batch (down or slower than REDIS_TIMEOUT_MS): store it in PostgreSQL
 * before answering, so a 2xx still means durable. Dedupe still holds (PostgreSQL stores each
 * event_id once and the answer counts the rest as duplicates); the rate limit does not, since its
 * counter lives in Redis. The real-time counters miss these events; the hourly reconciliation
 * records the gap and rollups are computed from raw rows. Rows PostgreSQL refuses by themselves
 * are answered per event (`refused_by_database`); the others are stored.
 */
async function storeWithoutRedis(c: Context<AppEnv>, prepared: PreparedBatch, redisError: unknown) {
  const { events } = c.var.services;
  const unavailable = (postgresError: unknown) => {
    logEvent("error", "stores_unavailable", { redis: errorSummary(redisError), postgres: errorSummary(postgresError) });
    return new ApiError(503, "storage_unavailable", "Neither the buffer nor the database can take events right now.", {
      retryAfterSeconds: UNAVAILABLE_RETRY_AFTER_SECONDS,
    });
  };
  let inserted: number;
  const refused: PreparedBatch["rejected"] = [];
  try {
    inserted = await events.insertEvents(prepared.rows);
  } catch (postgresError) {
    if (!isDataError(postgresError) || isMissingPartition(postgresError)) throw unavailable(postgresError);
    let statements = 0;
    const isolated = await insertIsolatingRefusals(
      prepared.rows,
      (part) => events.insertEvents(part),
      () => ++statements <= DIRECT_ISOLATION_STATEMENTS,
      postgresError,
    ).catch((error: unknown) => {
      throw unavailable(error);
    });
    // Not isolated within the budget: what was stored stays stored (exactly once on the resend).
    if (!isolated.complete) throw unavailable(postgresError);
    inserted = isolated.inserted;
    const rowIndex = new Map(prepared.rows.map((row, i) => [row, prepared.rowIndexes[i]!]));
    for (const r of isolated.refused) {
      refused.push({ index: rowIndex.get(r.row)!, code: "refused_by_database", message: `PostgreSQL refused the event (${r.sqlstate}: ${r.message})` });
    }
    logEvent("error", "rows_refused", { refused: refused.length, stored: inserted, error: refused[0]?.message });
  }
  logEvent("warn", "redis_unavailable_stored_in_postgres", { events: inserted, error: errorSummary(redisError) });
  return respond(c, prepared, inserted, prepared.rows.length - inserted - refused.length, refused);
}

/**
 * Direct mode, after the response: insert the batch; on success delete its buffer entry. When
 * PostgreSQL refuses rows by themselves, store the others and move the refused rows to the
 * dead-letter stream (which also deletes the entry). Any other failure leaves the entry for the
 * minute drain and marks /health `degraded` for DIRECT_INSERT_FAILURE_SECONDS.
 */
async function storeDirect(services: Services, rows: PreparedBatch["rows"], entryId: string): Promise<void> {
  const { events, ingestRedis } = services;
  const leaveToDrain = async (error: unknown) => {
    logEvent("warn", "direct_insert_failed", { entry: entryId, error: errorSummary(error) });
    await ingestRedis.recordDirectInsertFailure({ at: new Date().toISOString(), error: errorSummary(error) }).catch((e: unknown) => {
      logEvent("warn", "direct_insert_failure_not_recorded", { entry: entryId, error: errorSummary(e) });
    });
  };
  try {
    await events.insertEvents(rows);
  } catch (error) {
    // 23514 (no partition yet) is the drain's to fix: it creates partitions and retries.
    if (!isDataError(error) || isMissingPartition(error)) return leaveToDrain(error);
    let statements = 0;
    let isolated;
    try {
      isolated = await insertIsolatingRefusals(rows, (part) => events.insertEvents(part), () => ++statements <= DIRECT_ISOLATION_STATEMENTS, error);
    } catch (isolationError) {
      return leaveToDrain(isolationError);
    }
    if (!isolated.complete) {
      logEvent("warn", "direct_insert_isolation_deferred", { entry: entryId, statements: DIRECT_ISOLATION_STATEMENTS });
      return;
    }
    if (isolated.refused.length > 0) {
      logEvent("error", "rows_refused", {
        entry: entryId,
        refused: isolated.refused.length,
        stored: rows.length - isolated.refused.length,
        error: `${isolated.refused[0]!.sqlstate}: ${isolated.refused[0]!.message}`,
      });
      await ingestRedis.deadLetter(isolated.refused.map((r) => refusedRowDeadLetter(entryId, r))).catch((e: unknown) => {
        // The entry stays in the buffer: the drain stores its good rows (again, exactly once) and dead-letters the rest.
        logEvent("warn", "dead_letter_failed", { entry: entryId, error: errorSummary(e) });
      });
      return;
    }
  }
  await ingestRedis.deleteBufferEntry(entryId).catch((error: unknown) => {
    logEvent("warn", "buffer_delete_failed", { entry: entryId, error: errorSummary(error) });
  });
}

function outcomeError(config: Config, result: Exclude<RecordBatchResult, { status: "ok" | "duplicate" }>): ApiError {
  if (result.status === "rate_limited") {
    const message =
      result.scope === "client"
        ? `Too many batches from this client (at most ${config.RATE_LIMIT_PER_CLIENT_PER_MINUTE} per minute); retry after the indicated delay.`
        : `This write key has reached its ceiling of ${config.RATE_LIMIT_PER_MINUTE} batches per minute across all clients; retry after the indicated delay.`;
    return new ApiError(429, "rate_limited", message, {
      retryAfterSeconds: result.retryAfterSeconds,
      details: { scope: result.scope },
    });
  }
  if (result.status === "invalid") {
    return unstorableInRedis(result.message);
  }
  return new ApiError(503, "buffer_full", "The ingest buffer is full; retry later (nothing from this batch was stored).", {
    retryAfterSeconds: BACKPRESSURE_RETRY_AFTER_SECONDS,
  });
}

/** The ingest script could not read the batch: Redis is up, so this is the data, never an outage. */
function unstorableInRedis(reason: string): ApiError {
  logEvent("error", "batch_refused_by_redis_script", { error: reason.slice(0, 300) });
  return new ApiError(422, "unstorable_events", "Redis could not read this batch; nothing was stored. Do not resend it unchanged.");
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
  const misconfigured = problemFor(config, "ingest");
  if (misconfigured) {
    // Retryable: a tracker keeps the events and sends them once the operator sets the variable.
    throw new ApiError(503, "service_misconfigured", misconfigured.message, { retryAfterSeconds: MISCONFIGURED_RETRY_AFTER_SECONDS });
  }
  const receivedAt = new Date();
  const outsideKey = keyOutsideBody(c);
  // A key outside the body is checked before any body work is spent.
  const keyId = outsideKey ? await requireWriteKey(config, outsideKey) : null;
  const body = await readBody(c.req.raw);
  const rateLimitId = keyId ?? (await requireWriteKey(config, keyInBody(body.value)));

  const userAgent = c.req.header("user-agent") ?? null;
  const address = c.req.header("cf-connecting-ip");
  const prepared = await prepareBatch(body.value, {
    receivedAt,
    bodyBytes: body.bytes,
    userAgent,
    country: countryOf(c.req.raw),
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
      clientId: await clientId(address, prepared.rows),
      visitorKeys: address ? await visitorKeys(prepared.rows, address, userAgent) : undefined,
      saltCandidate: address ? saltCandidate() : undefined,
      counters: planCounters(prepared.rows),
      dedupeSeconds: config.REDIS_DEDUPE_SECONDS,
      now: receivedAt,
      limits: ingestLimits(config),
    });
  } catch (redisError) {
    if (redisError instanceof Error && SCRIPT_ERROR.test(redisError.message)) throw unstorableInRedis(errorSummary(redisError));
    return storeWithoutRedis(c, prepared, redisError);
  }

  if (result.status === "duplicate") return respond(c, prepared, 0, prepared.rows.length);
  if (result.status !== "ok") throw outcomeError(config, result);
  prepared.rows.forEach((row, i) => (row.visitor_id = result.visitorIds[i] ?? null));

  if (config.INGEST_MODE === "direct") c.executionCtx.waitUntil(storeDirect(c.var.services, prepared.rows, result.entryId));
  return respond(c, prepared, result.newEvents, prepared.rows.length - result.newEvents);
});
