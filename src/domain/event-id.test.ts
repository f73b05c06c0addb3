import { describe, expect, it } from "vitest";
import { canonicalJson, deriveEventId, type EventIdSource, formatUuidV8, normalizeClientEventId } from "./event-id";

describe("canonicalJson", () => {
  const cases: { name: string; input: unknown; expected: string }[] = [
    { name: "sorts keys at every level", input: { b: 1, a: { d: [3, { z: 1, y: 2 }], c: null } }, expected: '{"a":{"c":null,"d":[3,{"y":2,"z":1}]},"b":1}' },
    { name: "code-unit order, not locale", input: { b: 1, B: 2, é: 3, a: 4 }, expected: '{"B":2,"a":4,"b":1,"é":3}' },
    { name: "strings escaped as JSON", input: ['q"uote', "line\n"], expected: '["q\\"uote","line\\n"]' },
    { name: "numbers as JSON prints them", input: [1.0, 1e21, -0], expected: "[1,1e+21,0]" },
  ];
  for (const t of cases) it(t.name, () => expect(canonicalJson(t.input)).toBe(t.expected));
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
});
