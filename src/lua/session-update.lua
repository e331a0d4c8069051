--[[
  Replaces a live session's data, keeping its timeouts (never creates a session without a TTL).
  KEYS[1] session (hash, see session-create.lua)
  ARGV[1] encoded data
  Reply: 1 when updated, 0 when the session does not exist
]]
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'd', ARGV[1])
return 1
