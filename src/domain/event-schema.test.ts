import { describe, expect, it } from "vitest";
import { prng } from "../../test/support/prng";
import { acceptedAsIs, EventSchema } from "./event-schema";
import { MAX_ID_LENGTH, MAX_NAME_LENGTH } from "./limits";

/** The fields normalizeEvent reads from zod's output (everything else it reads from the raw event). */
const READ_FIELDS = ["event_id", "eventId", "event_name", "eventName", "category", "timestamp", "user_id", "userId", "session_id", "sessionId", "page_url", "pageUrl", "referrer"] as const;

describe("acceptedAsIs", () => {
  // What a tracker sends, and the edges of every rule: each value is tried in every field.
  const UUID = "0190f3e2-7c1a-7d2b-9e4f-0123456789ab";
  const pools: Record<string, unknown[]> = {
    event_id: [undefined, UUID, UUID.toUpperCase(), "0190f3e2-7c1a-7d2b-9e4f-0123456789a", "0190f3e2x7c1a-7d2b-9e4f-0123456789ab", "", 5, null],
    event_name: [undefined, "page_view", "", "a", "x".repeat(MAX_NAME_LENGTH), "x".repeat(MAX_NAME_LENGTH + 1), 5, null, " "],
    category: [undefined, "navigation", "", "x".repeat(MAX_NAME_LENGTH + 1), [], null],
    timestamp: [
      undefined, "2026-12-06T10:00:00.000Z", "2026-02-28T23:59:59.999Z", "2026-02-29T10:00:00.000Z", "2024-02-29T10:00:00.000Z", "2026-04-31T10:00:00.000Z",
      "2026-13-01T10:00:00.000Z", "2026-00-01T10:00:00.000Z", "2026-12-06T24:00:00.000Z", "2026-12-06T10:60:00.000Z", "2026-12-06T10:00:60.000Z",
      "2026-12-06T10:00:00Z", "2026-12-06T10:00:00.000+01:00", "2026-12-06", "garbage", 1764990000000, 0, -5, 1.5, Infinity, NaN, null, true,
    ],
    user_id: [undefined, null, "", "usr_1", "x".repeat(MAX_ID_LENGTH), "x".repeat(MAX_ID_LENGTH + 1), 5, {}],
    session_id: [undefined, null, "ses_1", "x".repeat(MAX_ID_LENGTH + 1), false],
    properties: [undefined, null, {}, { a: 1, nested: { b: [1, 2] } }, [], "str", 5, JSON.parse('{"__proto__":{"x":1}}')],
    device_info: [undefined, null, { user_agent: "Mozilla/5.0" }, [], 0],
    page_url: [undefined, null, "", "https://shop.example/p", 5, {}],
    referrer: [undefined, null, "https://www.google.com/", 7],
    eventId: [undefined, undefined, undefined, UUID, "nope"],
    eventName: [undefined, undefined, undefined, "page_view", 5],
    userId: [undefined, undefined, undefined, "usr_1", null],
    sessionId: [undefined, undefined, undefined, "ses_1"],
    deviceInfo: [undefined, undefined, undefined, {}, "x"],
    pageUrl: [undefined, undefined, undefined, "https://shop.example/", 5],
    extra: [undefined, "ignored", { deep: true }],
  };

  it("is true only for events zod accepts, and then zod outputs the fields as sent (5,000 generated events)", () => {
    const rand = prng(5);
    let quick = 0;
    let zodOnlyAccepts = 0;
    for (let i = 0; i < 5_000; i++) {
      const event: Record<string, unknown> = {};
      // Mostly a tracker's event, with a few fields drawn from the edges.
      for (const [field, values] of Object.entries(pools)) {
        const value = rand() < 0.7 ? values[Math.min(1, values.length - 1)] : values[Math.floor(rand() * values.length)];
        if (value !== undefined && !field.match(/^(eventId|eventName|userId|sessionId|deviceInfo|pageUrl|extra)$/)) event[field] = value;
        else if (value !== undefined && rand() < 0.3) event[field] = value;
      }
      const parsed = EventSchema.safeParse(event);
      if (acceptedAsIs(event)) {
        quick++;
        expect({ event, accepted: parsed.success }).toEqual({ event, accepted: true });
        for (const field of READ_FIELDS) expect(parsed.data![field]).toStrictEqual(event[field]);
      } else if (parsed.success) zodOnlyAccepts++;
    }
    // Both paths were taken: the check is neither always true nor always false.
    expect(quick).toBeGreaterThan(500);
    expect(zodOnlyAccepts).toBeGreaterThan(100);
  });

  const cases: { name: string; event: Record<string, unknown>; expected: boolean }[] = [
    { name: "a tracker's event", event: { event_id: "0190f3e2-7c1a-7d2b-9e4f-0123456789ab", event_name: "page_view", category: "navigation", timestamp: "2026-12-06T10:00:00.000Z", user_id: null, properties: {}, page_url: "https://a.example/" }, expected: true },
    { name: "epoch milliseconds", event: { event_name: "click", category: "ui", timestamp: 1764990000000 }, expected: true },
    { name: "the 29th of a month goes through zod (it may not exist)", event: { event_name: "click", category: "ui", timestamp: "2024-02-29T10:00:00.000Z" }, expected: false },
    { name: "a camelCase alias goes through zod", event: { eventName: "click", category: "ui" }, expected: false },
    { name: "a name too long goes through zod (which rejects it)", event: { event_name: "x".repeat(MAX_NAME_LENGTH + 1), category: "ui" }, expected: false },
  ];
  for (const t of cases) it(t.name, () => expect(acceptedAsIs(t.event)).toBe(t.expected));
});
