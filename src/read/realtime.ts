/**
 * GET /realtime: the last minutes from the per-minute Redis counters written on ingestion (events
 * by name and category, active sessions, unique users), in one Redis request (one Lua script).
 */
import type { Redis } from "@upstash/redis/cloudflare";
import { MINUTE_MS } from "../time";
import * as z from "../zod";
import { REALTIME_ARGV, REALTIME_SCRIPT } from "../storage/lua/realtime";
import { inSlotOrder } from "../storage/lua/contract";
import { COUNTER_FIELDS, minuteId, redisKeys, type RedisKeys } from "../storage/redis-keys";
import { NO_STORE } from "./cache";
import { readEndpoint } from "./endpoint";
import { count, intParam, isoTime } from "./fields";

/** Minute keys live 2 hours in Redis, so the real-time window is at most one hour. */
export const MAX_REALTIME_MINUTES = 60;
/** "Active" sessions: last seen within this many milliseconds. */
export const ACTIVE_SESSION_MS = 5 * MINUTE_MS;
/**
 * Names per list in a `realtime` answer (`limit`): the lists are sorted by count and cut there.
 * The Redis counters themselves hold at most REDIS_MAX_EVENT_NAMES_PER_HOUR names per hour.
 */
export const REALTIME_LIMIT = { default: 100, max: 1_000 } as const;

export const RealtimeQuerySchema = z.strictObject({
  minutes: intParam(1, MAX_REALTIME_MINUTES, "Window length in minutes, ending with the current minute (≤ 60: minute counters live 2 h).")
    .default(MAX_REALTIME_MINUTES),
  limit: intParam(1, REALTIME_LIMIT.max, "Most frequent event names (and categories) listed; `truncated` tells when there were more.").default(
    REALTIME_LIMIT.default,
  ),
});
export type RealtimeQuery = z.output<typeof RealtimeQuerySchema>;

const nameCount = <K extends string>(key: K) =>
  z.array(z.object({ [key]: z.string(), event_count: count("Events in the window.") } as Record<K, z.ZodString> & { event_count: z.ZodNumber }));

export const RealtimeResponseSchema = z
  .object({
    minutes: z.number().int(),
    from: isoTime("Start of the first minute of the window"),
    to: isoTime("Now"),
    event_count: count("Events in the window."),
    by_event_name: nameCount("event_name").describe("Most frequent first, at most `limit`."),
    by_category: nameCount("category").describe("Most frequent first, at most `limit`."),
    truncated: z.boolean().describe("More event names or categories than `limit`: the lists stop there."),
    other: z
      .object({
        event_names: count("Events whose name came after the hour's cap of distinct names in Redis (REDIS_MAX_EVENT_NAMES_PER_HOUR): in `event_count`, not in `by_event_name`."),
        categories: count("Events whose category came after the hour's cap of distinct categories (REDIS_MAX_CATEGORIES_PER_HOUR)."),
      })
      .describe("The overflow bucket: both 0 unless a cap was reached in the window."),
    active_sessions: count("Sessions seen in the last 5 minutes."),
    unique_users_estimate: count("Distinct users in the window (HyperLogLog estimate, standard error 0.81%)."),
  })
  .meta({ id: "RealtimeResponse" });
export type RealtimeResponse = z.output<typeof RealtimeResponseSchema>;

export interface RealtimeSnapshot {
  /** Start of the first minute of the window. */
  from: Date;
  eventCount: number;
  byEventName: Map<string, number>;
  byCategory: Map<string, number>;
  activeSessions: number;
  uniqueUsersEstimate: number;
  /** Events counted under the overflow bucket (names, categories past the hour's cap). */
  otherEvents: number;
  otherCategories: number;
}

/** The Redis side of the read API, built once per env (src/services.ts). */
export class RedisRealtimeStore {
  private readonly keys: RedisKeys;
  private readonly script;

