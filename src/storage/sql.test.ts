import { describe, expect, it } from "vitest";
import type { EventRow } from "../domain/event";
import { EVENT_COLUMN_NAMES, insertEventsValues, textArrayLiteral } from "./sql";

describe("textArrayLiteral", () => {
  const cases: { name: string; input: string[]; expected: string }[] = [
    { name: "empty", input: [], expected: "{}" },
    { name: "plain items quoted", input: ["bot", "derived_id"], expected: '{"bot","derived_id"}' },
    { name: "quote and backslash escaped", input: ['a"b', "c\\d"], expected: '{"a\\"b","c\\\\d"}' },
    { name: "separators and braces stay inside quotes", input: ["x,y", "{z}", "NULL"], expected: '{"x,y","{z}","NULL"}' },
  ];
  for (const t of cases) it(t.name, () => expect(textArrayLiteral(t.input)).toBe(t.expected));
});

describe("insertEventsValues", () => {
  const row: EventRow = {
    event_id: "0190f3e2-7c1a-7b2c-9d3e-4f5a6b7c8d9e",
    time: "2026-11-26T07:00:00.000Z",
    event_name: "page_view",
    category: "navigation",
    user_id: "u1",
    session_id: null,
    properties: { plan: "pro" },
    device_info: null,
    page_url: "https://a.example/",
    referrer: null,
    received_at: "2026-11-26T07:00:01.000Z",
    client_time: null,
    skew_ms: -12,
    flags: ["bot"],
    visitor_id: "9f86d081884c7d65",
    country: "DE",
    page_path: "/",
    page_host: "a.example",
  };

  it("sends one array per column, in the column order, rows in batch order", () => {
    const values = insertEventsValues([row, { ...row, event_id: "0190f3e2-7c1a-7b2c-9d3e-4f5a6b7c8d9f", flags: [] }]);
    const columns = EVENT_COLUMN_NAMES;
    expect(values).toHaveLength(columns.length);
    const byColumn = Object.fromEntries(columns.map((c, i) => [c, values[i]]));
    expect(byColumn).toEqual({
      event_id: [row.event_id, "0190f3e2-7c1a-7b2c-9d3e-4f5a6b7c8d9f"],
      time: [row.time, row.time],
      event_name: ["page_view", "page_view"],
      category: ["navigation", "navigation"],
      user_id: ["u1", "u1"],
      session_id: [null, null],
      properties: ['{"plan":"pro"}', '{"plan":"pro"}'],
      device_info: [null, null],
      page_url: ["https://a.example/", "https://a.example/"],
      referrer: [null, null],
      received_at: [row.received_at, row.received_at],
      client_time: [null, null],
      skew_ms: [-12, -12],
      flags: ['{"bot"}', "{}"],
      visitor_id: ["9f86d081884c7d65", "9f86d081884c7d65"],
      page_path: ["/", "/"],
      page_host: ["a.example", "a.example"],
      referrer_host: [null, null],
      utm_source: [null, null],
      utm_medium: [null, null],
      utm_campaign: [null, null],
      country: ["DE", "DE"],
      device_class: [null, null],
      browser: [null, null],
      os: [null, null],
    });
  });

  it("sends NULL for fields a buffered row lacks (INSERT_EVENTS stores their defaults)", () => {
    const { properties: _p, flags: _f, ...partial } = row;
    const values = insertEventsValues([partial as EventRow]);
    const columns = EVENT_COLUMN_NAMES;
    expect(values[columns.indexOf("properties")]).toEqual([null]);
    expect(values[columns.indexOf("flags")]).toEqual([null]);
  });

  it("sends NULL for the visitor id and dimensions of a row written before they existed", () => {
    const { visitor_id: _v, country: _c, page_path: _p, page_host: _h, ...older } = row;
    const values = insertEventsValues([older]);
    const columns = EVENT_COLUMN_NAMES;
    for (const column of ["visitor_id", "country", "page_path", "page_host"] as const) expect(values[columns.indexOf(column)]).toEqual([null]);
  });
});
