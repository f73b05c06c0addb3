/**
 * Phase 3 of the migration: the legacy system (its hourly table and/or its Redis sorted set) against
 * this one, per hour, event name and category over a range: event counts, the category
 * distribution of each (hour, event name), and distinct users. Every difference is listed; a
 * difference "fails" when it passes the tolerance:
 *
 *   |new − legacy| > tolerance% × max(new, legacy)      (counts: --tolerance, users: --users-tolerance)
 *
 * Both default to 0 (exact): the two systems receive the same events during Phase 2, so any
 * difference is a lost or doubled event. Raise --users-tolerance when the legacy system counted
 * distinct users approximately.
 */
import pg from "pg";
import { parseClientTime } from "../../src/domain/normalize";
import { compareNewSide } from "../../src/storage/sql-import";
import { legacyEvent, readLegacySortedSet, type FieldMap, type LegacyRedisTarget } from "./import/legacy-redis";
import { DEFAULT_LEGACY_MAP, readLegacyHourly, type LegacyMap } from "./import/legacy-tables";
import { HOUR_MS } from "../../src/time";

export interface Cell {
  event_count: number;
  unique_users: number;
}
/** Key `hour \t event_name \t category` → counts. */
export type Cells = Map<string, Cell>;

export interface Difference {
  source: "legacy-tables" | "legacy-redis";
  hour: string;
  event_name: string;
  /** `*` for the event name's total over its categories. */
  category: string;
  metric: "event_count" | "unique_users";
  legacy: number;
  new: number;
  diff: number;
  fails: boolean;
}

export interface CompareReport {
  from: string;
  to: string;
  tolerance_pct: number;
  users_tolerance_pct: number;
  /** Per source: (hour, event, category) groups compared. */
  compared: Record<string, number>;
  differences: Difference[];
  failing: number;
}

const key = (hour: string, name: string, category: string) => `${hour}\t${name}\t${category}`;

async function newSide(databaseUrl: string, from: Date, to: Date): Promise<Cells> {
  const client = new pg.Client(databaseUrl);
  await client.connect();
  try {
    const s = compareNewSide(from, to);
    const { rows } = await client.query<{ hour: string; event_name: string; category: string } & Cell>(s.text, [...s.values]);
    return new Map(rows.map((r) => [key(r.hour, r.event_name, r.category), { event_count: r.event_count, unique_users: r.unique_users }]));
  } finally {
    await client.end();
  }
}

async function legacyTablesSide(legacyUrl: string, map: LegacyMap, from: Date, to: Date): Promise<Cells> {
  const client = new pg.Client(legacyUrl);
  await client.connect();
  try {
    const cells: Cells = new Map();
    for (const r of await readLegacyHourly(client, map, from, to)) {
      const k = key(r.bucket, r.event_name, r.category);
      const c = cells.get(k) ?? { event_count: 0, unique_users: 0 };
      c.event_count += r.event_count;
      c.unique_users += r.unique_users;
      cells.set(k, c);
    }
    return cells;
  } finally {
    await client.end();
  }
}

async function legacyRedisSide(target: LegacyRedisTarget, redisKey: string, fieldMap: FieldMap, from: Date, to: Date): Promise<Cells> {
  const groups = new Map<string, { n: number; users: Set<string> }>();
  // The score is the event time; a member whose own timestamp says otherwise is placed by it.
  for await (const m of readLegacySortedSet(target, redisKey, { minMs: from.getTime() - HOUR_MS, maxMs: to.getTime() + HOUR_MS })) {
    let event: Record<string, unknown>;
    try {
      event = legacyEvent(JSON.parse(m.member) as Record<string, unknown>, m.scoreMs, fieldMap);
    } catch {
      continue;
    }
    const t = parseClientTime(event.timestamp as string | number);
    const ms = typeof t === "number" ? t : m.scoreMs;
    if (ms < from.getTime() || ms >= to.getTime()) continue;
    const hour = new Date(Math.floor(ms / HOUR_MS) * HOUR_MS).toISOString().replace(".000Z", "Z");
    const name = String(event.event_name ?? event.eventName ?? "");
    const k = key(hour, name, String(event.category ?? ""));
    const g = groups.get(k) ?? { n: 0, users: new Set<string>() };
    g.n++;
    const user = event.user_id ?? event.userId;
    if (user !== undefined && user !== null) g.users.add(String(user));
    groups.set(k, g);
  }
  return new Map([...groups].map(([k, g]) => [k, { event_count: g.n, unique_users: g.users.size }]));
}

/** Adds a `*` category per (hour, event name): the total over its categories (counts only). */
function withTotals(cells: Cells): Map<string, Cell | { event_count: number }> {
  const out = new Map<string, Cell | { event_count: number }>(cells);
  for (const [k, c] of cells) {
    const [hour, name] = k.split("\t");
    const tk = key(hour!, name!, "*");
    const t = (out.get(tk) as { event_count: number } | undefined) ?? { event_count: 0 };
    t.event_count += c.event_count;
    out.set(tk, t);
  }
  return out;
}

