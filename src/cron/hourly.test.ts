import { describe, expect, it } from "vitest";
import { SCOPE_OTHER, compareDimensionDays, compareHours, mergeRanges } from "./hourly";

const H = 3_600_000;

describe("mergeRanges", () => {
  const cases: Array<[string, Array<[number, number]>, Array<[number, number]>]> = [
    ["keeps disjoint ranges apart", [[0, 1], [3, 4]], [[0, 1], [3, 4]]],
    ["merges touching ranges", [[1, 2], [0, 1]], [[0, 2]]],
    ["merges an hour into its day", [[0, 24], [5, 6]], [[0, 24]]],
  ];
  for (const [name, input, expected] of cases) {
    it(name, () => {
      expect(mergeRanges(input.map(([from, to]) => ({ from, to })))).toEqual(expected.map(([from, to]) => ({ from, to })));
    });
  }
});

describe("compareHours", () => {
  const hour = new Date(10 * H);
  const floor = new Date(0);
  it("matches when Redis, raw and rollup agree, per event name and in total", () => {
    const checks = compareHours(new Map([[hour.getTime(), { total: 5, byEvent: new Map([["a", 2], ["b", 3]]) }]]), [
      { hour, event_name: "a", raw_count: 2, rollup_count: 2, raw_floor: floor },
      { hour, event_name: "b", raw_count: 3, rollup_count: 3, raw_floor: floor },
    ]);
    expect(checks.map((c) => [c.scope, c.status, c.drift])).toEqual([["*", "match", 0], ["a", "match", 0], ["b", "match", 0]]);
  });

  it("reports a name missing on one side, and sums both deviations from raw", () => {
    const checks = compareHours(new Map([[hour.getTime(), { total: 2, byEvent: new Map([["a", 2]]) }]]), [
      { hour, event_name: "a", raw_count: 3, rollup_count: 1, raw_floor: floor },
      { hour, event_name: "ghost", raw_count: 0, rollup_count: 4, raw_floor: floor },
    ]);
    expect(checks.map((c) => [c.scope, c.redis_count, c.raw_count, c.rollup_count, c.drift])).toEqual([
      ["*", 2, 3, 5, 3],
      ["a", 2, 3, 1, 3],
      ["ghost", 0, 0, 4, 4],
    ]);
  });

  it("compares the names Redis counted past its cap together, against its overflow bucket", () => {
    const checks = compareHours(new Map([[hour.getTime(), { total: 6, byEvent: new Map([["a", 2]]), otherEvents: 4 }]]), [
      { hour, event_name: "a", raw_count: 2, rollup_count: 2, raw_floor: floor },
      { hour, event_name: "late_name_1", raw_count: 1, rollup_count: 1, raw_floor: floor },
      { hour, event_name: "late_name_2", raw_count: 3, rollup_count: 3, raw_floor: floor },
    ]);
    expect(checks.map((c) => [c.scope, c.redis_count, c.raw_count, c.status])).toEqual([
      ["*", 6, 6, "match"],
      ["a", 2, 2, "match"],
      [SCOPE_OTHER, 4, 4, "match"],
    ]);
  });

  it("compares only the hours Redis holds", () => {
    expect(compareHours(new Map(), [{ hour, event_name: "a", raw_count: 1, rollup_count: 1, raw_floor: floor }])).toEqual([]);
  });
});

describe("compareDimensionDays", () => {
  const day = new Date(48 * H);
  const floor = new Date(0);
  it("checks each dimension of a day against raw, without a Redis count; drift is how far the rollup is off", () => {
    const checks = compareDimensionDays([
      { day, dimension: "country", raw_count: 10, rollup_count: 10, raw_floor: floor },
      { day, dimension: "page_path", raw_count: 10, rollup_count: 7, raw_floor: floor },
    ]);
    expect(checks).toEqual([
      { hour: day.toISOString(), scope: "dimension:country", redis_count: null, raw_count: 10, rollup_count: 10, drift: 0, status: "match", action: null },
      { hour: day.toISOString(), scope: "dimension:page_path", redis_count: null, raw_count: 10, rollup_count: 7, drift: 3, status: "drift", action: null },
    ]);
  });
});
