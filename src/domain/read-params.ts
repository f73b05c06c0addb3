/**
 * The read API's parameters and answers as zod schemas (they validate requests AND generate
 * `/openapi.json`), plus the pure helpers behind them: bucket alignment, range resolution with
 * defaults and caps, the trailing moving average, and the Cache-Control decision.
 *
 * Times are UTC. Buckets are aligned to the UTC origin 2000-01-01T00:00:00Z (what `date_bin` in
 * `src/storage/sql-read.ts` and the rollups use), which for hours and days is the same as
 * aligning to the Unix epoch. `to` is exclusive.
 */
import { DAY_MS, HOUR_MS, MINUTE_MS } from "../time";
import { z } from "../zod";
import { MAX_EVENT_AGE_MS, MAX_NAME_LENGTH } from "./limits";

/** Bucket widths of the two rollup granularities. */
export const INTERVALS = ["hour", "day"] as const;
export type Interval = (typeof INTERVALS)[number];
export const INTERVAL_MS: Record<Interval, number> = { hour: HOUR_MS, day: DAY_MS };

/**
 * The longest range each kind of question may span. Hourly rollups are kept 1 year and daily ones
 * 5 years, but a dashboard answer must stay small and fast: 31 days of hours is 744 buckets, 5
 * years of days 1,827. Percentiles read raw rows, so they get the shortest cap.
 */
export const RANGE_CAPS = {
  hour: 31 * DAY_MS,
  day: 1_827 * DAY_MS,
  /** series with percentiles (raw rows), including the buckets read for the moving average. */
  raw: 7 * DAY_MS,
  /** popular-asset-types (daily rollup). */
  popular: 1_827 * DAY_MS,
  /** checks: one row per checked hour and scope. */
  checks: 31 * DAY_MS,
} as const;

/** Default span when `from` is omitted (ending at the end of the open bucket, or at `to`). */
export const DEFAULT_SPANS = {
  hour: 24 * HOUR_MS,
  day: 30 * DAY_MS,
  popular: 7 * DAY_MS,
  checks: 24 * HOUR_MS,
} as const;

/** Minute keys live 2 hours in Redis, so the real-time window is at most one hour. */
export const MAX_REALTIME_MINUTES = 60;
/**
 * Rows one `summary` answer may carry. 30 days hourly over a few hundred event names is ~200k rows
 * (~30 MB of JSON): too much for a dashboard and for a Worker's 128 MB. Past it the answer is cut
 * at a bucket boundary and says `truncated: true`; filter by event_name/category or use days.
 */
export const MAX_SUMMARY_ROWS = 10_000;
/** "Active" sessions: last seen within this many milliseconds. */
export const ACTIVE_SESSION_MS = 5 * MINUTE_MS;
/**
 * Names per list in a `realtime` answer (`limit`): the lists are sorted by count and cut there.
 * The Redis counters themselves hold at most REDIS_MAX_EVENT_NAMES_PER_HOUR names per hour.
 */
export const REALTIME_LIMIT = { default: 100, max: 1_000 } as const;
/** Longest moving-average window, in buckets. */
export const MAX_MOVING_AVERAGE = 168;
/** At most this many percentiles per request. */
export const MAX_PERCENTILES = 10;

/** Late events are accepted up to MAX_EVENT_AGE_MS (7 days) after the fact (ingest's `too_old`); a
 * range that ended a day longer ago than that cannot change any more, except by retention. */
const SETTLED_AFTER_MS = MAX_EVENT_AGE_MS + DAY_MS;

// ---------------------------------------------------------------------------------------------
// Parameter schemas
// ---------------------------------------------------------------------------------------------

const TIME_HELP =
  "an ISO-8601 date-time with a timezone (2026-11-26T07:00:00Z) or a date (2026-11-26, midnight UTC)";

const timeParam = (what: string) =>
  z
    .union([z.iso.datetime({ offset: true }), z.iso.date()], { error: `must be ${TIME_HELP}` })
    .optional()
    .describe(what);

const FROM_HELP =
  "Start of the range, inclusive; aligned DOWN to the bucket boundary. Default: the default span before `to`.";
const TO_HELP =
  "End of the range, exclusive; aligned UP to the bucket boundary. Default: the end of the open (current) bucket.";

/** Control characters (NUL included): no stored name holds one, and PostgreSQL refuses NUL in text. */
const CONTROL_CHARACTER = /[\u0000-\u001f\u007f]/;

const nameParam = (what: string) =>
  z
    .string()
    .min(1, { error: "must not be empty" })
    .max(MAX_NAME_LENGTH, { error: `must be at most ${MAX_NAME_LENGTH} characters` })
    .refine((value) => !CONTROL_CHARACTER.test(value), { error: "must not contain control characters (such as NUL)" })
    .describe(what);

