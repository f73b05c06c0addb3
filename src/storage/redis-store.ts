import type { Redis } from "@upstash/redis/cloudflare";
import type { BucketCounters, CounterPlan } from "../domain/counter-plan";
import { INGEST_SCRIPT } from "./ingest-script";
import {
  ACTIVE_SESSION_WINDOW_MS,
  BATCH_DEDUPE_TTL_SECONDS,
  COUNTER_FIELDS,
  HOUR_KEY_TTL_SECONDS,
  MINUTE_KEY_TTL_SECONDS,
  RATE_LIMIT_WINDOW_SECONDS,
  hourId,
  minuteId,
  redisKeys,
  type RedisKeys,
} from "./redis-keys";

export interface RecordBatchInput {
  /** Identity of the batch: a hash of its sorted event ids. */
  batchHash: string;
  /** Stable id of the write key for rate limiting (never the key itself). */
  rateLimitId: string;
  /** The buffer entry (JSON of the normalised rows). */
  payload: string;
  counters: CounterPlan;
  now: Date;
  rateLimitPerWindow: number;
  bufferCap: number;
}

export type RecordBatchResult =
  | { status: "ok"; entryId: string }
  | { status: "duplicate"; entryId: string }
  | { status: "rate_limited"; retryAfterSeconds: number }
  | { status: "backpressure"; bufferLength: number };

/** The narrow Redis surface the ingest route needs (fakes in unit tests implement just this). */
export interface IngestRedis {
  recordBatch(input: RecordBatchInput): Promise<RecordBatchResult>;
  deleteBufferEntry(entryId: string): Promise<void>;
}

interface ScriptOps {
  i: Array<[number, string, number]>;
  p: Array<[number, ...string[]]>;
  z: Array<number | string>;
  t: Array<[number, number]>;
}

/**
 * Turns the batch's increments into the script's KEYS and ops. Pure, exported for tests.
 * Key index 1-4 are fixed (see INGEST_SCRIPT); counter keys start at 5.
 */
export function buildScriptCall(keys: RedisKeys, input: RecordBatchInput): { keys: string[]; args: string[] } {
  const windowStart = Math.floor(input.now.getTime() / 1000 / RATE_LIMIT_WINDOW_SECONDS) * RATE_LIMIT_WINDOW_SECONDS;
  const scriptKeys = [
    keys.batch(input.batchHash),
    keys.rateLimit(input.rateLimitId, windowStart),
    keys.buffer,
    keys.activeSessions,
  ];
  const ops: ScriptOps = { i: [], p: [], z: [], t: [] };
  const addKey = (key: string, ttl: number) => {
    scriptKeys.push(key);
    const index = scriptKeys.length;
    ops.t.push([index, ttl]);
    return index;
  };
  const addCounts = (counterKey: number, bucket: BucketCounters) => {
    ops.i.push([counterKey, COUNTER_FIELDS.total, bucket.total]);
    if (bucket.bots > 0) ops.i.push([counterKey, COUNTER_FIELDS.bots, bucket.bots]);
    for (const [name, n] of bucket.byEventName) ops.i.push([counterKey, COUNTER_FIELDS.event(name), n]);
    for (const [category, n] of bucket.byCategory) ops.i.push([counterKey, COUNTER_FIELDS.category(category), n]);
  };

  for (const hour of input.counters.hours) {
    const id = hourId(new Date(hour.startMs));
    addCounts(addKey(keys.hourCounters(id), HOUR_KEY_TTL_SECONDS), hour);
    if (hour.userIds.length > 0) ops.p.push([addKey(keys.hourUsers(id), HOUR_KEY_TTL_SECONDS), ...hour.userIds]);
    if (hour.sessionIds.length > 0) ops.p.push([addKey(keys.hourSessions(id), HOUR_KEY_TTL_SECONDS), ...hour.sessionIds]);
  }
  for (const minute of input.counters.minutes) {
    const id = minuteId(new Date(minute.startMs));
    addCounts(addKey(keys.minuteCounters(id), MINUTE_KEY_TTL_SECONDS), minute);
    if (minute.userIds.length > 0) ops.p.push([addKey(keys.minuteUsers(id), MINUTE_KEY_TTL_SECONDS), ...minute.userIds]);
  }
  for (const { session_id, lastSeenMs } of input.counters.sessions) ops.z.push(lastSeenMs, session_id);

  const args = [
    String(input.now.getTime()),
    String(BATCH_DEDUPE_TTL_SECONDS),
    String(input.rateLimitPerWindow),
    String(RATE_LIMIT_WINDOW_SECONDS),
    String(input.bufferCap),
    String(ACTIVE_SESSION_WINDOW_MS),
    input.payload,
    JSON.stringify(ops),
  ];
  return { keys: scriptKeys, args };
}

/** Upstash adapter for the ingest path. */
export class RedisIngestStore implements IngestRedis {
  private readonly keys: RedisKeys;
  private readonly script;

  constructor(
    private readonly redis: Redis,
    prefix: string,
  ) {
    this.keys = redisKeys(prefix);
    // EVALSHA, falling back to EVAL on NOSCRIPT (the client handles it).
    this.script = redis.createScript<[string, string]>(INGEST_SCRIPT);
  }

  async recordBatch(input: RecordBatchInput): Promise<RecordBatchResult> {
    const call = buildScriptCall(this.keys, input);
    const [status, value] = await this.script.exec(call.keys, call.args);
    // The client JSON-parses replies it can: numeric strings may arrive as numbers.
    const text = String(value);
    switch (status) {
      case "ok":
        return { status: "ok", entryId: text };
      case "duplicate":
        return { status: "duplicate", entryId: text };
      case "rate_limited":
        return { status: "rate_limited", retryAfterSeconds: Number(value) };
      case "backpressure":
        return { status: "backpressure", bufferLength: Number(value) };
      default:
        throw new Error(`unexpected ingest script reply ${JSON.stringify([status, value])}`);
    }
  }

  async deleteBufferEntry(entryId: string): Promise<void> {
    await this.redis.xdel(this.keys.buffer, entryId);
  }
}