const fails = (a: number, b: number, pct: number) => Math.abs(a - b) > (pct / 100) * Math.max(a, b);

/** Every difference between two sides, ordered by hour, event name, category, metric. Pure. */
export function diffCells(source: Difference["source"], legacy: Cells, current: Cells, tolerancePct: number, usersTolerancePct: number): Difference[] {
  const l = withTotals(legacy);
  const n = withTotals(current);
  const out: Difference[] = [];
  for (const k of new Set([...l.keys(), ...n.keys()])) {
    const [hour, event_name, category] = k.split("\t") as [string, string, string];
    const a = l.get(k);
    const b = n.get(k);
    const metrics: Array<Difference["metric"]> = category === "*" ? ["event_count"] : ["event_count", "unique_users"];
    for (const metric of metrics) {
      const lv = (a as Record<string, number> | undefined)?.[metric] ?? 0;
      const nv = (b as Record<string, number> | undefined)?.[metric] ?? 0;
      if (lv === nv) continue;
      out.push({ source, hour, event_name, category, metric, legacy: lv, new: nv, diff: nv - lv, fails: fails(lv, nv, metric === "event_count" ? tolerancePct : usersTolerancePct) });
    }
  }
  const order = (d: Difference) => `${d.hour}\t${d.event_name}\t${d.category === "*" ? "" : d.category}\t${d.metric}`;
  return out.sort((x, y) => (order(x) < order(y) ? -1 : order(x) > order(y) ? 1 : 0));
}

export interface CompareOptions {
  databaseUrl: string;
  from: Date;
  to: Date;
  legacyTables?: { url: string; map?: LegacyMap };
  legacyRedis?: { target: LegacyRedisTarget; key: string; fieldMap?: FieldMap };
  tolerancePct?: number;
  usersTolerancePct?: number;
}

/** Runs the comparison against each legacy source given. */
export async function compareSystems(options: CompareOptions): Promise<CompareReport> {
  if (!options.legacyTables && !options.legacyRedis) throw new Error("compare: name a legacy source (--legacy-tables and/or --legacy-redis)");
  const tol = options.tolerancePct ?? 0;
  const usersTol = options.usersTolerancePct ?? 0;
  const current = await newSide(options.databaseUrl, options.from, options.to);
  const report: CompareReport = {
    from: options.from.toISOString(),
    to: options.to.toISOString(),
    tolerance_pct: tol,
    users_tolerance_pct: usersTol,
    compared: {},
    differences: [],
    failing: 0,
  };
  const sides: Array<[Difference["source"], () => Promise<Cells>]> = [];
  if (options.legacyTables) {
    const t = options.legacyTables;
    sides.push(["legacy-tables", () => legacyTablesSide(t.url, t.map ?? DEFAULT_LEGACY_MAP, options.from, options.to)]);
  }
  if (options.legacyRedis) {
    const r = options.legacyRedis;
    sides.push(["legacy-redis", () => legacyRedisSide(r.target, r.key, r.fieldMap ?? {}, options.from, options.to)]);
  }
  for (const [source, read] of sides) {
    const legacy = await read();
    report.compared[source] = new Set([...legacy.keys(), ...current.keys()]).size;
    report.differences.push(...diffCells(source, legacy, current, tol, usersTol));
  }
  report.failing = report.differences.filter((d) => d.fails).length;
  return report;
}

const CSV_FIELDS = ["source", "hour", "event_name", "category", "metric", "legacy", "new", "diff", "fails"] as const;
const csvCell = (v: unknown) => {
  const s = String(v);
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
};

/** The differences as CSV (header + one line each). */
export function reportCsv(report: CompareReport): string {
  return [CSV_FIELDS.join(","), ...report.differences.map((d) => CSV_FIELDS.map((f) => csvCell(d[f])).join(","))].join("\n") + "\n";
}

/** A plain-text table of the differences (at most `limit` rows) and a summary line. */
export function reportTable(report: CompareReport, limit = 50): string {
  const rows = report.differences.slice(0, limit).map((d) => [d.source, d.hour, d.event_name, d.category, d.metric, String(d.legacy), String(d.new), String(d.diff), d.fails ? "FAIL" : "ok"]);
  const head = ["source", "hour", "event_name", "category", "metric", "legacy", "new", "diff", ""];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd();
  const compared = Object.entries(report.compared).map(([s, n]) => `${s}: ${n} groups`).join(", ");
  const summary = `compare ${report.from} → ${report.to} (${compared}): ${report.differences.length} differences, ${report.failing} past tolerance (counts ${report.tolerance_pct}%, users ${report.users_tolerance_pct}%)`;
  if (rows.length === 0) return `${summary}\n`;
  const more = report.differences.length > limit ? `… ${report.differences.length - limit} more in the CSV/JSON files\n` : "";
  return `${[line(head), ...rows.map(line)].join("\n")}\n${more}${summary}\n`;
}
