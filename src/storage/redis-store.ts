import type { Redis } from "@upstash/redis/cloudflare";
import type { BucketCounters, CounterPlan } from "../domain/counter-plan";
import type { EventRow } from "../domain/event";
import type { DeadLetter } from "../cron/ports";
import { saltDay } from "../domain/visitor";
import { BUFFER_ENTRY_HEAD, BUFFER_ENTRY_TAIL, rowAwaitingVisitor } from "./buffer";
import { bufferDeleteKeys, writeDeadLetters, type DirectInsertFailure } from "./buffer-store";
import { BUFFER_DELETE_SCRIPT } from "./lua/buffer-delete";
import { inSlotOrder, tuple } from "./lua/contract";
import { EVENT_TUPLE, INGEST_ARGV, INGEST_KEYS, INGEST_SCRIPT, OP_INCR_TUPLE, OP_TTL_TUPLE } from "./lua/ingest";
import {
  ACTIVE_SESSION_WINDOW_MS,
  COUNTER_FIELDS,
  DIRECT_INSERT_FAILURE_SECONDS,
  HOUR_KEY_TTL_SECONDS,
  MINUTE_KEY_TTL_SECONDS,
  RATE_LIMIT_WINDOW_SECONDS,
  hourId,
  minuteId,
  redisKeys,
  type RedisKeys,
} from "./redis-keys";

export interface RecordBatchInput {
  /** The batch's accepted rows (each becomes one dedupe key and, if new, part of the buffer entry). */
  rows: readonly EventRow[];
  /** Stable id of the write key for its ceiling (never the key itself). */
  rateLimitId: string;
  /** Stable id of the client for its own limit (a hash, never an address); null: no client limit. */
  clientId: string | null;
  /** The rows' increments, aggregated in the worker (applied as they are when every row is new). */
  counters: CounterPlan;
  now: Date;
  /** Limits and caps from the configuration (0 turns a rate limit off). */
  limits: IngestLimits;
  /** How long an event id is remembered for dedupe in Redis (PostgreSQL dedupes forever). */
  dedupeSeconds: number;
  /**
   * Per row (same order), its visitor key (domain/visitor.ts `visitorKey`), or null for none; the
   * script salts it with the day's salt. Absent: no row gets a visitor id.
   */
  visitorKeys?: readonly (string | null)[];
  /** A fresh random salt (`saltCandidate()`), kept by the script if the day has none yet. */
  saltCandidate?: string;
}

export interface IngestLimits {
  /** Batches per client per window. */
  perClient: number;
  /** Batches with new events per write key per window. */
  perKey: number;
  bufferEntries: number;
  bufferBytes: number;
  activeSessions: number;
  eventNamesPerHour: number;
  categoriesPerHour: number;
}

export type RecordBatchResult =
  /**
   * `newEvents` of the rows were not seen within the dedupe window; the others are duplicates.
   * `visitorIds[i]` is row i's visitor id (null without a visitor key).
   */
  | { status: "ok"; entryId: string; newEvents: number; visitorIds: (string | null)[] }
  | { status: "duplicate" }
  | { status: "rate_limited"; retryAfterSeconds: number; scope: "client" | "key" }
  | { status: "backpressure"; bufferLength: number }
  /** The script could not read the batch (nothing was written); `message` is its decoder's. */
  | { status: "invalid"; message: string };

/**
 * The narrow Redis surface the ingest route needs: a port because src/metrics/piggyback.ts wraps it
 * and test/worker/hostile-content.test.ts replaces `recordBatch`.
 */
export interface IngestRedis {
  recordBatch(input: RecordBatchInput): Promise<RecordBatchResult>;
  deleteBufferEntry(entryId: string): Promise<void>;
  /** Dead-letters rows PostgreSQL refused and deletes their buffer entry, in one request. */
  deadLetter(entries: readonly DeadLetter[]): Promise<void>;
  /** Records a failed direct insert for /health (kept DIRECT_INSERT_FAILURE_SECONDS). */
  recordDirectInsertFailure(failure: DirectInsertFailure): Promise<void>;
}

/**
 * The `ops` argument of INGEST_SCRIPT (JSON; one-letter keys because it travels with every batch).
 * The script reads each list by these names (src/storage/lua/ingest.ts).
 */
