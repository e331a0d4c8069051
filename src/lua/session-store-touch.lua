--[[
  Slides a framework session's TTL, never past its absolute deadline; never creates a session, and
  never changes a tombstone (a destroyed id keeps refusing saves for its whole lifetime). A session
  without a deadline (saved before the option was set, or its deadline key lost) gets one now, as a
  save would give it: a session that is only ever touched (express-session touches unmodified
  sessions, never saves them) must end too.
  KEYS[1] session: string, the serialized session; a hash while the id is destroyed (tombstone)
  KEYS[2] deadline: string, the session's absolute deadline (epoch ms, server clock)
  ARGV[1] TTL in ms
  ARGV[2] absolute timeout in ms
  ARGV[3] how long the deadline outlives the session, ms: a save in flight at the deadline is refused
  Reply: 1 when the TTL was set, 0 when the session does not exist or is destroyed
]]
--- @include "server-time"
if redis.call('TYPE', KEYS[1]).ok ~= 'string' then return 0 end
local ttl = tonumber(ARGV[1])
local now = server_time_ms()
local deadline = tonumber(redis.call('GET', KEYS[2]))
if not deadline then
  deadline = now + tonumber(ARGV[2])
  redis.call('SET', KEYS[2], deadline, 'PXAT', deadline + tonumber(ARGV[3]))
end
local left = deadline - now
if left < ttl then ttl = left end
if ttl <= 0 then
  redis.call('DEL', KEYS[1])
  return 0
end
return redis.call('PEXPIRE', KEYS[1], ttl)
