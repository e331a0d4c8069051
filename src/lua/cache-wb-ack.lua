--[[
  Write-behind: the writes are done (or superseded): acknowledges and deletes them; a key's newest
  id is forgotten with the last of its writes in the stream (includes/cache-wb-forget).
  KEYS[1] write-behind stream
  KEYS[2] newest stream id per key (hash)
  KEYS[3] number of each key's writes in the stream (hash)
  ARGV[1] consumer group
  ARGV[2], ARGV[3] stream id and cache key of a write (the pair repeats for every write)
  Reply: number of writes acknowledged
]]
--- @include "cache-wb-forget"
local acked = 0
for i = 2, #ARGV, 2 do
  local id, key = ARGV[i], ARGV[i + 1]
  acked = acked + redis.call('XACK', KEYS[1], ARGV[1], id)
  -- Only once per write: a write applied twice (re-claimed) is acknowledged twice.
  if redis.call('XDEL', KEYS[1], id) == 1 then
    wb_forget(KEYS[2], KEYS[3], key, id)
  end
end
return acked
