/**
 * GET /migration/consistency: the hourly reconciliation (src/cron) per checked hour, from each
 * (hour, scope)'s latest check in `analytics_checks`, with the drifting rows, in one statement.
 */
import * as z from "../../zod";
import type { SqlStatement } from "../../storage/sql";
import { NO_STORE } from "../cache";
import { readEndpoint } from "../endpoint";
import { iso } from "../sql";
import { MIGRATION_ERRORS, count, isoTime, migrationRange, rangeParams, readDoc } from "./common";

/** At most this many drifting rows are listed. */
export const MAX_DRIFT_ROWS = 500;

export const ConsistencyQuerySchema = z.strictObject(rangeParams);

const CheckedHourSchema = z.object({
  hour: isoTime("Checked hour"),
  state: z.enum(["match", "healed", "drift"]).describe("`drift` when a scope still drifts, `healed` when every drift had its rollup rebuilt, else `match`."),
  compared: count(
    "Scopes compared (the total plus each event name; at a day's first hour also each dimension of that day's dimension rollup, scope `dimension:<name>`), from each scope's latest check.",
  ),
  matched: count("Scopes whose Redis, raw and rollup counts agreed."),
  healed: count("Scopes that drifted and had their rollup rebuilt from raw rows (action rollup_healed)."),
  drifting: count("Scopes that drifted otherwise (redis_differs, raw_dropped_not_healed, heal_deferred)."),
  checked_at: isoTime("Latest check of the hour"),
});

const DriftingRowSchema = z.object({
  hour: isoTime("Checked hour"),
  scope: z.string(),
  redis_count: z.number().int().nullable(),
  raw_count: z.number().int(),
  rollup_count: z.number().int(),
  drift: z.number().int(),
  action: z.string().nullable(),
  checked_at: isoTime("When compared"),
});

export const ConsistencyResponseSchema = z
  .object({
    from: isoTime("Aligned start, inclusive"),
    to: isoTime("Aligned end, exclusive"),
    hours: z.array(CheckedHourSchema).describe("One entry per checked hour, oldest first."),
    drifting: z.array(DriftingRowSchema).describe("The latest check of every drifting (hour, scope), healed ones included; at most 500."),
    truncated: z.boolean().describe("More than 500 drifting rows."),
  })
  .meta({ id: "ConsistencyResponse" });
export type ConsistencyResponse = z.output<typeof ConsistencyResponseSchema>;

/** The statement's document: the checked hours (their `state` is derived here) and up to MAX_DRIFT_ROWS + 1 drifting rows. */
interface ConsistencyDoc {
  hours: Array<Omit<z.output<typeof CheckedHourSchema>, "state">>;
  drifting: Array<z.output<typeof DriftingRowSchema>>;
}

/**
 * The hourly reconciliation per checked hour: from each (hour, scope)'s latest check, how many
 * scopes matched, drifted with the rollup healed, or drifted otherwise; and the drifting rows.
 */
export function consistencyStatement(from: Date, to: Date): SqlStatement {
  return {
    text: `WITH latest AS (
  SELECT DISTINCT ON (hour, scope) hour, scope, redis_count, raw_count, rollup_count, drift, status, action, checked_at
  FROM analytics_checks WHERE hour >= $1::timestamptz AND hour < $2::timestamptz
  ORDER BY hour, scope, checked_at DESC
)
SELECT jsonb_build_object(
  'hours', coalesce((SELECT jsonb_agg(h ORDER BY h.hour) FROM (
      SELECT ${iso("hour")} AS hour, count(*) AS compared,
        count(*) FILTER (WHERE status = 'match') AS matched,
        count(*) FILTER (WHERE status = 'drift' AND action = 'rollup_healed') AS healed,
        count(*) FILTER (WHERE status = 'drift' AND action IS DISTINCT FROM 'rollup_healed') AS drifting,
        ${iso("max(checked_at)")} AS checked_at
      FROM latest GROUP BY latest.hour) h), '[]'::jsonb),
  'drifting', coalesce((SELECT jsonb_agg(d ORDER BY d.hour, d.scope) FROM (
      SELECT ${iso("hour")} AS hour, scope, redis_count, raw_count, rollup_count, drift, action, ${iso("checked_at")} AS checked_at
      FROM latest WHERE status = 'drift' ORDER BY latest.hour, scope COLLATE "C" LIMIT ${MAX_DRIFT_ROWS + 1}) d), '[]'::jsonb)
) AS doc`,
    values: [from.toISOString(), to.toISOString()],
  };
}

export const consistencyEndpoint = readEndpoint({
  path: "/migration/consistency",
  tag: "migration",
  errors: MIGRATION_ERRORS,
  store: "postgres",
  summary: "The hourly reconciliation per checked hour: match, healed or drift, with the drifting rows",
  description: "From the latest check of each (hour, scope) in `analytics_checks`. Hours, ≤ 31 days, default the last 24 h. One statement; never cached.",
  query: ConsistencyQuerySchema,
  ok: { description: "Checked hours oldest first.", schema: ConsistencyResponseSchema, cached: false },
  async handle(query, stores, now) {
    const r = migrationRange(query, "hour", "migration/consistency", now);
    const doc = await readDoc<ConsistencyDoc>(stores.postgres, consistencyStatement(r.from, r.to));
    return {
      cacheControl: NO_STORE,
      body: {
        from: r.from.toISOString(),
        to: r.to.toISOString(),
        hours: doc.hours.map((h) => ({ ...h, state: h.drifting > 0 ? ("drift" as const) : h.healed > 0 ? ("healed" as const) : ("match" as const) })),
        drifting: doc.drifting.slice(0, MAX_DRIFT_ROWS),
        truncated: doc.drifting.length > MAX_DRIFT_ROWS,
      },
    };
  },
});
