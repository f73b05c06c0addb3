/** Table-driven tests of the pure parts of the history tools: CSV lines and compare's differences. */
import { describe, expect, it } from "vitest";
import { diffCells, type Cells } from "../../scripts/lib/compare";
import { legacyEvent } from "../../scripts/lib/import/legacy-redis";
import { csvHeader, splitCsvLine } from "../../scripts/lib/import/records";

describe("splitCsvLine", () => {
  const cases: Array<[string, string[] | null]> = [
    ["a,b,c", ["a", "b", "c"]],
    ["a,,c", ["a", "", "c"]],
    ['"a,b",c', ["a,b", "c"]],
    ['"say ""hi""",x', ['say "hi"', "x"]],
    ['"{""asset_type"":""image""}"', ['{"asset_type":"image"}']],
    ["a,", ["a", ""]],
    ['"open,b', null],
    ['"a"b,c', null],
  ];
  for (const [line, expected] of cases) it(JSON.stringify(line), () => expect(splitCsvLine(line)).toEqual(expected));
});

describe("csvHeader", () => {
  it("accepts event fields and camelCase aliases", () => expect(csvHeader("eventName,category,timestamp,userId")).toEqual(["eventName", "category", "timestamp", "userId"]));
  const bad: Array<[string, string]> = [
    ["event_name,colour", 'unknown column "colour" (column 2)'],
    ["event_name,category,category", 'column "category" appears twice'],
    ["category,timestamp", "an event_name column is required"],
  ];
  for (const [line, message] of bad) it(`refuses ${line}`, () => expect(() => csvHeader(line)).toThrow(message));
});

describe("legacyEvent", () => {
  it("renames mapped fields and takes the score as the time when the member has none", () =>
    expect(legacyEvent({ name: "click", category: "ui" }, 1_764_000_000_000, { name: "event_name" })).toEqual({ event_name: "click", category: "ui", timestamp: 1_764_000_000_000 }));
  it("keeps the member's own timestamp", () => expect(legacyEvent({ timestamp: "2026-11-01T00:00:00Z" }, 1, {}).timestamp).toBe("2026-11-01T00:00:00Z"));
});

describe("diffCells", () => {
  const H = "2026-11-24T13:00:00Z";
  const cells = (entries: Array<[string, string, number, number]>): Cells => new Map(entries.map(([n, c, count, users]) => [`${H}\t${n}\t${c}`, { event_count: count, unique_users: users }]));

  it("no difference on equal sides", () => expect(diffCells("legacy-tables", cells([["click", "ui", 5, 2]]), cells([["click", "ui", 5, 2]]), 0, 0)).toEqual([]));

  it("lists the category count, the name's total and the users, each failing at tolerance 0", () => {
    const d = diffCells("legacy-redis", cells([["click", "ui", 5, 2]]), cells([["click", "ui", 4, 1]]), 0, 0);
    expect(d.map((x) => [x.category, x.metric, x.legacy, x.new, x.diff, x.fails])).toEqual([
      ["*", "event_count", 5, 4, -1, true],
      ["ui", "event_count", 5, 4, -1, true],
      ["ui", "unique_users", 2, 1, -1, true],
    ]);
  });

  it("a category present on one side only shifts the distribution but not the total", () => {
    const d = diffCells("legacy-tables", cells([["search", "nav", 3, 1]]), cells([["search", "engagement", 3, 1]]), 0, 0);
    expect(d.filter((x) => x.category === "*")).toEqual([]);
    expect(d.map((x) => `${x.category}:${x.metric}`)).toEqual(["engagement:event_count", "engagement:unique_users", "nav:event_count", "nav:unique_users"]);
  });

  it("passes within the tolerance: |new − legacy| ≤ tolerance % × max", () => {
    const legacy = cells([["click", "ui", 100, 10]]);
    const current = cells([["click", "ui", 99, 10]]);
    expect(diffCells("legacy-tables", legacy, current, 1, 0).every((x) => !x.fails)).toBe(true);
    expect(diffCells("legacy-tables", legacy, current, 0.5, 0).every((x) => x.fails)).toBe(true);
  });
});