interface ScriptOps {
  /** Counter increments (HINCRBY): OP_INCR tuples, applied for new events only. */
  i: Array<Array<number | string>>;
  /** HyperLogLog adds (PFADD): the key's index in KEYS, then the members. */
  p: Array<[number, ...string[]]>;
  /** Active sessions (ZADD): score, member, score, member, … */
  z: Array<number | string>;
  /** Expiries (EXPIRE): OP_TTL tuples, one per counter key. */
  t: number[][];
}

/**
 * Turns the batch into the script's KEYS and ARGV, by name (src/storage/lua/ingest.ts). Pure,
 * exported for tests. The fixed keys come first, then one dedupe key per row, then the counter
 * keys the ops reference by their index in KEYS.
 */
export function buildScriptCall(keys: RedisKeys, input: RecordBatchInput): { keys: string[]; args: string[] } {
  const windowStart = Math.floor(input.now.getTime() / 1000 / RATE_LIMIT_WINDOW_SECONDS) * RATE_LIMIT_WINDOW_SECONDS;
  const { limits } = input;
  const salt = saltDay(input.now);
  const scriptKeys = inSlotOrder(INGEST_KEYS, {
    // Without a client id the client counter is a key the script never touches (its limit is 0).
    client_rate: keys.clientRateLimit(input.clientId ?? "none", windowStart),
    key_rate: keys.rateLimit(input.rateLimitId, windowStart),
    buffer: keys.buffer,
    active_sessions: keys.activeSessions,
    buffer_bytes: keys.bufferBytes,
    visitor_salt: keys.visitorSalt(salt.day),
  });
  for (const row of input.rows) scriptKeys.push(keys.event(row.event_id));

  const ops: ScriptOps = { i: [], p: [], z: [], t: [] };
  const indexes = new Map<string, number>();
  const keyIndex = (key: string, ttl: number) => {
    let index = indexes.get(key);
    if (index === undefined) {
      scriptKeys.push(key);
      index = scriptKeys.length;
      indexes.set(key, index);
      ops.t.push(tuple(OP_TTL_TUPLE, { key: index, seconds: ttl }));
    }
    return index;
  };
  // `hourKey`: the hour hash that admits name fields under the caps (a minute's own hour).
  const addCounts = (counterKey: number, hourKey: number, bucket: BucketCounters) => {
    const incr = (field: string, by: number, hour: number) => ops.i.push(tuple(OP_INCR_TUPLE, { key: counterKey, field, by, hour }));
    incr(COUNTER_FIELDS.total, bucket.total, 0);
    if (bucket.bots > 0) incr(COUNTER_FIELDS.bots, bucket.bots, 0);
    for (const [name, n] of bucket.byEventName) incr(COUNTER_FIELDS.event(name), n, hourKey);
    for (const [category, n] of bucket.byCategory) incr(COUNTER_FIELDS.category(category), n, hourKey);
  };
  const hourKeys = (hour: string) => ({
    counters: keyIndex(keys.hourCounters(hour), HOUR_KEY_TTL_SECONDS),
    users: keyIndex(keys.hourUsers(hour), HOUR_KEY_TTL_SECONDS),
    sessions: keyIndex(keys.hourSessions(hour), HOUR_KEY_TTL_SECONDS),
  });
  const minuteKeys = (minute: string) => ({
    counters: keyIndex(keys.minuteCounters(minute), MINUTE_KEY_TTL_SECONDS),
    users: keyIndex(keys.minuteUsers(minute), MINUTE_KEY_TTL_SECONDS),
  });

  for (const hour of input.counters.hours) {
    const k = hourKeys(hourId(new Date(hour.startMs)));
    addCounts(k.counters, k.counters, hour);
    if (hour.userIds.length > 0) ops.p.push([k.users, ...hour.userIds]);
    if (hour.sessionIds.length > 0) ops.p.push([k.sessions, ...hour.sessionIds]);
  }
  for (const minute of input.counters.minutes) {
    const k = minuteKeys(minuteId(new Date(minute.startMs)));
    addCounts(k.counters, hourKeys(hourId(new Date(minute.startMs))).counters, minute);
    if (minute.userIds.length > 0) ops.p.push([k.users, ...minute.userIds]);
  }
  for (const { session_id, lastSeenMs } of input.counters.sessions) ops.z.push(lastSeenMs, session_id);

  // Each row's own contribution, for when only some rows of the batch are new.
  const contributions = input.rows.map((row, i) => {
    const time = new Date(row.time);
    const hour = hourKeys(hourId(time));
    const minute = minuteKeys(minuteId(time));
    return tuple(EVENT_TUPLE, {
      hour: hour.counters,
      hour_users: row.user_id === null ? 0 : hour.users,
      hour_sessions: row.session_id === null ? 0 : hour.sessions,
      minute: minute.counters,
      minute_users: row.user_id === null ? 0 : minute.users,
      event_field: COUNTER_FIELDS.event(row.event_name),
      category_field: COUNTER_FIELDS.category(row.category),
      user_id: row.user_id ?? "",
      session_id: row.session_id ?? "",
      time_ms: time.getTime(),
      bot: row.flags.includes("bot") ? 1 : 0,
      visitor_key: input.visitorKeys?.[i] ?? "",
    });
  });

  const fixed = inSlotOrder(INGEST_ARGV, {
    now_ms: String(input.now.getTime()),
    dedupe_ttl_s: String(input.dedupeSeconds),
    client_limit: String(input.clientId === null ? 0 : limits.perClient),
    key_limit: String(limits.perKey),
    rate_window_s: String(RATE_LIMIT_WINDOW_SECONDS),
    buffer_cap_entries: String(limits.bufferEntries),
    buffer_cap_bytes: String(limits.bufferBytes),
    active_window_ms: String(ACTIVE_SESSION_WINDOW_MS),
    active_cap: String(limits.activeSessions),
    event_name_cap: String(limits.eventNamesPerHour),
    category_cap: String(limits.categoriesPerHour),
    ops_json: JSON.stringify(ops),
    events_json: JSON.stringify(contributions),
    n: String(input.rows.length),
    entry_head: BUFFER_ENTRY_HEAD,
    entry_tail: BUFFER_ENTRY_TAIL,
    // Unused when no row has a visitor key (the script then never reads the salt).
    salt_candidate: input.saltCandidate ?? "",
    salt_expires_ms: String(salt.expiresAtMs),
  });
  const args = [...fixed, ...input.rows.map(rowAwaitingVisitor)];
  return { keys: scriptKeys, args };
}

