--[[
  Starts a revoke-all for one user: moves the user's revocation epoch forward, then lists the
  index. A rotation in flight checks the epoch after writing its new session (session-index-check),
  so a revoke-all that began before that check ends the new session, and one that began after it
  finds the new session in the index.
  KEYS[1] index: zset, see session-index-add.lua
  KEYS[2] epoch: string, the server time of the user's last revoke-all
  ARGV[1] epoch lifetime when the index does not exist, ms
  Reply: { epoch, id, added at, id, added at, ... }
]]
--- @include "server-time"
--- @include "check-types"
-- An index of another type met after the epoch moved would fail the revoke-all halfway.
local refused = check_types({ KEYS[1], 'zset', KEYS[2], 'string' })
if refused then return refused end
local epoch = server_time_ms()
-- A planted epoch that is not a time redkit wrote ('inf', 1e400, garbage) would make every
-- revoke-all fail, leaving the user's sessions alive: it counts as none.
local stored = redis.call('GET', KEYS[2]) or '0'
local old = (#stored <= 15 and string.match(stored, '^%d+$')) and tonumber(stored) or 0
-- Strictly increasing, even when the server clock steps back or two revokes share a millisecond.
if epoch <= old then epoch = old + 1 end
local until_ms = redis.call('PEXPIRETIME', KEYS[1])
if until_ms == -1 then
  redis.call('SET', KEYS[2], epoch)
elseif until_ms > 0 then
  redis.call('SET', KEYS[2], epoch, 'PXAT', math.max(until_ms, epoch + tonumber(ARGV[1])))
else
  redis.call('SET', KEYS[2], epoch, 'PX', ARGV[1])
end
local reply = { epoch }
local entries = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
for i = 1, #entries do reply[#reply + 1] = entries[i] end
return reply
