import { describe, expect, it } from "vitest";
import { prng } from "../../test/support/prng";
import { canonicalJson, canonicalJsonByKey, deriveEventId, deriveEventIds, type EventIdSource, formatUuidV8, normalizeClientEventId } from "./event-id";

describe("canonicalJson", () => {
  const cases: { name: string; input: unknown; expected: string }[] = [
    { name: "sorts keys at every level", input: { b: 1, a: { d: [3, { z: 1, y: 2 }], c: null } }, expected: '{"a":{"c":null,"d":[3,{"y":2,"z":1}]},"b":1}' },
    { name: "code-unit order, not locale", input: { b: 1, B: 2, é: 3, a: 4 }, expected: '{"B":2,"a":4,"b":1,"é":3}' },
    { name: "strings escaped as JSON", input: ['q"uote', "line\n"], expected: '["q\\"uote","line\\n"]' },
    { name: "numbers as JSON prints them", input: [1.0, 1e21, -0], expected: "[1,1e+21,0]" },
  ];
  for (const t of cases) it(t.name, () => expect(canonicalJson(t.input)).toBe(t.expected));

  // Ids of stored events are hashes of this string: the native fast paths must write exactly
  // what the key-by-key walk writes, for keys JavaScript objects order specially too.
  const special: { name: string; input: unknown }[] = [
    { name: "array-index keys (an object lists them first, in numeric order)", input: { b: 1, "10": 2, "9": 3, a: { "2": 0, "1": 1 } } },
    { name: "a key that only starts with a digit", input: { z: 1, "1a": 2 } },
    { name: "an own __proto__ key (JSON.parse makes one)", input: JSON.parse('{"z":1,"__proto__":{"b":1,"a":2}}') },
    { name: "undefined values in objects and arrays", input: { b: undefined, a: [undefined, 1] } },
    { name: "already sorted", input: { a: [1, { b: 2, c: "x" }], d: null } },
    { name: "nested unsorted only deep down", input: { a: { b: [{ d: 1, c: 2 }] } } },
    { name: "a top-level primitive and undefined", input: undefined },
    { name: "lone surrogates and astral characters in keys and values", input: { "\ud83d\ude00": "\ud800", "\uffff": 1, "\ud800": 2 } },
  ];
  for (const t of special) it(`writes what the key-by-key walk writes: ${t.name}`, () => expect(canonicalJson(t.input)).toBe(canonicalJsonByKey(t.input)));

  it("writes what the key-by-key walk writes for 2,000 generated JSON values", () => {
    const rand = prng(42);
    const KEYS = ["a", "b", "B", "é", "z", "path", "plan", "10", "9", "0", "1a", "__proto__", "user_agent", "", "\u{1f600}"];
    const gen = (depth: number): unknown => {
      const r = rand();
      if (depth > 3 || r < 0.4) return [null, true, 1.5, -0, 1e21, "s", 'q"\n', ""][Math.floor(rand() * 8)];
      if (r < 0.6) return Array.from({ length: Math.floor(rand() * 4) }, () => gen(depth + 1));
      // Up to 5 keys mostly; sometimes up to 24 distinct ones (past the insertion sort's 16).
      const pool = rand() < 0.9 ? KEYS : [...KEYS, ...Array.from({ length: 12 }, (_, k) => `k${String.fromCharCode(97 + k)}`)];
      const keys = Array.from({ length: Math.floor(rand() * (pool === KEYS ? 6 : 40)) }, () => pool[Math.floor(rand() * pool.length)]!);
      // Through JSON text, as events arrive: `__proto__` becomes an own key.
      return JSON.parse(`{${keys.map((k) => `${JSON.stringify(k)}:${JSON.stringify(gen(depth + 1)) ?? "null"}`).join(",")}}`);
    };
    for (let i = 0; i < 2_000; i++) {
      const value = gen(0);
      expect(canonicalJson(value)).toBe(canonicalJsonByKey(value));
    }
  });
});

