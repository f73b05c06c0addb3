/**
 * The worst case of Redis memory for a given traffic, from the key shapes of redis-keys.ts and the
 * caps of the configuration. The README's "Limits and abuse" section quotes it, the flood test
 * checks a real flood against it, and `npm run bench -- --flood` measures beside it.
 *
 * Per-item sizes are upper bounds of what Redis 7 reports with `MEMORY USAGE … SAMPLES 0` for
 * these shapes (key name, value, encoding overhead, allocator rounding; measured by the flood
 * test and benchmark), with margin. The write-ahead buffer is not included: it is bounded by
 * BUFFER_MAX_BYTES on its own and emptied by the minute drain.
 */
import { MAX_ID_LENGTH, MAX_NAME_LENGTH } from "../domain/limits";

/** Upper bounds, in bytes, of one item of each kind. */
export const REDIS_ITEM_BYTES = {
  /** `ev:<event_id>` with its TTL (a UUID id; derived ids are as long). */
  dedupeKey: 128,
  /** One counter-hash field: its name (`e:`/`c:` + the name) plus value and overhead. */
  counterField: (nameBytes: number) => nameBytes + 2 + 80,
  /** A counter hash without its fields (key, dict, TTL). */
  counterHash: 256,
  /** A HyperLogLog at its largest (dense: 12,288 registers of 6 bits) plus key. */
  hyperLogLog: 12_500,
  /** One member of the active-sessions sorted set (skiplist node and dict entry). */
  activeSession: (idBytes: number) => idBytes + 112,
  /** One rate-limit counter (client or write key) for one minute. */
  rateCounter: 128,
} as const;

/** Fields every hour hash may hold besides names: total, bots, the two overflow buckets, the two distinct counts. */
const FIXED_FIELDS = 6;

export interface Traffic {
  /** Events accepted in the hour (each new one leaves a dedupe key for REDIS_DEDUPE_SECONDS). */
  events: number;
  /** Distinct session ids among them. */
  sessions: number;
  /** Minutes of the hour that had events (each writes a minute hash and HyperLogLog). @default 60 */
  minutes?: number;
  /** Distinct clients (addresses) per minute, each a rate counter. @default 1 */
  clientsPerMinute?: number;
  /** Longest event name / category, in bytes. @default MAX_NAME_LENGTH (128) */
  nameBytes?: number;
  /** Longest session id, in bytes. @default MAX_ID_LENGTH (256) */
  sessionIdBytes?: number;
}

export interface RedisCaps {
  eventNamesPerHour: number;
  categoriesPerHour: number;
  activeSessions: number;
}

/** The bound, in total and by kind of key. */
export interface RedisBudget {
  total: number;
  dedupe: number;
  counters: number;
  uniques: number;
  sessions: number;
  rateLimits: number;
}

/**
 * Bytes that one hour of `traffic` can add to Redis at most, the buffer aside. However many
 * distinct names the events carry, each counter hash holds at most the caps' fields.
 *
 * Lifetimes, for the steady state: dedupe keys live REDIS_DEDUPE_SECONDS (1 h), minute keys 2 h,
 * hour keys 3 days (so a long-lived deployment holds up to 72 hours' `counters` hour parts), the
 * active sessions 30 minutes and at most their cap, rate counters one minute.
 *
 * @example worstCaseRedisBytes({ events: 10_000, sessions: 10_000, minutes: 2 }, caps).total
 */
export function worstCaseRedisBytes(traffic: Traffic, caps: RedisCaps): RedisBudget {
  const minutes = Math.min(traffic.minutes ?? 60, 60);
  const nameBytes = traffic.nameBytes ?? MAX_NAME_LENGTH;
  const names = Math.min(caps.eventNamesPerHour, traffic.events) + Math.min(caps.categoriesPerHour, traffic.events);
  const hash = REDIS_ITEM_BYTES.counterHash + (names + FIXED_FIELDS) * REDIS_ITEM_BYTES.counterField(nameBytes);
  const parts = {
    dedupe: traffic.events * REDIS_ITEM_BYTES.dedupeKey,
    // One hour hash and one per minute with events; a minute hash never has more names than its hour.
    counters: (1 + minutes) * hash,
    // Users and sessions of the hour, users of each minute.
    uniques: (2 + minutes) * REDIS_ITEM_BYTES.hyperLogLog,
    sessions: Math.min(traffic.sessions, caps.activeSessions) * REDIS_ITEM_BYTES.activeSession(traffic.sessionIdBytes ?? MAX_ID_LENGTH),
    rateLimits: minutes * ((traffic.clientsPerMinute ?? 1) + 1) * REDIS_ITEM_BYTES.rateCounter,
  };
  return { total: Object.values(parts).reduce((a, b) => a + b, 0), ...parts };
}
