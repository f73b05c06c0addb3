/**
 * Minimal five-field cron matching (minute hour day-of-month month day-of-week, UTC) for firing the
 * Worker's Cron Triggers locally: `wrangler dev` never fires them by itself. Supports `*`, numbers,
 * lists (`1,5`), ranges (`1-5`) and steps (`*\/15`, `0-30/10`) — what wrangler.toml uses.
 */
const FIELD_RANGES: ReadonlyArray<readonly [number, number]> = [
  [0, 59],
  [0, 23],
  [1, 31],
  [1, 12],
  [0, 6],
];

function fieldMatches(field: string, value: number, [min, max]: readonly [number, number]): boolean {
  return field.split(",").some((part) => {
    const [range = "*", stepText] = part.split("/");
    const step = stepText === undefined ? 1 : Number(stepText);
    let low = min;
    let high = max;
    if (range !== "*") {
      const [a, b] = range.split("-");
      low = Number(a);
      high = b === undefined ? (stepText === undefined ? low : max) : Number(b);
    }
    if (![low, high, step].every(Number.isInteger) || step < 1) throw new Error(`unsupported cron field "${field}"`);
    return value >= low && value <= high && (value - low) % step === 0;
  });
}

/** True when `expression` fires at the minute of `date` (UTC). */
export function cronMatches(expression: string, date: Date): boolean {
  const fields = expression.trim().split(/\s+/);
  if (fields.length !== 5) throw new Error(`expected 5 cron fields in "${expression}"`);
  const values = [date.getUTCMinutes(), date.getUTCHours(), date.getUTCDate(), date.getUTCMonth() + 1, date.getUTCDay()];
  return fields.every((field, i) => fieldMatches(field, values[i]!, FIELD_RANGES[i]!));
}

/** Reads the `crons = [...]` list from wrangler.toml text. */
export function cronsFromWranglerToml(toml: string): string[] {
  const match = /^\s*crons\s*=\s*\[([^\]]*)\]/m.exec(toml);
  if (!match) return [];
  return [...match[1]!.matchAll(/"([^"]+)"/g)].map((m) => m[1]!);
}
