/**
 * GET /breakdown: events, visitors and users per value of one dimension (page, referrer, campaign,
 * country, device, browser, OS, or any event property) over whole UTC days, ranked, in one
 * statement: the daily dimension rollup for closed days plus raw rows for the rest, or raw rows
 * alone for a property.
 */
import { DIMENSIONS, type Dimension } from "../domain/dimensions";
import { MAX_KEY_LENGTH } from "../domain/limits";
import { DAY_MS } from "../time";
import * as z from "../zod";
import { BUCKET_ORIGIN, type SqlStatement } from "../storage/sql";
import { cacheControl } from "./cache";
import { readEndpoint } from "./endpoint";
import { count, intParam, isoTime, nameParam } from "./fields";
import { FROM_HELP, TO_HELP, rangeOrThrow, timeParam, type RangeRule } from "./range";
import { WIDTH, bounds, dirty, num, type DriverRow, type OrNull, type ReadDatabase } from "./sql";
import { RAW_RANGE_CAP_MS } from "./series";

/** A dimension from the daily rollup: whole days, at most 5 years (its retention), default 30 days. */
export const BREAKDOWN_RANGE: RangeRule = { widthMs: DAY_MS, defaultSpanMs: 30 * DAY_MS, maxSpanMs: 1_827 * DAY_MS, capLabel: "breakdown" };
/** A property is read from raw rows: the raw-read cap. */
export const PROPERTY_BREAKDOWN_RANGE: RangeRule = { ...BREAKDOWN_RANGE, maxSpanMs: RAW_RANGE_CAP_MS, capLabel: "breakdown by property (raw rows)" };

const PROPERTY_PREFIX = "property:";
/** A property key: the rules of a name parameter (non-empty, no control characters, bounded). */
const propertyKey = nameParam("A top-level key of `properties`.").max(MAX_KEY_LENGTH);

/** `page_path`, … or `{ property: "plan" }` for `property:plan`. */
export type BreakdownBy = Dimension | { property: string };

const DIMENSION_HELP = `One of ${DIMENSIONS.map((d) => `\`${d}\``).join(", ")}, or \`property:<key>\` for a top-level event property (range ≤ 7 days, read from raw rows).`;

const dimensionParam = z
  .string({ error: "is required" })
  .transform((value, ctx): BreakdownBy => {
    if ((DIMENSIONS as readonly string[]).includes(value)) return value as Dimension;
    if (value.startsWith(PROPERTY_PREFIX)) {
      const key = value.slice(PROPERTY_PREFIX.length);
      if (propertyKey.safeParse(key).success) return { property: key };
      ctx.addIssue({ code: "custom", message: `property:<key> needs a key of 1 to ${MAX_KEY_LENGTH} printable characters` });
      return z.NEVER;
    }
    ctx.addIssue({ code: "custom", message: `must be one of ${DIMENSIONS.join(", ")} or property:<key>` });
    return z.NEVER;
  })
  .describe(DIMENSION_HELP);

export const BreakdownQuerySchema = z.strictObject({
  dimension: dimensionParam,
  event_name: nameParam("Only events of this name (e.g. `page_view`). Default: every event.").optional(),
  from: timeParam(`${FROM_HELP.replace("the bucket boundary", "midnight UTC")} Default span: 30 days.`),
  to: timeParam(TO_HELP.replace("the bucket boundary", "midnight UTC").replace("bucket", "day")),
  limit: intParam(1, 1000, "How many values, most events first.").default(10),
});
export type BreakdownQuery = z.output<typeof BreakdownQuerySchema>;

export const BreakdownRowSchema = z
  .object({
    value: z.string().nullable().describe("The dimension's value; null for events without one (no referrer, no country, …)."),
    events: count("Events with this value."),
    visitors: count(
      "Sum over the days of each day's distinct anonymous visitors (a visitor id lives one UTC day, so a visitor active on k days counts k times; as Plausible reports multi-day ranges).",
    ),
    users: count("Sum over the days of each day's distinct user_id values (0 when the events carry none)."),
  })
  .meta({ id: "BreakdownRow" });
export type BreakdownRow = z.output<typeof BreakdownRowSchema>;

export const BreakdownResponseSchema = z
  .object({
    dimension: z.string().describe("As asked, e.g. `page_path` or `property:plan`."),
    event_name: z.string().nullable(),
    from: isoTime("Aligned start (midnight), inclusive"),
    to: isoTime("Aligned end (midnight), exclusive"),
    complete: z.boolean().describe("Every day of the range is closed and clean."),
    truncated: z.boolean().describe("More values exist than `limit`."),
    rows: z.array(BreakdownRowSchema).describe("Most events first, then by value (byte order), null last."),
  })
  .meta({ id: "BreakdownResponse" });
export type BreakdownResponse = z.output<typeof BreakdownResponseSchema>;

type BreakdownSqlRow = { clean: boolean } & OrNull<DriverRow<BreakdownRow>>;

/**
 * Where `bounds` finds the newest day the rollup holds: a day with events has rows for every
 * dimension with event_name '' (all events), and this reads the newest of them from the end of one
 * primary-key range instead of scanning the table.
 */
