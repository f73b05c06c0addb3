import { HOUR_KEY_TTL_SECONDS } from "../storage/redis-keys";
import type { CheckRow } from "../storage/sql";
import type { Budget } from "./budget";
import { UNTRACKED, type Progress } from "./runner";
import type { RedisBufferStore } from "../storage/buffer-store";
import type { PostgresCronStore } from "../storage/cron-store";
import type { BufferPort, DimensionDayRow, DirtyBucket, HourCounts, ReconcileRow } from "./ports";
import { DAY_MS, HOUR_MS } from "../time";

export const HOURLY_LIMITS = {
  /** Dirty buckets claimed per run; more stay marked for the next run. */
  dirtyClaimLimit: 2_000,
  /** Closed hours reconciled: every hour whose counters Redis may still hold (their TTL). */
  reconcileHours: Math.floor(HOUR_KEY_TTL_SECONDS / 3600),
  /** Hours healed per run at most (each costs up to three statements in `timescale`). */
  maxHeals: 48,
  /** Closed UTC days whose dimension rollup is reconciled: the days those hours belong to. */
  reconcileDays: Math.ceil(HOUR_KEY_TTL_SECONDS / 86_400),
  /**
   * How long to wait for the minute drain to store what was buffered before this run (the hour
   * just closed is still partly in the buffer at :00). Comparing earlier would report drift that
   * is only lag.
   */
  bufferWaitMs: 20_000,
  bufferPollMs: 2_000,
} as const;

/** A half-open time range [from, to) in epoch ms. */
export interface Range {
  from: number;
  to: number;
}

/** Sorts ranges and merges those that overlap or touch. Pure, exported for tests. */
export function mergeRanges(ranges: readonly Range[]): Range[] {
  const sorted = [...ranges].sort((a, b) => a.from - b.from);
  const merged: Range[] = [];
  for (const r of sorted) {
    const last = merged[merged.length - 1];
    if (last && r.from <= last.to) last.to = Math.max(last.to, r.to);
    else merged.push({ ...r });
  }
  return merged;
}

export function floorHour(ms: number): number {
  return Math.floor(ms / HOUR_MS) * HOUR_MS;
}

function bucketRange(b: DirtyBucket): Range {
  const from = Date.parse(b.bucket);
  return { from, to: from + (b.granularity === "hour" ? HOUR_MS : DAY_MS) };
}

const SCOPE_TOTAL = "*";
/** The scope of the names Redis counted in its overflow bucket (not a valid event name: "*" is reserved likewise). */
export const SCOPE_OTHER = "(names past the Redis cap)";

/**
 * Compares, per closed hour that Redis still holds, the Redis counters with raw counts and rollup
 * counts, per event name and in total. Pure, exported for tests. `drift` is |redis − raw| +
 * |rollup − raw|: 0 exactly when all three agree. Raw is the truth; the caller heals hours whose
 * rollups differ and never touches raw.
 */
export function compareHours(redis: ReadonlyMap<number, HourCounts>, db: readonly ReconcileRow[]): CheckRow[] {
  const byHour = new Map<number, Map<string, { raw: number; rollup: number }>>();
  for (const row of db) {
    const hour = row.hour.getTime();
    if (!redis.has(hour)) continue;
    let names = byHour.get(hour);
    if (!names) byHour.set(hour, (names = new Map()));
    names.set(row.event_name, { raw: row.raw_count, rollup: row.rollup_count });
  }
  const checks: CheckRow[] = [];
  const check = (hour: number, scope: string, redisCount: number, raw: number, rollup: number) => {
    const drift = Math.abs(redisCount - raw) + Math.abs(rollup - raw);
    checks.push({
      hour: new Date(hour).toISOString(),
      scope,
      redis_count: redisCount,
      raw_count: raw,
      rollup_count: rollup,
      drift,
      status: drift === 0 ? "match" : "drift",
      action: null,
    });
  };
  for (const [hour, counters] of [...redis].sort((a, b) => a[0] - b[0])) {
    const names = byHour.get(hour) ?? new Map<string, { raw: number; rollup: number }>();
    let raw = 0;
    let rollup = 0;
    for (const n of names.values()) {
      raw += n.raw;
      rollup += n.rollup;
    }
    check(hour, SCOPE_TOTAL, counters.total, raw, rollup);
    // Past the cap, Redis counted names in one overflow bucket: names it did not track are
    // compared together, as one scope, against that bucket.
    const overflow = counters.otherEvents ?? 0;
    const other = { raw: 0, rollup: 0 };
    const all = new Set([...counters.byEvent.keys(), ...names.keys()]);
    for (const name of [...all].sort()) {
      const n = names.get(name) ?? { raw: 0, rollup: 0 };
      if (overflow > 0 && !counters.byEvent.has(name)) {
        other.raw += n.raw;
        other.rollup += n.rollup;
        continue;
      }
      check(hour, name, counters.byEvent.get(name) ?? 0, n.raw, n.rollup);
    }
    if (overflow > 0) check(hour, SCOPE_OTHER, overflow, other.raw, other.rollup);
  }
  return checks;
}

