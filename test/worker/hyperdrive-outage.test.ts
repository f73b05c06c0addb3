/**
 * PostgreSQL killed outright (SIGKILL) in the middle of ingest load on the Hyperdrive path, then
 * started again: every batch answered 202 is stored exactly once once the drain has run. The
 * server is a private one with a password (test/support/global-setup.ts, `crashable`), reached
 * through its own Hyperdrive binding.
 */
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import worker from "../../src/index";
import { HyperdriveSql } from "../../src/storage/clients";
import { redisKeys } from "../../src/storage/redis-keys";
import { DRAIN, clearPrefix, fireCron, makeEvents, redisClient } from "./cron-support";
import { control } from "./support";

const PREFIX = "hyperdrive-outage:";
const BATCHES = 48;
const BATCH_SIZE = 10;
const CONCURRENCY = 4;

describe("PostgreSQL killed mid-load on the Hyperdrive path", () => {
  const redis = redisClient();
  let crashEnv: Env;

  beforeAll(async () => {
    await control("crashable/start");
    crashEnv = { ...env, HYPERDRIVE: env.HYPERDRIVE_CRASHABLE, REDIS_KEY_PREFIX: PREFIX, INGEST_MODE: "direct" } as Env;
    await clearPrefix(redis, PREFIX);
  }, 120_000);

  afterAll(async () => {
    await control("crashable/start"); // leave it running whatever happened
  }, 120_000);

  async function post(events: ReturnType<typeof makeEvents>): Promise<{ status: number; accepted: number }> {
    const ctx = createExecutionContext();
    const request = new Request("http://worker/api/v1/analytics", {
      method: "POST",
      headers: { "content-type": "application/json", "x-write-key": "test-write-key", "cf-connecting-ip": `10.0.0.${events.length}` },
      body: JSON.stringify({ events }),
    });
    const response = await worker.fetch(request, crashEnv, ctx);
    // The direct insert runs after the response (waitUntil): wait for it, as the runtime would.
    await waitOnExecutionContext(ctx);
    const body = (await response.json()) as { accepted?: number };
    return { status: response.status, accepted: body.accepted ?? 0 };
  }

  it("answers 202 throughout and, after the drain, stores every accepted event exactly once", async () => {
    const all = makeEvents(BATCHES * BATCH_SIZE, Date.now() - 30 * 60_000, 20 * 60_000);
    const batches = Array.from({ length: BATCHES }, (_, i) => all.slice(i * BATCH_SIZE, (i + 1) * BATCH_SIZE));
    const accepted: string[] = [];
    const statuses: number[] = [];
    const waves = BATCHES / CONCURRENCY;
    let killed: Promise<void> | undefined;
    for (let wave = 0; wave < waves; wave++) {
      // A third of the way in, the server dies while a wave is in flight; two thirds in, it is back.
      if (wave === Math.floor(waves / 3)) killed = control("crashable/kill");
      if (wave === Math.floor((2 * waves) / 3)) {
        await killed;
        await control("crashable/start");
      }
      const sent = batches.slice(wave * CONCURRENCY, (wave + 1) * CONCURRENCY);
      const answers = await Promise.all(sent.map((events) => post(events)));
      answers.forEach((answer, i) => {
        statuses.push(answer.status);
        if (answer.status === 202) {
          expect(answer.accepted).toBe(BATCH_SIZE);
          accepted.push(...sent[i]!.map((event) => event.event_id));
        }
      });
    }
    expect(statuses.every((status) => status === 202)).toBe(true);
    expect(accepted).toHaveLength(BATCHES * BATCH_SIZE);
    // The batches whose direct insert failed wait in the buffer.
    const keys = redisKeys(PREFIX);
    expect(await redis.xlen(keys.buffer)).toBeGreaterThan(0);

    for (let run = 0; run < 10 && (await redis.xlen(keys.buffer)) > 0; run++) await fireCron(DRAIN, crashEnv);
    expect(await redis.xlen(keys.buffer)).toBe(0);
    expect(await redis.xlen(keys.deadLetter)).toBe(0);

    const sql = new HyperdriveSql(env.HYPERDRIVE_CRASHABLE!.connectionString);
    const rows = (await sql.query(
      `SELECT count(*)::int AS stored, count(DISTINCT event_id)::int AS distinct_ids FROM analytics_events_ts WHERE event_id = ANY($1::uuid[])`,
      [accepted],
    )) as Array<{ stored: number; distinct_ids: number }>;
    expect(rows[0]).toEqual({ stored: accepted.length, distinct_ids: accepted.length });
  });
});
