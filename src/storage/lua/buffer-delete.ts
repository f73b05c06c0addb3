import { luaLocals, type Slots } from "./contract";

/** The delete script's KEYS, in order. ARGV: the entry ids to delete. */
export const BUFFER_DELETE_KEYS = [
  { name: "buffer", as: "string", doc: "the write-ahead buffer stream" },
  { name: "buffer_bytes", as: "string", doc: "the buffer's byte count" },
] as const satisfies Slots;

/**
 * Deletes buffer entries and subtracts their bytes from the buffer's byte count, atomically (one
 * command, like the XDEL it replaces). Ids no longer in the stream are skipped; the count is
 * dropped when the stream is empty, so it cannot drift for long. Returns the bytes freed.
 */
export const BUFFER_DELETE_SCRIPT = `
${luaLocals("KEYS", BUFFER_DELETE_KEYS)}
local freed = 0
for i = 1, #ARGV do
  local entry = redis.call('XRANGE', buffer, ARGV[i], ARGV[i])
  if #entry > 0 then
    local fields = entry[1][2]
    for j = 2, #fields, 2 do freed = freed + string.len(fields[j]) end
    redis.call('XDEL', buffer, ARGV[i])
  end
end
if redis.call('XLEN', buffer) == 0 then
  redis.call('DEL', buffer_bytes)
elseif freed > 0 then
  redis.call('DECRBY', buffer_bytes, freed)
end
return freed
`;
