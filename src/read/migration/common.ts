/**
 * What the migration-health endpoints (GET /api/v1/analytics/migration/*, one file each in this
 * folder) share: their range rule, parameters and error set, the schema helpers of their answers,
 * and how their single statement's JSON document is read. Every answer is one SQL statement
 * (answered as one JSON document) or one Redis request, and is never cached.
 */
import { DAY_MS, HOUR_MS } from "../../time";
import * as z from "../../zod";
import type { SqlStatement } from "../../storage/sql";
import { errorResponse } from "../errors";
import { INTERVAL_MS, INTERVALS, rangeOrThrow, timeParam as rangeTimeParam, type Interval, type TimeRange } from "../range";
import type { ReadDatabase } from "../sql";

/** Latency rows are kept 30 days; every migration range is capped at 31 days of hours or days. */
export const MIGRATION_RANGE_CAP_MS = 31 * DAY_MS;
export const MIGRATION_DEFAULT_SPAN_MS = { hour: 24 * HOUR_MS, day: 30 * DAY_MS } as const;

/** The range of a migration question in `interval` buckets (≤ 31 days either way). */
export function migrationRange(input: { from?: string | undefined; to?: string | undefined }, interval: Interval, capLabel: string, now: Date): TimeRange {
  const rule = { widthMs: INTERVAL_MS[interval], defaultSpanMs: MIGRATION_DEFAULT_SPAN_MS[interval], maxSpanMs: MIGRATION_RANGE_CAP_MS, capLabel };
  return rangeOrThrow(input, rule, now);
}

/** The failures every migration endpoint documents. */
export const MIGRATION_ERRORS = {
  400: errorResponse("A parameter is invalid; the message names it (`invalid_parameter`)."),
  401: errorResponse("Missing or wrong bearer token, or no READ_TOKEN configured."),
  503: errorResponse("Redis or PostgreSQL did not answer (`storage_unavailable`, `details.store`), or misconfigured."),
} as const;

const TIME_ERROR = "must be an ISO-8601 UTC date-time with a timezone (2026-11-26T07:00:00Z) or a date (2026-11-26, midnight UTC)";
const timeParam = (what: string) => rangeTimeParam(what, TIME_ERROR);

export const rangeParams = {
  from: timeParam("Start, inclusive; aligned down to the bucket. Default: 24 h (hour) or 30 days (day) before `to`."),
  to: timeParam("End, exclusive; aligned up to the bucket. Default: the end of the current bucket."),
};

export const intervalParam = z
  .enum(INTERVALS, { error: "must be hour or day" })
  .default("hour")
  .describe("Bucket width: `hour` or `day`; the range is at most 31 days either way.");

export const EmptyQuerySchema = z.strictObject({});

export const isoTime = (what: string) => z.string().describe(`${what} (ISO-8601, UTC).`);
export const count = (what: string) => z.number().int().min(0).describe(what);
export const ms = (what: string) => z.number().nullable().describe(`${what}, milliseconds (null without samples).`);

/** Bucket widths of the migration endpoints, as PostgreSQL intervals. */
export const WIDTH_SQL = { hour: "1 hour", day: "24 hours" } as const;

/** Sends `statement` (one round trip) and returns the JSON document of its single `doc` column. */
export async function readDoc<T>(db: ReadDatabase, statement: SqlStatement): Promise<T> {
  const [row] = await db.rows<{ doc: unknown }>(statement);
  // The driver may hand jsonb back parsed or as text.
  const value = row?.doc;
  return (typeof value === "string" ? JSON.parse(value) : value) as T;
}
