import { describe, expect, it } from "vitest";
import { ApiError, fromBatchRejected } from "../errors";
import { BatchRejected } from "./batch-rejected";
import { prepareBatch, type PrepareBatchContext } from "./ingest-batch";
import {
  MAX_ARRAY_LENGTH,
  MAX_BATCH_EVENTS,
  MAX_EVENT_BYTES,
  MAX_ID_LENGTH,
  MAX_KEY_LENGTH,
  MAX_NAME_LENGTH,
  MAX_OBJECT_DEPTH,
  MAX_OBJECT_KEYS,
  MAX_STRING_VALUE_LENGTH,
  MAX_URL_LENGTH,
} from "./limits";

const RECEIVED = new Date("2026-11-26T12:00:00.000Z");
const ctx: PrepareBatchContext = { receivedAt: RECEIVED };
const UUID = "0190f3e2-7c1a-7b2c-9d3e-4f5a6b7c8d9e";
const base = { event_name: "page_view", category: "navigation" };

/** An object nested `levels` containers deep: levels=1 → {}, levels=2 → { a: {} }, … */
function nested(levels: number): Record<string, unknown> {
  let v: Record<string, unknown> = { leaf: 1 };
  for (let i = 1; i < levels; i++) v = { a: v };
  return v;
}

/** An event whose compact JSON is exactly `bytes` UTF-8 bytes (padding split across keys so each
 * string stays under MAX_STRING_VALUE_LENGTH; `multibyte` pads with 2-byte "é"). */
function eventOfBytes(bytes: number, multibyte = false): Record<string, unknown> {
  const keys = Math.ceil(bytes / 3500);
  const props: Record<string, string> = {};
  for (let i = 0; i < keys; i++) props[`p${i}`] = "";
  let remaining = bytes - JSON.stringify({ ...base, properties: props }).length;
  for (let i = 0; i < keys && remaining > 0; i++) {
    const take = Math.min(remaining, 3500);
    props[`p${i}`] = multibyte ? "é".repeat(Math.floor(take / 2)) + "x".repeat(take % 2) : "x".repeat(take);
    remaining -= take;
  }
  const out = { ...base, properties: props };
  const size = new TextEncoder().encode(JSON.stringify(out)).length;
  if (size !== bytes) throw new Error(`fixture is ${size} bytes, wanted ${bytes}`);
  return out;
}

async function one(event: unknown, extra: Record<string, unknown> = {}, context = ctx) {
  return prepareBatch({ events: [event], ...extra }, context);
}

