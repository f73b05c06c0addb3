/**
 * Reading an ingestion request body: size caps enforced while reading, gzip by header or magic
 * bytes with the inflated size capped while inflating, strict UTF-8, JSON. Every failure is an
 * `ApiError` the route passes straight to `app.onError`.
 */
import { MAX_BODY_BYTES, MAX_DRAINED_BYTES, MAX_INFLATED_BODY_BYTES, INFLATE_SLICE_BYTES } from "../domain/limits";
import { ApiError, badRequest, payloadTooLarge, unsupportedMediaType } from "../errors";

export interface ReadBodyOptions {
  /** Bytes accepted off the wire (compressed or not). @default MAX_BODY_BYTES (512 KiB) */
  maxBodyBytes?: number;
  /** Bytes accepted after gzip inflation. @default MAX_INFLATED_BODY_BYTES (512 KiB) */
  maxInflatedBytes?: number;
  /** Compressed bytes fed to the inflater per step. @default INFLATE_SLICE_BYTES (1 KiB) */
  inflateSliceBytes?: number;
}

/** Media types a tracker may send. `text/plain` is what sendBeacon and no-preflight fetches use. */
const ALLOWED_MEDIA_TYPES = new Set(["application/json", "text/plain"]);
/** Charsets equivalent to UTF-8 (RFC 8259 §8.1: JSON exchanged between systems is UTF-8). */
const UTF8_CHARSETS = new Set(["utf-8", "utf8"]);
const CHARSET_PARAM = /;\s*charset\s*=\s*"?([^";\s]+)"?/i;
const GZIP_CODINGS = new Set(["gzip", "x-gzip"]);

const GZIP_MAGIC_0 = 0x1f;
const GZIP_MAGIC_1 = 0x8b;

/** Fatal: invalid UTF-8 must be an error, never U+FFFD silently stored. Stateless when not streaming. */
const UTF8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

/**
 * Checks `Content-Type`. A missing header is accepted (a Blob without a type sent by
 * sendBeacon has none); anything but JSON or text/plain in UTF-8 is 415.
 */
export function checkContentType(header: string | null): void {
  if (header === null || header.trim() === "") return;
  const semi = header.indexOf(";");
  const mediaType = (semi === -1 ? header : header.slice(0, semi)).trim().toLowerCase();
  if (!ALLOWED_MEDIA_TYPES.has(mediaType)) {
    throw unsupportedMediaType("unsupported_media_type", `Content-Type ${mediaType} is not supported; send application/json or text/plain`);
  }
  const charset = CHARSET_PARAM.exec(header)?.[1]?.toLowerCase();
  if (charset !== undefined && !UTF8_CHARSETS.has(charset)) {
    throw unsupportedMediaType("unsupported_media_type", `charset ${charset} is not supported; send UTF-8`);
  }
}

/**
 * Parses `Content-Encoding` into "gzip" or "identity". Anything else (br, deflate, zstd, or
 * stacked codings) is 415: one well-supported coding keeps the bomb defence in one place.
 */
export function contentCodingOf(header: string | null): "gzip" | "identity" {
  if (header === null) return "identity";
  const codings = header
    .split(",")
    .map((c) => c.trim().toLowerCase())
    .filter((c) => c !== "" && c !== "identity");
  if (codings.length === 0) return "identity";
  if (codings.length === 1 && GZIP_CODINGS.has(codings[0]!)) return "gzip";
  throw unsupportedMediaType("unsupported_encoding", `Content-Encoding ${header} is not supported; send gzip or no encoding`);
}

/**
 * Reads a request body into memory, refusing (413) as soon as it passes `maxBytes`: first by the
 * declared Content-Length, then by counting while reading, since the header may be absent
 * (chunked) or wrong.
 *
 * Before refusing, the rest of the body is read and discarded, up to MAX_DRAINED_BYTES: a server
 * that answers and stops reading leaves the sender mid-upload, which makes a client that writes
 * before it reads see a connection reset instead of the 413 (RFC 9112 §9.6), and under
 * `wrangler dev` broke the next request on the same proxy connection ("Your worker restarted
 * mid-request", measured 3 of 3 times with a 700 KB chunked body). Past that bound the stream is
 * cancelled: an endless body is not read to its end.
 */
