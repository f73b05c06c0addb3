import { describe, expect, test } from "vitest";
import { saltCandidate, saltDay, visitorKey } from "./visitor";

describe("saltDay", () => {
  const cases = [
    { now: "2026-12-06T00:00:00.000Z", day: "2026-12-06", expires: "2026-12-07T00:00:00.000Z" },
    { now: "2026-12-06T23:59:59.999Z", day: "2026-12-06", expires: "2026-12-07T00:00:00.000Z" },
    { now: "2026-12-31T12:00:00.000Z", day: "2026-12-31", expires: "2027-01-01T00:00:00.000Z" },
  ];
  for (const t of cases) {
    test(`${t.now} takes the salt of ${t.day}, which expires when that UTC day ends`, () => {
      const { day, expiresAtMs } = saltDay(new Date(t.now));
      expect(day).toBe(t.day);
      expect(new Date(expiresAtMs).toISOString()).toBe(t.expires);
    });
  }
});

describe("visitorKey", () => {
  test("is a SHA-256 (hex) that changes with the site, the address and the User-Agent, and never contains the address", async () => {
    const base = await visitorKey("shop.example", "203.0.113.9", "UA");
    expect(base).toMatch(/^[0-9a-f]{64}$/);
    expect(base).not.toContain("203.0.113.9");
    expect(await visitorKey("shop.example", "203.0.113.9", "UA")).toBe(base);
    const others = await Promise.all([
      visitorKey("blog.example", "203.0.113.9", "UA"),
      visitorKey("shop.example", "203.0.113.10", "UA"),
      visitorKey("shop.example", "203.0.113.9", "UA 2"),
      visitorKey(null, "203.0.113.9", "UA"),
    ]);
    expect(new Set([base, ...others]).size).toBe(5);
  });

  test("the parts cannot run into each other (site + address is not the same as a longer site)", async () => {
    expect(await visitorKey("a.example", "1.2.3.4", "UA")).not.toBe(await visitorKey("a.example1", ".2.3.4", "UA"));
  });
});

test("saltCandidate gives 128 random bits as hex, fresh every time", () => {
  const a = saltCandidate();
  expect(a).toMatch(/^[0-9a-f]{32}$/);
  expect(saltCandidate()).not.toBe(a);
});
