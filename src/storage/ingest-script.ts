/**
 * The whole Redis side of one ingested batch, as one atomic script (one EVALSHA: one round trip,
 * one billed Upstash command). In order:
 *
 * 1. a batch already accepted (same sorted event ids) → `duplicate`, nothing else is written;
 * 2. the write key's rate limit for the current window → `rate_limited` with seconds to wait;
 * 3. the write-ahead buffer at its cap → `backpressure` (the buffer is never trimmed: we refuse);
 * 4. counters (HINCRBY), uniques (PFADD), active sessions (ZADD, trimmed), TTLs;
 * 5. the normalised batch appended to the buffer stream (XADD), and the batch marked seen.
 *
 * KEYS: [1] batch marker, [2] rate-limit counter, [3] buffer stream, [4] active sessions,
 *       [5..] counter keys referenced by index from the ops.
 * ARGV: [1] now (ms), [2] batch marker TTL (s), [3] rate limit per window (0 = off),
 *       [4] rate window (s), [5] buffer cap (entries), [6] active-session window (ms),
 *       [7] buffer payload, [8] ops JSON:
 *       { "i": [[keyIndex, field, n], …]   HINCRBY
 *         "p": [[keyIndex, member, …], …]  PFADD
 *         "z": [score, member, …]          ZADD on KEYS[4]
 *         "t": [[keyIndex, ttl], …] }      EXPIRE
 * Returns {status, value}: {"ok", entryId} | {"duplicate", entryId} |
 *         {"rate_limited", secondsUntilReset} | {"backpressure", bufferLength}.
 */
export const INGEST_SCRIPT = `
local seen = redis.call('GET', KEYS[1])
if seen then return {'duplicate', seen} end

local limit = tonumber(ARGV[3])
if limit > 0 then
  local used = redis.call('INCR', KEYS[2])
  if used == 1 then redis.call('EXPIRE', KEYS[2], tonumber(ARGV[4])) end
  if used > limit then
    local ttl = redis.call('TTL', KEYS[2])
    if ttl < 1 then ttl = 1 end
    return {'rate_limited', tostring(ttl)}
  end
end

local length = redis.call('XLEN', KEYS[3])
if length >= tonumber(ARGV[5]) then return {'backpressure', tostring(length)} end

local ops = cjson.decode(ARGV[8])
for _, op in ipairs(ops.i) do
  redis.call('HINCRBY', KEYS[op[1]], op[2], op[3])
end
for _, op in ipairs(ops.p) do
  redis.call('PFADD', KEYS[op[1]], unpack(op, 2))
end
if #ops.z > 0 then
  redis.call('ZADD', KEYS[4], unpack(ops.z))
  redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', tonumber(ARGV[1]) - tonumber(ARGV[6]))
end
for _, op in ipairs(ops.t) do
  redis.call('EXPIRE', KEYS[op[1]], op[2])
end

local id = redis.call('XADD', KEYS[3], '*', 'b', ARGV[7])
redis.call('SET', KEYS[1], id, 'EX', tonumber(ARGV[2]))
return {'ok', id}
`;
