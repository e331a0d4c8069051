--[[
  Leaderboard: removes a member.
  KEYS[1] board: sorted set of "<15-digit tie-break><member>" by score
  KEYS[2] index: hash member -> its stored member
  ARGV[1] member
  Reply: 1 when it was on the board, else 0
]]
local stored = redis.call('HGET', KEYS[2], ARGV[1])
if not stored then return 0 end
if string.sub(stored, 16) ~= ARGV[1] then
  return redis.error_reply('E_DECODE leaderboard ' .. KEYS[1] .. ': the index entry of a member was not written by redkit')
end
redis.call('HDEL', KEYS[2], ARGV[1])
return redis.call('ZREM', KEYS[1], stored)