export async function readBodyBytes(request: Request, maxBytes: number, maxDrainedBytes: number = MAX_DRAINED_BYTES): Promise<Uint8Array> {
  const declared = request.headers.get("content-length");
  if (declared !== null && Number(declared) > maxBytes) {
    await discard(request.body?.getReader(), Number(declared) <= maxDrainedBytes ? maxDrainedBytes : 0);
    throw payloadTooLarge("body_too_large", `request body of ${declared} bytes exceeds ${maxBytes} bytes (MAX_BODY_BYTES)`);
  }
  if (request.body === null) return new Uint8Array(0);
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await discard(reader, maxDrainedBytes - total);
      throw payloadTooLarge("body_too_large", `request body exceeds ${maxBytes} bytes (MAX_BODY_BYTES)`);
    }
    chunks.push(value);
  }
  return concat(chunks, total);
}

/** Reads and drops the rest of a body, at most `budget` bytes; cancels it past that. */
async function discard(reader: ReadableStreamDefaultReader<Uint8Array> | undefined, budget: number): Promise<void> {
  if (!reader) return;
  let left = budget;
  try {
    while (left > 0) {
      const { done, value } = await reader.read();
      if (done) return;
      left -= value.byteLength;
    }
  } catch {
    return; // the sender went away: nothing left to drain
  }
  reader.cancel().catch(() => {});
}

function concat(chunks: Uint8Array[], total: number): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(total);
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.byteLength;
  }
  return out;
}

/** Whether bytes start with the gzip magic number (RFC 1952 §2.3.1: ID1 = 0x1f, ID2 = 0x8b). */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === GZIP_MAGIC_0 && bytes[1] === GZIP_MAGIC_1;
}

const TURN = Symbol("turn");
/** Resolves after one event-loop turn: every read of already-inflated output settles before it. */
const nextTurn = () => new Promise<typeof TURN>((resolve) => setTimeout(resolve, 0, TURN));

/**
 * Inflates gzip with a hard cap on the output, enforced *while* inflating.
 *
 * Why the slicing: workerd's `DecompressionStream` inflates each written chunk completely and
 * queues the output without waiting for a reader (checked: one 1 MB write of a 1 GB bomb resolves
 * only after inflating all of it), so a read-side counter alone cannot stop a bomb. Instead the
 * input is written in `sliceBytes` pieces, and the output of each piece is read and counted
 * before the next is written; deflate expands at most ~1032:1, so no more than
 * `maxBytes + 1032 × sliceBytes` is ever inflated.
 *
 * @throws ApiError 413 `body_too_large` past `maxBytes` (its `cause` records how far it got, for
 *   logs), 400 `invalid_gzip` when the data is not valid gzip.
 * @example
 * const json = await inflateGzip(bytes, 512 * 1024);
 */
export async function inflateGzip(input: Uint8Array, maxBytes: number, sliceBytes: number = INFLATE_SLICE_BYTES): Promise<Uint8Array> {
  const stream = new DecompressionStream("gzip");
  const writer = stream.writable.getWriter();
  const reader = stream.readable.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  let offset = 0;
  let finished = false;
  let pending: Promise<ReadableStreamReadResult<Uint8Array>> | null = null;
  try {
    for (;;) {
      const closing = offset >= input.length;
      if (closing) {
        writer.close().catch(() => {}); // a truncated stream errors the readable too; reported there
      } else {
        const end = Math.min(offset + sliceBytes, input.length);
        await writer.write(input.subarray(offset, end));
        offset = end;
      }
      for (;;) {
        pending ??= reader.read();
        // After close every read settles (data or done); before it, an empty queue leaves the read
        // pending, which the turn detects, and the same read is reused after the next write.
        const result = closing ? await pending : await Promise.race([pending, nextTurn()]);
        if (result === TURN) break;
        pending = null;
        if (result.done) {
          finished = true;
          return concat(chunks, total);
        }
        total += result.value.byteLength;
        if (total > maxBytes) {
          throw payloadTooLarge("body_too_large", `decompressed body exceeds ${maxBytes} bytes (MAX_INFLATED_BODY_BYTES)`, {
            inflatedBytes: total,
            compressedBytesConsumed: offset,
            compressedBytes: input.length,
          });
        }
        chunks.push(result.value);
      }
    }
  } catch (error) {
    if (error instanceof ApiError) throw error;
    throw badRequest("invalid_gzip", "request body is not valid gzip", error);
  } finally {
    if (!finished) {
      reader.cancel().catch(() => {});
      writer.abort().catch(() => {});
    }
  }
}

