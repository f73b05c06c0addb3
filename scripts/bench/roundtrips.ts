/**
 * Part 2 — round trips per ingested batch, counted at the bridges (Upstash REST requests and
 * commands, Neon SQL-over-HTTP statements), in both INGEST_MODEs. `buffered` stops where the
 * request path stops, so its counts are the request path alone; `direct` adds the work done after
 * the response (ctx.waitUntil: the insert and the buffer delete).
 */
import { loadEventId, makeBatch, prng } from "./fixtures";
import { newRunId } from "./load";
import type { Figure, PartResult, Size } from "./report";
import { BENCH_WRITE_KEY, type BenchStack } from "./stack";
import { log, round, sleep } from "./util";

/** Sends `count` distinct batches one after another; returns how many were answered 202. */
export async function sendBatches(stack: BenchStack, count: number, run = newRunId()): Promise<{ accepted: number; statuses: number[]; firstError?: string }> {
  let accepted = 0;
  let firstError: string | undefined;
  const statuses: number[] = [];
  for (let seq = 0; seq < count; seq++) {
    const body = JSON.stringify(makeBatch(prng(seq + 1), { eventId: (i) => loadEventId(run, seq, i) }));
    const res = await fetch(`${stack.url}/api/v1/analytics`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-write-key": BENCH_WRITE_KEY },
      body,
    });
    const text = await res.text();
    statuses.push(res.status);
    if (res.status === 202) accepted += (JSON.parse(text) as { accepted: number }).accepted;
    else firstError ??= text.slice(0, 300);
  }
  return { accepted, statuses, ...(firstError ? { firstError } : {}) };
}

/** Waits until the bridges' counters stop moving (the waitUntil work is done). */
export async function settleStats(stack: BenchStack, quietMs = 1_000, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = JSON.stringify(stack.stats());
  let stableSince = Date.now();
  while (Date.now() < deadline) {
    await sleep(100);
    const now = JSON.stringify(stack.stats());
    if (now !== last) {
      last = now;
      stableSince = Date.now();
    } else if (Date.now() - stableSince >= quietMs) return;
  }
}

export async function runRoundtrips(size: Size, stacks: { get(mode: "direct" | "buffered"): Promise<BenchStack> }): Promise<Omit<PartResult, "seconds">> {
  const batches = size === "full" ? 200 : 30;
  const figures: Figure[] = [];
  const raw: Record<string, unknown> = {};
  for (const mode of ["buffered", "direct"] as const) {
    const stack = await stacks.get(mode);
    // Warm-up: the first EVALSHA of a fresh Redis answers NOSCRIPT and is followed by an EVAL.
    await sendBatches(stack, 3);
    await settleStats(stack);
    stack.resetStats();
    const sent = await sendBatches(stack, batches);
    if (sent.accepted !== batches * 50) throw new Error(`roundtrips ${mode}: ${sent.accepted} of ${batches * 50} events accepted; statuses ${[...new Set(sent.statuses)].join(", ")}${sent.firstError ? `: ${sent.firstError}` : ""}`);
    await settleStats(stack);
    const s = stack.stats();
    const per = (n: number) => n / batches;
    log(`roundtrips ${mode}: per batch ${round(per(s.redisRequests), 2)} Redis requests, ${round(per(s.redisCommands), 2)} commands, ${round(per(s.pgStatements), 2)} PG statements`);
    raw[mode] = { batches, accepted: sent.accepted, ...s };
    if (mode === "buffered") {
      figures.push({
        name: "request path: Redis requests / batch",
        value: round(per(s.redisRequests), 2),
        unit: "",
        target: "1",
        met: per(s.redisRequests) === 1,
        detail: `buffered mode (request path only), ${batches} batches after warm-up; Redis errors ${s.redisErrors}`,
      });
      figures.push({
        name: "request path: PostgreSQL statements / batch",
        value: round(per(s.pgStatements), 2),
        unit: "",
        target: "0 (buffered) — insert is after the response",
        met: s.pgStatements === 0,
      });
    } else {
      figures.push({
        name: "direct: Redis requests / batch (1 on the request path + buffer delete after)",
        value: round(per(s.redisRequests), 2),
        unit: "",
        target: "1 + 1 after the response",
        met: per(s.redisRequests) === 2,
      });
      figures.push({
        name: "direct: PostgreSQL statements / batch",
        value: round(per(s.pgStatements), 2),
        unit: "",
        target: "1",
        met: per(s.pgStatements) === 1,
        detail: `${s.pgRequests} HTTP requests for ${s.pgStatements} statements; PG errors ${s.pgErrors}`,
      });
      figures.push({
        name: "direct: Redis commands billed / batch",
        value: round(per(s.redisCommands), 2),
        unit: "",
        target: "≤ 2",
        met: per(s.redisCommands) <= 2,
        detail: "EVALSHA counts as one command (Upstash bills per command), XDEL as one",
      });
    }
  }
  return {
    part: "roundtrips",
    title: "Round trips per batch",
    status: "ok",
    method:
      "Distinct 50-event batches sent one at a time through wrangler dev; Upstash-bridge requests/commands and Neon-bridge statements counted after a warm-up and after the waitUntil work settled, divided by the batches sent.",
    figures,
    raw,
  };
}