describe("request-level failures throw BatchRejected, answered as an ApiError at the HTTP edge", () => {
  const cases: { name: string; body: unknown; status: number; code: string; message?: RegExp }[] = [
    { name: "a string body", body: "hello", status: 400, code: "invalid_body" },
    { name: "null", body: null, status: 400, code: "invalid_body" },
    { name: "object without events", body: { sent_at: RECEIVED.toISOString() }, status: 400, code: "invalid_body", message: /events/ },
    { name: "events not an array", body: { events: {} }, status: 400, code: "invalid_body" },
    { name: "empty events", body: { events: [] }, status: 422, code: "empty_batch" },
    { name: "empty bare array", body: [], status: 422, code: "empty_batch" },
    {
      name: `${MAX_BATCH_EVENTS + 1} events → 413 naming the limit`,
      body: { events: Array.from({ length: MAX_BATCH_EVENTS + 1 }, () => base) },
      status: 413,
      code: "too_many_events",
      message: new RegExp(`at most ${MAX_BATCH_EVENTS}`),
    },
    { name: "too many events checked before per-event work (even garbage)", body: Array(10_000).fill(7), status: 413, code: "too_many_events" },
    { name: "invalid sent_at", body: { events: [base], sent_at: "yesterday" }, status: 400, code: "invalid_body", message: /^sent_at: / },
    { name: "sent_at as a date that does not exist", body: { events: [base], sent_at: "2026-02-30T00:00:00Z" }, status: 400, code: "invalid_body" },
    { name: "write_key of the wrong type", body: { events: [base], write_key: 5 }, status: 400, code: "invalid_body", message: /^write_key: / },
    { name: "sent_at and sentAt disagree", body: { events: [base], sent_at: "2026-11-26T12:00:00Z", sentAt: "2026-11-26T11:00:00Z" }, status: 400, code: "invalid_body" },
  ];
  for (const t of cases) {
    it(t.name, async () => {
      const rejected = await prepareBatch(t.body, ctx).then(
        () => null,
        (e: unknown) => e,
      );
      expect(rejected).toBeInstanceOf(BatchRejected);
      const error = fromBatchRejected(rejected as BatchRejected);
      expect(error).toBeInstanceOf(ApiError);
      expect(error).toMatchObject({ status: t.status, code: t.code, retryable: false });
      if (t.message) expect((error as ApiError).message).toMatch(t.message);
    });
  }

  it(`exactly ${MAX_BATCH_EVENTS} events pass`, async () => {
    const events = Array.from({ length: MAX_BATCH_EVENTS }, (_, i) => ({ ...base, event_id: `0190f3e2-7c1a-7b2c-9d3e-${String(i).padStart(12, "0")}` }));
    const result = await prepareBatch({ events }, ctx);
    expect(result.rows).toHaveLength(MAX_BATCH_EVENTS);
    expect(result.eventCount).toBe(MAX_BATCH_EVENTS);
  });
});

