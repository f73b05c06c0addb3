/**
 * CPU time per component during a load run, from /proc/<pid>/stat (utime + stime): workerd, this
 * process (which hosts the Upstash and Neon bridges), the load generator, the wrangler CLI,
 * redis-server and PostgreSQL. Shares are in % of one core over the window (the machine has
 * `nproc` cores in total), which is what names the bottleneck of the end-to-end path.
 */
import { readdirSync, readFileSync } from "node:fs";

const TICKS_PER_SECOND = 100;

export type CpuSnapshot = Map<number, { group: string; ticks: number }>;

function groupOf(pid: number, comm: string): string | null {
  if (pid === process.pid) return "bridges (bench process)";
  if (comm === "workerd") return "workerd";
  if (comm === "redis-server") return "redis-server";
  if (comm === "postgres") return "postgres";
  if (comm === "node" || comm.startsWith("node") || comm === "npm exec" || comm === "esbuild") {
    let cmdline = "";
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8");
    } catch {
      return null;
    }
    if (cmdline.includes("loadgen.ts")) return "load generator";
    if (cmdline.includes("wrangler")) return "wrangler CLI (node)";
    return null;
  }
  return null;
}

export function cpuSnapshot(): CpuSnapshot {
  const out: CpuSnapshot = new Map();
  for (const name of readdirSync("/proc")) {
    const pid = Number(name);
    if (!Number.isInteger(pid)) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const close = stat.lastIndexOf(")");
      const comm = stat.slice(stat.indexOf("(") + 1, close);
      const group = groupOf(pid, comm);
      if (!group) continue;
      const fields = stat.slice(close + 2).split(" ");
      // fields[0] is field 3 (state): utime is field 14, stime field 15.
      out.set(pid, { group, ticks: Number(fields[11]) + Number(fields[12]) });
    } catch {
      /* exited */
    }
  }
  return out;
}

/** % of one core per group between two snapshots `seconds` apart (processes new in `after` count from 0). */
export function cpuShares(before: CpuSnapshot, after: CpuSnapshot, seconds: number): Record<string, number> {
  const shares: Record<string, number> = {};
  for (const [pid, { group, ticks }] of after) {
    const delta = ticks - (before.get(pid)?.ticks ?? 0);
    shares[group] = (shares[group] ?? 0) + delta;
  }
  for (const group of Object.keys(shares)) shares[group] = Math.round(((shares[group]! / TICKS_PER_SECOND) / seconds) * 100);
  return Object.fromEntries(Object.entries(shares).sort((a, b) => b[1] - a[1]));
}

export function sharesText(shares: Record<string, number>): string {
  return Object.entries(shares)
    .map(([g, v]) => `${g} ${v} %`)
    .join(", ");
}
