import { describe, expect, it } from "vitest";
import { prepareBatch } from "./ingest-batch";

const ctx = { receivedAt: new Date("2026-11-26T12:00:00.000Z") };
const base = { event_name: "page_view", category: "navigation", timestamp: "2026-11-26T11:59:00.000Z" };

async function one(event: Record<string, unknown>, options = {}) {
  return prepareBatch({ events: [event] }, { ...ctx, ...options });
}

describe("text the stores cannot hold, and names that are not printable", () => {
  const rejected: { name: string; event: Record<string, unknown>; message: RegExp }[] = [
    { name: "NUL in event_name", event: { ...base, event_name: "a\u0000b" }, message: /^event_name: contains U\+0000/ },
    { name: "lone surrogate in event_name", event: { ...base, event_name: "a\ud800" }, message: /^event_name: contains U\+D800/ },
    { name: "bidi override in event_name", event: { ...base, event_name: "sign\u202eup" }, message: /^event_name: contains U\+202E .*printable/ },
    { name: "zero-width space in category", event: { ...base, category: "nav\u200bigation" }, message: /^category: contains U\+200B/ },
    { name: "zero-width joiner in category", event: { ...base, category: "a\u200db" }, message: /^category: contains U\+200D/ },
    { name: "newline in category", event: { ...base, category: "a\nb" }, message: /^category: contains U\+000A/ },
    { name: "DEL in event_name", event: { ...base, event_name: "a\u007f" }, message: /^event_name: contains U\+007F/ },
    { name: "line separator in event_name", event: { ...base, event_name: "a\u2028b" }, message: /^event_name: contains U\+2028/ },
    { name: "blank event_name", event: { ...base, event_name: " \t " }, message: /^event_name: must not be blank/ },
    { name: "blank category (no-break spaces)", event: { ...base, category: "\u00a0\u3000" }, message: /^category: must not be blank/ },
    { name: "NUL in user_id", event: { ...base, user_id: "u\u0000" }, message: /^user_id: contains U\+0000/ },
    { name: "lone surrogate in session_id", event: { ...base, session_id: "\udc00s" }, message: /^session_id: contains U\+DC00/ },
    { name: "NUL in a properties key", event: { ...base, properties: { "k\u0000": 1 } }, message: /^properties\.k\\u\{0\}: key contains U\+0000/ },
    { name: "lone surrogate in a nested device_info key", event: { ...base, device_info: { screen: { ["w\ud83d"]: 1 } } }, message: /^device_info\.screen\.w\\u\{d83d\}: key contains U\+D83D/ },
  ];
  for (const t of rejected) {
    it(`rejects ${t.name} as invalid_field, naming the field`, async () => {
      const result = await one(t.event);
      expect(result.rows).toEqual([]);
      expect(result.rejected).toHaveLength(1);
      expect(result.rejected[0]!.code).toBe("invalid_field");
      expect(result.rejected[0]!.message).toMatch(t.message);
    });
  }

  const cleaned: { name: string; event: Record<string, unknown>; expect: Record<string, unknown> }[] = [
    { name: "NUL in a properties value", event: { ...base, properties: { q: "a\u0000b" } }, expect: { properties: { q: "a\ufffdb" } } },
    { name: "an emoji cut in half in properties", event: { ...base, properties: { title: "hi \ud83d" } }, expect: { properties: { title: "hi \ufffd" } } },
    { name: "a lone low surrogate in an array in device_info", event: { ...base, device_info: { tags: ["\udc00x"] } }, expect: { device_info: { tags: ["\ufffdx"] } } },
  ];
  for (const t of cleaned) {
    it(`stores ${t.name} cleaned (U+FFFD) and flagged text_cleaned`, async () => {
      const result = await one(t.event);
      expect(result.rejected).toEqual([]);
      expect(result.rows[0]).toMatchObject(t.expect);
      expect(result.rows[0]!.flags).toContain("text_cleaned");
    });
  }

  const accepted: { name: string; event: Record<string, unknown> }[] = [
    { name: "an emoji (a surrogate pair) in event_name", event: { ...base, event_name: "clap_👏" } },
    { name: "non-Latin names", event: { ...base, event_name: "просмотр", category: "ナビ" } },
    { name: "a space inside a name", event: { ...base, event_name: "page view" } },
    { name: "tabs and bidi characters in a properties value (stored as sent)", event: { ...base, properties: { q: "a\tb\u202ec" } } },
  ];
  for (const t of accepted) {
    it(`accepts ${t.name} unchanged`, async () => {
      const result = await one(t.event);
      expect(result.rejected).toEqual([]);
      expect(result.rows[0]!.flags).not.toContain("text_cleaned");
    });
  }

  it("with URL scrubbing off, a NUL in page_url or referrer rejects the event (scrubbing percent-encodes it)", async () => {
    const off = { options: { urlScrub: { enabled: false, keepParamPrefixes: [], keepParams: [] } } };
    expect((await one({ ...base, page_url: "https://a.example/\u0000" }, off)).rejected[0]!.message).toMatch(/^page_url: contains U\+0000/);
    expect((await one({ ...base, referrer: "https://a.example/\ud800" }, off)).rejected[0]!.message).toMatch(/^referrer: contains U\+D800/);
    const scrubbed = await one({ ...base, page_url: "https://a.example/x\u0000y", referrer: "https://b.example/\ud800" });
    expect(scrubbed.rows[0]).toMatchObject({ page_url: "https://a.example/x%00y", referrer: "https://b.example/%EF%BF%BD" });
  });
});

describe("event ids without event_id", () => {
  const noTime = { event_name: "click", category: "ui" };

  it("without a timestamp, two identical events are two events (fresh ids, flagged server_id)", async () => {
    const first = await one(noTime);
    const again = await one(noTime);
    const both = await prepareBatch({ events: [noTime, noTime] }, ctx);
    expect(first.rows[0]!.event_id).not.toBe(again.rows[0]!.event_id);
    expect(first.rows[0]!.flags).toContain("server_id");
    expect(both.rows).toHaveLength(2);
    expect(both.duplicateIndexes).toEqual([]);
  });

  it("with a timestamp, a resend gets the same derived id (flagged derived_id)", async () => {
    const event = { ...noTime, timestamp: Date.parse("2026-11-26T11:59:00.000Z") };
    const first = await one(event);
    const again = await prepareBatch({ events: [event], sent_at: "2026-11-26T11:59:30.000Z" }, ctx);
    expect(first.rows[0]!.event_id).toBe(again.rows[0]!.event_id);
    expect(first.rows[0]!.flags).toContain("derived_id");
  });
});
