/**
 * `npm run import -- <command>`: brings history into the database at DATABASE_URL.
 *
 *   events <file|->      NDJSON, CSV or a JSON array of events, optionally gzipped; `-` = stdin
 *   legacy-redis         the legacy sorted set (LEGACY_REDIS_URL or LEGACY_UPSTASH_REDIS_REST_URL + _TOKEN)
 *   legacy-tables        the legacy hourly and daily tables (LEGACY_DATABASE_URL)
 *
 * See the README ("Importing history" and "Cutover guide").
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import { parseArgs } from "node:util";
import cliProgress from "cli-progress";
import { ImportInterrupted, loadEvents, type LoadSummary } from "./lib/import/event-loader";
import { importLegacyTables, legacyMap } from "./lib/import/legacy-tables";
import { DEFAULT_LEGACY_KEY, legacyRecords, legacyRedisFromEnv, type FieldMap } from "./lib/import/legacy-redis";
import { ByteCounter, readRecords, type InputFormat } from "./lib/import/records";

const USAGE = `usage:
  npm run import -- events <file|-> [--format ndjson|csv|json] [--rejects FILE] [--restart]
  npm run import -- legacy-redis [--key ${DEFAULT_LEGACY_KEY}] [--map FILE] [--page 1000] [--rejects FILE]
  npm run import -- legacy-tables [--map FILE] [--from ISO] [--to ISO]
environment: DATABASE_URL (target); LEGACY_DATABASE_URL, LEGACY_REDIS_URL or
  LEGACY_UPSTASH_REDIS_REST_URL + LEGACY_UPSTASH_REDIS_REST_TOKEN (sources)`;

class UsageError extends Error {}

async function fileSha256(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

async function readJson(path: string, what: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(path, "utf8"));
  } catch (error) {
    throw new UsageError(`${what} ${path}: ${(error as Error).message}`);
  }
}

function printSummary(what: string, s: LoadSummary): void {
  const rate = s.seconds > 0 ? Math.round(s.read / s.seconds) : s.read;
  const resumed = s.resumed_after > 0 ? `, resumed after ${s.resumed_after} already committed` : "";
  console.log(`import ${what}: read ${s.read} / stored ${s.stored} / duplicates ${s.duplicates} / rejected ${s.rejected}${resumed} in ${s.seconds.toFixed(1)} s (${rate} records/s)`);
  if (s.rejected > 0 && s.reject_file) console.log(`  rejected records, with their position and reason: ${s.reject_file}`);
}

/** A progress bar on stderr: bytes of a file, or records of a stream. */
function progressBar(total: number) {
  const bar = new cliProgress.SingleBar(
    { format: total > 0 ? "import |{bar}| {percentage}% | {records} records | stored {stored}" : "import {records} records | stored {stored}", stream: process.stderr, hideCursor: true },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0, { records: 0, stored: 0 });
  return bar;
}

async function events(positionals: string[], values: Record<string, string | boolean | undefined>, databaseUrl: string, signal: AbortSignal) {
  const path = positionals[0];
  if (!path) throw new UsageError("events: name a file, or - for standard input");
  const format = values.format as InputFormat | undefined;
  if (format && !["ndjson", "csv", "json"].includes(format)) throw new UsageError(`--format: ${format} is not ndjson, csv or json`);
  const stdin = path === "-";
  const size = stdin ? 0 : (await stat(path).catch(() => { throw new UsageError(`events: ${path} does not exist or cannot be read`); })).size;
  const counter = new ByteCounter();
  const bar = progressBar(size);
  let stored = 0;
  try {
    const summary = await loadEvents({
      databaseUrl,
      open: (skip) => readRecords(path, { format, counter, skip }),
      unit: format === "json" ? "element" : "line",
      source: stdin ? null : `file:${await fileSha256(path)}`,
      rejectFile: (values.rejects as string | undefined) ?? (stdin ? "import-rejects.ndjson" : `${path}.rejects.ndjson`),
      restart: values.restart === true,
      signal,
      onRead: (read) => bar.update(counter.bytes, { records: read, stored }),
      onChunk: (s) => {
        stored = s.stored;
        bar.update(counter.bytes, { records: s.read, stored });
      },
    });
    bar.update(size || counter.bytes, { records: summary.read, stored: summary.stored });
    bar.stop();
    printSummary(stdin ? "stdin" : path, summary);
  } catch (error) {
    bar.stop();
    throw error;
  }
}

