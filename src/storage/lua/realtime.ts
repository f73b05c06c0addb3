import { luaLocals, type Slots } from "./contract";

/** The realtime script's ARGV, in order. KEYS are variadic (see below). */
export const REALTIME_ARGV = [
  { name: "n", as: "number", doc: "minutes in the window" },
  { name: "active_since_ms", as: "string", doc: "sessions seen at or after this epoch ms are active" },
] as const satisfies Slots;

/**
 * Sums the minute counter hashes of the window, counts the union of the minute user HyperLogLogs
 * and the active sessions, in one script: one request, one billed command.
 *
 * KEYS: [1..n] minute counter hashes, [n+1..2n] minute user HLLs, [2n+1] active-sessions zset.
 * ARGV: REALTIME_ARGV (named below).
 * Returns { unique users, active sessions, field, sum, field, sum, … } (fields as in
 * COUNTER_FIELDS: `total`, `e:<event_name>`, `c:<category>`).
 *
 * Not a read-only script (EVAL_RO) although it writes nothing visible: Redis refuses PFCOUNT in a
 * read-only script ("Write commands are not allowed from read-only scripts", seen on Redis 7.0.15)
 * because PFCOUNT may rewrite the cached cardinality inside the HyperLogLog.
 */
export const REALTIME_SCRIPT = `
${luaLocals("ARGV", REALTIME_ARGV)}
local sums, order = {}, {}
for i = 1, n do
  local flat = redis.call('HGETALL', KEYS[i])
  for j = 1, #flat, 2 do
    local field = flat[j]
    if sums[field] == nil then
      sums[field] = 0
      order[#order + 1] = field
    end
    sums[field] = sums[field] + tonumber(flat[j + 1])
  end
end
local users = 0
if n > 0 then users = redis.call('PFCOUNT', unpack(KEYS, n + 1, 2 * n)) end
local active = redis.call('ZCOUNT', KEYS[2 * n + 1], active_since_ms, '+inf')
local out = {users, active}
for _, field in ipairs(order) do
  out[#out + 1] = field
  out[#out + 1] = sums[field]
end
return out
`;
