import { createServer, type Server } from "node:http";
import type { TestProject } from "vitest/node";
import { startEmbeddedTimescale } from "../../scripts/lib/embedded-postgres";
import { migrate } from "../../scripts/lib/migrator";
import { startNeonBridge, type NeonBridge } from "../../scripts/lib/neon-bridge";
import { freePort } from "../../scripts/lib/ports";
import { startPrivateRedis } from "../../scripts/lib/redis-server";
import { startUpstashBridge, type UpstashBridge } from "../../scripts/lib/upstash-bridge";
import { createTestDatabase } from "./postgres";

/**
 * The real local stack every workerd test talks to: a private redis-server behind the Upstash
 * bridge, a fresh PostgreSQL 15 database (migrated, tier `postgres`) behind the Neon bridge, and a
 * small control server through which tests inside workerd stop and start those servers and read
 * the bridges' round-trip counters. Everything is created per run and removed afterwards.
 */
export default async function setup(project: TestProject) {
  const redis = await startPrivateRedis();
  const database = await createTestDatabase();
  const { tier } = await migrate({ databaseUrl: database.url, tier: "auto" });
  // The two TimescaleDB tiers on the embedded TimescaleDB (TSL): one as is, one forced to the
  // Apache-edition code path that Neon and Supabase get.
  const timescale = await startEmbeddedTimescale();
  await migrate({ databaseUrl: timescale.socketUrl, tier: "auto" });
  const apache = await startEmbeddedTimescale();
  await migrate({ databaseUrl: apache.socketUrl, tier: "timescale-apache" });
  const embedded = { [EMBEDDED_TIMESCALE_DB]: timescale.db, [EMBEDDED_APACHE_DB]: apache.db };

  const token = `test-${crypto.randomUUID()}`;
  const upstash = await startUpstashBridge({ redisUrl: redis.url, token });
  const neonPort = await freePort();
  const startNeon = () => startNeonBridge({ backend: { kind: "pg" }, embedded, port: neonPort });
  let neon: NeonBridge | undefined = await startNeon();

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
    "GET /stats": async () => ({ redis: upstash.stats(), postgres: neon?.stats() ?? null }),
    "POST /stats/reset": async () => {
      upstash.resetStats();
      neon?.resetStats();
    },
  });

  project.provide("stack", {
    upstashUrl: upstash.url,
    upstashToken: token,
    neonEndpoint: `http://127.0.0.1:${neonPort}/sql`,
    // The Neon bridge ignores the host; the database name selects the fresh test database.
    databaseUrl: `postgresql://postgres@db.localtest.me:5432/${database.name}`,
    databaseUrls: {
      postgres: `postgresql://postgres@db.localtest.me:5432/${database.name}`,
      timescale: `postgresql://postgres@db.localtest.me:5432/${EMBEDDED_TIMESCALE_DB}`,
      "timescale-apache": `postgresql://postgres@db.localtest.me:5432/${EMBEDDED_APACHE_DB}`,
    },
    controlUrl: control.url,
    tier,
  });

  return async () => {
    await new Promise<void>((resolve) => control.server.close(() => resolve()));
    await neon?.close();
    await upstash.close();
    await database.drop();
    await timescale.close();
    await apache.close();
    await redis.stop();
  };
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

/** What the workerd tests receive through `inject("stack")`. */
export interface TestStack {
  upstashUrl: string;
  upstashToken: string;
  neonEndpoint: string;
  /** The `postgres`-tier database (also in databaseUrls). */
  databaseUrl: string;
  /** One migrated database per storage tier, all behind the same Neon bridge endpoint. */
  databaseUrls: Record<"postgres" | "timescale" | "timescale-apache", string>;
  controlUrl: string;
  tier: string;
}

declare module "vitest" {
  export interface ProvidedContext {
    stack: TestStack;
  }
}
