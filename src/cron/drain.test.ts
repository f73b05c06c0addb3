import { describe, expect, it } from "vitest";
import type { EventRow } from "../domain/event";
import { Budget, countCalls } from "./budget";
import { DRAIN_LIMITS, drainBuffer, groupByRows, nextReadCount } from "./drain";
import type { BufferEntry, BufferPort, DeadLetter, EventSink } from "./ports";

const row = (id: string): EventRow => ({
  event_id: id,
  time: "2026-11-26T07:00:00.000Z",
  event_name: "page_view",
  category: "navigation",
  user_id: null,
  session_id: null,
  properties: {},
  device_info: null,
  page_url: null,
  referrer: null,
  received_at: "2026-11-26T07:00:00.000Z",
  client_time: null,
  skew_ms: 0,
  flags: [],
});

/** An in-memory buffer stream with the port's semantics. */
class FakeBuffer implements BufferPort {
  entries: BufferEntry[] = [];
  tries = new Map<string, number>();
  dead: DeadLetter[] = [];
  constructor(count: number, rowsPerEntry = 10) {
    for (let i = 0; i < count; i++) {
      const id = `${1_000 + i}-0`;
      this.entries.push({ id, rows: Array.from({ length: rowsPerEntry }, (_, j) => row(`${id}/${j}`)) });
    }
  }
  async read(afterId: string | null, count: number) {
    const start = afterId === null ? 0 : this.entries.findIndex((e) => e.id > afterId);
    return start < 0 ? [] : this.entries.slice(start, start + count);
  }
  async remove(ids: readonly string[]) {
    const gone = new Set(ids);
    this.entries = this.entries.filter((e) => !gone.has(e.id));
  }
  async attempts() {
    return new Map(this.tries);
  }
  async recordFailures(ids: readonly string[]) {
    return ids.map((id) => {
      this.tries.set(id, (this.tries.get(id) ?? 0) + 1);
      return this.tries.get(id)!;
    });
  }
  async deadLetter(entries: readonly DeadLetter[]) {
    this.dead.push(...entries);
    await this.remove(entries.map((e) => e.id));
  }
  async oldestPendingMs() {
    return this.entries[0] ? Number(this.entries[0].id.split("-")[0]) : null;
  }
}

/** A sink that stores ids and fails like PostgreSQL would for rows it is told to refuse. */
class FakeSink implements EventSink {
  stored = new Set<string>();
  statements = 0;
  constructor(private readonly refuse: (rows: readonly EventRow[]) => { code?: string; message: string } | null = () => null) {}
  async insert(rows: readonly EventRow[]) {
    this.statements += 1;
    const error = this.refuse(rows);
    if (error) throw Object.assign(new Error(error.message), error.code ? { code: error.code } : {});
    let inserted = 0;
    for (const r of rows) if (!this.stored.has(r.event_id)) (this.stored.add(r.event_id), (inserted += 1));
    return inserted;
  }
  async ensurePartitions() {
    return 0;
  }
}

const budget = (limits = { wallMs: 20_000, subrequests: 900 }, clock?: () => number) => new Budget(limits, clock);

describe("drainBuffer", () => {
  it("isolates one bad entry among many by bisection, with few statements, and stores the rest", async () => {
    const buffer = new FakeBuffer(256);
    const bad = "1077-0";
    const sink = new FakeSink((rows) => (rows.some((r) => r.event_id.startsWith(`${bad}/`)) ? { code: "22P02", message: "invalid input" } : null));

    const counts = await drainBuffer({ buffer, events: sink, budget: budget(), now: new Date() });

    expect(counts).toMatchObject({ entries: 255, events: 2_550, failed: 1, dead_lettered: 0 });
    expect(buffer.entries.map((e) => e.id)).toEqual([bad]);
    // ~2·log2(256) statements, not one per entry.
    expect(sink.statements).toBeLessThanOrEqual(20);
  });

  it("dead-letters an entry after maxAttempts failing runs", async () => {
    const buffer = new FakeBuffer(3);
    const sink = new FakeSink((rows) => (rows.some((r) => r.event_id.startsWith("1001-0/")) ? { code: "23502", message: "null value" } : null));
    for (let run = 1; run <= DRAIN_LIMITS.maxAttempts; run++) {
      await drainBuffer({ buffer, events: sink, budget: budget(), now: new Date() });
    }
    expect(buffer.entries).toEqual([]);
    expect(buffer.dead).toMatchObject([{ id: "1001-0", attempts: DRAIN_LIMITS.maxAttempts, error: "23502: null value" }]);
  });

  it("blames no entry when the database is unreachable: the run fails and the buffer is kept", async () => {
    const buffer = new FakeBuffer(5);
    const sink = new FakeSink(() => ({ message: "Error connecting to database: fetch failed" }));
    await expect(drainBuffer({ buffer, events: sink, budget: budget(), now: new Date() })).rejects.toThrow(/connecting/);
    expect(buffer.entries).toHaveLength(5);
    expect(buffer.tries.size).toBe(0);
  });

  it("stops starting chunks when its wall-time budget is spent and leaves the rest for the next run", async () => {
    const buffer = new FakeBuffer(3_000, 50);
    let t = 0;
    const b = budget({ wallMs: 20_000, subrequests: 900 }, () => t);
    const sink = new FakeSink(() => {
      t += 9_000; // each statement takes 9 s
      return null;
    });
    const counts = await drainBuffer({ buffer, events: sink, budget: b, now: new Date() });
    expect(counts.budget_stop).toBe(true);
    expect(counts.entries).toBeGreaterThan(0);
    expect(buffer.entries.length).toBe(3_000 - counts.entries);
  });

  it("stops before running out of subrequests", async () => {
    const buffer = new FakeBuffer(20_000, 1);
    const b = budget({ wallMs: 20_000, subrequests: 60 });
    const counts = await drainBuffer({ buffer: countCalls(buffer, b), events: countCalls(new FakeSink(), b), budget: b, now: new Date() });
    expect(counts.budget_stop).toBe(true);
    expect(b.subrequests).toBeLessThanOrEqual(60);
    expect(buffer.entries.length).toBe(20_000 - counts.entries);
  });
});

describe("read and insert sizing", () => {
  const cases: Array<[number, number, number]> = [
    [0, 0, DRAIN_LIMITS.initialReadCount],
    [50_000, 1_000, 40],
    [1_000, 1_000, DRAIN_LIMITS.maxReadCount],
    [5_000_000, 100, DRAIN_LIMITS.minReadCount],
  ];
  for (const [rows, entries, expected] of cases) {
    it(`reads ${expected} entries after ${rows} rows in ${entries} entries`, () => {
      expect(nextReadCount(rows, entries)).toBe(expected);
    });
  }

  it("groups whole entries up to the row limit", () => {
    const entries = [3, 3, 3, 5, 1].map((n) => ({ rows: Array.from({ length: n }) }));
    expect(groupByRows(entries, 6).map((g) => g.map((e) => e.rows.length))).toEqual([[3, 3], [3], [5, 1]]);
  });
});
