/** How the dashboard writes numbers and times (pure: the end-to-end tests format expected values with it). */

const numberFormat = new Intl.NumberFormat("en-US");
/** 12,345 */
export const fmt = (n: number | null | undefined): string => (n === null || n === undefined ? "–" : numberFormat.format(n));
/** 1.5 MB */
export function bytes(n: number): string {
  const units = ["B", "kB", "MB", "GB", "TB"];
  let v = n;
  let u = 0;
  while (v >= 1000 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  return `${u === 0 ? v : v.toFixed(1)} ${units[u]}`;
}
/** 2026-11-26 07:00 UTC (or the date alone for daily buckets). */
export function when(iso: string, daily = false): string {
  const text = iso.replace("T", " ").slice(0, daily ? 10 : 16);
  return daily ? text : `${text} UTC`;
}
/** "12 ms" with two decimals at most. */
export const millis = (n: number | null): string => (n === null ? "–" : `${Math.round(n * 100) / 100} ms`);

/** A number rounded to two decimals, as text. */
export const round2 = (n: number): string => String(Math.round(n * 100) / 100);
