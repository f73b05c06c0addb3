import { createHash } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { PROBE_TIER, READ_TIER } from "../../src/storage/sql";
import { TIERS, tierFits, tierFromProbe, type Tier, type TierProbe, type TierRequest } from "../../src/storage/tier";

/** `migrations/` at the repository root. */
export const MIGRATIONS_DIR = fileURLToPath(new URL("../../migrations/", import.meta.url));

/**
 * Session advisory lock key held for the whole run, so two runners never interleave: the second
 * waits, then finds everything applied. A fixed bigint derived from the project name.
 */
const LOCK_SQL = `SELECT pg_advisory_lock(hashtextextended('edge-analytics-worker:migrations', 0))`;
const TRY_LOCK_SQL = `SELECT pg_try_advisory_lock(hashtextextended('edge-analytics-worker:migrations', 0)) AS locked`;

/** The runner's own bookkeeping; everything else is created by the files in `migrations/`. */
const BOOTSTRAP_SQL = `CREATE TABLE analytics_migrations (
  version    text PRIMARY KEY,
  file       text NOT NULL,
  checksum   text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
)`;

/**
 * First line of a file that cannot run in a transaction (e.g. `CREATE INDEX CONCURRENTLY`). Such a
 * file is sent alone, outside a transaction, so it must hold exactly one statement (a multi-statement
 * query runs in an implicit transaction) and be idempotent (`IF NOT EXISTS`): if the runner dies
 * between the statement and the record, the next run repeats it.
 */
const NO_TRANSACTION = "-- migrate:no-transaction";

/**
 * Earlier contents of a file that a database may have recorded and that count as the file itself.
 * Only for an edit that changes nothing on any database where the earlier file could be applied:
 * 0000 gained a preload check before `CREATE EXTENSION`, which matters only on a server where the
 * earlier file killed its own session before anything was recorded; 0001, 0002, 0003 and 0004 had
 * only a comment changed (they cited a design note or a migration plan that is not in the
 * repository; they cite docs/ARCHITECTURE.md now).
 */
const EQUIVALENT_EARLIER_CHECKSUMS: Readonly<Record<string, readonly string[]>> = {
  "0000_timescaledb_extension.sql": ["8146333358540a975b6ec622132a77952a1c4b55e67a59a23ace39c1724bc64a"],
  "0001_core.sql": ["5155f2acad61c713521ce900989f29d2f05d4ffff5af89da4b4954f7de9a7abe"],
  "0002_raw_events.timescale+timescale-apache.sql": [
    "d680a35ceda9f93d0e47c2892b71252e4c383508afa9f09640bceb8794492946",
    "cb4415833a77f3d198c536489b064d6e50b1dc77354d41e5adc96c31fb99e624",
  ],
  "0003_rollups.timescale-apache+postgres.sql": ["ca860f8e60e5b27a26f70462a5b7d0f35b603d569d940277ac350e97ee053c30"],
  "0003_rollups.timescale.sql": ["a85d682eb89d36335f3f04c6f00ffe8c8d856d63c3f2d7d72fa6d0bf84debf58"],
  "0004_retention.timescale-apache.sql": ["d53caafad059eafb5fe3ae319820b626412cdccf01f4ecf5accbefcf043698ee"],
  "0004_retention.timescale.sql": ["4dfb2a7b6f87cdaf0a2243cdb1535d3ca0898d6f95d968dbfcc620264068c379"],
};

/** Versions below this run before tier detection (they create what detection reads: the extension). */
const PRE_DETECTION_VERSION = "0001";

/** `NNNN_name.sql` for every tier, `NNNN_name.tier[+tier].sql` for some. */
const FILE_NAME = /^(\d{4})_([a-z0-9_]+)(?:\.([a-z+-]+))?\.sql$/;

export interface MigrationFile {
  version: string;
  file: string;
  /** The tiers the file applies to. */
  tiers: readonly Tier[];
  sql: string;
  checksum: string;
  transactional: boolean;
}

export interface MigrateOptions {
  databaseUrl: string;
  /** `auto` (default) detects; anything else forces that tier's migrations (must fit the server). */
  tier?: TierRequest;
  log?: (line: string) => void;
  /** @default the repository's `migrations/` */
  migrationsDir?: string;
}

