--[[
  After a rotation has written its new session: drops the old id from the user's index and reads
  the user's revocation epoch, so the rotation can tell whether a revoke-all began meanwhile.
  KEYS[1] index: zset, see session-index-add.lua
  KEYS[2] epoch: string, the server time of the user's last revoke-all
  ARGV[1] the old session id ('' for none)
  Reply: the user's revocation epoch (0: none)
]]
if ARGV[1] ~= '' then redis.call('ZREM', KEYS[1], ARGV[1]) end
return tonumber(redis.call('GET', KEYS[2]) or '0') or 0
