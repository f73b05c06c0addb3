import { describe, expect, it } from "vitest";
import { eventRow } from "../../test/support/event-row";
import type { EventRow } from "../domain/event";
import { Budget, countCalls } from "./budget";
import { DRAIN_LIMITS, drainBuffer, groupByRows, nextReadCount } from "./drain";
import type { BufferEntry, BufferPort, DeadLetter, EventSink } from "./ports";

const row = (id: string): EventRow => eventRow({ event_id: id, time: "2026-11-26T07:00:00.000Z" });

/** An in-memory buffer stream with the port's semantics. */
class FakeBuffer implements BufferPort {
  entries: BufferEntry[] = [];
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
  it("isolates one bad row among many by bisection, with few statements, stores the rest and dead-letters only that row", async () => {
    const buffer = new FakeBuffer(256);
    const bad = "1077-0/3";
    const sink = new FakeSink((rows) => (rows.some((r) => r.event_id === bad) ? { code: "22P02", message: "invalid input" } : null));

    const counts = await drainBuffer({ buffer, events: sink, budget: budget(), now: new Date() });

    expect(counts).toMatchObject({ entries: 255, events: 2_559, rows_refused: 1, dead_lettered: 1 });
    expect(buffer.entries).toEqual([]);
    expect(sink.stored.size).toBe(2_559);
    expect(buffer.dead).toHaveLength(1);
    expect(buffer.dead[0]).toMatchObject({ id: "1077-0", sqlstate: "22P02", error: "22P02: invalid input" });
    expect(JSON.parse(buffer.dead[0]!.raw)).toEqual({ v: 1, rows: [row(bad)] });
    // ~2·log2(256) + 2·log2(10) statements, not one per entry or row.
    expect(sink.statements).toBeLessThanOrEqual(30);
  });

  it("dead-letters each refused row of an entry in the same run, with its own error", async () => {
    const buffer = new FakeBuffer(3);
    const sink = new FakeSink((rows) =>
      rows.some((r) => r.event_id === "1001-0/2" || r.event_id === "1001-0/7") ? { code: "23514", message: "violates check constraint" } : null,
    );
    const counts = await drainBuffer({ buffer, events: sink, budget: budget(), now: new Date() });
    expect(counts).toMatchObject({ rows_refused: 2, dead_lettered: 2 });
    expect(buffer.entries).toEqual([]);
    expect(buffer.dead.map((d) => [d.id, JSON.parse(d.raw).rows[0].event_id])).toEqual([
      ["1001-0", "1001-0/2"],
      ["1001-0", "1001-0/7"],
    ]);
    expect(sink.stored.size).toBe(28);
  });

  it("blames no entry when the database is unreachable: the run fails and the buffer is kept", async () => {
    const buffer = new FakeBuffer(5);
    const sink = new FakeSink(() => ({ message: "Error connecting to database: fetch failed" }));
    await expect(drainBuffer({ buffer, events: sink, budget: budget(), now: new Date() })).rejects.toThrow(/connecting/);
    expect(buffer.entries).toHaveLength(5);
    expect(buffer.dead).toEqual([]);
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
