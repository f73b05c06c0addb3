/**
 * A bench-only worker (bundled by scripts/bench/cpu.ts and run in workerd through Miniflare): runs
 * the ingest route's CPU work — JSON.parse, prepareBatch (validate + normalise), planCounters —
 * on the POSTed body, in timed blocks. Typed without the Workers types so the Node typecheck
 * covers it; it uses nothing Node-specific.
 *
 * `POST /?blocks=B&per=N&clock=date|perf` → `{ blockMs: number[], rows, rejected }`.
 */
import { planCounters } from "../../../src/domain/counter-plan";
import { prepareBatch } from "../../../src/domain/ingest-batch";

const UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";

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
    const blockMs: number[] = [];
    let rows = 0;
    let rejected = 0;
    for (let b = 0; b < blocks; b++) {
      await tick();
      const t0 = clock();
      for (let i = 0; i < per; i++) {
        const prepared = await prepareBatch(JSON.parse(text), { receivedAt: new Date(), bodyBytes: bytes, userAgent: UA });
        planCounters(prepared.rows);
        rows = prepared.rows.length;
        rejected = prepared.rejected.length;
      }
      const t1 = clock();
      blockMs.push(t1 - t0);
    }
    // A busy loop with no I/O: shows whether the clock advances without I/O (Spectre mitigation).
    const s0 = clock();
    let x = 0;
    for (let i = 0; i < 3e6; i++) x += Math.sqrt(i);
    const spinMs = clock() - s0;
    return Response.json({ blockMs, rows, rejected, spinMs, x: x > 0 });
  },
};
