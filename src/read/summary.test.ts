import { describe, expect, it } from "vitest";
import type { Sql } from "../storage/clients";
import { ReadDatabase } from "./sql";
import { readSummary } from "./summary";

/** A stand-in for the Neon driver that answers every query with `rows` and records the SQL. */
function fakeSql(rows: object[]): Sql & { calls: Array<{ text: string; values: unknown[] }> } {
  const calls: Array<{ text: string; values: unknown[] }> = [];
  const fake = { calls, query: async (text: string, values: unknown[]) => (calls.push({ text, values }), rows) };
  return fake as unknown as Sql & typeof fake;
}

const row = (bucket: string, event_name: string) => ({
  clean: true,
  bucket,
  event_name,
  category: "c",
  event_count: "2",
  unique_users: "1",
  unique_sessions: "1",
  complete: true,
});

describe("readSummary row cap", () => {
  it("asks for one row more than the cap and cuts at a bucket boundary when it gets it", async () => {
    const sql = fakeSql([row("t1", "a"), row("t1", "b"), row("t2", "a"), row("t2", "b")]);
    const result = await readSummary(new ReadDatabase(sql), "hour", new Date(0), new Date(7_200_000), {}, 3);
    expect(sql.calls[0]!.values.at(-1)).toBe(3);
    expect(sql.calls[0]!.text).toContain("LIMIT $5::integer + 1");
    expect(result.truncated).toBe(true);
    // t2 was only partly returned: it is dropped whole rather than shown with smaller totals.
    expect(result.rows.map((r) => [r.bucket, r.event_name])).toEqual([["t1", "a"], ["t1", "b"]]);
  });

  it("keeps every row and says so when the answer fits", async () => {
    const sql = fakeSql([row("t1", "a"), row("t2", "a")]);
    const result = await readSummary(new ReadDatabase(sql), "hour", new Date(0), new Date(7_200_000), {}, 3);
    expect(result.truncated).toBe(false);
    expect(result.rows).toHaveLength(2);
    expect(result.rows[0]).toMatchObject({ event_count: 2, unique_users: 1 });
  });
});
