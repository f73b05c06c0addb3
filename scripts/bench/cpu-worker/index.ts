/**
 * A bench-only worker (bundled by scripts/bench/cpu.ts and run in workerd through Miniflare): runs
 * the ingest route's CPU work — JSON.parse, prepareBatch (validate + normalise), planCounters —
 * on the POSTed body, in timed blocks. Typed without the Workers types so the Node typecheck
 * covers it; it uses nothing Node-specific.
 *
 * `POST /?blocks=B&per=N&clock=date|perf` → `{ blockMs: number[], rows, rejected }`; `&spin=0` leaves
 * out the clock check at the end (a busy loop), for callers that measure the request's CPU time.
 * `&part=dimensions` times only the breakdown dimensions and visitor keys of the batch's rows
 * (already inside prepareBatch and the route; timed alone to show their share).
 */
import { planCounters } from "../../../src/domain/counter-plan";
import { deriveDimensions, newDimensionCaches } from "../../../src/domain/dimensions";
import type { EventRow } from "../../../src/domain/event";
import { prepareBatch } from "../../../src/domain/ingest-batch";
import { visitorKey } from "../../../src/domain/visitor";

const UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";

const COUNTRY = "DE";
const ADDRESS = "203.0.113.9";

/** What ingest adds per batch for breakdowns: each row's dimensions, and one visitor key per site. */
async function captureDimensions(rows: readonly EventRow[]): Promise<void> {
  const caches = newDimensionCaches();
  const sites = new Map<string, Promise<string>>();
  for (const row of rows) {
    const ua = row.device_info?.user_agent;
    const dims = deriveDimensions({ pageUrl: row.page_url, referrer: row.referrer, userAgent: typeof ua === "string" ? ua : UA, country: COUNTRY }, caches);
    const site = dims.page_host ?? "";
    if (!sites.has(site)) sites.set(site, visitorKey(site, ADDRESS, UA));
  }
  await Promise.all(sites.values());
}

/** Yields to the event loop: local workerd advances its clock across I/O, timers included. */
const tick = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

export default {
  async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const blocks = Math.min(10_000, Number(url.searchParams.get("blocks") ?? 10));
    const per = Math.min(10_000, Number(url.searchParams.get("per") ?? 10));
    const clock = url.searchParams.get("clock") === "date" ? () => Date.now() : () => performance.now();
    const text = await request.text();
    const bytes = new TextEncoder().encode(text).byteLength;
    const dimensionsOnly = url.searchParams.get("part") === "dimensions";
    const parsedRows = dimensionsOnly ? (await prepareBatch(JSON.parse(text), { receivedAt: new Date(), bodyBytes: bytes, userAgent: UA })).rows : [];
    const blockMs: number[] = [];
    let rows = 0;
    let rejected = 0;
    for (let b = 0; b < blocks; b++) {
      await tick();
      const t0 = clock();
      for (let i = 0; i < per; i++) {
        if (dimensionsOnly) {
          await captureDimensions(parsedRows);
          rows = parsedRows.length;
          continue;
        }
        const prepared = await prepareBatch(JSON.parse(text), { receivedAt: new Date(), bodyBytes: bytes, userAgent: UA, country: COUNTRY });
        planCounters(prepared.rows);
        rows = prepared.rows.length;
        rejected = prepared.rejected.length;
      }
      const t1 = clock();
      blockMs.push(t1 - t0);
    }
    if (url.searchParams.get("spin") === "0") return Response.json({ blockMs, rows, rejected });
    // A busy loop with no I/O: shows whether the clock advances without I/O (Spectre mitigation).
    const s0 = clock();
    let x = 0;
    for (let i = 0; i < 3e6; i++) x += Math.sqrt(i);
    const spinMs = clock() - s0;
    return Response.json({ blockMs, rows, rejected, spinMs, x: x > 0 });
  },
};
