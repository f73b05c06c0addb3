import { describe, expect, it } from "vitest";
import { DAY_MS, HOUR_MS } from "../../src/time";
import { cacheControl } from "../../src/read/cache";
import { RANGE_CAPS, alignDown, alignUp, resolveRange } from "../../src/read/range";
import { RAW_RANGE_CAP_MS, SeriesQuerySchema, movingAverage, percentileKey } from "../../src/read/series";

const at = (iso: string) => new Date(iso);
const NOW = at("2026-11-26T07:42:10.000Z");
const hourly = { widthMs: HOUR_MS, defaultSpanMs: 24 * HOUR_MS, maxSpanMs: RANGE_CAPS.hour, capLabel: "interval=hour", now: NOW };
const daily = { widthMs: DAY_MS, defaultSpanMs: 30 * DAY_MS, maxSpanMs: RANGE_CAPS.day, capLabel: "interval=day", now: NOW };

describe("alignDown / alignUp", () => {
  const cases: Array<[string, number, string, string]> = [
    ["2026-11-26T07:42:10Z", HOUR_MS, "2026-11-26T07:00:00.000Z", "2026-11-26T08:00:00.000Z"],
    ["2026-11-26T07:00:00Z", HOUR_MS, "2026-11-26T07:00:00.000Z", "2026-11-26T07:00:00.000Z"],
    ["2026-11-26T23:59:59.999Z", DAY_MS, "2026-11-26T00:00:00.000Z", "2026-11-27T00:00:00.000Z"],
    ["1999-12-31T23:30:00Z", HOUR_MS, "1999-12-31T23:00:00.000Z", "2000-01-01T00:00:00.000Z"],
  ];
  it.each(cases)("%s at %i ms → [%s, %s]", (time, width, down, up) => {
    expect(new Date(alignDown(Date.parse(time), width)).toISOString()).toBe(down);
    expect(new Date(alignUp(Date.parse(time), width)).toISOString()).toBe(up);
  });
});

describe("resolveRange", () => {
  const ok: Array<[string, { from?: string; to?: string }, typeof hourly, string, string]> = [
    ["defaults: the 24 hours ending with the open hour", {}, hourly, "2026-11-25T08:00:00.000Z", "2026-11-26T08:00:00.000Z"],
    ["defaults, daily: 30 days ending with today", {}, daily, "2026-10-28T00:00:00.000Z", "2026-11-27T00:00:00.000Z"],
    ["unaligned bounds widen to whole hours", { from: "2026-11-20T07:30:00Z", to: "2026-11-20T09:10:00Z" }, hourly, "2026-11-20T07:00:00.000Z", "2026-11-20T10:00:00.000Z"],
    ["an offset is converted to UTC", { from: "2026-11-20T09:30:00+02:00", to: "2026-11-20T12:00:00+02:00" }, hourly, "2026-11-20T07:00:00.000Z", "2026-11-20T10:00:00.000Z"],
    ["a date is midnight UTC", { from: "2026-11-01", to: "2026-11-03" }, daily, "2026-11-01T00:00:00.000Z", "2026-11-03T00:00:00.000Z"],
    ["only to: from is the default span before it", { to: "2026-11-20T00:00:00Z" }, hourly, "2026-11-19T00:00:00.000Z", "2026-11-20T00:00:00.000Z"],
    ["exactly 31 days hourly is allowed", { from: "2026-10-01T00:00:00Z", to: "2026-11-01T00:00:00Z" }, hourly, "2026-10-01T00:00:00.000Z", "2026-11-01T00:00:00.000Z"],
  ];
  it.each(ok)("%s", (_name, input, rules, from, to) => {
    const result = resolveRange(input, rules);
    expect(result).toEqual({ range: { from: at(from), to: at(to) } });
  });

  const bad: Array<[string, { from?: string; to?: string }, Parameters<typeof resolveRange>[1], string, string]> = [
    ["an empty range names to", { from: "2026-11-20T05:00:00Z", to: "2026-11-20T05:00:00Z" }, hourly, "to", "empty"],
    ["a reversed range names to", { from: "2026-11-21T00:00:00Z", to: "2026-11-20T00:00:00Z" }, hourly, "to", "empty"],
    ["over the hourly cap names from", { from: "2026-10-01T00:00:00Z", to: "2026-11-01T01:00:00Z" }, hourly, "from", "at most 31 days"],
    ["the lead-in counts against the cap", { from: "2026-11-01", to: "2026-11-07" }, { ...hourly, maxSpanMs: RAW_RANGE_CAP_MS, leadInMs: 25 * HOUR_MS }, "from", "lead-in"],
  ];
  it.each(bad)("%s", (_name, input, rules, param, fragment) => {
    const result = resolveRange(input, rules);
    expect("issue" in result && result.issue.param).toBe(param);
    expect("issue" in result && result.issue.message).toContain(fragment);
  });
});

describe("movingAverage", () => {
  const cases: Array<[number[], number, number, number[]]> = [
    [[1, 2, 3, 4], 2, 1, [1.5, 2.5, 3.5]],
    [[0, 0, 6, 3, 3], 3, 2, [2, 3, 4]],
    [[5, 7], 1, 0, [5, 7]],
    // Without a lead-in the first points average over the buckets there are.
    [[2, 4, 6], 3, 0, [2, 3, 4]],
  ];
  it.each(cases)("%j over %i (lead %i) → %j", (values, window, lead, expected) => {
    expect(movingAverage(values, window, lead)).toEqual(expected);
  });
});

describe("cacheControl", () => {
  const range = (from: string, to: string) => ({ from: at(from), to: at(to) });
  it.each([
    [false, range("2026-11-01T00:00:00Z", "2026-11-02T00:00:00Z"), "no-store"],
    [true, range("2026-11-25T00:00:00Z", "2026-11-26T00:00:00Z"), "private, max-age=300"],
    [true, range("2026-11-01T00:00:00Z", "2026-11-18T00:00:00Z"), "private, max-age=86400"],
  ] as const)("clean=%s %j → %s", (clean, r, expected) => {
    expect(cacheControl(clean, r, NOW)).toBe(expected);
  });
});

describe("SeriesQuerySchema percentiles", () => {
  it.each([
    ["50,95,99", [50, 95, 99]],
    ["99.9,50,50", [99.9, 50]],
    ["0,100", [0, 100]],
  ])("%s → %j", (text, expected) => {
    const parsed = SeriesQuerySchema.parse({ event_name: "x", percentiles: text, property: "d" });
    expect(parsed.percentiles).toEqual(expected);
    expect(parsed.percentiles!.map(percentileKey)).toEqual(expected.map((p) => `p${p}`));
  });
});
