/**
 * `npm run dev`: the whole local stack in one command, then `wrangler dev`.
 *
 * - PostgreSQL: DATABASE_URL if set, else the embedded TimescaleDB (PGlite, data kept in
 *   .dev-stack/pgdata), served to your own tools on a local socket (printed below).
 * - Redis: REDIS_URL if set, else a private redis-server on a free port (persistence off).
 * - The Upstash REST and Neon SQL-over-HTTP bridges on free ports, migrations applied, and
 *   `wrangler dev --test-scheduled` wired to them with `--var`.
 * - Cron Triggers fired every minute against the local worker (wrangler dev never fires them).
 * Ctrl-C (or SIGTERM) stops everything it started, workerd included.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { cronMatches, cronsFromWranglerToml } from "./lib/cron-match";
import { startEmbeddedTimescale, type EmbeddedTimescale } from "./lib/embedded-postgres";
import { migrate } from "./lib/migrator";
import { startNeonBridge, type NeonBridge } from "./lib/neon-bridge";
import { freePort, isPortTaken, waitFor } from "./lib/ports";
import { startPrivateRedis, type PrivateRedis } from "./lib/redis-server";
import { startUpstashBridge, type UpstashBridge } from "./lib/upstash-bridge";

const ROOT = resolve(import.meta.dirname, "..");
const STATE_DIR = resolve(ROOT, ".dev-stack");
const LOCK_FILE = resolve(STATE_DIR, "dev.pid");
const WORKER_PORT = Number(process.env.PORT ?? 8787);
const EMBEDDED_PG_PORT = Number(process.env.EMBEDDED_PG_PORT ?? 54329);
const DEV_WRITE_KEY = "dev-write-key";
const DEV_READ_TOKEN = "dev-read-token-change-me";

const cleanups: Array<() => Promise<unknown> | unknown> = [];
let shuttingDown = false;

function log(line: string): void {
  console.log(`[dev] ${line}`);
}

/** Aborts start-up with a message for the developer; main() prints it and stops what was started. */
function fail(message: string): never {
  throw new Error(message);
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function takeLock(): void {
  mkdirSync(STATE_DIR, { recursive: true });
  if (existsSync(LOCK_FILE)) {
    const pid = Number(readFileSync(LOCK_FILE, "utf8"));
    if (pid && pid !== process.pid && pidAlive(pid)) {
      fail(`npm run dev is already running (pid ${pid}). Stop it first (Ctrl-C in its terminal, or kill ${pid}).`);
    }
  }
  writeFileSync(LOCK_FILE, String(process.pid));
  cleanups.push(() => rmSync(LOCK_FILE, { force: true }));
}

async function shutdown(code: number): Promise<never> {
  if (!shuttingDown) {
    shuttingDown = true;
    log("stopping…");
    for (const cleanup of cleanups.reverse()) {
      try {
        await cleanup();
      } catch (error) {
        console.error(`[dev] cleanup failed: ${String(error)}`);
      }
    }
  }
  process.exit(code);
}

async function startPostgres(): Promise<{ workerDatabaseUrl: string; neon: NeonBridge; psqlUrl: string; tierNote: string }> {
  const external = process.env.DATABASE_URL;
  if (external) {
    const url = new URL(external);
    const { tier, applied } = await migrate({ databaseUrl: external, tier: tierOverride(), log: (l) => log(l) });
    const neon = await startNeonBridge({
      backend: { kind: "pg", host: url.hostname, port: Number(url.port || 5432) },
    });
    cleanups.push(() => neon.close());
    return { workerDatabaseUrl: external, neon, psqlUrl: redact(external), tierNote: `${tier} (${applied.length} migrations applied)` };
  }
  if (await isPortTaken(EMBEDDED_PG_PORT)) {
    fail(`port ${EMBEDDED_PG_PORT} for the embedded PostgreSQL is taken. Set EMBEDDED_PG_PORT to a free port.`);
  }
  log("starting the embedded TimescaleDB (PGlite)…");
  let embedded: EmbeddedTimescale;
  try {
    embedded = await startEmbeddedTimescale({ dataDir: resolve(STATE_DIR, "pgdata"), socketPort: EMBEDDED_PG_PORT });
  } catch (error) {
    fail(`could not start the embedded TimescaleDB: ${String(error)}. Delete .dev-stack/pgdata to start afresh.`);
  }
  cleanups.push(() => embedded.close());
  const { tier, applied } = await migrate({ databaseUrl: embedded.socketUrl, tier: tierOverride(), log: (l) => log(l) });
  const neon = await startNeonBridge({ backend: { kind: "pglite", db: embedded.db } });
  cleanups.push(() => neon.close());
  return {
    workerDatabaseUrl: embedded.socketUrl,
    neon,
    psqlUrl: embedded.socketUrl,
    tierNote: `${tier}, embedded (${applied.length} migrations applied)`,
  };
}

function tierOverride(): "auto" | "timescale" | "timescale-apache" | "postgres" {
  const value = process.env.ANALYTICS_DB_TIER ?? "auto";
  if (value === "auto" || value === "timescale" || value === "timescale-apache" || value === "postgres") return value;
  fail(`ANALYTICS_DB_TIER must be auto, timescale, timescale-apache or postgres (got "${value}")`);
}

function redact(connectionString: string): string {
  const url = new URL(connectionString);
  if (url.password) url.password = "****";
  return url.toString();
}

async function startRedis(): Promise<{ redisUrl: string; upstash: UpstashBridge; token: string }> {
  let redisUrl = process.env.REDIS_URL;
  if (!redisUrl) {
    let redis: PrivateRedis;
    try {
      redis = await startPrivateRedis();
    } catch (error) {
      fail(error instanceof Error ? error.message : String(error));
    }
    cleanups.push(() => redis.stop());
    redisUrl = redis.url;
  }
  const token = `dev-${crypto.randomUUID()}`;
  const upstash = await startUpstashBridge({ redisUrl, token });
  cleanups.push(() => upstash.close());
  return { redisUrl, upstash, token };
}

function startWrangler(vars: Record<string, string>): ChildProcess {
  const args = ["wrangler", "dev", "--port", String(WORKER_PORT), "--ip", "127.0.0.1", "--test-scheduled"];
  for (const [name, value] of Object.entries(vars)) args.push("--var", `${name}:${value}`);
  // Its own process group: killing npx alone leaves workerd running, so we kill the group.
  const child = spawn("npx", args, {
    cwd: ROOT,
    detached: true,
    stdio: ["ignore", "inherit", "inherit"],
    env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
  });
  cleanups.push(async () => {
    if (child.exitCode !== null || child.pid === undefined) return;
    const exited = new Promise<void>((done) => child.once("exit", () => done()));
    try {
      process.kill(-child.pid, "SIGTERM");
    } catch {
      return;
    }
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {
        /* already gone */
      }
    }, 5_000);
    await exited;
    clearTimeout(timer);
  });
  child.once("exit", (code) => {
    if (!shuttingDown) {
      console.error(`[dev] wrangler dev exited (code ${code ?? "signal"}); stopping the stack.`);
      void shutdown(code ?? 1);
    }
  });
  return child;
}

