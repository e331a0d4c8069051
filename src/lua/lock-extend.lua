--[[
  Extends the caller's hold if it still has it.
  KEYS[1] holders: hash token -> '<expiry ms>:<fencing token>:<weight>'
  ARGV[1] the caller's token
  ARGV[2] new ttl in ms (the hold then lapses this long from now, server time)
  Reply: 1 when extended, 0 when the caller no longer held it (lapsed, released or taken over)
]]
--- @include "lock-clock"
local now = lock_clock()
local ttl = tonumber(ARGV[2])
local mine = redis.call('HGET', KEYS[1], ARGV[1])
if not mine then return 0 end
local expiry, rest = string.match(mine, '^(%d+)(:%d+:%d+)$')
if not expiry or tonumber(expiry) <= now then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], (now + ttl) .. rest)
-- GT: never shortens the hash below another holder's expiry (the hash always has a TTL).
redis.call('PEXPIRE', KEYS[1], ttl, 'GT')
return 1
