--[[
  Leaderboard: sets or adds to the scores of one or more members (the calls of one tick, in order)
  and returns each one's new score and rank, in one call.
  Ties rank the member that reached the score first higher: the stored member is a 15-digit
  tie-break (from a per-board sequence; reversed for `desc`) followed by the member, so Redis's
  own order among equal scores is the order they were reached in. An unchanged score keeps its
  tie-break. Everything is read and checked before the first write, so a refused call changes
  nothing (the caller may then resend the updates one by one).
  KEYS[1] board: sorted set of "<tie-break><member>" by score
  KEYS[2] index: hash member -> its stored member
  KEYS[3] seq: the tie-break sequence
  ARGV[1] order: desc | asc
  ARGV[2] maxSize (0 = unlimited): the worst members beyond it are dropped
  ARGV[3] expire at, epoch ms (0 = never)
  ARGV[4] first update's member; then its value (an integer: the score for set, the delta for incr) and its mode (set | incr); more updates follow, three arguments each
  Reply: flat, two values per update: its score as a string (node-redis parses integer replies near 2^53 inexactly) and its rank (1-based; 0 when the member did not make it into maxSize); or "!range", 0 for an update whose score would leave 0..2^53-1 (that update alone is not applied)
]]
local board, index, seq = KEYS[1], KEYS[2], KEYS[3]
local order, maxSize, expireAt = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local MAX = 9007199254740991
local DIGITS = 15

local function corrupt(what)
  return redis.error_reply('E_DECODE leaderboard ' .. board .. ': ' .. what .. ' was not written by redkit')
end

-- Read and check everything before the first write.
local kind = redis.call('TYPE', board)['ok']
if kind ~= 'zset' and kind ~= 'none' then return corrupt('the board (a ' .. kind .. ')') end
kind = redis.call('TYPE', index)['ok']
if kind ~= 'hash' and kind ~= 'none' then return corrupt('the index (a ' .. kind .. ')') end
local n = redis.call('GET', seq)
if n and not string.match(n, '^%d+$') then return corrupt('the tie-break sequence') end
local tick = tonumber(n or '0')
if tick >= 999999999999998 - (#ARGV - 3) / 3 then return corrupt('the tie-break sequence') end

-- Per member: its stored member (false: not on the board) and its score.
local storedOf, scoreOf = {}, {}
local TIE = '^' .. string.rep('%d', DIGITS)
for i = 4, #ARGV, 3 do
  local member = ARGV[i]
  if storedOf[member] == nil then
    local old, stored = 0, redis.call('HGET', index, member)
    if stored then
      if #stored ~= DIGITS + #member or not string.find(stored, TIE) or string.sub(stored, DIGITS + 1) ~= member then
        return corrupt('the index entry of a member')
      end
      local score = redis.call('ZSCORE', board, stored)
      if score then
        old = tonumber(score)
        if not old or old ~= math.floor(old) or old < 0 or old > MAX then return corrupt('a score') end
      else
        stored = false
      end
    end
    storedOf[member], scoreOf[member] = stored, old
  end
end

local out = {}
local n_out = 0
local first = tick
local desc = order == 'desc'
for i = 4, #ARGV, 3 do
  local member, value = ARGV[i], tonumber(ARGV[i + 1])
  local stored, old = storedOf[member], scoreOf[member]
  local new = value
  if ARGV[i + 2] == 'incr' then new = old + value end
  if new < 0 or new > MAX then
    out[n_out + 1], out[n_out + 2] = '!range', 0
    n_out = n_out + 2
  else
    local entry = stored
    -- An unchanged score keeps its tie-break: the member reached it when it first did.
    if not stored or new ~= old then
      tick = tick + 1
      local tie = tick
      if desc then tie = 999999999999999 - tick end
      entry = string.format('%015.0f', tie) .. member
      if stored then redis.call('ZREM', board, stored) end
      redis.call('ZADD', board, new, entry)
      redis.call('HSET', index, member, entry)
      storedOf[member], scoreOf[member] = entry, new
    end
    if maxSize > 0 then
      local excess = redis.call('ZCARD', board) - maxSize
      if excess > 0 then
        if excess > 1000 then excess = 1000 end
        -- Worst first: the lowest score (desc) or the highest (asc), the latest among equals.
        local worst
        if desc then worst = redis.call('ZRANGE', board, 0, excess - 1) else worst = redis.call('ZREVRANGE', board, 0, excess - 1) end
        for _, m in ipairs(worst) do
          redis.call('ZREM', board, m)
          local name = string.sub(m, DIGITS + 1)
          redis.call('HDEL', index, name)
          if storedOf[name] ~= nil then storedOf[name], scoreOf[name] = false, 0 end
        end
      end
    end
    local rank
    if desc then rank = redis.call('ZREVRANK', board, entry) else rank = redis.call('ZRANK', board, entry) end
    out[n_out + 1], out[n_out + 2] = string.format('%.0f', new), rank and rank + 1 or 0
    n_out = n_out + 2
  end
end
if tick ~= first then
  if n then redis.call('SET', seq, string.format('%.0f', tick), 'KEEPTTL') else redis.call('SET', seq, string.format('%.0f', tick)) end
end
if expireAt > 0 then
  redis.call('PEXPIREAT', board, expireAt)
  redis.call('PEXPIREAT', index, expireAt)
  redis.call('PEXPIREAT', seq, expireAt)
end
return out
