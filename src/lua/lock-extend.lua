--[[
  Extends the lock's TTL if the caller still holds it.
  KEYS[1] owner
  ARGV[1] the caller's owner token
  ARGV[2] new ttl in ms
  Reply: 1 when extended, 0 when the caller no longer held it
]]
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
