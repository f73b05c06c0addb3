/**
 * `npm run bench [-- --size smoke|full] [--cpu] [--roundtrips] [--e2e] [--drain] [--queries]
 * [--storage] [--faults] [--flood] [--import] [--paths]`: the benchmark suite (no part flags = every part). Benchmarks are not
 * tests: nothing here fails on a time. A part whose dependency is missing reports
 * "skipped: <why>"; a part that breaks reports "error: <why>" and the run goes on (exit code 1
 * only when a part errored, so CI's smoke run proves the suite still works).
 *
 * Results: one JSON line per part appended to bench/results/<YYYY-MM-DD>.jsonl, and a Markdown
 * table (each figure beside its target and ceiling ratio) printed and written to
 * bench/results/latest.md. Method: the README's Benchmarks section.
 */
import { loadavg } from "node:os";
import { parseArgs } from "node:util";
import { ADMIN_URL } from "./databases";
import { appendResults, collectContext, loadBaseline, markdown, writeLatest, type PartResult, type Size } from "./report";
import { startBenchStack, type BenchStack } from "./stack";
import { log, runCleanups } from "./util";

const PARTS = ["cpu", "roundtrips", "e2e", "drain", "queries", "storage", "faults", "flood", "import", "paths"] as const;
type Part = (typeof PARTS)[number];

const USAGE = `usage: npm run bench -- [--size smoke|full] [--before <run date>] [${PARTS.map((p) => `--${p}`).join("] [")}]
  --size smoke   a few seconds per point, small data sets (CI)
  --size full    the sizes of the issue (10M events for queries, 1M for drain); < 30 min on 2 vCPU
  --before DATE  add a "Before" column: the figures of the run recorded with that date in
                 bench/results/*.jsonl (e.g. 2026-11-26T09:04:30.198Z), matched by part and name
  no part flag   every part`;

/** Lazily started dev stacks, shared by the round-trip and end-to-end parts. */
class StackPool {
  private readonly stacks = new Map<string, Promise<BenchStack>>();
  get(mode: "direct" | "buffered"): Promise<BenchStack> {
    let stack = this.stacks.get(mode);
    if (!stack) {
      stack = startBenchStack({ mode, label: mode });
      this.stacks.set(mode, stack);
    }
    return stack;
  }
  async release(mode: "direct" | "buffered"): Promise<void> {
    const stack = this.stacks.get(mode);
    this.stacks.delete(mode);
    if (stack) await (await stack).stop();
  }
  async releaseAll(): Promise<void> {
    for (const mode of [...this.stacks.keys()]) await this.release(mode as "direct" | "buffered");
  }
}

async function runPart(part: Part, size: Size, stacks: StackPool): Promise<Omit<PartResult, "seconds">> {
  switch (part) {
    case "cpu":
      return (await import("./cpu")).runCpu(size);
    case "roundtrips":
      return (await import("./roundtrips")).runRoundtrips(size, stacks);
    case "e2e":
      return (await import("./e2e")).runE2e(size, stacks);
    case "drain":
      return (await import("./drain")).runDrain(size);
    case "queries":
      return (await import("./queries")).runQueries(size);
    case "storage":
      return (await import("./storage")).runStorage(size);
    case "faults":
      return (await import("./faults")).runFaults(size);
    case "flood":
      return (await import("./flood")).runFlood(size);
    case "import":
      return (await import("./import")).runImport(size);
    case "paths":
      return (await import("./paths")).runPaths(size);
  }
}

const TITLES: Record<Part, string> = {
  cpu: "CPU per batch",
  roundtrips: "Round trips per batch",
  e2e: "End-to-end ingest",
  drain: "Drain",
  queries: "Queries",
  storage: "Storage",
  faults: "Fault run",
  flood: "Flood of random names",
  import: "File import",
  paths: "Neon HTTP vs Hyperdrive",
};

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      size: { type: "string", default: "smoke" },
      before: { type: "string" },
      help: { type: "boolean", short: "h" },
      ...Object.fromEntries(PARTS.map((p) => [p, { type: "boolean" as const }])),
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const size = values.size as Size;
  if (size !== "smoke" && size !== "full") {
    console.error(`--size must be smoke or full (got ${String(values.size)})\n${USAGE}`);
    return 2;
  }
  const flags = values as Record<string, unknown>;
  const selected = PARTS.filter((p) => flags[p]);
  const parts: Part[] = selected.length > 0 ? selected : [...PARTS];
  const before = values.before === undefined ? undefined : loadBaseline(values.before);
  const context = await collectContext(size, parts, ADMIN_URL);
  log(`size ${size}; parts ${parts.join(", ")}; ${context.nproc} vCPU ${context.cpuModel}; load ${context.loadBefore.join(" ")}`);

  const stacks = new StackPool();
  const results: PartResult[] = [];
  const runStarted = Date.now();
  for (const part of parts) {
    const started = Date.now();
    log(`— part ${part} —`);
    let result: Omit<PartResult, "seconds">;
    try {
      result = await runPart(part, size, stacks);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      log(`part ${part} failed: ${reason}`);
      if (error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
      result = { part, title: TITLES[part], status: "error", reason, method: "", figures: [] };
    }
    // The shared stacks serve only parts 2 and 3; free the machine for the next part.
    if (part === "e2e" || (part === "roundtrips" && !parts.includes("e2e"))) await stacks.releaseAll();
    results.push({ ...result, seconds: (Date.now() - started) / 1000 });
    if (result.status === "skipped") log(`part ${part} skipped: ${result.reason}`);
  }
  await stacks.releaseAll();
  context.loadAfter = loadavg().map((l) => Math.round(l * 100) / 100);
  const total = (Date.now() - runStarted) / 1000;
  const file = appendResults(context, results);
  const text = `${markdown(context, results, before)}\nTotal run time: ${Math.round(total)} s.\n`;
  const latest = writeLatest(text);
  console.log(text);
  log(`results appended to ${file}; table written to ${latest}; total ${Math.round(total)} s`);
  return results.some((r) => r.status === "error") ? 1 : 0;
}

main()
  .then(async (code) => {
    await runCleanups();
    process.exit(code);
  })
  .catch(async (error: unknown) => {
    console.error(error);
    await runCleanups();
    process.exit(1);
  });
