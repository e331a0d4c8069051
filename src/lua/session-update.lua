--[[
  Replaces a live session's data, keeping its timeouts (never creates a session without a TTL).
  KEYS[1] session: hash, see session-create.lua
  ARGV[1] encoded data
  ARGV[2] fingerprint of the caller, or '*' to skip the check
  Reply: 1 when updated, 0 when the session does not exist, -1 when the fingerprint differs
]]
local f = redis.call('HGET', KEYS[1], 'f')
if not f then return 0 end
if ARGV[2] ~= '*' and f ~= '' and f ~= ARGV[2] then return -1 end
redis.call('HSET', KEYS[1], 'd', ARGV[1])
return 1
