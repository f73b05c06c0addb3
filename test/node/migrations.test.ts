/**
 * The migration runner: order, checksums, the advisory lock, tier choice, and the refusals, on the
 * machine's PostgreSQL 15 and on the embedded TimescaleDB.
 */
import { cp, mkdtemp, readdir, readFile, rm, writeFile, appendFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { startEmbeddedTimescale } from "../../scripts/lib/embedded-postgres";
import { MIGRATIONS_DIR, loadMigrations, migrate, resolveTier } from "../../scripts/lib/migrator";
import { INSERT_EVENTS, insertEventsValues, READ_TIER } from "../../src/storage/sql";
import { DAY_MS } from "../../src/time";
import type { Tier } from "../../src/storage/tier";
import { eventRow } from "../support/event-row";
import { createTestDatabase, type TestDatabase } from "../support/postgres";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function freshDb(): Promise<TestDatabase> {
  const db = await createTestDatabase("eaw_migrate");
  cleanups.push(() => db.drop());
  return db;
}

async function copyMigrations(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "eaw-migrations-"));
  await cp(MIGRATIONS_DIR, dir, { recursive: true });
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function query<R extends pg.QueryResultRow>(url: string, text: string, values: unknown[] = []): Promise<R[]> {
  const c = new pg.Client(url);
  await c.connect();
  try {
    return (await c.query<R>(text, values)).rows;
  } finally {
    await c.end();
  }
}

const COMPRESSION_SETTINGS = "0021_compression_settings.timescale.sql";
const DIMENSION_RANKS = "0023_dimension_top_ranks.sql";

const filesFor = async (tier: Tier) =>
  (await loadMigrations()).filter((f) => f.tiers.includes(tier)).map((f) => f.file);

describe("migration files", () => {
  it("give every tier one file per version, 0000 to 0013, 0022 and 0023 (0009, 0020 and 0021 only for timescale)", async () => {
    const common = ["0000", "0001", "0002", "0003", "0004", "0005", "0006", "0007", "0008", "0010", "0011", "0012", "0013"];
    for (const tier of ["timescale-apache", "postgres"] as const) {
      expect((await filesFor(tier)).map((f) => f.slice(0, 4))).toEqual([...common, "0022", "0023"]);
    }
    expect((await filesFor("timescale")).map((f) => f.slice(0, 4))).toEqual([...common.slice(0, 9), "0009", ...common.slice(9), "0020", "0021", "0022", "0023"]);
  });
});

