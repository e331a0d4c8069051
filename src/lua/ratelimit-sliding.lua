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
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local now = server_time_ms()
local cutoff = now - window

local function parse(member)
  local cum, c = string.match(member or '', '^(%d+):(%d+)$')
  cum, c = tonumber(cum), tonumber(c)
  if not cum or c < 1 or cum < c or cum > 9007199254740991 then return nil end
  return cum, c
end

local function decide(key, cost)
  local function corrupt()
    return redis.error_reply('E_DECODE rate limiter log ' .. key .. ' holds an entry redkit did not write; reset() the key')
  end

  -- Read and check everything before the first write.
  local used, base, newestCum, newestScore = 0, 0, 0, nil
  local oldest = redis.call('ZRANGEBYSCORE', key, '(' .. cutoff, '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
  if #oldest > 0 then
    local newest = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
    local oc, ocost = parse(oldest[1])
    local nc = parse(newest[1])
    if not oc or not nc or nc < oc then return corrupt() end
    base = oc - ocost
    used = nc - base
    newestCum = nc
    newestScore = tonumber(newest[2])
  end
  redis.call('ZREMRANGEBYSCORE', key, '-inf', cutoff)

  -- The wait until `need` units of cost have left the window: the first entry whose cumulative
  -- reaches base + need, found by binary search on rank (the log is ordered by time and cumulative).
  local function waitFor(need)
    if need <= 0 then return 0 end
    local lo, hi = 0, redis.call('ZCARD', key) - 1
    local found = nil
    while lo <= hi do
      local mid = math.floor((lo + hi) / 2)
      local entry = redis.call('ZRANGE', key, mid, mid, 'WITHSCORES')
      local cum = parse(entry[1])
      if not cum then return nil end
      if cum - base >= need then
        found = tonumber(entry[2])
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
    -- A clock that steps back must not reorder the log.
    local score = now
    if newestScore and newestScore > now then score = newestScore end
    newestCum = newestCum + cost
    redis.call('ZADD', key, score, string.format('%016.0f', newestCum) .. ':' .. cost)
    redis.call('PEXPIRE', key, score - now + window)
    used = used + cost
    newestScore = score
  elseif cost == 0 and used < limit then
    allowed = 1
  end

  local retryAfter = 0
  if allowed == 0 then
    retryAfter = waitFor(used + math.max(cost, 1) - limit)
    if not retryAfter then return corrupt() end
  end
  local retryOne = waitFor(used + 1 - limit)
  if not retryOne then return corrupt() end
  local reset = 0
  if newestScore and used > 0 then reset = math.max(0, newestScore + window - now) end
  return {allowed, math.max(0, limit - used), reset, retryAfter, retryOne}
end

local out = {}
for i = 1, #KEYS do
  local r = decide(KEYS[i], tonumber(ARGV[i + 2]))
  if r.err then return r end
  for j = 1, 5 do out[#out + 1] = r[j] end
end
out[#out + 1] = now
return out
