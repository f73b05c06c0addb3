import { OpenAPIHono, createRoute, type RouteConfig } from "@hono/zod-openapi";
import { createMiddleware } from "hono/factory";
import type { ZodError } from "zod";
import type { AppEnv } from "../app";
import {
  ACTIVE_SESSION_MS,
  ChecksQuerySchema,
  ChecksResponseSchema,
  DEFAULT_SPANS,
  ErrorResponseSchema,
  INTERVAL_MS,
  MAX_SUMMARY_ROWS,
  PopularQuerySchema,
  PopularResponseSchema,
  RANGE_CAPS,
  RealtimeQuerySchema,
  RealtimeResponseSchema,
  SeriesQuerySchema,
  SeriesResponseSchema,
  SummaryQuerySchema,
  SummaryResponseSchema,
  cacheControl,
  movingAverage,
  percentileKey,
  resolveRange,
  type Interval,
  type RangeRules,
  type TimeRange,
} from "../domain/read-params";
import { ApiError } from "../errors";
import { DAY_MS, HOUR_MS } from "../time";
import { findSecret } from "../http/secrets";
import { problemFor, type Config } from "../config";

// ---------------------------------------------------------------------------------------------
// Authentication: Authorization: Bearer <READ_TOKEN>
// ---------------------------------------------------------------------------------------------

const BEARER = /^Bearer[ \t]+(\S+)[ \t]*$/i;
/** The challenge a 401 carries so clients know which scheme to use (RFC 6750 §3). */
const BEARER_CHALLENGE = { "WWW-Authenticate": 'Bearer realm="analytics"' };

/**
 * Whether an Authorization header carries the configured READ_TOKEN (constant-time). False when
 * no usable READ_TOKEN is configured. /health uses it to choose its operator view.
 */
export async function carriesReadToken(config: Config, authorization: string | undefined): Promise<boolean> {
  const match = BEARER.exec(authorization ?? "");
  if (!match || !config.READ_TOKEN || problemFor(config, "read")) return false;
  return (await findSecret(match[1]!, [config.READ_TOKEN])) !== null;
}

/**
 * Checks the bearer token against READ_TOKEN by comparing SHA-256 digests in constant time, so
 * neither the token's content nor its length shows in the response time. Answers with the
 * project's JSON error shape (hono/bearer-auth would answer plain text).
 */
export const readAuth = createMiddleware<AppEnv>(async (c, next) => {
  const { config } = c.var.services;
  const misconfigured = problemFor(config, "read");
  if (misconfigured) {
    throw new ApiError(503, "service_misconfigured", misconfigured.message, { retryAfterSeconds: 60 });
  }
  if (!config.READ_TOKEN) {
    throw new ApiError(401, "read_api_disabled", "The read API is disabled: no READ_TOKEN is configured on this deployment.", {
      headers: BEARER_CHALLENGE,
    });
  }
  const match = BEARER.exec(c.req.header("authorization") ?? "");
  if (!match) {
    throw new ApiError(401, "missing_read_token", "An Authorization: Bearer <READ_TOKEN> header is required.", {
      headers: BEARER_CHALLENGE,
    });
  }
  if (!(await findSecret(match[1]!, [config.READ_TOKEN]))) {
    throw new ApiError(401, "invalid_read_token", "The bearer token is not valid for the read API.", {
      headers: { "WWW-Authenticate": 'Bearer realm="analytics", error="invalid_token"' },
    });
  }
  await next();
});

// ---------------------------------------------------------------------------------------------
// Validation failures → 400 invalid_parameter naming each parameter
// ---------------------------------------------------------------------------------------------

/** "interval: must be hour or day; bogus: unknown parameter" */
export function describeIssues(error: ZodError): string {
  return error.issues
    .map((issue) => {
      if (issue.code === "unrecognized_keys") return issue.keys.map((key) => `${key}: unknown parameter`).join("; ");
      const name = issue.path.join(".") || "(query)";
      // A coerced parameter that is not a number ("abc" → NaN) is invalid, not missing.
      const missing = issue.code === "invalid_type" && issue.input === undefined && issue.expected !== "number";
      return `${name}: ${missing ? "is required" : issue.message}`;
    })
    .join("; ");
}

function invalid(param: string, message: string): ApiError {
  return new ApiError(400, "invalid_parameter", `${param}: ${message}`);
}

/** An endpoint's range rule: everything `resolveRange` needs but the clock. */
type RangeRule = Omit<RangeRules, "now">;

/** The rule of an endpoint read in `interval` buckets from its rollup. */
const intervalRange = (interval: Interval): RangeRule => ({
  widthMs: INTERVAL_MS[interval],
  defaultSpanMs: DEFAULT_SPANS[interval],
  maxSpanMs: RANGE_CAPS[interval],
  capLabel: `interval=${interval}`,
});
const POPULAR_RANGE: RangeRule = { widthMs: DAY_MS, defaultSpanMs: DEFAULT_SPANS.popular, maxSpanMs: RANGE_CAPS.popular, capLabel: "popular-asset-types" };
const CHECKS_RANGE: RangeRule = { widthMs: HOUR_MS, defaultSpanMs: DEFAULT_SPANS.checks, maxSpanMs: RANGE_CAPS.checks, capLabel: "checks" };

