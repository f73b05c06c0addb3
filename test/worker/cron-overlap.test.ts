/**
 * Overlapping drains: Cron Triggers can overlap (a slow run, a manual /__scheduled call, two
 * isolates). Every event must still be stored exactly once.
 */
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { Budget } from "../../src/cron/budget";
import { drainBuffer } from "../../src/cron/drain";
import { createServices } from "../../src/services";
import { redisKeys } from "../../src/storage/redis-keys";
import {
  DRAIN,
  batches,
  bufferBatches,
  clearPrefix,
  cronEnv,
  fireCron,
  jobRuns,
  makeEvents,
  redisClient,
  resetTables,
  storedEventIds,
} from "./cron-support";

const PREFIX = "cron-overlap:";
const redis = redisClient();
const workerEnv = cronEnv("postgres", PREFIX);

beforeEach(async () => {
  await resetTables("postgres");
  await clearPrefix(redis, PREFIX);
});

afterAll(async () => {
  await clearPrefix(redis, PREFIX);
});

describe("overlapping drains", () => {
  it("two drains fired at once store each event once: one drains, the other skips or finds nothing", async () => {
    const events = makeEvents(6_000, Date.now() - 30 * 60_000, 20 * 60_000);
    await bufferBatches(redis, PREFIX, batches(events, 25));

    await Promise.all([fireCron(DRAIN, workerEnv), fireCron(DRAIN, workerEnv)]);

    const stored = await storedEventIds("postgres");
    expect(stored.size).toBe(6_000);
    expect([...stored.values()].every((n) => n === 1)).toBe(true);
    expect(await redis.xlen(redisKeys(PREFIX).buffer)).toBe(0);
    const runs = await jobRuns("postgres", "drain");
    expect(runs).toHaveLength(2);
    expect(runs.every((r) => r.outcome === "ok" || r.outcome === "skipped")).toBe(true);
    expect(runs.reduce((n, r) => n + Number(r.counts.events ?? 0), 0)).toBe(6_000);
  });

  it("even without the lease (e.g. it expired mid-run), two drains over the same entries insert nothing twice", async () => {
    const events = makeEvents(6_000, Date.now() - 30 * 60_000, 20 * 60_000);
    await bufferBatches(redis, PREFIX, batches(events, 25));
    const services = createServices(workerEnv);
    const drain = () =>
      drainBuffer({
        buffer: services.cron.buffer,
        events: services.cron.store("postgres"),
        budget: new Budget({ wallMs: 20_000, subrequests: 900 }),
        now: new Date(),
      });

    const [a, b] = await Promise.all([drain(), drain()]);

    const stored = await storedEventIds("postgres");
    expect(stored.size).toBe(6_000);
    expect([...stored.values()].every((n) => n === 1)).toBe(true);
    expect(a.inserted + b.inserted).toBe(6_000);
    expect(await redis.xlen(redisKeys(PREFIX).buffer)).toBe(0);
  });
});
