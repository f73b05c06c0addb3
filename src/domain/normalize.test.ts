import { describe, expect, it } from "vitest";
import { MAX_EVENT_AGE_MS, MAX_FUTURE_SKEW_MS, MIN_EPOCH_MS } from "./limits";
import { computeEventTime, parseClientTime, sanitizeJsonObject } from "./normalize";

const R = Date.parse("2026-11-26T12:00:00.000Z");
const opts = { maxFutureSkewMs: MAX_FUTURE_SKEW_MS, maxEventAgeMs: MAX_EVENT_AGE_MS };
const H = 3_600_000;

describe("computeEventTime", () => {
  const cases: { name: string; sentAtMs: number | null; clientTimeMs: number | null; expected: Record<string, unknown> }[] = [
    { name: "steady clock, no skew", sentAtMs: R, clientTimeMs: R - 5_000, expected: { ok: true, timeMs: R - 5_000, skewMs: 0, futureClamped: false } },
    { name: "clock 2 h ahead", sentAtMs: R + 2 * H, clientTimeMs: R + 2 * H - 30_000, expected: { ok: true, timeMs: R - 30_000, skewMs: -2 * H } },
    { name: "clock 3 days behind (would be too old uncorrected)", sentAtMs: R - 72 * H, clientTimeMs: R - 72 * H - 1_000, expected: { ok: true, timeMs: R - 1_000, skewMs: 72 * H } },
    { name: "no sent_at: raw timestamp", sentAtMs: null, clientTimeMs: R - H, expected: { ok: true, timeMs: R - H, skewMs: 0 } },
    { name: "no timestamp: received_at, skew still recorded", sentAtMs: R - 1_500, clientTimeMs: null, expected: { ok: true, timeMs: R, skewMs: 1_500, clientTimeMs: null } },
    { name: "1 ms in the future is clamped", sentAtMs: null, clientTimeMs: R + 1, expected: { ok: true, timeMs: R, futureClamped: true } },
    { name: "exactly MAX_FUTURE_SKEW_MS ahead is clamped", sentAtMs: null, clientTimeMs: R + MAX_FUTURE_SKEW_MS, expected: { ok: true, timeMs: R, futureClamped: true } },
    { name: "1 ms beyond MAX_FUTURE_SKEW_MS is rejected", sentAtMs: null, clientTimeMs: R + MAX_FUTURE_SKEW_MS + 1, expected: { ok: false, code: "too_far_in_future" } },
    { name: "exactly MAX_EVENT_AGE_MS old passes", sentAtMs: null, clientTimeMs: R - MAX_EVENT_AGE_MS, expected: { ok: true, timeMs: R - MAX_EVENT_AGE_MS } },
    { name: "1 ms older than MAX_EVENT_AGE_MS is rejected", sentAtMs: null, clientTimeMs: R - MAX_EVENT_AGE_MS - 1, expected: { ok: false, code: "too_old" } },
    { name: "age is judged on the corrected time", sentAtMs: R + 10 * 24 * H, clientTimeMs: R, expected: { ok: false, code: "too_old" } },
  ];
  for (const t of cases) {
    it(t.name, () => {
      expect(computeEventTime({ receivedAtMs: R, sentAtMs: t.sentAtMs, clientTimeMs: t.clientTimeMs }, opts)).toMatchObject(t.expected);
    });
  }
});

describe("parseClientTime", () => {
  const cases: { name: string; input: string | number; expected: number | RegExp }[] = [
    { name: "ISO with Z", input: "2026-11-26T12:00:00Z", expected: R },
    { name: "ISO with offset", input: "2026-11-26T14:00:00.000+02:00", expected: R },
    { name: "ISO with microseconds", input: "2026-11-26T12:00:00.123456Z", expected: R + 123 },
    { name: "epoch ms", input: R, expected: R },
    { name: "fractional epoch ms floored", input: R + 0.9, expected: R },
    { name: "MIN_EPOCH_MS accepted", input: MIN_EPOCH_MS, expected: MIN_EPOCH_MS },
    { name: "below MIN_EPOCH_MS looks like seconds", input: MIN_EPOCH_MS - 1, expected: /looks like seconds/ },
    { name: "a negative number is not a time at all", input: -1, expected: /must be a positive number of epoch milliseconds \(got -1\)/ },
    { name: "a small number is neither seconds nor milliseconds", input: 42, expected: /after 1973-03-03 \(got 42\)/ },
    { name: "beyond the Date range", input: 9e15, expected: /representable/ },
    { name: "a date that does not exist", input: "2026-02-29T00:00:00Z", expected: /not a valid date-time/ },
    { name: "leap day exists in 2028", input: "2028-02-29T00:00:00Z", expected: Date.parse("2028-02-29T00:00:00Z") },
  ];
  for (const t of cases) {
    it(t.name, () => {
      const out = parseClientTime(t.input);
      if (t.expected instanceof RegExp) expect(out).toMatch(t.expected);
      else expect(out).toBe(t.expected);
    });
  }
});

describe("sanitizeJsonObject", () => {
  const cases: { name: string; input: string; expected: unknown; dropped: boolean }[] = [
    { name: "plain object untouched", input: '{"a":1,"b":[1,{"c":"d"}]}', expected: { a: 1, b: [1, { c: "d" }] }, dropped: false },
    { name: "__proto__ at the top", input: '{"__proto__":{"x":1},"a":1}', expected: { a: 1 }, dropped: true },
    { name: "constructor.prototype nested", input: '{"a":{"constructor":{"prototype":{"x":1}},"b":2}}', expected: { a: { b: 2 } }, dropped: true },
    { name: "inside arrays", input: '{"l":[{"prototype":1,"k":2},3]}', expected: { l: [{ k: 2 }, 3] }, dropped: true },
    { name: "keys after a dropped one keep their order", input: '{"a":1,"__proto__":0,"b":2,"c":3}', expected: { a: 1, b: 2, c: 3 }, dropped: true },
  ];
  for (const t of cases) {
    it(t.name, () => {
      const out = sanitizeJsonObject(JSON.parse(t.input), "properties");
      expect(out).toEqual({ ok: true, value: t.expected, dropped: t.dropped, cleaned: false });
      if (out.ok) expect(Object.keys(out.value)).toEqual(Object.keys(t.expected as object));
    });
  }
});
