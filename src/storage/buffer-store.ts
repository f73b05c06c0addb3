import type { Redis } from "@upstash/redis/cloudflare";
import type { BufferEntry, BufferPort, DeadLetter, HourCounts } from "../cron/ports";
import type { EventRow } from "../domain/event";
import { BUFFER_ENTRY_VERSION } from "./buffer";
import { inSlotOrder } from "./lua/contract";
import { BUFFER_DELETE_KEYS, BUFFER_DELETE_SCRIPT } from "./lua/buffer-delete";
import {
  BUFFER_FIELD,
  COUNTER_FIELDS,
  DEAD_LETTER_FIELDS,
  hourId,
  redisKeys,
  type RedisKeys,
} from "./redis-keys";

/** What /health reads from Redis, in one pipeline. */
export interface BufferStats {
  /** Entries (batches) waiting in the buffer stream. */
  pending: number;
  /** Entries in the dead-letter stream. */
  dead_letter: number;
  /** Epoch ms of the oldest pending entry, or null when the buffer is empty. */
  oldest_ms: number | null;
  /** The last direct-insert failure within DIRECT_INSERT_FAILURE_SECONDS, or null. */
  direct_insert_failure: DirectInsertFailure | null;
}

/** What a failed direct insert records for /health. */
export interface DirectInsertFailure {
  /** ISO-8601 time of the failure. */
  at: string;
  /** A short, safe description (errorSummary). */
  error: string;
}

const EVENT_FIELD_PREFIX = COUNTER_FIELDS.event("");

/** The millisecond part of a stream id (`1764142800000-3` → 1764142800000). */
export function streamIdMs(id: string): number {
  return Number(id.split("-")[0]);
}

/**
 * Decodes the `b` field of a buffer entry. The Upstash client JSON-parses string replies it can,
 * so the value arrives as the parsed object or, when it was not JSON, as the string itself.
 */
export function decodeBufferEntry(id: string, fields: Record<string, unknown> | null | undefined): BufferEntry {
  const value = fields?.[BUFFER_FIELD];
  const raw = typeof value === "string" ? value : JSON.stringify(value ?? null);
  let parsed: unknown = value;
  if (typeof value === "string") {
    try {
      parsed = JSON.parse(value);
    } catch {
      return { id, invalid: "not JSON", raw };
    }
  }
  const entry = parsed as { v?: unknown; rows?: unknown } | null;
  if (typeof entry !== "object" || entry === null || entry.v !== BUFFER_ENTRY_VERSION || !Array.isArray(entry.rows)) {
    return { id, invalid: `not a buffer entry of version ${BUFFER_ENTRY_VERSION}`, raw };
  }
  return { id, rows: entry.rows as EventRow[] };
}

/**
 * Adds dead letters and deletes the buffer entries they came from, in one MULTI (one request): a
 * crash leaves either both or neither. The stream is never trimmed: a dead letter leaves it only
 * through `npm run dead-letters -- replay | drop`, and /health is `degraded` while any is there.
 */
export async function writeDeadLetters(redis: Redis, keys: RedisKeys, entries: readonly DeadLetter[]): Promise<void> {
  if (entries.length === 0) return;
  const tx = redis.multi();
  for (const e of entries) {
    tx.xadd(keys.deadLetter, "*", {
      [DEAD_LETTER_FIELDS.entryId]: e.id,
      [DEAD_LETTER_FIELDS.payload]: e.raw,
      [DEAD_LETTER_FIELDS.error]: e.error,
      [DEAD_LETTER_FIELDS.sqlstate]: e.sqlstate ?? "",
    });
  }
  tx.eval(BUFFER_DELETE_SCRIPT, bufferDeleteKeys(keys), [...new Set(entries.map((e) => e.id))]);
  await tx.exec();
}

/** KEYS of BUFFER_DELETE_SCRIPT, which replaces XDEL so the buffer's byte count follows. */
export function bufferDeleteKeys(keys: RedisKeys): string[] {
  return inSlotOrder(BUFFER_DELETE_KEYS, { buffer: keys.buffer, buffer_bytes: keys.bufferBytes });
}