describe("per-event rejections", () => {
  const cases: { name: string; event: unknown; code: string; message: RegExp }[] = [
    { name: "not an object", event: "click", code: "invalid_field", message: /^event: / },
    { name: "an array", event: [1], code: "invalid_field", message: /^event: / },
    { name: "event_name missing", event: { category: "x" }, code: "invalid_field", message: /^event_name: required/ },
    { name: "category missing", event: { event_name: "x" }, code: "invalid_field", message: /^category: required/ },
    { name: "event_name is a number", event: { ...base, event_name: 5 }, code: "invalid_field", message: /^event_name: .*expected string/ },
    { name: "event_name empty", event: { ...base, event_name: "" }, code: "invalid_field", message: /^event_name: must not be empty/ },
    { name: "user_id is an object", event: { ...base, user_id: { id: 1 } }, code: "invalid_field", message: /^user_id: / },
    { name: "properties is an array", event: { ...base, properties: [1, 2] }, code: "invalid_field", message: /^properties: / },
    { name: "properties is a string", event: { ...base, properties: "{}" }, code: "invalid_field", message: /^properties: / },
    { name: "device_info is a number", event: { ...base, device_info: 3 }, code: "invalid_field", message: /^device_info: / },
    { name: "page_url is a number", event: { ...base, page_url: 3 }, code: "invalid_field", message: /^page_url: / },
    { name: "timestamp is a boolean", event: { ...base, timestamp: true }, code: "invalid_field", message: /^timestamp: must be an ISO-8601/ },
    { name: "timestamp without timezone", event: { ...base, timestamp: "2026-11-26T11:00:00" }, code: "invalid_field", message: /^timestamp: / },
    { name: "timestamp Feb 30", event: { ...base, timestamp: "2026-02-30T11:00:00Z" }, code: "invalid_field", message: /^timestamp: / },
    { name: "timestamp in epoch seconds", event: { ...base, timestamp: 1_764_158_400 }, code: "invalid_field", message: /looks like seconds/ },
    { name: "event_id not a UUID", event: { ...base, event_id: "abc" }, code: "invalid_field", message: /^event_id: must be a UUID/ },
    { name: "eventId not a UUID", event: { ...base, eventId: "abc" }, code: "invalid_field", message: /^eventId: must be a UUID/ },
    { name: "nil UUID", event: { ...base, event_id: "00000000-0000-0000-0000-000000000000" }, code: "invalid_field", message: /^event_id: / },
    { name: "event_id and eventId disagree", event: { ...base, event_id: UUID, eventId: UUID.replace("0190", "0191") }, code: "invalid_field", message: /^event_id: conflicts with eventId/ },
    { name: "user_id and userId disagree", event: { ...base, user_id: "a", userId: "b" }, code: "invalid_field", message: /^user_id: conflicts/ },
    { name: "device_info and deviceInfo both sent", event: { ...base, device_info: {}, deviceInfo: {} }, code: "invalid_field", message: /^device_info: conflicts/ },
    { name: `event_name over ${MAX_NAME_LENGTH}`, event: { ...base, event_name: "e".repeat(MAX_NAME_LENGTH + 1) }, code: "too_large", message: /^event_name: must be at most 128/ },
    { name: `user_id over ${MAX_ID_LENGTH}`, event: { ...base, user_id: "u".repeat(MAX_ID_LENGTH + 1) }, code: "too_large", message: /^user_id: / },
    { name: `properties deeper than ${MAX_OBJECT_DEPTH}`, event: { ...base, properties: nested(MAX_OBJECT_DEPTH + 1) }, code: "too_large", message: /^properties\.a\.a\.a\.a\.a: nested deeper than 5/ },
    {
      name: `more than ${MAX_OBJECT_KEYS} keys`,
      event: { ...base, properties: Object.fromEntries(Array.from({ length: MAX_OBJECT_KEYS + 1 }, (_, i) => [`k${i}`, i])) },
      code: "too_large",
      message: /^properties: more than 100 keys/,
    },
    {
      name: "keys counted across nesting levels",
      event: { ...base, properties: { a: Object.fromEntries(Array.from({ length: MAX_OBJECT_KEYS }, (_, i) => [`k${i}`, i])) } },
      code: "too_large",
      message: /more than 100 keys/,
    },
    { name: `array over ${MAX_ARRAY_LENGTH}`, event: { ...base, properties: { tags: Array(MAX_ARRAY_LENGTH + 1).fill(1) } }, code: "too_large", message: /^properties\.tags: array of 101/ },
    { name: `string over ${MAX_STRING_VALUE_LENGTH}`, event: { ...base, properties: { q: "x".repeat(MAX_STRING_VALUE_LENGTH + 1) } }, code: "too_large", message: /^properties\.q: string of 4097/ },
    { name: "string inside an array", event: { ...base, device_info: { l: ["ok", "x".repeat(MAX_STRING_VALUE_LENGTH + 1)] } }, code: "too_large", message: /^device_info\.l\[1\]: / },
    { name: `key over ${MAX_KEY_LENGTH}`, event: { ...base, properties: { ["k".repeat(MAX_KEY_LENGTH + 1)]: 1 } }, code: "too_large", message: /^properties\.k+…: key of 129/ },
    { name: `page_url over ${MAX_URL_LENGTH} after scrubbing`, event: { ...base, page_url: `https://a.example/${"p".repeat(MAX_URL_LENGTH)}` }, code: "too_large", message: /^page_url: / },
    { name: `event over ${MAX_EVENT_BYTES} bytes`, event: eventOfBytes(MAX_EVENT_BYTES + 1), code: "too_large", message: /MAX_EVENT_BYTES/ },
    { name: "event over the byte cap by multi-byte characters", event: eventOfBytes(MAX_EVENT_BYTES + 1, true), code: "too_large", message: /MAX_EVENT_BYTES/ },
    { name: "timestamp 8 days old", event: { ...base, timestamp: "2026-11-18T11:59:59.000Z" }, code: "too_old", message: /^timestamp: corrected time is 8 d before/ },
    { name: "timestamp 25 h ahead", event: { ...base, timestamp: "2026-11-27T13:00:00.000Z" }, code: "too_far_in_future", message: /^timestamp: corrected time is 25 h after/ },
  ];
  for (const t of cases) {
    it(t.name, async () => {
      const result = await one(t.event);
      expect(result.rows).toHaveLength(0);
      expect(result.rejected).toHaveLength(1);
      expect(result.rejected[0]).toMatchObject({ index: 0, code: t.code });
      expect(result.rejected[0]!.message).toMatch(t.message);
    });
  }

  const boundaryPasses: { name: string; event: unknown }[] = [
    { name: `event of exactly ${MAX_EVENT_BYTES} bytes`, event: eventOfBytes(MAX_EVENT_BYTES) },
    { name: `event of exactly ${MAX_EVENT_BYTES} bytes with multi-byte characters`, event: eventOfBytes(MAX_EVENT_BYTES, true) },
    { name: `properties exactly ${MAX_OBJECT_DEPTH} deep`, event: { ...base, properties: nested(MAX_OBJECT_DEPTH) } },
    { name: `exactly ${MAX_OBJECT_KEYS} keys`, event: { ...base, properties: Object.fromEntries(Array.from({ length: MAX_OBJECT_KEYS }, (_, i) => [`k${i}`, i])) } },
    { name: `array of exactly ${MAX_ARRAY_LENGTH}`, event: { ...base, properties: { tags: Array(MAX_ARRAY_LENGTH).fill(1) } } },
    { name: `string of exactly ${MAX_STRING_VALUE_LENGTH}`, event: { ...base, properties: { q: "x".repeat(MAX_STRING_VALUE_LENGTH) } } },
    { name: `event_name of exactly ${MAX_NAME_LENGTH}`, event: { ...base, event_name: "e".repeat(MAX_NAME_LENGTH) } },
    { name: `key of exactly ${MAX_KEY_LENGTH}`, event: { ...base, properties: { ["k".repeat(MAX_KEY_LENGTH)]: 1 } } },
    { name: "a long tracking query that scrubbing removes", event: { ...base, page_url: `https://a.example/p?fbclid=${"x".repeat(5000)}` } },
    { name: "timestamp exactly 7 days old", event: { ...base, timestamp: "2026-11-19T12:00:00.000Z" } },
    { name: "timestamp exactly 24 h ahead (clamped)", event: { ...base, timestamp: "2026-11-27T12:00:00.000Z" } },
  ];
  for (const t of boundaryPasses) {
    it(`passes: ${t.name}`, async () => {
      const result = await one(t.event);
      expect(result.rejected).toEqual([]);
      expect(result.rows).toHaveLength(1);
    });
  }

  it("one bad event does not fail the batch; every index is accounted for", async () => {
    const result = await prepareBatch(
      { events: [{ ...base, event_id: UUID }, { category: "x" }, { ...base, event_id: UUID }, "junk", { ...base, event_name: "other" }] },
      ctx,
    );
    expect(result.rowIndexes).toEqual([0, 4]);
    expect(result.rejected.map((r) => r.index)).toEqual([1, 3]);
    expect(result.duplicateIndexes).toEqual([2]);
    expect(result.rows.length + result.rejected.length + result.duplicateIndexes.length).toBe(result.eventCount);
  });
});

