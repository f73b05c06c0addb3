import { Redis } from "@upstash/redis";
import { Redis as CloudflareRedis } from "@upstash/redis/cloudflare";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { startPrivateRedis, type PrivateRedis } from "../../scripts/lib/redis-server";
import {
  encodeCommands,
  parseRedisUrl,
  RespConnection,
  RespParser,
  type RespReply,
} from "../../scripts/lib/resp";
import { startUpstashBridge, type UpstashBridge } from "../../scripts/lib/upstash-bridge";

// Conformance of the local Upstash REST bridge (docs/LOCAL-STACK.md §1), checked with the real
// @upstash/redis 1.39.0 client against a private redis-server (never the machine's 6379).

const TOKEN = "bridge-test-token";

let redisServer: PrivateRedis;
let bridge: UpstashBridge;
let redis: Redis;
/** Direct RESP connection to the same Redis, to check effects without going through the bridge. */
let direct: RespConnection;

let keyCounter = 0;
/** A key no other test uses. */
const key = (name: string) => `bridge-test:${++keyCounter}:${name}`;

beforeAll(async () => {
  redisServer = await startPrivateRedis();
  bridge = await startUpstashBridge({ redisUrl: redisServer.url, token: TOKEN });
  redis = new Redis({ url: bridge.url, token: TOKEN, enableTelemetry: false });
  direct = await RespConnection.open(parseRedisUrl(redisServer.url));
});

afterAll(async () => {
  direct?.close();
  await bridge?.close();
  await redisServer?.stop();
});

interface RawOptions {
  token?: string | null;
  base64?: boolean;
  method?: string;
}

