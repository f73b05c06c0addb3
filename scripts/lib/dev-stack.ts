/**
 * The whole local stack as a library: what `npm run dev` runs, for tests and benchmarks too.
 *
 * - PostgreSQL: `databaseUrl` if given, else the embedded TimescaleDB (PGlite), in memory or in
 *   `embedded.dataDir`, served to your own tools on a local socket.
 * - Redis: `redisUrl` if given, else a private redis-server on a free port (append-only file in
 *   `redisDataDir` when given, else persistence off).
 * - Migrations applied, the Upstash REST and Neon SQL-over-HTTP bridges on free ports, and
 *   `wrangler dev --test-scheduled` wired to them with `--var`, in its own process group.
 * - Optionally the Cron Triggers of wrangler.toml fired every minute (wrangler dev never fires them).
 *
 * `stop()` stops everything it started, workerd included. A start-up that fails stops what it had
 * started before rejecting.
 *
 * @example
 * const stack = await startDevStack({ databaseUrl, vars: { WRITE_KEYS: "k" }, quiet: true });
 * await fetch(`${stack.baseUrl}/health`);
 * await stack.fireCron("* * * * *");
 * await stack.stop();
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { parseTierRequest, type Tier } from "../../src/storage/tier";
import { cronMatches, cronsFromWranglerToml } from "./cron-match";
import { startEmbeddedTimescale, type EmbeddedTimescale } from "./embedded-postgres";
import { migrate } from "./migrator";
import { messageOf } from "../../src/error-text";
import { startNeonBridge, type NeonBackend, type NeonBridge, type NeonBridgeStats } from "./neon-bridge";
import { freePort, isPortTaken } from "./ports";
import { startPrivateRedis, type PrivateRedis } from "./redis-server";
import { startUpstashBridge, type UpstashBridge } from "./upstash-bridge";

export const ROOT = resolve(import.meta.dirname, "../..");
export const STATE_DIR = resolve(ROOT, ".dev-stack");
/** The `npm run dev` lock: holds the pid of the process that runs the developer's stack. */
export const LOCK_FILE = resolve(STATE_DIR, "dev.pid");
/** `npm run dev`'s worker port (PORT) and embedded database socket (EMBEDDED_PG_PORT) by default. */
export const DEV_PORT = 8787;
export const DEV_EMBEDDED_PG_PORT = 54329;
export const DEV_WRITE_KEY = "dev-write-key";
export const DEV_READ_TOKEN = "dev-read-token-change-me";
/** The import key `npm run dev` configures (`IMPORT_KEYS`) unless one is set. */
export const DEV_IMPORT_KEY = "dev-import-key";

