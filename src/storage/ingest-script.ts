/**
 * The whole Redis side of one ingested batch, as one atomic script (one EVALSHA: one round trip,
 * one billed Upstash command). In order:
 *
 * 1. the write key's rate limit for the current window → `rate_limited` with seconds to wait;
 * 2. the write-ahead buffer at its cap → `backpressure` (the buffer is never trimmed: we refuse);
 * 3. per event, `SET NX EX` on its id: events seen within the dedupe window are duplicates
 *    (a resent batch, or a resend regrouped with new events after a page change); none new →
 *    `duplicate`, nothing else is written;
 * 4. counters (HINCRBY), uniques (PFADD), active sessions (ZADD, trimmed), TTLs. When every event
 *    is new (the usual case) the increments aggregated in the worker are applied as they are;
 *    otherwise the script aggregates the new events' own contributions;
 * 5. the new events' rows appended to the buffer stream as one entry (XADD).
 *
 * KEYS: [1] rate-limit counter, [2] buffer stream, [3] active sessions,
 *       [4 .. 3+n] one dedupe key per event, then the counter keys the ops reference by index.
 * ARGV: [1] now (ms), [2] event dedupe TTL (s), [3] rate limit per window (0 = off),
 *       [4] rate window (s), [5] buffer cap (entries), [6] active-session window (ms),
 *       [7] aggregated ops JSON (all events):
 *           { "i": [[keyIndex, field, n], …]   HINCRBY
 *             "p": [[keyIndex, member, …], …]  PFADD
 *             "z": [score, member, …]          ZADD on KEYS[3]
 *             "t": [[keyIndex, ttl], …] }      EXPIRE
 *       [8] per-event contributions JSON, one per event:
 *           [[hourKey, hourUsersKey, hourSessionsKey, minuteKey, minuteUsersKey,
 *             eventField, categoryField, userId, sessionId, timeMs, bot], …]
 *           (key indexes; 0 = none; "" = no user/session; bot 1/0)
 *       [9] n, the number of events; [10], [11] the buffer entry's text before and after its rows
 *       (see storage/buffer.ts); [12 .. 11+n] each event's row as JSON.
 * Returns {status, value, count}: {"ok", entryId, newEvents} | {"duplicate", "", "0"} |
 *         {"rate_limited", secondsUntilReset, "0"} | {"backpressure", bufferLength, "0"} |
 *         {"invalid", decoderMessage, "0"}.
 *
 * ARGV[7] and ARGV[8] are decoded first, before any write: a script that fails after its first
 * write keeps that write (Redis does not roll scripts back), so a batch cjson cannot read (a lone
 * surrogate the worker's validation missed) must be refused before it takes dedupe keys or quota.
 */
export const INGEST_SCRIPT = `
local decodedOps, ops = pcall(cjson.decode, ARGV[7])
local decodedEvents, events = pcall(cjson.decode, ARGV[8])
if not decodedOps then return {'invalid', tostring(ops), '0'} end
if not decodedEvents then return {'invalid', tostring(events), '0'} end

local limit = tonumber(ARGV[3])
if limit > 0 then
  local used = redis.call('INCR', KEYS[1])
  if used == 1 then redis.call('EXPIRE', KEYS[1], tonumber(ARGV[4])) end
  if used > limit then
    local ttl = redis.call('TTL', KEYS[1])
    if ttl < 1 then ttl = 1 end
    return {'rate_limited', tostring(ttl), '0'}
  end
end

local length = redis.call('XLEN', KEYS[2])
if length >= tonumber(ARGV[5]) then return {'backpressure', tostring(length), '0'} end

local n = tonumber(ARGV[9])
local fresh = {}
for i = 1, n do
  if redis.call('SET', KEYS[3 + i], '1', 'NX', 'EX', ARGV[2]) then fresh[#fresh + 1] = i end
end
if #fresh == 0 then return {'duplicate', '', '0'} end

if #fresh < n then
  -- Some events were seen before: count only the new ones.
  local counts, members, seen = {}, {}, {}
  local function bump(key, field)
    if key == 0 then return end
    counts[key] = counts[key] or {}
    counts[key][field] = (counts[key][field] or 0) + 1
  end
  local function member(key, value)
    if key == 0 or value == '' then return end
    members[key] = members[key] or {}
    members[key][value] = true
  end
  for _, i in ipairs(fresh) do
    local e = events[i]
    for _, key in ipairs({e[1], e[4]}) do
      bump(key, 'total')
      bump(key, e[6])
      bump(key, e[7])
      if e[11] == 1 then bump(key, 'bots') end
    end
    member(e[2], e[8])
    member(e[5], e[8])
    member(e[3], e[9])
    if e[9] ~= '' and (seen[e[9]] == nil or e[10] > seen[e[9]]) then seen[e[9]] = e[10] end
  end
  ops.i, ops.p, ops.z = {}, {}, {}
  for key, fields in pairs(counts) do
    for field, count in pairs(fields) do ops.i[#ops.i + 1] = {key, field, count} end
  end
  for key, set in pairs(members) do
    local op = {key}
    for value in pairs(set) do op[#op + 1] = value end
    ops.p[#ops.p + 1] = op
  end
  for session, at in pairs(seen) do
    ops.z[#ops.z + 1] = at
    ops.z[#ops.z + 1] = session
  end
end

for _, op in ipairs(ops.i) do
  redis.call('HINCRBY', KEYS[op[1]], op[2], op[3])
end
for _, op in ipairs(ops.p) do
  redis.call('PFADD', KEYS[op[1]], unpack(op, 2))
end
if #ops.z > 0 then
  redis.call('ZADD', KEYS[3], unpack(ops.z))
  redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', tonumber(ARGV[1]) - tonumber(ARGV[6]))
end
for _, op in ipairs(ops.t) do
  redis.call('EXPIRE', KEYS[op[1]], op[2])
end

local rows = {}
for _, i in ipairs(fresh) do rows[#rows + 1] = ARGV[11 + i] end
local id = redis.call('XADD', KEYS[2], '*', 'b', ARGV[10] .. table.concat(rows, ',') .. ARGV[11])
return {'ok', id, tostring(#fresh)}
`;
