/**
 * Small helpers shared by the benchmark parts: statistics, logging, progress, cleanup on exit,
 * bounded waits. Node only.
 */
import { SingleBar, Presets } from "cli-progress";

/** The p-th percentile (0–100) of `values` by nearest rank; NaN when empty. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

/** Median of `values` (the METHOD: medians of 3). */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Rounds to `digits` significant decimals for display and JSON (keeps integers whole). */
export function round(value: number, digits = 1): number {
  if (!Number.isFinite(value)) return value;
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

const started = Date.now();

/** One progress line on stderr, prefixed with the elapsed time of the whole run. */
export function log(line: string): void {
  const s = ((Date.now() - started) / 1000).toFixed(0).padStart(4);
  process.stderr.write(`[bench ${s}s] ${line}\n`);
}

/**
 * A progress bar on stderr for long steps (a no-op when stderr is not a terminal, e.g. in CI,
 * where `log` lines are the progress).
 */
export function progress(label: string, total: number): { update(value: number): void; stop(): void } {
  if (!process.stderr.isTTY) {
    let lastShown = 0;
    return {
      update(value) {
        if (value - lastShown >= total / 4 && value < total) {
          lastShown = value;
          log(`${label}: ${Math.round((100 * value) / total)} %`);
        }
      },
      stop() {},
    };
  }
  const bar = new SingleBar(
    { format: `  ${label} [{bar}] {percentage}% {value}/{total} {duration}s`, stream: process.stderr, hideCursor: true },
    Presets.shades_classic,
  );
  bar.start(total, 0);
  return { update: (v) => bar.update(Math.min(v, total)), stop: () => bar.stop() };
}

/** Cleanups run in reverse order on normal end, on error and on Ctrl-C/SIGTERM. */
const cleanups: Array<{ name: string; run: () => Promise<unknown> | unknown }> = [];
let cleaning: Promise<void> | null = null;

/** Registers a cleanup; returns a function that runs it now (and unregisters it). */
export function onCleanup(name: string, run: () => Promise<unknown> | unknown): () => Promise<void> {
  const entry = { name, run };
  cleanups.push(entry);
  return async () => {
    const i = cleanups.indexOf(entry);
    if (i === -1) return;
    cleanups.splice(i, 1);
    await entry.run();
  };
}

export function runCleanups(): Promise<void> {
  cleaning ??= (async () => {
    while (cleanups.length > 0) {
      const entry = cleanups.pop()!;
      try {
        await entry.run();
      } catch (error) {
        log(`cleanup "${entry.name}" failed: ${String(error)}`);
      }
    }
  })();
  return cleaning;
}

for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.on(signal, () => {
    log(`${signal}: stopping and dropping what the run created…`);
    void runCleanups().finally(() => process.exit(130));
  });
}

/** Polls `check` until it returns a value other than undefined, or throws after `timeoutMs`. */
export async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs: number, intervalMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

/** Formats a number for tables: thousands separators, `digits` decimals. */
export function fmt(value: number, digits = 0): string {
  if (!Number.isFinite(value)) return String(value);
  return value.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}
