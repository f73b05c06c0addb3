/**
 * Part 8 — file import: N realistic events (200,000 at full size) written as NDJSON, loaded by
 * `npm run import -- events` (its engine, in this process: read, validate as ingest does, claim ids,
 * COPY, mark dirty buckets) into a migrated `postgres`-tier database; then the same stored rows
 * COPYed (psql `\copy`, no validation, no dedupe) into the same emptied table. Target: the import
 * reaches at least 50 % of COPY's events/s.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { loadEvents } from "../lib/import/event-loader";
import { readRecords } from "../lib/import/records";
import { IMPORT_COLUMNS } from "../../src/storage/sql-import";
import { createMigratedDatabase } from "./databases";
import { realisticRows } from "./e2e";
import type { PartResult, Size } from "./report";
import { log, round } from "./util";
import { HOUR_MS } from "../../src/time";

function psqlCopy(url: string, direction: "to" | "from", file: string): number {
  const target = direction === "to" ? `(SELECT ${IMPORT_COLUMNS.join(", ")} FROM analytics_events_ts)` : `analytics_events_ts (${IMPORT_COLUMNS.join(", ")})`;
  const started = Date.now();
  const result = spawnSync("psql", [url, "-v", "ON_ERROR_STOP=1", "-q", "-c", `\\copy ${target} ${direction} '${file}'`], { encoding: "utf8" });
  if (result.status !== 0) throw new Error(`psql \\copy ${direction}: ${result.stderr}`);
  return (Date.now() - started) / 1000;
}

export async function runImport(size: Size): Promise<Omit<PartResult, "seconds">> {
  const events = size === "full" ? 200_000 : 20_000;
  const db = await createMigratedDatabase("import");
  const dir = mkdtempSync(join(tmpdir(), "eaw-bench-import-"));
  try {
    log(`import: generating ${events.toLocaleString("en-US")} realistic events over the last 6 days…`);
    const rows = await realisticRows(events, 31);
    const end = Math.floor(Date.now() / HOUR_MS) * HOUR_MS;
    const file = join(dir, "events.ndjson");
    writeFileSync(
      file,
      rows
        .map((r, i) =>
          JSON.stringify({
            event_id: r.event_id,
            event_name: r.event_name,
            category: r.category,
            timestamp: new Date(end - 1 - ((i * 7_919) % (6 * 24 * HOUR_MS))).toISOString(),
            user_id: r.user_id,
            session_id: r.session_id,
            properties: r.properties,
            device_info: r.device_info,
            page_url: r.page_url,
            referrer: r.referrer,
          }),
        )
        .join("\n") + "\n",
    );
    const summary = await loadEvents({ databaseUrl: db.url, open: (skip) => readRecords(file, { skip }), unit: "line", source: null, rejectFile: null });
    if (summary.stored !== events) throw new Error(`import stored ${summary.stored} of ${events}`);
    const importEps = events / summary.seconds;
    log(`import: ${events} events in ${round(summary.seconds)} s = ${round(importEps, 0)} events/s`);

    const copyFile = join(dir, "events.copy");
    psqlCopy(db.url, "to", copyFile);
    const client = new pg.Client(db.url);
    await client.connect();
    await client.query("TRUNCATE analytics_events_ts, analytics_event_ids, analytics_dirty_buckets");
    await client.query("CHECKPOINT");
    const copySeconds = psqlCopy(db.url, "from", copyFile);
    const copied = Number((await client.query("SELECT count(*) AS n FROM analytics_events_ts")).rows[0].n);
    await client.end();
    const copyEps = events / copySeconds;
    log(`import: COPY of the same ${copied} rows in ${round(copySeconds)} s = ${round(copyEps, 0)} events/s`);
    const ratio = importEps / copyEps;
    return {
      part: "import",
      title: "File import",
      status: "ok",
      method: `${events.toLocaleString("en-US")} realistic events (ids from the client, spread over 6 days) as NDJSON, imported by the engine of \`npm run import -- events\` in chunks of 20,000 (parse, ingest validation, dedupe-id claim, COPY into the raw table, dirty buckets; postgres tier, PostgreSQL 15); against psql \`\\copy\` of the same stored rows into the same emptied table.`,
      figures: [
        {
          name: "npm run import -- events (NDJSON file → PostgreSQL)",
          value: round(importEps, 0),
          unit: "events/s",
          target: "≥ 50 % of COPY",
          ratio,
          met: ratio >= 0.5,
          detail: `${round(summary.seconds)} s; stored ${summary.stored} exactly once`,
        },
        { name: "COPY FROM STDIN, same rows, same table", value: round(copyEps, 0), unit: "events/s", detail: `${round(copySeconds)} s; ${copied} rows` },
      ],
      raw: { events, importSeconds: summary.seconds, copySeconds },
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await db.drop();
  }
}
