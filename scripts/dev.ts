/**
 * `npm run dev`: the whole local stack in one command, then `wrangler dev`
 * (the stack itself is scripts/lib/dev-stack.ts, shared with tests and benchmarks).
 *
 * - PostgreSQL: DATABASE_URL if set, else the embedded TimescaleDB (PGlite, data kept in
 *   .dev-stack/pgdata), served to your own tools (psql) on a local socket (printed below).
 * - Redis: REDIS_URL if set, else a private redis-server on a free port whose append-only file
 *   (.dev-stack/redis) keeps what it acknowledged across restarts.
 * - The Upstash REST and Neon SQL-over-HTTP bridges on free ports, migrations applied, and
 *   `wrangler dev --test-scheduled` wired to them with `--var`.
 * - Cron Triggers fired every minute against the local worker (wrangler dev never fires them);
 *   `npm run cron -- drain|hourly|daily` fires one now (scripts/cron.ts, through .dev-stack/dev.json).
 * Ctrl-C (or SIGTERM) stops everything it started, workerd included.
 *
 * `npm run dev -- --hyperdrive`: the Worker on the Hyperdrive path (`wrangler dev --env
 * hyperdrive`, node-postgres over a local Hyperdrive binding connected to the same PostgreSQL)
 * instead of Neon's HTTP driver through the bridge.
 *
 * `npm run dev -- --devtools`: with wrangler's DevTools inspector proxy (chrome://inspect on 9229,
 * or the next free port). Off by default: under sustained subrequest traffic (the minute drain of
 * a large buffer) wrangler 4.86's proxy wedges the dev server (see WRANGLER_WITHOUT_INSPECTOR_PROXY
 * in scripts/lib/dev-stack.ts).
 *
 * Every variable of the Worker's configuration schema (src/config.ts) is taken from the
 * environment or `.dev.vars` (the environment wins), except the three that wire the Worker to the
 * stack's bridges. The stack's own settings: PORT (8787), EMBEDDED_PG_PORT (54329), DATABASE_URL,
 * REDIS_URL.
 */
import { writeFileSync, rmSync } from "node:fs";
import { resolve } from "node:path";
import {
  DEV_EMBEDDED_PG_PORT,
  DEV_PORT,
  DEV_IMPORT_KEY,
  DEV_READ_TOKEN,
  DEV_WRITE_KEY,
  ROOT,
  STATE_DIR,
  startDevStack,
  type DevStack,
} from "./lib/dev-stack";
import { chooseDevVars, readDevVars } from "./lib/dev-vars";
import { DEV_STATE_FILE, devStateOf } from "./lib/dev-state";

const devVars = readDevVars(resolve(ROOT, ".dev.vars"));
const setting = (name: string): string | undefined => process.env[name] || devVars[name] || undefined;
const WORKER_PORT = Number(setting("PORT") ?? DEV_PORT);
const EMBEDDED_PG_PORT = Number(setting("EMBEDDED_PG_PORT") ?? DEV_EMBEDDED_PG_PORT);
const HYPERDRIVE = process.argv.slice(2).includes("--hyperdrive");
const DEVTOOLS = process.argv.slice(2).includes("--devtools");

function log(line: string): void {
  console.log(`[dev] ${line}`);
}

function redact(connectionString: string): string {
  const url = new URL(connectionString);
  if (url.password) url.password = "****";
  return url.toString();
}

const abort = new AbortController();
let stack: DevStack | undefined;
let shuttingDown = false;

async function shutdown(code: number): Promise<never> {
  if (!shuttingDown) {
    shuttingDown = true;
    log("stopping…");
    abort.abort();
    rmSync(DEV_STATE_FILE, { force: true });
    await stack?.stop();
  }
  process.exit(code);
}

async function main(): Promise<void> {
  // During start-up a signal aborts it (startDevStack stops what it had started, then rejects).
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.on(signal, () => (stack ? void shutdown(0) : abort.abort()));
  }

  const chosen = chooseDevVars(process.env, devVars, { WRITE_KEYS: DEV_WRITE_KEY, READ_TOKEN: DEV_READ_TOKEN, IMPORT_KEYS: DEV_IMPORT_KEY });
  if (chosen.replaced.length > 0) {
    log(`not passed on: ${chosen.replaced.join(", ")} (the stack runs its own bridges; use REDIS_URL and DATABASE_URL)`);
  }

  stack = await startDevStack({
    port: WORKER_PORT,
    databaseUrl: chosen.databaseUrl,
    embedded: { dataDir: resolve(STATE_DIR, "pgdata"), socketPort: EMBEDDED_PG_PORT },
    redisUrl: setting("REDIS_URL"),
    redisDataDir: resolve(STATE_DIR, "redis"),
    vars: chosen.vars,
    crons: true,
    lock: true,
    log,
    warn: (line) => console.error(`[dev] ${line}`),
    signal: abort.signal,
    hyperdrive: HYPERDRIVE,
    devtools: DEVTOOLS,
  });
  void stack.exited.then((code) => {
    if (!shuttingDown) {
      console.error(`[dev] wrangler dev exited (code ${code ?? "signal"}); stopping the stack.`);
      void shutdown(code ?? 1);
    }
  });

  writeFileSync(DEV_STATE_FILE, JSON.stringify(devStateOf(stack), null, 2), { mode: 0o600 });

  const { database } = stack;
  const tierNote = `${database.tier}${database.embedded ? ", embedded" : ""} (${database.applied.length} migrations applied)`;
  log("ready:");
  log(`  dashboard     ${stack.baseUrl}/  (open it; sign in with the read token below)`);
  log(`  worker        ${stack.baseUrl}  (GET /health, POST /api/v1/analytics, GET /openapi.json)`);
  log(`  postgres      ${database.embedded ? database.url : redact(database.url)}  tier: ${tierNote}`);
  if (database.embedded) log(`                psql ${database.url}`);
  log(`  redis         ${stack.redisUrl}${stack.redis ? "  (append-only file in .dev-stack/redis)" : ""}`);
  log(`  upstash REST  ${stack.upstash.url}  (bridge)`);
  log(`  neon HTTP     ${stack.neon.url}  (bridge${HYPERDRIVE ? "; the worker uses Hyperdrive: --hyperdrive" : ""})`);
  log(`  write key     ${stack.vars.WRITE_KEYS}   read token ${stack.vars.READ_TOKEN}   import key ${stack.vars.IMPORT_KEYS ?? ""}`);
  if (!(stack.vars.WRITE_KEYS ?? "").split(",").some((key) => key.trim() !== "")) {
    console.error("[dev] warning: WRITE_KEYS is empty: every batch answers 503 service_misconfigured until it is set (e.g. WRITE_KEYS=dev-write-key npm run dev).");
  }
  const own = Object.keys(chosen.vars).filter((name) => !(name in { WRITE_KEYS: 1, READ_TOKEN: 1, IMPORT_KEYS: 1 }));
  if (own.length > 0) log(`  variables     ${own.map((name) => `${name}=${chosen.vars[name]}`).join(" ")}`);
  log("  cron          npm run cron -- drain | hourly | daily");
  if (DEVTOOLS) log("  devtools      chrome://inspect → 127.0.0.1:9229 (or the next free port; wrangler's output says which)");
  log("Ctrl-C stops everything.");
}

main().catch(async (error: unknown) => {
  if (abort.signal.aborted && !shuttingDown) await shutdown(0);
  console.error(`[dev] error: ${error instanceof Error ? error.message : String(error)}`);
  await shutdown(1);
});