describe("normalizeClientEventId", () => {
  const cases: { name: string; input: string; expected: string | null }[] = [
    { name: "v4 lower", input: "9b2f6a3e-1c4d-4e5f-8a9b-0c1d2e3f4a5b", expected: "9b2f6a3e-1c4d-4e5f-8a9b-0c1d2e3f4a5b" },
    { name: "v7 upper → lower", input: "0190F3E2-7C1A-7B2C-9D3E-4F5A6B7C8D9E", expected: "0190f3e2-7c1a-7b2c-9d3e-4f5a6b7c8d9e" },
    { name: "v1", input: "6ba7b810-9dad-11d1-80b4-00c04fd430c8", expected: "6ba7b810-9dad-11d1-80b4-00c04fd430c8" },
    { name: "nil refused", input: "00000000-0000-0000-0000-000000000000", expected: null },
    { name: "max refused", input: "FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF", expected: null },
    { name: "braces refused", input: "{9b2f6a3e-1c4d-4e5f-8a9b-0c1d2e3f4a5b}", expected: null },
    { name: "no dashes refused", input: "9b2f6a3e1c4d4e5f8a9b0c1d2e3f4a5b", expected: null },
  ];
  for (const t of cases) it(t.name, () => expect(normalizeClientEventId(t.input)).toBe(t.expected));
});

describe("formatUuidV8", () => {
  const cases: { name: string; fill: number; expected: string }[] = [
    { name: "all zero bytes", fill: 0x00, expected: "00000000-0000-8000-8000-000000000000" },
    { name: "all one bits", fill: 0xff, expected: "ffffffff-ffff-8fff-bfff-ffffffffffff" },
  ];
  for (const t of cases) it(t.name, () => expect(formatUuidV8(new Uint8Array(16).fill(t.fill))).toBe(t.expected));

  it("is the bytes in hex with the version and variant bits set, for 1,000 random byte strings", () => {
    for (let i = 0; i < 1_000; i++) {
      const bytes = crypto.getRandomValues(new Uint8Array(16));
      const hex = Array.from(bytes, (b, k) => (k === 6 ? (b & 0x0f) | 0x80 : k === 8 ? (b & 0x3f) | 0x80 : b).toString(16).padStart(2, "0")).join("");
      const expected = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
      expect(formatUuidV8(bytes)).toBe(expected);
    }
  });
});

describe("deriveEventId", () => {
  const source: EventIdSource = {
    event_name: "click",
    category: "ui",
    timestamp: "2026-11-26T12:00:00.000Z",
    user_id: "u1",
    session_id: null,
    properties: { a: 1, b: { c: 2 } },
    device_info: null,
    page_url: "https://a.example/?q=1",
    referrer: null,
  };
  it("is a pinned value (changing the canonical form changes every id: needs a plan for stored rows)", async () => {
    // Cross-checked with Node: sha256 of the canonical string, first 16 bytes, v8/variant bits set.
    // If this fails, the canonical serialisation changed: resends across the deploy will not dedupe.
    expect(await deriveEventId(source)).toMatchInlineSnapshot(`"07777ca8-cd51-8bef-902a-543b8ae8888a"`);
  });
  it("is independent of property key order", async () => {
    expect(await deriveEventId({ ...source, properties: { b: { c: 2 }, a: 1 } })).toBe(await deriveEventId(source));
  });
  it("distinguishes null from absent-as-string", async () => {
    expect(await deriveEventId({ ...source, user_id: "null" })).not.toBe(await deriveEventId({ ...source, user_id: null }));
  });
  it("distinguishes the raw timestamp form (the client's bytes, not the instant)", async () => {
    expect(await deriveEventId({ ...source, timestamp: Date.parse("2026-11-26T12:00:00.000Z") })).not.toBe(await deriveEventId(source));
  });
  it("derives a batch exactly as one event at a time, in order (ids from before the batching still dedupe)", async () => {
    const batch: EventIdSource[] = [
      source,
      { ...source, properties: { b: { c: 2 }, a: 1 } },
      { ...source, event_name: "view", timestamp: 1764158400000, device_info: { ua: "x", screen: [1, 2] } },
      { ...source, referrer: "https://ref.example/é" },
    ];
    const ids = await deriveEventIds(batch);
    expect(ids).toEqual(await Promise.all(batch.map((s) => deriveEventId(s))));
    expect(ids[0]).toBe("07777ca8-cd51-8bef-902a-543b8ae8888a");
    expect(ids[1]).toBe(ids[0]);
    expect(new Set(ids).size).toBe(3);
    expect(await deriveEventIds([])).toEqual([]);
  });
});