const intParam = (min: number, max: number, what: string) =>
  z.coerce
    .number({ error: "must be a whole number" })
    .int({ error: "must be a whole number" })
    .min(min, { error: `must be at least ${min}` })
    .max(max, { error: `must be at most ${max}` })
    .describe(what);

const intervalParam = z
  .enum(INTERVALS, { error: "must be hour or day" })
  .default("hour")
  .describe("Bucket width: `hour` (range ≤ 31 days, default span 24 h) or `day` (range ≤ 5 years, default span 30 days).");

/** Up to 10 comma-separated percentiles in [0, 100], e.g. `50,95,99` or `99.9`. */
const PERCENTILE_LIST = /^(100|\d{1,2}(\.\d{1,3})?)(,(100|\d{1,2}(\.\d{1,3})?))*$/;

/** `GET /summary` query. */
export const SummaryQuerySchema = z.strictObject({
  from: timeParam(FROM_HELP),
  to: timeParam(TO_HELP),
  interval: intervalParam,
  event_name: nameParam("Only this event name.").optional(),
  category: nameParam("Only this category.").optional(),
});
export type SummaryQuery = z.output<typeof SummaryQuerySchema>;

/** `GET /realtime` query. */
export const RealtimeQuerySchema = z.strictObject({
  minutes: intParam(1, MAX_REALTIME_MINUTES, "Window length in minutes, ending with the current minute (≤ 60: minute counters live 2 h).")
    .default(MAX_REALTIME_MINUTES),
  limit: intParam(1, REALTIME_LIMIT.max, "Most frequent event names (and categories) listed; `truncated` tells when there were more.").default(
    REALTIME_LIMIT.default,
  ),
});
export type RealtimeQuery = z.output<typeof RealtimeQuerySchema>;

/** `GET /popular-asset-types` query. */
export const PopularQuerySchema = z.strictObject({
  from: timeParam(`${FROM_HELP.replace("the bucket boundary", "midnight UTC")} Default span: 7 days.`),
  to: timeParam(TO_HELP.replace("the bucket boundary", "midnight UTC").replace("bucket", "day")),
  limit: intParam(1, 100, "How many asset types, most generated first.").default(10),
});
export type PopularQuery = z.output<typeof PopularQuerySchema>;

/** `GET /series` query. */
export const SeriesQuerySchema = z
  .strictObject({
    event_name: nameParam("The event name to chart (summed over its categories). Required."),
    from: timeParam(FROM_HELP),
    to: timeParam(TO_HELP),
    interval: intervalParam,
    moving_average: intParam(
      1,
      MAX_MOVING_AVERAGE,
      "Trailing moving average of event_count over N buckets. Every point averages exactly N buckets: the N-1 buckets before `from` are read too.",
    ).optional(),
    percentiles: z
      .string()
      .regex(PERCENTILE_LIST, { error: "must be comma-separated numbers between 0 and 100, e.g. 50,95,99" })
      .transform((list) => [...new Set(list.split(",").map(Number))])
      .refine((list) => list.length <= MAX_PERCENTILES, { error: `must list at most ${MAX_PERCENTILES} percentiles` })
      .optional()
      .describe(
        "Percentiles (0-100, comma-separated) of the numeric property `property` per bucket, from raw rows: the range (plus moving-average lead-in) must be ≤ 7 days. Non-numeric values are ignored.",
      ),
    property: nameParam("Name of the numeric property (top-level key of `properties`) for `percentiles`.").optional(),
  })
  .superRefine((query, ctx) => {
    if (query.percentiles && !query.property) {
      ctx.addIssue({ code: "custom", path: ["property"], message: "is required with percentiles" });
    }
    if (query.property && !query.percentiles) {
      ctx.addIssue({ code: "custom", path: ["percentiles"], message: "is required with property" });
    }
  });
export type SeriesQuery = z.output<typeof SeriesQuerySchema>;

/** `GET /checks` query. */
export const ChecksQuerySchema = z.strictObject({
  from: timeParam(`Start of the checked hours, inclusive (aligned down to the hour). Default: 24 h before \`to\`.`),
  to: timeParam("End of the checked hours, exclusive (aligned up to the hour). Default: the end of the current hour."),
  limit: intParam(1, 10_000, "At most this many rows; `truncated` tells when there were more.").default(1_000),
});
export type ChecksQuery = z.output<typeof ChecksQuerySchema>;

// ---------------------------------------------------------------------------------------------
// Response schemas
// ---------------------------------------------------------------------------------------------

const isoTime = (what: string) => z.string().describe(`${what} (ISO-8601, UTC).`).meta({ example: "2026-11-26T07:00:00.000Z" });
const count = (what: string) => z.number().int().min(0).describe(what);
const completeFlag = z
  .boolean()
  .describe("false for the open bucket and for buckets with late events not yet re-rolled up (they may still change).");
