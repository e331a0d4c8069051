--[[
  Cluster: after sweeping a slot, records its next deadline. If a writer touched the slot since the
  sweeper read it (version changed), the entry is only lowered, never raised or removed, so a
  deadline written during the sweep cannot be forgotten.
  KEYS[1] slot directory
  KEYS[2] slot versions
  ARGV[1] slot number
  ARGV[2] version read before sweeping ('' when the slot had none)
  ARGV[3] the slot's next deadline, or -1 when its index is empty
  Reply: 1 when settled as read, 0 when a concurrent write kept the entry
]]
local version = redis.call('HGET', KEYS[2], ARGV[1]) or ''
local nextDeadline = tonumber(ARGV[3])
if version == ARGV[2] then
  if nextDeadline < 0 then
    redis.call('ZREM', KEYS[1], ARGV[1])
  else
    redis.call('ZADD', KEYS[1], nextDeadline, ARGV[1])
  end
  return 1
end
if nextDeadline >= 0 then redis.call('ZADD', KEYS[1], 'LT', nextDeadline, ARGV[1]) end
return 0