/** `from`/`to` resolved under `rule` at `now`; a bad or too-long range is a 400 naming the parameter. */
function rangeOrThrow(input: { from?: string | undefined; to?: string | undefined }, rule: RangeRule, now: Date): TimeRange {
  const resolved = resolveRange(input, { ...rule, now });
  if ("issue" in resolved) throw invalid(resolved.issue.param, resolved.issue.message);
  return resolved.range;
}

// ---------------------------------------------------------------------------------------------
// Routes
// ---------------------------------------------------------------------------------------------

const errorResponses = {
  400: { description: "A parameter is invalid; the message names it (`invalid_parameter`).", content: { "application/json": { schema: ErrorResponseSchema } } },
  401: {
    description: "Missing or wrong bearer token (`missing_read_token`, `invalid_read_token`), or no READ_TOKEN configured (`read_api_disabled`).",
    content: { "application/json": { schema: ErrorResponseSchema } },
  },
  503: { description: "Storage unreachable or misconfigured.", content: { "application/json": { schema: ErrorResponseSchema } } },
} as const;

const cacheHeader = {
  "Cache-Control": {
    description: "`private, max-age=300` (or `86400` once the range is beyond the 7-day late-event window) when every bucket is closed and clean; `no-store` otherwise.",
    schema: { type: "string" as const },
  },
};

function readRoute<const R extends Omit<RouteConfig, "method" | "middleware" | "security">>(config: R) {
  return createRoute({ ...config, method: "get" as const, middleware: readAuth, security: [{ readToken: [] }] });
}

const summaryRoute = readRoute({
  path: "/summary",
  tags: ["read"],
  summary: "Events, unique users and unique sessions per bucket, event name and category",
  description:
    "Closed buckets from the rollups; the open bucket (and one that closed less than an hour ago) from raw rows in the same statement. Daily unique counts are counted per day, never summed from hours. Empty groups are omitted (see /series for a gap-filled series).",
  request: { query: SummaryQuerySchema },
  responses: {
    200: { description: "Rows ordered by bucket, event_name, category.", headers: cacheHeader, content: { "application/json": { schema: SummaryResponseSchema } } },
    ...errorResponses,
  },
});

const realtimeRoute = readRoute({
  path: "/realtime",
  tags: ["read"],
  summary: "The last minutes from Redis: events by name and category, active sessions, unique users",
  description: "Read from the per-minute Redis counters written on ingestion (visible within a second), in one Redis request. Never cached.",
  request: { query: RealtimeQuerySchema },
  responses: { 200: { description: "The window's counters.", content: { "application/json": { schema: RealtimeResponseSchema } } }, ...errorResponses },
});

const popularRoute = readRoute({
  path: "/popular-asset-types",
  tags: ["read"],
  summary: "Most generated asset types (what the legacy get_popular_asset_types() answered)",
  description: "From the daily asset-popularity rollup, with today from raw rows. Range ≤ 5 years, default the last 7 days.",
  request: { query: PopularQuerySchema },
  responses: {
    200: { description: "Most generated first.", headers: cacheHeader, content: { "application/json": { schema: PopularResponseSchema } } },
    ...errorResponses,
  },
});

const seriesRoute = readRoute({
  path: "/series",
  tags: ["read"],
  summary: "A gap-filled series for one event name, with an optional moving average and percentiles",
  description:
    "Every bucket of [from, to) appears (0 when empty). `moving_average=N`: trailing mean over N buckets, each point over exactly N buckets (the N-1 before `from` are read). `percentiles=50,95,99&property=NAME`: percentile_cont of the JSON-number property per bucket, from raw rows (range incl. lead-in ≤ 7 days).",
  request: { query: SeriesQuerySchema },
  responses: {
    200: { description: "One point per bucket.", headers: cacheHeader, content: { "application/json": { schema: SeriesResponseSchema } } },
    ...errorResponses,
  },
});

const checksRoute = readRoute({
  path: "/checks",
  tags: ["read"],
  summary: "Reconciliation rows: Redis vs raw vs rollup counts per checked hour",
  description: "Rows of `analytics_checks` for the hours in [from, to) (≤ 31 days, default the last 24 h). Never cached.",
  request: { query: ChecksQuerySchema },
  responses: { 200: { description: "Ordered by hour, scope, checked_at.", content: { "application/json": { schema: ChecksResponseSchema } } }, ...errorResponses },
});

/**
 * The read API for dashboards, mounted at `/api/v1/analytics` next to the ingest route (POST `/`).
 * Every route is a GET under `Authorization: Bearer <READ_TOKEN>` with its middleware attached to
 * the route itself, so nothing here runs for the ingest route. Each answer costs at most one
 * PostgreSQL statement or one Redis request.
 */
