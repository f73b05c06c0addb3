import { Hono } from "hono";
import type { AppEnv } from "../app";

/** Longest a probe may take: /health must answer well within 5 s even when a server hangs. */
export const PROBE_TIMEOUT_MS = 2_000;

export interface ProbeResult {
  ok: boolean;
  latency_ms: number;
  error?: string;
}

async function probe<T>(run: () => Promise<T>): Promise<ProbeResult & { value?: T }> {
  const started = performance.now();
  let timer: ReturnType<typeof setTimeout> | null = null;
  try {
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${PROBE_TIMEOUT_MS} ms`)), PROBE_TIMEOUT_MS);
    });
    const value = await Promise.race([run(), timeout]);
    return { ok: true, latency_ms: Math.round(performance.now() - started), value };
  } catch (error) {
    return { ok: false, latency_ms: Math.round(performance.now() - started), error: describe(error) };
  } finally {
    if (timer !== null) clearTimeout(timer);
  }
}

/** A short reason safe to show: the error's message without connection details. */
function describe(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.replace(/postgres(ql)?:\/\/\S+/g, "postgres://…").slice(0, 200);
}

/**
 * `GET /health`: pings Redis and PostgreSQL concurrently. 200 when both answer, 503 otherwise
 * (`degraded` with one down, `down` with both), never a 500.
 */
export const health = new Hono<AppEnv>().get("/", async (c) => {
  const { probes } = c.var.services;
  const [redis, postgres] = await Promise.all([probe(() => probes.redis()), probe(() => probes.postgres())]);
  const upCount = Number(redis.ok) + Number(postgres.ok);
  const status = upCount === 2 ? "ok" : upCount === 1 ? "degraded" : "down";
  const body = {
    status,
    redis: { ok: redis.ok, latency_ms: redis.latency_ms, ...(redis.error ? { error: redis.error } : {}) },
    postgres: {
      ok: postgres.ok,
      latency_ms: postgres.latency_ms,
      tier: postgres.value ?? null,
      ...(postgres.error ? { error: postgres.error } : {}),
    },
  };
  c.header("Cache-Control", "no-store");
  return c.json(body, status === "ok" ? 200 : 503);
});
