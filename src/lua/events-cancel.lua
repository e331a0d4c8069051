--[[
  Forgets a key's deadline, so no expiry event is sent for it; optionally deletes the key too.
  KEYS[1] the user's key
  KEYS[2] deadline index
  KEYS[3] kept values
  KEYS[4] original deadlines of claimed entries (Cluster): a new deadline must not inherit an old claim's
  KEYS[5] keys adopted by track
  ARGV[1] '1' to delete the key, '0' to only remove its TTL and deadline (PERSIST)
  Reply: 1 when a deadline was removed, 0 when the key had none
]]
--- @include "check-types"
-- Before the user's key is deleted: a machinery key of another type met later would leave its
-- deadline in the index (an expiry delivered for a key the caller was told was not deleted).
local refused = check_types({ KEYS[2], 'zset', KEYS[3], 'hash', KEYS[4], 'hash', KEYS[5], 'zset' })
if refused then return refused end
if ARGV[1] == '1' then
  redis.call('DEL', KEYS[1])
else
  redis.call('PERSIST', KEYS[1])
end
redis.call('HDEL', KEYS[3], KEYS[1])
redis.call('HDEL', KEYS[4], KEYS[1])
redis.call('ZREM', KEYS[5], KEYS[1])
return redis.call('ZREM', KEYS[2], KEYS[1])
