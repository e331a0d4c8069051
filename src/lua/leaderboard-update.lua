--[[
  Leaderboard: sets or adds to a member's score and returns its new score and rank, in one call.
  Ties rank the member that reached the score first higher: the stored member is a 15-digit
  tie-break (from a per-board sequence; reversed for `desc`) followed by the member, so Redis's
  own order among equal scores is the order they were reached in.
  KEYS[1] board: sorted set of "<tie-break><member>" by score
  KEYS[2] index: hash member -> its stored member
  KEYS[3] seq: the tie-break sequence
  ARGV[1] member
  ARGV[2] score (mode set) or delta (mode incr): an integer
  ARGV[3] mode: set | incr
  ARGV[4] order: desc | asc
  ARGV[5] maxSize (0 = unlimited): the worst members beyond it are dropped
  ARGV[6] expire at, epoch ms (0 = never)
  Reply: {score as a string (node-redis parses integer replies near 2^53 inexactly), rank (1-based; 0 when the member did not make it into maxSize)}
]]
local board, index, seq = KEYS[1], KEYS[2], KEYS[3]
local member, value, mode, order = ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4]
local maxSize, expireAt = tonumber(ARGV[5]), tonumber(ARGV[6])
local MAX = 9007199254740991
local DIGITS = 15

local function corrupt(what)
  return redis.error_reply('E_DECODE leaderboard ' .. board .. ': ' .. what .. ' was not written by redkit')
end

-- Read and check everything before the first write.
local old = 0
local stored = redis.call('HGET', index, member)
if stored then
  if #stored ~= DIGITS + #member or string.sub(stored, DIGITS + 1) ~= member or not string.match(string.sub(stored, 1, DIGITS), '^%d+$') then
    return corrupt('the index entry of a member')
  end
  local score = redis.call('ZSCORE', board, stored)
  if score then
    old = tonumber(score)
    if not old or old ~= math.floor(old) or old < 0 or old > MAX then return corrupt('a score') end
  else
    stored = nil
  end
end
local kind = redis.call('TYPE', board)['ok']
if kind ~= 'zset' and kind ~= 'none' then return corrupt('the board (a ' .. kind .. ')') end
kind = redis.call('TYPE', index)['ok']
if kind ~= 'hash' and kind ~= 'none' then return corrupt('the index (a ' .. kind .. ')') end
local n = redis.call('GET', seq)
if n and not string.match(n, '^%d+$') then return corrupt('the tie-break sequence') end
if n and tonumber(n) >= 999999999999998 then return corrupt('the tie-break sequence') end

local new = value
if mode == 'incr' then new = old + value end
if new < 0 or new > MAX then
  return redis.error_reply('E_INVALID_ARGUMENT the score of ' .. member .. ' would be ' .. string.format('%.0f', new) .. ', outside 0..2^53-1')
end

local entry = stored
-- An unchanged score keeps its tie-break: the member reached it when it first did.
if not stored or new ~= old then
  local tick = redis.call('INCR', seq)
  local tie = tick
  if order == 'desc' then tie = 999999999999999 - tick end
  entry = string.format('%015.0f', tie) .. member
  if stored then redis.call('ZREM', board, stored) end
  redis.call('ZADD', board, new, entry)
  redis.call('HSET', index, member, entry)
end

if maxSize > 0 then
  local excess = redis.call('ZCARD', board) - maxSize
  if excess > 0 then
    if excess > 1000 then excess = 1000 end
    -- Worst first: the lowest score (desc) or the highest (asc), the latest among equals.
    local worst
    if order == 'desc' then worst = redis.call('ZRANGE', board, 0, excess - 1) else worst = redis.call('ZREVRANGE', board, 0, excess - 1) end
    for _, m in ipairs(worst) do
      redis.call('ZREM', board, m)
      redis.call('HDEL', index, string.sub(m, DIGITS + 1))
    end
  end
end
if expireAt > 0 then
  redis.call('PEXPIREAT', board, expireAt)
  redis.call('PEXPIREAT', index, expireAt)
  redis.call('PEXPIREAT', seq, expireAt)
end

local rank
if order == 'desc' then rank = redis.call('ZREVRANK', board, entry) else rank = redis.call('ZRANK', board, entry) end
local score = string.format('%.0f', new)
if not rank then return {score, 0} end
return {score, rank + 1}
