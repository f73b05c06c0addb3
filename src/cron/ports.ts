/**
 * The drain's ports (its unit tests fake them: src/cron/drain.test.ts) and the data the scheduled
 * jobs exchange with their stores. Each method is ONE round trip (one Redis request or one
 * PostgreSQL statement, except where noted), so a job can count its subrequests by counting calls
 * (see `countCalls`). The other jobs take the adapters themselves: `src/storage/buffer-store.ts`
 * (Redis) and `src/storage/cron-store.ts` (PostgreSQL).
 */
import type { EventRow } from "../domain/event";

/** One entry of the write-ahead buffer stream, decoded. */
export type BufferEntry =
  | { id: string; rows: EventRow[] }
  /** Not a buffer entry this code can read: `raw` is what the stream held, `error` why it failed. */
  | { id: string; invalid: string; raw: string };

export interface DeadLetter {
  /** The buffer entry it came from. */
  id: string;
  /** A buffer entry (`{"v":1,"rows":[…]}`): the refused row alone, or an unreadable entry as it was. */
  raw: string;
  /** `SQLSTATE: message` from PostgreSQL, or why the entry could not be read. */
  error: string;
  /** PostgreSQL's SQLSTATE, or null when the entry never reached PostgreSQL (unreadable). */
  sqlstate: string | null;
}

/** The Redis side of the drain: the buffer stream and the dead-letter stream. */
export interface BufferPort {
  /** Up to `count` entries in stream order, strictly after `afterId` (from the head when null). */
  read(afterId: string | null, count: number): Promise<BufferEntry[]>;
  /** Deletes stored entries from the buffer. */
  remove(ids: readonly string[]): Promise<void>;
  /** Adds dead letters and deletes the entries they came from out of the buffer, atomically (one MULTI). */
  deadLetter(entries: readonly DeadLetter[]): Promise<void>;
  /** Epoch ms of the oldest pending entry (the millisecond part of its id), or null when empty. */
  oldestPendingMs(): Promise<number | null>;
}

/** The PostgreSQL side of the drain. */
export interface EventSink {
  /** `INSERT_EVENTS`: stores rows exactly once by event_id; resolves to how many were new. */
  insert(rows: readonly EventRow[]): Promise<number>;
  /** Creates missing daily partitions (`postgres` tier; resolves to 0 elsewhere without a round trip). */
  ensurePartitions(now: Date): Promise<number>;
}

/** Redis hour counters, as the ingest script writes them. */
export interface HourCounts {
  total: number;
  /** event_name → count. */
  byEvent: Map<string, number>;
  /**
   * Events counted under the overflow bucket: their names came after the hour's cap of distinct
   * names (REDIS_MAX_EVENT_NAMES_PER_HOUR), so none of them is in `byEvent`. 0 when absent.
   */
  otherEvents?: number;
}

export interface DirtyBucket {
  granularity: "hour" | "day";
  /** ISO-8601 bucket start. */
  bucket: string;
}

export interface ReconcileRow {
  hour: Date;
  event_name: string;
  raw_count: number;
  rollup_count: number;
  /** `analytics_raw_floor()`: the start of the oldest raw data still stored. */
  raw_floor: Date;
}

/** One (closed day, dimension) of the dimension rollup next to the day's raw count. */
export interface DimensionDayRow {
  day: Date;
  dimension: string;
  raw_count: number;
  rollup_count: number;
  /** `analytics_raw_floor()`: the start of the oldest raw data still stored. */
  raw_floor: Date;
}

export interface PolicyJob {
  job_id: number;
  proc_name: string;
  relation: string;
  last_run_status: string | null;
  stale: boolean;
}