/** Fires each Cron Trigger from wrangler.toml at the start of every matching UTC minute. */
function startCronFiring(baseUrl: string): void {
  const crons = cronsFromWranglerToml(readFileSync(resolve(ROOT, "wrangler.toml"), "utf8"));
  const fire = async (now: Date) => {
    for (const cron of crons.filter((c) => cronMatches(c, now))) {
      const response = await fetch(`${baseUrl}/__scheduled?cron=${encodeURIComponent(cron)}`).catch((e: unknown) => e);
      if (!(response instanceof Response) || !response.ok) {
        console.error(`[dev] cron "${cron}" failed: ${response instanceof Response ? response.status : String(response)}`);
      }
    }
  };
  const schedule = () => {
    const delay = 60_000 - (Date.now() % 60_000) + 200;
    const timer = setTimeout(() => {
      void fire(new Date(Date.now() - 200)).finally(schedule);
    }, delay);
    cleanups.push(() => clearTimeout(timer));
  };
  schedule();
  log(`firing cron triggers locally: ${crons.join(" | ")}`);
}

async function main(): Promise<void> {
  takeLock();
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(signal, () => void shutdown(0));
  if (await isPortTaken(WORKER_PORT)) {
    fail(`port ${WORKER_PORT} is taken (another wrangler dev?). Stop it or set PORT to a free port.`);
  }

  const { upstash, token, redisUrl } = await startRedis();
  const pgStack = await startPostgres();

  const vars: Record<string, string> = {
    UPSTASH_REDIS_REST_URL: upstash.url,
    UPSTASH_REDIS_REST_TOKEN: token,
    DATABASE_URL: pgStack.workerDatabaseUrl,
    NEON_FETCH_ENDPOINT: pgStack.neon.url,
    WRITE_KEYS: process.env.WRITE_KEYS ?? DEV_WRITE_KEY,
    READ_TOKEN: process.env.READ_TOKEN ?? DEV_READ_TOKEN,
  };
  for (const name of ["INGEST_MODE", "ANALYTICS_DB_TIER", "ALLOWED_ORIGINS", "REDIS_KEY_PREFIX"]) {
    const value = process.env[name];
    if (value) vars[name] = value;
  }
  startWrangler(vars);
  const baseUrl = `http://127.0.0.1:${WORKER_PORT}`;
  await waitFor("wrangler dev to answer /health", async () => {
    const response = await fetch(`${baseUrl}/health`);
    return response.status === 200 || response.status === 503;
  }, { timeoutMs: 90_000, intervalMs: 250 });
  startCronFiring(baseUrl);

  log("ready:");
  log(`  worker        ${baseUrl}  (GET /health, POST /api/v1/analytics)`);
  log(`  postgres      ${pgStack.psqlUrl}  tier: ${pgStack.tierNote}`);
  log(`  redis         ${redisUrl}`);
  log(`  upstash REST  ${upstash.url}  (bridge)`);
  log(`  neon HTTP     ${pgStack.neon.url}  (bridge)`);
  log(`  write key     ${vars.WRITE_KEYS}   read token ${vars.READ_TOKEN}`);
  log("Ctrl-C stops everything.");
}

main().catch(async (error: unknown) => {
  console.error(`[dev] error: ${error instanceof Error ? error.message : String(error)}`);
  await shutdown(1);
});
