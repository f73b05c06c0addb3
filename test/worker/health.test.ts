import { SELF, createExecutionContext, createScheduledController, env, waitOnExecutionContext } from "cloudflare:test";
import { afterEach, describe, expect, inject, it, vi } from "vitest";
import worker from "../../src/index";
import { SCHEDULE } from "../../src/cron/schedule";
import { control } from "./support";

interface HealthBody {
  status: string;
  redis: { ok: boolean; latency_ms: number };
  postgres: { ok: boolean; latency_ms: number; tier: string | null };
}

async function health(): Promise<{ status: number; body: HealthBody }> {
  const response = await SELF.fetch("http://worker/health");
  return { status: response.status, body: (await response.json()) as HealthBody };
}

describe("GET /health", () => {
  afterEach(async () => {
    await control("redis/start");
    await control("postgres/start");
  });

  it("answers 200 with both stores up and reports the migrated tier", async () => {
    const { status, body } = await health();
    expect(status).toBe(200);
    expect(body.status).toBe("ok");
    expect(body.redis.ok).toBe(true);
    expect(body.postgres).toMatchObject({ ok: true, tier: inject("stack").tier });
    expect(body.postgres.tier).toBe("postgres");
    expect(body.redis.latency_ms).toBeGreaterThanOrEqual(0);
  });

  it("answers 503 degraded with redis.ok false while Redis is stopped, and 200 again after it returns", async () => {
    await control("redis/stop");
    const started = Date.now();
    const down = await health();
    const elapsed = Date.now() - started;
    expect(down.status).toBe(503);
    expect(down.body.status).toBe("degraded");
    expect(down.body.redis.ok).toBe(false);
    expect(down.body.postgres.ok).toBe(true);
    // "not a hang": the probe is bounded well under 5 s.
    expect(elapsed).toBeLessThan(5_000);

    await control("redis/start");
    expect((await health()).status).toBe(200);
  });

  it("answers 503 degraded when PostgreSQL is unreachable", async () => {
    await control("postgres/stop");
    const { status, body } = await health();
    expect(status).toBe(503);
    expect(body.postgres.ok).toBe(false);
    expect(body.redis.ok).toBe(true);
  });

  it("answers 503 down with both stores unreachable, never a 500", async () => {
    await control("redis/stop");
    await control("postgres/stop");
    const { status, body } = await health();
    expect(status).toBe(503);
    expect(body.status).toBe("down");
  });

  it("answers 503 with a machine code naming the bad variables when configuration is invalid", async () => {
    const { createApp } = await import("../../src/app");
    const { createServices } = await import("../../src/services");
    const app = createApp(createServices);
    const response = await app.request("/health", {}, { ...env, DATABASE_URL: "mysql://nope", UPSTASH_REDIS_REST_TOKEN: "" });
    expect(response.status).toBe(503);
    const body = (await response.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe("service_misconfigured");
    expect(body.error.message).toContain("DATABASE_URL");
    expect(body.error.message).toContain("UPSTASH_REDIS_REST_TOKEN");
  });
});

describe("scheduled handler", () => {
  it("dispatches every configured cron expression without throwing", async () => {
    for (const cron of Object.keys(SCHEDULE)) {
      const ctx = createExecutionContext();
      await worker.scheduled(createScheduledController({ cron, scheduledTime: Date.now() }), env, ctx);
      await waitOnExecutionContext(ctx);
    }
  });

  it("logs an unknown schedule as an error instead of ignoring it", async () => {
    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    const ctx = createExecutionContext();
    await worker.scheduled(createScheduledController({ cron: "*/7 * * * *", scheduledTime: Date.now() }), env, ctx);
    await waitOnExecutionContext(ctx);
    expect(errors).toHaveBeenCalledWith(expect.stringContaining("unknown_cron"));
    errors.mockRestore();
  });
});
