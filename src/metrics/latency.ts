/**
 * The worker's own latency measurements, kept per isolate and written to PostgreSQL inside a
 * statement the worker sends anyway (see `piggyback.ts`), so measuring never costs a round trip.
 *
 * Per (UTC minute, metric) an isolate keeps the number of measurements and a uniform sample of up
 * to MAX_SAMPLES durations (reservoir sampling), so memory stays bounded at any request rate; the
 * p50/p99 the read API answers are computed over those samples.
 */

/** Metric names. Read endpoints are `read:<path>`, e.g. `read:/api/v1/analytics/summary`. */
export const METRICS = {
  /** The ingest request's one Redis round trip (the Lua script: dedupe, counters, buffer). */
  redisIngest: "redis_ingest",
  /** A request's own INSERT_EVENTS: the direct insert after the response, or the Redis-down fallback. */
  postgresInsert: "postgres_insert",
  /** One INSERT_EVENTS of the minute drain (up to ~2,000 rows). */
  drainInsert: "drain_insert",
  read: (path: string) => `read:${path}`,
} as const;

/** Sampled durations kept per (minute, metric) and isolate. */
export const MAX_SAMPLES = 100;
/** Pending measurements are written once the oldest has waited this long. */
export const FLUSH_AFTER_MS = 5_000;
/** (minute, metric) pairs an isolate keeps before it drops new ones (a bound, never reached in practice). */
const MAX_PENDING = 1_000;

/** One row of `analytics_latency`, as the piggybacked statement inserts it. */
export interface LatencyRow {
  minute: string;
  metric: string;
  count: number;
  samples: number[];
}

export class LatencyRecorder {
  private pending = new Map<string, LatencyRow>();
  private oldestMs: number | null = null;

  constructor(private readonly random: () => number = Math.random) {}

  /** Adds one measurement of `ms` milliseconds taken at `nowMs`. */
  record(metric: string, ms: number, nowMs = Date.now()): void {
    if (!Number.isFinite(ms) || ms < 0) return;
    const minuteMs = Math.floor(nowMs / 60_000) * 60_000;
    const key = `${minuteMs}|${metric}`;
    let row = this.pending.get(key);
    if (!row) {
      if (this.pending.size >= MAX_PENDING) return;
      row = { minute: new Date(minuteMs).toISOString(), metric, count: 0, samples: [] };
      this.pending.set(key, row);
    }
    row.count += 1;
    const value = Math.round(ms * 100) / 100;
    if (row.samples.length < MAX_SAMPLES) row.samples.push(value);
    else {
      const slot = Math.floor(this.random() * row.count);
      if (slot < MAX_SAMPLES) row.samples[slot] = value;
    }
    this.oldestMs ??= nowMs;
  }

  /** The pending rows when the oldest has waited FLUSH_AFTER_MS (they leave the recorder), else null. */
  takeDue(nowMs = Date.now()): LatencyRow[] | null {
    if (this.oldestMs === null || nowMs - this.oldestMs < FLUSH_AFTER_MS) return null;
    const rows = [...this.pending.values()];
    this.pending.clear();
    this.oldestMs = null;
    return rows;
  }

  /** Puts rows back after the statement carrying them failed (merged with what came meanwhile). */
  restore(rows: readonly LatencyRow[], nowMs = Date.now()): void {
    for (const row of rows) {
      const key = `${Date.parse(row.minute)}|${row.metric}`;
      const current = this.pending.get(key);
      if (!current) {
        if (this.pending.size >= MAX_PENDING) continue;
        this.pending.set(key, { ...row, samples: [...row.samples] });
      } else {
        current.count += row.count;
        current.samples = [...current.samples, ...row.samples].slice(0, MAX_SAMPLES);
      }
    }
    if (rows.length > 0) this.oldestMs = Math.min(this.oldestMs ?? nowMs, nowMs - FLUSH_AFTER_MS);
  }

  /** Measurements waiting to be written (for tests). */
  pendingCount(): number {
    let n = 0;
    for (const row of this.pending.values()) n += row.count;
    return n;
  }
}

/** This isolate's recorder. */
export const isolateLatency = new LatencyRecorder();
