/**
 * One JSON object per log line (Workers Logs indexes the fields): `{ level, event, ...fields }`.
 * Every line the worker and its cron jobs write goes through here; error text goes through
 * `errorSummary` (src/error-text.ts) first.
 * @example logEvent("warn", "direct_insert_failed", { entry, error: errorSummary(e) })
 */
export function logEvent(level: "info" | "warn" | "error", event: string, fields: Record<string, unknown> = {}): void {
  const line = JSON.stringify({ level, event, ...fields });
  if (level === "error") console.error(line);
  else if (level === "warn") console.warn(line);
  else console.log(line);
}