export interface MigrateResult {
  tier: Tier;
  /** File names applied by this run, in order; empty when the database was up to date. */
  applied: string[];
}

/** Reads and validates `migrations/`: names, tier suffixes, one file per version and tier. */
export async function loadMigrations(dir = MIGRATIONS_DIR): Promise<MigrationFile[]> {
  const names = (await readdir(dir)).filter((n) => n.endsWith(".sql")).sort();
  const files: MigrationFile[] = [];
  for (const file of names) {
    const m = FILE_NAME.exec(file);
    if (!m) throw new Error(`migrations: ${file} does not match NNNN_name.sql or NNNN_name.<tier>[+<tier>].sql`);
    const [, version = "", , suffix] = m;
    const tiers = suffix ? suffix.split("+") : [...TIERS];
    for (const t of tiers) {
      if (!(TIERS as readonly string[]).includes(t)) throw new Error(`migrations: ${file} names unknown tier ${t}`);
    }
    const sql = await readFile(`${dir}/${file}`, "utf8");
    files.push({
      version,
      file,
      tiers: tiers as Tier[],
      sql,
      checksum: createHash("sha256").update(sql).digest("hex"),
      transactional: !sql.startsWith(NO_TRANSACTION),
    });
  }
  for (const t of TIERS) {
    const seen = new Map<string, string>();
    for (const f of files.filter((x) => x.tiers.includes(t))) {
      const other = seen.get(f.version);
      if (other) throw new Error(`migrations: ${other} and ${f.file} both apply to tier ${t} at version ${f.version}`);
      seen.set(f.version, f.file);
    }
  }
  return files;
}

type Queryable = Pick<pg.ClientBase, "query">;

/** The tier this server offers, from `pg_extension` and `timescaledb.license`. */
export async function detectTier(client: Queryable): Promise<Tier> {
  const { rows } = await client.query<TierProbe>(PROBE_TIER);
  return tierFromProbe(rows[0] ?? { timescaledb_version: null, license: null });
}

/** The tier recorded by an earlier run, or null on a fresh database. */
async function recordedTier(client: Queryable): Promise<Tier | null> {
  const { rows } = await client.query<{ exists: boolean }>(`SELECT to_regclass('analytics_meta') IS NOT NULL AS exists`);
  if (!rows[0]?.exists) return null;
  const tier = (await client.query<{ tier: Tier }>(READ_TIER)).rows[0]?.tier;
  return tier ?? null;
}

/** Chooses the tier, refusing combinations that would break the schema. Exported for tests. */
export function resolveTier(requested: TierRequest, offered: Tier, recorded: Tier | null): Tier {
  if (recorded) {
    if (requested !== "auto" && requested !== recorded) {
      throw new Error(
        `this database was migrated for tier ${recorded}; ANALYTICS_DB_TIER=${requested} cannot change it ` +
          `(the schema differs per tier). Unset ANALYTICS_DB_TIER or use a new database.`,
      );
    }
    if (!tierFits(recorded, offered)) {
      throw new Error(
        `this database was migrated for tier ${recorded}, but the server now offers only ${offered} ` +
          `(TimescaleDB missing or its license changed)`,
      );
    }
    return recorded;
  }
  if (requested === "auto") return offered;
  if (!tierFits(requested, offered)) {
    throw new Error(
      `ANALYTICS_DB_TIER=${requested}, but this server offers only ${offered}` +
        (offered === "postgres" ? " (the timescaledb extension is not installed and could not be created)" : " (TimescaleDB license is apache)"),
    );
  }
  return requested;
}

function lineOf(sql: string, position: string | undefined): string {
  const pos = Number(position);
  if (!Number.isFinite(pos) || pos <= 0) return "";
  return ` (line ${sql.slice(0, pos - 1).split("\n").length})`;
}

