--[[
  Saves a framework session with an absolute timeout (without one, the store sends a plain
  `SET ... GET`, which a tombstone refuses as the wrong type): refused when the id was destroyed,
  and the TTL never reaches past the session's deadline, fixed at its first save.
  KEYS[1] session: string, the serialized session; a hash while the id is destroyed (tombstone)
  KEYS[2] deadline: string, the session's absolute deadline (epoch ms, server clock)
  ARGV[1] serialized session
  ARGV[2] TTL in ms; 0 for none (disableTTL)
  ARGV[3] absolute timeout in ms
  ARGV[4] how long the deadline outlives the session, ms: a save in flight at the deadline is refused
  Reply: -1 when the id is destroyed, -2 when it is past its absolute deadline (nothing written);
         otherwise the previous text, or false when there was none
]]
--- @include "server-time"
local kind = redis.call('TYPE', KEYS[1]).ok
if kind ~= 'string' and kind ~= 'none' then return -1 end
local ttl = tonumber(ARGV[2])
local now = server_time_ms()
local deadline = tonumber(redis.call('GET', KEYS[2]))
if not deadline then
  -- A session seen for the first time, or one saved before the option was set: its clock starts now.
  deadline = now + tonumber(ARGV[3])
  redis.call('SET', KEYS[2], deadline, 'PXAT', deadline + tonumber(ARGV[4]))
end
local left = deadline - now
if left <= 0 then
  redis.call('DEL', KEYS[1])
  return -2
end
if ttl == 0 or ttl > left then ttl = left end
return redis.call('SET', KEYS[1], ARGV[1], 'PX', ttl, 'GET')
