/**
 * GET /realtime/minutes: the live panel's series, events per UTC minute over the last minutes from
 * the per-minute Redis counters, in one Redis request (one Lua script).
 */
import type { Redis } from "@upstash/redis/cloudflare";
import * as z from "../../zod";
import { MINUTE_TOTALS_SCRIPT } from "../../storage/lua/minute-totals";
import { minuteId, redisKeys, type RedisKeys } from "../../storage/redis-keys";
import { NO_STORE } from "../cache";
import { readEndpoint } from "../endpoint";
import { MAX_REALTIME_MINUTES } from "../realtime";
import { MIGRATION_ERRORS, count, isoTime } from "./common";

export const MinutesQuerySchema = z.strictObject({
  minutes: z.coerce
    .number({ error: "must be a whole number" })
    .int({ error: "must be a whole number" })
    .min(1, { error: "must be at least 1" })
    .max(MAX_REALTIME_MINUTES, { error: `must be at most ${MAX_REALTIME_MINUTES}` })
    .default(MAX_REALTIME_MINUTES)
    .describe("Minutes ending with the current one (≤ 60: minute counters live 2 h)."),
});

const MinutePointSchema = z.object({ minute: isoTime("Minute start"), event_count: count("Events counted in Redis for the minute (by event time).") });
type MinutePoint = z.output<typeof MinutePointSchema>;

export const MinutesResponseSchema = z
  .object({
    minutes: z.number().int(),
    from: isoTime("Start of the first minute"),
    to: isoTime("Now"),
    points: z.array(MinutePointSchema),
  })
  .meta({ id: "RealtimeMinutesResponse" });
export type MinutesResponse = z.output<typeof MinutesResponseSchema>;

/** The Redis side of the live series, built once per env (src/services.ts). */
export class RedisMinuteTotals {
  private readonly keys: RedisKeys;
  private readonly script;

  constructor(redis: Redis, prefix: string) {
    this.keys = redisKeys(prefix);
    this.script = redis.createScript<number[]>(MINUTE_TOTALS_SCRIPT);
  }

  /** Events per UTC minute for the `minutes` minutes ending with the one holding `now`, oldest first. */
  async minuteTotals(now: Date, minutes: number): Promise<MinutePoint[]> {
    const current = Math.floor(now.getTime() / 60_000) * 60_000;
    const starts: number[] = [];
    for (let i = minutes - 1; i >= 0; i--) starts.push(current - i * 60_000);
    const totals = await this.script.exec(
      starts.map((ms) => this.keys.minuteCounters(minuteId(new Date(ms)))),
      [],
    );
    return starts.map((ms, i) => ({ minute: new Date(ms).toISOString(), event_count: Number(totals[i] ?? 0) }));
  }
}

export const minutesEndpoint = readEndpoint({
  path: "/realtime/minutes",
  tag: "migration",
  errors: MIGRATION_ERRORS,
  store: "redis",
  summary: "Events per minute over the last minutes, from the Redis minute counters",
  description: "The live panel's series: one point per UTC minute, oldest first, in one Redis request. Never cached.",
  query: MinutesQuerySchema,
  ok: { description: "One point per minute.", schema: MinutesResponseSchema, cached: false },
  async handle({ minutes }, stores, now) {
    const points = await stores.minutes.minuteTotals(now, minutes);
    return { cacheControl: NO_STORE, body: { minutes, from: points[0]!.minute, to: now.toISOString(), points } };
  },
});