/**
 * Applies the migrations in `migrations/` that this database has not applied yet, on ONE
 * connection (the embedded TimescaleDB serves one at a time), under a session advisory lock.
 *
 * Order: files numbered 0000 (the extension) first; then the tier is resolved (ANALYTICS_DB_TIER,
 * else detected; an already-recorded tier wins and a conflicting request is refused); then every
 * later version, choosing the file for that tier (a version without one is skipped). Each file
 * runs in its own transaction together with its record in `analytics_migrations` (sha256 of the
 * file), except files starting with `-- migrate:no-transaction`. Before applying anything, every
 * recorded file must still exist unchanged: a changed or missing applied file is refused by name.
 *
 * @example await migrate({ databaseUrl: process.env.DATABASE_URL!, tier: "auto", log: console.log })
 */
export async function migrate(options: MigrateOptions): Promise<MigrateResult> {
  const log = options.log ?? (() => {});
  const requested = options.tier ?? "auto";
  const files = await loadMigrations(options.migrationsDir);
  const client = new pg.Client({ connectionString: options.databaseUrl, application_name: "analytics-migrate" });
  client.on("notice", (n) => log(`notice: ${n.message}`));
  await client.connect();
  const applied: string[] = [];
  try {
    const { rows: lockRows } = await client.query<{ locked: boolean }>(TRY_LOCK_SQL);
    if (!lockRows[0]?.locked) {
      log("waiting for another migration runner to finish");
      await client.query(LOCK_SQL);
    }
    // Under the lock, so a check-then-create cannot race another runner.
    if (!(await client.query(`SELECT to_regclass('analytics_migrations') IS NOT NULL AS e`)).rows[0]?.e) {
      await client.query(BOOTSTRAP_SQL);
    }

    const done = new Map<string, { file: string; checksum: string }>();
    for (const r of (await client.query<{ version: string; file: string; checksum: string }>(
      `SELECT version, file, checksum FROM analytics_migrations ORDER BY version`,
    )).rows) {
      done.set(r.version, r);
      const local = files.find((f) => f.file === r.file);
      if (!local) throw new Error(`applied migration ${r.file} is missing from migrations/ (refusing to continue)`);
      if (local.checksum !== r.checksum && !EQUIVALENT_EARLIER_CHECKSUMS[r.file]?.includes(r.checksum)) {
        throw new Error(
          `applied migration ${r.file} has changed since it was applied (checksum differs); ` +
            `add a new migration instead of editing an applied one`,
        );
      }
    }

    const apply = async (f: MigrationFile) => {
      log(`applying ${f.file}`);
      try {
        if (f.transactional) {
          await client.query("BEGIN");
          await client.query(f.sql);
          await client.query(`INSERT INTO analytics_migrations (version, file, checksum) VALUES ($1, $2, $3)`, [
            f.version,
            f.file,
            f.checksum,
          ]);
          await client.query("COMMIT");
        } else {
          await client.query(f.sql);
          await client.query(`INSERT INTO analytics_migrations (version, file, checksum) VALUES ($1, $2, $3)`, [
            f.version,
            f.file,
            f.checksum,
          ]);
        }
      } catch (err) {
        if (f.transactional) await client.query("ROLLBACK").catch(() => {});
        const e = err as pg.DatabaseError;
        throw new Error(`migration ${f.file} failed${lineOf(f.sql, e.position)}: ${e.message}`, { cause: err });
      }
      applied.push(f.file);
    };

    const pending = (tier: Tier | null, pre: boolean) =>
      files.filter(
        (f) =>
          (pre ? f.version < PRE_DETECTION_VERSION : f.version >= PRE_DETECTION_VERSION) &&
          (tier === null || f.tiers.includes(tier)) &&
          !done.has(f.version),
      );

    await client.query(`SELECT set_config('analytics.requested_tier', $1, false)`, [requested]);
    for (const f of pending(null, true)) await apply(f);

    const tier = resolveTier(requested, await detectTier(client), await recordedTier(client));
    await client.query(`SELECT set_config('analytics.tier', $1, false)`, [tier]);
    for (const f of pending(tier, false)) {
      const recorded = done.get(f.version);
      if (recorded && recorded.file !== f.file) {
        throw new Error(`version ${f.version} was applied as ${recorded.file}, but tier ${tier} uses ${f.file}`);
      }
      await apply(f);
    }
    log(applied.length ? `applied ${applied.length} migration(s) for tier ${tier}` : `up to date (tier ${tier})`);
    return { tier, applied };
  } finally {
    // Ending the session releases the advisory lock.
    await client.end().catch(() => {});
  }
}