const NEWEST_ROLLED_UP_DAY = `analytics_daily_dimensions WHERE dimension = 'page_host' AND event_name = ''`;

/** The rollup rows (`r`) of the asked dimension and event name ('' = all events), on any day. */
const rollupKey = (r: string) => `${r}.dimension = $5::text AND ${r}.event_name = coalesce($3::text, '')`;

/** {@link rollupKey}'s rows on the days of [$1, $2). */
const rollupRows = (r: string) => `${rollupKey(r)}
    AND ${r}.bucket >= $1::timestamptz AND ${r}.bucket < $2::timestamptz`;

/**
 * The `limit + 1` values of `by` with the most events over the days of [from, to), optionally for
 * one event name. Visitors and users are summed from each day's distinct counts.
 * - A dimension: closed days from `analytics_daily_dimensions` (the rows for one event name, or
 *   event_name = '' for all), the open day, days the cron has not rolled up yet (the raw horizon,
 *   see src/read/sql.ts) from raw rows; dirty days keep the rollup's value and make it not `clean`.
 *   When every day of the range is rolled up, the ranking usually comes from each day's top values
 *   alone (see topOfRankedDays), with the same answer.
 * - A property (`properties ->> key`, JSON text of the value): raw rows only; the caller caps the range.
 * The raw part groups and counts distinct values under COLLATE "C": equality is the same for
 * every deterministic collation, so the answer is too, but a database collation such as
 * C.UTF-8 or en_US.UTF-8 compares through strcoll and without abbreviated sort keys; measured on
 * PostgreSQL 15 (C.UTF-8), 333,000 events today: pages with today 630 → 513 ms, countries
 * 587 → 425 ms, `property:plan` over 7 days 1,858 → 1,374 ms.
 * The rollup's days are bounded by $1/$2 themselves as well as by `b`: the planner sees the values
 * of parameters but not of a CTE's columns, and without them it chose the `bucket` index and
 * filtered every dimension's rows (1 s at 10M events) instead of the key's range (index-only, 50 ms).
 * Always at least one row (`clean` on each; `value` etc. null in the single row of an empty answer).
 */
export function breakdown(by: BreakdownBy, from: Date, to: Date, eventName: string | null, limit: number): SqlStatement {
  const w = WIDTH.day;
  const values: unknown[] = [from.toISOString(), to.toISOString(), eventName, limit];
  let value: string;
  let rollup = "";
  if (typeof by === "string") {
    // `by` is one of DIMENSIONS (checked by the schema): a column name, never user text.
    value = `e.${by}`;
    values.push(by);
    rollup = `SELECT nullif(every_day.value, '') AS value, every_day.event_count AS events, every_day.unique_visitors AS visitors,
    every_day.unique_users AS users
  FROM analytics_daily_dimensions every_day, b
  WHERE ${rollupRows("every_day")}
    AND every_day.bucket < b.raw_from
  UNION ALL
  `;
  } else {
    value = `e.properties ->> $5::text`;
    values.push(by.property);
  }
  const rawFrom = typeof by === "string" ? "greatest(b.from_ts, b.raw_from)" : "b.from_ts";
  const summed = `SELECT value, sum(events)::bigint AS events, sum(visitors)::bigint AS visitors, sum(users)::bigint AS users
  FROM days GROUP BY value
  ORDER BY sum(events) DESC, value COLLATE "C" NULLS LAST
  LIMIT $4::integer + 1`;
  return {
    text: `WITH ${bounds(w, NEWEST_ROLLED_UP_DAY)}, ${dirty("day")}, days AS (
  ${rollup}SELECT ${value} COLLATE "C" AS value, count(*) AS events, count(DISTINCT e.visitor_id COLLATE "C") AS visitors,
    count(DISTINCT e.user_id COLLATE "C") AS users
  FROM analytics_events_ts e, b
  WHERE ($3::text IS NULL OR e.event_name = $3::text) AND e.time >= ${rawFrom} AND e.time < b.to_ts
  GROUP BY date_bin(${w}, e.time, ${BUCKET_ORIGIN}), ${value} COLLATE "C"
), ${typeof by === "string" && limit <= MAX_RANKED_LIMIT ? topOfRankedDays(summed, 2 * (limit + 1)) : `top AS (
  ${summed}
)`}
SELECT (b.to_ts <= b.open_bucket AND NOT EXISTS (SELECT 1 FROM dirty)) AS clean,
  t.value, t.events, t.visitors, t.users
FROM b LEFT JOIN top t ON true
ORDER BY t.events DESC, t.value COLLATE "C" NULLS LAST`,
    values,
  };
}

/**
 * The largest `limit` whose ranking is first tried from each day's top values: it looks up
 * 2 × (limit + 1) candidates a day, and from about 50 on (100 a day) the lookups cost more than
 * summing every row (measured at 10M events, 30 days of 5,000 pages: limit 100, 131 vs 89 ms).
 * Migration 0023 ranks 101 values a day, enough for any limit up to this one.
 */
const MAX_RANKED_LIMIT = 49;

