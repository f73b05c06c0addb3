import { createServer, type Server } from "node:http";
import type { TestProject } from "vitest/node";
import { migrate } from "../../scripts/lib/migrator";
import { startNeonBridge, type NeonBridge } from "../../scripts/lib/neon-bridge";
import { freePort } from "../../scripts/lib/ports";
import { startPrivateRedis } from "../../scripts/lib/redis-server";
import { CHROMIUM, ensureProgram } from "../../scripts/lib/system-deps";
import { startUpstashBridge, type UpstashBridge } from "../../scripts/lib/upstash-bridge";
import { startPrivatePostgres, type PrivatePostgres } from "../../scripts/lib/private-postgres";
import { startPgRelay, type PgRelay } from "./pg-relay";
import { createTestDatabase, ensureTestPostgres, neonConnectionString, pgBackend } from "./postgres";
import { migrateTimescale, openTimescale } from "./timescale";

/**
 * The real local stack every workerd test talks to: a private redis-server behind the Upstash
 * bridge, a fresh PostgreSQL database (migrated, tier `postgres`) behind the Neon bridge, one
 * database per TimescaleDB tier behind the same bridge, and a small control server through which
 * tests inside workerd stop and start those servers and read the bridges' round-trip counters.
 * Everything is created per run and removed afterwards.
 *
 * What it runs on: TEST_PG_ADMIN_URL, else the machine's PostgreSQL on 127.0.0.1:5432, else a
 * private PostgreSQL 15 it starts (test/support/postgres.ts); TEST_TIMESCALE_URL and
 * TEST_TIMESCALE_APACHE_URL, else the embedded TimescaleDB (test/support/timescale.ts). What it
 * needs from the OS (redis-server, Chromium) is installed when missing and possible
 * (scripts/lib/system-deps.ts).
 */
export default async function setup(project: TestProject) {
  const log = (line: string) => console.log(`[test setup] ${line}`);
  const chromiumPath = process.env.CHROMIUM_PATH || ensureProgram(CHROMIUM, log);
  const cleanups: Array<() => Promise<unknown>> = [];
  const cleanup = async () => {
    for (const step of cleanups.splice(0).reverse()) await step().catch((error: unknown) => log(`cleanup: ${String(error)}`));
  };
  process.on("uncaughtException", ignoreHyperdriveProxySocketErrors);
  cleanups.push(async () => void process.off("uncaughtException", ignoreHyperdriveProxySocketErrors));
  try {
    cleanups.push(await ensureTestPostgres(log));
    const redis = await startPrivateRedis();
    cleanups.push(() => redis.stop());
    const database = await createTestDatabase();
    cleanups.push(() => database.drop());
    const { tier } = await migrate({ databaseUrl: database.url, tier: "auto" });
    // The two TimescaleDB tiers: a real TimescaleDB when configured, else the embedded one (TSL),
    // once as is and once forced to the Apache-edition code path that Neon and Supabase get.
    const timescale = await openTimescale("timescale", EMBEDDED_TIMESCALE_DB);
    cleanups.push(() => timescale.close());
    await migrateTimescale(timescale);
    const apache = await openTimescale("timescale-apache", EMBEDDED_APACHE_DB);
    cleanups.push(() => apache.close());
    await migrateTimescale(apache);
    for (const target of [timescale, apache]) {
      if (target.source !== "embedded") log(`tier ${target.tier} on ${target.source}`);
    }

    const token = `test-${crypto.randomUUID()}`;
    const upstash = await startUpstashBridge({ redisUrl: redis.url, token });
    cleanups.push(() => upstash.close());
    const neonPort = await freePort();
    const databases = { [timescale.name]: timescale.backend, [apache.name]: apache.backend };
    const startNeon = () => startNeonBridge({ backend: pgBackend(database.url), databases, port: neonPort });
    let neon: NeonBridge | undefined = await startNeon();
    cleanups.push(async () => neon?.close());

    // The Hyperdrive path (the workerd-hyperdrive project): miniflare's local Hyperdrive proxy
    // connects to a counting relay in front of each tier's server (test/support/pg-relay.ts).
    const relays: Record<TierName, PgRelay> = {
      postgres: await startPgRelay(hostPort(database.url)),
      timescale: await startPgRelay(hostPort(timescale.url)),
      "timescale-apache": await startPgRelay(hostPort(apache.url)),
    };
    for (const relay of Object.values(relays)) cleanups.push(() => relay.close());
    // A PostgreSQL of its own that a test may kill outright (test/worker/hyperdrive-outage.test.ts),
    // with a password as a hosted one has; started on the first request for it.
    const crashable = { user: "crash_owner", password: `pw-${crypto.randomUUID()}`, port: await freePort() };
    let crashServer: PrivatePostgres | undefined;
    const crashRelay = await startPgRelay({ host: "127.0.0.1", port: crashable.port });
    cleanups.push(async () => {
      await crashRelay.close();
      await crashServer?.stop();
    });
    const relayStats = () => {
      const all = Object.values(relays).map((relay) => relay.stats());
      return { requests: all.reduce((n, s) => n + s.requests, 0), statements: all.reduce((n, s) => n + s.statements, 0) };
    };

    const control = await startControlServer({
      "POST /redis/stop": () => redis.stop(),
      "POST /redis/start": () => redis.start(),
      "POST /postgres/stop": async () => {
        await neon?.close();
        neon = undefined;
      },
      "POST /postgres/start": async () => {
        neon ??= await startNeon();
      },
      // The Hyperdrive path's outage: the relays cut the Worker off, while the tests' own
      // arranging and checking (through the Neon bridge) keeps working.
      "POST /postgres-tcp/stop": async () => {
        for (const relay of Object.values(relays)) relay.down();
      },
      "POST /postgres-tcp/start": async () => {
        for (const relay of Object.values(relays)) relay.up();
      },
      "POST /crashable/start": async () => {
        if (crashServer) return crashServer.restart();
        crashServer = await startPrivatePostgres(crashable);
        await migrate({ databaseUrl: crashServer.url, tier: "auto" });
      },
      "POST /crashable/kill": async () => crashServer?.kill(),
      "GET /stats": async () => ({
        redis: upstash.stats(),
        postgres: neon?.stats() ?? null,
        postgresTcp: relayStats(),
      }),
      "POST /stats/reset": async () => {
        upstash.resetStats();
        neon?.resetStats();
        for (const relay of Object.values(relays)) relay.resetStats();
      },
    });
    cleanups.push(() => new Promise<void>((resolve) => control.server.close(() => resolve())));

    // The Neon bridge ignores the host; user, password and database select and open the database.
    const neonUrl = (target: { url: string; name: string; source?: string }) =>
      target.source === "embedded" ? embeddedNeonUrl(target.url, target.name) : neonConnectionString(target.url);
    project.provide("stack", {
      upstashUrl: upstash.url,
      upstashToken: token,
      neonEndpoint: `http://127.0.0.1:${neonPort}/sql`,
      databaseUrl: neonConnectionString(database.url),
      databaseUrls: {
        postgres: neonConnectionString(database.url),
        timescale: neonUrl(timescale),
        "timescale-apache": neonUrl(apache),
      },
      hyperdriveUrls: {
        postgres: relayUrl(database.url, relays.postgres),
        timescale: relayUrl(timescale.url, relays.timescale),
        "timescale-apache": relayUrl(apache.url, relays["timescale-apache"]),
      },
      crashableUrl: `postgresql://${crashable.user}:${crashable.password}@127.0.0.1:${crashRelay.port}/postgres`,
      controlUrl: control.url,
      tier,
    });
    project.provide("chromiumPath", chromiumPath);
  } catch (error) {
    await cleanup();
    throw error;
  }
  return cleanup;
}