/** The scope of a dimension rollup check: a colon never occurs in a dimension name. */
export const dimensionScope = (dimension: string): string => `dimension:${dimension}`;

/**
 * One check per (closed day, dimension): the dimension rollup's all-events total against the
 * day's raw count. Pure, exported for tests. No Redis counter exists per day and dimension, so
 * `redis_count` is null and `drift` is |rollup − raw|; `hour` is the day's start.
 */
export function compareDimensionDays(rows: readonly DimensionDayRow[]): CheckRow[] {
  return rows.map((r) => {
    const drift = Math.abs(r.rollup_count - r.raw_count);
    return {
      hour: r.day.toISOString(),
      scope: dimensionScope(r.dimension),
      redis_count: null,
      raw_count: r.raw_count,
      rollup_count: r.rollup_count,
      drift,
      status: drift === 0 ? "match" : "drift",
      action: null,
    };
  });
}

export interface HourlyCounts {
  closed_hour: string;
  dirty_claimed: number;
  refreshed_ranges: number;
  buffer_wait_ms: number;
  /** True when buffered entries older than this run were still pending after the wait. */
  buffer_lagging: boolean;
  hours_checked: number;
  comparisons: number;
  drift: number;
  healed_hours: number;
  /** Closed days whose dimension rollup was compared with raw (one check per dimension each). */
  days_checked: number;
  healed_days: number;
  budget_stop: boolean;
}

interface Deps {
  buffer: Pick<BufferPort, "oldestPendingMs">;
  counters: RedisBufferStore;
  rollups: PostgresCronStore;
  budget: Budget;
  now: Date;
  sleep: (ms: number) => Promise<void>;
  progress?: Progress;
}

/**
 * The hourly job. (1) Waits briefly for the minute drain to store what was buffered before the run.
 * (2) Claims the dirty buckets (closed hours and days that received late events) and refreshes the
 * rollups over the hour that just closed plus those buckets, merged into few ranges; buckets it
 * could not refresh are marked dirty again. (3) Reconciles every closed hour still held in Redis:
 * records one check row per hour and event name (and the total), heals the rollups of hours that
 * disagree with raw, and never changes raw rows. (4) Reconciles the dimension rollup of the closed
 * days those hours belong to: one check row per day and dimension (all events against raw),
 * recomputing the days that disagree. The check rows of (3) and (4) are recorded in one statement.
 */
export async function runHourly(deps: Deps): Promise<HourlyCounts> {
  return hourly(deps, (deps.progress ?? UNTRACKED).track(initialCounts(deps.now)));
}

function initialCounts(now: Date): HourlyCounts {
  return {
    closed_hour: new Date(floorHour(now.getTime()) - HOUR_MS).toISOString(),
    dirty_claimed: 0,
    refreshed_ranges: 0,
    buffer_wait_ms: 0,
    buffer_lagging: false,
    hours_checked: 0,
    comparisons: 0,
    drift: 0,
    healed_hours: 0,
    days_checked: 0,
    healed_days: 0,
    budget_stop: false,
  };
}

async function hourly({ buffer, counters, rollups, budget, now, sleep }: Deps, counts: HourlyCounts): Promise<HourlyCounts> {
  const hourNow = floorHour(now.getTime());
  const closed: Range = { from: hourNow - HOUR_MS, to: hourNow };

  // (1) Let the drain catch up with everything accepted before the run was scheduled. Stop waiting
  // when the head of the buffer does not move between polls (the drain is not running, or the
  // head is a failing entry on its way to the dead-letter stream).
  const waitStarted = budget.elapsedMs();
  let previousHead: number | null = null;
  for (let poll = 0; ; poll++) {
    const oldest = await buffer.oldestPendingMs();
    if (oldest === null || oldest > now.getTime()) break;
    const stuck = poll > 0 && oldest === previousHead;
    if (stuck || budget.elapsedMs() - waitStarted >= HOURLY_LIMITS.bufferWaitMs || budget.exhausted(20)) {
      counts.buffer_lagging = true;
      break;
    }
    previousHead = oldest;
    await sleep(HOURLY_LIMITS.bufferPollMs);
  }
  counts.buffer_wait_ms = budget.elapsedMs() - waitStarted;

  // (2) Rollups for the closed hour and every dirty bucket.
  const claimed = await rollups.claimDirtyBuckets(HOURLY_LIMITS.dirtyClaimLimit);
  counts.dirty_claimed = claimed.length;
  const ranges = mergeRanges([closed, ...claimed.map(bucketRange)]);
  let done = 0;
  try {
    for (const range of ranges) {
      if (budget.exhausted(10)) {
        counts.budget_stop = true;
        break;
      }
      await rollups.refreshRollups(new Date(range.from), new Date(range.to));
      done += 1;
    }
  } finally {
    counts.refreshed_ranges = done;
    if (done < ranges.length) {
      // Give back what was claimed but not refreshed (a failure or the budget): the next run does it.
      const left = ranges.slice(done);
      const unrefreshed = claimed.filter((b) => {
        const r = bucketRange(b);
        return left.some((l) => r.from >= l.from && r.to <= l.to);
      });
      if (unrefreshed.length > 0) await rollups.markDirtyBuckets(unrefreshed);
    }
  }
  if (counts.budget_stop) return counts;

  // (3) Reconcile the closed hours Redis still holds.
  const hourChecks = await reconcileHours({ counters, rollups, budget, now }, hourNow, counts);
  if (counts.budget_stop) {
    await rollups.recordChecks(hourChecks);
    return counts;
  }
  // (4) Reconcile the dimension rollup of the closed days.
  const dayChecks = await reconcileDimensionDays({ rollups, budget }, hourNow, counts);
  const checks = [...hourChecks, ...dayChecks];
  await rollups.recordChecks(checks);
  counts.comparisons = checks.length;
  counts.drift = checks.filter((c) => c.status === "drift").length;
  return counts;
}