/**
 * The CTE `top` of a dimension for a `limit` ≤ MAX_RANKED_LIMIT. When every day of the range comes
 * from the rollup, the candidates are the values ranked 1..`top` by events on some day of the range
 * (the `rank` of migration 0023), each summed over every day of the range by key lookups. Any other
 * value is outside each day's top `top`, so on each day it has at most that day's (`top` + 1)-th
 * count, and over the range at most the sum of those counts (the bound). The candidates' ranking
 * is the answer when its (limit + 1)-th row has more events than the bound, or when no day has a
 * (`top` + 1)-th value (every value is a candidate); otherwise, and for ranges with raw days,
 * `summed` (every row of every day) is. Both branches carry a condition the executor checks once,
 * before it runs the branch, so only one of them reads rows; `ranked` needs no raw-horizon bound,
 * as it is read only when the whole range is below it.
 * - Candidates are summed in a LATERAL subquery (one index descent per candidate and day): as a
 *   join the planner hashed every row of the range instead (73 of 95 ms).
 * - Measured at 10M events over 30 days, 5,000 pages of skewed popularity (postgres tier, warm):
 *   pages, 30 closed days, top 10: 7.0 ms in the benchmark, 46–64 ms summing every row. See the
 *   README, *Breakdowns and visitors*.
 */
function topOfRankedDays(summed: string, top: number): string {
  return `ranked AS (
  SELECT r.bucket, r.value, r.rank, r.event_count
  FROM analytics_daily_dimensions r
  WHERE ${rollupRows("r")} AND r.rank <= ${top} + 1
), candidates AS (
  SELECT nullif(c.value, '') AS value, s.events, s.visitors, s.users
  FROM (SELECT DISTINCT value FROM ranked WHERE rank <= ${top}) c
  CROSS JOIN LATERAL (
    SELECT sum(r.event_count)::bigint AS events, sum(r.unique_visitors)::bigint AS visitors, sum(r.unique_users)::bigint AS users
    FROM analytics_daily_dimensions r
    WHERE ${rollupKey("r")} AND r.value = c.value
      AND r.bucket = ANY (ARRAY(SELECT DISTINCT bucket FROM ranked))
  ) s
), exact AS (
  SELECT b.to_ts <= b.raw_from AND coalesce(
    (SELECT events FROM candidates ORDER BY events DESC LIMIT 1 OFFSET $4::integer)
      > (SELECT coalesce(sum(event_count), 0) FROM ranked WHERE rank = ${top} + 1),
    NOT EXISTS (SELECT 1 FROM ranked WHERE rank = ${top} + 1)) AS ok
  FROM b
), top AS (
  SELECT * FROM (SELECT value, events, visitors, users FROM candidates
    ORDER BY events DESC, value COLLATE "C" NULLS LAST LIMIT $4::integer + 1) f
  WHERE (SELECT ok FROM exact)
  UNION ALL
  SELECT * FROM (${summed}) s
  WHERE NOT (SELECT ok FROM exact)
)`;
}

/** The `limit` values of `by` with the most events over [from, to); `clean` as in `readSummary`. */
export async function readBreakdown(
  db: ReadDatabase,
  by: BreakdownBy,
  range: { from: Date; to: Date },
  eventName: string | null,
  limit: number,
): Promise<{ clean: boolean; truncated: boolean; rows: BreakdownRow[] }> {
  const result = await db.rows<BreakdownSqlRow>(breakdown(by, range.from, range.to, eventName, limit));
  // The single row of an empty answer has no events (a real value has at least one).
  const rows = result
    .filter((r) => r.events !== null)
    .map((r) => ({ value: r.value, events: num(r.events), visitors: num(r.visitors), users: num(r.users) }));
  return { clean: result[0]?.clean === true, truncated: rows.length > limit, rows: rows.slice(0, limit) };
}

export const breakdownEndpoint = readEndpoint({
  path: "/breakdown",
  summary: "Events, visitors and users per page, referrer, campaign, country, device, browser, OS or property value",
  description:
    "Ranked values of one dimension over whole UTC days (default the last 30 days, ≤ 5 years), from the daily dimension rollup with today from raw rows; `property:<key>` reads raw rows (≤ 7 days). Visitors are counted per day without cookies (a daily-salted hash of site, address and User-Agent) and summed over the days of the range.",
  query: BreakdownQuerySchema,
  ok: { description: "Most events first.", schema: BreakdownResponseSchema, cached: true },
  async handle(query, stores, now) {
    const property = typeof query.dimension !== "string";
    const range = rangeOrThrow(query, property ? PROPERTY_BREAKDOWN_RANGE : BREAKDOWN_RANGE, now);
    const result = await readBreakdown(stores.postgres, query.dimension, range, query.event_name ?? null, query.limit);
    return {
      cacheControl: cacheControl(result.clean, range, now),
      body: {
        dimension: typeof query.dimension === "string" ? query.dimension : `${PROPERTY_PREFIX}${query.dimension.property}`,
        event_name: query.event_name ?? null,
        from: range.from.toISOString(),
        to: range.to.toISOString(),
        complete: result.clean,
        truncated: result.truncated,
        rows: result.rows,
      },
    };
  },
});
