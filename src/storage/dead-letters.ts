/**
 * Operator access to the dead-letter stream: what is there and why, replay after a fix, and drop
 * by id. Web-standard (the real Upstash and Neon clients), so the same code runs in
 * `npm run dead-letters` (scripts/dead-letters.ts) against the local stack or production, and in
 * the workerd tests.
 */
import type { Redis } from "@upstash/redis/cloudflare";
import type { EventRow } from "../domain/event";
import { decodeBufferEntry } from "./buffer-store";
import type { EventStore } from "./postgres-store";
import { insertIsolatingRefusals } from "./refusals";
import { BUFFER_FIELD, DEAD_LETTER_FIELDS, redisKeys, type RedisKeys } from "./redis-keys";

/** Dead letters read per XRANGE while replaying or dropping everything. */
const PAGE = 100;

/** One dead letter, decoded. */
export interface DeadLetterView {
  /** Its id in the dead-letter stream (what `drop` and `replay` take). */
  id: string;
  /** The buffer entry it came from (its millisecond part is when the batch was accepted). */
  entry: string;
  /** `SQLSTATE: message`, or why the entry could not be read. */
  error: string;
  sqlstate: string | null;
  /** The rows it holds, or null when it is not a readable buffer entry (only `drop` removes those). */
  rows: EventRow[] | null;
  /** The payload as stored. */
  raw: string;
}

export interface ReplayResult {
  /** Dead letters whose rows are now all in PostgreSQL (removed from the stream). */
  replayed: string[];
  /** Rows that were new in PostgreSQL (the rest were already there: exactly once by event_id). */
  inserted: number;
  /** Dead letters PostgreSQL still refuses, with the new error; they stay. */
  refused: Array<{ id: string; error: string }>;
  /** Dead letters that are not readable buffer entries; they stay until dropped. */
  unreadable: string[];
  /** Ids asked for that are not in the stream. */
  missing: string[];
}

function text(value: unknown): string {
  return typeof value === "string" ? value : value === null || value === undefined ? "" : JSON.stringify(value);
}

function view(id: string, fields: Record<string, unknown>): DeadLetterView {
  // The client JSON-parses field values it can: the payload may arrive parsed.
  const payload = fields[DEAD_LETTER_FIELDS.payload];
  const decoded = decodeBufferEntry(id, { [BUFFER_FIELD]: payload });
  const sqlstate = text(fields[DEAD_LETTER_FIELDS.sqlstate]);
  return {
    id,
    entry: text(fields[DEAD_LETTER_FIELDS.entryId]),
    error: text(fields[DEAD_LETTER_FIELDS.error]),
    sqlstate: sqlstate === "" ? null : sqlstate,
    rows: "rows" in decoded ? decoded.rows : null,
    raw: text(payload),
  };
}

/**
 * The dead-letter stream of one deployment (REDIS_KEY_PREFIX) and the PostgreSQL store to replay
 * into.
 *
 * @example
 * const admin = new DeadLetters(redis, "ea:", new PostgresStore(sql));
 * const { total, letters } = await admin.list(20);
 * await admin.replay();            // every dead letter
 * await admin.drop([letters[0].id]);
 */
export class DeadLetters {
  private readonly keys: RedisKeys;

  constructor(
    private readonly redis: Redis,
    prefix: string,
    private readonly events: EventStore,
  ) {
    this.keys = redisKeys(prefix);
  }

  /** The oldest `limit` dead letters (after `afterId`, exclusive) and how many there are in all. */
  async list(limit = 50, afterId: string | null = null): Promise<{ total: number; letters: DeadLetterView[] }> {
    const p = this.redis.pipeline();
    p.xlen(this.keys.deadLetter);
    p.xrange(this.keys.deadLetter, afterId === null ? "-" : `(${afterId}`, "+", limit);
    const [total, entries] = (await p.exec()) as [number, Record<string, Record<string, unknown>> | null];
    return { total: Number(total), letters: Object.entries(entries ?? {}).map(([id, fields]) => view(id, fields)) };
  }

  private async *all(): AsyncGenerator<DeadLetterView> {
    let after: string | null = null;
    for (;;) {
      const { letters } = await this.list(PAGE, after);
      if (letters.length === 0) return;
      yield* letters;
      after = letters[letters.length - 1]!.id;
    }
  }

  private async byIds(ids: readonly string[]): Promise<{ found: DeadLetterView[]; missing: string[] }> {
    const p = this.redis.pipeline();
    for (const id of ids) p.xrange(this.keys.deadLetter, id, id);
    const replies = (await p.exec()) as Array<Record<string, Record<string, unknown>> | null>;
    const found: DeadLetterView[] = [];
    const missing: string[] = [];
    replies.forEach((reply, i) => {
      const fields = reply?.[ids[i]!];
      if (fields) found.push(view(ids[i]!, fields));
      else missing.push(ids[i]!);
    });
    return { found, missing };
  }

  /**
   * Stores the rows of the given dead letters (all of them when `ids` is omitted) exactly once and
   * removes each dead letter whose rows are all stored. A dead letter PostgreSQL still refuses
   * stays, with the new error in the result; a non-data error (database down) stops the replay
   * and is thrown, leaving everything not yet replayed in place.
   */
  async replay(ids?: readonly string[]): Promise<ReplayResult> {
    const result: ReplayResult = { replayed: [], inserted: 0, refused: [], unreadable: [], missing: [] };
    const replayOne = async (letter: DeadLetterView) => {
      if (letter.rows === null) {
        result.unreadable.push(letter.id);
        return;
      }
      const isolated = await insertIsolatingRefusals(letter.rows, (rows) => this.events.insertEvents(rows), () => true);
      result.inserted += isolated.inserted;
      if (isolated.refused.length > 0) {
        const first = isolated.refused[0]!;
        result.refused.push({ id: letter.id, error: `${first.sqlstate}: ${first.message}` });
        return;
      }
      await this.redis.xdel(this.keys.deadLetter, letter.id);
      result.replayed.push(letter.id);
    };
    if (ids === undefined) {
      for await (const letter of this.all()) await replayOne(letter);
    } else {
      const { found, missing } = await this.byIds(ids);
      result.missing = missing;
      for (const letter of found) await replayOne(letter);
    }
    return result;
  }

  /**
   * Deletes exactly the given dead letters (their rows are given up). `"all"` deletes every dead
   * letter present when it starts, and only those.
   */
  async drop(ids: readonly string[] | "all"): Promise<{ dropped: string[]; missing: string[] }> {
    let targets: string[];
    let missing: string[] = [];
    if (ids === "all") {
      targets = [];
      for await (const letter of this.all()) targets.push(letter.id);
    } else {
      const found = await this.byIds(ids);
      targets = found.found.map((l) => l.id);
      missing = found.missing;
    }
    for (let i = 0; i < targets.length; i += PAGE) await this.redis.xdel(this.keys.deadLetter, targets.slice(i, i + PAGE));
    return { dropped: targets, missing };
  }
}