describe("accepted events", () => {
  it("produces a complete EventRow", async () => {
    const result = await one(
      {
        ...base,
        event_id: UUID.toUpperCase(),
        timestamp: "2026-11-26T11:59:50.000Z",
        user_id: "u1",
        session_id: "s1",
        properties: { plan: "pro" },
        device_info: { user_agent: "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36" },
        page_url: "https://app.example/pricing?email=a@b.c&utm_source=news#faq",
        referrer: "",
      },
      { sent_at: "2026-11-26T12:00:00.000Z", write_key: "wk_1" },
    );
    expect(result.writeKey).toBe("wk_1");
    expect(result.sentAt).toBe("2026-11-26T12:00:00.000Z");
    expect(result.rows).toEqual([
      {
        event_id: UUID,
        time: "2026-11-26T11:59:50.000Z",
        event_name: "page_view",
        category: "navigation",
        user_id: "u1",
        session_id: "s1",
        properties: { plan: "pro" },
        device_info: { user_agent: "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36" },
        page_url: "https://app.example/pricing?utm_source=news",
        referrer: null,
        received_at: "2026-11-26T12:00:00.000Z",
        client_time: "2026-11-26T11:59:50.000Z",
        skew_ms: 0,
        flags: [],
        country: null,
        device_class: "desktop",
        browser: "Chrome",
        os: "Linux",
        page_path: "/pricing",
        page_host: "app.example",
        referrer_host: null,
        utm_source: "news",
        utm_medium: null,
        utm_campaign: null,
      },
    ]);
  });

  const aliasCases: { name: string; event: Record<string, unknown>; extra?: Record<string, unknown>; expect: Record<string, unknown> }[] = [
    { name: "eventName", event: { eventName: "click", category: "ui" }, expect: { event_name: "click" } },
    { name: "userId / sessionId", event: { ...base, userId: "u", sessionId: "s" }, expect: { user_id: "u", session_id: "s" } },
    { name: "deviceInfo", event: { ...base, deviceInfo: { os: "ios" } }, expect: { device_info: { os: "ios" } } },
    { name: "pageUrl", event: { ...base, pageUrl: "https://a.example/x?y=1" }, expect: { page_url: "https://a.example/x" } },
    { name: "eventId (lower-cased)", event: { ...base, eventId: UUID.toUpperCase() }, expect: { event_id: UUID } },
    { name: "both spellings with the same value", event: { ...base, user_id: "u", userId: "u" }, expect: { user_id: "u" } },
    { name: "sentAt", event: { ...base, timestamp: "2026-11-26T13:00:00.000Z" }, extra: { sentAt: "2026-11-26T13:00:10.000Z" }, expect: { time: "2026-11-26T11:59:50.000Z" } },
    { name: "empty ids count as absent", event: { ...base, user_id: "", sessionId: "" }, expect: { user_id: null, session_id: null } },
  ];
  for (const t of aliasCases) {
    it(`alias: ${t.name}`, async () => {
      const result = await one(t.event, t.extra ?? {});
      expect(result.rejected).toEqual([]);
      expect(result.rows[0]).toMatchObject(t.expect);
    });
  }

  it("writeKey alias", async () => {
    expect((await prepareBatch({ events: [base], writeKey: "k" }, ctx)).writeKey).toBe("k");
  });

  it("accepts a bare array (no sent_at, no write key)", async () => {
    const result = await prepareBatch([base, base], ctx);
    expect(result.rows).toHaveLength(2); // without id or timestamp every receipt is a new event
    expect(result.duplicateIndexes).toEqual([]);
    expect(result.writeKey).toBeNull();
  });

  it("ignores unknown top-level fields", async () => {
    const result = await one({ ...base, colour: "red" });
    expect(result.rows[0]).not.toHaveProperty("colour");
  });
});

