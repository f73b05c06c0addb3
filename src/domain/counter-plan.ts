/**
 * The counter plan: what one batch adds to the real-time Redis structures, aggregated in the
 * worker so the Lua script runs a handful of commands per batch instead of several per event
 * (Upstash bills per command; docs/ARCHITECTURE.md, invariant 3).
 */
import type { EventRow } from "./event";
import { HOUR_MS, MINUTE_MS } from "../time";

/** Counts to add for one UTC time bucket (an hour, or a minute for the real-time endpoint). */
export interface BucketCounters {
  /** Start of the UTC bucket, epoch ms (a multiple of the bucket length). */
  startMs: number;
  /** Same instant as ISO-8601 UTC, e.g. "2026-11-26T07:00:00.000Z". */
  start: string;
  /** Events in this bucket. */
  total: number;
  /** Of which flagged `bot` (already included in total and in the per-name/category counts). */
  bots: number;
  /** [event_name, count], sorted by event_name (code-unit order). */
  byEventName: [string, number][];
  /** [category, count], sorted by category. */
  byCategory: [string, number][];
  /** Distinct non-null user ids, sorted: the PFADD arguments for the bucket's user HyperLogLog. */
  userIds: string[];
  /** Distinct non-null session ids, sorted: the PFADD arguments for the session HyperLogLog. */
  sessionIds: string[];
}

/** Latest event time per session, for the active-sessions sorted set (ZADD GT by score). */
export interface SessionSeen {
  session_id: string;
  /** Latest `time` of the session's events in this batch, epoch ms (the ZADD score). */
  lastSeenMs: number;
}

/**
 * Everything the Redis script needs from one batch. All arrays are sorted (hours and minutes by
 * time, names and ids by code units), so the same rows always give the same script arguments.
 */
export interface CounterPlan {
  /** Rows the plan covers. */
  events: number;
  /** Per UTC hour: what the hourly reconciliation compares with PostgreSQL. */
  hours: BucketCounters[];
  /** Per UTC minute: what the real-time endpoint sums over its window. */
  minutes: BucketCounters[];
  sessions: SessionSeen[];
}

interface BucketAcc {
  total: number;
  bots: number;
  names: Map<string, number>;
  categories: Map<string, number>;
  users: Set<string>;
  sessions: Set<string>;
}

const byKey = (a: [string, number], b: [string, number]) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);
const byString = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Aggregates accepted rows into per-hour counters, per-minute totals and per-session last-seen
 * times. Pure and deterministic. Pass only the rows that should be counted: if the caller learns
 * that some rows are duplicates of earlier batches before counting, plan the remaining subset.
 *
 * Buckets use the row's (skew-corrected) `time`, not `received_at`, so that late events count in
 * the hour they happened; the hourly reconciliation compares the same buckets in Postgres.
 *
 * @example
 * const plan = planCounters(rows);
 * // plan.hours[0] → { hourStart: "2026-11-26T07:00:00.000Z", total: 3, byEventName: [["click", 2], ["view", 1]], … }
 */
export function planCounters(rows: readonly EventRow[]): CounterPlan {
  const hours = new Map<number, BucketAcc>();
  const minutes = new Map<number, BucketAcc>();
  const sessions = new Map<string, number>();

  for (const row of rows) {
    const t = Date.parse(row.time);
    const bot = row.flags.includes("bot");
    count(hours, t - (t % HOUR_MS), row, bot);
    count(minutes, t - (t % MINUTE_MS), row, bot);
    if (row.session_id !== null) {
      const seen = sessions.get(row.session_id);
      if (seen === undefined || t > seen) sessions.set(row.session_id, t);
    }
  }

  return {
    events: rows.length,
    hours: finish(hours),
    minutes: finish(minutes),
    sessions: [...sessions.keys()].sort(byString).map((session_id) => ({ session_id, lastSeenMs: sessions.get(session_id)! })),
  };
}

function count(buckets: Map<number, BucketAcc>, startMs: number, row: EventRow, bot: boolean): void {
  let acc = buckets.get(startMs);
  if (!acc) {
    acc = { total: 0, bots: 0, names: new Map(), categories: new Map(), users: new Set(), sessions: new Set() };
    buckets.set(startMs, acc);
  }
  acc.total++;
  if (bot) acc.bots++;
  acc.names.set(row.event_name, (acc.names.get(row.event_name) ?? 0) + 1);
  acc.categories.set(row.category, (acc.categories.get(row.category) ?? 0) + 1);
  if (row.user_id !== null) acc.users.add(row.user_id);
  if (row.session_id !== null) acc.sessions.add(row.session_id);
}

function finish(buckets: Map<number, BucketAcc>): BucketCounters[] {
  return [...buckets.keys()]
    .sort((a, b) => a - b)
    .map((startMs) => {
      const acc = buckets.get(startMs)!;
      return {
        startMs,
        start: new Date(startMs).toISOString(),
        total: acc.total,
        bots: acc.bots,
        byEventName: [...acc.names].sort(byKey),
        byCategory: [...acc.categories].sort(byKey),
        userIds: [...acc.users].sort(byString),
        sessionIds: [...acc.sessions].sort(byString),
      };
    });
}
