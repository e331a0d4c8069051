--[[
  Rate limiter, sliding window at bucket precision, on the server's clock. Time is cut into buckets
  of `precision` ms, B = window / precision of them make a window, and a decision in bucket c
  counts buckets c - B .. c: B + 1 buckets, which cover every window of `window` ms that ends now,
  so never more than `limit` is allowed in any window of `window` ms (a unit spent at t is back
  between t + window and t + window + precision).
  The state is one hash: field s packs (struct '<dddd') h, the newest bucket counted; t, the total
  of buckets h - B .. h; n, the newest bucket with cost; x, the expiry last set (epoch ms). Fields
  0 .. B are a ring of R = B + 1 counts, field j mod R holding bucket j. A decision is one HMGET and
  one HSET under steady traffic (the counts of the current and previous buckets are read with s):
  the buckets that entered the window since h have their slots zeroed and subtracted from t (the
  counts they held are R buckets old), the current slot gets the cost. The expiry is pushed a window
  past the current bucket's end once a window, not per call.
  Only a refused decision, or one that fills the window, walks the ring (from the oldest bucket,
  until enough has left) to say when capacity returns.
  KEYS[1...] windows: one per decision (hash: s -> packed h, t, n, x; field (bucket mod (B + 1)) -> count; expiring at x)
  ARGV[1] limit (positive integer)
  ARGV[2] window in ms (positive integer, a multiple of precision)
  ARGV[3] precision: bucket size in ms (positive integer)
  ARGV[4] cost of the decision on KEYS[1] (positive integer <= limit; 0 = peek: decide as for cost 1, record nothing); one per key
  Reply: {allowed 0|1, remaining, resetMs, retryAfterMs, retryOneMs} per decision, in KEYS order, then the server time in ms
  Decisions run one after the other: several on one key see each other.
]]
--- @include "server-time"
--- @include "ratelimit-run"
local limit, window = ratelimit_args()
local precision = tonumber(ARGV[3])
local B = window / precision
local R = B + 1
local now = server_time_ms()
local clock = math.floor(now / precision)
local CHUNK = 16
local MAX = 9007199254740991
local NONE = {n = 0} -- no slot to zero (never written to)

-- A stored count or bucket: a non-negative integer of at most `most`, else nil.
local function whole(v, most)
  local n = tonumber(v)
  if not n or n < 0 or n > most or n ~= math.floor(n) then return nil end
  return n
end

-- The ring's fields of buckets from .. to (at most CHUNK of them).
local function counts(key, from, to)
  local fields = {}
  for j = from, to do fields[#fields + 1] = j % R end
  return redis.call('HMGET', key, unpack(fields))
end

-- Subtracts the count `raw` of the slot bucket j enters (it held bucket j - R, leaving the window)
-- from `total`, and queues the slot's zeroing in `writes` (not the current bucket's: it is written
-- anyway). Returns the new total, or nil for a count redkit did not write.
local function leave(j, raw, total, writes, c)
  local n = whole(raw or 0, limit)
  if not n then return nil end
  if n > 0 and j ~= c then
    writes[writes.n + 1] = j % R
    writes[writes.n + 2] = 0
    writes.n = writes.n + 2
  end
  return total - n
end

-- The wait until `need` units of cost have left the window at bucket c: the oldest buckets are
-- walked until they hold that much; bucket j leaves when the clock reaches bucket j + R.
local function waitFor(key, need, c)
  if need <= 0 then return 0 end
  local acc = 0
  for from = c - B, c, CHUNK do
    local to = math.min(from + CHUNK - 1, c)
    local values = counts(key, from, to)
    for i = 1, to - from + 1 do
      local n = whole(values[i] or 0, limit)
      if not n then return nil end
      acc = acc + n
      if acc >= need then return math.max(0, (from + i - 1 + R) * precision - now) end
    end
  end
  return nil -- the total says more than the ring holds: not written by redkit
end

