/**
 * The legacy Redis sorted set of events (`npm run import -- legacy-redis`, `npm run compare`):
 * score = epoch milliseconds, member = the tracker's event JSON. Read page by page in score order
 * (ZRANGEBYSCORE … LIMIT), from a Redis URL (RESP) or an Upstash REST URL + token.
 */
import { RespConnection, parseRedisUrl, type RespReply } from "../resp";
import type { InputRecord } from "./records";

/** Default key of the legacy sorted set. */
export const DEFAULT_LEGACY_KEY = "analytics:events";
export const DEFAULT_PAGE = 1_000;

/** Where the legacy Redis is, from the environment. */
export interface LegacyRedisTarget {
  redisUrl?: string;
  restUrl?: string;
  restToken?: string;
}

/** LEGACY_REDIS_URL, or LEGACY_UPSTASH_REDIS_REST_URL + LEGACY_UPSTASH_REDIS_REST_TOKEN. */
export function legacyRedisFromEnv(env: NodeJS.ProcessEnv): LegacyRedisTarget {
  if (env.LEGACY_REDIS_URL) return { redisUrl: env.LEGACY_REDIS_URL };
  if (env.LEGACY_UPSTASH_REDIS_REST_URL && env.LEGACY_UPSTASH_REDIS_REST_TOKEN) {
    return { restUrl: env.LEGACY_UPSTASH_REDIS_REST_URL, restToken: env.LEGACY_UPSTASH_REDIS_REST_TOKEN };
  }
  throw new Error("legacy Redis: set LEGACY_REDIS_URL (redis://…) or LEGACY_UPSTASH_REDIS_REST_URL and LEGACY_UPSTASH_REDIS_REST_TOKEN");
}

type Command = (args: string[]) => Promise<unknown>;

function fromResp(reply: RespReply): unknown {
  switch (reply.type) {
    case "error":
      throw new Error(`legacy Redis: ${reply.message}`);
    case "array":
      return reply.value?.map(fromResp) ?? null;
    case "integer":
      return Number(reply.value);
    default:
      return reply.value === null ? null : reply.value.toString("utf8");
  }
}

async function connect(target: LegacyRedisTarget): Promise<{ command: Command; close(): void }> {
  if (target.redisUrl) {
    const conn = await RespConnection.open(parseRedisUrl(target.redisUrl));
    return { command: async (args) => fromResp(await conn.send(args)), close: () => conn.close() };
  }
  const { restUrl, restToken } = target;
  return {
    command: async (args) => {
      const response = await fetch(restUrl!, { method: "POST", headers: { authorization: `Bearer ${restToken}` }, body: JSON.stringify(args) });
      const body = (await response.json()) as { result?: unknown; error?: string };
      if (!response.ok || body.error) throw new Error(`legacy Redis (REST): ${body.error ?? response.status}`);
      return body.result;
    },
    close: () => undefined,
  };
}

/** A `--map` file: `{ "<legacy field>": "<event field>" }`, e.g. `{ "name": "event_name", "ts": "timestamp" }`. */
export type FieldMap = Record<string, string>;

/** A legacy member (parsed) with renamed fields; the score is the timestamp when it has none. */
export function legacyEvent(member: Record<string, unknown>, scoreMs: number, map: FieldMap): Record<string, unknown> {
  const event: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(member)) event[map[key] ?? key] = value;
  if (event.timestamp === undefined || event.timestamp === null) event.timestamp = scoreMs;
  return event;
}

export interface LegacyMember {
  /** Rank in score order, from 1. */
  position: number;
  scoreMs: number;
  member: string;
}

/** Every member with its score, in score order, `page` at a time, from `minMs` to `maxMs` (inclusive, exclusive). */
export async function* readLegacySortedSet(
  target: LegacyRedisTarget,
  key: string,
  options: { page?: number; minMs?: number; maxMs?: number } = {},
): AsyncGenerator<LegacyMember> {
  const page = options.page ?? DEFAULT_PAGE;
  const redis = await connect(target);
  try {
    const type = await redis.command(["TYPE", key]);
    if (type !== "zset") throw new Error(`legacy Redis: key "${key}" is ${type === "none" ? "missing" : `a ${String(type)}, not a sorted set`} (set --key)`);
    let min = options.minMs === undefined ? "-inf" : String(options.minMs);
    const max = options.maxMs === undefined ? "+inf" : `(${options.maxMs}`;
    let offset = 0;
    let position = 0;
    for (;;) {
      const reply = (await redis.command(["ZRANGEBYSCORE", key, min, max, "WITHSCORES", "LIMIT", String(offset), String(page)])) as string[];
      if (reply.length === 0) return;
      let lastScore = "";
      let sameScore = 0;
      for (let i = 0; i < reply.length; i += 2) {
        const score = reply[i + 1]!;
        yield { position: ++position, scoreMs: Number(score), member: reply[i]! };
        if (score === lastScore) sameScore++;
        else {
          lastScore = score;
          sameScore = 1;
        }
      }
      // Next page: from the last score, past the members of that score already read.
      offset = lastScore === min ? offset + sameScore : sameScore;
      min = lastScore;
      if (reply.length < page * 2) return;
    }
  } finally {
    redis.close();
  }
}

/** The sorted set as import records: parsed, renamed, numbered by rank. */
export async function* legacyRecords(target: LegacyRedisTarget, key: string, map: FieldMap, page?: number): AsyncGenerator<InputRecord> {
  for await (const m of readLegacySortedSet(target, key, { page })) {
    let value: unknown;
    try {
      value = JSON.parse(m.member);
    } catch (error) {
      yield { position: m.position, error: `member is not JSON (${(error as Error).message})` };
      continue;
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      yield { position: m.position, error: "member is not a JSON object" };
      continue;
    }
    yield { position: m.position, value: legacyEvent(value as Record<string, unknown>, m.scoreMs, map) };
  }
}
