/**
 * The local stack the end-to-end parts run against: `startDevStack` (scripts/lib/dev-stack.ts, the
 * `npm run dev` stack: wrangler dev, the Upstash and Neon bridges in this process, Redis,
 * PostgreSQL) on a throwaway database; a private redis-server that can persist across a restart;
 * the no-op worker of the harness ceiling under the same `wrangler dev`; Redis helpers for the
 * final counts.
 *
 * Everything is on loopback and free ports; everything is stopped by the run's cleanup.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, openSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { startDevStack, WRANGLER_WITHOUT_INSPECTOR_PROXY, wranglerDevArgs, type DevStack } from "../lib/dev-stack";
import { freePort, waitFor } from "../lib/ports";
import { parseRedisUrl, RespConnection, type RespReply } from "../lib/resp";
import { ADMIN_URL, createBenchDatabase } from "./databases";
import { ROOT, TMP_DIR } from "./report";
import { log, onCleanup } from "./util";

export const BENCH_WRITE_KEY = "bench-write-key";

export interface BenchRedis {
  url: string;
  port: number;
  stop(): Promise<void>;
  start(): Promise<void>;
}

/**
 * A private redis-server on a free port. `persistent` turns on the append-only file (fsync every
 * second), so a stop/start keeps the write-ahead buffer, as a managed Redis would.
 */
export async function startBenchRedis(options: { persistent?: boolean } = {}): Promise<BenchRedis> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "eaw_bench_redis_"));
  let child: ChildProcess | undefined;
  const args = ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--protected-mode", "no", "--dir", dir];
  args.push("--appendonly", options.persistent ? "yes" : "no");
  const start = async () => {
    if (child && child.exitCode === null) return;
    child = spawn("redis-server", args, { stdio: "ignore" });
    const spawned = child;
    await waitFor(`redis-server on ${port}`, async () => {
      if (spawned.exitCode !== null) throw new Error(`redis-server exited (${spawned.exitCode})`);
      const c = await RespConnection.open({ host: "127.0.0.1", port, connectTimeoutMs: 300 });
      c.close();
      return true;
    });
  };
  const stop = async () => {
    const running = child;
    child = undefined;
    if (!running || running.exitCode !== null) return;
    const exited = new Promise<void>((done) => running.once("exit", () => done()));
    running.kill("SIGTERM");
    const timer = setTimeout(() => running.kill("SIGKILL"), 5_000);
    await exited;
    clearTimeout(timer);
  };
  await start();
  onCleanup(`redis-server :${port}`, async () => {
    await stop();
    rmSync(dir, { recursive: true, force: true });
  });
  return { url: `redis://127.0.0.1:${port}`, port, stop, start };
}

export interface WranglerDev {
  url: string;
  pid: number;
  logFile: string;
  stop(): Promise<void>;
}

/**
 * `wrangler dev` in its own process group (killing npx alone leaves workerd running), with the
 * flags and the inspector setting `startDevStack` uses (same harness), output to a log file, state in bench/tmp. Resolves once `readyPath` answers.
 */
export async function startWranglerDev(options: {
  label: string;
  vars: Record<string, string>;
  config?: string;
  readyPath: string;
}): Promise<WranglerDev> {
  const port = await freePort();
  mkdirSync(TMP_DIR, { recursive: true });
  const logFile = resolve(TMP_DIR, `wrangler-${options.label}.log`);
  const out = openSync(logFile, "w");
  const args = wranglerDevArgs(port, options.vars);
  args.push("--persist-to", resolve(TMP_DIR, `wrangler-state-${options.label}`));
  if (options.config) args.push("--config", options.config);
  const child = spawn("npx", args, {
    cwd: ROOT,
    detached: true,
    stdio: ["ignore", out, out],
    // Without the inspector proxy, as the worker's own stack runs: the ceiling is measured alike.
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", ...WRANGLER_WITHOUT_INSPECTOR_PROXY },
  });
  const pid = child.pid!;
  const stop = onCleanup(`wrangler dev ${options.label}`, async () => {
    if (child.exitCode !== null) return;
    const exited = new Promise<void>((done) => child.once("exit", () => done()));
    try {
      process.kill(-pid, "SIGTERM");
    } catch {
      return;
    }
    const timer = setTimeout(() => {
      try {
        process.kill(-pid, "SIGKILL");
      } catch {
        /* gone */
      }
    }, 5_000);
    await exited;
    clearTimeout(timer);
  });
  const url = `http://127.0.0.1:${port}`;
  await waitFor(
    `wrangler dev (${options.label}) to answer ${options.readyPath} — see ${logFile}`,
    async () => {
      if (child.exitCode !== null) throw new Error(`wrangler dev exited (${child.exitCode}); see ${logFile}`);
      const res = await fetch(url + options.readyPath);
      await res.arrayBuffer();
      return res.status === 200 || res.status === 503;
    },
    { timeoutMs: 120_000, intervalMs: 300 },
  );
  return { url, pid, logFile, stop };
}

