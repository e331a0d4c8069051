--[[
  Records an access to a live session and slides its idle timeout, never past its absolute
  deadline; at most once per ARGV[1] ms (server clock), so a burst of requests costs one write.
  Never creates a session: a destroyed one stays destroyed.
  KEYS[1] session: hash, see session-create.lua
  ARGV[1] least time between two recorded accesses, in ms
  ARGV[2] fingerprint of the caller, or '*' to skip the check
  Reply: the recorded access time (epoch ms): now, or the previous one within the interval;
         0 when the session does not exist; -1 when the fingerprint differs (nothing changed)
]]
--- @include "server-time"
local s = redis.call('HMGET', KEYS[1], 'a', 'i', 'x', 'f')
if not s[1] then return 0 end
if ARGV[2] ~= '*' and s[4] and s[4] ~= '' and s[4] ~= ARGV[2] then return -1 end
local now = server_time_ms()
local last = tonumber(s[1]) or 0
if now - last < tonumber(ARGV[1]) then return last end
local idle = tonumber(s[2]) or 0
if idle > 0 then
  local expires = now + idle
  local absolute = tonumber(s[3]) or 0
  if absolute > 0 and absolute < expires then expires = absolute end
  redis.call('PEXPIREAT', KEYS[1], expires)
end
redis.call('HSET', KEYS[1], 'a', now)
return now