export const read = new OpenAPIHono<AppEnv>({
  defaultHook: (result) => {
    if (!result.success) throw new ApiError(400, "invalid_parameter", describeIssues(result.error));
  },
});

read.openAPIRegistry.registerComponent("securitySchemes", "readToken", {
  type: "http",
  scheme: "bearer",
  description: "The READ_TOKEN secret.",
});

read.openapi(summaryRoute, async (c) => {
  const query = c.req.valid("query");
  const now = new Date();
  const range = rangeOrThrow(query, intervalRange(query.interval), now);
  const { postgres } = c.var.services.read;
  const result = await postgres.summary(
    query.interval,
    range.from,
    range.to,
    { eventName: query.event_name, category: query.category },
    MAX_SUMMARY_ROWS,
  );
  setCache(c, cacheControl(result.clean, range, now));
  return c.json(
    {
      interval: query.interval,
      from: range.from.toISOString(),
      to: range.to.toISOString(),
      complete: result.clean,
      truncated: result.truncated,
      rows: result.rows,
    },
    200,
  );
});

read.openapi(realtimeRoute, async (c) => {
  const { minutes, limit } = c.req.valid("query");
  const now = new Date();
  const snapshot = await c.var.services.read.realtime.snapshot(now, minutes, ACTIVE_SESSION_MS);
  const ranked = <K extends string>(counts: Map<string, number>, key: K) =>
    [...counts]
      .sort(([a, x], [b, y]) => y - x || (a < b ? -1 : a > b ? 1 : 0))
      .slice(0, limit)
      .map(([name, n]) => ({ [key]: name, event_count: n }) as Record<K, string> & { event_count: number });
  c.header("Cache-Control", "no-store");
  return c.json(
    {
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
    200,
  );
});

read.openapi(popularRoute, async (c) => {
  const query = c.req.valid("query");
  const now = new Date();
  const range = rangeOrThrow(query, POPULAR_RANGE, now);
  const result = await c.var.services.read.postgres.popularAssetTypes(range.from, range.to, query.limit);
  setCache(c, cacheControl(result.clean, range, now));
  return c.json({ from: range.from.toISOString(), to: range.to.toISOString(), complete: result.clean, rows: result.rows }, 200);
});

read.openapi(seriesRoute, async (c) => {
  const query = c.req.valid("query");
  const now = new Date();
  const widthMs = INTERVAL_MS[query.interval];
  const window = query.moving_average ?? 1;
  const leadInMs = (window - 1) * widthMs;
  const raw = query.percentiles !== undefined && query.property !== undefined;
  const rule = intervalRange(query.interval);
  const range = rangeOrThrow(query, raw ? { ...rule, maxSpanMs: RANGE_CAPS.raw, leadInMs, capLabel: "percentiles (raw rows)" } : rule, now);
  const readFrom = new Date(range.from.getTime() - leadInMs);
  const rows = await c.var.services.read.postgres.series(
    query.interval,
    readFrom,
    range.to,
    query.event_name,
    raw ? { fractions: query.percentiles!.map((p) => p / 100), property: query.property! } : undefined,
  );
  const lead = rows.length - Math.round((range.to.getTime() - range.from.getTime()) / widthMs);
  const averages = query.moving_average ? movingAverage(rows.map((r) => r.event_count), window, lead) : null;
  const points = rows.slice(lead).map((r, i) => ({
    bucket: r.bucket,
    event_count: r.event_count,
    ...(averages ? { moving_average: averages[i]! } : {}),
    ...(raw
      ? { percentiles: Object.fromEntries(query.percentiles!.map((p, k) => [percentileKey(p), r.percentiles?.[k] ?? null])) }
      : {}),
    complete: r.complete,
    ...(r.imported ? { imported: true as const } : {}),
  }));
  const clean = points.every((p) => p.complete);
  setCache(c, cacheControl(clean, range, now));
  return c.json(
    {
      event_name: query.event_name,
      interval: query.interval,
      from: range.from.toISOString(),
      to: range.to.toISOString(),
      moving_average: query.moving_average ?? null,
      property: raw ? query.property! : null,
      percentiles: raw ? query.percentiles! : null,
      complete: clean,
      points,
    },
    200,
  );
});

read.openapi(checksRoute, async (c) => {
  const query = c.req.valid("query");
  const range = rangeOrThrow(query, CHECKS_RANGE, new Date());
  const result = await c.var.services.read.postgres.checks(range.from, range.to, query.limit);
  // A later hourly run appends rows for the same hours: never cached.
  c.header("Cache-Control", "no-store");
  return c.json({ from: range.from.toISOString(), to: range.to.toISOString(), truncated: result.truncated, rows: result.rows }, 200);
});

/**
 * Sets Cache-Control. A cacheable answer (`private`, see cacheControl) also varies by
 * Authorization, so even a private cache does not reuse it for another token.
 */
function setCache(c: { header(name: string, value: string): void }, value: string) {
  c.header("Cache-Control", value);
  if (value !== "no-store") c.header("Vary", "Authorization");
}

