--[[
  Saves a framework session (express-session, @fastify/session) unless it was destroyed: a request
  that loaded the session before a logout or a revoke-all saves it at its end, and must not bring
  it back. With an absolute timeout, the session's TTL never reaches past its deadline, which is
  fixed at its first save.
  KEYS[1] session: string, the serialized session
  KEYS[2] tombstone: string, present while the id is destroyed (see session-store-end.lua)
  KEYS[3] deadline: string, the session's absolute deadline (epoch ms, server clock)
  ARGV[1] serialized session
  ARGV[2] TTL in ms; 0 for none (disableTTL)
  ARGV[3] '1' to reply with the text it replaced
  ARGV[4] absolute timeout in ms; 0 for none
  ARGV[5] how long the deadline outlives the session, ms: a save in flight at the deadline is refused
  Reply: -1 when the id is destroyed, -2 when it is past its absolute deadline (nothing written,
         the session is deleted); with ARGV[3], the previous text, or false when there was none;
         otherwise 1
]]
--- @include "server-time"
if redis.call('EXISTS', KEYS[2]) == 1 then return -1 end
local ttl = tonumber(ARGV[2])
local absolute = tonumber(ARGV[4])
if absolute > 0 then
  local now = server_time_ms()
  local deadline = tonumber(redis.call('GET', KEYS[3]))
  if not deadline then
    -- A session seen for the first time, or one saved before the option was set: its clock starts now.
    deadline = now + absolute
    redis.call('SET', KEYS[3], deadline, 'PXAT', deadline + tonumber(ARGV[5]))
  end
  local left = deadline - now
  if left <= 0 then
    redis.call('DEL', KEYS[1])
    return -2
  end
  if ttl == 0 or ttl > left then ttl = left end
end
if ARGV[3] == '1' then
  if ttl > 0 then
    return redis.call('SET', KEYS[1], ARGV[1], 'PX', ttl, 'GET')
  end
  return redis.call('SET', KEYS[1], ARGV[1], 'GET')
end
if ttl > 0 then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ttl)
else
  redis.call('SET', KEYS[1], ARGV[1])
end
return 1