describe("migrate on PostgreSQL 15", () => {
  it("applies every file for tier postgres, records it, and re-running is a no-op", async () => {
    const db = await freshDb();
    const lines: string[] = [];
    const first = await migrate({ databaseUrl: db.url, log: (l) => lines.push(l) });
    expect(first).toEqual({ tier: "postgres", applied: await filesFor("postgres") });
    expect(lines).toContain("notice: analytics: TimescaleDB is not available on this server");
    expect(await query(db.url, READ_TIER)).toEqual([{ tier: "postgres" }]);
    const recorded = await query<{ file: string; checksum: string }>(db.url, `SELECT file, checksum FROM analytics_migrations ORDER BY version`);
    const files = (await loadMigrations()).filter((f) => f.tiers.includes("postgres"));
    expect(recorded).toEqual(files.map((f) => ({ file: f.file, checksum: f.checksum })));

    expect(await migrate({ databaseUrl: db.url })).toEqual({ tier: "postgres", applied: [] });
    expect(await migrate({ databaseUrl: db.url, tier: "postgres" })).toEqual({ tier: "postgres", applied: [] });
  });

  it("0023 ranks the dimension rollup's days stored before it, as its refresh ranks them", async () => {
    const db = await freshDb();
    const dir = await copyMigrations();
    await rm(join(dir, DIMENSION_RANKS));
    await migrate({ databaseUrl: db.url, migrationsDir: dir });
    // Two closed days: pages with 4, 3, 3, 1 events on the first day, 2 and 5 on the second.
    const day = Math.floor(Date.now() / DAY_MS) * DAY_MS - 3 * DAY_MS;
    const counts: Array<[number, string, number]> = [[0, "/a", 4], [0, "/c", 3], [0, "/b", 3], [0, "/d", 1], [1, "/a", 2], [1, "/b", 5]];
    const rows = counts.flatMap(([d, page_path, n]) =>
      Array.from({ length: n }, (_, i) => eventRow({ time: new Date(day + d * DAY_MS + i * 60_000).toISOString(), page_path, visitor_id: `v${i}` })),
    );
    await query(db.url, INSERT_EVENTS, insertEventsValues(rows));
    const dimensionDays = `CALL analytics_refresh_dimension_days($1::timestamptz, $2::timestamptz)`;
    const range = [new Date(day).toISOString(), new Date(day + 2 * DAY_MS).toISOString()];
    await query(db.url, dimensionDays, range);
    const ranks = () =>
      query<{ day: number; value: string; events: number; rank: number }>(
        db.url,
        `SELECT (((extract(epoch FROM bucket) * 1000)::bigint - $1::bigint) / $2::bigint)::int AS day, value, event_count::int AS events, rank
         FROM analytics_daily_dimensions WHERE dimension = 'page_path' AND event_name = '' ORDER BY bucket, rank`,
        [day, DAY_MS],
      );
    expect(await migrate({ databaseUrl: db.url })).toEqual({ tier: "postgres", applied: [DIMENSION_RANKS] });
    // Most events first, ties in byte order, per day.
    const want = [
      { day: 0, value: "/a", events: 4, rank: 1 },
      { day: 0, value: "/b", events: 3, rank: 2 },
      { day: 0, value: "/c", events: 3, rank: 3 },
      { day: 0, value: "/d", events: 1, rank: 4 },
      { day: 1, value: "/b", events: 5, rank: 1 },
      { day: 1, value: "/a", events: 2, rank: 2 },
    ];
    expect(await ranks()).toEqual(want);
    await query(db.url, dimensionDays, range);
    expect(await ranks()).toEqual(want);
  });

  it("serialises concurrent runners: one applies everything, the other nothing", async () => {
    const db = await freshDb();
    const waits: string[] = [];
    const results = await Promise.all(
      [0, 1, 2].map(() => migrate({ databaseUrl: db.url, log: (l) => l.startsWith("waiting") && waits.push(l) })),
    );
    const applied = results.map((r) => r.applied).sort((x, y) => y.length - x.length);
    expect(applied).toEqual([await filesFor("postgres"), [], []]);
    expect(waits.length).toBeGreaterThan(0);
    const count = await query<{ n: number }>(db.url, `SELECT count(*)::int AS n FROM analytics_migrations`);
    expect(count[0]!.n).toBe((await filesFor("postgres")).length);
  });

  it("refuses an applied file that changed, naming it, and applies nothing", async () => {
    const db = await freshDb();
    const dir = await copyMigrations();
    await migrate({ databaseUrl: db.url, migrationsDir: dir });
    await appendFile(join(dir, "0001_core.sql"), "\n-- edited after it was applied\n");
    await writeFile(join(dir, "9001_later.sql"), "CREATE TABLE analytics_later (id int);\n");
    await expect(migrate({ databaseUrl: db.url, migrationsDir: dir })).rejects.toThrow(
      /applied migration 0001_core\.sql has changed/,
    );
    expect(await query(db.url, `SELECT to_regclass('analytics_later') AS t`)).toEqual([{ t: null }]);
  });

  it("rolls back a failing file, names it with the line, and records nothing", async () => {
    const db = await freshDb();
    const dir = await copyMigrations();
    await writeFile(join(dir, "9001_broken.sql"), "CREATE TABLE analytics_half (id int);\n\nSELECT no_such_column FROM analytics_half;\n");
    await expect(migrate({ databaseUrl: db.url, migrationsDir: dir })).rejects.toThrow(
      /migration 9001_broken\.sql failed \(line 3\): column "no_such_column" does not exist/,
    );
    expect(await query(db.url, `SELECT to_regclass('analytics_half') AS t`)).toEqual([{ t: null }]);
    expect(await query(db.url, `SELECT count(*)::int AS n FROM analytics_migrations WHERE version = '9001'`)).toEqual([{ n: 0 }]);
    // The files before it were applied and stay applied.
    expect(await query(db.url, READ_TIER)).toEqual([{ tier: "postgres" }]);
  });

  it("runs a file marked no-transaction outside a transaction", async () => {
    const db = await freshDb();
    const dir = await copyMigrations();
    await writeFile(
      join(dir, "9001_concurrent_index.sql"),
      "-- migrate:no-transaction\nCREATE INDEX CONCURRENTLY IF NOT EXISTS analytics_checks_status_idx ON analytics_checks (status)\n",
    );
    const result = await migrate({ databaseUrl: db.url, migrationsDir: dir });
    expect(result.applied.at(-1)).toBe("9001_concurrent_index.sql");
    expect(await query(db.url, `SELECT to_regclass('analytics_checks_status_idx')::text AS i`)).toEqual([{ i: "analytics_checks_status_idx" }]);
  });

  it("refuses a TimescaleDB tier on a server without TimescaleDB", async () => {
    const db = await freshDb();
    await expect(migrate({ databaseUrl: db.url, tier: "timescale" })).rejects.toThrow(
      /ANALYTICS_DB_TIER=timescale, but this server offers only postgres/,
    );
  });

  it("refuses unknown file names", async () => {
    const dir = await copyMigrations();
    await writeFile(join(dir, "0007_x.mysql.sql"), "SELECT 1;\n");
    await expect(loadMigrations(dir)).rejects.toThrow(/0007_x\.mysql\.sql names unknown tier mysql/);
    expect((await readdir(dir)).length).toBeGreaterThan(0);
  });
});