const toNumber = (value: unknown): number => {
  const n = typeof value === "number" ? value : Number(value);
  return Number.isFinite(n) ? n : 0;
};

/**
 * Upstash adapter for the cron jobs and /health: the buffer stream, the dead-letter stream and
 * the hour counters. Every method is one HTTP request (single command,
 * pipeline or MULTI).
 */
export class RedisBufferStore implements BufferPort {
  private readonly keys: RedisKeys;
  private readonly deleteScript;

  constructor(
    private readonly redis: Redis,
    prefix: string,
  ) {
    this.keys = redisKeys(prefix);
    this.deleteScript = redis.createScript<number>(BUFFER_DELETE_SCRIPT);
  }

  async read(afterId: string | null, count: number): Promise<BufferEntry[]> {
    // "(id" is an exclusive start (Redis ≥ 6.2): entries left behind after a failure are skipped.
    const start = afterId === null ? "-" : `(${afterId}`;
    const entries = await this.redis.xrange<Record<string, unknown>>(this.keys.buffer, start, "+", count);
    return Object.entries(entries ?? {}).map(([id, fields]) => decodeBufferEntry(id, fields));
  }

  async remove(ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.deleteScript.exec(bufferDeleteKeys(this.keys), [...ids]);
  }

  async deadLetter(entries: readonly DeadLetter[]): Promise<void> {
    await writeDeadLetters(this.redis, this.keys, entries);
  }

  async oldestPendingMs(): Promise<number | null> {
    const head = await this.redis.xrange(this.keys.buffer, "-", "+", 1);
    const id = Object.keys(head ?? {})[0];
    return id === undefined ? null : streamIdMs(id);
  }

  /** The counters of each hour (by UTC hour start) that Redis still holds; absent hours are left out. */
  async hourCounts(hours: readonly Date[]): Promise<Map<number, HourCounts>> {
    const result = new Map<number, HourCounts>();
    if (hours.length === 0) return result;
    const p = this.redis.pipeline();
    for (const hour of hours) p.hgetall(this.keys.hourCounters(hourId(hour)));
    const replies = (await p.exec()) as Array<Record<string, unknown> | null>;
    replies.forEach((fields, i) => {
      if (!fields || Object.keys(fields).length === 0) return;
      const byEvent = new Map<string, number>();
      for (const [field, value] of Object.entries(fields)) {
        if (field.startsWith(EVENT_FIELD_PREFIX)) byEvent.set(field.slice(EVENT_FIELD_PREFIX.length), toNumber(value));
      }
      const otherEvents = toNumber(fields[COUNTER_FIELDS.otherEvents]);
      result.set(hours[i]!.getTime(), { total: toNumber(fields[COUNTER_FIELDS.total]), byEvent, otherEvents });
    });
    return result;
  }

  /**
   * /health: XLEN of the buffer and the dead-letter stream, the oldest pending id and the last
   * direct-insert failure, one pipeline.
   */
  async stats(): Promise<BufferStats> {
    const p = this.redis.pipeline();
    p.xlen(this.keys.buffer);
    p.xlen(this.keys.deadLetter);
    p.xrange(this.keys.buffer, "-", "+", 1);
    p.get(this.keys.directInsertFailure);
    const [pending, dead, head, failure] = (await p.exec()) as [unknown, unknown, Record<string, unknown> | null, unknown];
    const oldest = Object.keys(head ?? {})[0];
    return {
      pending: toNumber(pending),
      dead_letter: toNumber(dead),
      oldest_ms: oldest === undefined ? null : streamIdMs(oldest),
      direct_insert_failure: isDirectInsertFailure(failure) ? failure : null,
    };
  }
}

function isDirectInsertFailure(value: unknown): value is DirectInsertFailure {
  return typeof value === "object" && value !== null && typeof (value as DirectInsertFailure).at === "string";
}