local function decide(key, cost)
  local c = clock
  local here = c % R
  -- The state and the slots of the current and previous buckets, in one read.
  local v = redis.call('HMGET', key, 's', here, (c - 1) % R)
  local head, total, newest, expiry = c, 0, nil, 0
  local mine = 0
  local writes = NONE
  local moved = false -- the window moved since the state was written: write it even if nothing is spent
  if v[1] then
    if #v[1] ~= 32 then return ratelimit_corrupt('window', key) end
    head, total, newest, expiry = struct.unpack('<dddd', v[1])
    head, total, newest, expiry = whole(head, MAX), whole(total, limit), whole(newest, MAX), whole(expiry, MAX)
    if not head or not total or not newest or not expiry or newest > head then return ratelimit_corrupt('window', key) end
    if head > c or c - head >= R then
      -- Counted ahead of the server's clock (it stepped back, a failover reached a replica whose
      -- clock is behind, or it was planted): everything counted moves to now, and keeps counting
      -- for one window from now at most. Or all of it has left the window: the ring restarts.
      redis.call('DEL', key)
      if head > c then mine = total else total = 0 end
      head, newest, expiry, moved = c, c, 0, true
    elseif c > head then
      writes, moved = {n = 0}, true
      -- Buckets head + 1 .. c enter the window. The current and previous buckets' slots came with
      -- the state; after a longer pause the others are read here (one HGETALL past CHUNK of them).
      if c - head > CHUNK + 1 then
        local all, ring = redis.call('HGETALL', key), {}
        for i = 1, #all, 2 do ring[all[i]] = all[i + 1] end
        for j = head + 1, c - 2 do
          total = total and leave(j, ring[tostring(j % R)], total, writes, c)
        end
      elseif head < c - 2 then
        local values = counts(key, head + 1, c - 2)
        for i = 1, c - 2 - head do
          total = total and leave(head + i, values[i], total, writes, c)
        end
      end
      if total and head < c - 1 then total = leave(c - 1, v[3], total, writes, c) end
      if total then total = leave(c, v[2], total, writes, c) end
      if not total or total < 0 then return ratelimit_corrupt('window', key) end
    else
      mine = whole(v[2] or 0, limit)
      if not mine then return ratelimit_corrupt('window', key) end
    end
  elseif v[2] or v[3] then
    return ratelimit_corrupt('window', key) -- slots without a state: not written by redkit
  end

  local allowed = 0
  if cost > 0 and total + cost <= limit then
    -- The expiry is pushed a window past the moment this bucket leaves, once a window.
    allowed = 1
    total = total + cost
    newest = c
    local push = expiry < (c + R) * precision
    if push then expiry = (c + R) * precision + window end
    redis.call('HSET', key, 's', struct.pack('<dddd', c, total, c, expiry), here, mine + cost, unpack(writes, 1, writes.n))
    if push then redis.call('PEXPIREAT', key, expiry) end
  else
    if cost == 0 and total < limit then allowed = 1 end
    if moved and total > 0 then
      -- Nothing spent, but the window moved: keep the total for it (the current slot zeroed).
      local fresh = expiry == 0
      if fresh then expiry = (newest + R) * precision + window end
      redis.call('HSET', key, 's', struct.pack('<dddd', c, total, newest, expiry), here, mine, unpack(writes, 1, writes.n))
      if fresh then redis.call('PEXPIREAT', key, expiry) end
    end
  end

  local retryAfter = 0
  if allowed == 0 then
    retryAfter = waitFor(key, total + math.max(cost, 1) - limit, c)
    if not retryAfter then return ratelimit_corrupt('window', key) end
  end
  local retryOne = waitFor(key, total + 1 - limit, c)
  if not retryOne then return ratelimit_corrupt('window', key) end
  local reset = 0
  if total > 0 then reset = math.max(0, (newest + R) * precision - now) end
  return allowed, limit - total, reset, retryAfter, retryOne
end

return ratelimit_run(decide, now, 3)
