/**
 * The whole Redis side of one ingested batch, as one atomic script (one EVALSHA: one round trip,
 * one billed Upstash command). In order:
 *
 * 1. the client's rate limit (INCR; every batch counts, duplicates included: a replayed batch
 *    costs the same work, and refunding it would make a replay flood free) → `rate_limited`
 *    `client`;
 * 2. the write key's ceiling (GET: only batches that carried a new event were counted, step 5)
 *    → `rate_limited` `key`;
 * 3. the write-ahead buffer at its cap of entries or of bytes → `backpressure` (the buffer is
 *    never trimmed: we refuse);
 * 4. per event, `SET NX EX` on its id: events seen within the dedupe window are duplicates
 *    (a resent batch, or a resend regrouped with new events after a page change); none new →
 *    `duplicate`, nothing else is written (and the write key's ceiling is not charged);
 * 5. the write key's ceiling charged (INCR);
 * 6. counters (HINCRBY), uniques (PFADD), active sessions (ZADD, trimmed by age and by count),
 *    TTLs. When every event is new (the usual case) the increments aggregated in the worker are
 *    applied as they are; otherwise the script aggregates the new events' own contributions.
 *    An event name (category) gets its own field only if the hour hash already has it or has
 *    fewer than the cap of distinct names (categories), counted in the hour hash's `#e` (`#c`)
 *    field; otherwise it is counted under the overflow field `o:e` (`o:c`), in the hour and the
 *    minute hash alike, so each name is either counted by name for the whole hour or not at all;
 * 7. the new events' rows appended to the buffer stream as one entry (XADD), its bytes added to
 *    the buffer's byte count.
 *
 * KEYS: [1] client rate counter, [2] write-key rate counter, [3] buffer stream,
 *       [4] active sessions, [5] buffer byte count,
 *       [6 .. 5+n] one dedupe key per event, then the counter keys the ops reference by index.
 * ARGV: [1] now (ms), [2] event dedupe TTL (s), [3] client limit per window (0 = off),
 *       [4] write-key ceiling per window (0 = off), [5] rate window (s),
 *       [6] buffer cap (entries), [7] buffer cap (bytes), [8] active-session window (ms),
 *       [9] active-session cap (members), [10] event-name cap, [11] category cap (per hour),
 *       [12] aggregated ops JSON (all events):
 *           { "i": [[keyIndex, field, n, hourKeyIndex], …]  HINCRBY (hourKeyIndex: the hour hash
 *                                                            that admits a name field; 0 = none)
 *             "p": [[keyIndex, member, …], …]  PFADD
 *             "z": [score, member, …]          ZADD on KEYS[4]
 *             "t": [[keyIndex, ttl], …] }      EXPIRE
 *       [13] per-event contributions JSON, one per event:
 *           [[hourKey, hourUsersKey, hourSessionsKey, minuteKey, minuteUsersKey,
 *             eventField, categoryField, userId, sessionId, timeMs, bot], …]
 *           (key indexes; 0 = none; "" = no user/session; bot 1/0)
 *       [14] n, the number of events; [15], [16] the buffer entry's text before and after its rows
 *       (see storage/buffer.ts); [17 .. 16+n] each event's row as JSON.
 * Returns {status, value, count}: {"ok", entryId, newEvents} | {"duplicate", "", "0"} |
 *         {"rate_limited", secondsUntilReset, "client" | "key"} | {"backpressure", bufferLength, "0"} |
 *         {"invalid", decoderMessage, "0"}.
 *
 * ARGV[12] and ARGV[13] are decoded first, before any write: a script that fails after its first
 * write keeps that write (Redis does not roll scripts back), so a batch cjson cannot read (a lone
 * surrogate the worker's validation missed) must be refused before it takes dedupe keys or quota.
 */
