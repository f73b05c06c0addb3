/**
 * PostgreSQL `COPY … FROM STDIN` text format: one line per row, tab-separated, `\N` for NULL, and
 * backslash, tab, newline and carriage return escaped (PostgreSQL docs, COPY, "Text Format").
 */

const NEEDS_ESCAPE = /[\\\t\n\r]/;

/** One field in COPY text format: objects as JSON, arrays as a text[] literal. */
export function copyField(value: unknown): string {
  if (value === null || value === undefined) return "\\N";
  const text = Array.isArray(value)
    ? `{${value.map((v) => JSON.stringify(String(v))).join(",")}}`
    : typeof value === "object"
      ? JSON.stringify(value)
      : String(value);
  if (!NEEDS_ESCAPE.test(text)) return text;
  return text.replace(/\\/g, "\\\\").replace(/\t/g, "\\t").replace(/\n/g, "\\n").replace(/\r/g, "\\r");
}

/** One row (the given columns of `row`, in order) as a COPY text line, newline included. */
export function copyLine(row: Record<string, unknown>, columns: readonly string[]): string {
  let line = "";
  for (let i = 0; i < columns.length; i++) line += (i === 0 ? "" : "\t") + copyField(row[columns[i]!]);
  return `${line}\n`;
}