/** The script's JSON array of visitor ids ("" = none), which the client may already have parsed. */
function visitorIdsOf(reply: string | string[] | undefined, rows: number): (string | null)[] {
  const ids: unknown = typeof reply === "string" ? JSON.parse(reply) : (reply ?? []);
  return Array.from({ length: rows }, (_, i) => {
    const id = Array.isArray(ids) ? ids[i] : undefined;
    return typeof id === "string" && id !== "" ? id : null;
  });
}

/** Upstash adapter for the ingest path. */
export class RedisIngestStore implements IngestRedis {
  private readonly keys: RedisKeys;
  private readonly script;
  private readonly deleteScript;

  constructor(
    private readonly redis: Redis,
    prefix: string,
  ) {
    this.keys = redisKeys(prefix);
    // EVALSHA, falling back to EVAL on NOSCRIPT (the client handles it).
    this.script = redis.createScript<[string, string, string, (string | string[])?]>(INGEST_SCRIPT);
    this.deleteScript = redis.createScript<number>(BUFFER_DELETE_SCRIPT);
  }

  async recordBatch(input: RecordBatchInput): Promise<RecordBatchResult> {
    const call = buildScriptCall(this.keys, input);
    const [status, value, count, visitors] = await this.script.exec(call.keys, call.args);
    // The client JSON-parses replies it can: numeric strings may arrive as numbers.
    switch (status) {
      case "ok":
        return {
          status: "ok",
          entryId: String(value),
          newEvents: Number(count),
          visitorIds: visitorIdsOf(visitors, input.rows.length),
        };
      case "duplicate":
        return { status: "duplicate" };
      case "rate_limited":
        return { status: "rate_limited", retryAfterSeconds: Number(value), scope: count === "client" ? "client" : "key" };
      case "backpressure":
        return { status: "backpressure", bufferLength: Number(value) };
      case "invalid":
        return { status: "invalid", message: String(value) };
      default:
        throw new Error(`unexpected ingest script reply ${JSON.stringify([status, value])}`);
    }
  }

  async deleteBufferEntry(entryId: string): Promise<void> {
    await this.deleteScript.exec(bufferDeleteKeys(this.keys), [entryId]);
  }

  async deadLetter(entries: readonly DeadLetter[]): Promise<void> {
    await writeDeadLetters(this.redis, this.keys, entries);
  }

  async recordDirectInsertFailure(failure: DirectInsertFailure): Promise<void> {
    await this.redis.set(this.keys.directInsertFailure, JSON.stringify(failure), { ex: DIRECT_INSERT_FAILURE_SECONDS });
  }
}
