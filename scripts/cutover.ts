/**
 * `npm run cutover -- install-compat | revert-compat`: Phase 4, the read side. Installs (or
 * removes) the compatible `get_popular_asset_types(...)` in the database at DATABASE_URL and says
 * what it replaced; see scripts/lib/cutover.ts.
 */
import { installCompat, revertCompat } from "./lib/cutover";

async function main(): Promise<number> {
  const command = process.argv[2];
  const databaseUrl = process.env.DATABASE_URL;
  if (!databaseUrl || (command !== "install-compat" && command !== "revert-compat")) {
    console.error("usage: DATABASE_URL=… npm run cutover -- install-compat | revert-compat");
    return 2;
  }
  try {
    const result = command === "install-compat" ? await installCompat(databaseUrl) : await revertCompat(databaseUrl);
    for (const action of result.actions) console.log(`cutover: ${action}`);
    return 0;
  } catch (error) {
    console.error(`cutover: ${command} failed, nothing changed: ${(error as Error).message}`);
    return 1;
  }
}

process.exitCode = await main();
