--[[
  Creates a session hash with its timeouts, unless the id is taken.
  KEYS[1] session: hash, u user, d data, c created, a last access, i idle ms, x absolute deadline,
          f fingerprint, k csrf token, ip, ua, e the user's revocation epoch at login
  ARGV[1] encoded data
  ARGV[2] user id ('' for none)
  ARGV[3] idle timeout in ms (0: none)
  ARGV[4] absolute deadline in epoch ms (0: none)
  ARGV[5] fingerprint ('' for none)
  ARGV[6] csrf token
  ARGV[7] ip
  ARGV[8] user agent
  ARGV[9] created at (epoch ms), or 0 for now (a rotated session keeps its creation time)
  ARGV[10] the user's revocation epoch the session was issued under (a rotation keeps its session's)
  Reply: { created at, now, expires at }; -1 when the id exists; -2 when the absolute deadline has passed
]]
--- @include "server-time"
if redis.call('EXISTS', KEYS[1]) == 1 then return -1 end
local now = server_time_ms()
local idle = tonumber(ARGV[3])
local absolute = tonumber(ARGV[4])
local created = tonumber(ARGV[9])
if created == 0 then created = now end
local expires = absolute
if idle > 0 and (expires == 0 or now + idle < expires) then expires = now + idle end
-- A rotated session whose absolute deadline has passed is not revived.
if expires <= now then return -2 end
redis.call('HSET', KEYS[1], 'u', ARGV[2], 'd', ARGV[1], 'c', created, 'a', now, 'i', idle, 'x', absolute,
  'f', ARGV[5], 'k', ARGV[6], 'ip', ARGV[7], 'ua', ARGV[8], 'e', ARGV[10])
redis.call('PEXPIREAT', KEYS[1], expires)
return { created, now, expires }