async function legacyRedis(values: Record<string, string | boolean | undefined>, databaseUrl: string, signal: AbortSignal) {
  const target = legacyRedisFromEnv(process.env);
  const key = (values.key as string | undefined) ?? DEFAULT_LEGACY_KEY;
  const map = values.map ? ((await readJson(values.map as string, "--map")) as FieldMap) : {};
  const page = values.page ? Number(values.page) : undefined;
  const bar = progressBar(0);
  try {
    const summary = await loadEvents({
      databaseUrl,
      open: () => legacyRecords(target, key, map, page),
      unit: "member",
      source: null,
      rejectFile: (values.rejects as string | undefined) ?? "legacy-redis-rejects.ndjson",
      signal,
      onRead: (read) => bar.update(0, { records: read }),
      onChunk: (s) => bar.update(0, { records: s.read, stored: s.stored }),
    });
    bar.stop();
    printSummary(`legacy-redis ${key}`, summary);
  } catch (error) {
    bar.stop();
    throw error;
  }
}

async function legacyTables(values: Record<string, string | boolean | undefined>, databaseUrl: string) {
  const legacyUrl = process.env.LEGACY_DATABASE_URL;
  if (!legacyUrl) throw new UsageError("legacy-tables: set LEGACY_DATABASE_URL to the legacy database");
  const date = (name: string) => {
    const v = values[name] as string | undefined;
    if (v === undefined) return null;
    const d = new Date(v);
    if (Number.isNaN(d.getTime())) throw new UsageError(`--${name}: not a date: ${v}`);
    return d;
  };
  const map = legacyMap(values.map ? await readJson(values.map as string, "--map") : undefined);
  const s = await importLegacyTables({ legacyUrl, databaseUrl, map, from: date("from"), to: date("to") });
  console.log(`import legacy-tables: ${map.analytics_events.table}: read ${s.hourly.read} / stored ${s.hourly.stored} / skipped ${s.hourly.covered} (hours with raw events here)`);
  console.log(`import legacy-tables: ${map.analytics_asset_popularity.table}: read ${s.asset_popularity.read} / stored ${s.asset_popularity.stored} / skipped ${s.asset_popularity.covered} (days with raw events here)`);
}

async function main(): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      allowPositionals: true,
      options: {
        format: { type: "string" },
        rejects: { type: "string" },
        restart: { type: "boolean" },
        key: { type: "string" },
        map: { type: "string" },
        page: { type: "string" },
        from: { type: "string" },
        to: { type: "string" },
      },
    });
  } catch (error) {
    console.error(`import: ${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  const [command, ...rest] = parsed.positionals;
  const databaseUrl = process.env.DATABASE_URL;
  if (!databaseUrl) {
    console.error(`import: DATABASE_URL is not set (the database to import into)\n${USAGE}`);
    return 2;
  }
  const controller = new AbortController();
  process.once("SIGINT", () => controller.abort());
  process.once("SIGTERM", () => controller.abort());
  try {
    if (command === "events") await events(rest, parsed.values, databaseUrl, controller.signal);
    else if (command === "legacy-redis") await legacyRedis(parsed.values, databaseUrl, controller.signal);
    else if (command === "legacy-tables") await legacyTables(parsed.values, databaseUrl);
    else throw new UsageError(command ? `unknown command ${command}` : "name a command");
    return 0;
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`import: ${error.message}\n${USAGE}`);
      return 2;
    }
    if (error instanceof ImportInterrupted) {
      printSummary("(interrupted)", error.summary);
      console.error(`import: ${error.message}`);
      return 130;
    }
    // Messages name the line, column, table or key at fault; never a connection string.
    console.error(`import: failed: ${(error as Error).message}`);
    return 1;
  }
}

process.exitCode = await main();