const importedFlag = z
  .literal(true)
  .optional()
  .describe("Present when history imported from the legacy system's aggregates (`npm run import -- legacy-tables`) contributed to this row.");

export const SummaryRowSchema = z
  .object({
    bucket: isoTime("Bucket start"),
    event_name: z.string(),
    category: z.string(),
    event_count: count("Events in the bucket."),
    unique_users: count("Distinct user ids in the bucket (exact; daily counts are per day, not sums of hours)."),
    unique_sessions: count("Distinct session ids in the bucket (exact)."),
    complete: completeFlag,
    imported: importedFlag,
  })
  .meta({ id: "SummaryRow" });

export const SummaryResponseSchema = z
  .object({
    interval: z.enum(INTERVALS),
    from: isoTime("Aligned start, inclusive"),
    to: isoTime("Aligned end, exclusive"),
    complete: z.boolean().describe("Every bucket of the range is closed and clean (then the answer carries Cache-Control: private, max-age=…)."),
    truncated: z
      .boolean()
      .describe("More than MAX_SUMMARY_ROWS (10,000) rows matched: `rows` stops at the last whole bucket that fit. Narrow the range, filter, or use interval=day."),
    rows: z.array(SummaryRowSchema).describe("One row per non-empty (bucket, event_name, category), ordered by those."),
  })
  .meta({ id: "SummaryResponse" });
export type SummaryResponse = z.output<typeof SummaryResponseSchema>;

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

export const PopularResponseSchema = z
  .object({
    from: isoTime("Aligned start (midnight), inclusive"),
    to: isoTime("Aligned end (midnight), exclusive"),
    complete: z.boolean().describe("Every day of the range is closed and clean."),
    rows: z
      .array(
        z.object({
          asset_type: z.string(),
          generation_count: count("asset_generated events naming this asset_type."),
          unique_creators: count(
            "Sum over the days of each day's distinct creators (exact for one day; a creator active on k days counts k times), as get_popular_asset_types() answered.",
          ),
          imported: importedFlag,
        }),
      )
      .describe("Most generated first, then by asset_type."),
  })
  .meta({ id: "PopularAssetTypesResponse" });
export type PopularResponse = z.output<typeof PopularResponseSchema>;

export const SeriesPointSchema = z
  .object({
    bucket: isoTime("Bucket start"),
    event_count: count("Events in the bucket (0 for an empty bucket)."),
    moving_average: z.number().optional().describe("Mean event_count over this bucket and the N-1 before it (with moving_average=N)."),
    percentiles: z
      .record(z.string(), z.number().nullable())
      .optional()
      .describe("Keyed `p50`, `p99.9`, …; null when the bucket has no numeric value (with percentiles)."),
    complete: completeFlag,
    imported: importedFlag,
  })
  .meta({ id: "SeriesPoint" });

export const SeriesResponseSchema = z
  .object({
    event_name: z.string(),
    interval: z.enum(INTERVALS),
    from: isoTime("Aligned start, inclusive"),
    to: isoTime("Aligned end, exclusive"),
    moving_average: z.number().int().nullable(),
    property: z.string().nullable(),
    percentiles: z.array(z.number()).nullable(),
    complete: z.boolean(),
    points: z.array(SeriesPointSchema).describe("Every bucket of [from, to), gap-filled with zeros."),
  })
  .meta({ id: "SeriesResponse" });
export type SeriesResponse = z.output<typeof SeriesResponseSchema>;

export const CheckRowSchema = z
  .object({
    hour: isoTime("Checked hour"),
    scope: z.string().describe("'*' for the hour's total, otherwise the event_name compared."),
    redis_count: z.number().int().nullable(),
    raw_count: z.number().int(),
    rollup_count: z.number().int(),
    drift: z.number().int(),
    status: z.enum(["match", "drift"]),
    action: z.string().nullable(),
    checked_at: isoTime("When the comparison ran"),
  })
  .meta({ id: "CheckRow" });

export const ChecksResponseSchema = z
  .object({
    from: isoTime("Aligned start, inclusive"),
    to: isoTime("Aligned end, exclusive"),
    truncated: z.boolean().describe("More rows matched than `limit`."),
    rows: z.array(CheckRowSchema).describe("Ordered by hour, scope, checked_at."),
  })
  .meta({ id: "ChecksResponse" });
export type ChecksResponse = z.output<typeof ChecksResponseSchema>;

/** The project's error body (src/errors.ts), for the document. */
export const ErrorResponseSchema = z
  .object({
    error: z.object({
      code: z.string().describe("Stable machine code, e.g. invalid_parameter, invalid_read_token."),
      message: z.string().describe("What failed; for invalid_parameter it starts with the parameter's name."),
      retryable: z.boolean(),
    }),
  })
  .meta({ id: "Error" });

