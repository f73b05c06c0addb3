import { connect as netConnect, type Socket } from "node:net";

/**
 * A small RESP2 client over `node:net` for the local Upstash bridge.
 *
 * Why not a Redis library: the bridge must hand back the reply exactly as Redis sent it — raw
 * bytes for bulk strings (base64 encoding is byte-exact) and integers as their decimal digits
 * (int64 does not fit a JS number; Upstash writes the digits verbatim). It speaks RESP2 only:
 * `HELLO 3` would turn HGETALL into a map and break the REST contract (docs/LOCAL-STACK.md §1.2).
 */

/** One command argument: strings go as UTF-8, numbers as `String(n)`, booleans as "true"/"false". */
export type RespArg = string | number | boolean | Uint8Array;

/** A parsed RESP2 reply. Integers keep their digits; bulk and simple strings keep their bytes. */
export type RespReply =
  | { readonly type: "simple"; readonly value: Buffer }
  | { readonly type: "error"; readonly message: string }
  | { readonly type: "integer"; readonly value: string }
  | { readonly type: "bulk"; readonly value: Buffer | null }
  | { readonly type: "array"; readonly value: RespReply[] | null };

/** The stream is not valid RESP2 (or is RESP3); the connection cannot be trusted afterwards. */
export class RespProtocolError extends Error {
  override readonly name = "RespProtocolError";
}

const CR = 13;
const LF = 10;
const CRLF = Buffer.from("\r\n");
const EMPTY = Buffer.alloc(0);
const INTEGER_DIGITS = /^-?\d{1,20}$/;

function argToBytesOrString(arg: RespArg): string | Uint8Array {
  switch (typeof arg) {
    case "string":
      return arg;
    case "number":
      return String(arg);
    case "boolean":
      return arg ? "true" : "false";
    default:
      return arg;
  }
}

/**
 * Encodes commands as RESP arrays of bulk strings into ONE buffer, so a whole pipeline is a single
 * socket write and its commands stay contiguous on the connection.
 *
 * @example encodeCommands([["SET", "k", 1]]) // "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\n1\r\n"
 */
export function encodeCommands(commands: readonly (readonly RespArg[])[]): Buffer {
  const parts: (string | Uint8Array)[] = [];
  const lengths: number[] = [];
  let total = 0;
  for (const command of commands) {
    const header = `*${command.length}\r\n`;
    total += header.length;
    for (const arg of command) {
      const part = argToBytesOrString(arg);
      const length = typeof part === "string" ? Buffer.byteLength(part) : part.byteLength;
      parts.push(part);
      lengths.push(length);
      total += String(length).length + length + 5; // "$" len "\r\n" payload "\r\n"
    }
  }
  const out = Buffer.allocUnsafe(total);
  let offset = 0;
  let i = 0;
  for (const command of commands) {
    offset += out.write(`*${command.length}\r\n`, offset, "latin1");
    for (let n = 0; n < command.length; n++, i++) {
      const part = parts[i]!;
      offset += out.write(`$${lengths[i]!}\r\n`, offset, "latin1");
      if (typeof part === "string") {
        offset += out.write(part, offset, "utf8");
      } else {
        out.set(part, offset);
        offset += part.byteLength;
      }
      out[offset++] = CR;
      out[offset++] = LF;
    }
  }
  return out;
}

interface ArrayFrame {
  readonly items: RespReply[];
  readonly length: number;
}

/** Reads a signed decimal length between `start` and `end` (exclusive); NaN when malformed. */
function readLength(buf: Buffer, start: number, end: number): number {
  let i = start;
  let negative = false;
  if (buf[i] === 0x2d) {
    negative = true;
    i++;
  }
  if (i >= end || end - i > 15) return Number.NaN;
  let n = 0;
  for (; i < end; i++) {
    const digit = buf[i]! - 0x30;
    if (digit < 0 || digit > 9) return Number.NaN;
    n = n * 10 + digit;
  }
  return negative ? -n : n;
}