/** An embedded database's socket URL with the alias the Neon bridge serves it under. */
function embeddedNeonUrl(socketUrl: string, alias: string): string {
  const url = new URL(neonConnectionString(socketUrl));
  url.pathname = `/${alias}`;
  return url.toString();
}

/**
 * Miniflare's local Hyperdrive proxy pipes the Worker's socket to the database's without error
 * listeners, so a write to a socket the other side has just closed (the Worker ends its client
 * while the server still answers; a test cuts the database) is an uncaught EPIPE/ECONNRESET that
 * would end the test process. Production Hyperdrive is no such proxy: those two are ignored,
 * anything else still ends the process.
 */
function ignoreHyperdriveProxySocketErrors(error: Error & { code?: string }): void {
  if (error.code === "EPIPE" || error.code === "ECONNRESET") return;
  console.error(error);
  process.exit(1);
}

function hostPort(url: string): { host: string; port: number } {
  const parsed = new URL(url);
  return { host: parsed.hostname, port: Number(parsed.port || 5432) };
}

/**
 * `url` pointed at its relay: what a Hyperdrive's origin would be. Miniflare requires a password;
 * a trust-authenticated server never asks for it.
 */
function relayUrl(url: string, relay: PgRelay): string {
  const parsed = new URL(url);
  parsed.hostname = "127.0.0.1";
  parsed.port = String(relay.port);
  if (!parsed.password) parsed.password = "unused-with-trust";
  return parsed.toString();
}

/** Database names the Neon bridge routes to the embedded TimescaleDB instances. */
const EMBEDDED_TIMESCALE_DB = "embedded_timescale";
const EMBEDDED_APACHE_DB = "embedded_timescale_apache";

type Handler = () => Promise<unknown>;

async function startControlServer(routes: Record<string, Handler>): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    const handler = routes[`${req.method} ${req.url}`];
    if (!handler) {
      res.writeHead(404).end();
      return;
    }
    handler().then(
      (body) => {
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(body ?? { ok: true }));
      },
      (error: unknown) => {
        res.writeHead(500, { "content-type": "application/json" }).end(JSON.stringify({ error: String(error) }));
      },
    );
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${port}`, server };
}

type TierName = "postgres" | "timescale" | "timescale-apache";

/** What the workerd tests receive through `inject("stack")`. */
export interface TestStack {
  upstashUrl: string;
  upstashToken: string;
  neonEndpoint: string;
  /** The `postgres`-tier database (also in databaseUrls). */
  databaseUrl: string;
  /** One migrated database per storage tier, all behind the same Neon bridge endpoint. */
  databaseUrls: Record<TierName, string>;
  /** The same databases for Hyperdrive bindings: through the counting relays, no bridge. */
  hyperdriveUrls: Record<TierName, string>;
  /** A private PostgreSQL (password auth) tests may kill: `POST /crashable/start|kill`, through a relay. */
  crashableUrl: string;
  controlUrl: string;
  tier: string;
}

declare module "vitest" {
  export interface ProvidedContext {
    stack: TestStack;
    /** Chromium for the tracker's end-to-end tests (CHROMIUM_PATH, PATH, or installed). */
    chromiumPath: string;
  }
}