describe("skew correction (Segment: time = received_at − (sent_at − timestamp))", () => {
  const cases: { name: string; timestamp?: unknown; sent_at?: string; time: string; client_time: string | null; skew_ms: number; flags?: string[] }[] = [
    {
      name: "device clock 1 h fast, created 10 s before sending",
      timestamp: "2026-11-26T12:59:50.000Z",
      sent_at: "2026-11-26T13:00:00.000Z",
      time: "2026-11-26T11:59:50.000Z",
      client_time: "2026-11-26T12:59:50.000Z",
      skew_ms: -3_600_000,
    },
    {
      name: "device clock 5 min slow, epoch ms timestamp",
      timestamp: Date.parse("2026-11-26T11:54:00.000Z"),
      sent_at: "2026-11-26T11:55:00.000Z",
      time: "2026-11-26T11:59:00.000Z",
      client_time: "2026-11-26T11:54:00.000Z",
      skew_ms: 300_000,
    },
    { name: "no sent_at: timestamp trusted", timestamp: "2026-11-26T10:00:00+02:00", time: "2026-11-26T08:00:00.000Z", client_time: "2026-11-26T08:00:00.000Z", skew_ms: 0 },
    { name: "no timestamp: received_at", sent_at: "2026-11-26T11:00:00.000Z", time: "2026-11-26T12:00:00.000Z", client_time: null, skew_ms: 3_600_000 },
    {
      name: "corrected time 1 h ahead is clamped and flagged",
      timestamp: "2026-11-26T13:00:00.000Z",
      time: "2026-11-26T12:00:00.000Z",
      client_time: "2026-11-26T13:00:00.000Z",
      skew_ms: 0,
      flags: ["future_clamped"],
    },
    {
      name: "an event 'created after sending' (clock changed) is clamped",
      timestamp: "2026-11-26T12:00:05.000Z",
      sent_at: "2026-11-26T12:00:00.000Z",
      time: "2026-11-26T12:00:00.000Z",
      client_time: "2026-11-26T12:00:05.000Z",
      skew_ms: 0,
      flags: ["future_clamped"],
    },
    {
      name: "a 10-day-old raw timestamp is fine when the device clock is 10 days behind",
      timestamp: "2026-11-16T11:59:00.000Z",
      sent_at: "2026-11-16T12:00:00.000Z",
      time: "2026-11-26T11:59:00.000Z",
      client_time: "2026-11-16T11:59:00.000Z",
      skew_ms: 864_000_000,
    },
  ];
  for (const t of cases) {
    it(t.name, async () => {
      const event = t.timestamp === undefined ? { ...base } : { ...base, timestamp: t.timestamp };
      const result = await one(event, t.sent_at ? { sent_at: t.sent_at } : {});
      expect(result.rejected).toEqual([]);
      expect(result.rows[0]).toMatchObject({ time: t.time, client_time: t.client_time, skew_ms: t.skew_ms });
      expect(result.rows[0]!.flags.filter((f) => f !== "derived_id" && f !== "server_id")).toEqual(t.flags ?? []);
    });
  }
});

