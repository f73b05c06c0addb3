import { VISITOR_PLACEHOLDER } from "../buffer";
import { BUFFER_FIELD, COUNTER_FIELDS } from "../redis-keys";
import { luaIndexes, luaLocals, luaString, type Slots } from "./contract";

/** The ingest script's fixed KEYS, in order; then one dedupe key per event and the counter keys. */
export const INGEST_KEYS = [
  { name: "client_rate", as: "string", doc: "the client's rate counter for this window" },
  { name: "key_rate", as: "string", doc: "the write key's rate counter for this window" },
  { name: "buffer", as: "string", doc: "the write-ahead buffer stream" },
  { name: "active_sessions", as: "string", doc: "sorted set of active sessions (score: last seen, ms)" },
  { name: "buffer_bytes", as: "string", doc: "the buffer's byte count" },
  { name: "visitor_salt", as: "string", doc: "the salt of visitor ids for the current UTC day" },
] as const satisfies Slots;

/** The ingest script's fixed ARGV, in order; then each event's row as JSON. */
export const INGEST_ARGV = [
  { name: "now_ms", as: "number", doc: "now (epoch ms)" },
  { name: "dedupe_ttl_s", as: "string", doc: "how long an event id is remembered (s)" },
  { name: "client_limit", as: "number", doc: "batches per client per window (0 = off)" },
  { name: "key_limit", as: "number", doc: "batches with new events per write key per window (0 = off)" },
  { name: "rate_window_s", as: "number", doc: "rate-limit window (s)" },
  { name: "buffer_cap_entries", as: "number", doc: "buffer cap (entries)" },
  { name: "buffer_cap_bytes", as: "number", doc: "buffer cap (bytes)" },
  { name: "active_window_ms", as: "number", doc: "active-session window (ms)" },
  { name: "active_cap", as: "number", doc: "active-session cap (members)" },
  { name: "event_name_cap", as: "number", doc: "distinct event names with their own field, per hour" },
  { name: "category_cap", as: "number", doc: "distinct categories with their own field, per hour" },
  { name: "ops_json", as: "string", doc: "the aggregated ops of all events (JSON)" },
  { name: "events_json", as: "string", doc: "one EVENT tuple per event (JSON)" },
  { name: "n", as: "number", doc: "number of events" },
  { name: "entry_head", as: "string", doc: "the buffer entry's text before its rows (storage/buffer.ts)" },
  { name: "entry_tail", as: "string", doc: "the buffer entry's text after its rows" },
  { name: "salt_candidate", as: "string", doc: "a fresh random salt, kept if the day has none yet" },
  { name: "salt_expires_ms", as: "string", doc: "when the day's salt expires: the end of the UTC day (epoch ms)" },
] as const satisfies Slots;

/** Positions in one event's own contribution, used when only some events of a batch are new. */
export const EVENT_TUPLE = [
  "hour",
  "hour_users",
  "hour_sessions",
  "minute",
  "minute_users",
  "event_field",
  "category_field",
  "user_id",
  "session_id",
  "time_ms",
  "bot",
  "visitor_key",
] as const;

/** Positions in an `ops.i` entry (HINCRBY). */
export const OP_INCR_TUPLE = ["key", "field", "by", "hour"] as const;
/** Positions in an `ops.t` entry (EXPIRE). */
export const OP_TTL_TUPLE = ["key", "seconds"] as const;