/**
 * Incremental RESP2 parser: push TCP chunks as they come, get complete top-level replies in
 * order. Array elements are consumed as soon as they are complete, so a reply split across many
 * chunks is not re-scanned from its start; a large bulk string waits until all its bytes are in
 * and is then copied once.
 */
export class RespParser {
  private buf: Buffer = EMPTY;
  private pos = 0;
  private readonly pending: Buffer[] = [];
  private pendingBytes = 0;
  /** Bytes needed from `pos` before parsing can make progress. */
  private need = 0;
  private readonly stack: ArrayFrame[] = [];

  constructor(private readonly onReply: (reply: RespReply) => void) {}

  /** Feeds one chunk. Throws `RespProtocolError` on a malformed stream. */
  push(chunk: Buffer): void {
    if (this.pos >= this.buf.length && this.pending.length === 0) {
      this.buf = chunk;
      this.pos = 0;
    } else {
      this.pending.push(chunk);
      this.pendingBytes += chunk.length;
      if (this.buf.length - this.pos + this.pendingBytes < this.need) return;
      this.buf = Buffer.concat([this.buf.subarray(this.pos), ...this.pending]);
      this.pos = 0;
      this.pending.length = 0;
      this.pendingBytes = 0;
    }
    this.need = 0;
    this.parse();
    if (this.pos >= this.buf.length) {
      this.buf = EMPTY;
      this.pos = 0;
    }
  }

  /** True when a reply is partly read (bytes buffered or an array half filled). */
  get busy(): boolean {
    return this.pos < this.buf.length || this.pendingBytes > 0 || this.stack.length > 0;
  }

  private parse(): void {
    const buf = this.buf;
    let pos = this.pos;
    while (pos < buf.length) {
      const lineEnd = buf.indexOf(CRLF, pos + 1);
      if (lineEnd < 0) {
        this.need = buf.length - pos + 1;
        break;
      }
      const type = buf[pos]!;
      let reply: RespReply;
      if (type === 0x2b /* + */) {
        reply = { type: "simple", value: buf.subarray(pos + 1, lineEnd) };
        pos = lineEnd + 2;
      } else if (type === 0x2d /* - */) {
        reply = { type: "error", message: buf.toString("utf8", pos + 1, lineEnd) };
        pos = lineEnd + 2;
      } else if (type === 0x3a /* : */) {
        const digits = buf.toString("latin1", pos + 1, lineEnd);
        if (!INTEGER_DIGITS.test(digits)) throw new RespProtocolError(`invalid integer reply ${JSON.stringify(digits)}`);
        reply = { type: "integer", value: digits };
        pos = lineEnd + 2;
      } else if (type === 0x24 /* $ */) {
        const length = readLength(buf, pos + 1, lineEnd);
        if (length === -1) {
          reply = { type: "bulk", value: null };
          pos = lineEnd + 2;
        } else {
          if (!(length >= 0)) throw new RespProtocolError("invalid bulk string length");
          const start = lineEnd + 2;
          const end = start + length;
          if (end + 2 > buf.length) {
            this.need = end + 2 - pos;
            break;
          }
          if (buf[end] !== CR || buf[end + 1] !== LF) throw new RespProtocolError("bulk string not terminated by CRLF");
          reply = { type: "bulk", value: buf.subarray(start, end) };
          pos = end + 2;
        }
      } else if (type === 0x2a /* * */) {
        const length = readLength(buf, pos + 1, lineEnd);
        pos = lineEnd + 2;
        if (length === -1) {
          reply = { type: "array", value: null };
        } else if (!(length >= 0)) {
          throw new RespProtocolError("invalid array length");
        } else if (length === 0) {
          reply = { type: "array", value: [] };
        } else {
          this.stack.push({ items: [], length });
          continue;
        }
      } else {
        // RESP3 types (%, ~, _, #, ...) included: this client never sends HELLO 3.
        throw new RespProtocolError(`unexpected reply type byte 0x${type.toString(16)}`);
      }
      this.pos = pos;
      this.deliver(reply);
    }
    this.pos = pos;
  }

