/**
 * GET /checks: the hourly reconciliation rows (Redis vs raw vs rollup counts) of a range of hours,
 * with the dimension rollup's day checks under the hour their day starts.
 */
import { DAY_MS, HOUR_MS } from "../time";
import * as z from "../zod";
import type { SqlStatement } from "../storage/sql";
import { NO_STORE } from "./cache";
import { readEndpoint } from "./endpoint";
import { intParam, isoTime } from "./fields";
import { rangeOrThrow, timeParam, type RangeRule } from "./range";
import { iso, num, numOrNull, type DriverRow, type ReadDatabase } from "./sql";

/** Hours, at most 31 days (one row per checked hour and scope), by default the last 24 hours. */
export const CHECKS_RANGE: RangeRule = { widthMs: HOUR_MS, defaultSpanMs: 24 * HOUR_MS, maxSpanMs: 31 * DAY_MS, capLabel: "checks" };

export const ChecksQuerySchema = z.strictObject({
  from: timeParam(`Start of the checked hours, inclusive (aligned down to the hour). Default: 24 h before \`to\`.`),
  to: timeParam("End of the checked hours, exclusive (aligned up to the hour). Default: the end of the current hour."),
  limit: intParam(1, 10_000, "At most this many rows; `truncated` tells when there were more.").default(1_000),
});
export type ChecksQuery = z.output<typeof ChecksQuerySchema>;

export const CheckRowSchema = z
  .object({
    hour: isoTime("Checked hour"),
    scope: z
      .string()
      .describe(
        "'*' for the hour's total; `dimension:<name>` for a closed day's dimension rollup (all events against raw; `hour` is the day's start, `redis_count` null); otherwise the event_name compared.",
      ),
    redis_count: z.number().int().nullable(),
    raw_count: z.number().int(),
    rollup_count: z.number().int(),
    drift: z.number().int(),
    status: z.enum(["match", "drift"]),
    action: z.string().nullable(),
    checked_at: isoTime("When the comparison ran"),
  })
  .meta({ id: "CheckRow" });
/** A stored reconciliation row: what the hourly job recorded, and when. */
export type CheckRow = z.output<typeof CheckRowSchema>;

export const ChecksResponseSchema = z
  .object({
    from: isoTime("Aligned start, inclusive"),
    to: isoTime("Aligned end, exclusive"),
    truncated: z.boolean().describe("More rows matched than `limit`."),
    rows: z.array(CheckRowSchema).describe("Ordered by hour, scope, checked_at."),
  })
  .meta({ id: "ChecksResponse" });
export type ChecksResponse = z.output<typeof ChecksResponseSchema>;

/**
 * The reconciliation rows (`analytics_checks`) of the hours in [from, to), ordered by hour, scope
 * and checked_at; `limit + 1` rows at most, so the caller can tell whether it was truncated.
 */
export function checksInRange(from: Date, to: Date, limit: number): SqlStatement {
  return {
    text: `SELECT ${iso("hour")} AS hour, scope, redis_count, raw_count, rollup_count, drift, status, action,
  ${iso("checked_at")} AS checked_at
FROM analytics_checks
WHERE hour >= $1::timestamptz AND hour < $2::timestamptz
ORDER BY analytics_checks.hour, scope COLLATE "C", analytics_checks.checked_at
LIMIT $3::integer + 1`,
    values: [from.toISOString(), to.toISOString(), limit],
  };
}

/** At most `limit` rows, and whether more matched. */
export async function readChecks(db: ReadDatabase, from: Date, to: Date, limit: number): Promise<{ truncated: boolean; rows: CheckRow[] }> {
  const result = await db.rows<DriverRow<CheckRow>>(checksInRange(from, to, limit));
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

export const checksEndpoint = readEndpoint({
  path: "/checks",
  summary: "Reconciliation rows: Redis vs raw vs rollup counts per checked hour",
  description: "Rows of `analytics_checks` for the hours in [from, to) (≤ 31 days, default the last 24 h). Never cached.",
  query: ChecksQuerySchema,
  ok: { description: "Ordered by hour, scope, checked_at.", schema: ChecksResponseSchema, cached: false },
  async handle(query, stores, now) {
    const range = rangeOrThrow(query, CHECKS_RANGE, now);
    const result = await readChecks(stores.postgres, range.from, range.to, query.limit);
    // A later hourly run appends rows for the same hours: never cached.
    return { cacheControl: NO_STORE, body: { from: range.from.toISOString(), to: range.to.toISOString(), truncated: result.truncated, rows: result.rows } };
  },
});
