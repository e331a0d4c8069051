-- Keys adopted by `track` have a TTL managed outside redkit, which may move either way at any time.
-- Each is re-read about every TRACK_CHECK_MS: a TTL moved earlier or later moves its deadline to the
-- key's own expiry time, and a key found gone before its recorded deadline becomes due at once,
-- with the time it was found gone as its deadline. Self-contained include.

local TRACK_CHECK_MS = 1000
local TRACK_CHECK_BATCH = 1000

-- `tracked`: zset member = key, score = when to re-read it. `values`: kept values; a copy of the
-- key's own string ('r' ..) is refreshed at each re-read, so the event carries the value the key held
-- at most TRACK_CHECK_MS before it expired. `claimed`: entries a sweeper claimed (Cluster; nil on a
-- single server), left alone.
local function check_tracked(index, values, tracked, claimed, now)
  local due = redis.call('ZRANGE', tracked, '-inf', now, 'BYSCORE', 'LIMIT', 0, TRACK_CHECK_BATCH)
  for _, key in ipairs(due) do
    local score = redis.call('ZSCORE', index, key)
    if not score or (claimed and redis.call('HEXISTS', claimed, key) == 1) then
      redis.call('ZREM', tracked, key)
    else
      local at = redis.call('PEXPIRETIME', key)
      if at == -2 then
        if tonumber(score) > now then redis.call('ZADD', index, now, key) end
        redis.call('ZREM', tracked, key)
      else
        -- at = -1: no TTL any more; the sweep at the recorded deadline decides (no event).
        if at >= 0 and at ~= tonumber(score) then redis.call('ZADD', index, at, key) end
        local kept = redis.call('HGET', values, key)
        if kept and string.sub(kept, 1, 1) == 'r' and redis.call('TYPE', key).ok == 'string' then
          redis.call('HSET', values, key, 'r' .. redis.call('GET', key))
        end
        redis.call('ZADD', tracked, now + TRACK_CHECK_MS, key)
      end
    end
  end
end

-- The earliest time the slot needs a sweeper: its first deadline or its first tracked re-read; -1 for none.
local function next_due(index, tracked)
  local first = redis.call('ZRANGE', index, 0, 0, 'WITHSCORES')
  local check = redis.call('ZRANGE', tracked, 0, 0, 'WITHSCORES')
  local a = first[2] and tonumber(first[2]) or -1
  local b = check[2] and tonumber(check[2]) or -1
  if a < 0 then return b end
  if b < 0 then return a end
  return math.min(a, b)
end
