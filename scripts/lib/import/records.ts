/**
 * Reading event files for `npm run import -- events`: NDJSON, CSV or one JSON array, optionally
 * gzipped (recognised by its magic bytes), from a file or standard input. Yields one record per
 * line (NDJSON, CSV) or array element, numbered from 1, either as an object or with the reason it
 * could not be read. Problems that make the whole input unusable (a CSV header naming an unknown
 * column, a JSON array that does not parse) throw before anything is yielded.
 */
import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";
import { Readable, Transform } from "node:stream";
import { createGunzip } from "node:zlib";

/** One input record: `value` when it could be read, otherwise `error`. */
export interface InputRecord {
  /** 1-based line number (NDJSON, CSV) or array element number (JSON array). */
  position: number;
  value?: Record<string, unknown>;
  error?: string;
}

export type InputFormat = "ndjson" | "csv" | "json";

/** The event fields a CSV header may name (snake_case or the documented camelCase aliases). */
export const CSV_COLUMNS = new Set([
  "event_id", "eventId", "event_name", "eventName", "category", "timestamp", "user_id", "userId",
  "session_id", "sessionId", "properties", "device_info", "deviceInfo", "page_url", "pageUrl", "referrer",
]);
/** CSV columns holding JSON objects. */
const JSON_COLUMNS = new Set(["properties", "device_info", "deviceInfo"]);
const EPOCH_DIGITS = /^\d{11,16}$/;

/** Thrown for input that cannot be imported at all; the message names the line or column. */
export class InputError extends Error {
  override readonly name = "InputError";
}

/**
 * Splits one CSV line (RFC 4180 quoting: `"a,b"`, `""` for a quote). Returns null when a quote is
 * not closed on the line (records spanning lines are not supported).
 */
export function splitCsvLine(line: string): string[] | null {
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    if (line[i] === '"') {
      let value = "";
      i++;
      for (;;) {
        const q = line.indexOf('"', i);
        if (q < 0) return null;
        value += line.slice(i, q);
        if (line[q + 1] === '"') {
          value += '"';
          i = q + 2;
          continue;
        }
        i = q + 1;
        break;
      }
      fields.push(value);
      if (i >= line.length) return fields;
      if (line[i] !== ",") return null;
      i++;
    } else {
      const comma = line.indexOf(",", i);
      if (comma < 0) {
        fields.push(line.slice(i));
        return fields;
      }
      fields.push(line.slice(i, comma));
      i = comma + 1;
    }
  }
}

/** Checks a CSV header: every column must be a known event field, none twice. */
export function csvHeader(line: string): string[] {
  const names = splitCsvLine(line.replace(/^\uFEFF/, ""));
  if (!names) throw new InputError("line 1 (CSV header): unclosed quote");
  names.forEach((name, i) => {
    if (!CSV_COLUMNS.has(name)) {
      throw new InputError(`line 1 (CSV header): unknown column "${name}" (column ${i + 1}); known columns: ${[...CSV_COLUMNS].join(", ")}`);
    }
    if (names.indexOf(name) !== i) throw new InputError(`line 1 (CSV header): column "${name}" appears twice`);
  });
  if (!names.some((n) => n === "event_name" || n === "eventName")) throw new InputError("line 1 (CSV header): an event_name column is required");
  return names;
}

/** One CSV data line → an event object (empty fields left out; JSON columns parsed). */
function csvRecord(header: readonly string[], line: string, position: number): InputRecord {
  const fields = splitCsvLine(line);
  if (!fields) return { position, error: "malformed CSV: unclosed quote" };
  if (fields.length !== header.length) return { position, error: `malformed CSV: ${fields.length} fields, the header has ${header.length}` };
  const value: Record<string, unknown> = {};
  for (let i = 0; i < header.length; i++) {
    const name = header[i]!;
    const field = fields[i]!;
    if (field === "") continue;
    if (JSON_COLUMNS.has(name)) {
      try {
        value[name] = JSON.parse(field);
      } catch (error) {
        return { position, error: `${name}: not valid JSON (${(error as Error).message})` };
      }
    } else if (name === "timestamp" && EPOCH_DIGITS.test(field)) {
      value[name] = Number(field);
    } else {
      value[name] = field;
    }
  }
  return { position, value };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Counts the bytes that pass through (for the progress bar). */
export class ByteCounter extends Transform {
  bytes = 0;
  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: () => void): void {
    this.bytes += chunk.length;
    this.push(chunk);
    callback();
  }
}

/** The bytes of `raw`, gunzipped when they start with the gzip magic bytes 1f 8b. */
async function* decompressed(raw: AsyncIterable<Buffer>, source: string): AsyncGenerator<Buffer> {
  const it = raw[Symbol.asyncIterator]();
  const first = await it.next();
  if (first.done) return;
  const head = first.value;
  async function* all(): AsyncGenerator<Buffer> {
    yield head;
    for (let next = await it.next(); !next.done; next = await it.next()) yield next.value;
  }
  if (head[0] !== 0x1f || head[1] !== 0x8b) {
    yield* all();
    return;
  }
  try {
    for await (const chunk of Readable.from(all()).pipe(createGunzip())) yield chunk as Buffer;
  } catch (error) {
    throw new InputError(`${source}: not valid gzip (${(error as Error).message})`);
  }
}

/** The decompressed text of `source` (`-` = stdin), its raw bytes counted by `counter`. */
function openText(source: string, counter: ByteCounter): Readable {
  const raw = source === "-" ? process.stdin : createReadStream(source);
  raw.once("error", (error: Error) => counter.destroy(new InputError(`${source}: ${error.message}`)));
  return Readable.from(decompressed(raw.pipe(counter), source));
}

/**
 * The records of `source`. The format is `format` when given, else chosen by the first
 * non-blank character: `[` → JSON array, `{` → NDJSON, anything else → CSV with a header line.
 */
export async function* readRecords(
  source: string,
  options: { format?: InputFormat; counter?: ByteCounter; skip?: number } = {},
): AsyncGenerator<InputRecord> {
  const counter = options.counter ?? new ByteCounter();
  const text = openText(source, counter);
  const lines = createInterface({ input: text, crlfDelay: Infinity });
  const skip = options.skip ?? 0;
  let format = options.format;
  let header: string[] | null = null;
  let position = 0;
  let arrayText: string[] | null = null;
  for await (const line of lines) {
    position++;
    if (arrayText) {
      arrayText.push(line);
      continue;
    }
    if (!format) {
      const first = line.trimStart()[0];
      if (first === undefined) continue;
      format = first === "[" ? "json" : first === "{" ? "ndjson" : "csv";
    }
    if (format === "json") {
      arrayText = [line];
      continue;
    }
    if (format === "csv" && header === null) {
      header = csvHeader(line);
      continue;
    }
    if (position <= skip || line.trim() === "") continue;
    if (format === "csv") {
      yield csvRecord(header!, line, position);
      continue;
    }
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (error) {
      yield { position, error: `malformed JSON (${(error as Error).message})` };
      continue;
    }
    yield isObject(value) ? { position, value } : { position, error: "not a JSON object" };
  }
  if (arrayText) {
    let list: unknown;
    try {
      list = JSON.parse(arrayText.join("\n"));
    } catch (error) {
      throw new InputError(`${source}: not a valid JSON array (${(error as Error).message}); nothing was imported`);
    }
    if (!Array.isArray(list)) throw new InputError(`${source}: expected a JSON array of events`);
    for (let i = skip; i < list.length; i++) {
      const value: unknown = list[i];
      yield isObject(value) ? { position: i + 1, value } : { position: i + 1, error: "not a JSON object" };
    }
  }
}