export interface DevStackOptions {
  /** Port of `wrangler dev` on 127.0.0.1; 0 or omitted: a free port. A given port that is taken is an error. */
  port?: number;
  /** PostgreSQL for the Worker (migrated here); omitted: the embedded TimescaleDB. */
  databaseUrl?: string;
  /** The embedded TimescaleDB (only without `databaseUrl`). */
  embedded?: {
    /** Keeps data across runs (`npm run dev`: .dev-stack/pgdata); omitted: in memory. */
    dataDir?: string;
    /** Port of its socket for psql and other tools; 0 or omitted: a free port. A given port that is taken is an error. */
    socketPort?: number;
  };
  /** Redis behind the Upstash bridge; omitted: a private redis-server on a free port. */
  redisUrl?: string;
  /**
   * Where the private redis-server keeps its append-only file, so what it acknowledged survives a
   * restart (`npm run dev`: .dev-stack/redis); omitted: persistence off (tests).
   */
  redisDataDir?: string;
  /**
   * Extra `--var`s for the Worker (WRITE_KEYS, READ_TOKEN, ALLOWED_ORIGINS, INGEST_MODE,
   * ANALYTICS_DB_TIER, REDIS_KEY_PREFIX, …), applied over the stack's own. ANALYTICS_DB_TIER is
   * also the tier requested from the migrations (default `auto`).
   * Defaults: WRITE_KEYS=dev-write-key, READ_TOKEN=dev-read-token-change-me. An empty value leaves
   * the variable unset.
   */
  vars?: Record<string, string>;
  /** Fire the Cron Triggers of wrangler.toml at the start of each matching UTC minute. @default false */
  crons?: boolean;
  /**
   * Take the `npm run dev` lock (.dev-stack/dev.pid): a second holder is refused with a clear
   * error. Only `npm run dev` should; tests and benchmarks run beside it. @default false
   */
  lock?: boolean;
  /**
   * No progress lines, and wrangler's own output is kept back (its last lines are in the error if
   * it fails to start, quiet or not). Warnings (a failed cron) are still printed. @default false
   */
  quiet?: boolean;
  /** Where progress lines go. @default console.log with a "[dev-stack] " prefix */
  log?: (line: string) => void;
  /** Where warnings go. @default console.error with a "[dev-stack] " prefix */
  warn?: (line: string) => void;
  /**
   * Keep wrangler's DevTools inspector proxy (chrome://inspect, breakpoints, the Network panel).
   * Off by default: see WRANGLER_WITHOUT_INSPECTOR_PROXY for why a headless stack must not run it.
   * @default false
   */
  devtools?: boolean;
  /**
   * Port of wrangler's inspector (devtools), with `devtools` only. Omitted: wrangler's own choice
   * (9229, or the next free one) when `lock` is set, else a free port, so that stacks started side
   * by side (parallel test files, a benchmark beside `npm run dev`) do not race for 9229.
   */
  inspectorPort?: number;
  /** Aborting during start-up stops what was started and rejects. */
  signal?: AbortSignal;
  /** How long `wrangler dev` may take to answer /health. @default 90000 */
  startTimeoutMs?: number;
  /**
   * Run the Worker on the Hyperdrive path (`wrangler dev --env hyperdrive`): its HYPERDRIVE binding
   * connects to the stack's PostgreSQL (through
   * CLOUDFLARE_HYPERDRIVE_LOCAL_CONNECTION_STRING_HYPERDRIVE) instead of the Neon bridge.
   * @default false
   */
  hyperdrive?: boolean;
}

/** The Neon bridge, which can be stopped (PostgreSQL unreachable for the Worker) and started again on the same port. */
export interface NeonControl {
  /** `NEON_FETCH_ENDPOINT` as given to the Worker; stays the same across stop/start. */
  readonly url: string;
  readonly port: number;
  readonly running: boolean;
  /** The running bridge, if any. */
  readonly bridge: NeonBridge | undefined;
  /** Counters of the running bridge (zeros while stopped; counting restarts from zero after start). */
  stats(): NeonBridgeStats;
  resetStats(): void;
  /** Closes the bridge (connections refused: the Worker sees PostgreSQL as down). Safe to call twice. */
  stop(): Promise<void>;
  /** Opens it again on the same port. Safe to call while running. */
  start(): Promise<void>;
}

export interface DevStack {
  /** `http://127.0.0.1:PORT` of `wrangler dev`. */
  readonly baseUrl: string;
  readonly port: number;
  /** Every `--var` the Worker was started with (includes the bridges' URLs and the token). */
  readonly vars: Readonly<Record<string, string>>;
  readonly database: {
    /** Connection string for Node-side tools (pg, psql): `databaseUrl`, or the embedded socket. */
    readonly url: string;
    readonly tier: Tier;
    /** Migration files applied by this start. */
    readonly applied: readonly string[];
    /** The embedded TimescaleDB, when no `databaseUrl` was given. */
    readonly embedded: EmbeddedTimescale | undefined;
  };
  /** `redis://…` behind the Upstash bridge. */
  readonly redisUrl: string;
  /** The private redis-server (`stop()`/`start()`; empty after a restart unless `redisDataDir`); undefined with `redisUrl`. */
  readonly redis: PrivateRedis | undefined;
  readonly upstash: UpstashBridge;
  readonly upstashToken: string;
  readonly neon: NeonControl;
  /** The Cron Trigger expressions of wrangler.toml. */
  readonly crons: readonly string[];
  /** Runs one Cron Trigger now (`GET /__scheduled?cron=…`); rejects on a non-2xx answer. */
  fireCron(expression: string): Promise<void>;
  /** Resolves with wrangler's exit code if it exits by itself (not through `stop()`). */
  readonly exited: Promise<number | null>;
  /** Stops everything it started, in reverse order; the wrangler process group first. Safe to call twice. */
  stop(): Promise<void>;
}

