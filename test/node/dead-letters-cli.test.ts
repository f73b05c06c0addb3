/**
 * `npm run dead-letters` as an operator runs it: the real script in a child process, credentials
 * from the environment, against the test run's Upstash bridge (real redis-server) and Neon bridge
 * (real PostgreSQL 15), exactly as it would reach production Upstash and Neon.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Redis } from "@upstash/redis";
import pg from "pg";
import { afterAll, beforeEach, describe, expect, inject, it } from "vitest";
import { bufferPayload } from "../../src/storage/buffer";
import { redisKeys } from "../../src/storage/redis-keys";
import { eventRow } from "../support/event-row";
import type { EventRow } from "../../src/domain/event";
import { adminUrl } from "../support/postgres";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const PREFIX = "dead-letters-cli:";
const keys = redisKeys(PREFIX);
const stack = inject("stack");
const redis = new Redis({ url: stack.upstashUrl, token: stack.upstashToken, enableTelemetry: false });

/** The Worker's settings for the test stack, as the environment or a dev state carries them. */
const WORKER_ENV = {
  UPSTASH_REDIS_REST_URL: stack.upstashUrl,
  UPSTASH_REDIS_REST_TOKEN: stack.upstashToken,
  DATABASE_URL: stack.databaseUrl,
  NEON_FETCH_ENDPOINT: stack.neonEndpoint,
  REDIS_KEY_PREFIX: PREFIX,
};

function runWith(env: Record<string, string | undefined>, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      "node_modules/.bin/tsx",
      ["scripts/dead-letters.ts", ...args],
      { cwd: ROOT, env: { PATH: process.env.PATH, ...env } },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

const run = (...args: string[]) => runWith(WORKER_ENV, ...args);

function row(): EventRow {
  const at = new Date(Date.now() - 60_000).toISOString();
  return eventRow({ time: at, event_name: "signup", category: "account", user_id: "u1", session_id: "s1", client_time: at });
}

/** The test run's `postgres`-tier database over the PostgreSQL protocol (the bridge hides the real host). */
function directDatabaseUrl(): string {
  const url = new URL(adminUrl());
  url.pathname = new URL(stack.databaseUrl).pathname;
  return url.toString();
}

async function storedCount(eventId: string): Promise<number> {
  const client = new pg.Client(directDatabaseUrl());
  await client.connect();
  try {
    const { rows } = await client.query<{ n: number }>(`SELECT count(*)::int AS n FROM analytics_events_ts WHERE event_id = $1`, [eventId]);
    return rows[0]!.n;
  } finally {
    await client.end();
  }
}

async function deadLetterIds(): Promise<string[]> {
  return Object.keys((await redis.xrange(keys.deadLetter, "-", "+")) ?? {});
}

beforeEach(async () => {
  await redis.del(keys.deadLetter);
});
afterAll(async () => {
  await redis.del(keys.deadLetter);
});

describe("npm run dead-letters", () => {
  it("lists what is there and why; drops only the ids it is given; replays the rest into PostgreSQL once", async () => {
    const refused = row();
    const rowLetter = await redis.xadd(keys.deadLetter, "*", {
      id: "1764140400000-0",
      b: bufferPayload([refused]),
      error: "23514: new row violates check constraint \"no_signups\"",
      sqlstate: "23514",
    });
    const unreadable = await redis.xadd(keys.deadLetter, "*", { id: "1764140400001-0", b: "{not json", error: "unreadable entry: not JSON", sqlstate: "" });

    const list = await run("list");
    expect(list.code).toBe(0);
    expect(list.stdout).toContain(`2 dead letter(s) under ${PREFIX}buffer:dead`);
    expect(list.stdout).toContain(`${rowLetter}  from buffer entry 1764140400000-0`);
    expect(list.stdout).toContain('23514: new row violates check constraint "no_signups"');
    expect(list.stdout).toContain(`event ${refused.event_id}  "signup"/"account"`);
    expect(list.stdout).toContain("not a readable buffer entry");

    // No ids: refuses, drops nothing.
    const bare = await run("drop");
    expect(bare.code).toBe(2);
    expect(bare.stderr).toMatch(/name the dead letters to drop/);
    expect(await deadLetterIds()).toEqual([rowLetter, unreadable]);

    const drop = await run("drop", unreadable);
    expect(drop).toMatchObject({ code: 0, stdout: "dropped 1 dead letter(s)\n" });
    expect(await deadLetterIds()).toEqual([rowLetter]);

    const replay = await run("replay");
    expect(replay.code).toBe(0);
    expect(replay.stdout).toContain("replayed 1 dead letter(s): 1 row(s) stored");
    expect(await deadLetterIds()).toEqual([]);
    expect(await storedCount(refused.event_id)).toBe(1);

    expect((await run("list")).stdout).toContain("0 dead letter(s)");
  });

  it("with DB_DRIVER=hyperdrive, reaches PostgreSQL directly over TCP (any host), as the Worker's Hyperdrive path does", async () => {
    const refused = row();
    const letter = await redis.xadd(keys.deadLetter, "*", { id: "1764140400002-0", b: bufferPayload([refused]), error: "57014: canceling statement", sqlstate: "57014" });
    // No Neon endpoint: the TCP path must not need one.
    const tcp = { ...WORKER_ENV, NEON_FETCH_ENDPOINT: undefined, DATABASE_URL: directDatabaseUrl(), DB_DRIVER: "hyperdrive" };

    const replay = await runWith(tcp, "replay", letter);
    expect(replay.stderr).toBe("");
    expect(replay).toMatchObject({ code: 0, stdout: expect.stringContaining("replayed 1 dead letter(s): 1 row(s) stored") });
    expect(await storedCount(refused.event_id)).toBe(1);
    expect(await deadLetterIds()).toEqual([]);

    const wrong = await runWith({ ...tcp, DB_DRIVER: "tcp" }, "list");
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toMatch(/DB_DRIVER must be neon-http or hyperdrive, not "tcp"/);
  });

  it("without credentials in the environment, finds the stack of a running npm run dev in its state file, and only while it runs", async () => {
    const dir = mkdtempSync(join(tmpdir(), "eaw-dead-letters-"));
    try {
      const stateFile = join(dir, "dev.json");
      const state = (pid: number) => JSON.stringify({ pid, baseUrl: "http://127.0.0.1:1", neonUrl: "", databaseUrl: stack.databaseUrl, workerEnv: WORKER_ENV });
      await redis.xadd(keys.deadLetter, "*", { id: "1764140400001-0", b: "{not json", error: "unreadable entry: not JSON", sqlstate: "" });

      writeFileSync(stateFile, state(process.pid));
      const live = await runWith({ DEV_STATE_FILE: stateFile }, "list");
      expect(live.code).toBe(0);
      expect(live.stdout).toContain(`1 dead letter(s) under ${PREFIX}buffer:dead (via the running npm run dev)`);

      // A state left behind by a dev stack that is gone (no such process) is not used.
      writeFileSync(stateFile, state(2_000_000_000));
      const stale = await runWith({ DEV_STATE_FILE: stateFile }, "list");
      expect(stale.code).toBe(2);
      expect(stale.stderr).toMatch(/set UPSTASH_REDIS_REST_URL, UPSTASH_REDIS_REST_TOKEN, DATABASE_URL/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