  constructor(redis: Redis, prefix: string) {
    this.keys = redisKeys(prefix);
    // EVALSHA, falling back to EVAL on NOSCRIPT (the client does it; only after a script flush).
    this.script = redis.createScript<Array<string | number>>(REALTIME_SCRIPT);
  }

  /**
   * The `minutes` UTC minutes ending with the one holding `now`, and sessions seen since
   * `now - activeMs`.
   */
  async snapshot(now: Date, minutes: number, activeMs: number): Promise<RealtimeSnapshot> {
    const ids: string[] = [];
    const currentMinute = Math.floor(now.getTime() / 60_000) * 60_000;
    for (let i = minutes - 1; i >= 0; i--) ids.push(minuteId(new Date(currentMinute - i * 60_000)));
    const keys = [...ids.map((id) => this.keys.minuteCounters(id)), ...ids.map((id) => this.keys.minuteUsers(id)), this.keys.activeSessions];
    const reply = await this.script.exec(keys, inSlotOrder(REALTIME_ARGV, { n: String(ids.length), active_since_ms: String(now.getTime() - activeMs) }));

    const snapshot: RealtimeSnapshot = {
      from: new Date(currentMinute - (minutes - 1) * 60_000),
      eventCount: 0,
      byEventName: new Map(),
      byCategory: new Map(),
      uniqueUsersEstimate: Number(reply[0] ?? 0),
      activeSessions: Number(reply[1] ?? 0),
      otherEvents: 0,
      otherCategories: 0,
    };
    const eventPrefix = COUNTER_FIELDS.event("");
    const categoryPrefix = COUNTER_FIELDS.category("");
    for (let i = 2; i + 1 < reply.length; i += 2) {
      // The client JSON-parses replies it can; fields always carry a prefix, so they stay strings.
      const field = String(reply[i]);
      const value = Number(reply[i + 1]);
      if (field === COUNTER_FIELDS.total) snapshot.eventCount = value;
      else if (field === COUNTER_FIELDS.otherEvents) snapshot.otherEvents = value;
      else if (field === COUNTER_FIELDS.otherCategories) snapshot.otherCategories = value;
      else if (field.startsWith(eventPrefix)) snapshot.byEventName.set(field.slice(eventPrefix.length), value);
      else if (field.startsWith(categoryPrefix)) snapshot.byCategory.set(field.slice(categoryPrefix.length), value);
    }
    return snapshot;
  }
}

export const realtimeEndpoint = readEndpoint({
  path: "/realtime",
  summary: "The last minutes from Redis: events by name and category, active sessions, unique users",
  description: "Read from the per-minute Redis counters written on ingestion (visible within a second), in one Redis request. Never cached.",
  query: RealtimeQuerySchema,
  ok: { description: "The window's counters.", schema: RealtimeResponseSchema, cached: false },
  async handle({ minutes, limit }, stores, now) {
    const snapshot = await stores.realtime.snapshot(now, minutes, ACTIVE_SESSION_MS);
    const ranked = <K extends string>(counts: Map<string, number>, key: K) =>
      [...counts]
        .sort(([a, x], [b, y]) => y - x || (a < b ? -1 : a > b ? 1 : 0))
        .slice(0, limit)
        .map(([name, n]) => ({ [key]: name, event_count: n }) as Record<K, string> & { event_count: number });
    return {
      cacheControl: NO_STORE,
      body: {
        minutes,
        from: snapshot.from.toISOString(),
        to: now.toISOString(),
        event_count: snapshot.eventCount,
        by_event_name: ranked(snapshot.byEventName, "event_name"),
        by_category: ranked(snapshot.byCategory, "category"),
        truncated: snapshot.byEventName.size > limit || snapshot.byCategory.size > limit,
        other: { event_names: snapshot.otherEvents, categories: snapshot.otherCategories },
        active_sessions: snapshot.activeSessions,
        unique_users_estimate: snapshot.uniqueUsersEstimate,
      },
    };
  },
});
