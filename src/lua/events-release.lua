--[[
  Cluster, step 3 of 3: the claimed events are in the stream; forget their deadlines. An entry whose
  score is no longer the lease end was re-set meanwhile and is kept; the claimed expiry a re-set
  kept aside (key \0 deadline, still at the lease end) is the one just appended, and goes.
  KEYS[1] deadline index of the slot
  KEYS[2] kept values of the slot
  KEYS[3] original deadlines of claimed entries
  KEYS[4] keys adopted by track (expiry-track include)
  ARGV[1] lease end returned by the claim
  ARGV[2..n] pairs: a claimed member, its deadline
  Reply: the slot's next deadline (or tracked re-read), or -1 when it has none
]]
--- @include "expiry-track"
local function release(member)
  if redis.call('ZSCORE', KEYS[1], member) == ARGV[1] then
    redis.call('ZREM', KEYS[1], member)
    redis.call('HDEL', KEYS[2], member)
    redis.call('HDEL', KEYS[3], member)
    return true
  end
  return false
end
for i = 2, #ARGV, 2 do
  local member = ARGV[i]
  if not release(member) then
    redis.call('HDEL', KEYS[3], member)
    if not string.find(member, '\0', 1, true) then release(member .. '\0' .. ARGV[i + 1]) end
  end
end
return next_due(KEYS[1], KEYS[4])
