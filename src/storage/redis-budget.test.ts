import { describe, expect, it } from "vitest";
import { REDIS_ITEM_BYTES, worstCaseRedisBytes } from "./redis-budget";

const caps = { eventNamesPerHour: 500, categoriesPerHour: 100, activeSessions: 50_000 };

describe("worstCaseRedisBytes", () => {
  it("grows with events only through the dedupe keys once the name caps are reached", () => {
    const tenThousand = worstCaseRedisBytes({ events: 10_000, sessions: 0, minutes: 60 }, caps);
    const oneMillion = worstCaseRedisBytes({ events: 1_000_000, sessions: 0, minutes: 60 }, caps);
    expect(oneMillion.counters).toBe(tenThousand.counters);
    expect(oneMillion.total - tenThousand.total).toBe(990_000 * REDIS_ITEM_BYTES.dedupeKey);
  });

  const cases: Array<{ name: string; traffic: Parameters<typeof worstCaseRedisBytes>[0]; part: "sessions" | "counters"; expected: number }> = [
    { name: "active sessions stop at their cap", traffic: { events: 1e6, sessions: 1e6, sessionIdBytes: 36 }, part: "sessions", expected: 50_000 * (36 + 112) },
    { name: "fewer events than the caps hold fewer fields", traffic: { events: 10, sessions: 1, minutes: 1, nameBytes: 10 }, part: "counters", expected: 2 * (256 + (10 + 10 + 6) * (10 + 82)) },
    { name: "minutes past 60 count as 60", traffic: { events: 1, sessions: 1, minutes: 500, nameBytes: 10 }, part: "counters", expected: 61 * (256 + (1 + 1 + 6) * (10 + 82)) },
  ];
  for (const t of cases) {
    it(t.name, () => {
      expect(worstCaseRedisBytes(t.traffic, caps)[t.part]).toBe(t.expected);
    });
  }
});