describe("event ids", () => {
  const TS = Date.parse("2026-11-26T11:53:20.000Z");
  const event = { ...base, timestamp: TS, user_id: "u1", properties: { b: 1, a: { y: 2, x: 1 } } };

  it("a resend with a different sent_at gets the same derived id (but may get a different time)", async () => {
    const first = await prepareBatch({ events: [event], sent_at: "2026-11-26T11:53:30.000Z" }, ctx);
    const retry = await prepareBatch(
      { events: [event], sent_at: "2026-11-26T11:58:00.000Z" },
      { receivedAt: new Date("2026-11-26T12:05:00.000Z") },
    );
    expect(first.rows[0]!.event_id).toBe(retry.rows[0]!.event_id);
    expect(first.rows[0]!.time).not.toBe(retry.rows[0]!.time);
  });

  it("key order, aliases and scrub options do not change the derived id", async () => {
    const a = await one(event);
    const b = await one({ properties: { a: { x: 1, y: 2 }, b: 1 }, userId: "u1", timestamp: TS, category: "navigation", eventName: "page_view" });
    const c = await prepareBatch({ events: [event] }, { ...ctx, options: { urlScrub: { enabled: false, keepParamPrefixes: [], keepParams: [] } } });
    expect(a.rows[0]!.event_id).toBe(b.rows[0]!.event_id);
    expect(a.rows[0]!.event_id).toBe(c.rows[0]!.event_id);
  });

  const differs: { name: string; change: Record<string, unknown> }[] = [
    { name: "timestamp", change: { timestamp: TS + 1 } },
    { name: "a property value", change: { properties: { b: 2, a: { y: 2, x: 1 } } } },
    { name: "user", change: { user_id: "u2" } },
    { name: "category", change: { category: "other" } },
  ];
  for (const t of differs) {
    it(`a different ${t.name} gives a different id`, async () => {
      const a = await one(event);
      const b = await one({ ...event, ...t.change });
      expect(a.rows[0]!.event_id).not.toBe(b.rows[0]!.event_id);
    });
  }

  it("derived ids are UUIDv8 with RFC 9562 variant bits and flagged derived_id", async () => {
    const row = (await one(event)).rows[0]!;
    expect(row.event_id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(row.flags).toContain("derived_id");
  });

  it("the same event_id twice in a batch: the later one is a duplicate, not a rejection", async () => {
    const result = await prepareBatch({ events: [{ ...base, event_id: UUID }, { ...base, event_id: UUID.toUpperCase(), event_name: "x" }] }, ctx);
    expect(result.rows).toHaveLength(1);
    expect(result.rows[0]!.event_name).toBe("page_view");
    expect(result.duplicateIndexes).toEqual([1]);
    expect(result.rejected).toEqual([]);
  });
});

describe("prototype safety", () => {
  const body = `{"events":[{"event_name":"e","category":"c",
    "properties":{"__proto__":{"polluted":true},"ok":1,"nested":{"constructor":{"prototype":{"polluted":true}},"x":[{"__proto__":{"polluted":true},"y":2}]}},
    "device_info":{"prototype":1,"os":"ios"}}]}`;

  it("drops __proto__/constructor/prototype at every depth, keeps the rest, flags the event", async () => {
    const result = await prepareBatch(JSON.parse(body), ctx);
    const row = result.rows[0]!;
    expect(row.properties).toEqual({ ok: 1, nested: { x: [{ y: 2 }] } });
    expect(row.device_info).toEqual({ os: "ios" });
    expect(row.flags).toContain("unsafe_keys_dropped");
    expect(Object.getPrototypeOf(row.properties)).toBe(Object.prototype);
    expect(Object.hasOwn(row.properties, "__proto__")).toBe(false);
    const nested = row.properties.nested as { x: Record<string, unknown>[] };
    expect(Object.hasOwn(nested, "constructor")).toBe(false);
    expect(Object.hasOwn(nested.x[0]!, "__proto__")).toBe(false);
    // Merging the output with [[Set]] semantics cannot reach a prototype.
    const merged = Object.assign({}, row.properties, nested.x[0]);
    expect((merged as Record<string, unknown>).polluted).toBeUndefined();
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it("a clean event is not flagged and its objects are not copied", async () => {
    const properties = { a: { b: [1, { c: 2 }] } };
    const result = await one({ ...base, properties });
    expect(result.rows[0]!.flags).not.toContain("unsafe_keys_dropped");
    expect(result.rows[0]!.properties.a).toBe(properties.a);
  });
});

describe("bot flag", () => {
  const googlebot = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)";
  const chrome = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
  const cases: { name: string; device?: Record<string, unknown>; requestUa?: string; bot: boolean }[] = [
    { name: "device_info.user_agent is a bot", device: { user_agent: googlebot }, bot: true },
    { name: "device_info.userAgent is a bot", device: { userAgent: googlebot }, bot: true },
    { name: "request User-Agent is a bot, no device UA", requestUa: googlebot, bot: true },
    { name: "device UA wins over the request UA (server-side senders)", device: { user_agent: chrome }, requestUa: "python-requests/2.32", bot: false },
    { name: "a browser", requestUa: chrome, bot: false },
    { name: "no user agent at all", bot: false },
  ];
  for (const t of cases) {
    it(t.name, async () => {
      const event = t.device ? { ...base, device_info: t.device } : base;
      const result = await one(event, {}, { receivedAt: RECEIVED, userAgent: t.requestUa ?? null });
      expect(result.rows).toHaveLength(1); // flagged, never dropped
      expect(result.rows[0]!.flags.includes("bot")).toBe(t.bot);
    });
  }
});
