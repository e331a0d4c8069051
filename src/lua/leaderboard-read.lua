--[[
  Leaderboard reads: a range of ranks, or a member's rank, or the members around it.
  KEYS[1] board: sorted set of "<15-digit tie-break><member>" by score
  KEYS[2] index: hash member -> its stored member
  ARGV[1] mode: range | rank | around
  ARGV[2] order: desc | asc
  ARGV[3] range: first rank (0-based); rank, around: the member
  ARGV[4] range: last rank (0-based, inclusive); around: how many on each side
  Reply: {first rank (0-based; -1 when the member is not on the board), stored member, score, stored member, score, ...}
]]
local board, index, mode, order = KEYS[1], KEYS[2], ARGV[1], ARGV[2]
local DIGITS = 15

local function range(first, last)
  local out = {first}
  local rows
  if order == 'desc' then rows = redis.call('ZREVRANGE', board, first, last, 'WITHSCORES') else rows = redis.call('ZRANGE', board, first, last, 'WITHSCORES') end
  for _, v in ipairs(rows) do out[#out + 1] = v end
  return out
end

if mode == 'range' then return range(tonumber(ARGV[3]), tonumber(ARGV[4])) end

local member = ARGV[3]
local stored = redis.call('HGET', index, member)
if not stored then return {-1} end
if #stored ~= DIGITS + #member or string.sub(stored, DIGITS + 1) ~= member then
  return redis.error_reply('E_DECODE leaderboard ' .. board .. ': the index entry of a member was not written by redkit')
end
local rank
if order == 'desc' then rank = redis.call('ZREVRANK', board, stored) else rank = redis.call('ZRANK', board, stored) end
if not rank then return {-1} end
if mode == 'rank' then return {rank, stored, redis.call('ZSCORE', board, stored)} end
local n = tonumber(ARGV[4])
local first = rank - n
if first < 0 then first = 0 end
return range(first, rank + n)