export const INGEST_SCRIPT = `
local decodedOps, ops = pcall(cjson.decode, ARGV[12])
local decodedEvents, events = pcall(cjson.decode, ARGV[13])
if not decodedOps then return {'invalid', tostring(ops), '0'} end
if not decodedEvents then return {'invalid', tostring(events), '0'} end

local window = tonumber(ARGV[5])
local function over(key, limit, charge)
  if limit <= 0 then return false end
  local used
  if charge then
    used = redis.call('INCR', key)
    if used == 1 then redis.call('EXPIRE', key, window) end
    return used > limit
  end
  return tonumber(redis.call('GET', key) or '0') >= limit
end
local function retryAfter(key)
  local ttl = redis.call('TTL', key)
  if ttl < 1 then ttl = 1 end
  return tostring(ttl)
end
if over(KEYS[1], tonumber(ARGV[3]), true) then return {'rate_limited', retryAfter(KEYS[1]), 'client'} end
local keyLimit = tonumber(ARGV[4])
if over(KEYS[2], keyLimit, false) then return {'rate_limited', retryAfter(KEYS[2]), 'key'} end

local length = redis.call('XLEN', KEYS[3])
if length >= tonumber(ARGV[6]) then return {'backpressure', tostring(length), '0'} end
local bytes = 0
if length == 0 then redis.call('DEL', KEYS[5]) else bytes = tonumber(redis.call('GET', KEYS[5]) or '0') end
if bytes >= tonumber(ARGV[7]) then return {'backpressure', tostring(length), '0'} end

local n = tonumber(ARGV[14])
local fresh = {}
for i = 1, n do
  if redis.call('SET', KEYS[5 + i], '1', 'NX', 'EX', ARGV[2]) then fresh[#fresh + 1] = i end
end
if #fresh == 0 then return {'duplicate', '', '0'} end
over(KEYS[2], keyLimit, true)

if #fresh < n then
  -- Some events were seen before: count only the new ones.
  local counts, order, members, seen = {}, {}, {}, {}
  local function bump(key, hour, field)
    if key == 0 then return end
    local id = key .. ' ' .. field
    local op = counts[id]
    if op == nil then
      op = {key, field, 0, hour}
      counts[id] = op
      order[#order + 1] = op
    end
    op[3] = op[3] + 1
  end
  local function member(key, value)
    if key == 0 or value == '' then return end
    members[key] = members[key] or {}
    members[key][value] = true
  end
  for _, i in ipairs(fresh) do
    local e = events[i]
    for _, key in ipairs({e[1], e[4]}) do
      bump(key, 0, 'total')
      bump(key, e[1], e[6])
      bump(key, e[1], e[7])
      if e[11] == 1 then bump(key, 0, 'bots') end
    end
    member(e[2], e[8])
    member(e[5], e[8])
    member(e[3], e[9])
    if e[9] ~= '' and (seen[e[9]] == nil or e[10] > seen[e[9]]) then seen[e[9]] = e[10] end
  end
  ops.i, ops.p, ops.z = order, {}, {}
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

-- Name fields: admitted by the hour hash (see step 6), decided once per hour and field.
local caps = {e = tonumber(ARGV[10]), c = tonumber(ARGV[11])}
local admitted = {}
local function admit(hour, field)
  local id = hour .. ' ' .. field
  local chosen = admitted[id]
  if chosen then return chosen end
  local hash = KEYS[hour]
  local kind = string.sub(field, 1, 1)
  if redis.call('HEXISTS', hash, field) == 1 then
    chosen = field
  elseif tonumber(redis.call('HGET', hash, '#' .. kind) or '0') < caps[kind] then
    redis.call('HINCRBY', hash, '#' .. kind, 1)
    chosen = field
  else
    chosen = 'o:' .. kind
  end
  admitted[id] = chosen
  return chosen
end
for _, op in ipairs(ops.i) do
  local field = op[2]
  if op[4] ~= nil and op[4] ~= 0 then field = admit(op[4], field) end
  redis.call('HINCRBY', KEYS[op[1]], field, op[3])
end
for _, op in ipairs(ops.p) do
  redis.call('PFADD', KEYS[op[1]], unpack(op, 2))
end
if #ops.z > 0 then
  redis.call('ZADD', KEYS[4], unpack(ops.z))
  redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', tonumber(ARGV[1]) - tonumber(ARGV[8]))
  redis.call('ZREMRANGEBYRANK', KEYS[4], 0, -1 - tonumber(ARGV[9]))
end
for _, op in ipairs(ops.t) do
  redis.call('EXPIRE', KEYS[op[1]], op[2])
end

local rows = {}
for _, i in ipairs(fresh) do rows[#rows + 1] = ARGV[16 + i] end
local payload = ARGV[15] .. table.concat(rows, ',') .. ARGV[16]
local id = redis.call('XADD', KEYS[3], '*', 'b', payload)
redis.call('INCRBY', KEYS[5], string.len(payload))
return {'ok', id, tostring(#fresh)}
`;

/**
 * Deletes buffer entries and subtracts their bytes from the buffer's byte count, atomically (one
 * command, like the XDEL it replaces). Ids no longer in the stream are skipped; the count is
 * dropped when the stream is empty, so it cannot drift for long.
 *
 * KEYS: [1] buffer stream, [2] buffer byte count. ARGV: the entry ids. Returns the bytes freed.
 */
export const BUFFER_DELETE_SCRIPT = `
local freed = 0
for i = 1, #ARGV do
  local entry = redis.call('XRANGE', KEYS[1], ARGV[i], ARGV[i])
  if #entry > 0 then
    local fields = entry[1][2]
    for j = 2, #fields, 2 do freed = freed + string.len(fields[j]) end
    redis.call('XDEL', KEYS[1], ARGV[i])
  end
end
if redis.call('XLEN', KEYS[1]) == 0 then
  redis.call('DEL', KEYS[2])
elseif freed > 0 then
  redis.call('DECRBY', KEYS[2], freed)
end
return freed
`;