  private deliver(reply: RespReply): void {
    let value = reply;
    for (;;) {
      const frame = this.stack[this.stack.length - 1];
      if (!frame) {
        this.onReply(value);
        return;
      }
      frame.items.push(value);
      if (frame.items.length < frame.length) return;
      this.stack.pop();
      value = { type: "array", value: frame.items };
    }
  }
}

/** Where and how to connect; see `parseRedisUrl`. */
export interface RespConnectionOptions {
  host: string;
  port: number;
  username?: string;
  password?: string;
  /** Database index selected right after connecting. */
  db?: number;
  /**
   * Gives up connecting after this long, so a caller answers instead of hanging.
   * @default 1000
   */
  connectTimeoutMs?: number;
  /**
   * Destroys the connection when replies are owed and nothing arrives for this long.
   * @default 15000
   */
  replyTimeoutMs?: number;
}

/**
 * Parses `redis://[user:password@]host[:port][/db]` (default port 6379).
 *
 * @example parseRedisUrl("redis://127.0.0.1:6390") // { host: "127.0.0.1", port: 6390 }
 */
export function parseRedisUrl(url: string): RespConnectionOptions {
  const parsed = new URL(url);
  if (parsed.protocol !== "redis:") {
    throw new Error(`unsupported Redis URL scheme ${JSON.stringify(parsed.protocol)} (only redis:// is supported)`);
  }
  const options: RespConnectionOptions = {
    host: parsed.hostname.replace(/^\[|\]$/g, "") || "127.0.0.1",
    port: parsed.port ? Number(parsed.port) : 6379,
  };
  if (parsed.username) options.username = decodeURIComponent(parsed.username);
  if (parsed.password) options.password = decodeURIComponent(parsed.password);
  const db = parsed.pathname.replace(/^\//, "");
  if (db) {
    const index = Number(db);
    if (!Number.isInteger(index) || index < 0) throw new Error(`invalid database index in Redis URL: ${db}`);
    options.db = index;
  }
  return options;
}

interface Waiter {
  remaining: number;
  readonly replies: RespReply[];
  readonly resolve: (replies: RespReply[]) => void;
  readonly reject: (error: Error) => void;
}

/**
 * One RESP2 connection with pipelining: any number of `sendMany` calls may be in flight; replies
 * are matched to them in order. Error replies resolve (they are data); only transport failures
 * reject, and they reject everything still owed and close the connection for good.
 *
 * @example
 * const conn = await RespConnection.open(parseRedisUrl("redis://127.0.0.1:6390"));
 * const [set, get] = await conn.sendMany([["SET", "k", "v"], ["GET", "k"]]);
 * conn.close();
 */
export class RespConnection {
  private readonly waiters: Waiter[] = [];
  private head = 0;
  private failure: Error | undefined;
  private readonly closeListeners: ((error: Error) => void)[] = [];
  private readonly parser: RespParser;

  private constructor(
    private readonly socket: Socket,
    private readonly replyTimeoutMs: number,
  ) {
    this.parser = new RespParser((reply) => this.onReply(reply));
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 30_000);
    socket.on("data", (chunk: Buffer) => {
      try {
        this.parser.push(chunk);
      } catch (error) {
        this.destroy(error as Error);
      }
    });
    socket.on("timeout", () =>
      this.destroy(new Error(`Redis sent no reply within ${this.replyTimeoutMs} ms`)),
    );
    socket.on("error", (error) => this.destroy(error));
    socket.on("close", () => this.destroy(new Error("Redis connection closed")));
  }

  /** Connects, then authenticates and selects the database when the options ask for it. */
  static open(options: RespConnectionOptions): Promise<RespConnection> {
    const connectTimeoutMs = options.connectTimeoutMs ?? 1_000;
    return new Promise<RespConnection>((resolve, reject) => {
      const socket = netConnect({ host: options.host, port: options.port });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`connecting to Redis at ${options.host}:${options.port} timed out after ${connectTimeoutMs} ms`));
      }, connectTimeoutMs);
      socket.once("error", (error) => {
        clearTimeout(timer);
        reject(error);
      });
      socket.once("connect", () => {
        clearTimeout(timer);
        socket.removeAllListeners("error");
        resolve(new RespConnection(socket, options.replyTimeoutMs ?? 15_000));
      });
    }).then(async (connection) => {
      const setup: RespArg[][] = [];
      if (options.password !== undefined) {
        setup.push(options.username ? ["AUTH", options.username, options.password] : ["AUTH", options.password]);
      }
      if (options.db) setup.push(["SELECT", options.db]);
      if (setup.length === 0) return connection;
      const replies = await connection.sendMany(setup);
      const failed = replies.find((r) => r.type === "error");
      if (failed?.type === "error") {
        connection.destroy(new Error(failed.message));
        throw new Error(`Redis refused the connection setup: ${failed.message}`);
      }
      return connection;
    });
  }

  /** Why the connection is closed, or undefined while it is usable. */
  get closedReason(): Error | undefined {
    return this.failure;
  }

  /** Number of replies still owed. */
  get pendingReplies(): number {
    let owed = 0;
    for (let i = this.head; i < this.waiters.length; i++) owed += this.waiters[i]!.remaining;
    return owed;
  }

  /** Registers a listener called once when the connection closes for any reason. */
  onClose(listener: (error: Error) => void): void {
    if (this.failure) listener(this.failure);
    else this.closeListeners.push(listener);
  }

  /** Sends one command; resolves with its reply (error replies included). */
  async send(command: readonly RespArg[]): Promise<RespReply> {
    const [reply] = await this.sendMany([command]);
    return reply!;
  }

  /** Writes all commands in one write; resolves with their replies in order. */
  sendMany(commands: readonly (readonly RespArg[])[]): Promise<RespReply[]> {
    if (this.failure) return Promise.reject(this.failure);
    if (commands.length === 0) return Promise.resolve([]);
    let payload: Buffer;
    try {
      payload = encodeCommands(commands);
    } catch (error) {
      return Promise.reject(error as Error);
    }
    return new Promise<RespReply[]>((resolve, reject) => {
      if (this.head === this.waiters.length) this.socket.setTimeout(this.replyTimeoutMs);
      this.waiters.push({ remaining: commands.length, replies: [], resolve, reject });
      this.socket.write(payload);
    });
  }

  /** Closes gracefully after owed replies arrive (half-close). */
  close(): void {
    if (this.failure) return;
    this.socket.end();
  }

  /** Closes now; everything still owed rejects with `error`. */
  destroy(error: Error = new Error("Redis connection destroyed")): void {
    if (this.failure) return;
    this.failure = error;
    this.socket.destroy();
    const owed = this.waiters.splice(this.head);
    this.waiters.length = 0;
    this.head = 0;
    for (const waiter of owed) waiter.reject(error);
    for (const listener of this.closeListeners.splice(0)) listener(error);
  }

  private onReply(reply: RespReply): void {
    const waiter = this.waiters[this.head];
    if (!waiter) {
      // Unsolicited data (e.g. a pub/sub message) means replies are no longer in step.
      throw new RespProtocolError("reply received with no command waiting for it");
    }
    waiter.replies.push(reply);
    if (--waiter.remaining > 0) return;
    this.head++;
    if (this.head === this.waiters.length) {
      this.waiters.length = 0;
      this.head = 0;
      this.socket.setTimeout(0);
    } else if (this.head > 1024) {
      this.waiters.splice(0, this.head);
      this.head = 0;
    }
    waiter.resolve(waiter.replies);
  }
}