/**
 * Migration 0000 on a server where TimescaleDB is installed but not preloaded (a stock package
 * install). This PostgreSQL 15 has no TimescaleDB files, and installing them into the shared
 * server is not a test's business, so the half-installed server is simulated: a view in `public`
 * shadows `pg_catalog.pg_available_extensions` (via search_path) and lists timescaledb as
 * available. Everything else is the real server, including its real, empty
 * shared_preload_libraries. Were `CREATE EXTENSION` attempted here it would fail with "could not
 * open extension control file" (a catchable ERROR, reported by a different notice); on a real
 * half-installed server it is the uncatchable FATAL "must be preloaded" that killed `npm run migrate`.
 */
describe("migration 0000 on a server where TimescaleDB is installed but not preloaded", () => {
  const STUB = `CREATE VIEW public.pg_available_extensions AS
    SELECT 'timescaledb'::name AS name, '2.28.3'::text AS default_version, NULL::text AS installed_version, 'stub'::text AS comment`;
  const halfInstalled = async () => {
    const db = await freshDb();
    await query(db.url, STUB);
    const url = new URL(db.url);
    url.searchParams.set("options", "-c search_path=public,pg_catalog");
    return url.toString();
  };

  it("checks preloading before CREATE EXTENSION: a notice says how to enable it, and the session survives", async () => {
    const url = await halfInstalled();
    const client = new pg.Client(url);
    const notices: string[] = [];
    client.on("notice", (n) => notices.push(n.message ?? ""));
    await client.connect();
    try {
      await client.query(await readFile(join(MIGRATIONS_DIR, "0000_timescaledb_extension.sql"), "utf8"));
      expect(notices).toEqual([expect.stringMatching(/TimescaleDB is installed but not preloaded.*shared_preload_libraries = 'timescaledb'.*restart PostgreSQL/)]);
      expect((await client.query(`SELECT 1 AS alive`)).rows).toEqual([{ alive: 1 }]);
      expect((await client.query(`SELECT count(*)::int AS n FROM pg_extension WHERE extname = 'timescaledb'`)).rows).toEqual([{ n: 0 }]);
    } finally {
      await client.end();
    }
  });

  it("npm run migrate completes with the postgres tier and passes the notice on", async () => {
    const url = await halfInstalled();
    const lines: string[] = [];
    const result = await migrate({ databaseUrl: url, log: (l) => lines.push(l) });
    expect(result).toEqual({ tier: "postgres", applied: await filesFor("postgres") });
    expect(lines).toContainEqual(expect.stringMatching(/^notice: analytics: TimescaleDB is installed but not preloaded/));
  });

  it("a database that recorded 0000 before the check is not refused: the edit is equivalent there", async () => {
    const db = await freshDb();
    await migrate({ databaseUrl: db.url });
    await query(db.url, `UPDATE analytics_migrations SET checksum = $1 WHERE version = '0000'`, [
      "8146333358540a975b6ec622132a77952a1c4b55e67a59a23ace39c1724bc64a",
    ]);
    expect(await migrate({ databaseUrl: db.url })).toEqual({ tier: "postgres", applied: [] });
    await query(db.url, `UPDATE analytics_migrations SET checksum = 'something-else' WHERE version = '0000'`);
    await expect(migrate({ databaseUrl: db.url })).rejects.toThrow(/applied migration 0000_timescaledb_extension\.sql has changed/);
  });

  it("a database that recorded 0001 and 0003 before their comment edit is not refused", async () => {
    const db = await freshDb();
    await migrate({ databaseUrl: db.url });
    await query(db.url, `UPDATE analytics_migrations SET checksum = $1 WHERE version = '0001'`, [
      "5155f2acad61c713521ce900989f29d2f05d4ffff5af89da4b4954f7de9a7abe",
    ]);
    await query(db.url, `UPDATE analytics_migrations SET checksum = $1 WHERE version = '0003'`, [
      "ca860f8e60e5b27a26f70462a5b7d0f35b603d569d940277ac350e97ee053c30",
    ]);
    expect(await migrate({ databaseUrl: db.url })).toEqual({ tier: "postgres", applied: [] });
  });

  it("a database that recorded a TimescaleDB tier's 0002, 0003 or 0004 before their comment edit is not refused", async () => {
    // The runner checks a recorded file against the file of that name whatever the tier, so a
    // postgres-tier database relabelled row by row stands in for a TimescaleDB one here.
    const db = await freshDb();
    await migrate({ databaseUrl: db.url });
    const earlier: Array<[version: string, file: string, checksum: string]> = [
      ["0002", "0002_raw_events.timescale+timescale-apache.sql", "cb4415833a77f3d198c536489b064d6e50b1dc77354d41e5adc96c31fb99e624"],
      ["0003", "0003_rollups.timescale.sql", "a85d682eb89d36335f3f04c6f00ffe8c8d856d63c3f2d7d72fa6d0bf84debf58"],
      ["0004", "0004_retention.timescale-apache.sql", "d53caafad059eafb5fe3ae319820b626412cdccf01f4ecf5accbefcf043698ee"],
      ["0004", "0004_retention.timescale.sql", "4dfb2a7b6f87cdaf0a2243cdb1535d3ca0898d6f95d968dbfcc620264068c379"],
    ];
    for (const [version, file, checksum] of earlier) {
      await query(db.url, `UPDATE analytics_migrations SET file = $2, checksum = $3 WHERE version = $1`, [version, file, checksum]);
      expect(await migrate({ databaseUrl: db.url })).toEqual({ tier: "postgres", applied: [] });
    }
    await query(db.url, `UPDATE analytics_migrations SET checksum = 'something-else' WHERE version = '0004'`);
    await expect(migrate({ databaseUrl: db.url })).rejects.toThrow(/applied migration 0004_retention\.timescale\.sql has changed/);
  });
});

