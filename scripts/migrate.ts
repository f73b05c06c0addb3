/**
 * `npm run migrate`: applies `migrations/` to DATABASE_URL. ANALYTICS_DB_TIER (auto | timescale |
 * timescale-apache | postgres) forces a tier; see scripts/lib/migrator.ts.
 */
import { migrate } from "./lib/migrator";
import { parseTierRequest } from "../src/storage/tier";

async function main(): Promise<number> {
  const databaseUrl = process.env.DATABASE_URL;
  if (!databaseUrl) {
    console.error(
      "migrate: DATABASE_URL is not set. Point it at the database to migrate, e.g.\n" +
        "  DATABASE_URL=postgresql://postgres@127.0.0.1:5432/analytics npm run migrate\n" +
        "(`npm run dev` prints the URL of its embedded TimescaleDB.)",
    );
    return 2;
  }
  try {
    const tier = parseTierRequest(process.env.ANALYTICS_DB_TIER);
    const result = await migrate({ databaseUrl, tier, log: (line) => console.log(`migrate: ${line}`) });
    for (const file of result.applied) console.log(`  ${file}`);
    return 0;
  } catch (err) {
    // The message names the file or the setting at fault; never the connection string.
    console.error(`migrate: failed: ${(err as Error).message}`);
    return 1;
  }
}

process.exitCode = await main();
