import { describe, expect, it } from "vitest";
import { MAX_BODY_BYTES, MAX_INFLATED_BODY_BYTES } from "../domain/limits";
import { ApiError } from "../errors";
import { inflateGzip, readBody, readJsonBody } from "./read-body";

const URL_ = "https://ingest.test/api/v1/analytics";
const enc = new TextEncoder();

async function gzip(data: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([data]).stream().pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** A JSON document of exactly `n` bytes: {"events":[],"pad":"xxxx…"}. */
function jsonOfSize(n: number): Uint8Array {
  const head = '{"events":[],"pad":"';
  return enc.encode(head + "x".repeat(n - head.length - 2) + '"}');
}

/** A body whose stream has no Content-Length (chunked), so only counting can stop it. */
function chunkedBody(bytes: Uint8Array): ReadableStream<Uint8Array> {
  let sent = 0;
  return new ReadableStream({
    pull(controller) {
      if (sent >= bytes.length) return controller.close();
      controller.enqueue(bytes.subarray(sent, sent + 16 * 1024));
      sent += 16 * 1024;
    },
  });
}

async function outcome(request: Request, options?: Parameters<typeof readJsonBody>[1]) {
  try {
    return { value: await readJsonBody(request, options) };
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    return { status: error.status, code: error.code, message: error.message };
  }
}

const post = (body: BodyInit | null, headers: Record<string, string> = {}) =>
  new Request(URL_, { method: "POST", body, headers });

describe("readJsonBody", () => {
  const json = '{"events":[{"event_name":"a","category":"b"}]}';
  const value = JSON.parse(json);

  const cases: { name: string; request: () => Promise<Request> | Request; expect: Record<string, unknown> }[] = [
    { name: "application/json", request: () => post(json, { "content-type": "application/json" }), expect: { value } },
    { name: "application/json; charset=utf-8", request: () => post(json, { "content-type": "application/json; charset=UTF-8" }), expect: { value } },
    { name: "text/plain from sendBeacon", request: () => post(json, { "content-type": "text/plain;charset=UTF-8" }), expect: { value } },
    { name: "no Content-Type (typeless Blob)", request: () => post(new Blob([json])), expect: { value } },
    { name: "a bare array", request: () => post("[]", { "content-type": "application/json" }), expect: { value: [] } },
    { name: "a UTF-8 BOM is skipped", request: () => post(new Uint8Array([0xef, 0xbb, 0xbf, ...enc.encode(json)])), expect: { value } },
    {
      name: "gzip with Content-Encoding",
      request: async () => post(await gzip(enc.encode(json)), { "content-type": "application/json", "content-encoding": "gzip" }),
      expect: { value },
    },
    {
      name: "gzip recognised by magic bytes without the header",
      request: async () => post(await gzip(enc.encode(json)), { "content-type": "text/plain" }),
      expect: { value },
    },
    {
      name: "labelled gzip but plain (already decoded upstream) is read as JSON",
      request: () => post(json, { "content-type": "application/json", "content-encoding": "gzip" }),
      expect: { value },
    },
    { name: "Content-Encoding: identity", request: () => post(json, { "content-encoding": "identity" }), expect: { value } },
    { name: "br → 415", request: () => post(json, { "content-encoding": "br" }), expect: { status: 415, code: "unsupported_encoding" } },
    { name: "deflate → 415", request: () => post(json, { "content-encoding": "deflate" }), expect: { status: 415, code: "unsupported_encoding" } },
    { name: "stacked gzip, br → 415", request: () => post(json, { "content-encoding": "gzip, br" }), expect: { status: 415, code: "unsupported_encoding" } },
    {
      name: "form content type → 415",
      request: () => post(json, { "content-type": "application/x-www-form-urlencoded" }),
      expect: { status: 415, code: "unsupported_media_type" },
    },
    {
      name: "non-UTF-8 charset → 415",
      request: () => post(json, { "content-type": "text/plain; charset=iso-8859-1" }),
      expect: { status: 415, code: "unsupported_media_type" },
    },
    { name: "invalid UTF-8 → 400", request: () => post(new Uint8Array([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d])), expect: { status: 400, code: "invalid_utf8" } },
    { name: "overlong UTF-8 encoding → 400", request: () => post(new Uint8Array([0x22, 0xc0, 0xaf, 0x22])), expect: { status: 400, code: "invalid_utf8" } },
    { name: "malformed JSON → 400", request: () => post('{"events": [', { "content-type": "application/json" }), expect: { status: 400, code: "malformed_json" } },
    { name: "empty body → 400", request: () => post("", { "content-type": "application/json" }), expect: { status: 400, code: "empty_body" } },
    { name: "no body → 400", request: () => post(null), expect: { status: 400, code: "empty_body" } },
    {
      name: "truncated gzip → 400",
      request: async () => post((await gzip(enc.encode(json))).subarray(0, 20), { "content-encoding": "gzip" }),
      expect: { status: 400, code: "invalid_gzip" },
    },
    {
      name: "Content-Length over the cap → 413 before reading",
      request: () => post(jsonOfSize(MAX_BODY_BYTES + 1), { "content-type": "application/json" }),
      expect: { status: 413, code: "body_too_large" },
    },
    {
      name: "body exactly at MAX_BODY_BYTES passes",
      request: () => post(jsonOfSize(MAX_BODY_BYTES), { "content-type": "application/json" }),
      expect: { value: JSON.parse(new TextDecoder().decode(jsonOfSize(MAX_BODY_BYTES))) },
    },
    {
      name: "chunked body one byte over the cap → 413 while reading",
      request: () => post(chunkedBody(jsonOfSize(MAX_BODY_BYTES + 1)), { "content-type": "application/json" }),
      expect: { status: 413, code: "body_too_large" },
    },
    {
      name: "inflated exactly at MAX_INFLATED_BODY_BYTES passes",
      request: async () => post(await gzip(jsonOfSize(MAX_INFLATED_BODY_BYTES)), { "content-encoding": "gzip" }),
      expect: { value: JSON.parse(new TextDecoder().decode(jsonOfSize(MAX_INFLATED_BODY_BYTES))) },
    },
    {
      name: "inflated one byte over MAX_INFLATED_BODY_BYTES → 413",
      request: async () => post(await gzip(jsonOfSize(MAX_INFLATED_BODY_BYTES + 1)), { "content-encoding": "gzip" }),
      expect: { status: 413, code: "body_too_large" },
    },
  ];

  for (const t of cases) {
    it(t.name, async () => {
      const result = await outcome(await t.request());
      expect(result).toMatchObject(t.expect);
    });
  }

  it("names the limit in the 413 message", async () => {
    const result = await outcome(post(jsonOfSize(MAX_BODY_BYTES + 1)));
    expect(result.message).toContain(String(MAX_BODY_BYTES));
  });
});

describe("readBody", () => {
  const cases: { name: string; body: () => Promise<Uint8Array> | Uint8Array; gzip: boolean }[] = [
    { name: "identity: bytes = wire bytes", body: () => enc.encode('{"events":[]}'), gzip: false },
    { name: "gzip: bytes = inflated size", body: () => gzip(enc.encode('{"events":[]}')), gzip: true },
  ];
  for (const t of cases) {
    it(t.name, async () => {
      const wire = await t.body();
      const parsed = await readBody(post(wire));
      expect(parsed).toEqual({ value: { events: [] }, bytes: 13, wireBytes: wire.length, gzip: t.gzip });
    });
  }
});

describe("gzip bomb", () => {
  it("10 MB of zeros (~10 KB gzipped) is refused with 413 after inflating only a fraction", async () => {
    const bomb = await gzip(new Uint8Array(10 * 1024 * 1024));
    expect(bomb.length).toBeLessThan(MAX_BODY_BYTES); // passes the wire cap: only inflation can stop it
    let error: unknown;
    try {
      await readJsonBody(post(bomb, { "content-type": "application/json", "content-encoding": "gzip" }));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ApiError);
    const api = error as ApiError;
    expect(api.status).toBe(413);
    expect(api.code).toBe("body_too_large");
    expect(api.message).toContain(String(MAX_INFLATED_BODY_BYTES));
    const progress = api.cause as { inflatedBytes: number; compressedBytesConsumed: number; compressedBytes: number };
    // Stopped within one slice (≤ ~1 MiB of output) past the cap, long before the 10 MiB total…
    expect(progress.inflatedBytes).toBeGreaterThan(MAX_INFLATED_BODY_BYTES);
    expect(progress.inflatedBytes).toBeLessThan(MAX_INFLATED_BODY_BYTES + 1032 * 1024 + 64 * 1024);
    // …and with most of the compressed input never fed to the inflater.
    expect(progress.compressedBytesConsumed).toBeLessThan(progress.compressedBytes / 2);
  });

  it("stops a bomb without the Content-Encoding header too (magic bytes)", async () => {
    const bomb = await gzip(new Uint8Array(10 * 1024 * 1024));
    await expect(readJsonBody(post(bomb))).rejects.toMatchObject({ status: 413, code: "body_too_large" });
  });

  const sliceCases = [
    { name: "inflates correctly with 1-byte slices", slice: 1 },
    { name: "inflates correctly with slices larger than the input", slice: 1 << 20 },
  ];
  for (const t of sliceCases) {
    it(t.name, async () => {
      const original = enc.encode(JSON.stringify({ events: Array.from({ length: 50 }, (_, i) => ({ event_name: `e${i}` })) }));
      const out = await inflateGzip(await gzip(original), MAX_INFLATED_BODY_BYTES, t.slice);
      expect(new TextDecoder().decode(out)).toBe(new TextDecoder().decode(original));
    });
  }
});