/** Lowest port the kernel hands out for `bind(0)` and outgoing connections (Linux; else 32768). */
function ephemeralLow(): number {
  try {
    const low = Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]);
    if (Number.isInteger(low) && low > 2048) return low;
  } catch {
    /* not Linux */
  }
  return 32768;
}

/**
 * A free port below the kernel's ephemeral range, for servers whose port is chosen before they
 * bind it (wrangler, redis-server) or that stop and start again on the same port (the Neon bridge,
 * the private Redis). A port from `freePort()` is an ephemeral one: on a busy machine (parallel
 * test files, thousands of sockets) the kernel can give it to another socket in the meantime.
 */
export async function pickPort(): Promise<number> {
  const high = ephemeralLow();
  const low = Math.max(10_000, high - 16_000);
  for (let i = 0; i < 100; i++) {
    const port = low + Math.floor(Math.random() * (high - low));
    if (!(await isPortTaken(port))) return port;
  }
  return freePort();
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Takes the `npm run dev` lock; returns its release. */
function takeLock(): () => void {
  mkdirSync(STATE_DIR, { recursive: true });
  if (existsSync(LOCK_FILE)) {
    const pid = Number(readFileSync(LOCK_FILE, "utf8"));
    if (pid && pid !== process.pid && pidAlive(pid)) {
      throw new Error(`npm run dev is already running (pid ${pid}). Stop it first (Ctrl-C in its terminal, or kill ${pid}).`);
    }
  }
  writeFileSync(LOCK_FILE, String(process.pid));
  return () => {
    // Only our own lock: a stale file may have been replaced by a newer instance meanwhile.
    if (existsSync(LOCK_FILE) && Number(readFileSync(LOCK_FILE, "utf8")) === process.pid) rmSync(LOCK_FILE, { force: true });
  };
}

/** Keeps the last `max` lines of a stream (wrangler's output when it is kept back). */
function tailBuffer(max = 60) {
  const lines: string[] = [];
  let partial = "";
  return {
    push(chunk: Buffer) {
      const parts = (partial + chunk.toString("utf8")).split("\n");
      partial = parts.pop() ?? "";
      lines.push(...parts);
      if (lines.length > max) lines.splice(0, lines.length - max);
    },
    text: () => [...lines, partial].filter(Boolean).join("\n"),
  };
}

export async function startDevStack(options: DevStackOptions = {}): Promise<DevStack> {
  const quiet = options.quiet ?? false;
  const log = quiet ? () => {} : (options.log ?? ((line: string) => console.log(`[dev-stack] ${line}`)));
  const warn = options.warn ?? ((line: string) => console.error(`[dev-stack] ${line}`));
  const signal = options.signal;
  const cleanups: Array<() => Promise<unknown> | unknown> = [];
  let stopping: Promise<void> | undefined;

  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      for (const cleanup of cleanups.splice(0).reverse()) {
        try {
          await cleanup();
        } catch (error) {
          warn(`cleanup failed: ${messageOf(error)}`);
        }
      }
    })());
  const checkAborted = () => {
    if (signal?.aborted) throw new Error("start-up aborted");
  };

  try {
    checkAborted();
    if (options.lock) cleanups.push(takeLock());

    // Worker port: a given one must be free now; a chosen one is picked right before wrangler starts.
    const fixedPort = options.port || undefined;
    if (fixedPort && (await isPortTaken(fixedPort))) {
      throw new Error(`port ${fixedPort} is taken (another wrangler dev?). Stop it or set PORT to a free port.`);
    }

    // Redis and the Upstash bridge.
    let redis: PrivateRedis | undefined;
    let redisUrl = options.redisUrl;
    if (!redisUrl) {
      redis = await startPrivateRedis({ port: await pickPort(), dataDir: options.redisDataDir });
      const started = redis;
      cleanups.push(() => started.stop());
      redisUrl = redis.url;
    }
    checkAborted();
    const upstashToken = `dev-${crypto.randomUUID()}`;
    const upstash = await startUpstashBridge({ redisUrl, token: upstashToken });
    cleanups.push(() => upstash.close());
    checkAborted();

    // PostgreSQL, migrations and the Neon bridge.
    const tier = parseTierRequest(options.vars?.ANALYTICS_DB_TIER);
    let databaseUrl: string;
    let embedded: EmbeddedTimescale | undefined;
    let backend: NeonBackend;
    if (options.databaseUrl) {
      databaseUrl = options.databaseUrl;
      const url = new URL(databaseUrl);
      backend = { kind: "pg", host: url.hostname, port: Number(url.port || 5432) };
    } else {
      const socketPort = options.embedded?.socketPort || undefined;
      if (socketPort && (await isPortTaken(socketPort))) {
        throw new Error(`port ${socketPort} for the embedded PostgreSQL is taken. Set EMBEDDED_PG_PORT to a free port.`);
      }
      log("starting the embedded TimescaleDB (PGlite)…");
      try {
        embedded = await startEmbeddedTimescale({ dataDir: options.embedded?.dataDir, socketPort });
      } catch (error) {
        const hint = options.embedded?.dataDir ? ` Delete ${options.embedded.dataDir} to start afresh.` : "";
        throw new Error(`could not start the embedded TimescaleDB: ${messageOf(error)}.${hint}`);
      }
      const started = embedded;
      cleanups.push(() => started.close());
      databaseUrl = embedded.socketUrl;
      backend = { kind: "pglite", db: embedded.db, login: embedded.login };
    }
    checkAborted();
    const migrated = await migrate({ databaseUrl, tier, log });
    checkAborted();
    const neon = await neonControl(backend);
    cleanups.push(() => neon.stop());

    // The Worker.
    let exited: Promise<number | null> = new Promise(() => {});
    const vars: Record<string, string> = {
      UPSTASH_REDIS_REST_URL: upstash.url,
      UPSTASH_REDIS_REST_TOKEN: upstashToken,
      DATABASE_URL: databaseUrl,
      NEON_FETCH_ENDPOINT: neon.url,
      WRITE_KEYS: DEV_WRITE_KEY,
      READ_TOKEN: DEV_READ_TOKEN,
      ...options.vars,
    };
    // Ports we chose can still be taken by someone else before wrangler binds them: then again
    // with new ones (a few times).
    let port = 0;
    for (let attempt = 1; ; attempt++) {
      port = fixedPort ?? (await pickPort());
      const devtools = options.devtools ?? false;
      const inspectorPort = !devtools ? undefined : (options.inspectorPort ?? (options.lock ? undefined : await pickPort()));
      const hyperdrive = options.hyperdrive ? localHyperdriveUrl(databaseUrl) : undefined;
      const wrangler = startWrangler(port, { devtools, inspectorPort }, vars, quiet, hyperdrive);
      cleanups.push(wrangler.stop);
      try {
        await waitForWorker(`http://127.0.0.1:${port}`, wrangler, options.startTimeoutMs ?? 90_000, checkAborted);
        exited = wrangler.exited;
        break;
      } catch (error) {
        const retry = attempt < 3 && !fixedPort && /address already in use/i.test(wrangler.output());
        if (!retry) throw error;
        log(`a port wrangler dev was given was taken meanwhile; trying again with other ports`);
        await wrangler.stop();
      }
    }
    const baseUrl = `http://127.0.0.1:${port}`;
    checkAborted();

    const crons = cronsFromWranglerToml(readFileSync(resolve(ROOT, "wrangler.toml"), "utf8"));
    const fireCron = async (expression: string) => {
      const response = await fetch(`${baseUrl}/__scheduled?cron=${encodeURIComponent(expression)}`);
      const text = await response.text();
      if (!response.ok) throw new Error(`cron "${expression}" answered ${response.status}: ${text.slice(0, 500)}`);
    };
    if (options.crons) {
      cleanups.push(startCronFiring(crons, fireCron, warn));
      log(`firing cron triggers locally: ${crons.join(" | ")}`);
    }

    return {
      baseUrl,
      port,
      vars,
      database: { url: databaseUrl, tier: migrated.tier, applied: migrated.applied, embedded },
      redisUrl,
      redis,
      upstash,
      upstashToken,
      neon,
      crons,
      fireCron,
      exited,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Polls /health until wrangler dev answers (200, or 503 when a store is down); fails at once if it exits. */
async function waitForWorker(
  baseUrl: string,
  wrangler: WranglerProcess,
  timeoutMs: number,
  checkAborted: () => void,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    checkAborted();
    const code = wrangler.exitCode();
    if (code !== undefined) {
      const tail = wrangler.output();
      throw new Error(
        `wrangler dev exited (code ${code ?? "signal"}) before answering /health` + (tail ? `; its last output:\n${tail}` : ""),
      );
    }
    const status = await fetch(`${baseUrl}/health`, { signal: AbortSignal.timeout(5_000) }).then(
      async (response) => {
        await response.body?.cancel();
        return response.status;
      },
      () => 0,
    );
    if (status === 200 || status === 503) return;
    if (Date.now() > deadline) {
      const tail = wrangler.output();
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for wrangler dev to answer /health` +
          (tail ? `; its last output:\n${tail}` : ""),
      );
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** The Neon bridge on a fixed port, closed and reopened on demand. */
async function neonControl(backend: NeonBackend): Promise<NeonControl> {
  let bridge: NeonBridge | undefined = await startNeonBridge({ backend, port: await pickPort() });
  const port = bridge.port;
  const url = bridge.url;
  let transition = Promise.resolve();
  const serial = (step: () => Promise<void>) => (transition = transition.then(step, step));
  return {
    url,
    port,
    get running() {
      return bridge !== undefined;
    },
    get bridge() {
      return bridge;
    },
    stats: () => bridge?.stats() ?? { requests: 0, statements: 0, errors: 0 },
    resetStats: () => bridge?.resetStats(),
    stop: () =>
      serial(async () => {
        const running = bridge;
        bridge = undefined;
        await running?.close();
      }),
    start: () =>
      serial(async () => {
        bridge ??= await startNeonBridge({ backend, port });
      }),
  };
}

interface WranglerProcess {
  /** undefined while running; the exit code (null: a signal) once it has exited. */
  exitCode(): number | null | undefined;
  /** Its last output lines (only when kept back). */
  output(): string;
  /** Resolves when it exits by itself (never when stopped through `stop`). */
  exited: Promise<number | null>;
  stop(): Promise<void>;
}

/**
 * Environment that keeps `wrangler dev` from reaching the internet at start-up, where offline
 * each attempt printed an alarming stack trace: no usage metrics, no banner (its update check asks
 * the npm registry), and no download of the `request.cf` sample from workers.cloudflare.com
 * (`request.cf` then holds Miniflare's built-in placeholder; this Worker never reads it).
 * Each can be overridden from the environment.
 */
const QUIET_WRANGLER: Record<string, string> = {
  WRANGLER_SEND_METRICS: "false",
  WRANGLER_HIDE_BANNER: "true",
  CLOUDFLARE_CF_FETCH_ENABLED: "false",
};
for (const name of Object.keys(QUIET_WRANGLER)) {
  const own = process.env[name];
  if (own !== undefined) QUIET_WRANGLER[name] = own;
}

/**
 * Environment that keeps `wrangler dev` (4.86) from running its DevTools inspector proxy, which
 * wedges a headless dev server under subrequest traffic (cloudflare/workers-sdk#14191, fixed in
 * 4.100.0 by #14243): on start it sends `Network.enable` to the runtime even with no DevTools
 * attached, so workerd reports every chunk of every subrequest's response body (~70 messages per
 * 1–2 MB drain read or insert answer); the proxy posts each one to the wrangler CLI (a loopback
 * HTTP request, logged to its debug file) and keeps it in a buffer that only an attached DevTools
 * empties. After a few hundred such subrequests the CLI's loopback server stops keeping up
 * (thousands of open connections, its accept queue full), the proxy stops reading the runtime's
 * inspector socket, and the Worker stops serving: a `/__scheduled` firing never answered, and the
 * proxy's workerd grew past 1 GB. wrangler's CLI has no flag to turn the proxy off; it leaves it
 * off (and the runtime's Network domain with it) when VS Code's JavaScript debug terminal variable
 * is set, which changes nothing else without VS Code's bootloader in NODE_OPTIONS. Worker logs
 * still reach the terminal (workerd's structured stdout, not the inspector). A value already in
 * the environment is kept.
 */
export const WRANGLER_WITHOUT_INSPECTOR_PROXY: Record<string, string> = {
  VSCODE_INSPECTOR_OPTIONS: process.env.VSCODE_INSPECTOR_OPTIONS || "{}",
};

/**
 * The stack's database as wrangler's local Hyperdrive origin. Miniflare insists on a password; a
 * server that trusts loopback connections never asks for it.
 */
function localHyperdriveUrl(databaseUrl: string): string {
  const url = new URL(databaseUrl);
  if (!url.password) url.password = "unused-with-trust";
  return url.toString();
}

/**
 * The arguments of `npx wrangler dev` on 127.0.0.1:`port` with cron firing over HTTP and `vars`
 * as `--var`s; an empty value leaves the variable unset (e.g. READ_TOKEN: "" for a deployment
 * without one). The stack and the benchmark's own wrangler processes start alike.
 */
export function wranglerDevArgs(port: number, vars: Record<string, string>): string[] {
  const args = ["wrangler", "dev", "--port", String(port), "--ip", "127.0.0.1", "--test-scheduled"];
  for (const [name, value] of Object.entries(vars)) if (value !== "") args.push("--var", `${name}:${value}`);
  return args;
}

function startWrangler(
  port: number,
  { devtools, inspectorPort }: { devtools: boolean; inspectorPort: number | undefined },
  vars: Record<string, string>,
  quiet: boolean,
  hyperdriveUrl?: string,
): WranglerProcess {
  const args = wranglerDevArgs(port, vars);
  if (hyperdriveUrl) args.push("--env", "hyperdrive");
  if (inspectorPort !== undefined) args.push("--inspector-port", String(inspectorPort));
  // Its own process group: killing npx alone leaves workerd running, so we kill the group.
  // Piped (its last lines explain a failed start), and passed through unless quiet, in colour
  // when this process writes to a terminal.
  const colour = !quiet && process.stdout.isTTY && !process.env.NO_COLOR ? { FORCE_COLOR: "1" } : {};
  const child: ChildProcess = spawn("npx", args, {
    cwd: ROOT,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: {
      ...process.env,
      ...QUIET_WRANGLER,
      ...(devtools ? {} : WRANGLER_WITHOUT_INSPECTOR_PROXY),
      ...colour,
      ...(hyperdriveUrl ? { CLOUDFLARE_HYPERDRIVE_LOCAL_CONNECTION_STRING_HYPERDRIVE: hyperdriveUrl } : {}),
    },
  });
  const tail = tailBuffer();
  child.stdout?.on("data", (chunk: Buffer) => {
    tail.push(chunk);
    if (!quiet) process.stdout.write(chunk);
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    tail.push(chunk);
    if (!quiet) process.stderr.write(chunk);
  });
  let exitCode: number | null | undefined;
  let stopping = false;
  let onExit: (code: number | null) => void = () => {};
  const exited = new Promise<number | null>((resolve) => (onExit = resolve));
  const gone = new Promise<void>((resolve) =>
    child.once("exit", (code) => {
      exitCode = code;
      if (!stopping) onExit(code);
      resolve();
    }),
  );
  child.once("error", () => {
    exitCode ??= 1;
  });
  const killGroup = (sig: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, sig);
    } catch {
      /* already gone */
    }
  };
  // If this process exits without stop() (an uncaught error, process.exit), workerd must not stay behind.
  const onProcessExit = () => {
    if (exitCode === undefined && child.pid !== undefined) killGroup("SIGKILL");
  };
  process.once("exit", onProcessExit);

  return {
    exitCode: () => exitCode,
    output: tail.text,
    exited,
    async stop() {
      stopping = true;
      process.off("exit", onProcessExit);
      if (exitCode !== undefined || child.pid === undefined) return;
      killGroup("SIGTERM");
      const timer = setTimeout(() => killGroup("SIGKILL"), 5_000);
      await gone;
      clearTimeout(timer);
      // npx may exit before workerd does: make sure nothing of the group is left.
      killGroup("SIGKILL");
    },
  };
}

/** Fires each Cron Trigger at the start of every matching UTC minute; returns its stop. */
function startCronFiring(
  crons: readonly string[],
  fireCron: (expression: string) => Promise<void>,
  warn: (line: string) => void,
): () => void {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let stopped = false;
  const fire = async (now: Date) => {
    for (const cron of crons.filter((c) => cronMatches(c, now))) {
      await fireCron(cron).catch((error: unknown) => warn(`cron "${cron}" failed: ${messageOf(error)}`));
    }
  };
  const schedule = () => {
    if (stopped) return;
    const delay = 60_000 - (Date.now() % 60_000) + 200;
    timer = setTimeout(() => {
      void fire(new Date(Date.now() - 200)).finally(schedule);
    }, delay);
  };
  schedule();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
