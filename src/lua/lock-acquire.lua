--[[
  Takes the lock when it is free and hands out the next fencing token.
  KEYS[1] owner (string: the holder's random token, with the lock's TTL)
  KEYS[2] fencing counter (never expires, so tokens only grow)
  ARGV[1] the caller's owner token
  ARGV[2] ttl in ms
  Reply: the fencing token (> 0) when acquired; otherwise minus the holder's remaining ms (<= 0)
]]
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return redis.call('INCR', KEYS[2])
end
local left = redis.call('PTTL', KEYS[1])
if left < 0 then left = 0 end
return -left