const EVENT_PREFIX = COUNTER_FIELDS.event("");
const CATEGORY_PREFIX = COUNTER_FIELDS.category("");
if (EVENT_PREFIX.length !== CATEGORY_PREFIX.length) throw new Error("the name prefixes of COUNTER_FIELDS must have one length");

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
 * 7. visitor ids: the day's salt is read, or created from `salt_candidate` (expiring when the
 *    day ends) if the day has none; each event's `visitor_key` (the worker's hash of site, address
 *    and User-Agent; "" = no visitor) salted and hashed gives its visitor id (SHA1, first 16 hex
 *    digits), written into the row in place of VISITOR_PLACEHOLDER. The salt never leaves Redis;
 * 8. the new events' rows appended to the buffer stream as one entry (XADD), its bytes added to
 *    the buffer's byte count.
 *
 * KEYS: the fixed keys of INGEST_KEYS (named below), then one dedupe key per event, then the
 *       counter keys the ops reference by their index in KEYS.
 * ARGV: the fixed arguments of INGEST_ARGV (named below), then each event's row as JSON.
 *       `ops` (all events, aggregated in the worker):
 *           { "i": [OP_INCR tuple, …]   HINCRBY (`hour`: the hour hash that admits a name field; 0 = none)
 *             "p": [[key, member, …], …]  PFADD
 *             "z": [score, member, …]     ZADD on `active_sessions`
 *             "t": [OP_TTL tuple, …] }    EXPIRE
 *       `events`: one EVENT tuple per event (key indexes; 0 = none; "" = no user/session/visitor; bot 1/0).
 *       Each row's JSON ends with VISITOR_PLACEHOLDER.
 * Returns {status, value, count[, visitors]}: {"ok", entryId, newEvents, visitorIds} (a JSON array:
 *         the id of every event in order, "" for none) | {"duplicate", "", "0"} |
 *         {"rate_limited", secondsUntilReset, "client" | "key"} | {"backpressure", bufferLength, "0"} |
 *         {"invalid", decoderMessage, "0"}.
 *
 * `ops` and `events` are decoded first, before any write: a script that fails after its first
 * write keeps that write (Redis does not roll scripts back), so a batch cjson cannot read (a lone
 * surrogate the worker's validation missed) must be refused before it takes dedupe keys or quota.
 */
export const INGEST_SCRIPT = `
${luaLocals("KEYS", INGEST_KEYS)}
${luaLocals("ARGV", INGEST_ARGV)}
local FIXED_KEYS, FIXED_ARGV = ${INGEST_KEYS.length}, ${INGEST_ARGV.length}
${luaIndexes("EVENT", EVENT_TUPLE)}
${luaIndexes("OP_INCR", OP_INCR_TUPLE)}
${luaIndexes("OP_TTL", OP_TTL_TUPLE)}
local VISITOR_PLACEHOLDER, PLACEHOLDER_LENGTH = ${luaString(VISITOR_PLACEHOLDER)}, ${VISITOR_PLACEHOLDER.length}
local TOTAL, BOTS, BUFFER_FIELD = ${luaString(COUNTER_FIELDS.total)}, ${luaString(COUNTER_FIELDS.bots)}, ${luaString(BUFFER_FIELD)}
local EVENT_PREFIX, CATEGORY_PREFIX, PREFIX_LENGTH = ${luaString(EVENT_PREFIX)}, ${luaString(CATEGORY_PREFIX)}, ${EVENT_PREFIX.length}
local DISTINCT = {[EVENT_PREFIX] = ${luaString(COUNTER_FIELDS.distinctEvents)}, [CATEGORY_PREFIX] = ${luaString(COUNTER_FIELDS.distinctCategories)}}
local OVERFLOW = {[EVENT_PREFIX] = ${luaString(COUNTER_FIELDS.otherEvents)}, [CATEGORY_PREFIX] = ${luaString(COUNTER_FIELDS.otherCategories)}}

local decodedOps, ops = pcall(cjson.decode, ops_json)
local decodedEvents, events = pcall(cjson.decode, events_json)
if not decodedOps then return {'invalid', tostring(ops), '0'} end
if not decodedEvents then return {'invalid', tostring(events), '0'} end

local function over(key, limit, charge)
  if limit <= 0 then return false end
  local used
  if charge then
    used = redis.call('INCR', key)
    if used == 1 then redis.call('EXPIRE', key, rate_window_s) end
    return used > limit
  end
  return tonumber(redis.call('GET', key) or '0') >= limit
end
local function retryAfter(key)
  local ttl = redis.call('TTL', key)
  if ttl < 1 then ttl = 1 end
  return tostring(ttl)
end
if over(client_rate, client_limit, true) then return {'rate_limited', retryAfter(client_rate), 'client'} end
if over(key_rate, key_limit, false) then return {'rate_limited', retryAfter(key_rate), 'key'} end

local length = redis.call('XLEN', buffer)
if length >= buffer_cap_entries then return {'backpressure', tostring(length), '0'} end
local bytes = 0
if length == 0 then redis.call('DEL', buffer_bytes) else bytes = tonumber(redis.call('GET', buffer_bytes) or '0') end
if bytes >= buffer_cap_bytes then return {'backpressure', tostring(length), '0'} end

local fresh = {}
for i = 1, n do
  if redis.call('SET', KEYS[FIXED_KEYS + i], '1', 'NX', 'EX', dedupe_ttl_s) then fresh[#fresh + 1] = i end
end
if #fresh == 0 then return {'duplicate', '', '0'} end
over(key_rate, key_limit, true)

if #fresh < n then
  -- Some events were seen before: count only the new ones.
  local counts, order, members, seen = {}, {}, {}, {}
  local function bump(key, hour, field)
    if key == 0 then return end
    local id = key .. ' ' .. field
    local op = counts[id]
    if op == nil then
      op = {}
      op[OP_INCR.key], op[OP_INCR.field], op[OP_INCR.by], op[OP_INCR.hour] = key, field, 0, hour
      counts[id] = op
      order[#order + 1] = op
    end
    op[OP_INCR.by] = op[OP_INCR.by] + 1
  end
  local function member(key, value)
    if key == 0 or value == '' then return end
    members[key] = members[key] or {}
    members[key][value] = true
  end
  for _, i in ipairs(fresh) do
    local e = events[i]
    for _, key in ipairs({e[EVENT.hour], e[EVENT.minute]}) do
      bump(key, 0, TOTAL)
      bump(key, e[EVENT.hour], e[EVENT.event_field])
      bump(key, e[EVENT.hour], e[EVENT.category_field])
      if e[EVENT.bot] == 1 then bump(key, 0, BOTS) end
    end
    member(e[EVENT.hour_users], e[EVENT.user_id])
    member(e[EVENT.minute_users], e[EVENT.user_id])
    member(e[EVENT.hour_sessions], e[EVENT.session_id])
    local session, at = e[EVENT.session_id], e[EVENT.time_ms]
    if session ~= '' and (seen[session] == nil or at > seen[session]) then seen[session] = at end
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
local caps = {[EVENT_PREFIX] = event_name_cap, [CATEGORY_PREFIX] = category_cap}
local admitted = {}
local function admit(hour, field)
  local id = hour .. ' ' .. field
  local chosen = admitted[id]
  if chosen then return chosen end
  local hash = KEYS[hour]
  local kind = string.sub(field, 1, PREFIX_LENGTH)
  if redis.call('HEXISTS', hash, field) == 1 then
    chosen = field
  elseif tonumber(redis.call('HGET', hash, DISTINCT[kind]) or '0') < caps[kind] then
    redis.call('HINCRBY', hash, DISTINCT[kind], 1)
    chosen = field
  else
    chosen = OVERFLOW[kind]
  end
  admitted[id] = chosen
  return chosen
end
for _, op in ipairs(ops.i) do
  local field, hour = op[OP_INCR.field], op[OP_INCR.hour]
  if hour ~= nil and hour ~= 0 then field = admit(hour, field) end
  redis.call('HINCRBY', KEYS[op[OP_INCR.key]], field, op[OP_INCR.by])
end
for _, op in ipairs(ops.p) do
  redis.call('PFADD', KEYS[op[1]], unpack(op, 2))
end
if #ops.z > 0 then
  redis.call('ZADD', active_sessions, unpack(ops.z))
  redis.call('ZREMRANGEBYSCORE', active_sessions, '-inf', now_ms - active_window_ms)
  redis.call('ZREMRANGEBYRANK', active_sessions, 0, -1 - active_cap)
end
for _, op in ipairs(ops.t) do
  redis.call('EXPIRE', KEYS[op[OP_TTL.key]], op[OP_TTL.seconds])
end

local visitors, known, salt = {}, {[''] = ''}, nil
for i = 1, n do
  local key = events[i][EVENT.visitor_key]
  if known[key] == nil then
    if salt == nil then
      salt = redis.call('GET', visitor_salt)
      if not salt then
        salt = salt_candidate
        redis.call('SET', visitor_salt, salt, 'PXAT', salt_expires_ms)
      end
    end
    known[key] = string.sub(redis.sha1hex(salt .. key), 1, 16)
  end
  visitors[i] = known[key]
end

local rows = {}
for _, i in ipairs(fresh) do
  local row = ARGV[FIXED_ARGV + i]
  if visitors[i] ~= '' and string.sub(row, -PLACEHOLDER_LENGTH) == VISITOR_PLACEHOLDER then
    row = string.sub(row, 1, -PLACEHOLDER_LENGTH - 1) .. ',"visitor_id":"' .. visitors[i] .. '"}'
  end
  rows[#rows + 1] = row
end
local payload = entry_head .. table.concat(rows, ',') .. entry_tail
local id = redis.call('XADD', buffer, '*', BUFFER_FIELD, payload)
redis.call('INCRBY', buffer_bytes, string.len(payload))
return {'ok', id, tostring(#fresh), cjson.encode(visitors)}
`;
