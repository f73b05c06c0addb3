/**
 * Time ranges of the read API: the `from`/`to` parameters, bucket alignment and range resolution
 * with defaults and caps. Every endpoint that takes a range (src/read/*, the migration-health
 * routes) resolves it here, under its own `RangeRule`.
 *
 * Times are UTC. Buckets are aligned to the UTC origin 2000-01-01T00:00:00Z (what `date_bin` in
 * the read statements and the rollups use), which for hours and days is the same as aligning to
 * the Unix epoch. `to` is exclusive.
 */
import { ApiError } from "../errors";
import { DAY_MS, HOUR_MS } from "../time";
import * as z from "../zod";

/** Bucket widths of the two rollup granularities. */
export const INTERVALS = ["hour", "day"] as const;
export type Interval = (typeof INTERVALS)[number];
export const INTERVAL_MS: Record<Interval, number> = { hour: HOUR_MS, day: DAY_MS };

/**
 * The longest range a question in `interval` buckets may span. Hourly rollups are kept 1 year and
 * daily ones 5 years, but a dashboard answer must stay small and fast: 31 days of hours is 744
 * buckets, 5 years of days 1,827.
 */
export const RANGE_CAPS: Record<Interval, number> = { hour: 31 * DAY_MS, day: 1_827 * DAY_MS };
/** Default span when `from` is omitted (ending at the end of the open bucket, or at `to`). */
export const DEFAULT_SPANS: Record<Interval, number> = { hour: 24 * HOUR_MS, day: 30 * DAY_MS };

export const TIME_HELP =
  "an ISO-8601 date-time with a timezone (2026-11-26T07:00:00Z) or a date (2026-11-26, midnight UTC)";

/** A `from` or `to` query parameter; `error` overrides the message of a malformed value. */
export const timeParam = (what: string, error = `must be ${TIME_HELP}`) =>
  z.union([z.iso.datetime({ offset: true }), z.iso.date()], { error }).optional().describe(what);

export const FROM_HELP =
  "Start of the range, inclusive; aligned DOWN to the bucket boundary. Default: the default span before `to`.";
export const TO_HELP =
  "End of the range, exclusive; aligned UP to the bucket boundary. Default: the end of the open (current) bucket.";

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

/** An endpoint's range rule: everything `resolveRange` needs but the clock. */
export interface RangeRule {
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
}

export interface RangeRules extends RangeRule {
  now: Date;
}

/** The rule of an endpoint read in `interval` buckets from its rollup. */
export const intervalRange = (interval: Interval): RangeRule => ({
  widthMs: INTERVAL_MS[interval],
  defaultSpanMs: DEFAULT_SPANS[interval],
  maxSpanMs: RANGE_CAPS[interval],
  capLabel: `interval=${interval}`,
});

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

/** `from`/`to` resolved under `rule` at `now`; a bad or too-long range is a 400 naming the parameter. */
export function rangeOrThrow(input: { from?: string | undefined; to?: string | undefined }, rule: RangeRule, now: Date): TimeRange {
  const resolved = resolveRange(input, { ...rule, now });
  if ("issue" in resolved) throw new ApiError(400, "invalid_parameter", `${resolved.issue.param}: ${resolved.issue.message}`);
  return resolved.range;
}