// ---------------------------------------------------------------------------------------------
// Pure helpers
// ---------------------------------------------------------------------------------------------

/** Start of the bucket of width `widthMs` holding `ms`. */
export function alignDown(ms: number, widthMs: number): number {
  return Math.floor(ms / widthMs) * widthMs;
}

/** The smallest bucket boundary ≥ `ms`. */
export function alignUp(ms: number, widthMs: number): number {
  return Math.ceil(ms / widthMs) * widthMs;
}

/** A resolved, aligned [from, to) range. */
export interface TimeRange {
  from: Date;
  to: Date;
}

/** A parameter problem: the parameter's name and what is wrong with it. */
export interface ParamIssue {
  param: string;
  message: string;
}

export interface RangeRules {
  /** Bucket width the range is aligned to. */
  widthMs: number;
  /** Span used when `from` is omitted. */
  defaultSpanMs: number;
  /** Longest allowed span, after alignment. */
  maxSpanMs: number;
  /** Extra span that counts against `maxSpanMs` (the moving-average lead-in of a raw series). */
  leadInMs?: number;
  /** Names the cap in the message, e.g. "interval=hour". */
  capLabel: string;
  now: Date;
}

const describeSpan = (ms: number) => (ms % DAY_MS === 0 ? `${ms / DAY_MS} days` : `${ms / HOUR_MS} hours`);

/**
 * Resolves `from`/`to` into whole buckets: `from` aligned down, `to` aligned up (a range always
 * covers every bucket it touches, and each bucket is reported whole). `to` defaults to the end of
 * the open bucket, `from` to `defaultSpanMs` before `to`.
 *
 * @example
 * resolveRange({ from: "2026-11-26T07:30:00Z", to: "2026-11-26T09:10:00Z" }, { widthMs: HOUR_MS, … })
 * // { from: 07:00, to: 10:00 }
 */
export function resolveRange(
  input: { from?: string | undefined; to?: string | undefined },
  rules: RangeRules,
): { range: TimeRange } | { issue: ParamIssue } {
  const { widthMs } = rules;
  const toMs = input.to !== undefined ? alignUp(Date.parse(input.to), widthMs) : alignDown(rules.now.getTime(), widthMs) + widthMs;
  const fromMs = input.from !== undefined ? alignDown(Date.parse(input.from), widthMs) : toMs - rules.defaultSpanMs;
  if (!Number.isFinite(fromMs)) return { issue: { param: "from", message: `must be ${TIME_HELP}` } };
  if (!Number.isFinite(toMs)) return { issue: { param: "to", message: `must be ${TIME_HELP}` } };
  if (toMs <= fromMs) {
    return { issue: { param: input.to !== undefined ? "to" : "from", message: "the range is empty: to must be later than from" } };
  }
  const span = toMs - fromMs + (rules.leadInMs ?? 0);
  if (span > rules.maxSpanMs) {
    return {
      issue: {
        param: input.from !== undefined ? "from" : "to",
        message: `the range spans ${describeSpan(span)}${rules.leadInMs ? " (with the moving-average lead-in)" : ""}; ${rules.capLabel} allows at most ${describeSpan(rules.maxSpanMs)}`,
      },
    };
  }
  return { range: { from: new Date(fromMs), to: new Date(toMs) } };
}

/**
 * Trailing moving average over `window` values: out[i] = mean(values[i-window+1 .. i]). The first
 * `window - 1` values have no full window; callers pass those lead-in values in front and drop
 * them from the output (`lead` tells how many), so every reported point averages exactly `window`
 * buckets.
 *
 * @example movingAverage([1, 2, 3, 4], 2, 1) // [1.5, 2.5, 3.5]
 */
export function movingAverage(values: readonly number[], window: number, lead: number): number[] {
  const out: number[] = [];
  let sum = 0;
  for (let i = 0; i < values.length; i++) {
    sum += values[i]!;
    if (i >= window) sum -= values[i - window]!;
    if (i >= lead) out.push(sum / Math.min(window, i + 1));
  }
  return out;
}

/** Key of one percentile in a series point: 50 → "p50", 99.9 → "p99.9". */
export const percentileKey = (p: number): string => `p${p}`;

/**
 * The Cache-Control of an answer over stored buckets. Only a range that is fully closed and has no
 * dirty bucket may be kept: for 5 minutes, or a day once the range ended beyond the ingest window
 * (events older than 7 days are refused, so only retention can change it). `private`: the answer
 * was fetched with the bearer token, so only the dashboard's own cache may keep it, never a shared
 * cache that could hand it to a request without the token.
 */
export function cacheControl(clean: boolean, range: TimeRange, now: Date): string {
  if (!clean) return "no-store";
  return range.to.getTime() <= now.getTime() - SETTLED_AFTER_MS ? "private, max-age=86400" : "private, max-age=300";
}