/** Strict UTF-8 decode (a leading BOM is skipped). @throws ApiError 400 `invalid_utf8` */
export function decodeUtf8(bytes: Uint8Array): string {
  try {
    return UTF8.decode(bytes);
  } catch (error) {
    throw badRequest("invalid_utf8", "request body is not valid UTF-8", error);
  }
}

/** `JSON.parse` with a 400 on failure. JSON.parse creates own data properties only, so a
 * `"__proto__"` key in the body cannot set a prototype here. @throws ApiError 400 `malformed_json` */
export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw badRequest("malformed_json", `request body is not valid JSON: ${(error as Error).message}`, error);
  }
}

/** A parsed request body and facts about it. */
export interface ParsedBody {
  /** The JSON value (pass to prepareBatch). */
  value: unknown;
  /** UTF-8 bytes of the JSON text after any decompression (pass to prepareBatch as bodyBytes). */
  bytes: number;
  /** Bytes received on the wire (equals `bytes` unless gzip). */
  wireBytes: number;
  /** Whether the body was gzip. */
  gzip: boolean;
}

/**
 * Reads and parses an ingestion request body, with its sizes. Prefer this over
 * {@link readJsonBody} on the ingest route: pass `bytes` to prepareBatch as `bodyBytes`, which
 * lets it skip the per-event size check for bodies that cannot hold an oversized event.
 *
 * gzip is recognised by its magic bytes, with or without `Content-Encoding: gzip` (0x1f cannot
 * start JSON text, so the sniff is unambiguous). A body labelled gzip that is not gzip is read as
 * plain JSON rather than refused, which also keeps working if a proxy or the platform has already
 * decoded it.
 *
 * @throws ApiError 413 `body_too_large`; 415 `unsupported_media_type` / `unsupported_encoding`;
 *   400 `empty_body`, `invalid_gzip`, `invalid_utf8`, `malformed_json`.
 * @example
 * app.post("/api/v1/analytics", async (c) => {
 *   const body = await readBody(c.req.raw);
 *   const batch = await prepareBatch(body.value, { receivedAt: new Date(), bodyBytes: body.bytes });
 * });
 */
export async function readBody(request: Request, options: ReadBodyOptions = {}): Promise<ParsedBody> {
  checkContentType(request.headers.get("content-type"));
  contentCodingOf(request.headers.get("content-encoding"));
  const wire = await readBodyBytes(request, options.maxBodyBytes ?? MAX_BODY_BYTES);
  const gzip = isGzip(wire);
  const bytes = gzip ? await inflateGzip(wire, options.maxInflatedBytes ?? MAX_INFLATED_BODY_BYTES, options.inflateSliceBytes) : wire;
  if (bytes.length === 0) throw badRequest("empty_body", "request body is empty");
  return { value: parseJson(decodeUtf8(bytes)), bytes: bytes.length, wireBytes: wire.length, gzip };
}

/** {@link readBody} returning only the JSON value. Same checks, same errors. */
export async function readJsonBody(request: Request, options: ReadBodyOptions = {}): Promise<unknown> {
  return (await readBody(request, options)).value;
}
