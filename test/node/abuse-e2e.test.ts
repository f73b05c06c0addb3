/**
 * Abuse against the real `wrangler dev` stack (scripts/lib/dev-stack.ts, what `npm run dev` runs),
 * with a private redis-server and a fresh database on the machine's PostgreSQL: an oversized
 * chunked body fails alone, and one address's flood does not lock out another address.
 *
 * `wrangler dev` sets `CF-Connecting-IP` to the socket's address (127.0.0.1) unless the request
 * carries one, which is how these tests play several clients from one machine.
 */
import { request as httpRequest } from "node:http";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { startDevStack, type DevStack } from "../../scripts/lib/dev-stack";
import { createTestDatabase, type TestDatabase } from "../support/postgres";

const WRITE_KEY = "abuse-e2e-key";
const CLIENT_LIMIT = 5;

let db: TestDatabase | undefined;
let stack: DevStack | undefined;

beforeAll(async () => {
  db = await createTestDatabase("eaw_abuse");
  stack = await startDevStack({
    databaseUrl: db.url,
    quiet: true,
    vars: { WRITE_KEYS: WRITE_KEY, RATE_LIMIT_PER_CLIENT_PER_MINUTE: String(CLIENT_LIMIT) },
  });
}, 120_000);

afterAll(async () => {
  await stack?.stop();
  await db?.drop();
}, 60_000);

/** POSTs `bytes` of JSON-ish body with `Transfer-Encoding: chunked` (no Content-Length), in 16 KiB chunks. */
function postChunked(url: string, bytes: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const target = new URL(url);
    const req = httpRequest(
      {
        host: target.hostname,
        port: target.port,
        path: target.pathname,
        method: "POST",
        headers: { "content-type": "application/json", "x-write-key": WRITE_KEY, "transfer-encoding": "chunked", "cf-connecting-ip": "192.0.2.200" },
      },
      (res) => {
        let body = "";
        res.on("data", (chunk: Buffer) => (body += chunk.toString("utf8")));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on("error", reject);
    const chunk = Buffer.alloc(16 * 1024, 0x20);
    let sent = 0;
    const pump = () => {
      while (sent < bytes) {
        sent += chunk.length;
        if (!req.write(chunk)) {
          req.once("drain", pump);
          return;
        }
      }
      req.end();
    };
    req.write('{"events":[');
    pump();
  });
}

function post(ip: string, name: string): Promise<Response> {
  return fetch(`${stack!.baseUrl}/api/v1/analytics`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-write-key": WRITE_KEY, "cf-connecting-ip": ip },
    body: JSON.stringify([{ event_name: name, category: "abuse_e2e" }]),
  });
}

describe("abuse under wrangler dev", () => {
  test("a 700 KB chunked body answers 413, and the next request is served normally (three times over)", async () => {
    for (let round = 0; round < 3; round++) {
      const oversized = await postChunked(`${stack!.baseUrl}/api/v1/analytics`, 700 * 1024);
      expect(oversized.status).toBe(413);
      expect(JSON.parse(oversized.body)).toMatchObject({ error: { code: "body_too_large", retryable: false } });
      const next = await post(`192.0.2.${round + 1}`, `after_oversized_${round}`);
      expect(next.status).toBe(202);
      expect(await next.json()).toEqual({ accepted: 1, duplicates: 0, rejected: [] });
    }
  }, 60_000);

  test("one address past its limit gets 429 while another address gets 202 in the same second", async () => {
    // Same minute window for the whole test.
    const left = 60_000 - (Date.now() % 60_000);
    if (left < 5_000) await new Promise((resolve) => setTimeout(resolve, left + 50));
    const flood: number[] = [];
    for (let i = 0; i < CLIENT_LIMIT + 3; i++) flood.push((await post("203.0.113.50", `flood_${i}`)).status);
    const other = await post("198.51.100.50", "other_visitor");
    expect(flood).toEqual([...Array<number>(CLIENT_LIMIT).fill(202), 429, 429, 429]);
    expect(other.status).toBe(202);
  }, 60_000);
});
