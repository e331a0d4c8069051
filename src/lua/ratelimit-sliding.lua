--[[
  Rate limiter, sliding window at bucket precision, on the server's clock. Time is cut into buckets
  of `precision` ms, B = window / precision of them make a window, and a decision in bucket c
  counts buckets c - B .. c: B + 1 buckets, which cover every window of `window` ms that ends now,
  so never more than `limit` is allowed in any window of `window` ms (a unit spent at t is back
  between t + window and t + window + precision).
  The state is one hash: field s packs (struct '<ddddd') h, the newest bucket counted; t, the total
  of buckets h - B .. h; n, the newest bucket with cost; x, the expiry last set (epoch ms); o, the
  oldest bucket of the window holding cost (0: not known since it left; a 32-byte s from before o
  was kept reads as 0). Fields 0 .. B are a ring of R = B + 1 counts, field j mod R holding bucket
  j. A decision is one HMGET and at most one HSET under steady traffic (the counts of the current
  and previous buckets are read with s): the buckets that entered the window since h have their
  slots zeroed and subtracted from t (the counts they held are R buckets old), the current slot
  gets the cost. The expiry is pushed a window past the current bucket's end once a window, not
  per call. A full window's first unit comes back when bucket o leaves, so a refusal of cost 1 reads
  nothing more; only when o is not known (once after it left) or a larger cost is refused is the
  ring walked (from the oldest bucket, until enough has left).
  KEYS[1...] windows: one per decision (hash: s -> packed h, t, n, x, o; field (bucket mod (B + 1)) -> count; expiring at x)
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
-- Field names and counts reach redis.call as strings from string.format: a number argument is
-- formatted with %.17g (~0.5 µs each), string.format('%d') is several times cheaper. The current
-- and previous buckets' fields are the same for every decision of the call.
local format, pack, unpackState = string.format, struct.pack, struct.unpack
local function field(n) return format('%d', n) end
local HERE, PREV = field(clock % (B + 1)), field((clock - 1) % (B + 1))
local CHUNK = 16
local MAX = 9007199254740991
local NONE = {n = 0} -- no slot to zero (never written to)

-- A stored count or bucket: a non-negative integer of at most `most`, else nil.
local function whole(v, most)
  local n = tonumber(v)
  if not n or n < 0 or n > most or n % 1 ~= 0 then return nil end
  return n
end

-- The ring's fields of buckets from .. to (at most CHUNK of them).
local function counts(key, from, to)
  local fields = {}
  for j = from, to do fields[#fields + 1] = field(j % R) end
  return redis.call('HMGET', key, unpack(fields))
end

-- Subtracts the count `raw` of the slot bucket j enters (it held bucket j - R, leaving the window)
-- from `total`, and queues the slot's zeroing in `writes` (not the current bucket's: it is written
-- anyway). Returns the new total, or nil for a count redkit did not write.
local function leave(j, raw, total, writes, c)
  local n = whole(raw or 0, limit)
  if not n then return nil end
  if n > 0 and j ~= c then
    writes[writes.n + 1] = field(j % R)
    writes[writes.n + 2] = '0'
    writes.n = writes.n + 2
  end
  return total - n
end

-- Walks the window at bucket c from bucket `from` (the oldest that may hold cost) until `need`
-- units of cost are counted: the bucket where they are, and the first bucket found holding any.
-- Slots are read as stored up to bucket `stored` (the state's h); the buckets after it entered the
-- window in this decision and hold nothing, except c, which holds `current`. nil: the total says
-- more than the ring holds (not written by redkit).
local function walk(key, need, from, stored, c, current)
  local acc, first = 0, nil
  local last = math.min(stored, c - 1)
  for lo = from, last, CHUNK do
    local hi = math.min(lo + CHUNK - 1, last)
    local values = counts(key, lo, hi)
    for i = 1, hi - lo + 1 do
      local n = whole(values[i] or 0, limit)
      if not n then return nil end
      if n > 0 then
        first = first or lo + i - 1
        acc = acc + n
        if acc >= need then return lo + i - 1, first end
      end
    end
  end
  if current > 0 and acc + current >= need then return c, first or c end
  return nil
end

-- Ms until the clock reaches the bucket where bucket j has left the window.
local function leaves(j)
  return math.max(0, (j + R) * precision - now)
end

local function decide(key, cost)
  local c = clock
  -- The state and the slots of the current and previous buckets, in one read.
  local v = redis.call('HMGET', key, 's', HERE, PREV)
  local head, total, newest, expiry, oldest = c, 0, nil, 0, 0
  local mine = 0
  local writes = NONE
  local moved = false -- the window moved since the state was written: write it even if nothing is spent
  if v[1] then
    if #v[1] == 40 then
      head, total, newest, expiry, oldest = unpackState('<ddddd', v[1])
    elseif #v[1] == 32 then
      head, total, newest, expiry = struct.unpack('<dddd', v[1])
    else
      return ratelimit_corrupt('window', key)
    end
    head, total, newest, expiry, oldest = whole(head, MAX), whole(total, limit), whole(newest, MAX), whole(expiry, MAX), whole(oldest, MAX)
    if not head or not total or not newest or not expiry or not oldest or newest > head then return ratelimit_corrupt('window', key) end
    if oldest > newest or (oldest > 0 and oldest < head - B) then return ratelimit_corrupt('window', key) end
    if head > c or c - head >= R then
      -- Counted ahead of the server's clock (it stepped back, a failover reached a replica whose
      -- clock is behind, or it was planted): everything counted moves to now, and keeps counting
      -- for one window from now at most. Or all of it has left the window: the ring restarts.
      redis.call('DEL', key)
      if head > c then mine, oldest = total, c else total, oldest = 0, 0 end
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
      if oldest < c - B then oldest = 0 end -- it left: the next one holding cost is found when needed
    else
      mine = whole(v[2] or 0, limit)
      if not mine then return ratelimit_corrupt('window', key) end
    end
  elseif v[2] or v[3] then
    return ratelimit_corrupt('window', key) -- slots without a state: not written by redkit
  end
  if total == 0 then oldest = 0 end

  local allowed = 0
  local spent = cost > 0 and total + cost <= limit
  if spent then
    allowed = 1
    if total == 0 then oldest = c end
    total = total + cost
    mine = mine + cost
    newest = c
  elseif cost == 0 and total < limit then
    allowed = 1
  end

  -- When capacity returns, before anything is written (the slots after head are still to be zeroed).
  local learned = false
  if oldest == 0 and (total >= limit or allowed == 0) then
    local _, first = walk(key, 1, c - B, head, c, mine)
    if not first then return ratelimit_corrupt('window', key) end
    oldest, learned = first, true
  end
  local retryOne = 0
  if total >= limit then retryOne = leaves(oldest) end
  local retryAfter = 0
  if allowed == 0 then
    local j = oldest
    local need = total + math.max(cost, 1) - limit
    if need > 1 then j = walk(key, need, oldest, head, c, mine) end
    if not j then return ratelimit_corrupt('window', key) end
    retryAfter = leaves(j)
  end

  if spent then
    -- The expiry is pushed a window past the moment this bucket leaves, once a window.
    local push = expiry < (c + R) * precision
    if push then expiry = (c + R) * precision + window end
    redis.call('HSET', key, 's', pack('<ddddd', c, total, c, expiry, oldest), HERE, field(mine), unpack(writes, 1, writes.n))
    if push then redis.call('PEXPIREAT', key, field(expiry)) end
  elseif moved and total > 0 then
    -- Nothing spent, but the window moved: keep the total for it (the current slot zeroed).
    local fresh = expiry == 0
    if fresh then expiry = (newest + R) * precision + window end
    redis.call('HSET', key, 's', pack('<ddddd', c, total, newest, expiry, oldest), HERE, field(mine), unpack(writes, 1, writes.n))
    if fresh then redis.call('PEXPIREAT', key, field(expiry)) end
  elseif learned then
    redis.call('HSET', key, 's', pack('<ddddd', head, total, newest, expiry, oldest))
  end

  local reset = 0
  if total > 0 then reset = leaves(newest) end
  return allowed, limit - total, reset, retryAfter, retryOne
end

return ratelimit_run(decide, now, 3)
