--[[
  Rate limiter, exact sliding window, on the server's clock: a log of the decisions allowed in the
  last window. Members are "<cumulative cost>:<cost>", so the cost in the window is one subtraction
  (newest cumulative minus the oldest entry's cumulative before it) and never a walk of the log.
  The cumulative is zero-padded to 16 digits: entries of the same millisecond are ordered by member,
  and padded, that order is the order they were added in.
  KEYS[1...] logs: one per decision (sorted set: member "<16-digit cumulative>:<cost>", score = server time in ms)
  ARGV[1] limit (positive integer)
  ARGV[2] window in ms (positive integer)
  ARGV[3] cost of the decision on KEYS[1] (positive integer <= limit; 0 = peek: decide as for cost 1, record nothing); one per key
  Reply: {allowed 0|1, remaining, resetMs, retryAfterMs, retryOneMs} per decision, in KEYS order, then the server time in ms
  Decisions run one after the other: several on one key see each other.
]]
--- @include "server-time"
--- @include "ratelimit-run"
local limit, window = ratelimit_args()
local now = server_time_ms()
local cutoff = now - window
-- Cumulatives restart from the window's base past 2^52, far below the 2^53 a double counts exactly.
local REBASE_AT = 4503599627370496

local function parse(member)
  local cum, c = string.match(member or '', '^(%d+):(%d+)$')
  cum, c = tonumber(cum), tonumber(c)
  if not cum or c < 1 or cum < c or cum > 9007199254740991 then return nil end
  return cum, c
end

local function entry(cum, cost)
  return string.format('%016.0f', cum) .. ':' .. cost
end

-- Re-adds `members` (checked first) with `score` (nil: keep each one's) and `shift` taken off each cumulative.
local function rewrite(key, rows, score, shift)
  local add = {}
  for i = 1, #rows, 2 do
    local cum, c = parse(rows[i])
    if not cum or cum - shift < c then return false end
    add[#add + 1] = score or rows[i + 1]
    add[#add + 1] = entry(cum - shift, c)
  end
  if shift > 0 then redis.call('DEL', key) end
  for i = 1, #add, 1000 do redis.call('ZADD', key, unpack(add, i, math.min(i + 999, #add))) end
  return true
end

local function decide(key, cost)
  -- Entries out of the window never count again: they go first (so the oldest left is the oldest
  -- in the window, one cheap ZRANGE), and are the only thing a refused call may have removed.
  -- Everything else is read and checked before the first write.
  local used, base, newestCum, newestScore = 0, 0, 0, nil
  redis.call('ZREMRANGEBYSCORE', key, '-inf', cutoff)
  local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  if #oldest > 0 then
    local newest = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
    local oc, ocost = parse(oldest[1])
    local nc = parse(newest[1])
    if not oc or not nc or nc < oc then return ratelimit_corrupt('log', key) end
    base = oc - ocost
    used = nc - base
    newestCum = nc
    newestScore = tonumber(newest[2])
    if newestScore > now then
      -- Entries ahead of the server's clock (it stepped back, a failover reached a replica whose
      -- clock is behind, or they were planted) are moved to now: they keep counting, for one window
      -- from now at most, and the log keeps its order (same score, members ordered by cumulative).
      if not rewrite(key, redis.call('ZRANGEBYSCORE', key, '(' .. now, '+inf'), now, 0) then return ratelimit_corrupt('log', key) end
      redis.call('PEXPIRE', key, window)
      newestScore = now
    end
  end
  if cost > 0 and used + cost <= limit and newestCum + cost > REBASE_AT then
    if not rewrite(key, redis.call('ZRANGE', key, 0, -1, 'WITHSCORES'), nil, base) then return ratelimit_corrupt('log', key) end
    newestCum = newestCum - base
    base = 0
  end

  -- The wait until `need` units of cost have left the window: the first entry whose cumulative
  -- reaches base + need, found by binary search on rank (the log is ordered by time and cumulative).
  local function waitFor(need)
    if need <= 0 then return 0 end
    local lo, hi = 0, redis.call('ZCARD', key) - 1
    local found = nil
    while lo <= hi do
      local mid = math.floor((lo + hi) / 2)
      local row = redis.call('ZRANGE', key, mid, mid, 'WITHSCORES')
      local cum = parse(row[1])
      if not cum then return nil end
      if cum - base >= need then
        found = tonumber(row[2])
        hi = mid - 1
      else
        lo = mid + 1
      end
    end
    if not found then return window end
    return math.max(0, found + window - now)
  end

  local allowed = 0
  if cost > 0 and used + cost <= limit then
    allowed = 1
    newestCum = newestCum + cost
    redis.call('ZADD', key, now, entry(newestCum, cost))
    redis.call('PEXPIRE', key, window)
    used = used + cost
    newestScore = now
  elseif cost == 0 and used < limit then
    allowed = 1
  end

  local retryAfter = 0
  if allowed == 0 then
    retryAfter = waitFor(used + math.max(cost, 1) - limit)
    if not retryAfter then return ratelimit_corrupt('log', key) end
  end
  local retryOne = waitFor(used + 1 - limit)
  if not retryOne then return ratelimit_corrupt('log', key) end
  local reset = 0
  if newestScore and used > 0 then reset = math.max(0, newestScore + window - now) end
  return {allowed, math.max(0, limit - used), reset, retryAfter, retryOne}
end

return ratelimit_run(decide, now)
