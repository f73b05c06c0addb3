/**
 * `npm run compare -- --from ISO --to ISO [--legacy-tables] [--legacy-redis] [--tolerance %]
 * [--users-tolerance %] [--out DIR]`: Phase 3 — the legacy system against this one, per hour,
 * event name and category. Prints a table, writes CSV and JSON, exits 1 when a difference passes
 * the tolerance (scripts/lib/compare.ts documents the rule), 2 on usage errors.
 */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { compareSystems, reportCsv, reportTable } from "./lib/compare";
import { DEFAULT_LEGACY_KEY, legacyRedisFromEnv, type FieldMap } from "./lib/import/legacy-redis";
import { legacyMap } from "./lib/import/legacy-tables";
import { HOUR_MS } from "../src/time";

const USAGE = `usage: npm run compare -- --from ISO --to ISO [--legacy-tables] [--legacy-redis [--key ${DEFAULT_LEGACY_KEY}]]
       [--map FILE] [--redis-map FILE] [--tolerance 0] [--users-tolerance 0] [--out .]
environment: DATABASE_URL; LEGACY_DATABASE_URL (--legacy-tables); LEGACY_REDIS_URL or
  LEGACY_UPSTASH_REDIS_REST_URL + LEGACY_UPSTASH_REDIS_REST_TOKEN (--legacy-redis)`;

const stamp = (d: Date) => d.toISOString().slice(0, 13).replace(/[-:]/g, "");

async function main(): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        from: { type: "string" },
        to: { type: "string" },
        "legacy-tables": { type: "boolean" },
        "legacy-redis": { type: "boolean" },
        key: { type: "string" },
        map: { type: "string" },
        "redis-map": { type: "string" },
        tolerance: { type: "string" },
        "users-tolerance": { type: "string" },
        out: { type: "string" },
      },
    }));
  } catch (error) {
    console.error(`compare: ${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  const databaseUrl = process.env.DATABASE_URL;
  const now = Math.floor(Date.now() / HOUR_MS) * HOUR_MS;
  const from = new Date(values.from ?? now - 24 * HOUR_MS);
  const to = new Date(values.to ?? now);
  const tolerance = Number(values.tolerance ?? 0);
  const usersTolerance = Number(values["users-tolerance"] ?? 0);
  const problems = [
    !databaseUrl && "DATABASE_URL is not set",
    (Number.isNaN(from.getTime()) || Number.isNaN(to.getTime()) || from >= to) && "--from and --to must be dates with from < to",
    (!(tolerance >= 0) || !(usersTolerance >= 0)) && "--tolerance and --users-tolerance are percentages ≥ 0",
    !values["legacy-tables"] && !values["legacy-redis"] && "name a legacy source: --legacy-tables and/or --legacy-redis",
    values["legacy-tables"] && !process.env.LEGACY_DATABASE_URL && "--legacy-tables needs LEGACY_DATABASE_URL",
  ].filter(Boolean);
  if (problems.length > 0) {
    console.error(`compare: ${problems.join("; ")}\n${USAGE}`);
    return 2;
  }
  try {
    const report = await compareSystems({
      databaseUrl: databaseUrl!,
      from,
      to,
      tolerancePct: tolerance,
      usersTolerancePct: usersTolerance,
      legacyTables: values["legacy-tables"]
        ? { url: process.env.LEGACY_DATABASE_URL!, map: legacyMap(values.map ? JSON.parse(await readFile(values.map, "utf8")) : undefined) }
        : undefined,
      legacyRedis: values["legacy-redis"]
        ? {
            target: legacyRedisFromEnv(process.env),
            key: values.key ?? DEFAULT_LEGACY_KEY,
            fieldMap: values["redis-map"] ? (JSON.parse(await readFile(values["redis-map"], "utf8")) as FieldMap) : {},
          }
        : undefined,
    });
    const dir = values.out ?? ".";
    await mkdir(dir, { recursive: true });
    const base = join(dir, `compare-${stamp(from)}-${stamp(to)}`);
    await writeFile(`${base}.csv`, reportCsv(report));
    await writeFile(`${base}.json`, `${JSON.stringify(report, null, 2)}\n`);
    process.stdout.write(reportTable(report));
    console.log(`wrote ${base}.csv and ${base}.json`);
    return report.failing > 0 ? 1 : 0;
  } catch (error) {
    console.error(`compare: failed: ${(error as Error).message}`);
    return 2;
  }
}

process.exitCode = await main();
