/**
 * Part "paths" — the two ways to PostgreSQL side by side under `wrangler dev`: Neon's HTTP driver
 * through the Neon bridge (`DB_DRIVER=neon-http`) and node-postgres through a local Hyperdrive
 * binding straight to the same server (`--env hyperdrive`). Per path, on its own fresh database:
 *  - the ingest round trip that waits for PostgreSQL: `POST /api/v1/import` of a 50-event batch
 *    (two statements before the answer: partitions, then the insert);
 *  - the read statements: `GET /api/v1/analytics/summary` (hour and day) and `/series`, one
 *    statement each, and `GET /health` (one statement beside one Redis request).
 * Client-observed latency, requests sent one at a time after a warm-up. Locally the Hyperdrive
 * path opens a real PostgreSQL session per statement (in production Hyperdrive answers the
 * start-up next to the Worker and pools the real connections), so its local figures include that.
 */
import { loadEventId, makeBatch, prng } from "./fixtures";
import { newRunId } from "./load";
import type { Figure, PartResult, Size } from "./report";
import { startBenchStack, type BenchStack } from "./stack";
import { log, percentile, round } from "./util";

const IMPORT_KEY = "bench-import-key";
const READ_TOKEN = "bench-read-token-0123456789";

async function timed(url: string, init: RequestInit, expectStatus: number): Promise<number> {
  const started = performance.now();
  const response = await fetch(url, init);
  const text = await response.text();
  const ms = performance.now() - started;
  if (response.status !== expectStatus) throw new Error(`${init.method ?? "GET"} ${url}: ${response.status} ${text.slice(0, 300)}`);
  return ms;
}

async function measurePath(stack: BenchStack, requests: number): Promise<Record<string, number[]>> {
  const run = newRunId();
  const auth = { authorization: `Bearer ${READ_TOKEN}` };
  const hourAgo = () => new Date(Date.now() - 24 * 3_600_000).toISOString();
  const samples: Record<string, number[]> = { import: [], summary_hour: [], summary_day: [], series: [], health: [] };
  const calls: Record<string, (seq: number) => Promise<number>> = {
    import: (seq) =>
      timed(
        `${stack.url}/api/v1/import`,
        {
          method: "POST",
          headers: { "content-type": "application/json", authorization: `Bearer ${IMPORT_KEY}` },
          body: JSON.stringify(makeBatch(prng(seq + 1), { eventId: (i) => loadEventId(run, seq, i) })),
        },
        202,
      ),
    summary_hour: () => timed(`${stack.url}/api/v1/analytics/summary?interval=hour&from=${hourAgo()}`, { headers: auth }, 200),
    summary_day: () => timed(`${stack.url}/api/v1/analytics/summary?interval=day&from=${hourAgo()}`, { headers: auth }, 200),
    series: () => timed(`${stack.url}/api/v1/analytics/series?interval=hour&from=${hourAgo()}&event_name=page_view`, { headers: auth }, 200),
    health: () => timed(`${stack.url}/health`, { headers: auth }, 200),
  };
  // Warm-up: the isolate, the bridge's pool, the first statements' plans.
  for (const [name, call] of Object.entries(calls)) for (let i = 0; i < 3; i++) await call(10_000 + i).catch((error: Error) => {
    throw new Error(`paths warm-up ${name}: ${error.message}`);
  });
  for (let seq = 0; seq < requests; seq++) {
    for (const [name, call] of Object.entries(calls)) samples[name]!.push(await call(seq));
  }
  return samples;
}

export async function runPaths(size: Size): Promise<Omit<PartResult, "seconds">> {
  const requests = size === "full" ? 200 : 20;
  const figures: Figure[] = [];
  const raw: Record<string, unknown> = {};
  const results: Record<string, Record<string, number[]>> = {};
  for (const path of ["neon-http", "hyperdrive"] as const) {
    const stack = await startBenchStack({
      mode: "direct",
      label: `path-${path}`,
      hyperdrive: path === "hyperdrive",
      vars: { IMPORT_KEYS: IMPORT_KEY, READ_TOKEN },
    });
    try {
      results[path] = await measurePath(stack, requests);
    } finally {
      await stack.stop();
    }
  }
  for (const name of Object.keys(results["neon-http"]!)) {
    const http = results["neon-http"]![name]!;
    const tcp = results.hyperdrive![name]!;
    const p = (values: number[], q: number) => round(percentile(values, q), 1);
    log(`paths ${name}: neon-http p50 ${p(http, 50)} ms, hyperdrive p50 ${p(tcp, 50)} ms`);
    figures.push({
      name: `${name}: p50 neon-http / hyperdrive`,
      value: `${p(http, 50)} / ${p(tcp, 50)}`,
      unit: "ms",
      detail: `p95 ${p(http, 95)} / ${p(tcp, 95)} ms; ${requests} requests per path, one at a time`,
    });
    raw[name] = { "neon-http": { p50: p(http, 50), p95: p(http, 95) }, hyperdrive: { p50: p(tcp, 50), p95: p(tcp, 95) } };
  }
  return {
    part: "paths",
    title: "Neon HTTP vs Hyperdrive",
    status: "ok",
    method:
      "Two dev stacks (wrangler dev, INGEST_MODE=direct) on fresh databases of the same PostgreSQL: DB_DRIVER=neon-http through the Neon bridge, and --env hyperdrive with a local Hyperdrive binding; POST /api/v1/import of 50 events, GET summary (hour, day), series and /health, one request at a time after 3 warm-ups each; client-observed latency.",
    figures,
    raw,
  };
}