describe("resolveTier", () => {
  const cases: [Parameters<typeof resolveTier>, Tier | RegExp][] = [
    [["auto", "timescale", null], "timescale"],
    [["auto", "timescale-apache", null], "timescale-apache"],
    [["auto", "postgres", null], "postgres"],
    [["timescale-apache", "timescale", null], "timescale-apache"],
    [["postgres", "timescale", null], "postgres"],
    [["timescale", "timescale-apache", null], /offers only timescale-apache/],
    [["auto", "timescale", "timescale-apache"], "timescale-apache"],
    [["timescale", "timescale", "timescale-apache"], /migrated for tier timescale-apache/],
    [["auto", "timescale-apache", "timescale"], /server now offers only timescale-apache/],
  ];
  for (const [args, want] of cases) {
    it(`${args.join(", ")} → ${want}`, () => {
      if (typeof want === "string") expect(resolveTier(...args)).toBe(want);
      else expect(() => resolveTier(...args)).toThrow(want);
    });
  }
});

describe("migrate on the embedded TimescaleDB", () => {
  const servers: { close(): Promise<void> }[] = [];
  afterAll(async () => {
    for (const s of servers) await s.close();
  });

  it("detects timescale, applies the timescale files, and re-running is a no-op", async () => {
    const ts = await startEmbeddedTimescale();
    servers.push(ts);
    expect(await migrate({ databaseUrl: ts.socketUrl })).toEqual({ tier: "timescale", applied: await filesFor("timescale") });
    expect(await migrate({ databaseUrl: ts.socketUrl })).toEqual({ tier: "timescale", applied: [] });
    expect((await ts.db.query(READ_TIER)).rows).toEqual([{ tier: "timescale" }]);
  }, 60_000);

  it("forced to timescale-apache, keeps that tier on later auto runs and refuses to switch", async () => {
    const ts = await startEmbeddedTimescale();
    servers.push(ts);
    expect(await migrate({ databaseUrl: ts.socketUrl, tier: "timescale-apache" })).toEqual({
      tier: "timescale-apache",
      applied: await filesFor("timescale-apache"),
    });
    expect(await migrate({ databaseUrl: ts.socketUrl })).toEqual({ tier: "timescale-apache", applied: [] });
    await expect(migrate({ databaseUrl: ts.socketUrl, tier: "timescale" })).rejects.toThrow(
      /migrated for tier timescale-apache; ANALYTICS_DB_TIER=timescale cannot change it/,
    );
    // The socket is free again after each run (the runner closes its one connection).
    expect((await ts.db.query(READ_TIER)).rows).toEqual([{ tier: "timescale-apache" }]);
  }, 60_000);

  it("0021 compresses later chunks with its settings; chunks compressed before keep theirs and stay readable", async () => {
    const ts = await startEmbeddedTimescale();
    servers.push(ts);
    const dir = await copyMigrations();
    await rm(join(dir, COMPRESSION_SETTINGS));
    await migrate({ databaseUrl: ts.socketUrl, migrationsDir: dir });
    const daysAgo = (days: number, name: string) =>
      Array.from({ length: 10 }, (_, i) => eventRow({ time: new Date(Date.now() - days * DAY_MS - i * 60_000).toISOString(), event_name: name }));
    const compressAll = `SELECT count(compress_chunk(format('%I.%I', chunk_schema, chunk_name)::regclass))::int AS n
      FROM timescaledb_information.chunks WHERE hypertable_name = 'analytics_events_ts' AND NOT is_compressed`;
    const settings = async () =>
      (await ts.db.query<{ chunk: string; segmentby: string | null; orderby: string }>(
        `SELECT chunk::text, segmentby, orderby FROM timescaledb_information.chunk_compression_settings
         WHERE hypertable = 'analytics_events_ts'::regclass ORDER BY chunk`,
      )).rows;
    const count = async (name: string) =>
      (await ts.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM analytics_events_ts WHERE event_name = $1`, [name])).rows[0]!.n;

    for (const rows of [daysAgo(3, "signup"), daysAgo(2, "page_view")]) await ts.db.query(INSERT_EVENTS, insertEventsValues(rows));
    expect((await ts.db.query(compressAll)).rows).toEqual([{ n: 2 }]);
    const before = await settings();
    expect(before.map((c) => c.segmentby)).toEqual(["category,event_name", "category,event_name"]);

    // The compressed chunks are left as they are: no decompression, however big the table.
    expect(await migrate({ databaseUrl: ts.socketUrl })).toEqual({ tier: "timescale", applied: [COMPRESSION_SETTINGS] });
    expect(await settings()).toEqual(before);
    expect([await count("signup"), await count("page_view")]).toEqual([10, 10]);

    await ts.db.query(INSERT_EVENTS, insertEventsValues(daysAgo(1, "click")));
    expect((await ts.db.query(compressAll)).rows).toEqual([{ n: 1 }]);
    const after = await settings();
    expect(after.slice(0, 2)).toEqual(before);
    // No segment columns (TimescaleDB 2.23 shows them as '', other versions may say null).
    expect([after[2]!.segmentby ?? "", after[2]!.orderby]).toEqual(["", '"time" DESC']);
    expect([await count("signup"), await count("page_view"), await count("click")]).toEqual([10, 10, 10]);
  }, 60_000);
});
