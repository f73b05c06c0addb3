import { describe, expect, it } from "vitest";
import { FLUSH_AFTER_MS, LatencyRecorder, MAX_SAMPLES } from "./latency";
import { withLatencyRows } from "./piggyback";
import { INSERT_EVENTS } from "../storage/sql";

const T0 = Date.parse("2026-12-06T10:00:10Z");

describe("LatencyRecorder", () => {
  it("keeps a count and at most MAX_SAMPLES durations per minute and metric", () => {
    const recorder = new LatencyRecorder(() => 0.999);
    for (let i = 0; i < 250; i++) recorder.record("redis_ingest", i, T0);
    recorder.record("redis_ingest", 7, T0 + 60_000);
    recorder.record("postgres_insert", 3.14159, T0);
    const rows = recorder.takeDue(T0 + FLUSH_AFTER_MS)!;
    expect(rows.map((r) => [r.minute, r.metric, r.count, r.samples.length])).toEqual([
      ["2026-12-06T10:00:00.000Z", "redis_ingest", 250, MAX_SAMPLES],
      ["2026-12-06T10:01:00.000Z", "redis_ingest", 1, 1],
      ["2026-12-06T10:00:00.000Z", "postgres_insert", 1, 1],
    ]);
    expect(rows[2]!.samples).toEqual([3.14]);
    expect(recorder.pendingCount()).toBe(0);
  });

  it("hands rows over only once the oldest has waited FLUSH_AFTER_MS", () => {
    const recorder = new LatencyRecorder();
    expect(recorder.takeDue(T0)).toBeNull();
    recorder.record("m", 1, T0);
    expect(recorder.takeDue(T0 + FLUSH_AFTER_MS - 1)).toBeNull();
    expect(recorder.takeDue(T0 + FLUSH_AFTER_MS)).toHaveLength(1);
  });

  it("ignores impossible durations", () => {
    const recorder = new LatencyRecorder();
    for (const ms of [Number.NaN, -1, Number.POSITIVE_INFINITY]) recorder.record("m", ms, T0);
    expect(recorder.pendingCount()).toBe(0);
  });

  it("takes rows back after a failed statement, due at once, merged with newer ones", () => {
    const recorder = new LatencyRecorder();
    recorder.record("m", 1, T0);
    const rows = recorder.takeDue(T0 + FLUSH_AFTER_MS)!;
    recorder.record("m", 2, T0 + 1);
    recorder.restore(rows, T0 + 2);
    expect(recorder.pendingCount()).toBe(2);
    expect(recorder.takeDue(T0 + 2)![0]!.samples.sort()).toEqual([1, 2]);
  });
});

describe("withLatencyRows", () => {
  it("adds the latency CTEs in front of INSERT_EVENTS with the next parameter number", () => {
    const text = withLatencyRows(INSERT_EVENTS, 1)!;
    expect(text.startsWith("WITH worker_latency AS (")).toBe(true);
    expect(text).toContain("json_to_recordset($2::json)");
    expect(text.endsWith(INSERT_EVENTS.slice("WITH ".length))).toBe(true);
  });

  it("leaves every other statement alone", () => {
    expect(withLatencyRows("SELECT 1", 0)).toBeNull();
    expect(withLatencyRows("WITH x AS (SELECT 1) SELECT * FROM x", 0)).toBeNull();
  });
});
