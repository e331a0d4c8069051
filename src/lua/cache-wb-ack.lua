--[[
  Write-behind: the writes are done (or superseded): acknowledges and deletes them, and forgets a
  key's newest id when it is one of them.
  KEYS[1] write-behind stream
  KEYS[2] newest stream id per key (hash)
  ARGV[1] consumer group
  ARGV[2], ARGV[3] stream id and cache key of a write (the pair repeats for every write)
  Reply: number of writes acknowledged
]]
local acked = 0
for i = 2, #ARGV, 2 do
  local id, key = ARGV[i], ARGV[i + 1]
  acked = acked + redis.call('XACK', KEYS[1], ARGV[1], id)
  redis.call('XDEL', KEYS[1], id)
  if redis.call('HGET', KEYS[2], key) == id then
    redis.call('HDEL', KEYS[2], key)
  end
end
return acked
