/**
 * `npm run screenshots`: starts a local stack (the embedded TimescaleDB in memory, or DATABASE_URL),
 * seeds it (scripts/lib/dashboard-seed.ts), signs in to the dashboard in headless Chromium and
 * writes a PNG of every panel at 1280×800 and 390×844 into screenshots/ (git-ignored).
 *
 * Environment: DATABASE_URL (optional), CHROMIUM_PATH (default /usr/bin/chromium), OUT (default screenshots).
 */
import { mkdir } from "node:fs/promises";
import { resolve } from "node:path";
import { chromium } from "playwright-core";
import { seedDashboard } from "./lib/dashboard-seed";
import { ROOT, startDevStack } from "./lib/dev-stack";

const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const OUT = resolve(ROOT, process.env.OUT ?? "screenshots");
const WRITE_KEY = "screenshots-write-key";
const READ_TOKEN = "screenshots-read-token-0123456789";
export const PANELS = ["live", "overview", "drilldown", "breakdowns", "assets", "health", "install"] as const;
const VIEWPORTS = [
  { name: "desktop", width: 1280, height: 800 },
  { name: "mobile", width: 390, height: 844 },
] as const;

const log = (line: string) => console.log(`[screenshots] ${line}`);

const stack = await startDevStack({
  databaseUrl: process.env.DATABASE_URL || undefined,
  quiet: true,
  vars: { WRITE_KEYS: WRITE_KEY, READ_TOKEN, INGEST_MODE: "direct" },
});
const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"] });
try {
  log(`stack on ${stack.baseUrl} (tier ${stack.database.tier}); seeding…`);
  log(`${await seedDashboard(stack, WRITE_KEY)} events accepted; cron jobs run`);
  await mkdir(OUT, { recursive: true });
  for (const viewport of VIEWPORTS) {
    const context = await browser.newContext({ viewport: { width: viewport.width, height: viewport.height }, deviceScaleFactor: 1 });
    const page = await context.newPage();
    await page.goto(`${stack.baseUrl}/`);
    await page.screenshot({ path: resolve(OUT, `signin-${viewport.name}.png`) });
    await page.getByLabel("Read token").fill(READ_TOKEN);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForSelector("body[data-ready=true]", { timeout: 30_000 });
    await page.screenshot({ path: resolve(OUT, `page-${viewport.name}.png`) });
    for (const panel of PANELS) {
      const file = resolve(OUT, `${panel}-${viewport.name}.png`);
      await page.locator(`#${panel}`).screenshot({ path: file });
      log(`wrote ${file}`);
    }
    await context.close();
  }
} finally {
  await browser.close();
  await stack.stop();
}
