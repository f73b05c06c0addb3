/**
 * The load generator, run as its own process (so its CPU is not the orchestrator's, which hosts
 * the bridges): autocannon with a fixed number of connections for a fixed duration (and a cap on
 * requests), each request a realistic 50-event batch with unique, traceable event ids
 * (`loadEventId(run, seq, i)`). Prints one JSON line with the outcome of every request.
 *
 * Usage: node --import tsx scripts/bench/loadgen.ts '<LoadSpec as JSON>'
 */
import autocannon from "autocannon";
import { loadEventId, makeBatch, prng } from "./fixtures";

export interface LoadSpec {
  url: string;
  path: string;
  connections: number;
  durationSec: number;
  maxRequests: number;
  /** 8 hex digits naming this run in every event id. */
  run: string;
  writeKey: string;
  /** Request timeout in seconds. @default 30 */
  timeoutSec?: number;
  /** Print the sequence numbers of batches answered 202 (for exact checks). */
  listAccepted?: boolean;
}

export interface LoadResult {
  requests: number;
  byStatus: Record<string, number>;
  /** Sum of `accepted` over 202 answers. */
  accepted: number;
  duplicates: number;
  /** Requests that got no answer (connection errors, timeouts). */
  errors: number;
  timeouts: number;
  eventsSent: number;
  latencyMs: { p50: number; p99: number; mean: number; max: number };
  requestsPerSec: number;
  seconds: number;
  acceptedSeqs?: number[];
  firstNon2xxBody?: string;
}

const TEMPLATES = 16;
const MARK = /__ID(\d+)__/;

function templates(): string[][] {
  const out: string[][] = [];
  const now = Date.now();
  for (let t = 0; t < TEMPLATES; t++) {
    const body = makeBatch(prng(1000 + t), { nowMs: now, eventId: (i) => `__ID${i}__` });
    // split with a capture group keeps the indexes: [text, "0", text, "1", …]
    out.push(JSON.stringify(body).split(MARK));
  }
  return out;
}

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2] ?? "{}") as LoadSpec;
  const parts = templates();
  let seq = 0;
  const byStatus: Record<string, number> = {};
  let accepted = 0;
  let duplicates = 0;
  let firstNon2xxBody: string | undefined;
  const acceptedSeqs: number[] = [];

  const nextBody = (n: number): string => {
    const p = parts[n % TEMPLATES]!;
    let s = p[0]!;
    for (let i = 1; i < p.length; i += 2) s += loadEventId(spec.run, n, Number(p[i])) + p[i + 1]!;
    return s;
  };

  const started = Date.now();
  const result = await autocannon({
    url: spec.url,
    connections: spec.connections,
    duration: spec.durationSec,
    maxOverallRequests: spec.maxRequests,
    timeout: spec.timeoutSec ?? 30,
    requests: [
      {
        method: "POST",
        path: spec.path,
        headers: { "content-type": "application/json", "x-write-key": spec.writeKey },
        setupRequest: (request, context) => {
          const n = seq++;
          (context as { seq?: number }).seq = n;
          return { ...request, body: nextBody(n) };
        },
        onResponse: (status, body, context) => {
          byStatus[status] = (byStatus[status] ?? 0) + 1;
          if (status === 202) {
            try {
              const json = JSON.parse(body) as { accepted?: number; duplicates?: number };
              accepted += json.accepted ?? 0;
              duplicates += json.duplicates ?? 0;
              if (spec.listAccepted && (json.accepted ?? 0) > 0) acceptedSeqs.push((context as { seq: number }).seq);
            } catch {
              /* a non-JSON 202 is a bug the counts will show */
            }
          } else if ((status < 200 || status >= 300) && firstNon2xxBody === undefined) {
            firstNon2xxBody = `${status} ${body.slice(0, 300)}`;
          }
        },
      },
    ],
  });
  const seconds = (Date.now() - started) / 1000;
  const answered = Object.values(byStatus).reduce((a, b) => a + b, 0);
  const out: LoadResult = {
    requests: answered + result.errors,
    byStatus,
    accepted,
    duplicates,
    errors: result.errors,
    timeouts: result.timeouts,
    eventsSent: seq * 50,
    latencyMs: { p50: result.latency.p50, p99: result.latency.p99, mean: result.latency.average, max: result.latency.max },
    requestsPerSec: answered / seconds,
    seconds,
    ...(spec.listAccepted ? { acceptedSeqs } : {}),
    ...(firstNon2xxBody ? { firstNon2xxBody } : {}),
  };
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
