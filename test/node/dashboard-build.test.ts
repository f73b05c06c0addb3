import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { DASHBOARD_BUDGET_GZIP_BYTES, DASHBOARD_GENERATED_PATH, buildDashboard, gzipSize } from "../../scripts/build-dashboard";

describe("dashboard build", () => {
  it("the committed src/dashboard/assets.generated.ts is what the sources build to (run npx tsx scripts/build-dashboard.ts)", async () => {
    const out = await buildDashboard();
    const committed = await readFile(DASHBOARD_GENERATED_PATH, "utf8");
    // Compared whole, reported briefly (the file is ~85 kB of minified code).
    expect(committed === out.generated, "src/dashboard/assets.generated.ts is stale: run `npx tsx scripts/build-dashboard.ts`").toBe(true);
  });

  it("the page's JavaScript and CSS stay within 100 KB gzipped, and load nothing from elsewhere", async () => {
    const out = await buildDashboard();
    const total = gzipSize(out.js) + gzipSize(out.css);
    console.log(`[dashboard] js ${gzipSize(out.js)} B + css ${gzipSize(out.css)} B gzipped = ${total} B (budget ${DASHBOARD_BUDGET_GZIP_BYTES} B)`);
    expect(total).toBeLessThanOrEqual(DASHBOARD_BUDGET_GZIP_BYTES);
    expect(out.css).not.toMatch(/url\(\s*["']?https?:/);
    expect(out.js).not.toMatch(/(?:fetch|src\s*=|href\s*=)\s*\(?\s*["'`]https?:/);
  });
});
