/**
 * `npm run dead-letters -- list | replay | drop`: the operator's view of rows PostgreSQL refused
 * (and buffer entries that could not be read), through the same Upstash and Neon clients the
 * Worker uses.
 *
 *   npm run dead-letters -- list [--limit N] [--json]   what is there and why
 *   npm run dead-letters -- replay [ID ...]             store them (all, or the given ones) once the cause is fixed
 *   npm run dead-letters -- drop ID ... | --all         give up exactly these (or every one listed now)
 *
 * Credentials come from the environment, as the Worker gets them: UPSTASH_REDIS_REST_URL,
 * UPSTASH_REDIS_REST_TOKEN, DATABASE_URL, optional NEON_FETCH_ENDPOINT and REDIS_KEY_PREFIX
 * (default `ea:`), and DB_DRIVER, the Worker's path to PostgreSQL: `neon-http` (the default; the
 * driver derives its HTTP endpoint from the host) or `hyperdrive`, where DATABASE_URL is the
 * connection string Hyperdrive was given and the script connects to it directly over TCP (any
 * PostgreSQL host). Without them, the local stack of a running `npm run dev` is used (it writes
 * them to `.dev-stack/dev.json`).
 */
import { DB_DRIVERS } from "../src/config";
import { HyperdriveSql, neonHttpSql, type Sql } from "../src/storage/clients";
import { Redis } from "@upstash/redis/cloudflare";
import { DeadLetters, type DeadLetterView } from "../src/storage/dead-letters";
import { PostgresStore } from "../src/storage/postgres-store";
import { readDevState } from "./lib/dev-state";

const NAMES = ["UPSTASH_REDIS_REST_URL", "UPSTASH_REDIS_REST_TOKEN", "DATABASE_URL", "NEON_FETCH_ENDPOINT", "REDIS_KEY_PREFIX", "DB_DRIVER"] as const;
type Settings = Partial<Record<(typeof NAMES)[number], string>>;

const USAGE = `usage: npm run dead-letters -- list [--limit N] [--json]
       npm run dead-letters -- replay [ID ...]
       npm run dead-letters -- drop ID ... | --all`;

function settings(env: NodeJS.ProcessEnv): { values: Settings; source: string } {
  const fromEnv: Settings = {};
  for (const name of NAMES) if (env[name]) fromEnv[name] = env[name];
  const dev = fromEnv.UPSTASH_REDIS_REST_URL || fromEnv.DATABASE_URL ? undefined : readDevState();
  if (!dev) return { values: fromEnv, source: "environment" };
  return { values: dev.workerEnv as Settings, source: "the running npm run dev" };
}

function describe(letter: DeadLetterView): string {
  const rows =
    letter.rows === null
      ? "  (not a readable buffer entry: only `drop` removes it)"
      : letter.rows.map((r) => `  event ${r.event_id}  ${JSON.stringify(r.event_name)}/${JSON.stringify(r.category)}  at ${r.time}`).join("\n");
  return `${letter.id}  from buffer entry ${letter.entry}\n  ${letter.error}\n${rows}`;
}

/** PostgreSQL as the Worker reaches it: Neon's HTTP driver, or node-postgres straight to the database. */
function sqlClient(values: Settings): Sql | string {
  const driver = values.DB_DRIVER ?? "neon-http";
  if (!(DB_DRIVERS as readonly string[]).includes(driver)) return `dead-letters: DB_DRIVER must be ${DB_DRIVERS.join(" or ")}, not ${JSON.stringify(driver)}`;
  return driver === "hyperdrive" ? new HyperdriveSql(values.DATABASE_URL!) : neonHttpSql(values.DATABASE_URL!, values.NEON_FETCH_ENDPOINT);
}

/** Runs one command; returns the exit code. */
async function main(argv: readonly string[], env: NodeJS.ProcessEnv = process.env, out = console.log): Promise<number> {
  const [command, ...rest] = argv;
  if (command !== "list" && command !== "replay" && command !== "drop") {
    console.error(USAGE);
    return 2;
  }
  const { values, source } = settings(env);
  const missing = ["UPSTASH_REDIS_REST_URL", "UPSTASH_REDIS_REST_TOKEN", "DATABASE_URL"].filter((n) => !values[n as keyof Settings]);
  if (missing.length > 0) {
    console.error(`dead-letters: set ${missing.join(", ")} (or run it while \`npm run dev\` runs)`);
    return 2;
  }
  const sql = sqlClient(values);
  if (typeof sql === "string") {
    console.error(sql);
    return 2;
  }
  const redis = new Redis({ url: values.UPSTASH_REDIS_REST_URL!, token: values.UPSTASH_REDIS_REST_TOKEN!, enableTelemetry: false });
  const prefix = values.REDIS_KEY_PREFIX ?? "ea:";
  const admin = new DeadLetters(redis, prefix, new PostgresStore(sql));

  if (command === "list") {
    const limitAt = rest.indexOf("--limit");
    const limit = limitAt >= 0 ? Number(rest[limitAt + 1]) : 50;
    if (!Number.isInteger(limit) || limit < 1) {
      console.error(USAGE);
      return 2;
    }
    const { total, letters } = await admin.list(limit);
    if (rest.includes("--json")) {
      out(JSON.stringify({ total, letters }, null, 2));
      return 0;
    }
    out(`${total} dead letter(s) under ${prefix}buffer:dead (via ${source})${total > letters.length ? `; the oldest ${letters.length}:` : ""}`);
    for (const letter of letters) out(describe(letter));
    return 0;
  }

  if (command === "replay") {
    const result = await admin.replay(rest.length > 0 ? rest : undefined);
    out(`replayed ${result.replayed.length} dead letter(s): ${result.inserted} row(s) stored, the rest were already stored`);
    for (const r of result.refused) out(`still refused, kept: ${r.id}  ${r.error}`);
    for (const id of result.unreadable) out(`not a readable buffer entry, kept (drop it to give it up): ${id}`);
    for (const id of result.missing) out(`no such dead letter: ${id}`);
    return result.refused.length > 0 || result.missing.length > 0 ? 1 : 0;
  }

  if (rest.length === 0) {
    console.error(`dead-letters drop: name the dead letters to drop (ids from \`list\`), or --all\n${USAGE}`);
    return 2;
  }
  const result = await admin.drop(rest.includes("--all") ? "all" : rest);
  out(`dropped ${result.dropped.length} dead letter(s)`);
  for (const id of result.missing) out(`no such dead letter: ${id}`);
  return result.missing.length > 0 ? 1 : 0;
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (error) {
  // An outage or a refused connection: nothing was removed that was not stored.
  console.error(`dead-letters: failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
}