/** A request as the client would send it, with the response body kept as text. */
async function raw(path: string, body: unknown, options: RawOptions = {}) {
  const headers: Record<string, string> = { "content-type": "application/json" };
  const token = options.token === undefined ? TOKEN : options.token;
  if (token !== null) headers.authorization = `Bearer ${token}`;
  if (options.base64 ?? true) headers["upstash-encoding"] = "base64";
  const method = options.method ?? "POST";
  const res = await fetch(`${bridge.url}${path}`, {
    method,
    headers,
    body: method === "GET" || method === "HEAD" ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, text, json: () => JSON.parse(text) as unknown };
}

const b64 = (s: string) => Buffer.from(s).toString("base64");

async function redisInfo(section: string): Promise<string> {
  const reply = await direct.send(["INFO", section]);
  return reply.type === "bulk" && reply.value ? reply.value.toString() : "";
}

/** `calls` of one command from INFO commandstats (0 when never called). */
async function commandCalls(command: string): Promise<number> {
  const match = new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(await redisInfo("commandstats"));
  return match ? Number(match[1]) : 0;
}

describe("strings and numbers", () => {
  const cases: { name: string; value: string; expected: unknown }[] = [
    { name: "ascii", value: "hello", expected: "hello" },
    { name: "unicode (accents, CJK, emoji)", value: "héllo wörld — 日本語 🚀", expected: "héllo wörld — 日本語 🚀" },
    { name: "empty string", value: "", expected: "" },
    { name: "the word OK stored as data", value: "OK", expected: "OK" },
    { name: "numeric text is deserialized by the client", value: "123", expected: 123 },
    { name: "decimal with trailing zero stays a string", value: "1.50", expected: "1.50" },
    { name: "JSON object text is parsed by the client", value: '{"a":[1,"x"]}', expected: { a: [1, "x"] } },
    { name: "text containing CRLF and quotes", value: 'line1\r\nline2 "quoted"', expected: 'line1\r\nline2 "quoted"' },
  ];
  for (const c of cases) {
    test(`SET/GET round trip: ${c.name}`, async () => {
      const k = key("string");
      expect(await redis.set(k, c.value)).toBe("OK");
      expect(await redis.get(k)).toEqual(c.expected);
    });
  }

  test("unicode bulk string is base64 of its UTF-8 bytes on the wire", async () => {
    const k = key("unicode");
    await redis.set(k, "ünï ✓");
    const res = await raw("/", ["get", k]);
    expect(res.status).toBe(200);
    expect(res.text).toBe(`{"result":"${b64("ünï ✓")}"}`);
  });

  test("INCRBY past 2^53 keeps every digit on the wire", async () => {
    const k = key("big");
    await redis.set(k, "9007199254740993");
    // 2^53 + 3 cannot be a JS number: the client gets the nearest double, as with real Upstash.
    expect(await redis.incrby(k, 2)).toBe(9007199254740996);
    const res = await raw("/", ["incrby", k, 0]);
    expect(res.text).toBe('{"result":9007199254740995}');
    // GET returns the digits as a string, which the client keeps because it cannot round-trip them.
    expect(await redis.get(k)).toBe("9007199254740995");
  });

  const int64Cases = [
    { name: "int64 max", set: "9223372036854775806", command: ["incr"], expected: "9223372036854775807" },
    { name: "int64 min", set: "-9223372036854775807", command: ["decr"], expected: "-9223372036854775808" },
    { name: "zero", set: "1", command: ["decr"], expected: "0" },
  ];
  for (const c of int64Cases) {
    test(`integer replies are written verbatim: ${c.name}`, async () => {
      const k = key("int64");
      await redis.set(k, c.set);
      const res = await raw("/pipeline", [[...c.command, k]]);
      expect(res.text).toBe(`[{"result":${c.expected}}]`);
    });
  }

  test("overflow past int64 is an error reply, not a wrapped number", async () => {
    const k = key("overflow");
    await redis.set(k, "9223372036854775807");
    await expect(redis.incr(k)).rejects.toThrow(/increment or decrement would overflow/);
  });

  test("non-UTF-8 bytes: base64 is byte-exact, plain mode uses U+FFFD", async () => {
    const script = "return string.char(255, 97)";
    const encoded = await raw("/", ["eval", script, 0]);
    expect(encoded.text).toBe(`{"result":"${Buffer.from([0xff, 0x61]).toString("base64")}"}`);
    const plain = await raw("/", ["eval", script, 0], { base64: false });
    expect(plain.json()).toEqual({ result: "\uFFFDa" });
  });

  test("large values split across many TCP chunks survive both ways", async () => {
    const k = key("large");
    const value = "αβγ-".repeat(400_000); // ~3 MB of UTF-8
    await redis.set(k, value);
    expect(await redis.get(k)).toBe(value);
    const plain = await raw("/", ["get", k], { base64: false });
    expect((plain.json() as { result: string }).result).toBe(value);
  });
});

describe("nil, arrays and hashes", () => {
  test("nil: missing key and missing hash field are null", async () => {
    expect(await redis.get(key("missing"))).toBeNull();
    expect(await redis.hget(key("missing-hash"), "f")).toBeNull();
    const res = await raw("/", ["get", key("missing")]);
    expect(res.text).toBe('{"result":null}');
  });

  test("nil inside an array (MGET)", async () => {
    const a = key("a");
    const c = key("c");
    await redis.set(a, "x");
    await redis.set(c, 7);
    expect(await redis.mget(a, key("b"), c)).toEqual(["x", null, 7]);
    const res = await raw("/", ["mget", a, key("b")]);
    expect(res.text).toBe(`{"result":["${b64("x")}",null]}`);
  });

  test("XADD + XRANGE: ids and nested field arrays", async () => {
    const k = key("stream");
    const first = await redis.xadd(k, "*", { event: "page_view", n: 1 });
    const second = await redis.xadd(k, "*", { event: "click", label: "ünï" });
    expect(first).toMatch(/^\d+-\d+$/);
    expect(second).toMatch(/^\d+-\d+$/);
    expect(await redis.xrange(k, "-", "+")).toEqual({
      [first]: { event: "page_view", n: 1 },
      [second]: { event: "click", label: "ünï" },
    });
    const res = await raw("/", ["xrange", k, "-", "+", "COUNT", 1]);
    expect(res.json()).toEqual({ result: [[b64(first), [b64("event"), b64("page_view"), b64("n"), b64("1")]]] });
  });

  test("XLEN and XDEL on the buffer stream", async () => {
    const k = key("buffer");
    const id = await redis.xadd(k, "*", { batch: "[1,2]" });
    await redis.xadd(k, "*", { batch: "[3]" });
    expect(await redis.xlen(k)).toBe(2);
    expect(await redis.xdel(k, id)).toBe(1);
    expect(await redis.xlen(k)).toBe(1);
    expect(await redis.xdel(k, id)).toBe(0);
  });

  test("HGETALL is a flat array on the wire and an object in the client", async () => {
    const k = key("hash");
    await redis.hset(k, { total: 3, name: "ünï", json: '{"x":1}' });
    expect(await redis.hincrby(k, "total", 2)).toBe(5);
    expect(await redis.hgetall(k)).toEqual({ total: 5, name: "ünï", json: { x: 1 } });
    const res = await raw("/", ["hgetall", k]);
    const result = (res.json() as { result: string[] }).result;
    expect(result).toHaveLength(6);
    expect(result.map((s) => Buffer.from(s, "base64").toString())).toContain("total");
  });

  test("empty array and nil array", async () => {
    expect(await redis.lrange(key("none"), 0, -1)).toEqual([]);
    expect((await raw("/", ["lrange", key("none"), 0, -1])).text).toBe('{"result":[]}');
    // A nil multi-bulk: EXEC after the WATCHed key changed.
    const k = key("watched");
    const res = await raw("/pipeline", [["watch", k], ["set", k, "0"], ["multi"], ["set", k, "1"], ["exec"]]);
    expect(res.json()).toEqual([
      { result: "OK" },
      { result: "OK" },
      { result: "OK" },
      { result: b64("QUEUED") },
      { result: null },
    ]);
    expect(await redis.get(k)).toBe(0);
  });

  test("SCAN cursor and keys (client decode table: [0,[…]])", async () => {
    const k = key("scan-target");
    await redis.set(k, 1);
    const [cursor, keys] = await redis.scan(0, { match: k, count: 1000 });
    expect(String(cursor)).toMatch(/^\d+$/);
    expect(Array.isArray(keys)).toBe(true);
  });
});

describe("commands the worker sends", () => {
  test("SET NX EX: first wins, second is null, TTL set", async () => {
    const k = key("dedupe");
    expect(await redis.set(k, "1", { nx: true, ex: 60 })).toBe("OK");
    expect(await redis.set(k, "2", { nx: true, ex: 60 })).toBeNull();
    const ttl = await redis.ttl(k);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(60);
    expect(await redis.get(k)).toBe(1);
  });

  test("PFADD/PFCOUNT", async () => {
    const k = key("hll");
    expect(await redis.pfadd(k, "u1", "u2", "u3")).toBe(1);
    expect(await redis.pfadd(k, "u1")).toBe(0);
    expect(await redis.pfcount(k)).toBe(3);
  });

  test("ZADD/ZRANGE with scores: floats arrive as bulk strings", async () => {
    const k = key("sessions");
    expect(await redis.zadd(k, { score: 1.5, member: "s1" }, { score: 1732000000123, member: "s2" })).toBe(2);
    expect(await redis.zrange(k, 0, -1, { withScores: true })).toEqual(["s1", 1.5, "s2", 1732000000123]);
    expect(await redis.zscore(k, "s1")).toBe(1.5);
    expect((await raw("/", ["zscore", k, "s1"])).text).toBe(`{"result":"${b64("1.5")}"}`);
    expect(await redis.zremrangebyscore(k, 0, 2)).toBe(1);
    expect(await redis.zcard(k)).toBe(1);
  });

  test("EVAL: nested table with integers, strings and a key read", async () => {
    const k = key("eval");
    await redis.set(k, "ünï");
    const script = "return {1, 'two', {3, 'four'}, redis.call('GET', KEYS[1]), ARGV[1]}";
    expect(await redis.eval(script, [k], ["arg"])).toEqual([1, "two", [3, "four"], "ünï", "arg"]);
  });

  test("EVAL error_reply surfaces as an error", async () => {
    await expect(redis.eval("return redis.error_reply('BOOM custom failure')", [], [])).rejects.toThrow(
      /BOOM custom failure/,
    );
  });

  test("SCRIPT LOAD then EVALSHA", async () => {
    const sha = await redis.scriptLoad("return tonumber(ARGV[1]) * 2");
    expect(sha).toMatch(/^[0-9a-f]{40}$/);
    expect(await redis.evalsha(sha, [], [21])).toBe(42);
  });

  test("EVALSHA NOSCRIPT: createScript falls back to EVAL, then the next call uses EVALSHA", async () => {
    const k = key("script");
    // A source unique to this run, so the script cache cannot already hold it.
    const source = `-- ${k}\nreturn redis.call('INCRBY', KEYS[1], ARGV[1])`;
    const script = redis.createScript<number>(source);

    const evalsBefore = await commandCalls("eval");
    bridge.resetStats();
    expect(await script.exec([k], ["5"])).toBe(5);
    // EVALSHA answered NOSCRIPT (one error item), then EVAL ran: two requests, two commands.
    expect(bridge.stats()).toEqual({ requests: 2, commands: 2, errors: 1 });
    expect(await commandCalls("eval")).toBe(evalsBefore + 1);

    bridge.resetStats();
    expect(await script.exec([k], ["5"])).toBe(10);
    expect(bridge.stats()).toEqual({ requests: 1, commands: 1, errors: 0 });
    // The second call did not run EVAL again: it was EVALSHA against the now-cached script.
    expect(await commandCalls("eval")).toBe(evalsBefore + 1);
  });

  test("NOSCRIPT reaches the client as an error containing NOSCRIPT", async () => {
    await expect(redis.evalsha("0".repeat(40), [], [])).rejects.toThrow(/NOSCRIPT/);
  });
});

describe("errors", () => {
  test("WRONGTYPE through /pipeline (auto-pipelined command)", async () => {
    const k = key("wrongtype");
    await redis.set(k, "a string");
    await expect(redis.hincrby(k, "f", 1)).rejects.toThrow(
      /WRONGTYPE Operation against a key holding the wrong kind of value/,
    );
  });

  test("WRONGTYPE through / is a 400 with the full error line", async () => {
    const k = key("wrongtype-single");
    await redis.set(k, "a string");
    await expect(redis.hgetall(k)).rejects.toThrow(/WRONGTYPE Operation against a key/);
    const res = await raw("/", ["hgetall", k]);
    expect(res.status).toBe(400);
    expect(res.json()).toEqual({ error: "WRONGTYPE Operation against a key holding the wrong kind of value" });
  });

  test("/pipeline is always 200 with a per-command error item", async () => {
    const k = key("pipeline-errors");
    const res = await raw("/pipeline", [["set", k, "x"], ["incr", k], ["nosuchcommand"], ["get", k]]);
    expect(res.status).toBe(200);
    const items = res.json() as { result?: unknown; error?: string }[];
    expect(items[0]).toEqual({ result: "OK" });
    expect(items[1]?.error).toMatch(/^ERR value is not an integer/);
    expect(items[2]?.error).toMatch(/^ERR unknown command/);
    expect(items[3]).toEqual({ result: b64("x") });
  });

  test("bad or missing token → 401 Unauthorized", async () => {
    const wrong = new Redis({ url: bridge.url, token: "not-the-token", enableTelemetry: false });
    await expect(wrong.get("anything")).rejects.toThrow(/Unauthorized/);
    for (const token of [null, "not-the-token", `${TOKEN}x`, ""]) {
      const res = await raw("/pipeline", [["get", "k"]], { token });
      expect(res.status).toBe(401);
      expect(res.json()).toEqual({ error: "Unauthorized" });
    }
  });

  const garbage: { name: string; path: string; body: string; status: number; method?: string }[] = [
    { name: "empty pipeline", path: "/pipeline", body: "[]", status: 400 },
    { name: "empty transaction", path: "/multi-exec", body: "[]", status: 400 },
    { name: "empty command", path: "/", body: "[]", status: 400 },
    { name: "object body", path: "/pipeline", body: '{"cmd":"get"}', status: 400 },
    { name: "string body", path: "/", body: '"GET k"', status: 400 },
    { name: "invalid JSON", path: "/", body: '["get",', status: 400 },
    { name: "empty body", path: "/pipeline", body: "", status: 400 },
    { name: "null argument", path: "/", body: '["set","k",null]', status: 400 },
    { name: "object argument", path: "/", body: '["set","k",{"a":1}]', status: 400 },
    { name: "pipeline item not an array", path: "/pipeline", body: '[["get","k"],"get"]', status: 400 },
    { name: "pipeline item with nested array", path: "/pipeline", body: '[["get",["k"]]]', status: 400 },
    { name: "huge nesting", path: "/pipeline", body: "[".repeat(200_000) + "]".repeat(200_000), status: 400 },
    { name: "RESP3 switch (HELLO 3)", path: "/", body: '["hello","3"]', status: 400 },
    { name: "SUBSCRIBE", path: "/", body: '["subscribe","ch"]', status: 400 },
    { name: "GET method", path: "/", body: "", status: 405, method: "GET" },
    { name: "PUT method", path: "/pipeline", body: "[]", status: 405, method: "PUT" },
  ];
  for (const g of garbage) {
    test(`garbage input is refused, not crashed on: ${g.name} → ${g.status}`, async () => {
      const res = await raw(g.path, g.body, g.method ? { method: g.method } : {});
      expect(res.status).toBe(g.status);
      expect((res.json() as { error: string }).error).toMatch(/^ERR /);
      // The bridge still answers, and still speaks RESP2 (HGETALL stays a flat array).
      const k = key("after-garbage");
      await redis.hset(k, { f: "v" });
      expect(await redis.hgetall(k)).toEqual({ f: "v" });
    });
  }

  test("null argument is not written as anything", async () => {
    const k = key("null-arg");
    const res = await raw("/pipeline", [["set", k, "1"], ["set", k, null]]);
    expect(res.status).toBe(400);
    expect(await redis.exists(k)).toBe(0);
  });
});

describe("pipelines and transactions", () => {
  test("auto-pipelined concurrent commands arrive as one /pipeline request", async () => {
    const k = key("auto");
    bridge.resetStats();
    const results = await Promise.all(Array.from({ length: 10 }, () => redis.incr(k)));
    expect(results).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(bridge.stats()).toEqual({ requests: 1, commands: 10, errors: 0 });
  });

  test("a /pipeline runs in order on one connection", async () => {
    const res = await raw("/pipeline", [["client", "id"], ["client", "id"], ["client", "id"]]);
    const ids = (res.json() as { result: number }[]).map((item) => item.result);
    expect(new Set(ids).size).toBe(1);
  });

  test("redis.pipeline(): results in order, one request; a failing command names its index", async () => {
    const k = key("pipe");
    bridge.resetStats();
    const pipe = redis.pipeline();
    pipe.set(k, "1");
    pipe.incr(k);
    pipe.get(k);
    pipe.hset(key("pipe-hash"), { a: 1 });
    expect(await pipe.exec()).toEqual(["OK", 2, 2, 1]);
    expect(bridge.stats()).toMatchObject({ requests: 1, commands: 4 });

    const failing = redis.pipeline();
    failing.set(k, "text");
    failing.incr(k);
    failing.set(key("after"), "ran");
    await expect(failing.exec()).rejects.toThrow(/Command 2 \[ incr \] failed: ERR value is not an integer/);
    expect(await redis.get(k)).toBe("text");
  });

  test("redis.multi(): atomic results", async () => {
    const k = key("multi");
    bridge.resetStats();
    const tx = redis.multi();
    tx.set(k, "1");
    tx.incrby(k, 9007199254740990);
    tx.get(k);
    tx.expire(k, 60);
    expect(await tx.exec()).toEqual(["OK", 9007199254740991, 9007199254740991, 1]);
    // MULTI and EXEC wrapped by the bridge are not commands the client asked for.
    expect(bridge.stats()).toEqual({ requests: 1, commands: 4, errors: 0 });
  });

  test("EXECABORT (queueing error) → a single 400 and nothing ran", async () => {
    const k = key("execabort");
    const res = await raw("/multi-exec", [["set", k, "1"], ["nosuchcommand", "x"], ["incr", k]]);
    expect(res.status).toBe(400);
    expect((res.json() as { error: string }).error).toMatch(/^EXECABORT .*unknown command/);
    expect(await redis.exists(k)).toBe(0);

    const wrongArity = await raw("/multi-exec", [["set", k]]);
    expect(wrongArity.status).toBe(400);
    expect((wrongArity.json() as { error: string }).error).toMatch(/EXECABORT.*wrong number of arguments/);
  });

  test("runtime error inside multi → per-item error, the other commands ran", async () => {
    const k = key("runtime");
    const counter = key("runtime-counter");
    await redis.set(k, "a string");
    const tx = redis.multi();
    tx.incr(counter);
    tx.hget(k, "f");
    tx.incr(counter);
    await expect(tx.exec()).rejects.toThrow(/Command 2 \[ hget \] failed: WRONGTYPE/);
    expect(await redis.get(counter)).toBe(2);

    const res = await raw("/multi-exec", [["incr", counter], ["hget", k, "f"], ["get", counter]]);
    expect(res.status).toBe(200);
    expect(res.json()).toEqual([
      { result: 3 },
      { error: "WRONGTYPE Operation against a key holding the wrong kind of value" },
      { result: b64("3") },
    ]);
  });

  test("MULTI/EXEC inside a /multi-exec body is refused before anything runs", async () => {
    const k = key("nested-multi");
    const res = await raw("/multi-exec", [["set", k, "1"], ["exec"]]);
    expect(res.status).toBe(400);
    expect(await redis.exists(k)).toBe(0);
  });

  test("SELECT in a pipeline does not leak into later requests", async () => {
    const k = key("select");
    await redis.set(k, "db0");
    for (let i = 0; i < 5; i++) {
      const res = await raw("/pipeline", [["select", 1], ["get", k]]);
      expect(res.json()).toEqual([{ result: "OK" }, { result: null }]);
    }
    const checks = await Promise.all(Array.from({ length: 40 }, () => raw("/", ["get", k])));
    for (const check of checks) expect(check.json()).toEqual({ result: b64("db0") });
  });

  test("many concurrent requests each get their own replies", async () => {
    const requests = Array.from({ length: 200 }, (_, i) => {
      const k = key(`concurrent-${i}`);
      const n = (i % 7) + 1;
      return raw("/pipeline", Array.from({ length: n }, () => ["incr", k])).then((res) => ({ res, n }));
    });
    for (const { res, n } of await Promise.all(requests)) {
      expect(res.json()).toEqual(Array.from({ length: n }, (_, j) => ({ result: j + 1 })));
    }
  });
});

describe("encodings and entry points", () => {
  test("responseEncoding:false: plain UTF-8 strings, same client results", async () => {
    const plain = new Redis({ url: bridge.url, token: TOKEN, responseEncoding: false, enableTelemetry: false });
    const k = key("plain");
    await plain.set(k, "ünï ✓ 🚀");
    expect(await plain.get(k)).toBe("ünï ✓ 🚀");
    const h = key("plain-hash");
    await plain.hset(h, { a: 1, b: "x" });
    expect(await plain.hgetall(h)).toEqual({ a: 1, b: "x" });
    const s = key("plain-stream");
    const id = await plain.xadd(s, "*", { f: "v" });
    expect(await plain.xrange(s, "-", "+")).toEqual({ [id]: { f: "v" } });
    expect(await plain.incr(key("plain-n"))).toBe(1);
    expect(await plain.ping()).toBe("PONG");

    const res = await raw("/pipeline", [["get", k], ["ping"], ["set", k, "v"]], { base64: false });
    expect(res.text).toBe(JSON.stringify([{ result: "ünï ✓ 🚀" }, { result: "PONG" }, { result: "OK" }]));
  });

  test("simple strings other than OK are base64 encoded (PONG)", async () => {
    expect(await redis.ping()).toBe("PONG");
    expect((await raw("/", ["ping"])).text).toBe(`{"result":"${b64("PONG")}"}`);
    expect((await raw("/", ["set", key("ok"), "v"])).text).toBe('{"result":"OK"}');
  });

  test("@upstash/redis/cloudflare entry works against the bridge", async () => {
    const cf = new CloudflareRedis({ url: bridge.url, token: TOKEN, enableTelemetry: false });
    const k = key("cloudflare");
    expect(await cf.set(k, "édge")).toBe("OK");
    expect(await cf.get(k)).toBe("édge");
    expect(await cf.incr(key("cf-n"))).toBe(1);
  });

  test("stats endpoint: bearer auth, read and reset", async () => {
    await redis.get(key("stats"));
    const unauthorized = await raw("/__bridge/stats", undefined, { method: "GET", token: "nope" });
    expect(unauthorized.status).toBe(401);
    const stats = await raw("/__bridge/stats", undefined, { method: "GET" });
    expect(stats.status).toBe(200);
    expect((stats.json() as { requests: number }).requests).toBeGreaterThan(0);
    const reset = await raw("/__bridge/stats/reset", "");
    expect(reset.status).toBe(200);
    expect(bridge.stats()).toEqual({ requests: 0, commands: 0, errors: 0 });
  });
});

describe("Redis outages", () => {
  test("Redis stopped → the client call rejects within 2 s; restarted on the same port → works again", async () => {
    const ownRedis = await startPrivateRedis();
    const ownBridge = await startUpstashBridge({ redisUrl: ownRedis.url, token: TOKEN });
    try {
      const client = new Redis({ url: ownBridge.url, token: TOKEN, enableTelemetry: false });
      expect(await client.set("k", "before")).toBe("OK");

      await ownRedis.stop();
      const started = Date.now();
      await expect(client.get("k")).rejects.toThrow(/cannot reach Redis|Redis .*failed/);
      expect(Date.now() - started).toBeLessThan(2_000);
      const res = await fetch(`${ownBridge.url}/`, {
        method: "POST",
        headers: { authorization: `Bearer ${TOKEN}` },
        body: '["get","k"]',
      });
      expect(res.status).toBe(500);
      expect(Object.keys((await res.json()) as object)).toEqual(["error"]);

      await ownRedis.start();
      expect(await client.set("k", "after")).toBe("OK");
      expect(await client.get("k")).toBe("after");
      expect(await Promise.all([client.incr("n"), client.incr("n")])).toEqual([1, 2]);
    } finally {
      await ownBridge.close();
      await ownRedis.stop();
    }
  }, 20_000);
});

describe("RESP2 client", () => {
  const stream = Buffer.from(
    [
      "+OK\r\n",
      "-ERR something\r\n",
      ":9223372036854775807\r\n",
      ":-42\r\n",
      "$5\r\nhe\r\nl\r\n", // CRLF inside a bulk payload
      "$0\r\n\r\n",
      "$-1\r\n",
      "*-1\r\n",
      "*0\r\n",
      "*2\r\n*2\r\n$3\r\n1-0\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n:1\r\n",
    ].join(""),
  );
  const expected: RespReply[] = [
    { type: "simple", value: Buffer.from("OK") },
    { type: "error", message: "ERR something" },
    { type: "integer", value: "9223372036854775807" },
    { type: "integer", value: "-42" },
    { type: "bulk", value: Buffer.from("he\r\nl") },
    { type: "bulk", value: Buffer.alloc(0) },
    { type: "bulk", value: null },
    { type: "array", value: null },
    { type: "array", value: [] },
    {
      type: "array",
      value: [
        {
          type: "array",
          value: [
            { type: "bulk", value: Buffer.from("1-0") },
            {
              type: "array",
              value: [
                { type: "bulk", value: Buffer.from("f") },
                { type: "bulk", value: Buffer.from("v") },
              ],
            },
          ],
        },
        { type: "integer", value: "1" },
      ],
    },
  ];

  const splits: { name: string; sizes: (i: number) => number }[] = [
    { name: "whole stream in one chunk", sizes: () => stream.length },
    { name: "one byte at a time", sizes: () => 1 },
    { name: "uneven chunks", sizes: (i) => [3, 1, 7, 2, 11][i % 5]! },
  ];
  for (const split of splits) {
    test(`parser: ${split.name}`, () => {
      const replies: RespReply[] = [];
      const parser = new RespParser((r) => replies.push(r));
      for (let offset = 0, i = 0; offset < stream.length; i++) {
        const size = split.sizes(i);
        parser.push(stream.subarray(offset, offset + size));
        offset += size;
      }
      expect(replies).toEqual(expected);
      expect(parser.busy).toBe(false);
    });
  }

  test("parser rejects RESP3 and malformed input", () => {
    for (const bad of ["%1\r\n+a\r\n+b\r\n", ":12x\r\n", "$3\r\nabcd\r\n", "$x\r\n"]) {
      const parser = new RespParser(() => {});
      expect(() => parser.push(Buffer.from(bad))).toThrow();
    }
  });

  test("encoder: strings as UTF-8, numbers via String(n), booleans as words", () => {
    expect(encodeCommands([["SET", "ü", 1.5, true]]).toString()).toBe(
      "*4\r\n$3\r\nSET\r\n$2\r\nü\r\n$3\r\n1.5\r\n$4\r\ntrue\r\n",
    );
  });

  test("pipelined commands against real Redis keep order and exact integers", async () => {
    const k = key("resp");
    const replies = await direct.sendMany([
      ["SET", k, "9223372036854775806"],
      ["INCR", k],
      ["GET", k],
      ["HGETALL", key("none")],
      ["NOSUCHCOMMAND"],
    ]);
    expect(replies[0]).toEqual({ type: "simple", value: Buffer.from("OK") });
    expect(replies[1]).toEqual({ type: "integer", value: "9223372036854775807" });
    expect(replies[2]).toEqual({ type: "bulk", value: Buffer.from("9223372036854775807") });
    expect(replies[3]).toEqual({ type: "array", value: [] });
    expect(replies[4]?.type).toBe("error");
  });
});