export interface BenchStack {
  mode: "direct" | "buffered";
  url: string;
  prefix: string;
  dev: DevStack;
  /** Connection string of the stack's database, for Node-side checks. */
  databaseUrl: string;
  /** Redis commands, Redis requests and PostgreSQL statements counted at the bridges. */
  stats(): { redisRequests: number; redisCommands: number; redisErrors: number; pgRequests: number; pgStatements: number; pgErrors: number };
  resetStats(): void;
  /** Fires the minute Cron Trigger (the drain) through wrangler dev's /__scheduled. */
  fireMinuteCron(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * The `npm run dev` stack (scripts/lib/dev-stack.ts) with INGEST_MODE = `mode`, backed by a fresh
 * database on the machine's PostgreSQL (or `adminUrl`'s server; postgres tier) and a private Redis
 * (or `redisUrl`). Cron Triggers are not fired by the stack: the parts fire the drain themselves.
 */
export async function startBenchStack(options: {
  mode: "direct" | "buffered";
  label: string;
  adminUrl?: string;
  redisUrl?: string;
  vars?: Record<string, string>;
  /** The Worker on the Hyperdrive path (`wrangler dev --env hyperdrive`) instead of Neon's HTTP driver. */
  hyperdrive?: boolean;
}): Promise<BenchStack> {
  const db = await createBenchDatabase(options.label, options.adminUrl ?? ADMIN_URL);
  const prefix = `bench:${options.label}:`;
  log(`starting the dev stack (${options.label}, INGEST_MODE=${options.mode})…`);
  const dev = await startDevStack({
    databaseUrl: db.url,
    ...(options.redisUrl ? { redisUrl: options.redisUrl } : {}),
    quiet: true,
    crons: false,
    warn: (line) => log(`dev-stack: ${line}`),
    startTimeoutMs: 120_000,
    hyperdrive: options.hyperdrive ?? false,
    vars: {
      WRITE_KEYS: BENCH_WRITE_KEY,
      INGEST_MODE: options.mode,
      REDIS_KEY_PREFIX: prefix,
      ANALYTICS_DB_TIER: "auto",
      // The benchmark sends far more than one write key's (and one client's) production quota.
      RATE_LIMIT_PER_MINUTE: "100000000",
      RATE_LIMIT_PER_CLIENT_PER_MINUTE: "100000000",
      // The buffered and fault runs hold ~900k events (~0.5 GB) before their drain: measure
      // throughput, not the byte cap (the private Redis has room).
      BUFFER_MAX_BYTES: String(8 * 1024 ** 3),
      ...options.vars,
    },
  });
  const stop = onCleanup(`dev stack ${options.label}`, () => dev.stop());
  return {
    mode: options.mode,
    url: dev.baseUrl,
    prefix,
    dev,
    databaseUrl: db.url,
    stats() {
      const u = dev.upstash.stats();
      const n = dev.neon.stats();
      return { redisRequests: u.requests, redisCommands: u.commands, redisErrors: u.errors, pgRequests: n.requests, pgStatements: n.statements, pgErrors: n.errors };
    },
    resetStats() {
      dev.upstash.resetStats();
      dev.neon.resetStats();
    },
    fireMinuteCron: () => dev.fireCron("* * * * *"),
    stop,
  };
}

/** One Redis connection for the bench's own reads (final counts), closed by the cleanup. */
export async function redisClient(url: string): Promise<RespConnection> {
  const conn = await RespConnection.open({ ...parseRedisUrl(url), replyTimeoutMs: 120_000 });
  onCleanup("bench redis connection", () => conn.close());
  return conn;
}

export function replyInt(reply: RespReply): number {
  if (reply.type === "integer") return Number(reply.value);
  if (reply.type === "bulk") return reply.value === null ? 0 : Number(reply.value.toString());
  if (reply.type === "error") throw new Error(reply.message);
  return Number.NaN;
}

export function replyStrings(reply: RespReply): string[] {
  if (reply.type !== "array" || reply.value === null) return [];
  return reply.value.map((r) => (r.type === "bulk" && r.value ? r.value.toString() : ""));
}

/** Sum of the `total` field over every hour-counter hash under `prefix` (what Redis counted). */
export async function countedInRedis(conn: RespConnection, prefix: string): Promise<number> {
  let cursor = "0";
  let total = 0;
  do {
    const reply = await conn.send(["SCAN", cursor, "MATCH", `${prefix}h:*:n`, "COUNT", "1000"]);
    if (reply.type !== "array" || !reply.value) break;
    cursor = reply.value[0]!.type === "bulk" ? (reply.value[0]!.value?.toString() ?? "0") : "0";
    const keys = replyStrings(reply.value[1]!);
    if (keys.length > 0) {
      const totals = await conn.sendMany(keys.map((k) => ["HGET", k, "total"]));
      for (const t of totals) total += replyInt(t);
    }
  } while (cursor !== "0");
  return total;
}

/** Entries in the write-ahead buffer stream and the events they hold (parsed). */
export async function bufferContents(conn: RespConnection, prefix: string): Promise<{ entries: number; events: number }> {
  const entries = replyInt(await conn.send(["XLEN", `${prefix}buffer`]));
  if (entries === 0) return { entries, events: 0 };
  let events = 0;
  let start = "-";
  for (;;) {
    const reply = await conn.send(["XRANGE", `${prefix}buffer`, start, "+", "COUNT", "500"]);
    if (reply.type !== "array" || !reply.value || reply.value.length === 0) break;
    for (const entry of reply.value) {
      if (entry.type !== "array" || !entry.value) continue;
      const fields = entry.value[1]!;
      const values = fields.type === "array" && fields.value ? fields.value : [];
      for (let i = 0; i + 1 < values.length; i += 2) {
        const v = values[i + 1]!;
        if (v.type === "bulk" && v.value) {
          try {
            events += (JSON.parse(v.value.toString()) as { rows: unknown[] }).rows.length;
          } catch {
            /* not a batch */
          }
        }
      }
    }
    const last = reply.value[reply.value.length - 1]!;
    const id = last.type === "array" && last.value?.[0]?.type === "bulk" ? last.value[0].value!.toString() : null;
    if (!id || reply.value.length < 500) break;
    start = `(${id}`;
  }
  return { entries, events };
}
