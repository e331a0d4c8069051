--[[
  Cluster, step 3 of 3: the claimed events are in the stream; forget their deadlines. An entry whose
  score is no longer the lease end was re-set meanwhile and is kept.
  KEYS[1] deadline index of the slot
  KEYS[2] kept values of the slot
  KEYS[3] original deadlines of claimed entries
  ARGV[1] lease end returned by the claim
  ARGV[2..n] the claimed keys
  Reply: the slot's next deadline, or -1 when it has none
]]
for i = 2, #ARGV do
  local key = ARGV[i]
  if redis.call('ZSCORE', KEYS[1], key) == ARGV[1] then
    redis.call('ZREM', KEYS[1], key)
    redis.call('HDEL', KEYS[2], key)
  end
  redis.call('HDEL', KEYS[3], key)
end
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if first[2] then return tonumber(first[2]) end
return -1
