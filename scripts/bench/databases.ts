/**
 * Throwaway PostgreSQL databases for the benchmarks (prefix `eaw_bench_`, dropped after the run,
 * even on Ctrl-C), a private PostgreSQL cluster that the fault run can stop and start, and the
 * embedded TimescaleDB for the `timescale` tier figures.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { READ_TIER } from "../../src/storage/sql";
import { migrate } from "../lib/migrator";
import { freePort, waitFor } from "../lib/ports";
import { log, onCleanup } from "./util";

/** The machine's PostgreSQL (trust auth), as in the tests. */
export const ADMIN_URL = process.env.BENCH_PG_ADMIN_URL ?? process.env.TEST_PG_ADMIN_URL ?? "postgresql://postgres@127.0.0.1:5432/postgres";

export interface BenchDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

function withDatabase(adminUrl: string, name: string): string {
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/** Creates `eaw_bench_<label>_<unique>` on the server of `adminUrl`; dropped by the run's cleanup. */
export async function createBenchDatabase(label: string, adminUrl = ADMIN_URL): Promise<BenchDatabase> {
  const name = `eaw_bench_${label}_${process.pid}_${Date.now().toString(36)}`.toLowerCase().replace(/[^a-z0-9_]/g, "_");
  const admin = new pg.Client(adminUrl);
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end();
  }
  const drop = onCleanup(`drop database ${name}`, async () => {
    const client = new pg.Client(adminUrl);
    await client.connect();
    try {
      await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    } finally {
      await client.end();
    }
  });
  return { name, url: withDatabase(adminUrl, name), drop };
}

/** A bench database with the project's migrations applied for `tier` (default: the postgres tier). */
export async function createMigratedDatabase(label: string, adminUrl = ADMIN_URL): Promise<BenchDatabase & { tier: string }> {
  const db = await createBenchDatabase(label, adminUrl);
  const { tier } = await migrate({ databaseUrl: db.url, tier: "auto" });
  return { ...db, tier };
}

/**
 * `postgres` tier: creates the daily partitions for [now - daysBack, now + 7 days] (the migrations
 * keep only 8 days behind; backfilled benchmark data needs more). The TimescaleDB tiers create
 * their chunks on insert and have no such function: nothing to do there, so the benchmark runs
 * unchanged on whatever server BENCH_PG_ADMIN_URL points at.
 */
export async function ensurePartitionsBack(client: pg.Client | pg.Pool, daysBack: number): Promise<void> {
  const { rows } = await client.query<{ tier: string }>(READ_TIER);
  if (rows[0]?.tier !== "postgres") return;
  await client.query(`UPDATE analytics_settings SET value = $1::interval WHERE name = 'partitions_behind'`, [`${daysBack + 1} days`]);
  await client.query(`SELECT analytics_ensure_partitions(now())`);
}

/** A private PostgreSQL cluster (initdb in a temp dir) that can be stopped and started. */
export interface PrivateCluster {
  adminUrl: string;
  port: number;
  stop(): Promise<void>;
  start(): Promise<void>;
}

const PG_BIN = process.env.BENCH_PG_BIN ?? "/usr/lib/postgresql/15/bin";

/**
 * initdb + pg_ctl as the `postgres` OS user when running as root (initdb refuses root), with
 * fsync on (like a real server) and a socket directory inside the temp dir.
 */
export async function startPrivateCluster(): Promise<PrivateCluster> {
  const dir = mkdtempSync(join(tmpdir(), "eaw_bench_pg_"));
  chmodSync(dir, 0o777);
  const asRoot = process.getuid?.() === 0;
  const run = (bin: string, args: string[]) => {
    const cmd = asRoot ? ["runuser", ["-u", "postgres", "--", join(PG_BIN, bin), ...args]] : [join(PG_BIN, bin), args];
    execFileSync(cmd[0] as string, cmd[1] as string[], { stdio: "ignore", timeout: 60_000 });
  };
  const data = join(dir, "data");
  run("initdb", ["-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"]);
  const port = await freePort();
  const opts = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c max_connections=60 -c shared_buffers=128MB`;
  const start = async () => {
    run("pg_ctl", ["-D", data, "-o", opts, "-l", join(dir, "log"), "-w", "-t", "30", "start"]);
    await waitFor("private PostgreSQL", async () => spawnSync(join(PG_BIN, "pg_isready"), ["-h", "127.0.0.1", "-p", String(port)]).status === 0, {
      timeoutMs: 30_000,
    });
  };
  const stop = async () => {
    try {
      run("pg_ctl", ["-D", data, "-m", "immediate", "-w", "-t", "30", "stop"]);
    } catch {
      /* already stopped */
    }
  };
  await start();
  onCleanup("private PostgreSQL cluster", async () => {
    await stop();
    rmSync(dir, { recursive: true, force: true });
  });
  log(`private PostgreSQL cluster on port ${port}`);
  return { adminUrl: `postgresql://postgres@127.0.0.1:${port}/postgres`, port, stop, start };
}
