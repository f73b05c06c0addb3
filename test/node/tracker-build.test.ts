// The script-tag tracker's build: the size budget, and the committed bundle the Worker serves.
import { readFile } from "node:fs/promises";
import { beforeAll, expect, test } from "vitest";
import { buildTracker, GENERATED_PATH, gzipSize, type TrackerBuild } from "../../scripts/build-tracker";

/** The budget for /tracker.js, minified and gzipped. */
const BUDGET_GZIP_BYTES = 3072;

let built: TrackerBuild;
beforeAll(async () => {
  built = await buildTracker();
});

test(`the script-tag build is at most ${BUDGET_GZIP_BYTES} bytes minified and gzipped`, () => {
  const size = gzipSize(built.script);
  console.log(
    `tracker.js: raw ${Buffer.byteLength(built.raw)} B, minified ${Buffer.byteLength(built.script)} B, gzipped ${size} B (budget ${BUDGET_GZIP_BYTES} B)`,
  );
  expect(size).toBeLessThanOrEqual(BUDGET_GZIP_BYTES);
});

test("src/tracker/bundle.generated.ts matches the sources (else run: npx tsx scripts/build-tracker.ts)", async () => {
  expect(await readFile(GENERATED_PATH, "utf8")).toBe(built.generated);
});

test("the ESM build exports the public API", () => {
  for (const name of ["init", "track", "page", "identify", "flush", "optOut", "optIn", "stats", "createTracker"])
    expect(built.esm).toMatch(new RegExp(`\\b${name}\\b`));
  expect(built.esm).toMatch(/^export \{/m);
});