async function reconcileHours(
  { counters, rollups, budget, now }: Pick<Deps, "counters" | "rollups" | "budget" | "now">,
  hourNow: number,
  counts: HourlyCounts,
): Promise<CheckRow[]> {
  const candidates: Date[] = [];
  for (let i = 1; i <= HOURLY_LIMITS.reconcileHours; i++) candidates.push(new Date(hourNow - i * HOUR_MS));
  const redis = await counters.hourCounts(candidates);
  if (redis.size === 0) return [];
  const hours = [...redis.keys()].map((h) => new Date(h));
  const rows = await rollups.reconcileCounts(hours);
  const checks = compareHours(redis, rows);
  const floor = rows[0]?.raw_floor.getTime() ?? -Infinity;

  const heals = await healRollups(checks, floor, HOURLY_LIMITS.maxHeals, budget, counts, (from) =>
    rollups.healHour(new Date(from), new Date(from + HOUR_MS), now),
  );
  for (const c of checks) if (c.action === null && c.redis_count !== c.raw_count) c.action = "redis_differs";

  counts.healed_hours = heals;
  counts.hours_checked = redis.size;
  counts.comparisons = checks.length;
  counts.drift = checks.filter((c) => c.status === "drift").length;
  return checks;
}

/**
 * Rebuilds from raw, oldest first, each bucket (the checks' `hour`) whose rollup count differs
 * from raw, and sets the action of those checks: `rollup_healed`, `raw_dropped_not_healed` below
 * the raw floor (raw is never "fixed" and no longer there), or `heal_deferred` past `maxHeals` or
 * the budget (which stops the run). Returns how many buckets were healed.
 */
async function healRollups(
  checks: CheckRow[],
  floor: number,
  maxHeals: number,
  budget: Budget,
  counts: HourlyCounts,
  heal: (from: number) => Promise<void>,
): Promise<number> {
  const rollupOff = new Set(checks.filter((c) => c.rollup_count !== c.raw_count).map((c) => c.hour));
  let heals = 0;
  for (const bucket of [...rollupOff].sort()) {
    const from = Date.parse(bucket);
    let action: string;
    if (from < floor) {
      action = "raw_dropped_not_healed";
    } else if (heals >= maxHeals || budget.exhausted(8)) {
      action = "heal_deferred";
      counts.budget_stop = true;
    } else {
      await heal(from);
      heals += 1;
      action = "rollup_healed";
    }
    for (const c of checks) if (c.hour === bucket && c.rollup_count !== c.raw_count) c.action = action;
  }
  return heals;
}

/**
 * The closed days of the reconciliation window that hold raw or rollup rows, compared per
 * dimension in one statement; a day that disagrees is recomputed from raw (one procedure call),
 * unless raw rows of the day were already dropped (the rollup outlives raw retention).
 */
async function reconcileDimensionDays({ rollups, budget }: Pick<Deps, "rollups" | "budget">, hourNow: number, counts: HourlyCounts): Promise<CheckRow[]> {
  const openDay = Math.floor(hourNow / DAY_MS) * DAY_MS;
  const rows = await rollups.reconcileDimensionDays(new Date(openDay - HOURLY_LIMITS.reconcileDays * DAY_MS), new Date(openDay));
  const checks = compareDimensionDays(rows);
  const floor = rows[0]?.raw_floor.getTime() ?? -Infinity;
  const heals = await healRollups(checks, floor, HOURLY_LIMITS.reconcileDays, budget, counts, (from) =>
    rollups.healDimensionDays(new Date(from), new Date(from + DAY_MS)),
  );
  counts.days_checked = new Set(checks.map((c) => c.hour)).size;
  counts.healed_days = heals;
  return checks;
}
