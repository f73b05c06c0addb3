import { COUNTER_FIELDS } from "../redis-keys";
import { luaString } from "./contract";

/**
 * `total` of each minute counter hash, in one script (one request, one billed command).
 * KEYS: the minute counter hashes, oldest first (variadic). ARGV: none.
 * Returns the totals in the same order (0 when absent).
 */
export const MINUTE_TOTALS_SCRIPT = `
local TOTAL = ${luaString(COUNTER_FIELDS.total)}
local out = {}
for i = 1, #KEYS do
  out[i] = tonumber(redis.call('HGET', KEYS[i], TOTAL) or '0')
end
return out
`;
