--[[
  Slides a framework session's TTL, never past its absolute deadline; never creates a session, and
  never changes a tombstone (a destroyed id keeps refusing saves for its whole lifetime).
  KEYS[1] session: string, the serialized session; a hash while the id is destroyed (tombstone)
  KEYS[2] deadline: string, the session's absolute deadline (epoch ms, server clock)
  ARGV[1] TTL in ms
  Reply: 1 when the TTL was set, 0 when the session does not exist or is destroyed
]]
--- @include "server-time"
if redis.call('TYPE', KEYS[1]).ok ~= 'string' then return 0 end
local ttl = tonumber(ARGV[1])
local deadline = tonumber(redis.call('GET', KEYS[2]))
if deadline then
  local left = deadline - server_time_ms()
  if left < ttl then ttl = left end
end
if ttl <= 0 then
  redis.call('DEL', KEYS[1])
  return 0
end
return redis.call('PEXPIRE', KEYS[1], ttl)
