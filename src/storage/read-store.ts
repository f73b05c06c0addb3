/**
 * Adapters behind the read API, built once per env by the composition root (src/services.ts).
 * Each method is exactly one round trip: one SQL statement (sql-read.ts) or one Redis request
 * (one Lua script).
 */
import type { Redis } from "@upstash/redis/cloudflare";
import type { Interval } from "../domain/read-params";
import type { Sql } from "./clients";
import {
  checksInRange,
  popularAssetTypesWithOpenDay,
  series,
  summary,
  type CheckSqlRow,
  type PopularSqlRow,
  type SeriesSqlRow,
  type SummarySqlRow,
} from "./sql-read";
import type { CheckRow as RecordedCheck, SqlStatement } from "./sql";
import { REALTIME_ARGV, REALTIME_SCRIPT } from "./lua/realtime";
import { inSlotOrder } from "./lua/contract";
import { COUNTER_FIELDS, minuteId, redisKeys, type RedisKeys } from "./redis-keys";

/** bigint columns arrive as strings from the driver; counts stay far below 2^53. */
const num = (value: string | number | null | undefined): number => Number(value ?? 0);
const numOrNull = (value: string | number | null | undefined): number | null => (value === null || value === undefined ? null : Number(value));

export interface SummaryRow {
  bucket: string;
  event_name: string;
  category: string;
  event_count: number;
  unique_users: number;
  unique_sessions: number;
  complete: boolean;
  /** Present (true) when imported legacy aggregates contributed to the row. */
  imported?: true;
}

export interface SeriesRow {
  bucket: string;
  event_count: number;
  percentiles: (number | null)[] | null;
  complete: boolean;
  imported: boolean;
}

export interface PopularRow {
  asset_type: string;
  generation_count: number;
  unique_creators: number;
  /** Present (true) when imported legacy aggregates contributed to the row. */
  imported?: true;
}

/** A stored reconciliation row: what the hourly job recorded, and when. */
export interface CheckRow extends RecordedCheck {
  checked_at: string;
}

/** The PostgreSQL questions of the read API. */
export class PostgresReadStore {
  constructor(private readonly sql: Sql) {}

  private async run<T>(statement: SqlStatement): Promise<T[]> {
    return (await this.sql.query(statement.text, [...statement.values])) as T[];
  }

  /** Rollup rows for [from, to); `clean` when the whole range is closed and free of dirty buckets. */
  async summary(
    interval: Interval,
    from: Date,
    to: Date,
    filter: { eventName?: string | undefined; category?: string | undefined },
    maxRows: number,
  ): Promise<{ clean: boolean; truncated: boolean; rows: SummaryRow[] }> {
    const result = await this.run<SummarySqlRow>(summary(interval, from, to, filter, maxRows));
    const rows: SummaryRow[] = [];
    for (const r of result) {
      if (r.bucket === null) continue;
      rows.push({
        bucket: r.bucket,
        event_name: r.event_name ?? "",
        category: r.category ?? "",
        event_count: num(r.event_count),
        unique_users: num(r.unique_users),
        unique_sessions: num(r.unique_sessions),
        complete: r.complete === true,
        ...(r.imported === true ? { imported: true as const } : {}),
      });
    }
    const truncated = rows.length > maxRows;
    if (truncated) {
      // Cut at a bucket boundary: a partial bucket would read as real (smaller) totals.
      const lastBucket = rows[maxRows]!.bucket;
      while (rows.length > 0 && rows[rows.length - 1]!.bucket === lastBucket) rows.pop();
    }
    return { clean: result[0]?.clean === true, truncated, rows };
  }

  /** One row per bucket of [from, to), gap-filled. */
  async series(
    interval: Interval,
    from: Date,
    to: Date,
    eventName: string,
    percentiles?: { fractions: readonly number[]; property: string },
  ): Promise<SeriesRow[]> {
    const result = await this.run<SeriesSqlRow>(series(interval, from, to, eventName, percentiles));
    return result.map((r) => ({
      bucket: r.bucket,
      event_count: num(r.event_count),
      percentiles: percentiles ? (r.percentiles ?? null) : null,
      complete: r.complete === true,
      imported: r.imported === true,
    }));
  }

  async popularAssetTypes(from: Date, to: Date, limit: number): Promise<{ clean: boolean; rows: PopularRow[] }> {
    const result = await this.run<PopularSqlRow>(popularAssetTypesWithOpenDay(from, to, limit));
    const rows = result
      .filter((r) => r.asset_type !== null)
      .map((r) => ({
        asset_type: r.asset_type!,
        generation_count: num(r.generation_count),
        unique_creators: num(r.unique_creators),
        ...(r.imported === true ? { imported: true as const } : {}),
      }));
    return { clean: result[0]?.clean === true, rows };
  }

  /** At most `limit` rows, and whether more matched. */
  async checks(from: Date, to: Date, limit: number): Promise<{ truncated: boolean; rows: CheckRow[] }> {
    const result = await this.run<CheckSqlRow>(checksInRange(from, to, limit));
    const rows = result.slice(0, limit).map((r) => ({
      hour: r.hour,
      scope: r.scope,
      redis_count: numOrNull(r.redis_count),
      raw_count: num(r.raw_count),
      rollup_count: num(r.rollup_count),
      drift: num(r.drift),
      status: r.status,
      action: r.action,
      checked_at: r.checked_at,
    }));
    return { truncated: result.length > limit, rows };
  }
}

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

/** The Redis side of the read API. */
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
