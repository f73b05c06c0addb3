import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { startDevStack } from "../../scripts/lib/dev-stack";
import { startEmbeddedTimescale, type EmbeddedTimescale } from "../../scripts/lib/embedded-postgres";
import { startPrivateRedis } from "../../scripts/lib/redis-server";
import { parseRedisUrl, RespConnection, type RespReply } from "../../scripts/lib/resp";
import { ensureProgram, onPath, PSQL } from "../../scripts/lib/system-deps";
import { adminUrl, createTestDatabase } from "../support/postgres";
import { migrateTimescale, openTimescale } from "../support/timescale";

/**
 * The local stack as a developer meets it: the embedded database through the real `psql` client,
 * the dev Redis across a restart, and the switches that point the tier tests at a real TimescaleDB.
 */

/** Runs the real psql (asynchronously: the embedded database answers from this very process). */
function psql(url: string, sql: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const binary = ensureProgram(PSQL);
  return new Promise((resolve) => {
    execFile(binary, [url, "-XAtc", sql], { encoding: "utf8", env: { ...process.env, PGCONNECT_TIMEOUT: "10" } }, (error, stdout, stderr) =>
      resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe("the embedded database through psql, as the README connects", () => {
  let embedded: EmbeddedTimescale;
  beforeAll(async () => {
    embedded = await startEmbeddedTimescale();
  });
  afterAll(async () => {
    await embedded?.close();
  });

  test("connects with the printed URL as is (psql's default sslmode=prefer) and reads TimescaleDB", async () => {
    expect(embedded.socketUrl).toBe(`postgresql://postgres:postgres@127.0.0.1:${embedded.socketPort}/postgres`);
    const result = await psql(embedded.socketUrl, "SELECT extname FROM pg_extension WHERE extname = 'timescaledb'");
    expect(result).toEqual({ code: 0, stdout: "timescaledb\n", stderr: "" });
  });

  test("refuses a wrong password, user or database with PostgreSQL's own errors", async () => {
    const url = (change: (u: URL) => void) => {
      const u = new URL(embedded.socketUrl);
      change(u);
      return u.toString();
    };
    const wrongPassword = await psql(url((u) => (u.password = "nope")), "SELECT 1");
    expect(wrongPassword.code).toBe(2);
    expect(wrongPassword.stderr).toContain('FATAL:  password authentication failed for user "postgres"');
    const wrongUser = await psql(url((u) => (u.username = "mallory")), "SELECT 1");
    expect(wrongUser.stderr).toContain('FATAL:  password authentication failed for user "mallory"');
    const wrongDatabase = await psql(url((u) => (u.pathname = "/analytics")), "SELECT 1");
    expect(wrongDatabase.stderr).toContain('FATAL:  database "analytics" does not exist');
    // Still serving the right login afterwards.
    expect((await psql(embedded.socketUrl, "SELECT 40 + 2")).stdout).toBe("42\n");
  });

  test("also with sslmode=require refused plainly (no TLS on the loopback socket)", async () => {
    const result = await psql(`${embedded.socketUrl}?sslmode=require`, "SELECT 1");
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("server does not support SSL, but SSL was required");
  });
});

type Plain = string | number | null | Plain[];
function plain(reply: RespReply | undefined): Plain {
  if (!reply) return null;
  switch (reply.type) {
    case "integer":
      return Number(reply.value);
    case "error":
      throw new Error(reply.message);
    case "array":
      return reply.value ? reply.value.map(plain) : null;
    default:
      return reply.value ? reply.value.toString("utf8") : null;
  }
}

/** A tiny client: one command, its reply as plain values. */
async function redisClient(url: string) {
  const connection = await RespConnection.open(parseRedisUrl(url));
  return {
    command: async (args: string[]) => plain((await connection.sendMany([args]))[0]),
    close: () => connection.close(),
  };
}

describe("programs from the OS (redis-server, Chromium, psql)", () => {
  test("are found on PATH", () => {
    expect(ensureProgram({ names: ["sh"], aptPackage: "dash", otherwise: "" })).toBe(onPath(["sh"]));
  });

  test("when missing and not installable here (no root, another OS), the error names the command to run", () => {
    const missing = { names: ["eaw-missing-program"], aptPackage: "eaw-missing-package", otherwise: "macOS: `brew install eaw`" };
    expect(() => ensureProgram(missing, () => {}, { install: false })).toThrow(
      "eaw-missing-program was not found on PATH and could not be installed automatically. Install it: " +
        "`sudo apt-get install -y eaw-missing-package` (Debian/Ubuntu), macOS: `brew install eaw`.",
    );
  });
});

describe("the dev Redis (npm run dev: append-only file)", () => {
  test("keeps every acknowledged write across a restart", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "eaw-redis-"));
    const redis = await startPrivateRedis({ dataDir });
    try {
      let client = await redisClient(redis.url);
      const entries = 500;
      for (let i = 0; i < entries; i++) await client.command(["XADD", "ea:buffer", "*", "batch", `b${i}`]);
      await client.command(["SET", "ea:last", "acknowledged"]);
      client.close();
      await redis.stop();
      await redis.start();
      client = await redisClient(redis.url);
      expect(await client.command(["XLEN", "ea:buffer"])).toBe(entries);
      expect(await client.command(["GET", "ea:last"])).toBe("acknowledged");
      expect(await client.command(["CONFIG", "GET", "appendfsync"])).toEqual(["appendfsync", "everysec"]);
      client.close();
    } finally {
      await redis.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  test("without a data directory (the tests' own Redis) a restart empties it", async () => {
    const redis = await startPrivateRedis();
    try {
      let client = await redisClient(redis.url);
      await client.command(["SET", "k", "v"]);
      client.close();
      await redis.stop();
      await redis.start();
      client = await redisClient(redis.url);
      expect(await client.command(["GET", "k"])).toBeNull();
      client.close();
    } finally {
      await redis.stop();
    }
  });
});

const readLog = (file: string) => (existsSync(file) ? readFileSync(file, "utf8") : "");
const countNetworkEvents = (file: string) =>
  readLog(file).match(/method: 'Network\.(requestWillBeSent|dataReceived|loadingFinished)'/g)?.length ?? 0;

describe("wrangler dev in the stack: DevTools inspector proxy only when asked", () => {
  // wrangler 4.86's proxy streams one network event per response chunk of every subrequest to the
  // CLI and keeps them all; under a big drain that wedged the dev server (dev-stack.ts says how).
  // Its debug log (WRANGLER_LOG_PATH) records each event it receives, so it counts them.
  const cases = [
    { devtools: false, events: "no network events" },
    { devtools: true, events: "network events" },
  ] as const;
  for (const t of cases) {
    test(`devtools ${t.devtools}: the Worker's subrequests send ${t.events} through wrangler`, { timeout: 120_000 }, async () => {
      const dir = mkdtempSync(join(tmpdir(), "eaw-wrangler-log-"));
      const logFile = join(dir, "wrangler.log");
      const db = await createTestDatabase();
      const before = process.env.WRANGLER_LOG_PATH;
      process.env.WRANGLER_LOG_PATH = logFile;
      try {
        const stack = await startDevStack({ databaseUrl: db.url, quiet: true, devtools: t.devtools, startTimeoutMs: 100_000 });
        try {
          // Each /health makes one Redis request and one PostgreSQL statement; the drain a few more.
          // The proxy attaches to the runtime a moment after wrangler is ready (later on a loaded
          // machine), so with it the requests go on until its events reach the log; without it
          // they go on for as long as the proxy takes on a quiet machine, and a while more.
          const started = Date.now();
          for (;;) {
            const response = await fetch(`${stack.baseUrl}/health`);
            await response.arrayBuffer();
            expect(response.status).toBe(200);
            const elapsed = Date.now() - started;
            if (t.devtools ? countNetworkEvents(logFile) > 0 || elapsed > 60_000 : elapsed > 5_000) break;
            await sleep(250);
          }
          await stack.fireCron("* * * * *");
        } finally {
          await stack.stop();
        }
        // The stack's wrangler wrote this log (the devtools case shows that it records the events).
        expect(readLog(logFile)).toContain("Starting local server");
        const networkEvents = countNetworkEvents(logFile);
        if (t.devtools) expect(networkEvents).toBeGreaterThan(0);
        else expect(networkEvents).toBe(0);
      } finally {
        if (before === undefined) delete process.env.WRANGLER_LOG_PATH;
        else process.env.WRANGLER_LOG_PATH = before;
        await db.drop();
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});

describe("TEST_TIMESCALE_URL / TEST_TIMESCALE_APACHE_URL", () => {
  // Pointed at the tests' plain PostgreSQL (no TimescaleDB): the tier tests must stop, naming the
  // variable, rather than pass on the wrong server.
  test.each([
    ["timescale", "TEST_TIMESCALE_URL", /the migrations detected tier postgres, not timescale/],
    ["timescale-apache", "TEST_TIMESCALE_APACHE_URL", /timescale/i],
  ] as const)("%s on a server without TimescaleDB is refused, naming %s", async (tier, variable, reason) => {
    const target = await openTimescale(tier, "unused", { [variable]: adminUrl() });
    try {
      expect(target.source).toMatch(new RegExp(`^${variable} \\(postgresql://`));
      expect(target.backend).toMatchObject({ kind: "pg", port: Number(new URL(adminUrl()).port || 5432) });
      const failure = await migrateTimescale(target).then(() => undefined, (error: Error) => error);
      expect(failure?.message).toMatch(new RegExp(`^${variable} \\(`));
      expect(failure?.message).toMatch(reason);
    } finally {
      await target.close();
    }
  });

  test("unset, the tiers run on the embedded TimescaleDB", async () => {
    const target = await openTimescale("timescale", "embedded_check", {});
    try {
      expect(target.source).toBe("embedded");
      await migrateTimescale(target);
    } finally {
      await target.close();
    }
  });
});
