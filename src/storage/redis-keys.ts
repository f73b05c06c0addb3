/**
 * Every Redis key this project uses, in one place. Each key that grows either expires or is
 * drained: nothing grows without bound (docs/ARCHITECTURE.md §5).
 */

/** Hour-bucket counters and HyperLogLogs stay long enough for the hourly reconciliation to read
 * every closed hour twice over, and for a late-running cron to catch up after a day. */
export const HOUR_KEY_TTL_SECONDS = 3 * 24 * 3600;
/** Minute buckets serve the real-time endpoint's window (≤ 60 minutes) with margin. */
export const MINUTE_KEY_TTL_SECONDS = 2 * 3600;
/** Sessions seen within this window count as active; older members are trimmed on every write. */
export const ACTIVE_SESSION_WINDOW_MS = 30 * 60 * 1000;
/** Rate-limit window length. */
export const RATE_LIMIT_WINDOW_SECONDS = 60;

/** Hash fields of a counter bucket. */
export const COUNTER_FIELDS = {
  total: "total",
  /** Of `total`, events flagged as bots (counted, never dropped). */
  bots: "bots",
  event: (eventName: string) => `e:${eventName}`,
  category: (category: string) => `c:${category}`,
  /**
   * Events whose name came after the hour's cap of distinct names (REDIS_MAX_EVENT_NAMES_PER_HOUR):
   * counted here, not by name. Outside the `e:` prefix, so no event name can collide with it.
   */
  otherEvents: "o:e",
  /** Events whose category came after the hour's cap of distinct categories. */
  otherCategories: "o:c",
  /** In hour hashes only: how many distinct event names (categories) have their own field. */
  distinctEvents: "#e",
  distinctCategories: "#c",
} as const;

const pad = (n: number, width = 2) => String(n).padStart(width, "0");

/** `2026-11-26T07:00:00.000Z` → `2026112607` (UTC). */
export function hourId(date: Date): string {
  return `${date.getUTCFullYear()}${pad(date.getUTCMonth() + 1)}${pad(date.getUTCDate())}${pad(date.getUTCHours())}`;
}

/** `2026-11-26T07:42:10Z` → `202611260742` (UTC). */
export function minuteId(date: Date): string {
  return `${hourId(date)}${pad(date.getUTCMinutes())}`;
}

/**
 * How long a failed direct insert keeps /health `degraded` (refreshed by every further failure):
 * long enough for a minute-by-minute health check to see it, short enough to clear soon after
 * PostgreSQL is back (a success writes nothing, to keep one Redis request per batch).
 */
export const DIRECT_INSERT_FAILURE_SECONDS = 5 * 60;

/** Key builders for one deployment (`prefix` is REDIS_KEY_PREFIX). */
export function redisKeys(prefix: string) {
  return {
    /** Write-ahead buffer stream: one entry per accepted batch, deleted once stored in PostgreSQL. */
    buffer: `${prefix}buffer`,
    /**
     * Bytes of batch JSON in the buffer stream (kept by the ingest and delete scripts; dropped
     * whenever the stream is empty), checked against BUFFER_MAX_BYTES.
     */
    bufferBytes: `${prefix}buffer:bytes`,
    /**
     * Rows PostgreSQL refused (one entry per row, with SQLSTATE and message) and buffer entries that
     * could not be read. Never trimmed: emptied by `npm run dead-letters -- replay | drop`.
     */
    deadLetter: `${prefix}buffer:dead`,
    /**
     * The last failure of a direct insert (JSON `{ at, error }`), kept DIRECT_INSERT_FAILURE_SECONDS:
     * /health is `degraded` while it exists.
     */
    directInsertFailure: `${prefix}health:direct_insert_failed`,
    /**
     * The random salt of visitor ids for one UTC day (`2026-11-26`), created by the day's first
     * batch and expiring when the day ends (domain/visitor.ts). Never copied anywhere else.
     */
    visitorSalt: (day: string) => `${prefix}visitor-salt:${day}`,
    /** Sorted set: session id → last-seen epoch ms. */
    activeSessions: `${prefix}sessions:active`,
    /**
     * Marker that an event id was accepted, kept REDIS_DEDUPE_SECONDS so resends are neither
     * counted nor buffered twice (PostgreSQL dedupes by event_id beyond that window).
     */
    event: (eventId: string) => `${prefix}ev:${eventId}`,
    /** Per-write-key counter of batches with new events, for the current window (the ceiling). */
    rateLimit: (keyId: string, windowStart: number) => `${prefix}rl:${keyId}:${windowStart}`,
    /**
     * Per-client batch counter for the current window. `clientId` is a hash of the client's
     * address (or session id), never the address itself.
     */
    clientRateLimit: (clientId: string, windowStart: number) => `${prefix}rl:c:${clientId}:${windowStart}`,
    /** Hash of counters for one UTC hour (fields: COUNTER_FIELDS). */
    hourCounters: (hour: string) => `${prefix}h:${hour}:n`,
    /** HyperLogLog of user ids seen in one UTC hour. */
    hourUsers: (hour: string) => `${prefix}h:${hour}:u`,
    /** HyperLogLog of session ids seen in one UTC hour. */
    hourSessions: (hour: string) => `${prefix}h:${hour}:s`,
    /** Hash of counters for one UTC minute. */
    minuteCounters: (minute: string) => `${prefix}m:${minute}:n`,
    /** HyperLogLog of user ids seen in one UTC minute. */
    minuteUsers: (minute: string) => `${prefix}m:${minute}:u`,
  };
}

export type RedisKeys = ReturnType<typeof redisKeys>;

/** Field of a buffer stream entry that holds the batch (`bufferPayload`); written by INGEST_SCRIPT. */
export const BUFFER_FIELD = "b";

/** Fields of a dead-letter stream entry. */
export const DEAD_LETTER_FIELDS = {
  /** Id the entry had in the buffer stream (its millisecond part is when the batch was accepted). */
  entryId: "id",
  /** A buffer entry (`BUFFER_FIELD`'s format): the refused row alone, or the unreadable entry as it was. */
  payload: "b",
  /** Why it could not be stored. */
  error: "error",
  /** PostgreSQL's SQLSTATE (empty for an entry that could not be read). */
  sqlstate: "sqlstate",
} as const;

/** UTC start of the hour named by `hourId` (`2026112607` → 2026-11-26T07:00:00Z). */
export function hourStart(id: string): Date {
  return new Date(Date.UTC(Number(id.slice(0, 4)), Number(id.slice(4, 6)) - 1, Number(id.slice(6, 8)), Number(id.slice(8, 10))));
}
