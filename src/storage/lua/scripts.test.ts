import { describe, expect, it } from "vitest";
import { BUFFER_FIELD, COUNTER_FIELDS } from "../redis-keys";
import { BUFFER_DELETE_KEYS, BUFFER_DELETE_SCRIPT } from "./buffer-delete";
import { INGEST_ARGV, INGEST_KEYS, INGEST_SCRIPT } from "./ingest";
import { MINUTE_TOTALS_SCRIPT } from "./minute-totals";
import { REALTIME_ARGV, REALTIME_SCRIPT } from "./realtime";

async function sha1(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-1", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

const occurrences = (text: string, needle: string) => text.split(needle).length - 1;

describe("the Redis scripts", () => {
  // EVALSHA addresses a script by this digest: a change to a script (or to a field name it
  // interpolates) changes what every deployed isolate loads. Update a pin only on purpose.
  it.each([
    ["ingest", INGEST_SCRIPT, "4396f7bce9b23881ca879ee8480c95bf3ca4a814"],
    ["buffer delete", BUFFER_DELETE_SCRIPT, "ae9001fd5c9c4cfce311ef7590f29dbf87e7c88a"],
    ["realtime", REALTIME_SCRIPT, "bc20d4baa87ddf8ff1b784a23f7705ef15a01fe3"],
    ["minute totals", MINUTE_TOTALS_SCRIPT, "da42fec76e7b1434f63939c6d96a1d471261861d"],
  ])("pins the %s script's SHA1", async (_name, script, pinned) => {
    expect(await sha1(script)).toBe(pinned);
  });

  it("names every fixed argument in a local before the script's first command", () => {
    for (const [script, table, slots] of [
      [INGEST_SCRIPT, "KEYS", INGEST_KEYS],
      [INGEST_SCRIPT, "ARGV", INGEST_ARGV],
      [BUFFER_DELETE_SCRIPT, "KEYS", BUFFER_DELETE_KEYS],
      [REALTIME_SCRIPT, "ARGV", REALTIME_ARGV],
    ] as const) {
      const header = script.slice(0, script.indexOf("redis.call"));
      slots.forEach((slot, i) => expect(header).toMatch(new RegExp(`local ${slot.name} = (tonumber\\()?${table}\\[${i + 1}\\]`)));
      // No fixed position is read anywhere else.
      const body = script.slice(script.indexOf("redis.call"));
      for (let i = 1; i <= slots.length; i++) expect(body).not.toContain(`${table}[${i}]`);
    }
  });

  it("writes exactly the hash and stream field names redis-keys.ts owns, each bound once", () => {
    for (const field of [
      COUNTER_FIELDS.total,
      COUNTER_FIELDS.bots,
      COUNTER_FIELDS.otherEvents,
      COUNTER_FIELDS.otherCategories,
      COUNTER_FIELDS.distinctEvents,
      COUNTER_FIELDS.distinctCategories,
      COUNTER_FIELDS.event(""),
      COUNTER_FIELDS.category(""),
      BUFFER_FIELD,
    ]) {
      expect(occurrences(INGEST_SCRIPT, `'${field}'`), field).toBe(1);
    }
    expect(occurrences(MINUTE_TOTALS_SCRIPT, `'${COUNTER_FIELDS.total}'`)).toBe(1);
  });
});
